//! `access-letters run --input FILE|DIR`: the nightly batch (a folder: each
//! `*.csv` in name order, as its own batch). Every row ends issued, already
//! issued or rejected; the same file and date continue the same batch.

use std::path::PathBuf;
use std::time::Instant;

use access_letters::batch::{self, RunInputs};
use access_letters::output::{check_can_write, check_can_write_in};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;

use super::common::*;
use super::metrics_file::write_metrics;
use super::night::{check_input, input_files, say_inputs, start, worse};
use super::progress::Reporter;
use super::{summary::*, written::WrittenArgs};

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
    check_outputs(&args)?;
    let (keys, renderer) = (args.keys.load()?, args.look.renderer()?);
    let (mut status, mut done) = (EXIT_OK, Vec::new());
    let files = input_files(&args.input)?;
    say_inputs(&args.input, &files);
    for input in files.taken {
        let started = Instant::now();
        let inputs = RunInputs {
            input: &input,
            batch_date,
            out_root: &args.place.out,
            keys: &keys,
            renderer: &renderer,
            chunk_size: args.written.chunk_size(),
            output: args.written.choice(),
        };
        // The whole input is read before any folder, ledger or lock is made.
        let Some(checked) = check_input(&inputs)? else {
            status = worse(status, EXIT_NO_FILINGS);
            continue;
        };
        let mut opened = args.place.open_or_create_ledger(args.new_ledger)?;
        let report = batch::run_checked(&checked, opened.ledger.as_mut(), &Reporter::new())?;
        print_report(&report, started);
        status = worse(status, exit_status(&report, &input));
        done.push((report.batch_dir, started.elapsed()));
    }
    if !files.not_taken.is_empty() {
        let n = count(files.not_taken.len() as u64, "file", "files");
        eprintln!("{n} in {} not taken (named above): move or rename them, or remove them, so that none is left unread", display(&args.input));
        status = worse(status, EXIT_NOT_TAKEN);
    }
    if let Some(path) = &args.metrics {
        if let Err(e) = write_metrics(path, &done) {
            return Ok(after_batch_failed(&e, status));
        }
    }
    Ok(status)
}

/// Every file a run writes besides its batches is checked before the first
/// batch starts: a bad path found after the batch would hide its status.
fn check_outputs(args: &RunArgs) -> Result<()> {
    if let Some(path) = &args.metrics {
        check_can_write(path).with_context(|| {
            format!(
                "cannot write the metrics file --metrics {}, so no batch was started",
                display(path)
            )
        })?;
    }
    let out = &args.place.out;
    check_can_write_in(out).with_context(|| {
        format!(
            "cannot write batches under --out {}, so no batch was started",
            display(out)
        )
    })
}

/// A write after complete batches failed: the batches stand (each
/// batch.json is written), so the status says that and nothing else.
fn after_batch_failed(e: &anyhow::Error, batches_status: u8) -> u8 {
    eprintln!(
        "error: the batches are complete (batch.json written; their own exit status is {batches_status}), but writing the metrics file afterwards failed: {}; nothing needs running again, fix the metrics path for the next run (exit status {EXIT_AFTER_BATCH})",
        super::logging::error_message(e)
    );
    EXIT_AFTER_BATCH
}
