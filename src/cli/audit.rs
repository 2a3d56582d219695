//! `access-letters audit [--out DIR] [--ledger FILE]`: the full integrity
//! check of the ledger, and every finished batch under OUT checked against
//! it and against the files on disk (see [`access_letters::ops::audit`]).

use anyhow::Result;
use clap::Args;

use access_letters::ops::audit;

use super::common::*;
use super::place::Place;

/// Check the ledger in full, and every finished batch and letter against it.
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    place: Place,
}

pub fn execute(args: AuditArgs) -> Result<u8> {
    let ledger = args.place.read_ledger()?;
    let found = audit(ledger.as_ref(), &args.place.out)?;
    for problem in &found.problems {
        println!("problem: {problem}");
    }
    let batches = count(found.batches as u64, "batch", "batches");
    let files = count(found.files as u64, "file", "files");
    if found.problems.is_empty() {
        println!("audit passed: the ledger is sound; {batches} and {files} match it");
        Ok(EXIT_OK)
    } else {
        let problems = count(found.problems.len() as u64, "problem", "problems");
        println!("audit FAILED: {problems} in {batches} and {files}");
        Ok(EXIT_FAILED)
    }
}
