//! `redeem`: the one use of an access code, which links the case to one
//! online account.
//!
//! Every letter promises that its code "works only once". This is where
//! that promise is kept: the typed code is checked exactly as `verify`
//! checks it (same verdicts, same wrong-code limit), and a valid one is
//! marked redeemed by the portal's account reference in one ledger
//! transaction serialised per receipt (see
//! [`crate::ledger::CodeLife::redeem`]), so of any number of
//! accounts redeeming one code at once exactly one wins. The code itself is
//! never stored: only when and by which account it was used.
//!
//! - The same account asking again (a retried request) hears the same
//!   success, with the time of the first redemption.
//! - Another account hears "already used on DATE"; the attempt counts as a
//!   wrong code, because whoever holds the letter now is not the applicant
//!   who used it.
//! - A superseded, revoked, expired or not-yet-valid code, a wrong or
//!   mistyped one, is refused with `verify`'s verdict.

use std::fmt;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

use crate::code::Verdict;
use crate::filing::ReceiptNumber;
use crate::key::KeyRing;
use crate::ledger::{AttemptKind, AttemptLimit, Gate, GuessGate, Ledger, LedgerError, RedeemStep};

use super::verify::{check_guess, kind_of, verdict_at, Door, Guessing};

/// Characters in an account reference, at most.
pub const ACCOUNT_REF_MAX_CHARS: usize = 64;

/// The portal's opaque id of the account a code is redeemed for: 1 to
/// [`ACCOUNT_REF_MAX_CHARS`] printable ASCII characters, no spaces. It is
/// kept in the ledger but never written to a log (see `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRef(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountRefError {
    #[error("the account reference is empty; pass the portal's id of the account")]
    Empty,
    #[error("the account reference is {chars} characters long; at most {ACCOUNT_REF_MAX_CHARS} are allowed")]
    TooLong { chars: usize },
    #[error("the account reference may hold only printable ASCII characters without spaces (character {position} is not one)")]
    NotPrintable { position: usize },
}

impl AccountRef {
    pub fn parse(text: &str) -> Result<Self, AccountRefError> {
        if text.is_empty() {
            return Err(AccountRefError::Empty);
        }
        let chars = text.chars().count();
        if chars > ACCOUNT_REF_MAX_CHARS {
            return Err(AccountRefError::TooLong { chars });
        }
        if let Some(position) = text.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(AccountRefError::NotPrintable {
                position: position + 1,
            });
        }
        Ok(AccountRef(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountRef(<redacted>)")
    }
}

/// One redemption.
pub struct RedeemRequest<'a> {
    pub receipt: &'a ReceiptNumber,
    /// The code as typed; never stored, never printed.
    pub typed: &'a str,
    pub account: &'a AccountRef,
    /// The date validity is judged on (normally today).
    pub as_of: NaiveDate,
    /// The time of the attempt, and of the redemption if it succeeds.
    pub now: DateTime<Utc>,
    pub limit: AttemptLimit,
    pub door: Door,
    /// At the service: who is guessing; its wrong codes count against it,
    /// and the receipt's own count does not refuse the right code. `None`
    /// at the CLI, whose door keeps the per-receipt limit.
    pub guessing: Option<Guessing<'a>>,
}

/// The answer to one redemption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedeemAnswer {
    /// Redeemed by this account at `at`; `again` for a retried request
    /// (the first redemption's time).
    Redeemed {
        issue_no: u32,
        at: DateTime<Utc>,
        again: bool,
    },
    /// Already used by another account on `on`; counted as a wrong code.
    UsedByAnother {
        on: DateTime<Utc>,
        wrong_in_window: u32,
        locked_until: Option<DateTime<Utc>>,
    },
    /// Not a code that can be redeemed: `verdict` says why. Wrong and
    /// mistyped codes were counted.
    NotValid {
        verdict: Verdict,
        wrong_in_window: u32,
        locked_until: Option<DateTime<Utc>>,
    },
    /// The receipt is locked by the wrong-code limit: nothing was checked.
    Locked { until: DateTime<Utc> },
    /// The one guessing is over its limit until then: nothing was checked.
    TooMany { until: DateTime<Utc> },
}

