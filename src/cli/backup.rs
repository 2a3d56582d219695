//! `access-letters backup --ledger FILE --to FILE`: a copy of the ledger to
//! restore from.
//!
//! The ledger is the only record of which code is live, so keep backups of
//! it. This uses SQLite's online backup: a consistent snapshot, safe to take
//! while a batch runs. The copy is checked before it gets its name, has mode
//! 0600 (it holds names and addresses), keeps the ledger's identity, and
//! never replaces an existing file. To restore, stop every run, copy the
//! backup over the ledger, and delete the ledger's `-wal` and `-shm` files.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use access_letters::ledger::prelude::*;
use access_letters::ledger::{LedgerLocation, SqliteLedger};

use super::common::{display, EXIT_OK};

/// Copy the issuance ledger to a new file (SQLite online backup, mode 0600).
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The issuance ledger to copy.
    #[arg(long, value_name = "FILE", default_value = "output/ledger.sqlite")]
    ledger: PathBuf,
    /// The new backup file; must not exist yet.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

pub fn execute(args: BackupArgs) -> Result<u8> {
    anyhow::ensure!(
        LedgerLocation::parse(&args.ledger.to_string_lossy())
            .sqlite_path()
            .is_some(),
        "backup copies a SQLite ledger file; back up a PostgreSQL ledger with the server's own tools (pg_dump)"
    );
    let ledger = SqliteLedger::open_existing(&args.ledger)?;
    ledger
        .backup_to(&args.to)
        .with_context(|| format!("backing up {}", display(&args.ledger)))?;
    println!(
        "backed up the ledger {} (id {}) to {}",
        display(&args.ledger),
        ledger.ledger_id()?,
        display(&args.to)
    );
    Ok(EXIT_OK)
}
