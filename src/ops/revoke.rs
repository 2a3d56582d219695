//! `revoke`: the live code of a receipt stops working at once.
//!
//! For a letter reported stolen or sent to a wrong address. The reason and
//! the time are recorded on the issuance; `verify` and `redeem` then answer
//! "revoked", and `reissue` may mail a new code at once, without the
//! 24-hour wait between letters (the old letter is dead, so a new one
//! cannot double the codes in circulation).

use chrono::{DateTime, SubsecRound, Utc};

use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::{Ledger, LedgerError, Revocation};

/// Characters in a revocation reason, at most: a sentence, not a file.
pub const REASON_MAX_CHARS: usize = 500;

/// Why a desk's reason was refused.
pub(crate) enum ReasonRefused {
    Empty,
    TooLong { chars: usize },
}

/// A desk's reason (a revocation's, an unlink's), trimmed: it must say
/// something, and be a sentence rather than a file.
pub(crate) fn desk_reason(raw: &str) -> Result<&str, ReasonRefused> {
    let reason = raw.trim();
    let chars = reason.chars().count();
    match chars {
        0 => Err(ReasonRefused::Empty),
        n if n > REASON_MAX_CHARS => Err(ReasonRefused::TooLong { chars }),
        _ => Ok(reason),
    }
}

/// One revocation.
#[derive(Clone, Copy, Debug)]
pub struct RevokeRequest<'a> {
    pub receipt: &'a ReceiptNumber,
    /// Why the code is cancelled (recorded in the ledger).
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

/// What was revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    pub issue_no: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("the reason must say why the code is cancelled (for example: letter reported stolen)")]
    NoReason,
    #[error("the reason is {chars} characters long; at most {REASON_MAX_CHARS} are allowed")]
    ReasonTooLong { chars: usize },
    #[error("receipt {receipt} has never been issued a code; there is nothing to revoke")]
    NeverIssued { receipt: ReceiptNumber },
    #[error("receipt {receipt} has no live code: the code from letter issue {issue_no} is {}{}; nothing was changed", status.as_str(), since.map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default())]
    NothingLive {
        receipt: ReceiptNumber,
        issue_no: u32,
        status: IssuanceStatus,
        since: Option<DateTime<Utc>>,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Cancels the receipt's live code, recording the reason.
pub fn revoke(req: &RevokeRequest<'_>, ledger: &mut dyn Ledger) -> Result<Revoked, RevokeError> {
    let reason = desk_reason(req.reason).map_err(|r| match r {
        ReasonRefused::Empty => RevokeError::NoReason,
        ReasonRefused::TooLong { chars } => RevokeError::ReasonTooLong { chars },
    })?;
    let now = req.now.trunc_subsecs(3);
    match ledger.revoke(req.receipt, reason, now)? {
        Revocation::Revoked { issue_no, at } => Ok(Revoked { issue_no, at }),
        Revocation::NothingLive {
            issue_no,
            status,
            since,
        } => Err(RevokeError::NothingLive {
            receipt: req.receipt.clone(),
            issue_no,
            status,
            since,
        }),
        Revocation::NeverIssued => Err(RevokeError::NeverIssued {
            receipt: req.receipt.clone(),
        }),
    }
}
