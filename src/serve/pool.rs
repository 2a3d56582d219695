//! A few open ledger connections shared by the request handlers.
//!
//! Ledger calls are blocking (rusqlite, the synchronous postgres client) and
//! a [`Ledger`] is `Send` but not `Sync`, so each call borrows one
//! connection for itself on tokio's blocking pool and gives it back. A call
//! that fails drops its connection: the next one opens a fresh connection,
//! so a PostgreSQL server that restarted is found again. The connections are
//! opened like `verify` opens the ledger: no run lock, so the nightly batch
//! still runs while the service is up.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::ledger::{Ledger, LedgerError, LedgerLocation};

/// Opens connections to the ledger at `at` like `verify` does: no run
/// lock, never a new file.
pub fn opener(at: LedgerLocation) -> Arc<Opener> {
    Arc::new(move || at.open_existing())
}

/// Opens one more connection to the ledger.
pub type Opener = dyn Fn() -> Result<Box<dyn Ledger>, LedgerError> + Send + Sync;

/// Why a ledger call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger call stopped unexpectedly: {0}")]
    Join(String),
}

pub struct LedgerPool {
    idle: Arc<Mutex<Vec<Box<dyn Ledger>>>>,
    permits: Arc<Semaphore>,
    open: Arc<Opener>,
}

impl LedgerPool {
    /// A pool of at most `size` connections; the first is opened now, so a
    /// ledger that cannot be opened stops the service before it listens.
    pub fn new(size: usize, open: Arc<Opener>) -> Result<LedgerPool, LedgerError> {
        let first = open()?;
        Ok(LedgerPool {
            idle: Arc::new(Mutex::new(vec![first])),
            permits: Arc::new(Semaphore::new(size.max(1))),
            open,
        })
    }

    /// Runs `f` with a connection of its own, off the async threads. The
    /// connection and its permit go back to the pool when `f` returns, even
    /// if the request that asked has given up waiting (a timeout), so the
    /// pool never holds more than its size.
    pub async fn with<T, F>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Ledger) -> Result<T, LedgerError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pool is never closed");
        let (idle, open) = (Arc::clone(&self.idle), Arc::clone(&self.open));
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut conn = match taken {
                Some(c) => c,
                None => open()?,
            };
            let result = f(conn.as_mut());
            // A failed call may have left the connection broken: drop it.
            if result.is_ok() {
                idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            }
            result
        })
        .await
        .map_err(|e| PoolError::Join(e.to_string()))?;
        Ok(result?)
    }
}
