//! The nightly batch: every input row issued, skipped as already issued, or
//! rejected, with the letters, manifest and control totals to prove it.
//!
//! # Exactly once, across crashes
//!
//! The batch id is the batch date plus a hash of the input file, so running
//! the same file again continues the same batch. Rows are processed in
//! chunks, and each chunk's ledger rows are committed in one transaction.
//! What is on disk when a row is committed depends on the output mode:
//!
//! * print files (the default): the rows are committed first, marked "not
//!   yet printed", and once every chunk is committed the letters are drawn
//!   in presort order into print files, and what was printed is recorded.
//!   A run killed in between leaves rows without letters and no
//!   `batch.json`; running it again draws them, with the same bytes;
//! * one PDF per letter (pieces): each chunk's letters are rendered in
//!   parallel, written under temporary names, renamed into place and flushed
//!   to disk before its rows are committed, so such a row always has its
//!   letter on disk, and a letter without a row (killed between the two) is
//!   made again on the next run, with the same bytes, because a letter is a
//!   pure function of its inputs;
//! * a filing whose receipt already has an active issuance is not issued
//!   again: in this batch it counts as issued (a resumed run), in an earlier
//!   batch as already issued.
//!
//! The ledger is the truth, but the letters are what gets mailed: before a
//! resumed or re-run batch is called complete, every letter the ledger lists
//! for it must be on disk under this output folder with the SHA-256 the
//! ledger recorded. A missing or changed letter is made again (same inputs,
//! same bytes) and checked again; one that cannot be made with the recorded
//! bytes (another key, other templates) stops the run with its file named.
//!
//! `manifest.csv`, `rejects.csv` and finally `batch.json` are written from the
//! ledger once every chunk is committed; `batch.json` existing means the batch
//! is complete, and running it again changes nothing.
//!
//! Before any of that, [`check`] reads the whole input for what can fail it
//! as a file, so a malformed file (or one with no filings at all) fails
//! before anything is written: the CLI calls it before it even opens the
//! ledger. The rules about a row's contents are applied once, as the rows
//! are issued; they only ever reject the row. A filing whose
//! address does not fit the configured envelope window (intake checks the
//! default envelope) is rejected when its letter is laid out, like any bad
//! row; every other rendering failure stops the run.
//!
//! Memory is bounded by the chunk size, not the number of rows: rows stream
//! in, letters stream out, and the manifest and `batch.json` are streamed
//! from the ledger's index.
//!
//! The steps, one module each: [`plan`] (read the input, new vs already
//! issued), [`render`] (a chunk's letters in parallel), [`commit`] (letters
//! to disk, then ledger rows), [`verify`] (letters on disk match the ledger)
//! and [`finish`] (manifest and `batch.json`).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::key::{KeyMode, KeyRing};
use crate::manifest::Counts;
pub use crate::manifest::OutputMode;
use crate::render::Renderer;

pub mod commit;
mod error;
pub mod finish;
pub mod guard;
pub mod inputs;
mod manifest_rows;
pub mod plan;
pub mod print_files;
pub mod render;
pub mod sample;
pub mod verify;

pub use commit::{remove_temporaries, write_letter};
pub use error::BatchError;
pub use finish::{
    complete, write_manifest, write_plain_report, write_summary, ManifestTotals, Written,
};
pub use guard::{batch_folders, check_out_folder, may_create_ledger};
pub use inputs::{input_files, InputFiles};
pub use plan::{batch_id, check, next_serial, Checked};

/// Valid filings per chunk when letters get a PDF file each: the unit of
/// parallel rendering and of a ledger transaction (and a folder flush).
/// Large enough to keep both cores busy, small enough that memory stays a
/// few megabytes.
pub const DEFAULT_CHUNK_SIZE: usize = 512;

