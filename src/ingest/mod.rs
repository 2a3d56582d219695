//! After the envelope: reading the files the vendor and USPS send back into
//! the ledger's mail trail.
//!
//! | file | module | events |
//! |---|---|---|
//! | the vendor's acknowledgements (`piece_id,status,date`) | [`acks`] | printed, mailed |
//! | USPS Informed Visibility piece scans (IV-MTR, delimited) | [`scans`] | accepted, processed, out for delivery, delivered, returned |
//! | mail returned as undeliverable (`piece_id` or `imb`, `reason`, `date`) | [`returns`] | returned: the code stops at once |
//!
//! Every import follows one story, in memory that does not grow with the
//! file (see `source` for the two passes):
//!
//! 1. only a regular file is read (a pipe or a device is refused at once),
//!    and the whole of it is checked first. A file that is not UTF-8, has
//!    no header, or lacks a required column is refused as a whole, with the
//!    line and the reason, and nothing is recorded;
//! 2. rows bad one by one are rejected with their line number and a reason,
//!    into a rejects file, as filings are: a short or long row, a quote
//!    never closed, a row over the 64 KB bound, a date that is not a date,
//!    an unknown status, an event dated before its letter was issued or
//!    more than a day after today (in the agency's time zone), a piece this
//!    ledger never issued. A cell is cut to [`SIDE_CELL_CHARS`] characters
//!    there. Scans of mail that is not ours are *unmatched*: counted,
//!    written to their own file and reported, never dropped silently;
//! 3. the rest is recorded in one transaction with the file's sha256: the
//!    same file imported again records nothing, and an event the ledger
//!    already has (an overlapping file) is counted, not recorded twice.
//!
//! The counts add up: rows = events + rejected + unmatched.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::ledger::{ImportKind, Ledger, LedgerError, MailImport, MailRecorded, Sha256Hex};

pub mod acks;
mod matching;
pub mod returns;
pub mod scans;
mod sides;
mod source;
mod spool;

use matching::Trail;
use source::{Row, Rows};

/// The largest file an import reads: an IV-MTR day of a large mailer is
/// far smaller; a bigger file is a mistake (or several days at once).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The most characters of one cell the rejects and unmatched files keep.
pub const SIDE_CELL_CHARS: usize = 200;

/// The most characters of a cell a reason quotes.
const QUOTED_CHARS: usize = 40;

/// Rows matched against the ledger at a time.
const ROWS_PER_CHUNK: usize = 4_096;

/// What to import and where its side files go.
#[derive(Clone, Debug)]
pub struct IngestRequest<'a> {
    pub kind: ImportKind,
    pub path: &'a Path,
    /// The folder the rejects and unmatched files go to.
    pub out_dir: &'a Path,
    /// The configured mailer ID: scans and returns by barcode match only
    /// this mailer's pieces.
    pub mailer_id: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// Today in the agency's time zone: an event dated more than a day
    /// later is rejected.
    pub today: NaiveDate,
}

/// What an import did. `rows = events + rejected + unmatched`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestReport {
    pub kind: ImportKind,
    pub file_sha256: Sha256Hex,
    pub rows: u64,
    /// Rows that became events (new or already known).
    pub events: u64,
    pub rejected: u64,
    pub unmatched: u64,
    pub outcome: MailRecorded,
    /// Where the rejected rows went, when there were any.
    pub rejects_file: Option<PathBuf>,
    /// Where the unmatched rows went, when there were any.
    pub unmatched_file: Option<PathBuf>,
    /// The batches whose letters the file is about (their reports gain
    /// the new counts).
    pub batches: BTreeSet<String>,
}

impl IngestReport {
    pub fn add_up(&self) -> bool {
        self.rows == self.events + self.rejected + self.unmatched
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is {what}, not a regular file: nothing was read or recorded (ingest reads only regular files; copy what it holds into one)")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("{path} is {bytes} bytes, more than the {MAX_FILE_BYTES} an import reads; split it")]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error("{path} was refused as a whole, nothing was recorded: line {line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One data row, parsed: the piece it names and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub who: PieceKey,
    pub event: Happened,
}

/// How a row names its piece.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PieceKey {
    Piece(String),
    /// A barcode's digits: matched by mailer ID and serial.
    Barcode(String),
}

/// A row's event before its piece is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Happened {
    pub kind: crate::ledger::MailEventKind,
    pub at: crate::ledger::MailTime,
    pub detail: String,
}

/// A row set aside, with its line and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SetAside {
    pub line: u64,
    pub reason: String,
    pub fields: Vec<String>,
}

/// Where each kind of file keeps the columns it reads.
#[derive(Clone, Debug)]
pub(crate) enum Layout {
    Acks(Vec<usize>),
    Scans { at: Vec<usize>, split_time: bool },
    Returns { at: Vec<usize>, by_barcode: bool },
}

impl Layout {
    /// The columns of `kind` in `header`; a missing one refuses the file.
    pub(crate) fn of(kind: ImportKind, header: &[String]) -> Result<Layout, (u64, String)> {
        match kind {
            ImportKind::Acks => acks::layout(header),
            ImportKind::Scans => scans::layout(header),
            ImportKind::Returns => returns::layout(header),
        }
    }

    /// One row (with as many fields as the header) as a [`Line`], or why not.
    pub(crate) fn parse_row(&self, fields: &[String]) -> Result<Line, String> {
        match self {
            Layout::Acks(at) => acks::parse_row(fields, at),
            Layout::Scans { at, split_time } => scans::parse_row(fields, at, *split_time),
            Layout::Returns { at, by_barcode } => returns::parse_row(fields, at, *by_barcode),
        }
    }
}

