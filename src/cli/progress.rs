//! Progress of a run on stderr: a bar on a terminal, a line every few
//! seconds otherwise (cron logs).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use access_letters::batch::Progress;

/// A bar on a terminal; a line every few seconds otherwise (cron logs).
pub struct Reporter {
    bar: Option<ProgressBar>,
    plain: Mutex<(u64, u64, Instant)>,
    /// Set by SIGTERM or SIGINT (see [`super::stop`]).
    stop: Arc<AtomicBool>,
}

const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

impl Reporter {
    pub fn new(stop: Arc<AtomicBool>) -> Reporter {
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
            stop,
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

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
