//! A scheduler's stop: SIGTERM (systemd, `kill`) or SIGINT (Ctrl-C) during
//! `run` sets a flag that the batch reads at its next safe point (after a
//! chunk is committed, between rounds of print files). The run then removes
//! its temporary files, says "stopped; run the same command again to
//! finish" and exits [`EXIT_STOPPED`](super::common::EXIT_STOPPED): a stop
//! never looks like a crash. A second signal while stopping ends the
//! process at once (exit 1); the batch is crash safe, so even that loses
//! nothing.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

/// Registers SIGTERM and SIGINT; the flag turns true at the first of them.
pub fn on_signal() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        // Registered first, so it sees the flag before this signal sets it:
        // the second signal ends the process.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
    }
    // A run waiting on a PostgreSQL server that does not answer ends at
    // the first signal too, saying so (nothing of that step is saved).
    access_letters::ledger::stop_waiting_on(Arc::clone(&stop));
    Ok(stop)
}
