//! `access-letters run --input FILE|DIR`: the nightly batch (a folder: each
//! `*.csv` in name order, as its own batch). Every row ends issued, already
//! issued or rejected; the same file and date continue the same batch.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
use super::stop::on_signal;
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
    let stop = on_signal()?;
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
        match one_batch(&args, &inputs, &stop)? {
            Batch::Done(batch_dir, s, took) => {
                status = worse(status, s);
                done.push((batch_dir, took));
            }
            Batch::NoFilings => status = worse(status, EXIT_NO_FILINGS),
            Batch::Stopped => return Ok(EXIT_STOPPED),
        }
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

/// What became of one input file.
enum Batch {
    /// Complete: its folder, its exit status, how long it took.
    Done(PathBuf, u8, std::time::Duration),
    NoFilings,
    /// Stopped by a signal at a safe point (already said on stderr).
    Stopped,
}

/// Reads, checks and runs the batch of one input file.
fn one_batch(args: &RunArgs, inputs: &RunInputs<'_>, stop: &Arc<AtomicBool>) -> Result<Batch> {
    let started = Instant::now();
    // The whole input is read before any folder, ledger or lock is made.
    let Some(checked) = check_input(inputs)? else {
        return Ok(Batch::NoFilings);
    };
    let batch_dir = args.place.out.join(&checked.batch_id);
    if stop.load(Ordering::Relaxed) {
        return Ok(stopped(&batch_dir));
    }
    let mut opened = args.place.open_or_create_ledger(args.new_ledger)?;
    let reporter = Reporter::new(Arc::clone(stop));
    let report = match batch::run_checked(&checked, opened.ledger.as_mut(), &reporter) {
        Err(batch::BatchError::Stopped) => return Ok(stopped(&batch_dir)),
        result => result?,
    };
    print_report(&report, started);
    let status = exit_status(&report, inputs.input);
    Ok(Batch::Done(report.batch_dir, status, started.elapsed()))
}

/// A run stopped by SIGTERM or SIGINT: its temporary files go, and it says
/// how to finish.
fn stopped(batch_dir: &std::path::Path) -> Batch {
    if let Err(e) = batch::remove_temporaries(batch_dir) {
        eprintln!("warning: {e}; the next run removes them");
    }
    eprintln!(
        "stopped; run the same command again to finish (exit status {EXIT_STOPPED}: nothing is lost, what was done is recorded)"
    );
    Batch::Stopped
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
