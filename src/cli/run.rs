//! `access-letters run --input FILE`: the nightly batch.
//!
//! Every row of the input ends as issued, already issued (an earlier batch
//! mailed it) or rejected (listed in rejects.csv with its line and reason).
//! Safe to run again after a crash: the same file and date continue the same
//! batch, and a finished batch is left as it is.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use access_letters::batch::{self, BatchError, Progress, RunInputs, DEFAULT_CHUNK_SIZE};

use super::{display, today, Keys, Look, Place, EXIT_OK, EXIT_REJECTS};

/// Exit status: the input has a header row but no filings.
const EXIT_NO_FILINGS: u8 = 4;

/// Run the nightly batch over a filings file.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Filings CSV (see fixtures/README.md for the columns).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Date printed on the letters; codes expire a fixed number of days after it [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    batch_date: Option<NaiveDate>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: Keys,
    #[command(flatten)]
    look: Look,
    /// Rendering threads [default: one per core].
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Filings per chunk (one ledger transaction each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CHUNK_SIZE, hide = true)]
    chunk_size: usize,
}

/// A bar on a terminal; a line every few seconds otherwise (cron logs).
struct Reporter {
    bar: Option<ProgressBar>,
    plain: Mutex<(u64, u64, Instant)>,
}

const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

impl Reporter {
    fn new() -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} filings ({per_sec}, {eta} left)")
                    .expect("the progress template is valid"),
            );
            bar
        });
        Reporter {
            bar,
            plain: Mutex::new((0, 0, Instant::now())),
        }
    }
}

impl Progress for Reporter {
    fn start(&self, total: u64) {
        match &self.bar {
            Some(bar) => bar.set_length(total),
            None => {
                let mut p = self.plain.lock().expect("progress lock");
                *p = (0, total, Instant::now());
            }
        }
    }

    fn advance(&self, n: u64) {
        match &self.bar {
            Some(bar) => bar.inc(n),
            None => {
                let mut p = self.plain.lock().expect("progress lock");
                p.0 += n;
                if p.2.elapsed() >= PLAIN_INTERVAL {
                    eprintln!("progress: {} of {} filings", p.0, p.1);
                    p.2 = Instant::now();
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn execute(args: RunArgs) -> Result<u8> {
    let started = Instant::now();
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global()?;
    }
    let keys = args.keys.load()?;
    let renderer = args.look.renderer()?;
    let inputs = RunInputs {
        input: &args.input,
        batch_date: args.batch_date.unwrap_or_else(today),
        out_root: &args.place.out,
        keys: &keys,
        renderer: &renderer,
        chunk_size: args.chunk_size,
    };
    // The whole input is read before any folder, ledger or lock is made.
    let checked = match batch::check(&inputs) {
        Err(e @ BatchError::NoFilings { .. }) => {
            eprintln!("error: {e}");
            return Ok(EXIT_NO_FILINGS);
        }
        checked => checked?,
    };
    let (_lock, mut ledger) = args.place.open_ledger()?;
    let reporter = Reporter::new();
    let report = batch::run_checked(&checked, &mut ledger, &reporter)?;
    let c = report.counts;
    if report.remade > 0 {
        let dir = display(&report.batch_dir);
        println!(
            "letters missing or changed in {dir}, made again: {}",
            report.remade
        );
    }
    if report.already_complete {
        println!(
            "batch {} is already complete in {}: nothing to do",
            report.batch_id,
            display(&report.batch_dir)
        );
    } else {
        if report.stray_removed > 0 {
            println!(
                "removed {} temporary files left by an interrupted run",
                report.stray_removed
            );
        }
        if report.issued_now < c.issued {
            println!(
                "resumed: {} letters were already made by an interrupted run of this batch",
                c.issued - report.issued_now
            );
        }
    }
    println!(
        "batch {}{}: read {} = issued {} + already issued {} + rejected {}; {} pages; {:.1} s",
        report.batch_id,
        if report.test_mode {
            " (TEST: letters carry SPECIMEN)"
        } else {
            ""
        },
        c.read,
        c.issued,
        c.already_issued,
        c.rejected,
        report.pages,
        started.elapsed().as_secs_f64()
    );
    println!("output: {}", display(&report.batch_dir));
    if c.rejected > 0 {
        println!(
            "{} rows were rejected; see {}",
            c.rejected,
            display(&report.batch_dir.join("rejects.csv"))
        );
        Ok(EXIT_REJECTS)
    } else {
        Ok(EXIT_OK)
    }
}