/// Valid filings per chunk in a print run. Its chunks hold ledger rows, not
/// PDFs, so a chunk of 4096 is still a few megabytes, and eight times fewer
/// ledger commits (each one a disk flush) keep the commits from holding up
/// the drawing: at 512, a 100,000-row print run spent 3.7 s more issuing.
pub const PRINT_CHUNK_SIZE: usize = 4096;

/// Letters per print file unless `--pieces-per-file` says otherwise.
pub const DEFAULT_PIECES_PER_FILE: usize = 2000;

/// The most letters one print file may hold. Mail vendors take files of a
/// few thousand pieces; a file's letters are gathered in memory before it is
/// written, so a bigger bound only risks the run's memory and a file no
/// vendor would take.
pub const MAX_PIECES_PER_FILE: usize = 50_000;

/// The most filings one chunk (one ledger transaction) may hold.
pub const MAX_CHUNK_SIZE: usize = 65_536;

/// `--pieces-per-file` as typed: 1 to [`MAX_PIECES_PER_FILE`], or why not.
pub fn parse_pieces_per_file(text: &str) -> Result<usize, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_PIECES_PER_FILE as u64).contains(&n) => Ok(n as usize),
        Ok(n) if n > 0 => Err(format!(
            "{n} letters in one print file is more than the {MAX_PIECES_PER_FILE} allowed: \
             mail vendors take files of a few thousand pieces, and a print file's letters \
             are held in memory while it is written"
        )),
        _ => Err(format!(
            "'{text}' is not a number of letters (1 to {MAX_PIECES_PER_FILE})"
        )),
    }
}

/// `--chunk-size` as typed: 1 to [`MAX_CHUNK_SIZE`], or why not.
pub fn parse_chunk_size(text: &str) -> Result<usize, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_CHUNK_SIZE as u64).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "'{text}' is not a number of filings per chunk (1 to {MAX_CHUNK_SIZE})"
        )),
    }
}

/// Valid filings per chunk unless `--chunk-size` says otherwise: print runs
/// hold rows, not PDFs, in a chunk.
pub fn default_chunk_size(mode: OutputMode) -> usize {
    match mode {
        OutputMode::Print => PRINT_CHUNK_SIZE,
        OutputMode::Pieces | OutputMode::Both => DEFAULT_CHUNK_SIZE,
    }
}

/// What a batch writes, as `batch.json` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputChoice {
    pub mode: OutputMode,
    /// Letters per print file at most (a file never splits a letter).
    pub pieces_per_file: usize,
}

impl Default for OutputChoice {
    fn default() -> Self {
        OutputChoice {
            mode: OutputMode::default(),
            pieces_per_file: DEFAULT_PIECES_PER_FILE,
        }
    }
}

/// Receives progress as letters are made.
pub trait Progress: Sync {
    /// `total` rows will be settled.
    fn start(&self, total: u64);
    /// `n` more rows are done (issued, skipped or rejected).
    fn advance(&self, n: u64);
    fn finish(&self);
    /// Asked at each safe point of a run (after a chunk is committed,
    /// between rounds of print files): true stops the run there with
    /// [`BatchError::Stopped`], everything before it recorded, so running
    /// the same batch again finishes it. A scheduler's stop (SIGTERM) is
    /// read here.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Progress that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// What a run needs.
pub struct RunInputs<'a> {
    pub input: &'a Path,
    pub batch_date: NaiveDate,
    /// Folder that holds batch folders (`output/`).
    pub out_root: &'a Path,
    pub keys: &'a KeyRing,
    pub renderer: &'a Renderer,
    pub chunk_size: usize,
    pub output: OutputChoice,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub batch_id: String,
    pub batch_dir: PathBuf,
    pub counts: Counts,
    /// Letters this invocation made (the rest of `counts.issued` were made
    /// by an earlier, interrupted run of the same batch).
    pub issued_now: u64,
    /// Letters the ledger lists that were missing or changed on disk and
    /// were made again, byte for byte.
    pub remade: u64,
    pub pages: u64,
    /// The batch was already complete: nothing was done but checking (and
    /// re-making missing letters, see `remade`).
    pub already_complete: bool,
    /// Temporary files left by a killed run and removed.
    pub stray_removed: usize,
    /// The key's kind: a test key's letters carry SPECIMEN.
    pub mode: KeyMode,
}

