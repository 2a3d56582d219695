//! `verify`: a typed code checked against the ledger, under the wrong-code
//! limit (see [`crate::ledger::AttemptLimit`]).
//!
//! The verdict itself is [`crate::code::verify`] (pure); this adds the
//! limit: a wrong or mistyped code is counted, and once a receipt has had
//! too many within the window every answer is "locked" until the lock ends,
//! the right code included, so a locked receipt tells a guesser nothing.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::code::{verify, TypedCodeError, Verdict};
use crate::config::Codes;
use crate::filing::ReceiptNumber;
use crate::key::KeyRing;
use crate::ledger::{
    AttemptKind, AttemptLimit, Gate, GuessGate, GuessLimit, Guesser, Ledger, LedgerError,
};

/// The limit the agency configured (`[codes]` in agency.toml).
pub fn attempt_limit(codes: &Codes) -> AttemptLimit {
    AttemptLimit {
        max_wrong: codes.max_wrong_codes,
        window: TimeDelta::minutes(i64::from(codes.lockout_minutes)),
    }
}

/// The service's limit on the one guessing (`[codes]` in agency.toml).
pub fn guess_limit(codes: &Codes) -> GuessLimit {
    GuessLimit {
        per_account: codes.max_wrong_per_account,
        per_client: codes.max_wrong_per_client,
        window: TimeDelta::minutes(i64::from(codes.lockout_minutes)),
        targeted_sources: codes.targeted_sources,
    }
}

/// The guesser behind a request of the service, and its limit: its wrong
/// codes count against it, not the receipt (see `ledger::guesses`).
#[derive(Clone, Copy, Debug)]
pub struct Guessing<'a> {
    pub guesser: &'a Guesser,
    pub limit: GuessLimit,
}

/// Who is asking. The support desk may hear that a receipt has no code;
/// the account portal may not: there an unknown receipt is answered and
/// counted exactly like a wrong code, so the portal's door cannot be used
/// to find out which receipts have codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    Desk,
    Portal,
}

impl Door {
    /// The verdict as this door may give it.
    pub fn shown(self, verdict: Verdict) -> Verdict {
        match (self, verdict) {
            (Door::Portal, Verdict::Unknown) => Verdict::WrongCode,
            (_, verdict) => verdict,
        }
    }
}

/// One `verify` question.
pub struct VerifyRequest<'a> {
    pub receipt: &'a ReceiptNumber,
    /// The code as typed; never stored, never printed.
    pub typed: &'a str,
    /// The date validity is judged on (normally today).
    pub as_of: NaiveDate,
    /// The time the attempt is counted at.
    pub now: DateTime<Utc>,
    pub limit: AttemptLimit,
    pub door: Door,
    /// At the service: who is guessing. `None` at the CLI, whose door keeps
    /// the per-receipt limit.
    pub guessing: Option<Guessing<'a>>,
}

/// The answer to one `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The receipt is not locked: here is the verdict. A counted attempt
    /// says how many wrong codes are now in the window, and whether this
    /// one locked the receipt.
    Checked {
        verdict: Verdict,
        wrong_in_window: u32,
        locked_until: Option<DateTime<Utc>>,
    },
    /// Locked: no code was checked.
    Locked { until: DateTime<Utc> },
    /// The one guessing is over its limit until then: no code was checked,
    /// nothing counted against the receipt.
    TooMany { until: DateTime<Utc> },
}

impl Answer {
    /// True only for a valid code on an unlocked receipt.
    pub fn is_valid(&self) -> bool {
        matches!(self, Answer::Checked { verdict, .. } if verdict.is_valid())
    }
}

/// Which verdicts are guesses the limit counts: a code that is not this
/// receipt's, or not a code at all. A real code (superseded, expired...)
/// or an unknown receipt is not a guess at a live code.
pub(crate) fn kind_of(verdict: &Verdict) -> AttemptKind {
    match verdict {
        // Nothing typed is no guess: an empty form or an Enter pressed too
        // soon must not lock a caller out.
        Verdict::Mistyped(TypedCodeError::Empty) => AttemptKind::NotCounted,
        Verdict::WrongCode => AttemptKind::Wrong,
        Verdict::Mistyped(_) => AttemptKind::Mistyped,
        _ => AttemptKind::NotCounted,
    }
}

/// The verdict on `typed` for `receipt` on `as_of`, from the receipt's
/// history, as `door` may give it: what `verify` and `redeem` both decide
/// on before the ledger counts or spends anything.
pub(crate) fn verdict_at(
    door: Door,
    (receipt, typed): (&ReceiptNumber, &str),
    as_of: NaiveDate,
    ring: &KeyRing,
    ledger: &dyn Ledger,
) -> Result<Verdict, LedgerError> {
    let views: Vec<_> = ledger.history(receipt)?.iter().map(|i| i.view()).collect();
    Ok(door.shown(verify(ring, typed, &views, as_of)))
}

/// Checks the typed code and counts the attempt.
pub fn verify_code(
    req: &VerifyRequest<'_>,
    ring: &KeyRing,
    ledger: &mut dyn Ledger,
) -> Result<Answer, LedgerError> {
    let verdict = verdict_at(req.door, (req.receipt, req.typed), req.as_of, ring, ledger)?;
    if let Some(g) = req.guessing {
        let kind = kind_of(&verdict);
        return Ok(
            match ledger.gate_guess(req.receipt, g.guesser, kind, req.now, g.limit)? {
                GuessGate::TooMany { until } => Answer::TooMany { until },
                GuessGate::Open { wrong_by_guesser } => Answer::Checked {
                    verdict,
                    wrong_in_window: wrong_by_guesser,
                    locked_until: None,
                },
            },
        );
    }
    let gate = ledger.gate_attempt(req.receipt, kind_of(&verdict), req.now, req.limit)?;
    Ok(match gate {
        Gate::Locked { until } => Answer::Locked { until },
        Gate::Open {
            wrong_in_window,
            locked_until,
        } => Answer::Checked {
            verdict,
            wrong_in_window,
            locked_until,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_code_is_not_counted_a_check_failure_is() {
        assert_eq!(
            kind_of(&Verdict::Mistyped(TypedCodeError::Empty)),
            AttemptKind::NotCounted
        );
        assert_eq!(
            kind_of(&Verdict::Mistyped(TypedCodeError::CheckFailed)),
            AttemptKind::Mistyped
        );
        assert_eq!(kind_of(&Verdict::WrongCode), AttemptKind::Wrong);
    }
}
