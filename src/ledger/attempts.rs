//! The wrong-code limit: `verify` may not be used to guess codes.
//!
//! After [`AttemptLimit::max_wrong`] wrong or mistyped codes for a receipt
//! within [`AttemptLimit::window`], the receipt is locked for one window:
//! every `verify` answers "locked until HH:MM", even for the right code.
//! Each counted attempt is a row (receipt, time, wrong or mistyped), never
//! the typed text; an attempt refused during a lock is a row too
//! (`refused`), but it is not counted, and neither is a real code (valid,
//! superseded, expired...).
//!
//! Deciding and recording happen in one transaction that is serialised per
//! receipt ([`CodeLife::gate_attempt`]((super::CodeLife::gate_attempt): SQLite's
//! write lock, a PostgreSQL transaction-scoped advisory lock), so fifty
//! processes guessing at once lock the receipt after exactly the limit.
//!
//! Times are the caller's clock in UTC, stored as fixed-width RFC 3339 text
//! (milliseconds, `Z`) on SQLite so that text order is time order, and as
//! `timestamptz` on PostgreSQL. This file is the rule; each backend's
//! `attempts.rs` runs it inside its own transaction.

use chrono::{DateTime, TimeDelta, Utc};

/// How many wrong codes a receipt may take in how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptLimit {
    /// Wrong or mistyped codes that lock the receipt (at least 1).
    pub max_wrong: u32,
    /// The window they are counted in, and how long the lock lasts.
    pub window: TimeDelta,
}

/// What a `verify` attempt was, as far as the limit is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptKind {
    /// A well-formed code that is not this receipt's.
    Wrong,
    /// Not a well-formed code at all.
    Mistyped,
    /// A code this receipt really had (valid, superseded, expired...), or a
    /// receipt with no codes: not a guess, never counted.
    NotCounted,
}

impl AttemptKind {
    pub(in crate::ledger) fn as_str(self) -> &'static str {
        match self {
            AttemptKind::Wrong => "wrong",
            AttemptKind::Mistyped => "mistyped",
            AttemptKind::NotCounted => "not counted",
        }
    }
}

/// Whether the attempt's verdict may be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Not locked: give the verdict. `wrong_in_window` counts this attempt
    /// if it was counted; `locked_until` is set when it reached the limit.
    Open {
        wrong_in_window: u32,
        locked_until: Option<DateTime<Utc>>,
    },
    /// Locked: refuse whatever was typed.
    Locked { until: DateTime<Utc> },
}

/// What `status` shows about a receipt's attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptSummary {
    /// Wrong or mistyped codes within the window ending now.
    pub wrong_in_window: u32,
    /// Wrong or mistyped codes ever.
    pub wrong_total: u64,
    /// Attempts refused because the receipt was locked.
    pub refused_total: u64,
    /// Times the receipt was locked.
    pub locks_total: u64,
    /// When the lock in force ends, if one is.
    pub locked_until: Option<DateTime<Utc>>,
    /// The most recent attempt of any kind.
    pub last_attempt: Option<DateTime<Utc>>,
}

impl AttemptSummary {
    /// One line for `status`: "verify: 2 wrong codes in the last 10
    /// minutes (5 lock it); 7 in all, 3 refused while locked, 1 lock".
    pub fn describe(&self, limit: AttemptLimit) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut line = format!(
            "verify: {} in the last {} minutes ({} lock it); {} in all, {} refused while locked, {}",
            plural(self.wrong_in_window.into(), "wrong code", "wrong codes"),
            limit.window.num_minutes(),
            limit.max_wrong,
            self.wrong_total,
            self.refused_total,
            plural(self.locks_total, "lock", "locks"),
        );
        if let Some(until) = self.locked_until {
            line += &format!("; LOCKED until {} UTC", until.format("%Y-%m-%d %H:%M"));
        }
        line
    }
}

/// What one attempt does to the ledger, decided from what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::ledger) struct Decision {
    /// The outcome row to insert, if any.
    pub record: Option<&'static str>,
    /// A new lock ending then, if this attempt reached the limit.
    pub lock_until: Option<DateTime<Utc>>,
    pub gate: Gate,
}

/// An attempt that counts nothing on a receipt that is not locked records
/// nothing either: its gate is known from a plain read (`read`: the lock's
/// end and the wrong codes in the window), with no write transaction, so
/// valid codes never queue behind writers. `None` when the full, serialised
/// decision is needed; a counted attempt needs it always, so for one
/// nothing is read here.
pub(in crate::ledger) fn read_only_gate<E>(
    kind: AttemptKind,
    now: DateTime<Utc>,
    read: impl FnOnce() -> Result<(Option<DateTime<Utc>>, u32), E>,
) -> Result<Option<Gate>, E> {
    if kind != AttemptKind::NotCounted {
        return Ok(None);
    }
    let (locked_until, wrong_before) = read()?;
    let locked = locked_until.is_some_and(|u| u > now);
    Ok((!locked).then_some(Gate::Open {
        wrong_in_window: wrong_before,
        locked_until: None,
    }))
}

/// The rule itself, the same on every backend: `locked_until` is the end of
/// the lock in force (if any), `wrong_before` the counted attempts within
/// the window before this one.
pub(in crate::ledger) fn decide(
    kind: AttemptKind,
    locked_until: Option<DateTime<Utc>>,
    wrong_before: u32,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Decision {
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return Decision {
            record: Some("refused"),
            lock_until: None,
            gate: Gate::Locked { until },
        };
    }
    if kind == AttemptKind::NotCounted {
        return Decision {
            record: None,
            lock_until: None,
            gate: Gate::Open {
                wrong_in_window: wrong_before,
                locked_until: None,
            },
        };
    }
    let wrong = wrong_before + 1;
    let lock_until = (wrong >= limit.max_wrong.max(1)).then(|| now + limit.window);
    Decision {
        record: Some(kind.as_str()),
        lock_until,
        gate: Gate::Open {
            wrong_in_window: wrong,
            locked_until: lock_until,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).expect("a time") + TimeDelta::minutes(minute)
    }

    const LIMIT: AttemptLimit = AttemptLimit {
        max_wrong: 5,
        window: TimeDelta::minutes(10),
    };

    #[test]
    fn the_fifth_wrong_code_locks_for_one_window() {
        let d = decide(AttemptKind::Wrong, None, 4, at(0), LIMIT);
        assert_eq!(d.record, Some("wrong"));
        assert_eq!(d.lock_until, Some(at(10)));
        let d = decide(AttemptKind::Mistyped, None, 3, at(0), LIMIT);
        assert_eq!(d.lock_until, None);
        assert_eq!(
            d.gate,
            Gate::Open {
                wrong_in_window: 4,
                locked_until: None
            }
        );
    }

    #[test]
    fn a_lock_refuses_everything_until_it_ends() {
        for kind in [
            AttemptKind::Wrong,
            AttemptKind::Mistyped,
            AttemptKind::NotCounted,
        ] {
            let d = decide(kind, Some(at(10)), 5, at(9), LIMIT);
            assert_eq!(d.gate, Gate::Locked { until: at(10) });
            assert_eq!(d.record, Some("refused"));
            assert_eq!(d.lock_until, None);
        }
        let d = decide(AttemptKind::NotCounted, Some(at(10)), 0, at(10), LIMIT);
        assert!(matches!(d.gate, Gate::Open { .. }));
        assert_eq!(d.record, None);
    }
}
