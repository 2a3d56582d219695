//! `run --metrics FILE`: the Prometheus textfile of the batches of a run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use access_letters::metrics;

use super::common::display;

/// Writes the metrics of the batches made by this run, atomically.
pub fn write_metrics(path: &Path, done: &[(PathBuf, Duration)]) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let batches = done
        .iter()
        .map(|(dir, took)| metrics::from_batch(dir, took.as_secs_f64(), now))
        .collect::<Result<Vec<_>, _>>()?;
    metrics::write(path, &batches).with_context(|| format!("cannot write {}", display(path)))
}
