//! The issuance ledger: what has been issued to whom, and which code is live.
//!
//! Codes are derived from (key, receipt, issue number), so the ledger never
//! needs a code and never stores one: each issuance keeps only a keyed
//! fingerprint of its code, the key id that made it, and what the letter
//! looked like (its sha256, pages, and the [`Filing`](crate::filing::Filing)
//! it was rendered from, so `reprint` can re-render the same bytes). There is
//! no column that could hold a code, and [`Ledger::record`] refuses a
//! "fingerprint" that is not a long hex digest, so a clear code cannot land
//! here by mistake.
//!
//! # Exactly once
//!
//! "Every filing gets exactly one letter" is kept by ordering, not by luck:
//!
//! 1. A batch first looks up every receipt in the ledger
//!    ([`Ledger::receipt_states`]) and plans issue 1 only for receipts the
//!    ledger has never seen; the others are skipped and counted.
//! 2. The caller writes each letter file to disk *before* recording it. A row
//!    is committed only for a letter that exists, and [`Ledger::record`]
//!    commits a chunk in one transaction: all of its rows or none.
//! 3. After a crash, re-running the same input continues the same batch: the
//!    committed rows are found and skipped, and only the rest are issued. A
//!    letter file written but not yet recorded is simply rendered again, with
//!    identical bytes, because a letter is a pure function of its inputs.
//!
//! The database enforces the invariants whatever the caller does: (receipt,
//! issue number) is unique, piece IDs are unique, and a partial unique index
//! (`WHERE status = 'active'`) allows at most one active issuance per
//! receipt. A reissue supersedes the active issuance and inserts the next
//! issue number in a single transaction ([`Ledger::supersede_and_record`]),
//! so there is never a moment with two live codes or none.
//!
//! # The ledger is the truth, so it is guarded
//!
//! Exactly-once holds only while the ledger is the one and only record of
//! what was issued. So:
//!
//! - only one run may use a ledger at a time: take a [`LedgerLock`] first.
//!   The lock belongs to the ledger's canonical path, so a symlink or a
//!   relative spelling of the same file meets the same lock;
//! - opening an existing ledger and creating a new one are different calls
//!   ([`SqliteLedger::open_existing`], [`SqliteLedger::create`]): a missing
//!   or empty file is never quietly taken for a new ledger, which would
//!   issue every filing again as issue 1 and revive superseded codes;
//! - an existing ledger is checked when opened (`PRAGMA quick_check`), and a
//!   damaged one is refused with a sentence that says to restore the last
//!   backup ([`SqliteLedger::backup_to`], `access-letters backup`);
//!   [`SqliteLedger::integrity_check`] is the full check for an audit;
//! - every ledger carries a random identity ([`Ledger::ledger_id`]), made
//!   when it is created and kept by its backups, so a batch folder can say
//!   which ledger it belongs to.
//!
//! # Storage
//!
//! [`SqliteLedger`] is one SQLite file (no server). It holds names and
//! addresses, so its files have mode 0600. It runs in WAL mode with
//! `synchronous=FULL`: a commit is on disk when `record` returns, at a
//! measured cost small next to rendering a PDF. The schema is versioned with
//! `PRAGMA user_version`; migrations are applied in order inside one
//! transaction, and a file written by a newer program is refused rather than
//! misread. The [`Ledger`] trait is object-safe so a shared database can
//! stand behind it when several machines issue at once.
//!
//! The only wall-clock values in the ledger are the audit timestamps
//! (`recorded_at`, `status_changed_at`, `started_at`, `completed_at`); they
//! never reach a letter.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::filing::ReceiptNumber;

mod attempts;
mod error;
mod files;
mod lock;
mod migrations;
mod open;
mod postgres;
mod postgres_attempts;
mod postgres_rows;
mod rows;
mod sqlite;
mod types;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_guard;

pub use self::postgres::{redact_url, PostgresLedger};
pub use attempts::{AttemptKind, AttemptLimit, AttemptSummary, Gate};
pub use error::LedgerError;
pub use lock::LedgerLock;
pub use open::{is_postgres_url, ledger_spec, open_any, LEDGER_ENV};
pub use sqlite::SqliteLedger;
pub use types::{ActiveRef, BatchKind, BatchRecord, Issuance, NewIssuance, ReceiptState};

/// How long a statement waits for another connection's lock before failing.
/// The lock file keeps runs apart; this only covers short overlaps such as
/// an operator's `status` reading while a batch commits.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Fingerprints are hex HMAC digests; anything shorter than this cannot be
/// one, and a 12-symbol access code (14 with hyphens) is always shorter.
const MIN_FINGERPRINT_HEX_CHARS: usize = 32;

