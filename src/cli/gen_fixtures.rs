//! `access-letters gen-fixtures`: a large realistic filings file for
//! benchmarks and scale tests, the same bytes for the same seed.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use access_letters::gen::generate;

use super::common::*;

/// Generate a filings CSV of N realistic rows (about 3% deliberately bad).
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Number of rows.
    #[arg(long, value_name = "N")]
    rows: u64,
    /// Seed: the same seed gives the same file.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Where to write the CSV.
    #[arg(long, alias = "out", value_name = "FILE")]
    to: PathBuf,
    /// Received dates fall in the 30 days before this date.
    #[arg(long = "date", alias = "batch-date", value_name = "YYYY-MM-DD", default_value = "2026-11-25", value_parser = date_arg)]
    date: NaiveDate,
}

pub fn execute(args: GenArgs) -> Result<u8> {
    let out = BufWriter::new(File::create(&args.to)?);
    let stats = generate(out, args.rows, args.seed, args.date)?;
    println!(
        "wrote {} ({} deliberately bad) to {}",
        count(stats.rows, "row", "rows"),
        stats.bad,
        display(&args.to)
    );
    Ok(EXIT_OK)
}
