//! Whose `--out` is it? Every command that writes into or reads from the
//! folder of batches checks, before it writes anything, that the batches
//! there were recorded by the ledger it opened, as `run` does
//! (`batch::check_out_folder`). A stale `ACCESS_LETTERS_LEDGER` would
//! otherwise mail a code that the folder's own ledger calls wrong.

use anyhow::{Context, Result};

use access_letters::batch;
use access_letters::ledger::Ledger;

use super::open_ledger::Opened;
use super::place::Place;

impl Place {
    /// Opens the existing ledger for a command that writes into `--out`
    /// (reissue, revoke, ...): as [`Place::open_ledger`], then refused
    /// before anything is written if `--out` holds batches another ledger
    /// recorded (see [`Place::check_out`]).
    pub fn open_ledger_for_out(&self) -> Result<Opened> {
        self.checked_out(self.open_ledger()?)
    }

    /// Opens the existing ledger to read it for a command that reads from
    /// or writes into `--out` (reprint, proof): as [`Place::read_ledger`],
    /// then refused on a mismatch (see [`Place::check_out`]).
    pub fn read_ledger_for_out(&self) -> Result<Box<dyn Ledger>> {
        let ledger = self.read_ledger()?;
        self.check_out(ledger.as_ref())?;
        Ok(ledger)
    }

    /// Refuses when `--out` holds finished batches that another ledger than
    /// `ledger` recorded (or that record none), as `run` does. Every command
    /// that writes into or reads from `--out` calls it before it writes: a
    /// stale `ACCESS_LETTERS_LEDGER` would otherwise mail a code that the
    /// folder's own ledger calls wrong, and keep the old code live.
    pub fn check_out(&self, ledger: &dyn Ledger) -> Result<()> {
        let ledger_id = ledger.ledger_id()?;
        batch::check_out_folder(&self.out, &ledger_id).with_context(|| {
            format!(
                "--out {} belongs to another ledger than the one this command opened (check --ledger and ACCESS_LETTERS_LEDGER); nothing was written",
                self.out.display()
            )
        })
    }
}
