//! The portal's wrong-code limit on PostgreSQL (the rule is in
//! [`crate::ledger::guesses`]): a counted guess is one transaction under
//! advisory locks on its account, then its client (always in that order),
//! so a guesser's guesses from any number of hosts are counted exactly; a
//! guess that counts nothing is answered from plain reads.

use ::postgres::{Client, GenericClient};
use chrono::{DateTime, TimeDelta, Utc};

use super::lock_key;
use super::rows::{damaged, pg_err};
use crate::filing::ReceiptNumber;
use crate::ledger::attempts::AttemptKind;
use crate::ledger::guesses::{decide_guess, GuessGate, GuessLimit, Guesser, Tally};
use crate::ledger::mail::stored_count;
use crate::ledger::LedgerError;

fn tally(
    client: &mut impl GenericClient,
    label: &str,
    column: &'static str,
    value: &str,
    since: DateTime<Utc>,
) -> Result<Tally, LedgerError> {
    let row = client
        .query_one(
            &format!(
                "SELECT COUNT(*), MAX(guessed_at) FROM guesses WHERE {column} = $1 \
                 AND guessed_at > $2"
            ),
            &[&value, &since],
        )
        .map_err(|e| pg_err(label, "count a guesser's wrong codes", e))?;
    let count = stored_count(label, "a guesser's wrong codes", row.get(0))?;
    Ok(Tally {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        latest: row.get(1),
    })
}

fn decide_in(
    client: &mut impl GenericClient,
    label: &str,
    (receipt, guesser): (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    let since = now - limit.window;
    let by_account = match guesser.account.as_deref() {
        Some(a) => Some(tally(client, label, "account", a, since)?),
        None => None,
    };
    let by_client = tally(client, label, "client", &guesser.client, since)?;
    let (gate, record) = decide_guess(kind, by_account, by_client, limit);
    if record {
        client
            .execute(
                "INSERT INTO guesses (receipt, guessed_at, account, client) \
                 VALUES ($1, $2, $3, $4)",
                &[&receipt.as_str(), &now, &guesser.account, &guesser.client],
            )
            .map_err(|e| pg_err(label, "record a wrong code", e))?;
    }
    Ok(gate)
}

/// [`CodeLife::gate_guess`]((crate::ledger::CodeLife::gate_guess) on PostgreSQL.
pub(super) fn gate_guess(
    client: &mut Client,
    (label, schema): (&str, &str),
    who: (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    if kind == AttemptKind::NotCounted {
        return decide_in(client, label, who, kind, now, limit);
    }
    let err = |e| pg_err(label, "record a wrong code", e);
    let mut tx = client.transaction().map_err(err)?;
    let guesser = who.1;
    let keys = [
        guesser
            .account
            .as_deref()
            .map(|a| lock_key(&["guess-account", schema, a])),
        Some(lock_key(&["guess-client", schema, &guesser.client])),
    ];
    for key in keys.into_iter().flatten() {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
            .map_err(err)?;
    }
    let gate = decide_in(&mut tx, label, who, kind, now, limit)?;
    tx.commit().map_err(err)?;
    Ok(gate)
}

/// Receipts guessed at from more than `more_than` distinct sources.
pub(super) fn targeted(
    client: &mut Client,
    label: &str,
    (now, window): (DateTime<Utc>, TimeDelta),
    more_than: u32,
) -> Result<Vec<(ReceiptNumber, u32)>, LedgerError> {
    let rows = client
        .query(
            "SELECT receipt, COUNT(DISTINCT (COALESCE(account, ''), client)) AS n \
             FROM guesses WHERE guessed_at > $1 GROUP BY receipt \
             HAVING COUNT(DISTINCT (COALESCE(account, ''), client)) > $2 \
             ORDER BY n DESC, receipt",
            &[&(now - window), &i64::from(more_than)],
        )
        .map_err(|e| pg_err(label, "list the targeted receipts", e))?;
    rows.iter()
        .map(|r| {
            let receipt: String = r.get(0);
            let receipt = ReceiptNumber::parse(&receipt).map_err(|d| damaged(label, d))?;
            let n = stored_count(label, "sources of wrong codes", r.get(1))?;
            Ok((receipt, u32::try_from(n).unwrap_or(u32::MAX)))
        })
        .collect()
}

/// Distinct sources that guessed at `receipt` within `window` before `now`.
pub(super) fn sources(
    client: &mut Client,
    label: &str,
    receipt: &ReceiptNumber,
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Result<u32, LedgerError> {
    let n: i64 = client
        .query_one(
            "SELECT COUNT(DISTINCT (COALESCE(account, ''), client)) FROM guesses \
             WHERE receipt = $1 AND guessed_at > $2",
            &[&receipt.as_str(), &(now - window)],
        )
        .map_err(|e| pg_err(label, "count the sources of wrong codes", e))?
        .get(0);
    let n = stored_count(label, "sources of wrong codes", n)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
