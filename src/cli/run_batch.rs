//! One input file of `run`: read and checked, then its batch run (or
//! stopped by a signal at a safe point); and the status of the files of a
//! folder that were not taken.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use access_letters::batch::{self, InputFiles, RunInputs};
use anyhow::Result;

use super::common::*;
use super::night::check_input;
use super::progress::Reporter;
use super::summary::*;

/// What became of one input file.
pub enum Batch {
    /// Complete: its folder, its exit status, how long it took.
    Done(PathBuf, u8, std::time::Duration),
    NoFilings,
    /// Stopped by a signal at a safe point (already said on stderr).
    Stopped,
}

/// Reads, checks and runs the batch of one input file.
pub fn one_batch(
    place: &Place,
    new_ledger: bool,
    inputs: &RunInputs<'_>,
    stop: &Arc<AtomicBool>,
) -> Result<Batch> {
    let started = Instant::now();
    // The whole input is read before any folder, ledger or lock is made.
    let Some(checked) = check_input(inputs).map_err(batch_flagged)? else {
        return Ok(Batch::NoFilings);
    };
    let batch_dir = place.out.join(&checked.batch_id);
    if stop.load(Ordering::Relaxed) {
        return Ok(stopped(&batch_dir));
    }
    let mut opened = place
        .open_or_create_ledger(new_ledger)
        .map_err(batch_flagged)?;
    let reporter = Reporter::new(Arc::clone(stop));
    let report = match batch::run_checked(&checked, opened.ledger.as_mut(), &reporter) {
        Err(batch::BatchError::Stopped) => return Ok(stopped(&batch_dir)),
        result => result.map_err(|e| batch_flagged(e.into()))?,
    };
    print_report(&report, started);
    let status = exit_status(&report, inputs.input);
    Ok(Batch::Done(report.batch_dir, status, started.elapsed()))
}

/// A run stopped by SIGTERM or SIGINT: its temporary files go, and it says
/// how to finish.
fn stopped(batch_dir: &Path) -> Batch {
    if let Err(e) = batch::remove_temporaries(batch_dir) {
        eprintln!("warning: {e}; the next run removes them");
    }
    eprintln!(
        "stopped; run the same command again to finish (exit status {EXIT_STOPPED}: nothing is lost, what was done is recorded)"
    );
    Batch::Stopped
}

/// Exit status 8 when a folder input held files that were not taken (named
/// on stderr by `say_inputs`), else 0.
pub fn not_taken_status(input: &Path, files: &InputFiles) -> u8 {
    if files.not_taken.is_empty() {
        return EXIT_OK;
    }
    let n = count(files.not_taken.len() as u64, "file", "files");
    eprintln!("{n} in {} not taken (named above): move or rename them, or remove them, so that none is left unread", display(input));
    EXIT_NOT_TAKEN
}
