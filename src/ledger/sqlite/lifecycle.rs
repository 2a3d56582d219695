//! A code's life after the envelope on SQLite: redeem and revoke, each one
//! `BEGIN IMMEDIATE` transaction (the rules are in [`crate::ledger::redeem`]).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::attempts::{gate_in, parse_time, time_text};
use super::rows::classify;
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::attempts::{AttemptKind, AttemptLimit, Gate};
use crate::ledger::redeem::{redeem_action, RedeemAction, RedeemAsk, RedeemStep, Revocation};
use crate::ledger::LedgerError;

pub(super) fn redeem(
    conn: &mut Connection,
    label: &str,
    ask: &RedeemAsk,
    limit: AttemptLimit,
) -> Result<RedeemStep, LedgerError> {
    let err = |e| classify(label, "redeem the code", e);
    // One write transaction: redemptions and attempts on the ledger
    // queue behind each other, so exactly one account can win.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let step = redeem_in(&tx, label, ask, limit)?;
    tx.commit().map_err(err)?;
    Ok(step)
}

/// Several redemptions in one write transaction, one commit (one sync to
/// disk) for all: each runs inside a savepoint, exactly as [`redeem`] runs
/// it alone, so one that fails is undone alone and answered with its own
/// error; asks for one receipt are decided in order, each seeing the one
/// before. The outer error is the transaction's own (nothing committed).
pub(super) fn redeem_many(
    conn: &mut Connection,
    label: &str,
    asks: &[RedeemAsk],
    limit: AttemptLimit,
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

/// One redemption inside the caller's write transaction.
fn redeem_in(
    tx: &Connection,
    label: &str,
    ask: &RedeemAsk,
    limit: AttemptLimit,
) -> Result<RedeemStep, LedgerError> {
    let err = |e| classify(label, "redeem the code", e);
    let (receipt, issue_no, now) = (&ask.receipt, ask.issue_no, ask.now);
    let open = gate_in(tx, label, receipt, AttemptKind::NotCounted, now, limit)?;
    if let Gate::Locked { until } = open {
        return Ok(RedeemStep::Locked { until });
    }
    let row: Option<(String, Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT status, redeemed_at, redeemed_by FROM issuances \
             WHERE receipt = ?1 AND issue_no = ?2",
            params![receipt.as_str(), issue_no],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(err)?;
    let Some((status, at, by)) = row else {
        return Err(LedgerError::NoSuchIssuance {
            ledger: label.to_string(),
            receipt: receipt.clone(),
            issue_no,
        });
    };
    let damaged = |detail: String| LedgerError::Damaged {
        ledger: label.to_string(),
        detail,
    };
    let status = IssuanceStatus::parse(&status)
        .ok_or_else(|| damaged(format!("unknown status '{status}'")))?;
    let at = at.map(|t| parse_time(label, &t)).transpose()?;
    let action = redeem_action(status, at.zip(by.as_deref()), &ask.account);
    let mut gate = None;
    match action {
        RedeemAction::Mark => {
            tx.execute(
                "UPDATE issuances SET status = 'redeemed', redeemed_at = ?3, \
                 redeemed_by = ?4, status_changed_at = ?3 \
                 WHERE receipt = ?1 AND issue_no = ?2 AND status = 'active'",
                params![receipt.as_str(), issue_no, time_text(now), ask.account],
            )
            .map_err(err)?;
        }
        RedeemAction::Other(_) => {
            let wrong = AttemptKind::Wrong;
            gate = Some(gate_in(tx, label, receipt, wrong, now, limit)?);
        }
        RedeemAction::Again(_) | RedeemAction::NotLive(_) => {}
    }
    Ok(action.step(now, gate))
}

pub(super) fn revoke(
    conn: &mut Connection,
    label: &str,
    receipt: &ReceiptNumber,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Revocation, LedgerError> {
    let label = label.to_string();
    let err = |e| classify(&label, "revoke the code", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let latest: Option<(u32, String, Option<String>)> = tx
        .query_row(
            "SELECT issue_no, status, status_changed_at FROM issuances \
             WHERE receipt = ?1 ORDER BY issue_no DESC LIMIT 1",
            [receipt.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(err)?;
    let Some((issue_no, status, since)) = latest else {
        return Ok(Revocation::NeverIssued);
    };
    let status = IssuanceStatus::parse(&status).ok_or_else(|| LedgerError::Damaged {
        ledger: label.clone(),
        detail: format!("unknown status '{status}'"),
    })?;
    if status != IssuanceStatus::Active {
        let since = since.map(|t| parse_time(&label, &t)).transpose()?;
        return Ok(Revocation::NothingLive {
            issue_no,
            status,
            since,
        });
    }
    tx.execute(
        "UPDATE issuances SET status = 'revoked', status_changed_at = ?3, status_reason = ?4 \
         WHERE receipt = ?1 AND issue_no = ?2 AND status = 'active'",
        params![receipt.as_str(), issue_no, time_text(now), reason],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(Revocation::Revoked { issue_no, at: now })
}
