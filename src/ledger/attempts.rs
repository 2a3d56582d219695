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
//! receipt ([`Ledger::gate_attempt`](super::Ledger::gate_attempt): SQLite's
//! write lock, a PostgreSQL transaction-scoped advisory lock), so fifty
//! processes guessing at once lock the receipt after exactly the limit.
//!
//! Times are the caller's clock in UTC, stored as fixed-width RFC 3339 text
//! (milliseconds, `Z`) on SQLite so that text order is time order, and as
//! `timestamptz` on PostgreSQL.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::rows::classify;
use super::LedgerError;
use crate::filing::ReceiptNumber;

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
    fn as_str(self) -> &'static str {
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
pub(super) struct Decision {
    /// The outcome row to insert, if any.
    pub record: Option<&'static str>,
    /// A new lock ending then, if this attempt reached the limit.
    pub lock_until: Option<DateTime<Utc>>,
    pub gate: Gate,
}

/// The rule itself, the same on every backend: `locked_until` is the end of
/// the lock in force (if any), `wrong_before` the counted attempts within
/// the window before this one.
pub(super) fn decide(
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

/// Fixed-width UTC text: text order is time order.
pub(super) fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn parse_time(label: &str, text: &str) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| LedgerError::Damaged {
            ledger: label.to_string(),
            detail: format!("the attempt time '{text}' is not a time ({e})"),
        })
}

/// [`Ledger::gate_attempt`](super::Ledger::gate_attempt) on SQLite: one
/// `BEGIN IMMEDIATE` transaction, so concurrent attempts queue.
pub(super) fn sqlite_gate(
    conn: &mut Connection,
    label: &str,
    receipt: &ReceiptNumber,
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err("start counting a verify attempt"))?;
    let gate = sqlite_gate_in(&tx, label, receipt, kind, now, limit)?;
    tx.commit().map_err(err("record a verify attempt"))?;
    Ok(gate)
}

/// Decides and records one attempt inside the caller's write transaction.
pub(super) fn sqlite_gate_in(
    tx: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    let (locked_until, wrong_before) = sqlite_state(tx, label, receipt, now, limit)?;
    let decision = decide(kind, locked_until, wrong_before, now, limit);
    if let Some(outcome) = decision.record {
        tx.execute(
            "INSERT INTO verify_attempts (receipt, attempted_at, outcome) VALUES (?1, ?2, ?3)",
            params![receipt.as_str(), time_text(now), outcome],
        )
        .map_err(err("record a verify attempt"))?;
    }
    if let Some(until) = decision.lock_until {
        tx.execute(
            "INSERT INTO verify_locks (receipt, locked_at, locked_until) VALUES (?1, ?2, ?3)",
            params![receipt.as_str(), time_text(now), time_text(until)],
        )
        .map_err(err("lock the receipt"))?;
    }
    Ok(decision.gate)
}

/// The lock in force (latest end) and the counted attempts in the window.
fn sqlite_state(
    conn: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<(Option<DateTime<Utc>>, u32), LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    let until: Option<String> = conn
        .query_row(
            "SELECT MAX(locked_until) FROM verify_locks WHERE receipt = ?1",
            [receipt.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(err("read the receipt's lock"))?
        .flatten();
    let wrong: u32 = conn
        .query_row(
            "SELECT COUNT(*) FROM verify_attempts WHERE receipt = ?1 \
             AND outcome IN ('wrong', 'mistyped') AND attempted_at > ?2",
            params![receipt.as_str(), time_text(now - limit.window)],
            |r| r.get(0),
        )
        .map_err(err("count the receipt's wrong codes"))?;
    let until = until.map(|t| parse_time(label, &t)).transpose()?;
    Ok((until, wrong))
}

/// [`Ledger::attempt_summary`](super::Ledger::attempt_summary) on SQLite.
pub(super) fn sqlite_summary(
    conn: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<AttemptSummary, LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    let (locked_until, wrong_in_window) = sqlite_state(conn, label, receipt, now, limit)?;
    let (wrong_total, refused_total, last): (u64, u64, Option<String>) = conn
        .query_row(
            "SELECT COALESCE(SUM(outcome IN ('wrong', 'mistyped')), 0), \
             COALESCE(SUM(outcome = 'refused'), 0), MAX(attempted_at) \
             FROM verify_attempts WHERE receipt = ?1",
            [receipt.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(err("read the receipt's attempts"))?;
    let locks_total: u64 = conn
        .query_row(
            "SELECT COUNT(*) FROM verify_locks WHERE receipt = ?1",
            [receipt.as_str()],
            |r| r.get(0),
        )
        .map_err(err("read the receipt's locks"))?;
    Ok(AttemptSummary {
        wrong_in_window,
        wrong_total,
        refused_total,
        locks_total,
        locked_until: locked_until.filter(|u| *u > now),
        last_attempt: last.map(|t| parse_time(label, &t)).transpose()?,
    })
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