impl RedeemAnswer {
    /// A sentence for the desk or the portal's log of outcomes.
    pub fn message(&self) -> String {
        match self {
            RedeemAnswer::Redeemed {
                issue_no,
                at,
                again: false,
            } => format!(
                "redeemed: the code from letter issue {issue_no} now links this case to the account (at {} UTC); it cannot be used again",
                at.format("%Y-%m-%d %H:%M:%S")
            ),
            RedeemAnswer::Redeemed {
                issue_no,
                at,
                again: true,
            } => format!(
                "redeemed: the code from letter issue {issue_no} was already redeemed by this same account at {} UTC; nothing changed",
                at.format("%Y-%m-%d %H:%M:%S")
            ),
            RedeemAnswer::UsedByAnother { on, .. } => format!(
                "already used on {}: the code linked this case to another account; a code works only once",
                on.format("%Y-%m-%d")
            ),
            RedeemAnswer::NotValid { verdict, .. } => verdict.message(),
            RedeemAnswer::Locked { until } => format!(
                "locked until {} UTC: too many wrong codes were tried for this receipt",
                until.format("%H:%M")
            ),
            RedeemAnswer::TooMany { until } => format!(
                "too many wrong codes from this account or address; try again after {} UTC",
                until.format("%H:%M")
            ),
        }
    }
}

/// Checks the typed code and, when it is the receipt's live code, spends
/// its one use on `req.account`.
pub fn redeem(
    req: &RedeemRequest<'_>,
    ring: &KeyRing,
    ledger: &mut dyn Ledger,
) -> Result<RedeemAnswer, LedgerError> {
    match plan_redeem(req, ring, ledger)? {
        RedeemPlan::Answered(answer) => Ok(answer),
        RedeemPlan::Spend { issue_no, now } => {
            let account = req.account.as_str();
            let limit = req.receipt_limit();
            let step = ledger.redeem(req.receipt, issue_no, account, now, limit)?;
            finish_redeem(req, issue_no, now, step, ledger)
        }
    }
}

/// The first half of [`redeem`]: the typed code checked. Either the answer
/// is known (not valid, locked), or issue `issue_no` is to be spent at
/// `now` by [`CodeLife::redeem`](crate::ledger::CodeLife::redeem) (or a group of them at once, as the service
/// does on SQLite), whose step [`finish_redeem`] turns into the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedeemPlan {
    Answered(RedeemAnswer),
    Spend { issue_no: u32, now: DateTime<Utc> },
}

pub fn plan_redeem(
    req: &RedeemRequest<'_>,
    ring: &KeyRing,
    ledger: &mut dyn Ledger,
) -> Result<RedeemPlan, LedgerError> {
    // Times are kept to the millisecond, so a retry hears exactly the time
    // the first answer gave.
    let now = req.now.trunc_subsecs(3);
    let spend_of = |verdict: &Verdict| match verdict {
        Verdict::Valid { issue_no } | Verdict::Redeemed { issue_no, .. } => Some(*issue_no),
        _ => None,
    };
    if let Some(g) = req.guessing {
        // A guesser over its limit is told to wait, whatever it typed.
        let asked = (req.receipt, req.typed);
        let (verdict, gate) = check_guess(req.door, asked, (req.as_of, now), g, (ring, ledger))?;
        return Ok(match (gate, spend_of(&verdict)) {
            (GuessGate::TooMany { until }, _) => {
                RedeemPlan::Answered(RedeemAnswer::TooMany { until })
            }
            (GuessGate::Open { .. }, Some(issue_no)) => RedeemPlan::Spend { issue_no, now },
            (GuessGate::Open { wrong_by_guesser }, None) => {
                RedeemPlan::Answered(RedeemAnswer::NotValid {
                    verdict,
                    wrong_in_window: wrong_by_guesser,
                    locked_until: None,
                })
            }
        });
    }
    let verdict = verdict_at(req.door, (req.receipt, req.typed), req.as_of, ring, ledger)?;
    let spend = spend_of(&verdict);
    Ok(match spend {
        Some(issue_no) => RedeemPlan::Spend { issue_no, now },
        None => {
            let gate = ledger.gate_attempt(req.receipt, kind_of(&verdict), now, req.limit)?;
            RedeemPlan::Answered(not_valid(verdict, gate))
        }
    })
}

