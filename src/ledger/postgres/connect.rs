//! Connecting with a deadline over the whole start-up.
//!
//! The driver's `connect_timeout` covers the TCP connect only. A server
//! that accepts the connection and then never answers (its processes
//! stopped, a frozen VM, a proxy with nothing behind it) would hold the
//! start-up and authentication exchange, and so the command, forever. So
//! the whole start-up (connect, authenticate, set up the session, migrate)
//! runs on a thread of its own, and the caller waits for it no longer than
//! the ledger deadline ([`TIMEOUT_ENV`]), nor past a scheduler's stop. A
//! thread given up on stays blocked on its socket until the process ends;
//! it holds no lock and commits nothing.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ::postgres::{Client, Config, NoTls};

use super::migrations::migrate;
use super::rows::{pg_detail, pg_err};
use super::url::describe_target;
use super::watch::{stop_asked, TIMEOUT_ENV};
use crate::ledger::{LedgerError, BUSY_TIMEOUT_MS};

/// How often the waiting caller looks for a stop.
const POLL_MS: u64 = 100;

/// Runs `start` (the whole start-up) on its own thread and waits for it at
/// most `limit`, or until a stop is asked for.
pub(super) fn within<T: Send + 'static>(
    limit: Duration,
    target: &str,
    label: &str,
    start: impl FnOnce(&str) -> Result<T, LedgerError> + Send + 'static,
) -> Result<T, LedgerError> {
    let (tx, rx) = mpsc::channel();
    let owned = label.to_string();
    std::thread::Builder::new()
        .name("ledger-connect".into())
        .spawn(move || {
            let _ = tx.send(start(&owned));
        })
        .map_err(|e| LedgerError::Connect {
            target: target.to_string(),
            detail: format!("cannot start the connecting thread: {e}"),
        })?;
    let started = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(POLL_MS)) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(LedgerError::Connect {
                    target: target.to_string(),
                    detail: "the connecting thread ended without an answer".into(),
                })
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if stop_asked() {
            return Err(LedgerError::StoppedWaiting {
                ledger: label.to_string(),
            });
        }
        if started.elapsed() >= limit {
            return Err(LedgerError::Connect {
                target: target.to_string(),
                detail: format!(
                    "the server took the connection but did not finish its start-up and \
                     authentication within {} s (the limit is set by {TIMEOUT_ENV})",
                    limit.as_secs()
                ),
            });
        }
    }
}

/// Connects, sets the session up and migrates: the client and its schema.
pub(super) fn start_up(
    config: &Config,
    label: &str,
    limit: Duration,
) -> Result<(Client, String), LedgerError> {
    let mut client = config.connect(NoTls).map_err(|e| LedgerError::Connect {
        target: describe_target(config),
        detail: pg_detail(&e),
    })?;
    // Bounded waits for row locks, like SQLite's busy timeout. JIT
    // compiling costs more than the ledger's short statements ever run,
    // and the planner's cost guesses trigger it. Every execution of a
    // prepared statement is planned for its values and the tables as they
    // are: a plan the server cached would be kept for the connection's
    // life, and one made while statistics said `guesses` was empty scans
    // the whole table on every verify once it has grown.
    client
        .batch_execute(&format!(
            "SET lock_timeout = '{BUSY_TIMEOUT_MS}ms'; SET jit = off; \
             SET statement_timeout = '{}s'; SET plan_cache_mode = force_custom_plan",
            limit.as_secs()
        ))
        .map_err(|e| pg_err(label, "set up the connection", e))?;
    migrate(&mut client, label)?;
    let schema: String = client
        .query_one("SELECT current_schema()", &[])
        .map_err(|e| pg_err(label, "read its schema", e))?
        .get(0);
    Ok((client, schema))
}
