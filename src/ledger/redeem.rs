//! The one use of a code, and its cancellation: the rules both backends
//! follow (each backend runs them in its own transaction, serialised per
//! receipt; see `Ledger::redeem` and `Ledger::revoke`).
//!
//! A letter promises that its code "works only once": redeeming it links the
//! case to one account. So an active code becomes `redeemed`, with the time
//! and the portal's account reference, and never becomes active again. A
//! retried request from the same account is answered with the first
//! redemption (same time), so a portal that lost an answer can ask again;
//! any other account is refused and the attempt counts against the
//! wrong-code limit, because someone other than the applicant holds the
//! letter.

use chrono::{DateTime, Utc};

use super::attempts::Gate;
use crate::filing::{IssuanceStatus, ReceiptNumber};

/// One redemption to make: issue `issue_no` of `receipt`, whose code was
/// checked, spent by `account` at `now`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedeemAsk {
    pub receipt: ReceiptNumber,
    pub issue_no: u32,
    pub account: String,
    pub now: DateTime<Utc>,
}

impl std::fmt::Debug for RedeemAsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedeemAsk")
            .field("receipt", &self.receipt)
            .field("issue_no", &self.issue_no)
            .field("account", &"<redacted>")
            .field("now", &self.now)
            .finish()
    }
}

/// What a redemption did, decided inside its transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedeemStep {
    /// The code is redeemed by this account: now (`again` false), or
    /// earlier by the same account (a retried request, `again` true, `at`
    /// the first time).
    Redeemed { at: DateTime<Utc>, again: bool },
    /// Redeemed earlier by another account; this attempt was counted as a
    /// wrong code (`gate` says how many are now in the window, and whether
    /// it locked the receipt). Nothing else changed.
    UsedByAnother { on: DateTime<Utc>, gate: Gate },
    /// The issuance is no longer live (superseded or revoked since the code
    /// was checked); nothing changed.
    NotLive { status: IssuanceStatus },
    /// The receipt is locked by the wrong-code limit: nothing was checked.
    Locked { until: DateTime<Utc> },
}

/// What a revocation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The live code of issue `issue_no` is revoked as of `at`.
    Revoked { issue_no: u32, at: DateTime<Utc> },
    /// The receipt has no live code: the last issuance is in `status`
    /// (already revoked, redeemed...), changed at `since` when known.
    NothingLive {
        issue_no: u32,
        status: IssuanceStatus,
        since: Option<DateTime<Utc>>,
    },
    /// No code was ever issued for the receipt.
    NeverIssued,
}

/// What to do with one redemption, from the issuance's status and (when
/// redeemed) by whom: the rule itself, the same on every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RedeemAction {
    /// Active: mark it redeemed by this account now.
    Mark,
    /// Already redeemed by this account at that time.
    Again(DateTime<Utc>),
    /// Redeemed by another account at that time: count a wrong code.
    Other(DateTime<Utc>),
    /// Not live: refuse, changing nothing.
    NotLive(IssuanceStatus),
}

impl RedeemAction {
    /// The answer, once the backend did what the action says: marked the
    /// row (`Mark`) or counted a wrong code (`Other`, whose `gate` it is).
    pub(super) fn step(self, now: DateTime<Utc>, gate: Option<Gate>) -> RedeemStep {
        match (self, gate) {
            (RedeemAction::Mark, _) => RedeemStep::Redeemed {
                at: now,
                again: false,
            },
            (RedeemAction::Again(at), _) => RedeemStep::Redeemed { at, again: true },
            (RedeemAction::Other(on), Some(gate)) => RedeemStep::UsedByAnother { on, gate },
            // Not counted means nothing was recorded: say so as not live.
            (RedeemAction::Other(_), None) => RedeemStep::NotLive {
                status: IssuanceStatus::Redeemed,
            },
            (RedeemAction::NotLive(status), _) => RedeemStep::NotLive { status },
        }
    }
}

pub(super) fn redeem_action(
    status: IssuanceStatus,
    redeemed: Option<(DateTime<Utc>, &str)>,
    account: &str,
) -> RedeemAction {
    match (status, redeemed) {
        (IssuanceStatus::Active, _) => RedeemAction::Mark,
        (IssuanceStatus::Redeemed, Some((at, by))) if by == account => RedeemAction::Again(at),
        (IssuanceStatus::Redeemed, Some((at, _))) => RedeemAction::Other(at),
        (status, _) => RedeemAction::NotLive(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_code_is_marked_and_only_its_redeemer_hears_success_again() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            redeem_action(IssuanceStatus::Active, None, "acct-1"),
            RedeemAction::Mark
        );
        assert_eq!(
            redeem_action(IssuanceStatus::Redeemed, Some((at, "acct-1")), "acct-1"),
            RedeemAction::Again(at)
        );
        assert_eq!(
            redeem_action(IssuanceStatus::Redeemed, Some((at, "acct-1")), "acct-2"),
            RedeemAction::Other(at)
        );
        for status in [IssuanceStatus::Superseded, IssuanceStatus::Revoked] {
            assert_eq!(
                redeem_action(status, None, "acct-1"),
                RedeemAction::NotLive(status)
            );
        }
    }
}
