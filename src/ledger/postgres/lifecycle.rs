//! A code's life after the envelope on PostgreSQL: redeem and revoke, each
//! one transaction under a per-receipt advisory lock (the rules are in
//! [`crate::ledger::redeem`]).

use ::postgres::types::Type;
use ::postgres::Client;
use chrono::{DateTime, Utc};

use super::rows::pg_err;
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::attempts::{AttemptKind, AttemptLimit, Gate};
use crate::ledger::redeem::{redeem_action, RedeemAction, RedeemStep, Revocation};
use crate::ledger::LedgerError;

pub(super) fn redeem(
    client: &mut Client,
    label: &str,
    key: i64,
    (receipt, issue_no): (&ReceiptNumber, u32),
    account: &str,
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<RedeemStep, LedgerError> {
    let label = label.to_string();
    let issue = i32::try_from(issue_no).unwrap_or(i32::MAX);
    let mut run = || -> Result<Result<RedeemStep, LedgerError>, ::postgres::Error> {
        let mut tx = client.transaction()?;
        // Typed statements: one round trip each, no prepared statement.
        tx.execute_typed("SELECT pg_advisory_xact_lock($1)", &[(&key, Type::INT8)])?;
        let (open, row) = gate_and_issuance(&mut tx, (receipt, issue), now, limit)?;
        if let Gate::Locked { until } = open {
            tx.commit()?;
            return Ok(Ok(RedeemStep::Locked { until }));
        }
        let Some(row) = row else {
            return Ok(Err(LedgerError::NoSuchIssuance {
                ledger: label.clone(),
                receipt: receipt.clone(),
                issue_no,
            }));
        };
        let status_text: String = row.try_get("status")?;
        let Some(status) = IssuanceStatus::parse(&status_text) else {
            return Ok(Err(LedgerError::Damaged {
                ledger: label.clone(),
                detail: format!("unknown status '{status_text}'"),
            }));
        };
        let at: Option<DateTime<Utc>> = row.try_get("redeemed_at")?;
        let by: Option<String> = row.try_get("redeemed_by")?;
        let action = redeem_action(status, at.zip(by.as_deref()), account);
        let mut gate = None;
        match action {
            RedeemAction::Mark => {
                tx.execute_typed(
                    "UPDATE issuances SET status = 'redeemed', redeemed_at = $3, \
                     redeemed_by = $4, status_changed_at = $3 \
                     WHERE receipt = $1 AND issue_no = $2 AND status = 'active'",
                    &[
                        (&receipt.as_str(), Type::TEXT),
                        (&issue, Type::INT4),
                        (&now, Type::TIMESTAMPTZ),
                        (&account, Type::TEXT),
                    ],
                )?;
            }
            RedeemAction::Other(_) => {
                let wrong = AttemptKind::Wrong;
                gate = Some(super::attempts::gate_in(
                    &mut tx, receipt, wrong, now, limit,
                )?);
            }
            RedeemAction::Again(_) | RedeemAction::NotLive(_) => {}
        }
        let step = action.step(now, gate);
        tx.commit()?;
        Ok(Ok(step))
    };
    run().map_err(|e| pg_err(&label, "redeem the code", e))?
}

/// The gate of a redemption (counting nothing) and the issuance row,
/// locked for update: the receipt's lock and wrong codes and the issuance
/// in one round trip (the advisory lock is held, so nothing changes them).
fn gate_and_issuance(
    tx: &mut ::postgres::Transaction<'_>,
    (receipt, issue): (&ReceiptNumber, i32),
    now: DateTime<Utc>,
    limit: AttemptLimit,
) -> Result<(Gate, Option<::postgres::Row>), ::postgres::Error> {
    let row = tx.query_typed_opt(
        "SELECT (SELECT MAX(locked_until) FROM verify_locks WHERE receipt = $1) \
                AS locked_until, \
                (SELECT COUNT(*) FROM verify_attempts WHERE receipt = $1 \
                   AND outcome IN ('wrong', 'mistyped') AND attempted_at > $3) AS wrong, \
                i.status, i.redeemed_at, i.redeemed_by \
         FROM issuances i WHERE i.receipt = $1 AND i.issue_no = $2 FOR UPDATE OF i",
        &[
            (&receipt.as_str(), Type::TEXT),
            (&issue, Type::INT4),
            (&(now - limit.window), Type::TIMESTAMPTZ),
        ],
    )?;
    let kind = AttemptKind::NotCounted;
    let open = match &row {
        Some(r) => {
            let wrong: i64 = r.try_get("wrong")?;
            let state = (
                r.try_get("locked_until")?,
                u32::try_from(wrong).unwrap_or(u32::MAX),
            );
            super::attempts::apply(tx, receipt, kind, state, now, limit)?
        }
        None => super::attempts::gate_in(tx, receipt, kind, now, limit)?,
    };
    Ok((open, row))
}

pub(super) fn revoke(
    client: &mut Client,
    label: &str,
    key: i64,
    receipt: &ReceiptNumber,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Revocation, LedgerError> {
    let label = label.to_string();
    let mut run = || -> Result<Result<Revocation, LedgerError>, ::postgres::Error> {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
        let latest = tx.query_opt(
            "SELECT issue_no, status, status_changed_at FROM issuances \
             WHERE receipt = $1 ORDER BY issue_no DESC LIMIT 1 FOR UPDATE",
            &[&receipt.as_str()],
        )?;
        let Some(latest) = latest else {
            return Ok(Ok(Revocation::NeverIssued));
        };
        let issue: i32 = latest.try_get("issue_no")?;
        let issue_no = u32::try_from(issue).unwrap_or(0);
        let status_text: String = latest.try_get("status")?;
        let Some(status) = IssuanceStatus::parse(&status_text) else {
            return Ok(Err(LedgerError::Damaged {
                ledger: label.clone(),
                detail: format!("unknown status '{status_text}'"),
            }));
        };
        if status != IssuanceStatus::Active {
            return Ok(Ok(Revocation::NothingLive {
                issue_no,
                status,
                since: latest.try_get("status_changed_at")?,
            }));
        }
        tx.execute(
            "UPDATE issuances SET status = 'revoked', status_changed_at = $3, \
             status_reason = $4 WHERE receipt = $1 AND issue_no = $2 AND status = 'active'",
            &[&receipt.as_str(), &issue, &now, &reason],
        )?;
        tx.commit()?;
        Ok(Ok(Revocation::Revoked { issue_no, at: now }))
    };
    run().map_err(|e| pg_err(&label, "revoke the code", e))?
}
