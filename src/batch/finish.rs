//! Finish: once every letter of a batch is in the ledger (and on disk),
//! write `manifest.csv` in presort order, then `batch.json`, then mark the
//! batch complete in the ledger. Both files are streamed from the ledger, so
//! memory does not grow with the batch; the manifest's rows are made on a
//! second thread while the ledger is walked (`manifest_rows`). A batch of
//! print files only has its manifest's rows made as its print files are
//! drawn, from the same walk of the ledger (`print_files`); it is
//! committed here, in the same place in the order.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::Path;

use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use sha2::{Digest, Sha256};

use super::commit::{summary_path, withdraw_summary, Tally};
use super::error::{csv_err, io_err};
use super::manifest_rows::{self, ManifestRows, ISSUANCES_PER_HANDOFF};
use super::plan::{file_sha256, Checked};
use super::{verify, BatchError, OutputChoice, OutputMode, RunReport};
use crate::config::Mail;
use crate::ledger::{BatchRecord, Ledger, LedgerError, Sha256Hex};
use crate::manifest::{
    letter_file, BatchSummary, Counts, FileEntry, ManifestWriter, Presort, PrintFileEntry,
};
use crate::output::{sync_dir, AtomicFile};
use crate::render::Renderer;

/// The report for a batch that is already complete (the ledger says so and
/// its files are in `batch_dir`), after checking that every letter it
/// lists is there (re-making any that are not). `None` when the batch still
/// has to be run or finished here.
pub fn if_already_complete(
    checked: &Checked<'_>,
    batch_dir: &Path,
    ledger: &dyn Ledger,
) -> Result<Option<RunReport>, BatchError> {
    let Some((record, Some(summary_json))) = ledger.batch(&checked.batch_id)? else {
        return Ok(None);
    };
    let files_there = ["batch.json", "manifest.csv", "rejects.csv"]
        .iter()
        .all(|f| batch_dir.join(f).is_file());
    if !files_there {
        return Ok(None);
    }
    let summary: BatchSummary =
        serde_json::from_str(&summary_json).map_err(|e| BatchError::Write {
            what: "batch summary".into(),
            message: e.to_string(),
        })?;
    let asked = checked.inputs.output.mode;
    if let Some(made) = summary.output.filter(|m| *m != asked) {
        return Err(BatchError::OutputMismatch {
            batch_id: checked.batch_id.clone(),
            made: made.as_str().to_string(),
            asked: asked.as_str().to_string(),
        });
    }
    let per_file = checked.inputs.output.pieces_per_file as u64;
    if let Some(made) = summary.pieces_per_file.filter(|n| *n != per_file) {
        return Err(BatchError::PiecesPerFileMismatch {
            batch_id: checked.batch_id.clone(),
            made,
            asked: per_file,
        });
    }
    if !print_files_intact(batch_dir, &summary.print_files)? {
        // Written again by running the batch: the same bytes.
        withdraw_summary(batch_dir)?;
        return Ok(None);
    }
    let pieces = summary.output.is_none_or(OutputMode::pieces);
    let remade = if pieces {
        match verify::ensure_letters(&checked.letter_check(batch_dir), ledger) {
            Ok(remade) => remade,
            Err(e) => {
                withdraw_summary(batch_dir)?;
                return Err(e);
            }
        }
    } else {
        0
    };
    Ok(Some(RunReport {
        batch_id: checked.batch_id.clone(),
        batch_dir: batch_dir.to_path_buf(),
        counts: summary.counts,
        issued_now: 0,
        remade,
        pages: summary.pages,
        already_complete: true,
        stray_removed: 0,
        mode: record.mode,
    }))
}

