//! The portal's wrong-code limit: it stops the one guessing, never the
//! applicant holding the right code.
//!
//! Receipt numbers are not secret (every notice prints one), so a limit on
//! the receipt lets anyone lock anyone out: five wrong guesses and the
//! applicant's right code got 423 for ten minutes, again and again. A code
//! carries 55 random bits: one guesser with the whole service's measured
//! throughput (7,000 verifies a second) for a code's 90 days would try
//! about one code in 700,000, so a limit per guesser protects that space
//! as well as a lock on the receipt does. So at the portal every wrong or
//! mistyped code is counted against its account (when the portal names
//! one) and its client (the applicant's address, or the portal's opaque id
//! for the sign-in); a guesser over either limit gets "try later" (429) and
//! its guesses count nothing more. A receipt guessed at from more than
//! [`GuessLimit::targeted_sources`] distinct sources within the window is
//! flagged as **targeted** for the desk.
//!
//! The CLI doors keep the per-receipt limit of [`super::attempts`].
//! Deciding and recording are one transaction, serialised per guesser
//! (SQLite's write lock; PostgreSQL advisory locks on the account, then the
//! client, always in that order), so a guesser's parallel guesses are
//! counted exactly. This file is the rule; each backend's `guesses.rs` runs
//! it.

use chrono::{DateTime, TimeDelta, Utc};

use super::attempts::AttemptKind;
use super::mail::stored_count;
use super::LedgerError;
use crate::filing::ReceiptNumber;

/// Who is guessing.
#[derive(Clone, PartialEq, Eq)]
pub struct Guesser {
    /// The portal's account id, when it names one; never logged.
    pub account: Option<String>,
    /// The client: an address, or the portal's opaque id for the sign-in.
    pub client: String,
}

impl std::fmt::Debug for Guesser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guesser")
            .field("account", &self.account.as_ref().map(|_| "<redacted>"))
            .field("client", &self.client)
            .finish()
    }
}

/// The portal's limits (`[codes]` in agency.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuessLimit {
    /// Wrong codes one account may try within the window.
    pub per_account: u32,
    /// Wrong codes one client may try within the window.
    pub per_client: u32,
    /// The window, and how long a guesser waits once over a limit.
    pub window: TimeDelta,
    /// More distinct sources than this guessing at one receipt within the
    /// window make it targeted.
    pub targeted_sources: u32,
}

/// What a guess may be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuessGate {
    /// Give the verdict; `wrong_by_guesser` counts this guess if counted.
    Open { wrong_by_guesser: u32 },
    /// The guesser is over its limit until then: nothing was checked or
    /// counted.
    TooMany { until: DateTime<Utc> },
}

/// A guesser's counted guesses within the window, and the latest of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u32,
    pub latest: Option<DateTime<Utc>>,
}

/// A guesser's counted guesses within the window: by its account (when the
/// portal names one) and by its client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tallies {
    pub by_account: Option<Tally>,
    pub by_client: Tally,
}

impl Tallies {
    /// [`TALLIES_SQL`]'s four columns read back (the counts as stored, the
    /// times parsed): a count that cannot be one is a damaged ledger; the
    /// account's tally only when the guesser names an account.
    pub(in crate::ledger) fn from_columns(
        label: &str,
        guesser: &Guesser,
        by_account: (i64, Option<DateTime<Utc>>),
        by_client: (i64, Option<DateTime<Utc>>),
    ) -> Result<Tallies, LedgerError> {
        let tally = |(count, latest): (i64, Option<DateTime<Utc>>)| {
            let count = stored_count(label, "a guesser's wrong codes", count)?;
            Ok::<_, LedgerError>(Tally {
                count: u32::try_from(count).unwrap_or(u32::MAX),
                latest,
            })
        };
        Ok(Tallies {
            by_account: guesser
                .account
                .as_ref()
                .map(|_| tally(by_account))
                .transpose()?,
            by_client: tally(by_client)?,
        })
    }
}

/// What a guess that counts nothing (a right code, an empty one) may be
/// told, from tallies read without a lock: nothing is recorded, so nothing
/// needs serialising. A counted guess goes through
/// [`CodeLife::gate_guess`](super::CodeLife::gate_guess) instead.
pub fn gate_uncounted(tallies: Tallies, limit: GuessLimit) -> GuessGate {
    let kind = AttemptKind::NotCounted;
    decide_guess(kind, tallies.by_account, tallies.by_client, limit).0
}

