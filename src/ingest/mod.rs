//! After the envelope: reading the files the vendor and USPS send back into
//! the ledger's mail trail.
//!
//! | file | module | events |
//! |---|---|---|
//! | the vendor's acknowledgements (`piece_id,status,date`) | [`acks`] | printed, mailed |
//! | USPS Informed Visibility piece scans (IV-MTR, delimited) | [`scans`] | accepted, processed, out for delivery, delivered, returned |
//! | mail returned as undeliverable (`piece_id` or `imb`, `reason`, `date`) | [`returns`] | returned: the code stops at once |
//!
//! Every import follows one story:
//!
//! 1. the whole file is read and checked first. A file that is not UTF-8,
//!    not CSV, or lacks a required column is refused as a whole, with the
//!    line and the reason, and nothing is recorded;
//! 2. rows bad one by one (a date that is not a date, an unknown status, a
//!    piece this ledger never issued) are rejected with their line number
//!    and a reason, into a rejects file, as filings are; scans of mail that
//!    is not ours are *unmatched*: counted, written to their own file and
//!    reported, never dropped silently;
//! 3. the rest is recorded in one transaction with the file's sha256: the
//!    same file imported again records nothing, and an event the ledger
//!    already has (an overlapping file) is counted, not recorded twice.
//!
//! The counts add up: rows = events + rejected + unmatched.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::imb::parse_tracking;
use crate::ledger::{
    ImportKind, Ledger, LedgerError, MailEvent, MailImport, MailRecorded, PieceRef, Sha256Hex,
};
use crate::manifest::neutralise;
use crate::output::{write_atomic, Flush};

pub mod acks;
pub mod returns;
pub mod scans;

/// The largest file an import reads: an IV-MTR day of a large mailer is
/// far smaller; anything bigger is refused before it is read.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// How many ids one ledger look-up asks for.
const LOOKUP_CHUNK: usize = 1_000;

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

/// The rows of a file once read: parsed, or rejected one by one.
pub(crate) struct Parsed {
    pub header: Vec<String>,
    pub lines: Vec<(u64, Vec<String>, Line)>,
    pub rejected: Vec<SetAside>,
}

/// Reads, matches and records one file. See the module docs for the story.
pub fn ingest(
    req: &IngestRequest<'_>,
    ledger: &mut dyn Ledger,
) -> Result<IngestReport, IngestError> {
    let bytes = read_bounded(req.path)?;
    let file_sha256 = Sha256Hex::of(&bytes);
    let malformed = |line: u64, reason: String| IngestError::Malformed {
        path: req.path.to_path_buf(),
        line,
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        malformed(line, "the file is not UTF-8 text".into())
    })?;
    let parsed = match req.kind {
        ImportKind::Acks => acks::parse(text),
        ImportKind::Scans => scans::parse(text),
        ImportKind::Returns => returns::parse(text),
    }
    .map_err(|(line, reason)| malformed(line, reason))?;
    let Parsed {
        header,
        lines,
        mut rejected,
    } = parsed;
    let rows = (lines.len() + rejected.len()) as u64;

    let found = resolve(ledger, req.mailer_id, &lines)?;
    let Matched {
        mut events,
        unmatched,
        batches,
    } = match_rows(req, lines, &found, &mut rejected);
    rejected.sort_by_key(|r| r.line);

    let stem = format!("{}-{}", req.kind.as_str(), &file_sha256.as_str()[..12]);
    let rejects_file = write_side_file(
        req.out_dir,
        &format!("{stem}.rejects.csv"),
        &header,
        &rejected,
    )?;
    let unmatched_file = write_side_file(
        req.out_dir,
        &format!("{stem}.unmatched.csv"),
        &header,
        &unmatched,
    )?;
    let import = MailImport {
        kind: req.kind,
        file_sha256: file_sha256.clone(),
        file_name: req
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows,
        unmatched: unmatched.len() as u64,
        rejected: rejected.len() as u64,
    };
    events.sort();
    let outcome = ledger.record_mail(&import, &events, req.now)?;
    Ok(IngestReport {
        kind: req.kind,
        file_sha256,
        rows,
        events: events.len() as u64,
        rejected: import.rejected,
        unmatched: import.unmatched,
        outcome,
        rejects_file,
        unmatched_file,
        batches,
    })
}