/// The answer a ledger step gives on its own; `None` for a code that
/// stopped being live between the check and the transaction, whose answer
/// needs the ledger again ([`finish_redeem`]).
pub fn answer_of_step(issue_no: u32, step: &RedeemStep) -> Option<RedeemAnswer> {
    Some(match *step {
        RedeemStep::Redeemed { at, again } => RedeemAnswer::Redeemed {
            issue_no,
            at,
            again,
        },
        RedeemStep::UsedByAnother { on, gate } => match gate {
            Gate::Locked { until } => RedeemAnswer::Locked { until },
            Gate::Open {
                wrong_in_window,
                locked_until,
            } => RedeemAnswer::UsedByAnother {
                on,
                wrong_in_window,
                locked_until,
            },
        },
        RedeemStep::Locked { until } => RedeemAnswer::Locked { until },
        RedeemStep::NotLive { .. } => return None,
    })
}

/// The second half of [`redeem`]: the ledger's step as the answer.
pub fn finish_redeem(
    req: &RedeemRequest<'_>,
    issue_no: u32,
    now: DateTime<Utc>,
    step: RedeemStep,
    ledger: &mut dyn Ledger,
) -> Result<RedeemAnswer, LedgerError> {
    if let (Some(g), RedeemStep::UsedByAnother { on, .. }) = (req.guessing, &step) {
        // Another account's code is a wrong code for this guesser.
        let kind = AttemptKind::Wrong;
        return Ok(
            match ledger.gate_guess(req.receipt, g.guesser, kind, now, g.limit)? {
                GuessGate::TooMany { until } => RedeemAnswer::TooMany { until },
                GuessGate::Open { wrong_by_guesser } => RedeemAnswer::UsedByAnother {
                    on: *on,
                    wrong_in_window: wrong_by_guesser,
                    locked_until: None,
                },
            },
        );
    }
    if let Some(answer) = answer_of_step(issue_no, &step) {
        return Ok(answer);
    }
    // Superseded, revoked or returned between the check and the
    // transaction: the verdict a fresh check would now give.
    let verdict = match step {
        RedeemStep::NotLive {
            status: crate::filing::IssuanceStatus::Superseded,
        } => Verdict::Superseded { issue_no },
        RedeemStep::NotLive {
            status: crate::filing::IssuanceStatus::Returned,
        } => Verdict::Returned { issue_no },
        // Used once already (its link since removed by the desk, or the
        // case linked through a newer code).
        RedeemStep::NotLive {
            status: crate::filing::IssuanceStatus::Redeemed,
        } => {
            let used = ledger.issuance(req.receipt, issue_no)?;
            let on = used.and_then(|i| i.redemption.map(|r| r.at)).unwrap_or(now);
            Verdict::Redeemed { issue_no, on }
        }
        _ => Verdict::Revoked { issue_no },
    };
    if req.guessing.is_some() {
        return Ok(not_valid(
            verdict,
            Gate::Open {
                wrong_in_window: 0,
                locked_until: None,
            },
        ));
    }
    let gate = ledger.gate_attempt(req.receipt, AttemptKind::NotCounted, now, req.limit)?;
    Ok(not_valid(verdict, gate))
}

impl RedeemRequest<'_> {
    /// The receipt's own limit for the ledger's redemption: the CLI door's;
    /// none at the service, where the one guessing is limited instead.
    pub fn receipt_limit(&self) -> Option<AttemptLimit> {
        self.guessing.is_none().then_some(self.limit)
    }
}

fn not_valid(verdict: Verdict, gate: Gate) -> RedeemAnswer {
    match gate {
        Gate::Locked { until } => RedeemAnswer::Locked { until },
        Gate::Open {
            wrong_in_window,
            locked_until,
        } => RedeemAnswer::NotValid {
            verdict,
            wrong_in_window,
            locked_until,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_references_are_bounded_printable_ascii() {
        assert!(AccountRef::parse("acct-7f3a9c").is_ok());
        assert!(AccountRef::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            AccountRef::parse(&"a".repeat(65)),
            Err(AccountRefError::TooLong { chars: 65 })
        );
        assert_eq!(AccountRef::parse(""), Err(AccountRefError::Empty));
        assert_eq!(
            AccountRef::parse("acct 1"),
            Err(AccountRefError::NotPrintable { position: 5 })
        );
        assert!(AccountRef::parse("acct\u{e9}").is_err());
        assert!(AccountRef::parse("acct\n").is_err());
    }

    #[test]
    fn an_account_reference_is_never_shown_by_debug() {
        let account = AccountRef::parse("portal-user-31337").unwrap();
        assert!(!format!("{account:?}").contains("31337"));
    }
}
