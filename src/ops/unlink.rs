//! `unlink`: the desk removes a receipt's account link.
//!
//! A receipt is linked to at most one online account, ever: the account
//! that redeemed its code. When that link is wrong (the applicant's letter
//! was intercepted, an account was opened in error), the desk records an
//! unlink with its reason. The redeemed code stays used; the receipt may
//! then be reissued, and the new code links the right account. Decided in
//! the ledger's one transaction per change ([`crate::ledger`]'s `life`).

use chrono::{DateTime, SubsecRound, Utc};

use crate::filing::ReceiptNumber;
use crate::ledger::{Ledger, LedgerError, Unlinking};

use super::revoke::{desk_reason, ReasonRefused, REASON_MAX_CHARS};

/// One unlink.
#[derive(Clone, Copy, Debug)]
pub struct UnlinkRequest<'a> {
    pub receipt: &'a ReceiptNumber,
    /// Why the link is removed (recorded in the ledger, shown by `status`).
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

/// What was unlinked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unlinked {
    /// The issue whose redemption made the link.
    pub issue_no: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum UnlinkError {
    #[error("the reason must say why the account link is removed (for example: letter intercepted, account opened by someone else)")]
    NoReason,
    #[error("the reason is {chars} characters long; at most {REASON_MAX_CHARS} are allowed")]
    ReasonTooLong { chars: usize },
    #[error("receipt {receipt} is not linked to an online account (no code of it was redeemed since the last unlink); nothing was changed")]
    NotLinked { receipt: ReceiptNumber },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Removes the receipt's account link, recording the reason.
pub fn unlink(req: &UnlinkRequest<'_>, ledger: &mut dyn Ledger) -> Result<Unlinked, UnlinkError> {
    let reason = desk_reason(req.reason).map_err(|r| match r {
        ReasonRefused::Empty => UnlinkError::NoReason,
        ReasonRefused::TooLong { chars } => UnlinkError::ReasonTooLong { chars },
    })?;
    match ledger.unlink(req.receipt, reason, req.now.trunc_subsecs(3))? {
        Unlinking::Unlinked { issue_no, at } => Ok(Unlinked { issue_no, at }),
        Unlinking::NotLinked => Err(UnlinkError::NotLinked {
            receipt: req.receipt.clone(),
        }),
    }
}
