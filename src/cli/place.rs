//! `--out` and `--ledger`: where batches and the ledger live.
//!
//! `--ledger` (or `ACCESS_LETTERS_LEDGER`) names a SQLite file or a
//! PostgreSQL URL; opening it, with the guards that go with each, is in
//! [`super::open_ledger`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::ledger::{is_postgres_url, ledger_spec, Ledger, PostgresLedger, SqliteLedger};

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

/// The ledger a command was pointed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerAt {
    /// A SQLite file; `named` when the user gave it (flag or environment).
    File { path: PathBuf, named: bool },
    /// A PostgreSQL server (the URL may hold a password: never print it).
    Server { url: String },
}

impl Place {
    /// The flag, else the environment, else `OUT/ledger.sqlite`.
    pub fn ledger_at(&self) -> LedgerAt {
        match ledger_spec(self.ledger.as_deref()) {
            Some(spec) if is_postgres_url(&spec) => LedgerAt::Server { url: spec },
            Some(spec) => LedgerAt::File {
                path: PathBuf::from(spec),
                named: true,
            },
            None => LedgerAt::File {
                path: self.out.join("ledger.sqlite"),
                named: false,
            },
        }
    }

    /// Opens an existing ledger to read it (or, for `verify`, to count a
    /// wrong code): no lock, so it works while a batch runs.
    pub fn read_ledger(&self) -> Result<Box<dyn Ledger>> {
        match self.ledger_at() {
            LedgerAt::Server { url } => Ok(Box::new(PostgresLedger::connect(&url)?)),
            LedgerAt::File { path, .. } => {
                anyhow::ensure!(
                    path.exists(),
                    "no ledger at {}: nothing has been issued there yet (use --ledger to name another)",
                    path.display()
                );
                Ok(Box::new(SqliteLedger::open_existing(&path)?))
            }
        }
    }
}