/// The rows that named a piece of ours, as events, and those that did not.
struct Matched {
    events: Vec<MailEvent>,
    unmatched: Vec<SetAside>,
    batches: BTreeSet<String>,
}

/// Matches each parsed row to its piece. A scan of mail that is not ours is
/// expected (IV-MTR feeds carry a mailer's every piece) and goes to
/// `unmatched`, as does a barcode nobody of ours carries; a vendor's row
/// about a piece ID we never issued is an error in the file: rejected.
fn match_rows(
    req: &IngestRequest<'_>,
    lines: Vec<(u64, Vec<String>, Line)>,
    found: &HashMap<PieceKey, Vec<PieceRef>>,
    rejected: &mut Vec<SetAside>,
) -> Matched {
    let mut m = Matched {
        events: Vec::with_capacity(lines.len()),
        unmatched: Vec::new(),
        batches: BTreeSet::new(),
    };
    for (line, fields, parsed) in lines {
        if let Some(piece) = found.get(&parsed.who).and_then(|c| pick(c, &parsed)) {
            m.batches.insert(piece.batch_id.clone());
            m.events.push(MailEvent {
                piece_id: piece.piece_id.clone(),
                kind: parsed.event.kind,
                at: parsed.event.at,
                detail: parsed.event.detail,
            });
            continue;
        }
        let aside = SetAside {
            line,
            reason: no_piece_reason(&parsed.who, req.mailer_id),
            fields,
        };
        match (req.kind, &parsed.who) {
            (ImportKind::Scans, _) | (_, PieceKey::Barcode(_)) => m.unmatched.push(aside),
            _ => rejected.push(aside),
        }
    }
    m
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, IngestError> {
    let read = |source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(IngestError::TooLarge {
            path: path.to_path_buf(),
            bytes: meta.len(),
        });
    }
    std::fs::read(path).map_err(read)
}

/// Looks up every piece the rows name, in chunks.
fn resolve(
    ledger: &dyn Ledger,
    mailer_id: Option<&str>,
    lines: &[(u64, Vec<String>, Line)],
) -> Result<HashMap<PieceKey, Vec<PieceRef>>, LedgerError> {
    let mut ids: Vec<String> = Vec::new();
    let mut serials: Vec<(String, u64)> = Vec::new();
    for (_, _, line) in lines {
        match &line.who {
            PieceKey::Piece(id) => ids.push(id.clone()),
            PieceKey::Barcode(digits) => {
                // Only this mailer's barcodes can be our pieces.
                if let (Ok(t), Some(mid)) = (parse_tracking(digits), mailer_id) {
                    if t.mailer_id == mid {
                        serials.push((digits.clone(), t.serial));
                    }
                }
            }
        }
    }
    ids.sort();
    ids.dedup();
    let mut found = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        for (id, piece) in ledger.pieces(chunk)? {
            found.insert(PieceKey::Piece(id), vec![piece]);
        }
    }
    let mut wanted: Vec<u64> = serials.iter().map(|(_, s)| *s).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut by_serial = HashMap::new();
    for chunk in wanted.chunks(LOOKUP_CHUNK) {
        by_serial.extend(ledger.pieces_by_serial(chunk)?);
    }
    for (digits, serial) in serials {
        if let Some(pieces) = by_serial.get(&serial) {
            found.insert(PieceKey::Barcode(digits), pieces.clone());
        }
    }
    Ok(found)
}

/// Of the pieces a row may name (a serial may have wrapped), the newest
/// one mailed on or before the event's day.
fn pick<'a>(candidates: &'a [PieceRef], line: &Line) -> Option<&'a PieceRef> {
    let day = line.event.at.date();
    candidates.iter().find(|p| p.notice_date <= day)
}

