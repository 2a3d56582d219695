//! Opening the ledger `--ledger` names, with the guards of each kind: a
//! SQLite file is held by one run at a time through its lock file and is
//! never quietly created next to finished batches; a PostgreSQL ledger is
//! shared, and a run claims only its batch (see `batch::run_checked`).

use anyhow::{Context, Result};

use access_letters::batch;
use access_letters::ledger::{Ledger, LedgerLocation, LedgerLock, PostgresLedger, SqliteLedger};
use access_letters::output::create_private_dir;

use super::place::Place;

/// An open ledger, and the file lock that keeps other runs out of it.
pub struct Opened {
    _lock: Option<LedgerLock>,
    pub ledger: Box<dyn Ledger>,
}

fn opened(_lock: Option<LedgerLock>, ledger: impl Ledger + 'static) -> Opened {
    let ledger = Box::new(ledger);
    Opened { _lock, ledger }
}

impl Place {
    /// Opens the existing ledger for writing; a SQLite file is refused if
    /// another run holds it.
    pub fn open_ledger(&self) -> Result<Opened> {
        match self.ledger_location().0 {
            LedgerLocation::Postgres(url) => {
                Ok(opened(None, PostgresLedger::connect(url.expose())?))
            }
            LedgerLocation::Sqlite(path) => Ok(opened(
                Some(LedgerLock::acquire(&path)?),
                SqliteLedger::open_existing(&path)?,
            )),
        }
    }

    /// Opens the ledger for a run. A missing SQLite ledger is created only
    /// when `--out` holds no batches (a first run), or when `new_ledger`
    /// says so: a ledger lost next to finished batches would issue every
    /// filing again. Either way the output folder must belong to it.
    pub fn open_or_create_ledger(&self, new_ledger: bool) -> Result<Opened> {
        let (path, named) = match self.ledger_location() {
            (LedgerLocation::Sqlite(path), named) => (path, named),
            (LedgerLocation::Postgres(_), _) => return self.checked_out(self.open_ledger()?),
        };
        if path.exists() || path.symlink_metadata().is_ok() {
            return self.checked_out(self.open_ledger()?);
        }
        // A named ledger in a folder that does not exist is a typo, not a
        // new ledger: a new one would issue every filing again.
        let folder = path.parent().filter(|d| named && !d.as_os_str().is_empty());
        anyhow::ensure!(
            folder.is_none_or(|dir| dir.is_dir()),
            "the folder of --ledger {} does not exist; check the path (a new ledger is never made in a new folder)",
            path.display()
        );
        batch::may_create_ledger(&path, &self.out, new_ledger)?;
        if !named {
            // OUT, made private like every folder we create.
            create_private_dir(&self.out)
                .with_context(|| format!("cannot create the folder {}", self.out.display()))?;
        }
        let lock = LedgerLock::acquire(&path)?;
        Ok(opened(Some(lock), SqliteLedger::create(&path)?))
    }

    pub(super) fn checked_out(&self, opened: Opened) -> Result<Opened> {
        self.check_out(opened.ledger.as_ref())?;
        Ok(opened)
    }
}
