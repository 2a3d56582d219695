//! A receipt's life on SQLite: the SQL of [`LifeStore`], run inside one
//! `BEGIN IMMEDIATE` transaction, which serialises every change of every
//! receipt (the rules are in [`crate::ledger::life`]).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::attempts::{gate_in, time_text};
use super::rows::{classify, insert_active, time_column};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::attempts::{AttemptKind, AttemptLimit, Gate};
use crate::ledger::life::{self, Answer, Change, End, Issue, Life, LifeStore};
use crate::ledger::redeem::{RedeemAsk, RedeemStep};
use crate::ledger::{LedgerError, NewIssuance};

/// [`LifeStore`] on a SQLite connection inside a write transaction.
pub(super) struct SqliteLife<'c> {
    pub conn: &'c Connection,
    pub label: &'c str,
}

impl SqliteLife<'_> {
    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |e| classify(self.label, action, e)
    }
}

impl LifeStore for SqliteLife<'_> {
    fn label(&self) -> &str {
        self.label
    }

    fn lock_and_read(&mut self, receipt: &ReceiptNumber) -> Result<Life, LedgerError> {
        let err = self.err("read the receipt's codes");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT issue_no, status, status_changed_at, redeemed_at, redeemed_by, \
                 unlinked_at FROM issuances WHERE receipt = ?1 ORDER BY issue_no",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([receipt.as_str()], |r| {
                let status: String = r.get("status")?;
                let status = IssuanceStatus::parse(&status).ok_or_else(|| {
                    super::rows::bad_column(1, format!("unknown status '{status}'"))
                })?;
                let redeemed_by: Option<String> = r.get("redeemed_by")?;
                Ok(Issue {
                    issue_no: r.get("issue_no")?,
                    status,
                    changed_at: time_column(r, "status_changed_at")?,
                    redeemed: time_column(r, "redeemed_at")?.zip(redeemed_by),
                    unlinked: time_column(r, "unlinked_at")?.is_some(),
                })
            })
            .map_err(&err)?;
        let issues = rows.collect::<Result<Vec<_>, _>>().map_err(&err)?;
        Ok(Life { issues })
    }

    fn end(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        end: End<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, LedgerError> {
        let (r, at) = (receipt.as_str(), time_text(now));
        let changed = match end {
            End::Superseded => self.conn.execute(
                "UPDATE issuances SET status = 'superseded', status_changed_at = ?3 \
                 WHERE receipt = ?1 AND issue_no = ?2 AND status = 'active'",
                params![r, issue_no, at],
            ),
            End::Revoked { reason } | End::Returned { reason } => self.conn.execute(
                "UPDATE issuances SET status = ?4, status_changed_at = ?3, status_reason = ?5 \
                 WHERE receipt = ?1 AND issue_no = ?2 AND status = 'active'",
                params![r, issue_no, at, end.status().as_str(), reason],
            ),
            End::Redeemed { account } => self.conn.execute(
                "UPDATE issuances SET status = 'redeemed', redeemed_at = ?3, \
                 redeemed_by = ?4, status_changed_at = ?3 \
                 WHERE receipt = ?1 AND issue_no = ?2 AND status = 'active'",
                params![r, issue_no, at, account],
            ),
        };
        Ok(changed.map_err(self.err("change the code's status"))? as u64)
    }

    fn unlink(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, LedgerError> {
        let changed = self
            .conn
            .execute(
                "UPDATE issuances SET unlinked_at = ?3, unlink_reason = ?4 \
                 WHERE receipt = ?1 AND issue_no = ?2 AND status = 'redeemed' \
                 AND unlinked_at IS NULL",
                params![receipt.as_str(), issue_no, time_text(now), reason],
            )
            .map_err(self.err("unlink the account"))?;
        Ok(changed as u64)
    }

    fn insert(&mut self, row: &NewIssuance, now: DateTime<Utc>) -> Result<(), LedgerError> {
        insert_active(self.label, self.conn, row, &time_text(now))
    }

    fn gate(
        &mut self,
        receipt: &ReceiptNumber,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<Gate, LedgerError> {
        gate_in(self.conn, self.label, receipt, kind, now, limit)
    }
}

/// One change of one receipt in its own write transaction.
pub(super) fn run(
    conn: &mut Connection,
    label: &str,
    receipt: &ReceiptNumber,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, LedgerError> {
    let err = |e| classify(label, "change the receipt's code", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let mut store = SqliteLife { conn: &tx, label };
    let answer = life::change(&mut store, receipt, change, now)?;
    tx.commit().map_err(err)?;
    Ok(answer)
}

/// One redemption inside the caller's write transaction.
pub(super) fn redeem_in(
    conn: &Connection,
    label: &str,
    ask: &RedeemAsk,
    limit: Option<AttemptLimit>,
) -> Result<RedeemStep, LedgerError> {
    let change = Change::Redeem {
        issue_no: ask.issue_no,
        account: &ask.account,
        limit,
    };
    let mut store = SqliteLife { conn, label };
    life::change(&mut store, &ask.receipt, change, ask.now)?.into_redeem(label)
}

/// Several redemptions in one write transaction, one commit (one sync to
/// disk) for all: each runs inside a savepoint, exactly as it runs alone,
/// so one that fails is undone alone and answered with its own error; asks
/// for one receipt are decided in order, each seeing the one before. The
/// outer error is the transaction's own (nothing committed).
pub(super) fn redeem_many(
    conn: &mut Connection,
    label: &str,
    asks: &[RedeemAsk],
    limit: Option<AttemptLimit>,
) -> Result<Vec<Result<RedeemStep, LedgerError>>, LedgerError> {
    let err = |e| classify(label, "redeem the codes", e);
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let mut steps = Vec::with_capacity(asks.len());
    for ask in asks {
        let sp = tx.savepoint().map_err(err)?;
        let step = redeem_in(&sp, label, ask, limit);
        if step.is_ok() {
            sp.commit().map_err(err)?;
        } // else: dropped, so rolled back to the savepoint.
        steps.push(step);
    }
    tx.commit().map_err(err)?;
    Ok(steps)
}
