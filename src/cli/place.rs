//! `--out` and `--ledger`: where batches and the ledger live.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use access_letters::batch;
use access_letters::ledger::{Ledger, LedgerLock, SqliteLedger};
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

    /// Opens the existing ledger for writing, refusing if another run holds it.
    pub fn open_ledger(&self) -> Result<(LedgerLock, SqliteLedger)> {
        let path = self.ledger_path();
        let lock = LedgerLock::acquire(&path)?;
        let ledger = SqliteLedger::open_existing(&path)?;
        Ok((lock, ledger))
    }

    /// Opens the ledger for a run. A missing ledger is created only when
    /// `--out` holds no batches (a first run), or when `new_ledger` says so:
    /// a ledger lost next to finished batches would issue every filing again.
    pub fn open_or_create_ledger(&self, new_ledger: bool) -> Result<(LedgerLock, SqliteLedger)> {
        let path = self.ledger_path();
        if path.exists() || path.symlink_metadata().is_ok() {
            let (lock, ledger) = self.open_ledger()?;
            batch::check_out_folder(&self.out, &ledger.ledger_id()?)?;
            return Ok((lock, ledger));
        }
        let folder = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let (Some(_), Some(dir)) = (&self.ledger, folder) {
            // A named ledger in a folder that does not exist is a typo, not
            // a new ledger: a new one would issue every filing again.
            anyhow::ensure!(
                dir.is_dir(),
                "the folder of --ledger {} does not exist; check the path (a new ledger is never made in a new folder)",
                path.display()
            );
        }
        batch::may_create_ledger(&path, &self.out, new_ledger)?;
        if self.ledger.is_none() {
            // OUT, made private like every folder we create.
            create_private_dir(&self.out)
                .with_context(|| format!("cannot create the folder {}", self.out.display()))?;
        }
        let lock = LedgerLock::acquire(&path)?;
        let ledger = SqliteLedger::create(&path)?;
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
        Ok(SqliteLedger::open_existing(&path)?)
    }
}
