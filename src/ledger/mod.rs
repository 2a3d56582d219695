//! The issuance ledger: what has been issued to whom, and which code is live.
//!
//! Codes are derived from (key, receipt, issue number), so the ledger never
//! needs a code and never stores one: each issuance keeps only a keyed
//! fingerprint of its code, the key id that made it, and what the letter
//! looked like (its [`LetterProof`], pages, and the
//! [`Filing`](crate::filing::Filing) it was rendered from, so `reprint` can
//! re-render the same letter and prove it). There is
//! no column that could hold a code, and [`IssuanceLedger::record`] refuses a
//! "fingerprint" that is not a long hex digest, so a clear code cannot land
//! here by mistake.
//!
//! # Exactly once
//!
//! "Every filing gets exactly one letter" is kept by ordering, not by luck:
//!
//! 1. A batch first looks up every receipt in the ledger
//!    ([`IssuanceLedger::receipt_states`]) and plans issue 1 only for receipts the
//!    ledger has never seen; the others are skipped and counted.
//! 2. [`IssuanceLedger::record`] commits a chunk in one transaction: all of its rows
//!    or none. When a row's letter is drawn depends on the output mode:
//!    - in the default print mode the rows are committed *first*, as
//!      [`LetterProof::NotYetPrinted`], and the letters are drawn afterwards
//!      into print files in presort order; [`IssuanceLedger::record_printed`] then
//!      records what was printed. Until then a committed row has no letter
//!      on disk, and the batch is incomplete (no batch.json);
//!    - with one PDF per letter (pieces), each letter file is written to
//!      disk *before* its row is recorded ([`LetterProof::File`]).
//! 3. After a crash, re-running the same input continues the same batch: the
//!    committed rows are found and skipped, and only the rest are issued;
//!    letters recorded but not printed yet are drawn, and a letter file
//!    written but not yet recorded is simply rendered again, with identical
//!    bytes, because a letter is a pure function of its inputs.
//!
//! The database enforces the invariants whatever the caller does: (receipt,
//! issue number) is unique, piece IDs are unique, and a partial unique index
//! (`WHERE status = 'active'`) allows at most one active issuance per
//! receipt. A reissue supersedes the active issuance and inserts the next
//! issue number in a single transaction ([`CodeLife::supersede_and_record`]),
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
//! - every ledger carries a random identity ([`IssuanceLedger::ledger_id`]), made
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
//! (`recorded_at`, `status_changed_at`, `started_at`, `completed_at`) and the
//! times of a code's later life (`redeemed_at`, attempts); they never reach
//! a letter.
//!
//! # After the envelope
//!
//! A code is redeemed once, by one account ([`CodeLife::redeem`]), or revoked
//! by an operator ([`CodeLife::revoke`]); both are one transaction serialised
//! per receipt, under the same wrong-code limit as `verify`. The rules are
//! written once in `redeem.rs` and `attempts.rs`; each backend only runs
//! them inside its own transaction.

use std::collections::HashMap;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};

use crate::filing::{FormType, ReceiptNumber};

mod attempts;
mod error;
mod files;
mod guesses;
mod life;
mod lock;
mod mail;
mod open;
mod postgres;
mod redeem;
mod sqlite;
mod types;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_guard;
#[cfg(test)]
mod tests_pg;
#[cfg(test)]
mod tests_schema;
#[cfg(test)]
mod tests_stored;

pub use self::postgres::{
    redact_url, stop_waiting_on, PostgresLedger, EXIT_STOPPED_WAITING, LEDGER_TIMEOUT_DEFAULT_S,
    LEDGER_TIMEOUT_ENV,
};
pub use crate::letter_proof::{LetterProof, NotADigest, ProofError, ProofKind, Sha256Hex};
pub use attempts::{AttemptKind, AttemptLimit, AttemptSummary, Gate};
pub use error::LedgerError;
pub use guesses::{gate_uncounted, GuessGate, GuessLimit, Guesser, Tallies, Tally};
pub use life::{Answer, ReturnStep, Unlinking};
pub use lock::LedgerLock;
pub use mail::{
    returned_after_redeemed, returned_reason, DeliveredFile, Delivery, ImportKind, MailCounts,
    MailEvent, MailEventKind, MailImport, MailRecorded, MailTime, PieceRef,
};
pub use open::{LedgerLocation, PostgresUrl, LEDGER_ENV};
pub use redeem::{RedeemAsk, RedeemStep, Revocation};
pub use sqlite::SqliteLedger;
pub use types::{
    ActiveRef, BatchKind, BatchRecord, Issuance, NewIssuance, PrintedLetter, ReceiptState,
    Redemption, Unlink, NOT_YET_COUNTED,
};