/// Whether every print file `batch.json` lists is there with its SHA-256.
fn print_files_intact(batch_dir: &Path, files: &[PrintFileEntry]) -> Result<bool, BatchError> {
    for f in files {
        let path = batch_dir.join(&f.path);
        if !path.is_file() || file_sha256(&path)?.as_str() != f.sha256 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What closing a nightly batch needs besides its tally and the ledger.
pub struct Finishing<'a, 'm> {
    pub record: &'a BatchRecord,
    pub input: &'a Path,
    pub batch_dir: &'a Path,
    pub renderer: &'a Renderer,
    pub stray_removed: usize,
    pub remade: u64,
    pub output: OutputChoice,
    /// The print files written, in order (empty without print files).
    pub print_files: Vec<PrintFileEntry>,
    /// The manifest, its rows made as the print files were drawn, not yet
    /// in place; `None` to make it from a walk of the ledger.
    pub manifest: Option<ManifestOut<'m>>,
}

/// How a batch's letters were written, for the manifest and `batch.json`.
pub struct Written<'m> {
    pub output: OutputChoice,
    pub print_files: Vec<PrintFileEntry>,
    /// See [`Finishing::manifest`].
    pub manifest: Option<ManifestOut<'m>>,
}

impl Written<'_> {
    /// One PDF file per letter, no print files (a reissue's letter).
    pub fn pieces() -> Self {
        Written {
            output: OutputChoice {
                mode: OutputMode::Pieces,
                ..OutputChoice::default()
            },
            print_files: Vec::new(),
            manifest: None,
        }
    }
}

/// Checks the control totals against the ledger, then [`complete`]s the
/// batch.
pub fn finish_batch(
    f: Finishing<'_, '_>,
    tally: Tally,
    ledger: &mut dyn Ledger,
) -> Result<RunReport, BatchError> {
    let id = &f.record.batch_id;
    let counts = tally.counts;
    let in_ledger = ledger.count_in_batch(id)?;
    if !counts.add_up() || in_ledger != counts.issued {
        return Err(BatchError::Totals {
            batch_id: id.clone(),
            detail: format!(
                "read {} but issued {} + already issued {} + rejected {}; the ledger holds {} letters for the batch",
                counts.read, counts.issued, counts.already_issued, counts.rejected, in_ledger
            ),
        });
    }
    let input_file = f
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let written = Written {
        output: f.output,
        print_files: f.print_files,
        manifest: f.manifest,
    };
    let summary = complete(
        f.record,
        (&input_file, counts),
        f.batch_dir,
        ledger,
        f.renderer,
        written,
    )?;
    let pages = summary.pages;
    tracing::info!(batch = %id, letters = in_ledger, pages, "batch complete");
    Ok(RunReport {
        batch_id: id.clone(),
        batch_dir: f.batch_dir.to_path_buf(),
        counts,
        issued_now: tally.issued_now,
        remade: f.remade,
        pages,
        already_complete: false,
        stray_removed: f.stray_removed,
        mode: f.record.mode,
    })
}

/// What `batch.json` needs from the manifest pass.
pub struct ManifestTotals {
    /// The manifest's and rejects' entries; letters are streamed later.
    pub files: Vec<FileEntry>,
    pub pages: u64,
    pub sheets: u64,
    pub presort: Presort,
}

/// `report.html` without sample pictures or stage times.
pub fn write_plain_report(batch_dir: &Path) -> Result<(), BatchError> {
    crate::report::write(batch_dir, &Default::default()).map_err(|e| BatchError::Write {
        what: "report.html".into(),
        message: e.to_string(),
    })
}

