//! A receipt's life on PostgreSQL: the SQL of [`LifeStore`], run inside one
//! transaction that first takes the receipt's advisory lock, the one lock
//! every path that changes a receipt takes (the rules are in
//! [`crate::ledger::life`]).

use ::postgres::types::Type;
use ::postgres::{Client, GenericClient};
use chrono::{DateTime, Utc};

use super::lock_key;
use super::locked::LockedTx;
use super::rows::{damaged, pg_err};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::attempts::{AttemptKind, AttemptLimit, Gate};
use crate::ledger::life::{self, Answer, Change, End, Issue, Life, LifeStore};
use crate::ledger::{LedgerError, NewIssuance};

/// The advisory lock key of one receipt: taken by redeem, reissue, revoke,
/// return, unlink and every counted attempt.
pub(super) fn receipt_lock(schema: &str, receipt: &ReceiptNumber) -> i64 {
    lock_key(&["receipt", schema, receipt.as_str()])
}

/// An active code ends (superseded, revoked, returned), with its reason.
const END_SQL: &str = "UPDATE issuances SET status = $4, status_changed_at = $3, \
     status_reason = $5 WHERE receipt = $1 AND issue_no = $2 AND status = 'active'";

/// [`LifeStore`] on a PostgreSQL transaction.
pub(super) struct PgLife<'a, C> {
    pub tx: &'a mut C,
    pub label: &'a str,
    pub schema: &'a str,
    /// The receipt lock the transaction took as it began
    /// ([`LockedTx::begin`]), which `lock_and_read` need not take again.
    pub held: Option<i64>,
}

impl<'a, C> PgLife<'a, C> {
    fn err(&self, action: &'static str) -> impl Fn(::postgres::Error) -> LedgerError + 'a {
        let label = self.label;
        move |e| pg_err(label, action, e)
    }
}

impl<C: GenericClient> LifeStore for PgLife<'_, C> {
    fn label(&self) -> &str {
        self.label
    }

    fn lock_and_read(&mut self, receipt: &ReceiptNumber) -> Result<Life, LedgerError> {
        let key = receipt_lock(self.schema, receipt);
        let label = self.label;
        let err = |e| pg_err(label, "read the receipt's codes", e);
        // Its own statement: a read in the same statement as the lock would
        // see the snapshot taken before the lock was granted.
        if self.held != Some(key) {
            self.tx
                .execute_typed("SELECT pg_advisory_xact_lock($1)", &[(&key, Type::INT8)])
                .map_err(err)?;
        }
        let rows = self
            .tx
            .query_typed(
                "SELECT issue_no, status, status_changed_at, redeemed_at, redeemed_by, \
                 unlinked_at FROM issuances WHERE receipt = $1 ORDER BY issue_no",
                &[(&receipt.as_str(), Type::TEXT)],
            )
            .map_err(err)?;
        let mut issues = Vec::with_capacity(rows.len());
        for r in &rows {
            let status: String = r.try_get("status").map_err(err)?;
            let status = IssuanceStatus::parse(&status)
                .ok_or_else(|| damaged(label, format!("unknown status '{status}'")))?;
            let redeemed_at: Option<DateTime<Utc>> = r.try_get("redeemed_at").map_err(err)?;
            let redeemed_by: Option<String> = r.try_get("redeemed_by").map_err(err)?;
            let unlinked_at: Option<DateTime<Utc>> = r.try_get("unlinked_at").map_err(err)?;
            issues.push(Issue {
                issue_no: super::rows::get_u32(label, r, "issue_no")?,
                status,
                changed_at: r.try_get("status_changed_at").map_err(err)?,
                redeemed: redeemed_at.zip(redeemed_by),
                unlinked: unlinked_at.is_some(),
            });
        }
        Ok(Life { issues })
    }

    fn end(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        end: End<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, LedgerError> {
        let issue = pg_issue(self.label, issue_no)?;
        let (r, status) = (receipt.as_str(), end.status().as_str());
        // The other end's text: a status reason, or the redeeming account.
        let (sql, text) = match end {
            // An active row has no status reason: a supersession keeps none.
            End::Superseded => (END_SQL, None),
            End::Revoked { reason } | End::Returned { reason } => (END_SQL, Some(reason)),
            End::Redeemed { account } => (
                "UPDATE issuances SET status = $4, redeemed_at = $3, redeemed_by = $5, \
                 status_changed_at = $3 \
                 WHERE receipt = $1 AND issue_no = $2 AND status = 'active'",
                Some(account),
            ),
        };
        let params: [(&(dyn ::postgres::types::ToSql + Sync), Type); 5] = [
            (&r, Type::TEXT),
            (&issue, Type::INT4),
            (&now, Type::TIMESTAMPTZ),
            (&status, Type::TEXT),
            (&text, Type::TEXT),
        ];
        self.tx
            .execute_typed(sql, &params)
            .map_err(self.err("change the code's status"))
    }

    fn unlink(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, LedgerError> {
        let issue = pg_issue(self.label, issue_no)?;
        self.tx
            .execute(
                "UPDATE issuances SET unlinked_at = $3, unlink_reason = $4 \
                 WHERE receipt = $1 AND issue_no = $2 AND status = 'redeemed' \
                 AND unlinked_at IS NULL",
                &[&receipt.as_str(), &issue, &now, &reason],
            )
            .map_err(self.err("unlink the account"))
    }

    fn insert(&mut self, row: &NewIssuance, now: DateTime<Utc>) -> Result<(), LedgerError> {
        super::rows::copy_rows(self.tx, std::slice::from_ref(row), now)
            .map_err(|e| pg_err(self.label, "record the reissue", e))
    }

    fn gate(
        &mut self,
        receipt: &ReceiptNumber,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<Gate, LedgerError> {
        super::attempts::gate_in(self.tx, receipt, kind, now, limit)
            .map_err(|e| pg_err(self.label, "count a verify attempt", e))
    }
}

/// An issue number as the server stores it.
fn pg_issue(label: &str, issue_no: u32) -> Result<i32, LedgerError> {
    i32::try_from(issue_no).map_err(|_| {
        damaged(
            label,
            format!("issue number {issue_no} is too large to store"),
        )
    })
}

/// One change of one receipt in its own transaction, which begins holding
/// the receipt's lock (one round trip for both).
pub(super) fn run(
    client: &mut Client,
    (label, schema): (&str, &str),
    receipt: &ReceiptNumber,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, LedgerError> {
    let key = receipt_lock(schema, receipt);
    let mut tx = LockedTx::begin(client, &[key])
        .map_err(|e| pg_err(label, "start a change of the receipt", e))?;
    let mut store = PgLife {
        tx: &mut *tx,
        label,
        schema,
        held: Some(key),
    };
    // On an error the transaction is dropped, so rolled back.
    let answer = life::change(&mut store, receipt, change, now)?;
    tx.commit()
        .map_err(|e| pg_err(label, "commit the change of the receipt", e))?;
    Ok(answer)
}
