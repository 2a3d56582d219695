//! The values the ledger takes and gives: batches and issuances.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::code::{Fingerprint, IssuanceView};
use crate::filing::{Filing, FormType, IssuanceStatus, ReceiptNumber};
use crate::key::KeyMode;

use super::{LedgerError, LetterProof, Sha256Hex};

/// Why a batch exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchKind {
    /// The scheduled run over a filings file.
    Nightly,
    /// An operator's `reissue` of one receipt.
    Reissue,
}

impl BatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::Nightly => "nightly",
            BatchKind::Reissue => "reissue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nightly" => Some(BatchKind::Nightly),
            "reissue" => Some(BatchKind::Reissue),
            _ => None,
        }
    }
}

/// One batch as the ledger knows it: enough to tell a continued run of the
/// same input from a different input that happens to share an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    pub batch_id: String,
    pub batch_date: NaiveDate,
    pub key_id: String,
    /// The kind of key the batch is made with (stored as `is_test`).
    pub mode: KeyMode,
    /// The sha256 of the input file (for a reissue, of its request).
    pub input_sha256: Sha256Hex,
    pub kind: BatchKind,
}

/// A batch's [`KeyMode`] as the `is_test` column keeps it: the one place
/// either backend turns the kind into its stored form and back.
pub(super) fn is_test_column(mode: KeyMode) -> bool {
    match mode {
        KeyMode::Test => true,
        KeyMode::Production => false,
    }
}

/// The [`KeyMode`] an `is_test` column holds.
pub(super) fn mode_of_column(is_test: bool) -> KeyMode {
    match is_test {
        true => KeyMode::Test,
        false => KeyMode::Production,
    }
}

/// An issuance about to be recorded; its letter file already exists on
/// disk, or (in a print run) it will be drawn into a print file once the
/// whole batch is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIssuance {
    pub receipt: ReceiptNumber,
    pub issue_no: u32,
    pub form: FormType,
    pub batch_id: String,
    pub piece_id: String,
    pub key_id: String,
    /// The keyed fingerprint of the code; never the code.
    pub fingerprint: Fingerprint,
    pub notice_date: NaiveDate,
    pub expires_on: NaiveDate,
    /// What the letter was, to prove a reprint against.
    pub proof: LetterProof,
    /// The letter's pages; [`NOT_YET_COUNTED`] while a print run's letter
    /// is [`LetterProof::NotYetPrinted`]: its pages are counted when it is
    /// drawn into its print file, and recorded with what was printed
    /// ([`super::IssuanceLedger::record_printed`]).
    pub pages: u32,
    pub imb_serial: Option<u64>,
    /// The filing the letter was rendered from, so a reprint can re-render it.
    pub filing: Filing,
    /// The operator's reason, for a reissue.
    pub reason: Option<String>,
    /// The operator overrode the reissue policy.
    pub forced: bool,
}

impl NewIssuance {
    /// Refuses a row the ledger must never hold: a filing of another
    /// receipt. (What it keeps of the code is a [`Fingerprint`] by type.)
    pub(super) fn check(&self) -> Result<(), LedgerError> {
        if self.filing.receipt != self.receipt {
            return Err(LedgerError::FilingMismatch {
                receipt: self.receipt.clone(),
                issue_no: self.issue_no,
                filing_receipt: self.filing.receipt.clone(),
            });
        }
        Ok(())
    }
}

/// The page count of a letter not yet drawn (see [`NewIssuance::pages`]).
pub const NOT_YET_COUNTED: u32 = 0;

/// What a print run drew of one letter, to be recorded: its piece, the
/// content digest of what was printed, and its page count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedLetter {
    pub piece_id: String,
    pub digest: Sha256Hex,
    pub pages: u32,
}

/// A recorded issuance: what was issued, and what has happened to it since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuance {
    /// The issuance as it was recorded.
    pub issued: NewIssuance,
    pub status: IssuanceStatus,
    /// When the row was committed: an audit value only.
    pub recorded_at: DateTime<Utc>,
    /// When the status last changed (superseded, revoked, redeemed).
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Why an operator changed the status (a revocation's reason).
    pub status_reason: Option<String>,
    /// The code's one use, once redeemed.
    pub redemption: Option<Redemption>,
}

/// The one use of a code: when, and by which account of the portal. The
/// account reference is the portal's opaque id; it is kept for the retry
/// answer and the audit, and never written to a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Redemption {
    pub at: DateTime<Utc>,
    pub account: String,
    /// The desk removed the link to the account (`unlink`): the code stays
    /// used, and the receipt may be linked again through a new code.
    pub unlinked: Option<Unlink>,
}

/// The desk's removal of a receipt's account link, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unlink {
    pub at: DateTime<Utc>,
    pub reason: String,
}

impl std::fmt::Debug for Redemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redemption")
            .field("at", &self.at)
            .field("account", &"<redacted>")
            .field("unlinked", &self.unlinked)
            .finish()
    }
}

impl Issuance {
    /// What verification needs: the fingerprint, key, status and expiry.
    pub fn view(&self) -> IssuanceView {
        IssuanceView {
            issue_no: self.issued.issue_no,
            key_id: self.issued.key_id.clone(),
            fingerprint: self.issued.fingerprint.clone(),
            status: self.status,
            notice_date: self.issued.notice_date,
            expires_on: self.issued.expires_on,
            redeemed_at: self.redemption.as_ref().map(|r| r.at),
        }
    }
}

/// What planning needs to know about one receipt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptState {
    /// The highest issue number recorded for the receipt.
    pub max_issue_no: u32,
    /// The live issuance, if any (none when the last one was revoked).
    pub active: Option<ActiveRef>,
}

impl ReceiptState {
    /// Folds one issuance of the receipt into its state: the rule both
    /// backends read their rows with, in any order.
    pub(super) fn fold(&mut self, issue_no: u32, status: &str, batch_id: impl FnOnce() -> String) {
        self.max_issue_no = self.max_issue_no.max(issue_no);
        if status == IssuanceStatus::Active.as_str() {
            self.active = Some(ActiveRef {
                issue_no,
                batch_id: batch_id(),
            });
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveRef {
    pub issue_no: u32,
    pub batch_id: String,
}

/// Names the fields in which a recorded batch differs from a new request.
pub(super) fn batch_differences(old: &BatchRecord, new: &BatchRecord) -> Vec<String> {
    let mut diffs = Vec::new();
    if old.key_id != new.key_id {
        diffs.push(format!("key (recorded {}, now {})", old.key_id, new.key_id));
    }
    if old.input_sha256 != new.input_sha256 {
        diffs.push(format!(
            "input file (recorded sha256 {}, now {})",
            old.input_sha256, new.input_sha256
        ));
    }
    if old.batch_date != new.batch_date {
        diffs.push(format!(
            "batch date (recorded {}, now {})",
            old.batch_date, new.batch_date
        ));
    }
    if old.mode != new.mode {
        diffs.push(format!(
            "key kind (recorded {}, now {})",
            old.mode.as_str(),
            new.mode.as_str()
        ));
    }
    if old.kind != new.kind {
        diffs.push(format!(
            "kind (recorded {}, now {})",
            old.kind.as_str(),
            new.kind.as_str()
        ));
    }
    diffs
}