/// The rule: given the guesser's tallies by account and by client within
/// the window, whether this guess may be answered, and whether to record it.
pub(in crate::ledger) fn decide_guess(
    kind: AttemptKind,
    by_account: Option<Tally>,
    by_client: Tally,
    limit: GuessLimit,
) -> (GuessGate, bool) {
    let over = |t: Tally, max: u32| t.count >= max.max(1);
    let blocked = [
        by_account.filter(|t| over(*t, limit.per_account)),
        Some(by_client).filter(|t| over(*t, limit.per_client)),
    ];
    if let Some(latest) = blocked.iter().flatten().filter_map(|t| t.latest).max() {
        return (
            GuessGate::TooMany {
                until: latest + limit.window,
            },
            false,
        );
    }
    let counted = kind != AttemptKind::NotCounted;
    let mine = by_account.map_or(by_client.count, |a| a.count.max(by_client.count));
    (
        GuessGate::Open {
            wrong_by_guesser: mine + u32::from(counted),
        },
        counted,
    )
}

/// The one query both backends run for a guesser's tallies: its counted
/// guesses within the window by account (`$1`, NULL when the portal names
/// none, which matches nothing) and by client (`$2`), after `$3`. One
/// statement, so one round trip on every answer; each half reads its own
/// index (`guesses_by_account`, `guesses_by_client`).
pub(in crate::ledger) const TALLIES_SQL: &str = "SELECT a.n AS a_n, a.latest AS a_latest, \
     c.n AS c_n, c.latest AS c_latest FROM \
     (SELECT COUNT(*) AS n, MAX(guessed_at) AS latest FROM guesses \
      WHERE account = $1 AND guessed_at > $3) AS a, \
     (SELECT COUNT(*) AS n, MAX(guessed_at) AS latest FROM guesses \
      WHERE client = $2 AND guessed_at > $3) AS c";

/// The SQL a backend runs for [`gate_in`], inside its transaction.
pub(in crate::ledger) trait GuessStore {
    /// The guesser's counted guesses after `since`, by account (when it
    /// names one) and by client ([`TALLIES_SQL`]).
    fn tallies(&mut self, guesser: &Guesser, since: DateTime<Utc>) -> Result<Tallies, LedgerError>;

    /// Records one counted guess.
    fn insert(
        &mut self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError>;
}

/// Reads the guesser's tallies, decides ([`decide_guess`]) and records a
/// counted guess: the same on both backends, run inside the caller's
/// transaction (or on plain reads for a guess that counts nothing).
pub(in crate::ledger) fn gate_in(
    store: &mut dyn GuessStore,
    (receipt, guesser): (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    let t = store.tallies(guesser, now - limit.window)?;
    let (gate, record) = decide_guess(kind, t.by_account, t.by_client, limit);
    if record {
        store.insert(receipt, guesser, now)?;
    }
    Ok(gate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: GuessLimit = GuessLimit {
        per_account: 5,
        per_client: 20,
        window: TimeDelta::minutes(10),
        targeted_sources: 3,
    };

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).expect("a time") + TimeDelta::minutes(minute)
    }

    #[test]
    fn the_guesser_is_stopped_after_its_limit_and_counted_nothing_more() {
        let four = Tally {
            count: 4,
            latest: Some(at(1)),
        };
        let (gate, record) = decide_guess(AttemptKind::Wrong, Some(four), four, LIMIT);
        assert_eq!(
            gate,
            GuessGate::Open {
                wrong_by_guesser: 5
            }
        );
        assert!(record);
        let five = Tally {
            count: 5,
            latest: Some(at(2)),
        };
        let (gate, record) = decide_guess(AttemptKind::NotCounted, Some(five), five, LIMIT);
        assert_eq!(gate, GuessGate::TooMany { until: at(12) });
        assert!(!record);
    }

    #[test]
    fn a_client_is_limited_even_when_it_names_no_account() {
        let many = Tally {
            count: 20,
            latest: Some(at(4)),
        };
        let (gate, _) = decide_guess(AttemptKind::Wrong, None, many, LIMIT);
        assert_eq!(gate, GuessGate::TooMany { until: at(14) });
        let (gate, record) = decide_guess(AttemptKind::NotCounted, None, Tally::default(), LIMIT);
        assert_eq!(
            gate,
            GuessGate::Open {
                wrong_by_guesser: 0
            }
        );
        assert!(!record);
    }
}