/// How long a statement waits for another connection's lock before failing.
/// The lock file keeps runs apart; this only covers short overlaps such as
/// an operator's `status` reading while a batch commits.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// The schema version this program reads and writes, the same on both
/// backends (each has its own list of migrations up to it).
pub const SCHEMA_VERSION: i64 = 7;

/// The issuance columns every read selects; rows are read by these names on
/// both backends.
const ISSUANCE_COLUMNS: &str = "receipt, issue_no, form, batch_id, piece_id, key_id, fingerprint, \
     notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, filing_json, reason, \
     forced, status, recorded_at, status_changed_at, status_reason, redeemed_at, redeemed_by, \
     unlinked_at, unlink_reason";

/// The rule for a reissue's number, the same on both backends: `row` must
/// be the next issue after the highest recorded one (`max`), so two
/// operators reissuing at once cannot both record the same number.
fn check_next_issue(label: &str, row: &NewIssuance, max: Option<u32>) -> Result<(), LedgerError> {
    let expected = max.unwrap_or(0).saturating_add(1);
    if row.issue_no == expected {
        return Ok(());
    }
    Err(LedgerError::IssueOutOfOrder {
        ledger: label.to_string(),
        receipt: row.receipt.clone(),
        issue_no: row.issue_no,
        expected,
    })
}

/// A batch marked complete must have been started: `changed` rows say so.
fn check_batch_known(label: &str, batch_id: &str, changed: u64) -> Result<(), LedgerError> {
    if changed == 0 {
        return Err(LedgerError::UnknownBatch {
            ledger: label.to_string(),
            batch_id: batch_id.to_string(),
        });
    }
    Ok(())
}

/// A stored form code read back; `None` is a damaged row.
fn parse_form(code: &str) -> Option<FormType> {
    [FormType::I485, FormType::I131, FormType::I765]
        .into_iter()
        .find(|f| f.code() == code)
}

/// Issuance and batches: what was issued, in which batch, and its letters.
pub trait IssuanceLedger: Send {
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
    /// them or none. A row proven by [`LetterProof::File`] has its letter
    /// file on disk already; a [`LetterProof::NotYetPrinted`] one is drawn
    /// into a print file afterwards.
    fn record(&mut self, rows: &[NewIssuance]) -> Result<(), LedgerError>;

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
    /// time, until it answers [`ControlFlow::Break`]. Returns the number of
    /// rows passed to `f`. Callers use [`walk_batch`](trait.Ledger.html#method.walk_batch),
    /// which carries their own error type.
    fn for_each_in_batch(
        &self,
        batch_id: &str,
        f: &mut dyn FnMut(Issuance) -> ControlFlow<()>,
    ) -> Result<u64, LedgerError>;

    /// Records, in one transaction, what was printed for letters of a print
    /// run (content digest and page count): each letter must be in
    /// `batch_id` and still [`LetterProof::NotYetPrinted`], or already hold
    /// the same [`LetterProof::Printed`] (its print file written again).
    /// Anything else refuses them all ([`LedgerError::PrintedDiffers`]). The
    /// letters are streamed (a batch's worth need not fit in memory).
    /// Returns how many were recorded.
    fn record_printed(
        &mut self,
        batch_id: &str,
        printed: &mut dyn Iterator<Item = PrintedLetter>,
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

    /// The full storage check an audit runs (SQLite's `integrity_check`).
    /// The default does nothing: a database server checks its own pages.
    fn full_check(&self) -> Result<(), LedgerError> {
        Ok(())
    }
}

/// A code's life after its letter: reissue, redeem, revoke, unlink and the
/// wrong-code limits, each decided by the one rule in `life.rs`.
pub trait CodeLife {
    /// In one transaction, supersedes the receipt's active issuance (if any)
    /// and records `row` as active; `row.issue_no` must be the next number.
    /// Decided on the state read inside that transaction: a receipt linked
    /// to an account is refused ([`LedgerError::Linked`]). Returns the issue
    /// that was live and is now superseded.
    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<Option<u32>, LedgerError>;

