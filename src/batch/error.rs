//! What can stop a batch, as sentences for the operator.

use std::path::Path;

use crate::intake::IntakeError;
use crate::issue::IssueError;
use crate::layout::LayoutError;
use crate::ledger::LedgerError;

/// How many file names a message lists before it says "and N more".
pub(crate) const FILES_NAMED_MAX: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The configured envelope gives no window to check addresses against.
    #[error(transparent)]
    Envelope(#[from] LayoutError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    /// A stop was asked for (SIGTERM, SIGINT) and the run stopped at a safe
    /// point: what was done is recorded, the batch is not complete.
    #[error("stopped; run the same command again to finish")]
    Stopped,
    /// A folder `--input` holds no filings file.
    #[error("no .csv files in {dir}{not_taken}")]
    NoCsvFiles { dir: String, not_taken: String },
    /// The input is a pipe, a device or a socket, not a file.
    #[error("{path} is not a regular file (it is a pipe, a device or a socket): a run names its batch by the file's SHA-256 and reads the file more than once, so save the filings to a file and run on that file")]
    InputNotAFile { path: String },
    /// The input has a header row and no data rows: most likely a broken
    /// upstream export, so it is not a quiet night but its own outcome.
    #[error("no filings in {path}: it has a header row but no rows below it, so no batch was started; check the export that made it")]
    NoFilings { path: String },
    #[error("batch {batch_id} was started with key {ledger_key} but this run uses key {run_key}; run it with the same key")]
    KeyMismatch {
        batch_id: String,
        ledger_key: String,
        run_key: String,
    },
    #[error("control totals do not add up for batch {batch_id}: {detail}; the batch was not marked complete")]
    Totals { batch_id: String, detail: String },
    #[error("{first} was recorded by another ledger than this one ({ledger_id}){}: restore the ledger those batches were made with, or use another output folder", if *count > 1 { format!(", like {} more batch folders", count - 1) } else { String::new() })]
    ForeignBatches {
        ledger_id: String,
        count: usize,
        first: String,
    },
    #[error("no ledger at {ledger}, but {out} holds {count} batch folder(s) made with one (such as {first}): {advice}")]
    LedgerMissing {
        ledger: String,
        out: String,
        count: usize,
        first: String,
        advice: &'static str,
        /// Starting a new ledger on purpose would be allowed (no batch
        /// there was finished).
        new_ledger_helps: bool,
    },
    /// A letter of a print file cannot be drawn as the ledger recorded it.
    #[error("batch {batch_id} was not marked complete: piece {piece_id} cannot be printed as the ledger recorded it ({why}); run with the key, templates and configuration the batch was made with")]
    PrintDiffers {
        batch_id: String,
        piece_id: String,
        why: String,
    },
    /// A complete batch run again asking for its letters written otherwise.
    #[error("batch {batch_id} is complete, its letters written in {made} mode; it was not made again in {asked} mode (its letters are in the ledger once, as they were written)")]
    OutputMismatch {
        batch_id: String,
        made: String,
        asked: String,
    },
    /// A complete print batch run again asking for another file size.
    #[error("batch {batch_id} is complete, written as print files of {made} pieces; it was not made again with {asked} pieces per file (its print files and manifest page ranges stay as the vendor has them)")]
    PiecesPerFileMismatch {
        batch_id: String,
        made: u64,
        asked: u64,
    },
    #[error("cannot write {what}: {message}")]
    Write { what: String, message: String },
    /// Letters the ledger lists that are missing or changed on disk and
    /// cannot be made again with the bytes the ledger recorded.
    #[error("batch {batch_id} was not marked complete: letters the ledger lists are missing or changed in {batch_dir} and cannot be made again with the SHA-256 the ledger recorded ({files}; {count} in all); run with the key, templates and configuration the batch was made with, or restore the letters from backup")]
    LettersMissing {
        batch_id: String,
        batch_dir: String,
        count: u64,
        /// The first few files, comma-separated (`letters/X.pdf: why`).
        files: String,
    },
}

/// A list of file names for a message: the first [`FILES_NAMED_MAX`], then
/// how many more.
pub(crate) fn name_files(names: &[String], total: u64) -> String {
    let shown = names.len().min(FILES_NAMED_MAX);
    let mut text = names[..shown].join(", ");
    let more = total.saturating_sub(shown as u64);
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> BatchError + 'a {
    move |source| BatchError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn csv_err(what: &str) -> impl FnOnce(csv::Error) -> BatchError + '_ {
    move |e| BatchError::Write {
        what: what.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_file_lists_are_cut_with_a_count() {
        let names: Vec<String> = (0..12).map(|i| format!("letters/{i}.pdf")).collect();
        let text = name_files(&names, 40);
        assert!(text.starts_with("letters/0.pdf, letters/1.pdf"), "{text}");
        assert!(text.ends_with("letters/9.pdf and 30 more"), "{text}");
        assert_eq!(name_files(&names[..2], 2), "letters/0.pdf, letters/1.pdf");
    }
}