/// The ledger as the pipeline sees it. Object-safe and `Send`, so a shared
/// database can replace [`SqliteLedger`] without touching callers.
pub trait Ledger: Send {
    /// The ledger's identity: random, made when the ledger was created, and
    /// the same in every backup of it.
    fn ledger_id(&self) -> Result<String, LedgerError>;

    /// Records a batch, or confirms that a re-run matches the batch already
    /// recorded under the same id (same key, input hash, date, kind).
    fn start_batch(&mut self, batch: &BatchRecord) -> Result<(), LedgerError>;

    /// The batch and, once completed, its summary JSON.
    fn batch(&self, batch_id: &str) -> Result<Option<(BatchRecord, Option<String>)>, LedgerError>;

    /// Marks the batch complete with its control totals.
    fn complete_batch(&mut self, batch_id: &str, summary_json: &str) -> Result<(), LedgerError>;

    /// The state of each given receipt; receipts the ledger has never seen
    /// are absent from the map.
    fn receipt_states(
        &self,
        receipts: &[ReceiptNumber],
    ) -> Result<HashMap<ReceiptNumber, ReceiptState>, LedgerError>;

    /// The barcode serial of the most recently recorded issuance that has
    /// one (most recent, not largest: serials may wrap).
    fn last_serial(&self) -> Result<Option<u64>, LedgerError>;

    /// Records a chunk of issuances, all active, in one transaction: all of
    /// them or none. Each letter file must already exist on disk.
    fn record(&mut self, rows: &[NewIssuance]) -> Result<(), LedgerError>;

    /// In one transaction, supersedes the receipt's active issuance (if any)
    /// and records `row` as active; `row.issue_no` must be the next number.
    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<(), LedgerError>;

    /// Every issuance of a receipt, by issue number.
    fn history(&self, receipt: &ReceiptNumber) -> Result<Vec<Issuance>, LedgerError>;

    /// One issuance, if recorded.
    fn issuance(
        &self,
        receipt: &ReceiptNumber,
        issue_no: u32,
    ) -> Result<Option<Issuance>, LedgerError>;

    /// Calls `f` for each issuance of the batch in presort order (ZIP5,
    /// ZIP+4 with plain ZIPs first, receipt, issue number), one row at a
    /// time; an error from `f` stops the walk and is returned. Returns the
    /// number of rows passed to `f`.
    fn for_each_in_batch(
        &self,
        batch_id: &str,
        f: &mut dyn FnMut(Issuance) -> Result<(), LedgerError>,
    ) -> Result<u64, LedgerError>;

    /// Records, in one transaction, what was printed for letters of a print
    /// run, as `(piece_id, proof)` pairs: each letter must be in `batch_id`
    /// and still [`NOT_YET_PRINTED`](crate::print::NOT_YET_PRINTED), or
    /// already hold the same proof (its print file written again). Anything
    /// else refuses them all ([`LedgerError::PrintedDiffers`]). The pairs are
    /// streamed (a batch's worth need not fit in memory). Returns how many
    /// were recorded.
    fn record_printed(
        &mut self,
        batch_id: &str,
        printed: &mut dyn Iterator<Item = (String, String)>,
    ) -> Result<u64, LedgerError>;

    /// How many issuances the batch has recorded.
    fn count_in_batch(&self, batch_id: &str) -> Result<u64, LedgerError>;

    /// Claims the batch for this process until it ends, so that a second
    /// run of the same batch refuses ([`LedgerError::BatchBusy`]) instead of
    /// issuing alongside. The claim dies with the process (or its database
    /// connection), so a crashed run never blocks the re-run. The default
    /// does nothing: a SQLite ledger is already held by one run through its
    /// [`LedgerLock`].
    fn lock_batch(&mut self, batch_id: &str) -> Result<(), LedgerError> {
        let _ = batch_id;
        Ok(())
    }

    /// Counts a `verify` attempt against the wrong-code limit and says
    /// whether its verdict may be given; see [`Gate`]. Deciding and
    /// recording are one transaction, serialised per receipt, so attempts
    /// made at the same moment from many processes are counted exactly.
    fn gate_attempt(
        &mut self,
        receipt: &ReceiptNumber,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<Gate, LedgerError>;

    /// A receipt's attempts and locks as of `now`, for `status`.
    fn attempt_summary(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<AttemptSummary, LedgerError>;

    /// The full storage check an audit runs (SQLite's `integrity_check`).
    /// The default does nothing: a database server checks its own pages.
    fn full_check(&self) -> Result<(), LedgerError> {
        Ok(())
    }
}