/// Runs (or resumes, or confirms) the batch for `inputs.input`: [`check`]
/// then [`run_checked`].
pub fn run(
    inputs: &RunInputs<'_>,
    ledger: &mut dyn crate::ledger::Ledger,
    progress: &dyn Progress,
) -> Result<RunReport, BatchError> {
    let checked = check(inputs)?;
    run_checked(&checked, ledger, progress)
}

/// The letters written once every letter is in the ledger: how many letter
/// files of a resumed batch were re-made, the print files, and, for print
/// files only, the manifest made with them (see `print_files`).
struct LettersOut<'m> {
    remade: u64,
    print_files: Vec<crate::manifest::PrintFileEntry>,
    manifest: Option<finish::ManifestOut<'m>>,
}

/// Once every letter is in the ledger: checks (and re-makes) the letter
/// files of a resumed batch, and writes the print files.
fn letters_out<'m>(
    checked: &'m Checked<'_>,
    batch_dir: &Path,
    resumed: bool,
    ledger: &mut dyn crate::ledger::Ledger,
    progress: &dyn Progress,
) -> Result<LettersOut<'m>, BatchError> {
    let output = checked.inputs.output;
    let mode = output.mode;
    // Rows from an earlier run (or another output folder) are not proof
    // that their letters are here: check them before calling it complete.
    let remade = if resumed && mode.pieces() {
        verify::ensure_letters(&checked.letter_check(batch_dir), ledger)?
    } else {
        0
    };
    if !mode.print() {
        return Ok(LettersOut {
            remade,
            print_files: Vec::new(),
            manifest: None,
        });
    }
    // Rows naming letter files (and their proofs) are made from the
    // ledger once the batch is finished; print files' rows, as they are drawn.
    let mut manifest = if mode.pieces() {
        None
    } else {
        Some(finish::start_manifest(
            batch_dir,
            &checked.batch_id,
            &checked.inputs.renderer.config.mail,
            output,
        )?)
    };
    let run = checked.print_run(batch_dir);
    let print_files = match manifest.as_mut() {
        Some(rows) => print_files::write_print_files(
            &run,
            ledger,
            progress,
            Some(&mut |iss: &crate::ledger::Issuance| rows.add(iss)),
        )?,
        None => print_files::write_print_files(&run, ledger, progress, None)?,
    };
    Ok(LettersOut {
        remade,
        print_files,
        manifest,
    })
}

/// What report.html's "time per stage" shows: each stage named for what it
/// does in this output mode, with `ends`, the time from the start of the
/// run to the end of issuing, printing and finishing.
fn stage_timings(
    mode: OutputMode,
    read_seconds: f64,
    [issued, printed, finished]: [std::time::Duration; 3],
) -> Vec<(String, f64)> {
    let issuing = if mode.pieces() {
        "issue codes, render and write letter files, commit ledger rows"
    } else {
        "issue codes and lay letters out, commit ledger rows"
    };
    // Print files alone: the manifest's rows are written as the files are
    // (see `print_files`), and only put in place at the end.
    let (printing, finishing) = if mode.pieces() {
        (
            "check letter files on disk, draw and write print files",
            "write manifest.csv and batch.json",
        )
    } else {
        (
            "draw and write print files and the manifest's rows",
            "put manifest.csv in place, write batch.json",
        )
    };
    vec![
        ("read and check the input".to_string(), read_seconds),
        (issuing.to_string(), issued.as_secs_f64()),
        (printing.to_string(), (printed - issued).as_secs_f64()),
        (finishing.to_string(), (finished - printed).as_secs_f64()),
    ]
}

