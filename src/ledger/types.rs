//! The values the ledger takes and gives: batches and issuances.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::filing::{Filing, FormType, IssuanceStatus, IssuanceView, ReceiptNumber};

use super::{LedgerError, MIN_FINGERPRINT_HEX_CHARS};

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
    pub is_test: bool,
    /// Hex sha256 of the input file (for a reissue, of its request).
    pub input_sha256: String,
    pub kind: BatchKind,
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
    /// Hex keyed fingerprint of the code; never the code.
    pub fingerprint: String,
    pub notice_date: NaiveDate,
    pub expires_on: NaiveDate,
    pub letter_sha256: String,
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
    /// Refuses a row the ledger must never hold: a "fingerprint" that could
    /// be a clear code, or a filing of another receipt.
    pub(super) fn check(&self) -> Result<(), LedgerError> {
        let hex_ok = self.fingerprint.len() >= MIN_FINGERPRINT_HEX_CHARS
            && self.fingerprint.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok {
            return Err(LedgerError::NotAFingerprint {
                receipt: self.receipt.clone(),
                issue_no: self.issue_no,
            });
        }
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

/// A recorded issuance: what was issued, and what has happened to it since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuance {
    /// The issuance as it was recorded.
    pub issued: NewIssuance,
    pub status: IssuanceStatus,
    /// When the row was committed, UTC RFC 3339: an audit value only.
    pub recorded_at: String,
    /// When the status last changed (superseded, revoked), UTC RFC 3339.
    pub status_changed_at: Option<String>,
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
        }
    }
}

/// What planning needs to know about one receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptState {
    /// The highest issue number recorded for the receipt.
    pub max_issue_no: u32,
    /// The live issuance, if any (none when the last one was revoked).
    pub active: Option<ActiveRef>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveRef {
    pub issue_no: u32,
    pub batch_id: String,
}
