//! Which rule a failed chunk of issuances broke, asked of the database
//! after its rollback rather than parsed from the server's message.

use std::collections::{HashMap, HashSet};

use ::postgres::Client;

use super::rows::pg_err;
use crate::filing::IssuanceStatus;
use crate::ledger::{LedgerError, NewIssuance};

/// Works out which rule a failed chunk broke, after its rollback, by
/// asking the database rather than parsing the server's message. The
/// first offending row in chunk order is named.
pub(super) fn diagnose(
    client: &mut Client,
    label: &str,
    rows: &[NewIssuance],
    original: ::postgres::Error,
) -> LedgerError {
    let ledger = label.to_string();
    if let Some(e) = duplicate_within(&ledger, rows) {
        return e;
    }
    let receipts: Vec<&str> = rows.iter().map(|r| r.receipt.as_str()).collect();
    let pieces: Vec<&str> = rows.iter().map(|r| r.piece_id.as_str()).collect();
    let taken = client.query(
        "SELECT receipt, issue_no, piece_id, status FROM issuances \
         WHERE receipt = ANY($1) OR piece_id = ANY($2)",
        &[&receipts, &pieces],
    );
    let batches: Vec<&str> = rows.iter().map(|r| r.batch_id.as_str()).collect();
    let known = client.query(
        "SELECT batch_id FROM batches WHERE batch_id = ANY($1)",
        &[&batches],
    );
    let (Ok(taken), Ok(known)) = (taken, known) else {
        return pg_err(label, "record issuances", original);
    };
    let taken: Vec<(String, i32, String, String)> = taken
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let known: HashSet<String> = known.iter().map(|r| r.get(0)).collect();
    for row in rows {
        let receipt = row.receipt.as_str();
        let issue_no = i32::try_from(row.issue_no).unwrap_or(i32::MAX);
        if taken.iter().any(|t| t.0 == receipt && t.1 == issue_no) {
            return LedgerError::DuplicateIssuance {
                ledger,
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
            };
        }
        if taken.iter().any(|t| t.2 == row.piece_id) {
            return LedgerError::DuplicatePiece {
                ledger,
                piece_id: row.piece_id.clone(),
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
            };
        }
        let active = IssuanceStatus::Active.as_str();
        if let Some(t) = taken.iter().find(|t| t.0 == receipt && t.3 == active) {
            return LedgerError::AlreadyActive {
                ledger,
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
                active_issue_no: u32::try_from(t.1).unwrap_or(0),
            };
        }
        if !known.contains(&row.batch_id) {
            return LedgerError::UnknownBatch {
                ledger,
                batch_id: row.batch_id.clone(),
            };
        }
    }
    pg_err(label, "record issuances", original)
}

/// A chunk that breaks a uniqueness rule by itself, named the way the
/// database would have named it had the rows been inserted one by one.
pub(super) fn duplicate_within(ledger: &str, rows: &[NewIssuance]) -> Option<LedgerError> {
    let mut numbers = HashSet::new();
    let mut pieces = HashSet::new();
    let mut active: HashMap<&str, u32> = HashMap::new();
    for row in rows {
        if !numbers.insert((row.receipt.as_str(), row.issue_no)) {
            return Some(LedgerError::DuplicateIssuance {
                ledger: ledger.to_string(),
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
            });
        }
        if !pieces.insert(row.piece_id.as_str()) {
            return Some(LedgerError::DuplicatePiece {
                ledger: ledger.to_string(),
                piece_id: row.piece_id.clone(),
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
            });
        }
        if let Some(first) = active.insert(row.receipt.as_str(), row.issue_no) {
            return Some(LedgerError::AlreadyActive {
                ledger: ledger.to_string(),
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
                active_issue_no: first,
            });
        }
    }
    None
}
