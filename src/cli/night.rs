//! What `run` does around its batches: the files of `--input` (listed; see
//! [`access_letters::batch::input_files`]), the worst exit status of
//! several batches.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use access_letters::batch::{self, BatchError, Checked, InputFiles, RunInputs};
use access_letters::ops::{dates::check_run_date, Clock};

use super::common::*;

/// The batch date (checked against today) and the rendering thread pool.
pub fn start(
    clock: Clock,
    date: Option<NaiveDate>,
    allow_any_date: bool,
    jobs: Option<usize>,
) -> Result<NaiveDate> {
    let today = clock.today;
    let batch_date = date.unwrap_or(today);
    check_run_date(batch_date, today, allow_any_date).map_err(date_flagged)?;
    if let Some(jobs) = jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()?;
    }
    Ok(batch_date)
}

/// Reads the whole input; `None` is an input with no filings (exit 4),
/// already said on stderr.
pub fn check_input<'a>(inputs: &'a RunInputs<'a>) -> Result<Option<Checked<'a>>> {
    match batch::check(inputs) {
        Err(e @ BatchError::NoFilings { .. }) => {
            eprintln!("error: {e}");
            Ok(None)
        }
        checked => Ok(Some(checked?)),
    }
}

/// The more serious of two exit statuses: failed, files not taken, no
/// filings, rejects, done.
pub fn worse(a: u8, b: u8) -> u8 {
    let rank = |s: u8| {
        [
            EXIT_OK,
            EXIT_REJECTS,
            EXIT_NO_FILINGS,
            EXIT_NOT_TAKEN,
            EXIT_FAILED,
        ]
        .iter()
        .position(|x| *x == s)
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Lists the files a folder run takes and those it does not.
pub fn say_inputs(input: &Path, files: &InputFiles) {
    if !input.is_dir() {
        return;
    }
    for path in &files.taken {
        println!("taking {}", display(path));
    }
    for (path, why) in &files.not_taken {
        eprintln!("not taken: {}: {why}", display(path));
    }
}
