//! The portal's wrong-code limit on PostgreSQL (the rule is in
//! [`crate::ledger::guesses`]): a counted guess is one transaction under
//! advisory locks on its account, then its client (always in that order),
//! so a guesser's guesses from any number of hosts are counted exactly; a
//! guess that counts nothing is answered from plain reads.

use ::postgres::types::Type;
use std::cell::OnceCell;
use std::sync::LazyLock;

use ::postgres::{Client, GenericClient, Row, Statement};
use chrono::{DateTime, TimeDelta, Utc};

use super::lock_key;
use super::locked::LockedTx;
use super::rows::{damaged, issuance_from_row, pg_err};
use crate::filing::ReceiptNumber;
use crate::ledger::attempts::AttemptKind;
use crate::ledger::guesses::{
    gate_in, GuessGate, GuessLimit, GuessStore, Guesser, Tallies, TALLIES_SQL,
};
use crate::ledger::mail::stored_count;
use crate::ledger::{Issuance, LedgerError, ISSUANCE_COLUMNS};

/// [`GuessStore`] on a PostgreSQL client or transaction.
struct PgGuesses<'a, C> {
    client: &'a mut C,
    label: &'a str,
}

impl<C: GenericClient> GuessStore for PgGuesses<'_, C> {
    fn tallies(&mut self, guesser: &Guesser, since: DateTime<Utc>) -> Result<Tallies, LedgerError> {
        let label = self.label;
        let err = |e| pg_err(label, "count a guesser's wrong codes", e);
        // Typed: one round trip, no prepared statement (this runs on every
        // verify and redeem at the portal).
        let row = self
            .client
            .query_typed(
                TALLIES_SQL,
                &[
                    (&guesser.account, Type::TEXT),
                    (&guesser.client, Type::TEXT),
                    (&since, Type::TIMESTAMPTZ),
                ],
            )
            .map_err(err)?;
        let row = row
            .first()
            .ok_or_else(|| damaged(label, "the guess count answered no row".to_string()))?;
        tallies_of(label, row, guesser)
    }

    fn insert(
        &mut self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.client
            .execute_typed(
                "INSERT INTO guesses (receipt, guessed_at, account, client) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    (&receipt.as_str(), Type::TEXT),
                    (&now, Type::TIMESTAMPTZ),
                    (&guesser.account, Type::TEXT),
                    (&guesser.client, Type::TEXT),
                ],
            )
            .map_err(|e| pg_err(self.label, "record a wrong code", e))?;
        Ok(())
    }
}

/// The tallies of a row holding [`TALLIES_SQL`]'s columns.
fn tallies_of(label: &str, row: &Row, guesser: &Guesser) -> Result<Tallies, LedgerError> {
    let err = |e| pg_err(label, "count a guesser's wrong codes", e);
    let column = |n: &str, latest: &str| -> Result<(i64, Option<DateTime<Utc>>), LedgerError> {
        Ok((
            row.try_get(n).map_err(err)?,
            row.try_get(latest).map_err(err)?,
        ))
    };
    Tallies::from_columns(
        label,
        guesser,
        column("a_n", "a_latest")?,
        column("c_n", "c_latest")?,
    )
}

/// The receipt's history and the guesser's tallies since `since`, in one
/// statement (one round trip): the tallies joined to the receipt's rows, a
/// row of tallies alone when the receipt has none. The statement is
/// prepared once per connection (`prepared`), so the server plans it once.
pub(super) fn history_for_guess(
    client: &mut Client,
    (label, prepared): (&str, &OnceCell<Statement>),
    (receipt, guesser): (&ReceiptNumber, &Guesser),
    since: DateTime<Utc>,
) -> Result<(Vec<Issuance>, Tallies), LedgerError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT t.*, {ISSUANCE_COLUMNS} FROM ({TALLIES_SQL}) AS t \
             LEFT JOIN issuances ON issuances.receipt = $4 ORDER BY issue_no"
        )
    });
    let err = |e| pg_err(label, "read the receipt's history", e);
    let statement = match prepared.get() {
        Some(s) => s.clone(),
        None => {
            let types = [Type::TEXT, Type::TEXT, Type::TIMESTAMPTZ, Type::TEXT];
            let s = client.prepare_typed(&SQL, &types).map_err(err)?;
            prepared.get_or_init(|| s).clone()
        }
    };
    let params: [&(dyn ::postgres::types::ToSql + Sync); 4] =
        [&guesser.account, &guesser.client, &since, &receipt.as_str()];
    let rows = client.query(&statement, &params).map_err(err)?;
    let first = rows
        .first()
        .ok_or_else(|| damaged(label, "the guess count answered no row".to_string()))?;
    let tallies = tallies_of(label, first, guesser)?;
    let mut history = Vec::with_capacity(rows.len());
    for row in &rows {
        if row
            .try_get::<_, Option<i32>>("issue_no")
            .map_err(err)?
            .is_some()
        {
            history.push(issuance_from_row(label, row)?);
        }
    }
    Ok((history, tallies))
}

/// [`CodeLife::gate_guess`](crate::ledger::CodeLife::gate_guess) on PostgreSQL.
pub(super) fn gate_guess(
    client: &mut Client,
    (label, schema): (&str, &str),
    who: (&ReceiptNumber, &Guesser),
    kind: AttemptKind,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> Result<GuessGate, LedgerError> {
    if kind == AttemptKind::NotCounted {
        return gate_in(&mut PgGuesses { client, label }, who, kind, now, limit);
    }
    let err = |e| pg_err(label, "record a wrong code", e);
    let guesser = who.1;
    let client_key = lock_key(&["guess-client", schema, &guesser.client]);
    // Both locks as the transaction begins (one round trip), the account's
    // first: the same order for every guesser.
    let keys = match guesser.account.as_deref() {
        Some(a) => vec![lock_key(&["guess-account", schema, a]), client_key],
        None => vec![client_key],
    };
    let mut tx = LockedTx::begin(client, &keys).map_err(err)?;
    let gate = gate_in(
        &mut PgGuesses {
            client: &mut *tx,
            label,
        },
        who,
        kind,
        now,
        limit,
    )?;
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