/// Runs (or resumes, or confirms) the batch of an input [`check`] has read.
pub fn run_checked(
    checked: &Checked<'_>,
    ledger: &mut dyn crate::ledger::Ledger,
    progress: &dyn Progress,
) -> Result<RunReport, BatchError> {
    let inputs = checked.inputs;
    // A second run of this batch on a shared ledger refuses here.
    ledger.lock_batch(&checked.batch_id)?;
    let batch_dir = inputs.out_root.join(&checked.batch_id);
    if let Some(report) = finish::if_already_complete(checked, &batch_dir, ledger)? {
        // A run stopped between batch.json and its page for people.
        if !batch_dir.join("report.html").is_file() {
            finish::write_plain_report(&batch_dir)?;
        }
        return Ok(report);
    }
    let started = std::time::Instant::now();
    let output = inputs.output;
    let stray_removed = commit::prepare_folder(&batch_dir, output.mode)?;
    let record = checked.record();
    let resumed = plan::start(ledger, &record)?;
    tracing::info!(
        batch = %record.batch_id,
        key = %record.key_id,
        mode = record.mode.as_str(),
        rows = checked.rows,
        resumed,
        stray_removed,
        "batch started"
    );
    let tally = commit::issue_all(checked, &batch_dir, ledger, progress)?;
    let issued = started.elapsed();
    let out = letters_out(checked, &batch_dir, resumed, ledger, progress)?;
    let printed = started.elapsed();
    let report = finish::finish_batch(
        finish::Finishing {
            record: &record,
            input: inputs.input,
            batch_dir: &batch_dir,
            renderer: inputs.renderer,
            stray_removed,
            remade: out.remade,
            output,
            print_files: out.print_files,
            manifest: out.manifest,
        },
        tally,
        ledger,
    )?;
    let finished = started.elapsed();
    let timings = stage_timings(
        output.mode,
        checked.read_seconds,
        [issued, printed, finished],
    );
    let c = report.counts;
    tracing::info!(
        batch = %record.batch_id,
        stage = "run",
        read = c.read,
        issued = c.issued,
        already_issued = c.already_issued,
        rejected = c.rejected,
        pages = report.pages,
        elapsed_s = started.elapsed().as_secs_f64() + checked.read_seconds,
        "run finished"
    );
    let (keys, renderer) = (inputs.keys, inputs.renderer);
    sample::write_report(
        &batch_dir,
        &record.batch_id,
        ledger,
        keys,
        renderer,
        timings,
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_is_named_for_what_it_does_in_its_mode() {
        use std::time::Duration;
        let ends = [1, 4, 6].map(Duration::from_secs);
        let print = stage_timings(OutputMode::Print, 0.5, ends);
        let seconds: Vec<f64> = print.iter().map(|(_, s)| *s).collect();
        assert_eq!(seconds, [0.5, 1.0, 3.0, 2.0]);
        assert!(print[2].0.contains("manifest's rows"), "{print:?}");
        assert!(
            print[3].0.starts_with("put manifest.csv in place"),
            "{print:?}"
        );
        let both = stage_timings(OutputMode::Both, 0.5, ends);
        assert!(both[2].0.contains("letter files on disk"), "{both:?}");
        assert_eq!(both[3].0, "write manifest.csv and batch.json");
    }

    #[test]
    fn pieces_per_file_is_bounded_and_says_why() {
        assert_eq!(parse_pieces_per_file("1"), Ok(1));
        assert_eq!(parse_pieces_per_file("50000"), Ok(50_000));
        let too_many = parse_pieces_per_file("1000000000").unwrap_err();
        assert!(
            too_many.contains("50000") && too_many.contains("vendors"),
            "{too_many}"
        );
        assert!(parse_pieces_per_file("0").is_err());
        assert!(parse_pieces_per_file("99999999999999999999999").is_err());
        assert!(parse_chunk_size("100000000").is_err());
        assert_eq!(parse_chunk_size("512"), Ok(512));
    }
}