    /// The one use of a code. In one transaction serialised per receipt
    /// (like [`CodeLife::gate_attempt`]), under the receipt's wrong-code limit
    /// when one is given (the CLI door; the service limits the one guessing
    /// instead, [`CodeLife::gate_guess`]): a locked receipt is refused; issue `issue_no`, if still active, becomes
    /// redeemed by `account` at `now`; one already redeemed by the same
    /// account answers that first redemption again; one redeemed by another
    /// account is counted as a wrong code and changes nothing. The caller
    /// has already checked that the typed code is issue `issue_no`'s.
    fn redeem(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        account: &str,
        now: DateTime<Utc>,
        limit: Option<AttemptLimit>,
    ) -> Result<RedeemStep, LedgerError>;

    /// Cancels the receipt's live code at once, recording `reason` and
    /// `now`, in one transaction serialised per receipt. Returns what was
    /// revoked, or why nothing was.
    fn revoke(
        &mut self,
        receipt: &ReceiptNumber,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Revocation, LedgerError>;

    /// Removes the receipt's account link (the desk's decision, with its
    /// reason), in one transaction serialised per receipt. The redeemed code
    /// stays used; the receipt may be reissued and linked again.
    fn unlink(
        &mut self,
        receipt: &ReceiptNumber,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Unlinking, LedgerError>;

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

    /// The receipt's history and the guesser's tallies since `since`, read
    /// together without a lock (one round trip on PostgreSQL): what a
    /// portal's guess is checked against. A guess that counts nothing is
    /// answered from these ([`guesses::gate_uncounted`]); a counted one
    /// goes on to [`CodeLife::gate_guess`].
    fn history_for_guess(
        &self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        since: DateTime<Utc>,
    ) -> Result<(Vec<Issuance>, Tallies), LedgerError>;

    /// The portal's limit (`ledger/guesses.rs`): counts a wrong or
    /// mistyped code against the one guessing, its account and its client,
    /// and says whether the guess may be answered. A guesser over its limit
    /// is answered "try later" and counted nothing more.
    fn gate_guess(
        &mut self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: GuessLimit,
    ) -> Result<GuessGate, LedgerError>;

    /// How many distinct sources (account and client) guessed at the
    /// receipt within `window` before `now`: over the limit's
    /// `targeted_sources`, the receipt is targeted.
    fn guess_sources(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
    ) -> Result<u32, LedgerError>;

    /// The receipts guessed at from more than `more_than` distinct sources
    /// within `window` before `now` (targeted), with their counts.
    fn targeted(
        &self,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
        more_than: u32,
    ) -> Result<Vec<(ReceiptNumber, u32)>, LedgerError>;

    /// A receipt's attempts and locks as of `now`, for `status`.
    fn attempt_summary(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<AttemptSummary, LedgerError>;
}

/// The mail trail and the hand-offs to the print vendor.
pub trait MailTrail {
    /// Issuances whose letter came back after their code was redeemed: the
    /// strongest fraud signal the ledger can see.
    fn redeemed_then_returned(&self) -> Result<Vec<Issuance>, LedgerError>;

    /// The pieces with these ids; ids the ledger does not know are absent.
    fn pieces(&self, ids: &[String]) -> Result<HashMap<String, PieceRef>, LedgerError>;

    /// The pieces whose barcode carries one of these serials, most recent
    /// first (serials wrap, so one may have several).
    fn pieces_by_serial(&self, serials: &[u64])
        -> Result<HashMap<u64, Vec<PieceRef>>, LedgerError>;

    /// Records an imported file and its events in one transaction: all or
    /// nothing. The same file (kind and sha256) imported before records
    /// nothing ([`MailRecorded::AlreadyImported`]); an event the ledger
    /// already has is counted, not recorded twice. A [`MailEventKind::Returned`]
    /// event stops its piece's code if it is still active (status
    /// `returned`, with [`returned_reason`]).
    fn record_mail(
        &mut self,
        import: &MailImport,
        events: &[MailEvent],
        now: DateTime<Utc>,
    ) -> Result<MailRecorded, LedgerError>;

    /// [`MailTrail::record_mail`] with the events handed over one at a time
    /// (read back from disk by `ingest`), so an import of a million scans
    /// never holds them all in memory. An `Err` from `events` records
    /// nothing and is returned. This default gathers them first; a backend
    /// that can insert as they come overrides it.
    fn record_mail_each(
        &mut self,
        import: &MailImport,
        events: &mut dyn Iterator<Item = Result<MailEvent, LedgerError>>,
        now: DateTime<Utc>,
    ) -> Result<MailRecorded, LedgerError> {
        let events: Vec<MailEvent> = events.collect::<Result<_, _>>()?;
        self.record_mail(import, &events, now)
    }

    /// Every event of the receipt's pieces, in time order.
    fn mail_trail(&self, receipt: &ReceiptNumber) -> Result<Vec<MailEvent>, LedgerError>;

    /// Pieces per event kind and hand-offs, for one batch or (`None`) the
    /// whole ledger.
    fn mail_counts(&self, batch_id: Option<&str>) -> Result<MailCounts, LedgerError>;

    /// Receipts whose newest letter came back: the returns list, for
    /// address follow-up. A reissue takes a receipt off it.
    fn returned_awaiting_reissue(&self) -> Result<Vec<Issuance>, LedgerError>;

    /// Pieces of batches first handed to the vendor before `delivered_before`
    /// of which nothing was heard since (no acknowledgement, no scan).
    fn unacknowledged(&self, delivered_before: DateTime<Utc>)
        -> Result<Vec<PieceRef>, LedgerError>;

    /// The batch's hand-offs to the vendor, oldest first.
    fn deliveries(&self, batch_id: &str) -> Result<Vec<Delivery>, LedgerError>;

    /// Starts a hand-off (the batch may have one in progress at most).
    /// Returns its id.
    fn begin_delivery(
        &mut self,
        batch_id: &str,
        vendor: &str,
        again: bool,
        control_sha256: &Sha256Hex,
        now: DateTime<Utc>,
    ) -> Result<i64, LedgerError>;

    /// Records that a file is in place on the vendor's server (again, if a
    /// resumed hand-off put it there a second time).
    fn record_delivered_file(
        &mut self,
        delivery_id: i64,
        file: &DeliveredFile,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError>;

    /// Marks the hand-off finished: its `.ready` marker is in place.
    fn finish_delivery(&mut self, delivery_id: i64, now: DateTime<Utc>) -> Result<(), LedgerError>;
}

/// The ledger's traits, for code that calls them on a concrete backend
/// (`use crate::ledger::prelude::*`); through `dyn Ledger` they need no
/// import.
pub mod prelude {
    pub use super::{CodeLife, IssuanceLedger, Ledger, MailTrail};
}

/// The ledger as the pipeline sees it: its three concerns together.
/// Object-safe and `Send`, so a shared database can replace
/// [`SqliteLedger`] without touching callers; a backend implements the
/// three traits and is a `Ledger` by that alone.
pub trait Ledger: IssuanceLedger + CodeLife + MailTrail {}

impl<T: IssuanceLedger + CodeLife + MailTrail + ?Sized> Ledger for T {}

impl dyn Ledger + '_ {
    /// [`IssuanceLedger::for_each_in_batch`] with the caller's own error: the first
    /// error `f` returns stops the walk and comes back as it is, in the
    /// inner result; the outer one is the ledger's own failure. Returns the
    /// number of rows passed to `f`.
    pub fn walk_batch<E>(
        &self,
        batch_id: &str,
        mut f: impl FnMut(Issuance) -> Result<(), E>,
    ) -> Result<Result<u64, E>, LedgerError> {
        let mut failure = None;
        let walked = self.for_each_in_batch(batch_id, &mut |iss| match f(iss) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        })?;
        Ok(match failure {
            Some(e) => Err(e),
            None => Ok(walked),
        })
    }
}