/// Reads, matches and records one file. See the module docs for the story.
pub fn ingest(
    req: &IngestRequest<'_>,
    ledger: &mut dyn Ledger,
) -> Result<IngestReport, IngestError> {
    let survey = source::survey(req.path, req.kind)?;
    let file_sha256 = survey.sha256.clone();
    let stem = format!("{}-{}", req.kind.as_str(), &file_sha256.as_str()[..12]);
    let mut trail = Trail::new(req.out_dir, &stem, &survey.header)?;
    let mut rows = Rows::open(req.path, &survey, req.today)?;
    let mut chunk: Vec<Row> = Vec::with_capacity(ROWS_PER_CHUNK);
    loop {
        let row = rows.next_row()?;
        let end = row.is_none();
        chunk.extend(row);
        if chunk.len() == ROWS_PER_CHUNK || (end && !chunk.is_empty()) {
            trail.settle(req, ledger, &mut chunk)?;
        }
        if end {
            break;
        }
    }
    rows.finish()?;
    let mut done = trail.finish()?;
    let import = MailImport {
        kind: req.kind,
        file_sha256: file_sha256.clone(),
        file_name: req
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows: done.rows,
        unmatched: done.unmatched,
        rejected: done.rejected,
    };
    let events = done.events.len();
    let outcome = ledger.record_mail_each(&import, &mut done.events, req.now)?;
    Ok(IngestReport {
        kind: req.kind,
        file_sha256,
        rows: import.rows,
        events,
        rejected: import.rejected,
        unmatched: import.unmatched,
        outcome,
        rejects_file: done.rejects_file,
        unmatched_file: done.unmatched_file,
        batches: done.batches,
    })
}

/// A cell quoted in a reason: at most [`QUOTED_CHARS`] characters of it.
pub(crate) fn shown(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}... ({} characters)", &text[..cut], text.chars().count()),
    }
}

/// A header cell as compared: lowercase, without spaces, underscores,
/// hyphens or a byte-order mark.
pub(crate) fn header_key(cell: &str) -> String {
    cell.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '/' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Finds each wanted column (by any of its names); a missing one refuses
/// the file at line 1.
pub(crate) fn columns(
    header: &[String],
    wanted: &[(&str, &[&str])],
) -> Result<Vec<usize>, (u64, String)> {
    let keys: Vec<String> = header.iter().map(|h| header_key(h)).collect();
    wanted
        .iter()
        .map(|(label, names)| {
            keys.iter()
                .position(|k| names.iter().any(|n| header_key(n) == *k))
                .ok_or_else(|| {
                    (
                        1,
                        format!(
                            "the header has no {label} column (looked for: {}; found: {})",
                            names.join(", "),
                            header.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

/// A cell by column, empty when the row is short.
pub(crate) fn cell(fields: &[String], index: usize) -> &str {
    fields.get(index).map_or("", |f| f.trim())
}

/// A day as vendors write it: `2026-12-01` or `12/01/2026`.
pub(crate) fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%m/%d/%Y"))
        .map_err(|_| {
            format!(
                "date '{}' is not a date (YYYY-MM-DD or MM/DD/YYYY)",
                shown(t)
            )
        })
}

/// A scan time as IV-MTR writes it: `2026-12-01 07:05:09` (or with `T`,
/// without seconds, or `12/01/2026 07:05:09`).
pub(crate) fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .ok_or_else(|| {
        format!(
            "scan time '{}' is not a date and time (YYYY-MM-DD HH:MM:SS)",
            shown(t)
        )
    })
}

/// A piece ID as the manifest prints it; anything else cannot be one.
pub(crate) fn parse_piece_id(text: &str) -> Result<String, String> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(t.to_string())
    } else if t.is_empty() {
        Err("the piece ID is empty".into())
    } else {
        Err(format!("'{}' is not a piece ID", shown(t)))
    }
}

impl IngestReport {
    /// Lines for the operator after the summary: each code stopped, and
    /// where the set-aside rows went. Never a code.
    pub fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let MailRecorded::Recorded {
            stopped,
            after_redeemed,
            ..
        } = &self.outcome
        {
            for (receipt, issue_no) in stopped {
                lines.push(format!(
                    "{receipt}: letter issue {issue_no} came back, its code was stopped; reissue to a corrected address (status --mail lists the returns)"
                ));
            }
            for (receipt, issue_no) in after_redeemed {
                lines.push(format!(
                    "{receipt}: WARNING letter issue {issue_no} came back, but its code had already been redeemed: whoever used it never got this letter; check the linked account (status --mail lists these)"
                ));
            }
        }
        if let Some(p) = &self.rejects_file {
            lines.push(format!(
                "rejected rows, with their lines and reasons: {}",
                p.display()
            ));
        }
        if let Some(p) = &self.unmatched_file {
            lines.push(format!(
                "rows that match no letter of ours: {}",
                p.display()
            ));
        }
        lines
    }
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            MailRecorded::AlreadyImported { at, file_name } => write!(
                f,
                "{} file already imported at {} UTC (as {file_name}): nothing was recorded again",
                self.kind.as_str(),
                at.format("%Y-%m-%d %H:%M:%S")
            ),
            MailRecorded::Recorded {
                recorded,
                duplicates,
                stopped,
                ..
            } => write!(
                f,
                "{} {}: {} events ({recorded} new, {duplicates} already recorded), {} rejected, {} unmatched{}",
                self.rows,
                if self.rows == 1 { "row" } else { "rows" },
                self.events,
                self.rejected,
                self.unmatched,
                match stopped.len() {
                    0 => String::new(),
                    1 => "; 1 code stopped because its letter came back".to_string(),
                    n => format!("; {n} codes stopped because their letters came back"),
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests;
