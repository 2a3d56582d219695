//! `access-letters run --input FILE|DIR`: the nightly batch (a folder: each
//! `*.csv` in name order, as its own batch). Every row ends issued, already
//! issued or rejected; the same file and date continue the same batch.

use std::path::PathBuf;

use access_letters::batch::{input_files, RunInputs};
use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use super::common::*;
use super::metrics_file::{check_outputs, metrics_then_status};
use super::night::{say_inputs, start, worse};
use super::run_batch::{not_taken_status, one_batch, Batch};
use super::stop::on_signal;
use super::written::WrittenArgs;

/// Run the nightly batch over a filings file.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Filings CSV (see fixtures/README.md), or a folder of them (the day's drop).
    #[arg(long, value_name = "FILE|DIR")]
    input: PathBuf,
    /// Write run metrics here (Prometheus text format, for node_exporter).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Date printed on the letters; codes expire a fixed number of days after it [default: today].
    #[arg(long = "date", alias = "batch-date", value_name = "YYYY-MM-DD", value_parser = date_arg)]
    date: Option<NaiveDate>,
    /// Accept a --date more than 7 days from today (a catch-up or test run).
    #[arg(long)]
    allow_any_date: bool,
    /// Start a new ledger even though --out holds batches (never needed on a first run).
    #[arg(long)]
    new_ledger: bool,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: NewKeys,
    #[command(flatten)]
    look: Look,
    /// Rendering threads, 1 to 4 per core [default: one per core].
    #[arg(long, value_name = "N", value_parser = jobs_arg)]
    jobs: Option<usize>,
    #[command(flatten)]
    written: WrittenArgs,
}

pub fn execute(args: RunArgs) -> Result<u8> {
    let clock = args.look.clock()?;
    let batch_date = start(clock, args.date, args.allow_any_date, args.jobs)?;
    let (metrics, stop) = (args.metrics.as_deref(), on_signal()?);
    check_outputs(metrics, &args.place.out)?;
    let (keys, renderer) = (args.keys.load()?, args.look.renderer()?);
    let (mut status, mut done) = (EXIT_OK, Vec::new());
    let files = input_files(&args.input)?;
    say_inputs(&args.input, &files);
    for input in &files.taken {
        let inputs = RunInputs {
            input,
            batch_date,
            out_root: &args.place.out,
            keys: &keys,
            renderer: &renderer,
            chunk_size: args.written.chunk_size(),
            output: args.written.choice(),
        };
        match one_batch(&args.place, args.new_ledger, &inputs, &stop)? {
            Batch::Done(batch_dir, s, took) => {
                status = worse(status, s);
                done.push((batch_dir, took));
            }
            Batch::NoFilings => status = worse(status, EXIT_NO_FILINGS),
            Batch::Stopped => return Ok(EXIT_STOPPED),
        }
    }
    status = worse(status, not_taken_status(&args.input, &files));
    Ok(metrics_then_status(metrics, &done, &args.place, status))
}
