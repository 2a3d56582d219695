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
    gate_uncounted, AttemptKind, AttemptLimit, Gate, GuessGate, GuessLimit, Guesser, Issuance,
    Ledger, LedgerError,
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
    let history = ledger.history(receipt)?;
    Ok(verdict_of(door, typed, &history, as_of, ring))
}

fn verdict_of(
    door: Door,
    typed: &str,
    history: &[Issuance],
    as_of: NaiveDate,
    ring: &KeyRing,
) -> Verdict {
    let views: Vec<_> = history.iter().map(|i| i.view()).collect();
    door.shown(verify(ring, typed, &views, as_of))
}

/// A portal's guess checked: the verdict from the receipt's history and,
/// read with it in one go, the guesser's tallies. A guess that counts
/// nothing (the right code, an empty one) is answered from those; a
/// counted one is decided and recorded by the ledger, under its lock.
pub(crate) fn check_guess(
    door: Door,
    (receipt, typed): (&ReceiptNumber, &str),
    (as_of, now): (NaiveDate, DateTime<Utc>),
    g: Guessing<'_>,
    (ring, ledger): (&KeyRing, &mut dyn Ledger),
) -> Result<(Verdict, GuessGate), LedgerError> {
    let since = now - g.limit.window;
    let (history, tallies) = ledger.history_for_guess(receipt, g.guesser, since)?;
    let verdict = verdict_of(door, typed, &history, as_of, ring);
    let gate = match kind_of(&verdict) {
        AttemptKind::NotCounted => gate_uncounted(tallies, g.limit),
        kind => ledger.gate_guess(receipt, g.guesser, kind, now, g.limit)?,
    };
    Ok((verdict, gate))
}

/// Checks the typed code and counts a wrong one: against the one guessing
/// (its account and client) when the request names it, as the portal does;
/// against the receipt otherwise, as the CLI's door does.
pub fn verify_code(
    req: &VerifyRequest<'_>,
    ring: &KeyRing,
    ledger: &mut dyn Ledger,
) -> Result<Answer, LedgerError> {
    if let Some(g) = req.guessing {
        let asked = (req.receipt, req.typed);
        let (verdict, gate) =
            check_guess(req.door, asked, (req.as_of, req.now), g, (ring, ledger))?;
        return Ok(match gate {
            GuessGate::TooMany { until } => Answer::TooMany { until },
            GuessGate::Open { wrong_by_guesser } => Answer::Checked {
                verdict,
                wrong_in_window: wrong_by_guesser,
                locked_until: None,
            },
        });
    }
    let verdict = verdict_at(req.door, (req.receipt, req.typed), req.as_of, ring, ledger)?;
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