/// Closes a batch whose letters are all in the ledger and written as
/// `written` says: writes the manifest, then `batch.json`, then marks the
/// batch complete in the ledger.
pub fn complete(
    record: &BatchRecord,
    (input_file, counts): (&str, Counts),
    batch_dir: &Path,
    ledger: &mut dyn Ledger,
    renderer: &Renderer,
    written: Written<'_>,
) -> Result<BatchSummary, BatchError> {
    let letters = ledger.count_in_batch(&record.batch_id)?;
    let Written {
        output,
        print_files,
        manifest,
    } = written;
    let mut totals = match manifest {
        Some(rows) => finish_manifest(batch_dir, rows)?,
        None => write_manifest(record, batch_dir, ledger, renderer, output)?,
    };
    check_print_totals(&record.batch_id, &print_files, letters, totals.pages)?;
    totals.files.extend(print_files.iter().map(|f| FileEntry {
        path: f.path.clone(),
        sha256: f.sha256.clone(),
    }));
    let summary = BatchSummary {
        batch_id: record.batch_id.clone(),
        batch_date: record.batch_date,
        kind: record.kind,
        key_id: record.key_id.clone(),
        ledger_id: ledger.ledger_id()?,
        mode: record.mode,
        program_version: env!("CARGO_PKG_VERSION").to_string(),
        input_file: input_file.to_string(),
        input_sha256: record.input_sha256.clone(),
        counts,
        letters,
        pages: totals.pages,
        sheets: totals.sheets,
        presort: totals.presort,
        output: Some(output.mode),
        pieces_per_file: (output.mode.print()).then_some(output.pieces_per_file as u64),
        print_files,
        files: totals.files,
    };
    write_summary(batch_dir, &summary, ledger, output.mode)?;
    let json = serde_json::to_string(&summary).expect("a summary serialises");
    ledger.complete_batch(&record.batch_id, &json)?;
    Ok(summary)
}

/// The print files hold every letter of the batch and every page, once.
fn check_print_totals(
    batch_id: &str,
    files: &[PrintFileEntry],
    letters: u64,
    pages: u64,
) -> Result<(), BatchError> {
    if files.is_empty() {
        return Ok(());
    }
    let in_files: u64 = files.iter().map(|f| f.pieces).sum();
    let pages_in_files: u64 = files.iter().map(|f| f.pages).sum();
    if in_files != letters || pages_in_files != pages {
        return Err(BatchError::Totals {
            batch_id: batch_id.to_string(),
            detail: format!(
                "the print files hold {in_files} letters and {pages_in_files} pages; the ledger holds {letters} letters of {pages} pages"
            ),
        });
    }
    Ok(())
}

/// A writer that hashes what it writes: the manifest's SHA-256 is taken
/// as it is written, not by reading the file back.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `manifest.csv` being written under its temporary name: its rows, and
/// the SHA-256 of what they wrote.
pub type ManifestOut<'m> = ManifestRows<'m, Hashing<AtomicFile>>;

/// Starts `manifest.csv` in `batch_dir` (its header written), for the
/// rows of the batch `batch_id` written as `output` says.
pub fn start_manifest<'m>(
    batch_dir: &Path,
    batch_id: &'m str,
    mail: &'m Mail,
    output: OutputChoice,
) -> Result<ManifestOut<'m>, BatchError> {
    let manifest_path = batch_dir.join("manifest.csv");
    let file =
        AtomicFile::create(&manifest_path).map_err(io_err("cannot create", &manifest_path))?;
    let manifest = ManifestWriter::new(Hashing::new(file)).map_err(csv_err("manifest.csv"))?;
    Ok(ManifestRows::new(manifest, batch_id, mail, output))
}

/// Writes `manifest.csv` for every letter of the batch, in presort order,
/// and returns the manifest's and rejects' entries for `batch.json` (the
/// letters' entries are streamed by [`write_summary`]), the page total and
/// the presort counts. Rows name their print file and first page, and
/// their letter file only when the letters have files of their own.
pub fn write_manifest(
    record: &BatchRecord,
    batch_dir: &Path,
    ledger: &dyn Ledger,
    renderer: &Renderer,
    output: OutputChoice,
) -> Result<ManifestTotals, BatchError> {
    let rows = start_manifest(batch_dir, &record.batch_id, &renderer.config.mail, output)?;
    let rows = manifest_rows::add_all(ledger, &record.batch_id, rows, ISSUANCES_PER_HANDOFF)?;
    finish_manifest(batch_dir, rows)
}

