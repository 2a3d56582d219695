//! `--out` and `--ledger`: where batches and the ledger live.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use access_letters::ledger::{LedgerLock, SqliteLedger};
use access_letters::output::create_private_dir;

/// Where things live; every command that touches a batch shares these.
#[derive(Args, Clone, Debug)]
pub struct Place {
    /// Folder for batch folders.
    #[arg(long, value_name = "DIR", default_value = "output")]
    pub out: PathBuf,
    /// Issuance ledger (SQLite file) [default: OUT/ledger.sqlite].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

impl Place {
    pub fn ledger_path(&self) -> PathBuf {
        self.ledger
            .clone()
            .unwrap_or_else(|| self.out.join("ledger.sqlite"))
    }

    /// Opens the ledger for writing, refusing if another run holds it.
    pub fn open_ledger(&self) -> Result<(LedgerLock, SqliteLedger)> {
        let path = self.ledger_path();
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        match (&self.ledger, dir) {
            // A named ledger in a folder that does not exist is a typo, not
            // a new ledger: a new one would issue every filing again.
            (Some(_), Some(dir)) if !dir.is_dir() => anyhow::bail!(
                "the folder of --ledger {} does not exist; check the path (a new ledger is never made in a new folder)",
                path.display()
            ),
            // OUT, made private like every folder we create (the ledger
            // would create it world-readable).
            (None, Some(dir)) => create_private_dir(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?,
            _ => {}
        }
        let lock = LedgerLock::acquire(&path)?;
        let ledger = SqliteLedger::open(&path)?;
        Ok((lock, ledger))
    }

    /// Opens an existing ledger to read it.
    pub fn read_ledger(&self) -> Result<SqliteLedger> {
        let path = self.ledger_path();
        if !path.exists() {
            anyhow::bail!(
                "no ledger at {}: nothing has been issued there yet (use --ledger to name another)",
                path.display()
            );
        }
        Ok(SqliteLedger::open(&path)?)
    }
}
