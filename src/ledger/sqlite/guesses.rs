//! The portal's wrong-code limit on SQLite (the rule is in
//! [`crate::ledger::guesses`]): a counted guess is one `BEGIN IMMEDIATE`
//! transaction, so a guesser's parallel guesses queue; a guess that counts
//! nothing is answered from plain reads.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::attempts::{parse_time, time_text};
use super::rows::classify;
use crate::filing::ReceiptNumber;
use crate::ledger::attempts::AttemptKind;
use crate::ledger::guesses::{decide_guess, GuessGate, GuessLimit, Guesser, Tally};
use crate::ledger::mail::stored_count;
use crate::ledger::LedgerError;

/// Counted guesses by `column = value` since `since`, and the latest.
fn tally(
    conn: &Connection,
    label: &str,
    column: &'static str,
    value: &str,
    since: &str,
) -> Result<Tally, LedgerError> {
    let err = |e| classify(label, "count a guesser's wrong codes", e);
    let (count, latest): (i64, Option<String>) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*), MAX(guessed_at) FROM guesses WHERE {column} = ?1 AND guessed_at > ?2"
        ))
        .and_then(|mut s| s.query_row(params![value, since], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(err)?;
    let count = stored_count(label, "a guesser's wrong codes", count)?;
    Ok(Tally {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        latest: latest.map(|t| parse_time(label, &t)).transpose()?,
    })
}

fn decide_in(
    conn: &Connection,
    label: &str,
    (receipt, guesser): (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    let since = time_text(now - limit.window);
    let by_account = guesser
        .account
        .as_deref()
        .map(|a| tally(conn, label, "account", a, &since))
        .transpose()?;
    let by_client = tally(conn, label, "client", &guesser.client, &since)?;
    let (gate, record) = decide_guess(kind, by_account, by_client, limit);
    if record {
        conn.execute(
            "INSERT INTO guesses (receipt, guessed_at, account, client) VALUES (?1, ?2, ?3, ?4)",
            params![
                receipt.as_str(),
                time_text(now),
                guesser.account,
                guesser.client
            ],
        )
        .map_err(|e| classify(label, "record a wrong code", e))?;
    }
    Ok(gate)
}

/// [`CodeLife::gate_guess`]((crate::ledger::CodeLife::gate_guess) on SQLite.
pub(super) fn gate_guess(
    conn: &mut Connection,
    label: &str,
    who: (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    if kind == AttemptKind::NotCounted {
        return decide_in(conn, label, who, kind, now, limit);
    }
    let err = |e| classify(label, "record a wrong code", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let gate = decide_in(&tx, label, who, kind, now, limit)?;
    tx.commit().map_err(err)?;
    Ok(gate)
}

/// Receipts guessed at from more than `more_than` distinct sources.
pub(super) fn targeted(
    conn: &Connection,
    label: &str,
    (now, window): (DateTime<Utc>, TimeDelta),
    more_than: u32,
) -> Result<Vec<(ReceiptNumber, u32)>, LedgerError> {
    let err = |e| classify(label, "list the targeted receipts", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT receipt, COUNT(DISTINCT COALESCE(account, '') || char(31) || client) AS n \
             FROM guesses WHERE guessed_at > ?1 GROUP BY receipt HAVING n > ?2 \
             ORDER BY n DESC, receipt",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(params![time_text(now - window), more_than], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (receipt, n) = row.map_err(err)?;
        let receipt = ReceiptNumber::parse(&receipt).map_err(|d| LedgerError::Damaged {
            ledger: label.to_string(),
            detail: d,
        })?;
        let n = stored_count(label, "sources of wrong codes", n)?;
        out.push((receipt, u32::try_from(n).unwrap_or(u32::MAX)));
    }
    Ok(out)
}

/// Distinct sources (account and client) that guessed at `receipt` within
/// `window` before `now`.
pub(super) fn sources(
    conn: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Result<u32, LedgerError> {
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(DISTINCT COALESCE(account, '') || char(31) || client) FROM guesses \
             WHERE receipt = ?1 AND guessed_at > ?2",
            params![receipt.as_str(), time_text(now - window)],
            |r| r.get(0),
        )
        .map_err(|e| classify(label, "count the sources of wrong codes", e))?;
    let n = stored_count(label, "sources of wrong codes", n)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
