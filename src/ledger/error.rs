//! What can go wrong with the ledger, as sentences for the operator.

use std::io;
use std::path::PathBuf;

use crate::filing::ReceiptNumber;

use super::BUSY_TIMEOUT_MS;

/// Everything that can go wrong with the ledger. `ledger` is the ledger's
/// path as the user gave it. No variant carries a code.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the folder {} for the issuance ledger does not exist; check the ledger path (a ledger is never made in a folder that is not there)", folder.display())]
    NoFolder { folder: PathBuf },

    #[error("there is no issuance ledger at {ledger}; check the ledger path, or restore the ledger from the last backup (access-letters backup) if it was lost")]
    Missing { ledger: String },

    #[error("the issuance ledger {ledger} is empty: restore it from the last backup (access-letters backup) before running again; an empty file is never taken for a new ledger")]
    Empty { ledger: String },

    #[error("cannot create a new issuance ledger at {ledger}: a file is already there; open it as the ledger, or choose another path")]
    Exists { ledger: String },

    #[error("the backup file {} already exists; a backup never replaces a file, so name a new one (for example with the date in it)", path.display())]
    BackupExists { path: PathBuf },

    #[error("the ledger {ledger} is damaged ({detail}): restore it from the last backup (access-letters backup) before running again")]
    Damaged { ledger: String, detail: String },

    #[error("could not {action} {}: {source}; check the path and that this user may write there", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("the issuance ledger {ledger}: could not {action}: {source}; nothing from this step was saved, check free disk space and file permissions and run again")]
    Sqlite {
        ledger: String,
        action: String,
        source: rusqlite::Error,
    },

    #[error("the issuance ledger {ledger} has schema version {found}, but this program knows only versions up to {known}; it was written by a newer access-letters, so run that version (this one will not touch the file)")]
    TooNew {
        ledger: String,
        found: i64,
        known: i64,
    },

    #[error("the issuance ledger {ledger} stayed locked by another program for more than {} s; close any tool that has it open and run again", BUSY_TIMEOUT_MS / 1000)]
    Busy { ledger: String },

    #[error("another access-letters run is using the ledger {} (lock file {}); wait for it to finish", ledger.display(), lock.display())]
    Locked { ledger: PathBuf, lock: PathBuf },

    #[error("batch {batch_id} is already in the issuance ledger {ledger} with a different {differences}; a batch id names one input file, so check that the right file and key are used, or move the earlier batch's output aside and use a new batch date")]
    BatchConflict {
        ledger: String,
        batch_id: String,
        differences: String,
    },

    #[error("batch {batch_id} is not in the issuance ledger {ledger}; start the batch before recording letters for it")]
    UnknownBatch { ledger: String, batch_id: String },

    #[error("receipt {receipt} issue {issue_no} is already in the issuance ledger {ledger}; nothing from this group was recorded, re-run the batch and it will skip what is already issued")]
    DuplicateIssuance {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
    },

    #[error("piece ID {piece_id} (receipt {receipt} issue {issue_no}) is already used in the issuance ledger {ledger}; piece IDs must be unique, nothing from this group was recorded")]
    DuplicatePiece {
        ledger: String,
        piece_id: String,
        receipt: ReceiptNumber,
        issue_no: u32,
    },

    #[error("receipt {receipt} already has an active issuance (issue {active_issue_no}) in the issuance ledger {ledger}, so issue {issue_no} cannot also be active; use reissue to replace a code, nothing from this group was recorded")]
    AlreadyActive {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
        active_issue_no: u32,
    },

    #[error("cannot record receipt {receipt} issue {issue_no}: the issuance ledger {ledger} says the next issue number is {expected}; another reissue may have happened meanwhile, check `status {receipt}` and try again")]
    IssueOutOfOrder {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
        expected: u32,
    },

    #[error("the issuance for receipt {receipt} issue {issue_no} carries the filing of receipt {filing_receipt}; this is a program error, nothing was recorded")]
    FilingMismatch {
        receipt: ReceiptNumber,
        issue_no: u32,
        filing_receipt: ReceiptNumber,
    },

    #[error("the ledger address {ledger} is not a PostgreSQL URL this program can use ({detail}); write it as postgres://USER@HOST[:PORT]/DATABASE (the password is never shown)")]
    BadUrl { ledger: String, detail: String },

    #[error("could not connect to the PostgreSQL issuance ledger on {target}: {detail}; check that the server is running and reachable and that the user name and password are right (the password is never shown)")]
    Connect { target: String, detail: String },

    #[error("the issuance ledger {ledger}: could not {action}: {detail}; nothing from this step was saved, run again once the database is reachable")]
    Postgres {
        ledger: String,
        action: String,
        /// The server's or driver's words (the driver's own Display says
        /// only "db error").
        detail: String,
        #[source]
        source: postgres::Error,
    },

    #[error("receipt {receipt} has no issue {issue_no} in the issuance ledger {ledger}; it was checked a moment ago, so the ledger may have been restored from an older backup: check `status {receipt}`")]
    NoSuchIssuance {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
    },
    #[error("batch {batch_id} is being run by another access-letters process on the issuance ledger {ledger}; wait for it to finish (its lock goes away when that process ends, even if it crashed)")]
    BatchBusy { ledger: String, batch_id: String },

    #[error("letter {piece_id} of batch {batch_id} cannot be marked printed in the issuance ledger {ledger}: the ledger does not hold it in that batch, or already records another print of it; nothing from this print file was recorded")]
    PrintedDiffers {
        ledger: String,
        batch_id: String,
        piece_id: String,
    },

    #[error("the issuance ledger {ledger}: the redemptions committed together failed ({detail}); none of them was saved, ask again")]
    GroupFailed { ledger: String, detail: String },

    #[error("receipt {receipt} is linked to an online account (issue {issue_no}'s code was redeemed on {}): a new code is never sent to a linked case, not even when forced; if the link is wrong, the desk removes it first (unlink the receipt, saying why), then a new code can go out", at.format("%Y-%m-%d"))]
    Linked {
        receipt: ReceiptNumber,
        issue_no: u32,
        at: chrono::DateTime<chrono::Utc>,
    },

    #[error("the issuance ledger {ledger} changed under this step: issue {issue_no} of receipt {receipt} was no longer in the state this step decided on when it was to become {to}; nothing was recorded; check `status {receipt}` and try again")]
    StateChanged {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
        to: &'static str,
    },

    #[error("stopped while waiting for the PostgreSQL issuance ledger {ledger}: nothing of that step was saved; run the same command again to finish")]
    StoppedWaiting { ledger: String },
}

impl LedgerError {
    /// A rule of the ledger refused the change: it was decided and rolled
    /// back, so nothing of it is recorded. Any other failure (the server
    /// gone, a commit whose answer was lost) may have recorded it.
    pub fn refused_by_a_rule(&self) -> bool {
        matches!(
            self,
            LedgerError::Linked { .. }
                | LedgerError::StateChanged { .. }
                | LedgerError::IssueOutOfOrder { .. }
                | LedgerError::DuplicateIssuance { .. }
                | LedgerError::DuplicatePiece { .. }
                | LedgerError::AlreadyActive { .. }
        )
    }
}