/// Puts `manifest.csv`, every row written, in place, and returns what
/// [`write_manifest`] returns.
fn finish_manifest(batch_dir: &Path, rows: ManifestOut<'_>) -> Result<ManifestTotals, BatchError> {
    let manifest_path = batch_dir.join("manifest.csv");
    let (manifest, pages, sheets, presort) = rows.into_parts();
    let hashing = manifest
        .finish()
        .map_err(io_err("cannot write", &manifest_path))?;
    let sha256 = Sha256Hex::from_hasher(hashing.hasher);
    hashing
        .inner
        .commit()
        .map_err(io_err("cannot write", &manifest_path))?;
    let mut files = vec![FileEntry {
        path: "manifest.csv".into(),
        sha256: sha256.to_string(),
    }];
    let rejects_path = batch_dir.join("rejects.csv");
    if rejects_path.exists() {
        files.push(FileEntry {
            path: "rejects.csv".into(),
            sha256: file_sha256(&rejects_path)?.to_string(),
        });
    }
    Ok(ManifestTotals {
        files,
        pages,
        sheets,
        presort,
    })
}

/// `batch.json` as serde sees it: the summary's fields, then `files`.
#[derive(Serialize)]
struct SummaryDocument<'a> {
    #[serde(flatten)]
    summary: &'a BatchSummary,
    files: FileList<'a>,
}

/// The batch's files: `head` (manifest, rejects), then every letter of the
/// batch in manifest order, streamed from the ledger as serde asks for them.
struct FileList<'a> {
    head: &'a [FileEntry],
    ledger: &'a dyn Ledger,
    batch_id: &'a str,
    /// How the letters were written: listed when they have files of their own.
    mode: OutputMode,
    /// A ledger failure met while streaming, kept with its type (serde can
    /// only carry a message).
    ledger_failure: RefCell<Option<LedgerError>>,
}

impl Serialize for FileList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for entry in self.head {
            seq.serialize_element(entry)?;
        }
        if !self.mode.pieces() {
            return seq.end();
        }
        let walked = self.ledger.walk_batch(self.batch_id, |iss| {
            seq.serialize_element(&FileEntry {
                path: letter_file(&iss.issued.piece_id),
                sha256: iss.issued.proof.to_string(),
            })
        });
        match walked {
            Ok(written) => written?,
            Err(e) => {
                let message = e.to_string();
                *self.ledger_failure.borrow_mut() = Some(e);
                return Err(S::Error::custom(message));
            }
        };
        seq.end()
    }
}

/// serde_json's pretty layout (two-space indent), except that an object
/// inside an array (a file entry) is written compactly on one line, so a
/// batch of 100,000 letters has 100,000 short lines, not 400,000.
struct SummaryFormatter {
    pretty: PrettyFormatter<'static>,
    /// Arrays open in the pretty part of the document.
    arrays: usize,
    /// Objects open in the compact part.
    compact: usize,
}

impl SummaryFormatter {
    fn new() -> Self {
        SummaryFormatter {
            pretty: PrettyFormatter::new(),
            arrays: 0,
            compact: 0,
        }
    }
}

/// Sends a formatter call to the compact or the pretty formatter.
macro_rules! either {
    ($self:ident, $method:ident ($($arg:expr),*)) => {
        if $self.compact > 0 {
            CompactFormatter.$method($($arg),*)
        } else {
            $self.pretty.$method($($arg),*)
        }
    };
}

impl Formatter for SummaryFormatter {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.compact == 0 {
            self.arrays += 1;
        }
        either!(self, begin_array(w))
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.compact == 0 {
            self.arrays -= 1;
        }
        either!(self, end_array(w))
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        either!(self, begin_array_value(w, first))
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, end_array_value(w))
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.compact > 0 || self.arrays > 0 {
            self.compact += 1;
        }
        either!(self, begin_object(w))
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let result = either!(self, end_object(w));
        self.compact = self.compact.saturating_sub(1);
        result
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        either!(self, begin_object_key(w, first))
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, end_object_key(w))
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, begin_object_value(w))
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, end_object_value(w))
    }
}

