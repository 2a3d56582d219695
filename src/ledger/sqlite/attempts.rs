//! The wrong-code limit on SQLite (the rule is in [`crate::ledger::attempts`]):
//! one `BEGIN IMMEDIATE` transaction per attempt, so concurrent attempts
//! queue behind SQLite's write lock.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::rows::classify;
use crate::filing::ReceiptNumber;
use crate::ledger::attempts::{
    decide, read_only_gate, AttemptKind, AttemptLimit, AttemptSummary, Gate,
};
use crate::ledger::LedgerError;

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

/// [`CodeLife::gate_attempt`]((super::CodeLife::gate_attempt) on SQLite: one
/// `BEGIN IMMEDIATE` transaction, so concurrent attempts queue; an attempt
/// that counts nothing on an unlocked receipt is a plain read.
pub(super) fn gate(
    conn: &mut Connection,
    label: &str,
    receipt: &ReceiptNumber,
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    if let Some(gate) = read_only_gate(kind, now, || state(conn, label, receipt, now, limit))? {
        return Ok(gate);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err("start counting a verify attempt"))?;
    let gate = gate_in(&tx, label, receipt, kind, now, limit)?;
    tx.commit().map_err(err("record a verify attempt"))?;
    Ok(gate)
}

/// Decides and records one attempt inside the caller's write transaction.
pub(super) fn gate_in(
    tx: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    let (locked_until, wrong_before) = state(tx, label, receipt, now, limit)?;
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
fn state(
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

/// [`CodeLife::attempt_summary`]((super::CodeLife::attempt_summary) on SQLite.
pub(super) fn summary(
    conn: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<AttemptSummary, LedgerError> {
    let err = |action: &'static str| move |e| classify(label, action, e);
    let (locked_until, wrong_in_window) = state(conn, label, receipt, now, limit)?;
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
