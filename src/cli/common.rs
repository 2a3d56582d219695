//! Small helpers the commands share: flag parsers and wording.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use access_letters::filing::ReceiptNumber;
use access_letters::ops;

pub use super::flagged::*;
pub use super::inputs::{load_key, CheckKeys, NewKeys};
pub use super::look::{LimitConfig, Look};
pub use super::place::Place;

/// Exit status: every row issued or already issued; the code is valid.
pub const EXIT_OK: u8 = 0;
/// Exit status: the command failed; nothing was left half-written as if complete.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the batch finished, and some rows were rejected (see rejects.csv).
pub const EXIT_REJECTS: u8 = 2;
/// Exit status of `verify`: the code is not valid for the receipt.
pub const EXIT_NOT_VALID: u8 = 3;
/// Exit status of `run`: the input had a header and no filings.
pub const EXIT_NO_FILINGS: u8 = 4;
/// Exit status of `verify` and `redeem`: the receipt is locked after too many wrong codes.
pub const EXIT_LOCKED: u8 = 5;
/// Exit status of `redeem`: the code was already used by another account.
pub const EXIT_USED: u8 = 6;
/// Exit status of `run --input DIR`: its batches finished, but the folder
/// holds files that were not taken (named on stderr).
pub const EXIT_NOT_TAKEN: u8 = 8;
/// Exit status of `run`: every batch is complete, but a write after them
/// (the metrics file) failed; the batches need nothing more.
pub const EXIT_AFTER_BATCH: u8 = 9;
/// Exit status of `run`: stopped by SIGTERM or SIGINT at a safe point;
/// running the same command again finishes the batch.
pub const EXIT_STOPPED: u8 = 10;

/// clap parser for `--date`: YYYY-MM-DD, in words when it is not.
pub fn date_arg(text: &str) -> Result<NaiveDate, String> {
    ops::dates::parse_date(text).map_err(|e| e.to_string())
}

/// clap parser for `--jobs`: 1 to 4 per core.
pub fn jobs_arg(text: &str) -> Result<usize, String> {
    let jobs: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of threads"))?;
    ops::check_jobs(jobs, ops::available_cores()).map_err(|e| e.to_string())
}

pub fn parse_receipt(s: &str) -> Result<ReceiptNumber> {
    ReceiptNumber::parse(s).map_err(anyhow::Error::msg)
}

pub fn display(p: &Path) -> String {
    p.display().to_string()
}

/// "1 row", "2 rows".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
const _: () = assert!(EXIT_STOPPED as i32 == access_letters::ledger::EXIT_STOPPED_WAITING);