/// Writes `batch.json`, last, atomically: the summary, then the list of
/// files (`summary.files`, then, when the letters have files of their own,
/// every letter of the batch in manifest order, streamed from the ledger).
pub fn write_summary(
    batch_dir: &Path,
    summary: &BatchSummary,
    ledger: &dyn Ledger,
    mode: OutputMode,
) -> Result<(), BatchError> {
    let path = summary_path(batch_dir);
    let document = SummaryDocument {
        summary,
        files: FileList {
            head: &summary.files,
            ledger,
            batch_id: &summary.batch_id,
            mode,
            ledger_failure: RefCell::new(None),
        },
    };
    let mut out = AtomicFile::create(&path).map_err(io_err("cannot create", &path))?;
    let mut json = serde_json::Serializer::with_formatter(&mut out, SummaryFormatter::new());
    if let Err(e) = document.serialize(&mut json) {
        if let Some(ledger_error) = document.files.ledger_failure.take() {
            return Err(ledger_error.into());
        }
        return Err(io_err("cannot write", &path)(e.into()));
    }
    out.write_all(b"\n")
        .map_err(io_err("cannot write", &path))?;
    out.commit().map_err(io_err("cannot write", &path))?;
    sync_dir(batch_dir).map_err(io_err("cannot flush", batch_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most three bytes a call.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_manifest_hash_taken_while_writing_is_that_of_the_bytes_written() {
        let mut hashing = Hashing::new(Trickle(Vec::new()));
        hashing
            .write_all("sequence,piece_id\n1,IOE0912345601-01,ñ\n".as_bytes())
            .unwrap();
        hashing.flush().unwrap();
        let written = Sha256Hex::of(&hashing.inner.0);
        assert_eq!(Sha256Hex::from_hasher(hashing.hasher), written);
    }

    /// The layout `batch.json` had when it was made by cutting the closing
    /// brace off serde's pretty output and appending the files by hand.
    fn layout_by_hand(summary: &BatchSummary, files: &[FileEntry]) -> String {
        let head = serde_json::to_string_pretty(summary).unwrap();
        let head = head.strip_suffix('}').unwrap().trim_end();
        let entries: Vec<String> = files
            .iter()
            .map(|e| format!("\n    {}", serde_json::to_string(e).unwrap()))
            .collect();
        format!("{head},\n  \"files\": [{}\n  ]\n}}", entries.join(","))
    }

    #[test]
    fn batch_json_layout_is_pretty_with_one_line_per_file() {
        let mut presort = Presort::default();
        presort.add("20001");
        presort.add("96205");
        let summary = BatchSummary {
            batch_id: "2026-11-25-abcdef".into(),
            batch_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date"),
            kind: crate::ledger::BatchKind::Nightly,
            key_id: "test-1".into(),
            ledger_id: "0f".repeat(16),
            mode: crate::key::KeyMode::Test,
            program_version: "0.1.0".into(),
            input_file: "filings.csv".into(),
            input_sha256: crate::ledger::Sha256Hex::of(b"filings"),
            counts: Counts {
                read: 3,
                issued: 2,
                already_issued: 0,
                rejected: 1,
            },
            letters: 2,
            pages: 2,
            sheets: 2,
            presort,
            output: None,
            pieces_per_file: None,
            print_files: Vec::new(),
            files: Vec::new(),
        };
        let files: Vec<FileEntry> = ["manifest.csv", "letters/A-01.pdf", "letters/B-01.pdf"]
            .iter()
            .map(|p| FileEntry {
                path: p.to_string(),
                sha256: "cd".repeat(32),
            })
            .collect();
        #[derive(Serialize)]
        struct Document<'a> {
            #[serde(flatten)]
            summary: &'a BatchSummary,
            files: &'a [FileEntry],
        }
        let mut out = Vec::new();
        let mut json = serde_json::Serializer::with_formatter(&mut out, SummaryFormatter::new());
        Document {
            summary: &summary,
            files: &files,
        }
        .serialize(&mut json)
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            layout_by_hand(&summary, &files)
        );
    }
}
