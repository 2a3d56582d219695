//! What `run` does around its batches: the files of `--input`, the worst
//! exit status of several batches, the metrics file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use access_letters::batch::{self, BatchError, Checked, RunInputs};
use access_letters::ops::{dates::check_run_date, Clock};

use super::common::*;

/// The batch date (checked against today) and the rendering thread pool.
pub fn start(
    date: Option<NaiveDate>,
    allow_any_date: bool,
    jobs: Option<usize>,
) -> Result<NaiveDate> {
    let today = Clock::system().today;
    let batch_date = date.unwrap_or(today);
    check_run_date(batch_date, today, allow_any_date)?;
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

/// The more serious of two exit statuses: failed, no filings, rejects, done.
pub fn worse(a: u8, b: u8) -> u8 {
    let rank = |s: u8| {
        [EXIT_OK, EXIT_REJECTS, EXIT_NO_FILINGS, EXIT_FAILED]
            .iter()
            .position(|x| *x == s)
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The filings files of `--input`: the file itself, or a folder's `*.csv`
/// files in name order.
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .with_context(|| format!("cannot read the folder {}", display(input)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no .csv files in {}", display(input));
    Ok(files)
}
