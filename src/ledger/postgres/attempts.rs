//! The wrong-code limit on PostgreSQL (the rule is in [`crate::ledger::attempts`]).
//!
//! Each attempt runs in one transaction that first takes a
//! transaction-scoped advisory lock on the receipt, so attempts on one
//! receipt from any number of hosts queue one behind the other and the
//! count is never read stale. Other receipts are not held up. An attempt
//! that counts nothing on a receipt that is not locked records nothing, so
//! it is answered from a plain read, without the transaction.

use ::postgres::types::Type;
use ::postgres::Client;
use chrono::{DateTime, Utc};

use super::locked::LockedTx;
use super::rows::pg_err;
use crate::filing::ReceiptNumber;
use crate::ledger::attempts::{
    decide, read_only_gate, AttemptKind, AttemptLimit, AttemptSummary, Gate,
};
use crate::ledger::mail::stored_count;
use crate::ledger::LedgerError;

/// The lock in force (latest end) and the counted attempts in the window.
fn state(
    client: &mut impl ::postgres::GenericClient,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<(Option<DateTime<Utc>>, u32), ::postgres::Error> {
    // Typed queries here and below: one round trip each, no prepared
    // statement, on the path of every verify and redeem.
    let row = client.query_typed_one(
        "SELECT (SELECT MAX(locked_until) FROM verify_locks WHERE receipt = $1), \
                (SELECT COUNT(*) FROM verify_attempts WHERE receipt = $1 \
                   AND outcome IN ('wrong', 'mistyped') AND attempted_at > $2)",
        &[
            (&receipt.as_str(), Type::TEXT),
            (&(now - limit.window), Type::TIMESTAMPTZ),
        ],
    )?;
    let wrong: i64 = row.get(1);
    Ok((row.get(0), u32::try_from(wrong).unwrap_or(u32::MAX)))
}

/// [`CodeLife::gate_attempt`]((super::CodeLife::gate_attempt) on PostgreSQL.
pub(super) fn gate(
    client: &mut Client,
    label: &str,
    lock_key: i64,
    (receipt, kind): (&ReceiptNumber, AttemptKind),
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, LedgerError> {
    let mut run = || -> Result<Gate, ::postgres::Error> {
        if let Some(gate) = read_only_gate(kind, now, || state(client, receipt, now, limit))? {
            return Ok(gate);
        }
        let mut tx = LockedTx::begin(client, &[lock_key])?;
        let gate = gate_in(&mut *tx, receipt, kind, now, limit)?;
        tx.commit()?;
        Ok(gate)
    };
    run().map_err(|e| pg_err(label, "count a verify attempt", e))
}

/// Decides and records one attempt inside the caller's transaction, which
/// holds the receipt's advisory lock.
pub(super) fn gate_in(
    tx: &mut impl ::postgres::GenericClient,
    receipt: &ReceiptNumber,
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, ::postgres::Error> {
    let found = state(tx, receipt, now, limit)?;
    apply(tx, receipt, kind, found, now, limit)
}

/// Decides and records one attempt given the receipt's state read inside
/// the caller's transaction (its lock's end, wrong codes in the window).
pub(super) fn apply(
    tx: &mut impl ::postgres::GenericClient,
    receipt: &ReceiptNumber,
    kind: AttemptKind,
    (locked_until, wrong_before): (Option<DateTime<Utc>>, u32),
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<Gate, ::postgres::Error> {
    let decision = decide(kind, locked_until, wrong_before, now, limit);
    if let Some(outcome) = decision.record {
        tx.execute_typed(
            "INSERT INTO verify_attempts (receipt, attempted_at, outcome) VALUES ($1, $2, $3)",
            &[
                (&receipt.as_str(), Type::TEXT),
                (&now, Type::TIMESTAMPTZ),
                (&outcome, Type::TEXT),
            ],
        )?;
    }
    if let Some(until) = decision.lock_until {
        tx.execute_typed(
            "INSERT INTO verify_locks (receipt, locked_at, locked_until) VALUES ($1, $2, $3)",
            &[
                (&receipt.as_str(), Type::TEXT),
                (&now, Type::TIMESTAMPTZ),
                (&until, Type::TIMESTAMPTZ),
            ],
        )?;
    }
    Ok(decision.gate)
}

/// [`CodeLife::attempt_summary`]((super::CodeLife::attempt_summary) on PostgreSQL.
pub(super) fn summary(
    client: &mut Client,
    label: &str,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<AttemptSummary, LedgerError> {
    let mut run = || -> Result<_, ::postgres::Error> {
        let (locked_until, wrong_in_window) = state(client, receipt, now, limit)?;
        let row = client.query_one(
            "SELECT COUNT(*) FILTER (WHERE outcome IN ('wrong', 'mistyped')), \
                    COUNT(*) FILTER (WHERE outcome = 'refused'), MAX(attempted_at), \
                    (SELECT COUNT(*) FROM verify_locks WHERE receipt = $1) \
             FROM verify_attempts WHERE receipt = $1",
            &[&receipt.as_str()],
        )?;
        Ok((locked_until, wrong_in_window, row))
    };
    let (locked_until, wrong_in_window, row) =
        run().map_err(|e| pg_err(label, "read the receipt's attempts", e))?;
    let count = |i: usize, what: &str| stored_count(label, what, row.get::<_, i64>(i));
    Ok(AttemptSummary {
        wrong_in_window,
        wrong_total: count(0, "wrong codes")?,
        refused_total: count(1, "refused attempts")?,
        locks_total: count(3, "locks")?,
        locked_until: locked_until.filter(|u| *u > now),
        last_attempt: row.get(2),
    })
}
