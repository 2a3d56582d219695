//! The portal's wrong-code limit on SQLite (the rule is in
//! [`crate::ledger::guesses`]): a counted guess is one `BEGIN IMMEDIATE`
//! transaction, so a guesser's parallel guesses queue; a guess that counts
//! nothing is answered from plain reads.

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::attempts::{parse_time, time_text};
use super::rows::classify;
use crate::filing::ReceiptNumber;
use crate::ledger::attempts::AttemptKind;
use crate::ledger::guesses::{
    gate_in, GuessGate, GuessLimit, GuessStore, Guesser, Tallies, TALLIES_SQL,
};
use crate::ledger::mail::stored_count;
use crate::ledger::LedgerError;

/// [`GuessStore`] on a SQLite connection.
struct SqliteGuesses<'c> {
    conn: &'c Connection,
    label: &'c str,
}

impl GuessStore for SqliteGuesses<'_> {
    fn tallies(&mut self, guesser: &Guesser, since: DateTime<Utc>) -> Result<Tallies, LedgerError> {
        // SQLite numbers `$N` parameters by first appearance; `?N` by N.
        static SQL: LazyLock<String> = LazyLock::new(|| TALLIES_SQL.replace('$', "?"));
        let label = self.label;
        let err = |e| classify(label, "count a guesser's wrong codes", e);
        type Row = (i64, Option<String>, i64, Option<String>);
        let (by_account, account_latest, by_client, client_latest): Row = self
            .conn
            .prepare_cached(&SQL)
            .and_then(|mut s| {
                s.query_row(
                    params![guesser.account, guesser.client, time_text(since)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .map_err(err)?;
        let time = |t: Option<String>| t.map(|t| parse_time(label, &t)).transpose();
        Tallies::from_columns(
            label,
            guesser,
            (by_account, time(account_latest)?),
            (by_client, time(client_latest)?),
        )
    }

    fn insert(
        &mut self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .prepare_cached(
                "INSERT INTO guesses (receipt, guessed_at, account, client) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    receipt.as_str(),
                    time_text(now),
                    guesser.account,
                    guesser.client
                ])
            })
            .map_err(|e| classify(self.label, "record a wrong code", e))?;
        Ok(())
    }
}

/// [`CodeLife::gate_guess`](crate::ledger::CodeLife::gate_guess) on SQLite.
pub(super) fn gate_guess(
    conn: &mut Connection,
    label: &str,
    who: (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    if kind == AttemptKind::NotCounted {
        return gate_in(&mut SqliteGuesses { conn, label }, who, kind, now, limit);
    }
    let err = |e| classify(label, "record a wrong code", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let gate = gate_in(
        &mut SqliteGuesses { conn: &tx, label },
        who,
        kind,
        now,
        limit,
    )?;
    tx.commit().map_err(err)?;
    Ok(gate)
}

/// The guesser's tallies since `since`, read without a lock.
pub(super) fn tallies(
    conn: &Connection,
    label: &str,
    guesser: &Guesser,
    since: DateTime<Utc>,
) -> Result<Tallies, LedgerError> {
    SqliteGuesses { conn, label }.tallies(guesser, since)
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
