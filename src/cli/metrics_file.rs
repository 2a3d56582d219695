//! `run --metrics FILE`: the Prometheus textfile of the batches of a run;
//! the paths a run writes, checked before its first batch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use access_letters::metrics;
use access_letters::output::{check_can_write, check_can_write_in};

use super::common::{display, Place, EXIT_AFTER_BATCH};

/// Writes the metrics of the batches made by this run, and the ledger's
/// mail trail (left out, said on stderr, when the ledger cannot be read
/// now), atomically.
fn write_metrics(path: &Path, done: &[(PathBuf, Duration)], place: &Place) -> Result<()> {
    let mail = (place.read_ledger())
        .and_then(|l| Ok(l.mail_counts(None)?))
        .inspect_err(|e| eprintln!("warning: the metrics file leaves out the mail trail: {e:#}"))
        .ok();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let batches = done
        .iter()
        .map(|(dir, took)| metrics::from_batch(dir, took.as_secs_f64(), now))
        .collect::<Result<Vec<_>, _>>()?;
    metrics::write(path, &batches, mail.as_ref())
        .with_context(|| format!("cannot write {}", display(path)))
}

/// Every file a run writes besides its batches is checked before the first
/// batch starts: a bad path found after the batch would hide its status.
pub fn check_outputs(metrics: Option<&Path>, out: &Path) -> Result<()> {
    if let Some(path) = metrics {
        check_can_write(path).with_context(|| {
            format!(
                "cannot write the metrics file --metrics {}, so no batch was started",
                display(path)
            )
        })?;
    }
    check_can_write_in(out).with_context(|| {
        format!(
            "cannot write batches under --out {}, so no batch was started",
            display(out)
        )
    })
}

/// Writes the metrics file, if asked, after the batches; the run's exit
/// status: `status`, or 9 when the write failed.
pub fn metrics_then_status(
    path: Option<&Path>,
    done: &[(PathBuf, Duration)],
    place: &Place,
    status: u8,
) -> u8 {
    match path.map(|p| write_metrics(p, done, place)) {
        Some(Err(e)) => after_batch_failed(&e, status),
        _ => status,
    }
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