fn no_piece_reason(who: &PieceKey, mailer_id: Option<&str>) -> String {
    match who {
        PieceKey::Piece(id) => format!("no letter with piece ID {id} in this ledger"),
        PieceKey::Barcode(digits) => match (parse_tracking(digits), mailer_id) {
            (_, None) => {
                "no mailer ID is configured ([mail] mailer_id), so no barcode is ours".into()
            }
            (Ok(t), Some(mid)) if t.mailer_id != mid => {
                format!("mailer ID {} is not ours ({mid})", t.mailer_id)
            }
            (Ok(t), Some(_)) => format!("no letter of ours carries serial {}", t.serial),
            (Err(e), _) => e,
        },
    }
}

/// Writes set-aside rows with their line and reason; writes nothing when
/// there are none.
fn write_side_file(
    dir: &Path,
    name: &str,
    header: &[String],
    rows: &[SetAside],
) -> Result<Option<PathBuf>, IngestError> {
    let path = dir.join(name);
    if rows.is_empty() {
        return Ok(None);
    }
    let write = |source| IngestError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let head: Vec<&str> = ["line", "reason"]
        .into_iter()
        .chain(header.iter().map(String::as_str))
        .collect();
    let csv_err = |e: csv::Error| io::Error::other(e.to_string());
    w.write_record(&head).map_err(csv_err).map_err(write)?;
    for r in rows {
        let mut cells = vec![r.line.to_string(), neutralise(&r.reason)];
        cells.extend(r.fields.iter().map(|f| neutralise(f)));
        w.write_record(&cells).map_err(csv_err).map_err(write)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))
        .map_err(write)?;
    write_atomic(&path, &bytes, Flush::BeforeRename).map_err(write)?;
    Ok(Some(path))
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

/// A data row's line number and fields.
pub(crate) type NumberedRow = (u64, Vec<String>);

/// Reads all records of a delimited file: the header and each row with its
/// line number. A record CSV cannot read refuses the whole file.
pub(crate) fn records(
    text: &str,
    delimiter: u8,
) -> Result<(Vec<String>, Vec<NumberedRow>), (u64, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| (1, format!("the header cannot be read: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err((1, "the file is empty: it has no header row".into()));
    }
    // A record's line is the physical line of its first byte, so blank
    // lines and quoted cells that span lines never shift the numbers.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |byte: u64| {
        // csv's position of a record may be that of the blank lines
        // before it: skip them.
        let mut byte = usize::try_from(byte).unwrap_or(usize::MAX);
        let bytes = text.as_bytes();
        while byte < bytes.len() && matches!(bytes[byte], b'\n' | b'\r') {
            byte += 1;
        }
        line_starts.partition_point(|&start| start <= byte) as u64
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| line_of(p.byte()));
            (line, format!("not a CSV record: {e}"))
        })?;
        let line = record.position().map_or(0, |p| line_of(p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok((header, rows))
}

/// Parses each row with `parse_row`, keeping it with its line and fields,
/// or setting it aside with the reason `parse_row` gives.
pub(crate) fn split_rows(
    header: Vec<String>,
    rows: Vec<NumberedRow>,
    parse_row: impl Fn(&[String]) -> Result<Line, String>,
) -> Parsed {
    let mut parsed = Parsed {
        header,
        lines: Vec::new(),
        rejected: Vec::new(),
    };
    for (line, fields) in rows {
        match parse_row(&fields) {
            Ok(l) => parsed.lines.push((line, fields, l)),
            Err(reason) => parsed.rejected.push(SetAside {
                line,
                reason,
                fields,
            }),
        }
    }
    parsed
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
        .map_err(|_| format!("date '{t}' is not a date (YYYY-MM-DD or MM/DD/YYYY)"))
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
    .ok_or_else(|| format!("scan time '{t}' is not a date and time (YYYY-MM-DD HH:MM:SS)"))
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
        Err(format!("'{t}' is not a piece ID"))
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
