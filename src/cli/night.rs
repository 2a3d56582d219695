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
    clock: Clock,
    date: Option<NaiveDate>,
    allow_any_date: bool,
    jobs: Option<usize>,
) -> Result<NaiveDate> {
    let today = clock.today;
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

/// The files of `--input`: those a run takes, and those of a folder it
/// does not take, each with the reason (so no file is passed over in
/// silence).
pub struct InputFiles {
    pub taken: Vec<PathBuf>,
    pub not_taken: Vec<(PathBuf, String)>,
}

/// The filings files of `--input`: the file itself, or a folder's `*.csv`
/// files (the extension in any case: `B.CSV` too) in name order. Every
/// other entry of the folder but its sub-folders is not taken and named.
pub fn input_files(input: &Path) -> Result<InputFiles> {
    if !input.is_dir() {
        let taken = vec![input.to_path_buf()];
        return Ok(InputFiles {
            taken,
            not_taken: Vec::new(),
        });
    }
    let (mut taken, mut not_taken) = (Vec::new(), Vec::new());
    let entries = std::fs::read_dir(input)
        .with_context(|| format!("cannot read the folder {}", display(input)))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read the folder {}", display(input)))?;
        let path = entry.path();
        match why_not_taken(&path) {
            None => taken.push(path),
            Some(Skip::Folder) => {}
            Some(Skip::Because(why)) => not_taken.push((path, why)),
        }
    }
    taken.sort();
    not_taken.sort();
    if taken.is_empty() {
        let named: Vec<String> = not_taken
            .iter()
            .map(|(p, why)| format!("{} ({why})", display(p)))
            .collect();
        anyhow::bail!(
            "no .csv files in {}{}",
            display(input),
            if named.is_empty() {
                String::new()
            } else {
                format!("; not taken: {}", named.join(", "))
            }
        );
    }
    Ok(InputFiles { taken, not_taken })
}

enum Skip {
    Folder,
    Because(String),
}

/// Why a folder entry is not a filings file to take, or `None` to take it.
fn why_not_taken(path: &Path) -> Option<Skip> {
    let is_csv = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Some(Skip::Because(format!("cannot be read: {e}"))),
    };
    if meta.is_dir() {
        return Some(Skip::Folder);
    }
    if !is_csv {
        return Some(Skip::Because("not a .csv file".into()));
    }
    if !meta.is_file() {
        return Some(Skip::Because(
            "not a regular file (a pipe, a device or a socket)".into(),
        ));
    }
    // Opened, not only looked at: permissions and ACLs are the kernel's to judge.
    match std::fs::File::open(path) {
        Ok(_) => None,
        Err(e) => Some(Skip::Because(format!("cannot be read: {e}"))),
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
