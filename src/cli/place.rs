//! `--out` and `--ledger`: where batches and the ledger live.
//!
//! `--ledger` (or `ACCESS_LETTERS_LEDGER`) names a SQLite file or a
//! PostgreSQL URL, parsed once into a [`LedgerLocation`]; opening it, with
//! the guards that go with each, is in [`super::open_ledger`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::ledger::{Ledger, LedgerLocation};

/// Where things live; every command that touches a batch shares these.
#[derive(Args, Clone, Debug)]
pub struct Place {
    /// Folder for batch folders.
    #[arg(long, value_name = "DIR", default_value = "output")]
    pub out: PathBuf,
    /// Issuance ledger: a SQLite file, or a postgres:// URL shared by several
    /// hosts [default: $ACCESS_LETTERS_LEDGER, else OUT/ledger.sqlite].
    #[arg(long, value_name = "FILE|URL")]
    pub ledger: Option<String>,
}

impl Place {
    /// The flag, else the environment, else `OUT/ledger.sqlite`; and
    /// whether the user named it (flag or environment).
    pub fn ledger_location(&self) -> (LedgerLocation, bool) {
        match LedgerLocation::from_flag_or_env(self.ledger.as_deref()) {
            Some(at) => (at, true),
            None => (
                LedgerLocation::Sqlite(self.out.join("ledger.sqlite")),
                false,
            ),
        }
    }

    /// Opens an existing ledger to read it (or, for `verify`, to count a
    /// wrong code): no lock, so it works while a batch runs.
    pub fn read_ledger(&self) -> Result<Box<dyn Ledger>> {
        let (at, _) = self.ledger_location();
        if let Some(path) = at.sqlite_path() {
            anyhow::ensure!(
                path.exists(),
                "no ledger at {}: nothing has been issued there yet (use --ledger to name another)",
                path.display()
            );
        }
        Ok(at.open_existing()?)
    }
}
