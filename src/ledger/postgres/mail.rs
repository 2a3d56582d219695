//! The mail trail on PostgreSQL: the same statements as on SQLite (see
//! `sqlite/mail.rs`), with arrays for look-ups and one transaction per
//! import.

use std::collections::{BTreeMap, HashMap};

use ::postgres::{Client, Row, Transaction};
use chrono::{DateTime, NaiveDate, Utc};

use super::lifecycle::PgLife;
use super::rows::{damaged, get_u32, issuance_from_row, pg_err};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::life::{self, Answer, Change, ReturnStep};
use crate::ledger::mail::{
    event_from_parts, returned_reason, stored_count, DeliveredFile, Delivery, MailCounts,
    MailEvent, MailEventKind, MailImport, MailRecorded, PieceRef, REDEEMED_THEN_RETURNED_COUNT,
};
use crate::ledger::{Issuance, LedgerError, Sha256Hex, ISSUANCE_COLUMNS};

const PIECE_COLUMNS: &str =
    "i.piece_id, i.receipt, i.issue_no, i.batch_id, i.notice_date, i.imb_serial, i.status";

fn piece_from_row(label: &str, row: &Row) -> Result<PieceRef, LedgerError> {
    let bad = |e: ::postgres::Error| damaged(label, format!("a piece cannot be read: {e}"));
    let receipt: String = row.try_get("receipt").map_err(bad)?;
    let status: String = row.try_get("status").map_err(bad)?;
    let issue_no: i32 = row.try_get("issue_no").map_err(bad)?;
    let serial: Option<i64> = row.try_get("imb_serial").map_err(bad)?;
    Ok(PieceRef {
        piece_id: row.try_get("piece_id").map_err(bad)?,
        receipt: ReceiptNumber::parse(&receipt).map_err(|e| damaged(label, e))?,
        issue_no: u32::try_from(issue_no)
            .map_err(|_| damaged(label, format!("a negative issue number ({issue_no})")))?,
        batch_id: row.try_get("batch_id").map_err(bad)?,
        notice_date: row.try_get::<_, NaiveDate>("notice_date").map_err(bad)?,
        imb_serial: serial
            .map(|s| stored_count(label, "a barcode serial", s))
            .transpose()?,
        status: IssuanceStatus::parse(&status)
            .ok_or_else(|| damaged(label, format!("unknown status '{status}'")))?,
    })
}

pub(super) fn pieces(
    client: &mut Client,
    label: &str,
    ids: &[String],
) -> Result<HashMap<String, PieceRef>, LedgerError> {
    let rows = client
        .query(
            &format!("SELECT {PIECE_COLUMNS} FROM issuances i WHERE i.piece_id = ANY($1)"),
            &[&ids],
        )
        .map_err(|e| pg_err(label, "look up pieces", e))?;
    rows.iter()
        .map(|r| piece_from_row(label, r).map(|p| (p.piece_id.clone(), p)))
        .collect()
}

pub(super) fn pieces_by_serial(
    client: &mut Client,
    label: &str,
    serials: &[u64],
) -> Result<HashMap<u64, Vec<PieceRef>>, LedgerError> {
    let wanted: Vec<i64> = serials
        .iter()
        .filter_map(|s| i64::try_from(*s).ok())
        .collect();
    let rows = client
        .query(
            &format!(
                "SELECT {PIECE_COLUMNS} FROM issuances i WHERE i.imb_serial = ANY($1) \
                 ORDER BY i.id DESC"
            ),
            &[&wanted],
        )
        .map_err(|e| pg_err(label, "look up barcode serials", e))?;
    let mut found: HashMap<u64, Vec<PieceRef>> = HashMap::new();
    for row in &rows {
        let piece = piece_from_row(label, row)?;
        if let Some(serial) = piece.imb_serial {
            found.entry(serial).or_default().push(piece);
        }
    }
    Ok(found)
}

pub(super) fn record_mail(
    client: &mut Client,
    (label, schema): (&str, &str),
    import: &MailImport,
    events: impl Iterator<Item = Result<impl std::borrow::Borrow<MailEvent>, LedgerError>>,
    now: DateTime<Utc>,
) -> Result<MailRecorded, LedgerError> {
    let err = |e| pg_err(label, "record the imported mail events", e);
    let count = |n: u64| {
        i64::try_from(n).map_err(|_| damaged(label, format!("a count of {n} is too large")))
    };
    let mut tx = client.transaction().map_err(err)?;
    // Two imports of one file at once: the second waits, then finds the
    // first.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("mail-import {}", import.file_sha256.as_str())],
    )
    .map_err(err)?;
    let before = tx
        .query_opt(
            "SELECT imported_at, file_name FROM mail_imports WHERE kind = $1 AND file_sha256 = $2",
            &[&import.kind.as_str(), &import.file_sha256.as_str()],
        )
        .map_err(err)?;
    if let Some(row) = before {
        return Ok(MailRecorded::AlreadyImported {
            at: row.try_get(0).map_err(err)?,
            file_name: row.try_get(1).map_err(err)?,
        });
    }
    let import_id: i64 = tx
        .query_one(
            "INSERT INTO mail_imports (kind, file_sha256, file_name, imported_at, rows, \
             recorded, duplicates, unmatched, rejected) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7) RETURNING id",
            &[
                &import.kind.as_str(),
                &import.file_sha256.as_str(),
                &import.file_name,
                &now,
                &count(import.rows)?,
                &count(import.unmatched)?,
                &count(import.rejected)?,
            ],
        )
        .and_then(|r| r.try_get(0))
        .map_err(err)?;
    let mut store = PgLife {
        tx: &mut tx,
        label,
        schema,
        held: None,
    };
    let recorded = record_events(&mut store, import_id, events, now)?;
    if let MailRecorded::Recorded {
        recorded,
        duplicates,
        ..
    } = &recorded
    {
        tx.execute(
            "UPDATE mail_imports SET recorded = $2, duplicates = $3 WHERE id = $1",
            &[&import_id, &count(*recorded)?, &count(*duplicates)?],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(recorded)
}

/// Inserts the events of import `import_id` (an event already recorded is
/// counted, not added); each newly returned piece is a change of its
/// receipt, decided by the one rule ([`crate::ledger::life`]).
fn record_events(
    store: &mut PgLife<'_, Transaction<'_>>,
    import_id: i64,
    events: impl Iterator<Item = Result<impl std::borrow::Borrow<MailEvent>, LedgerError>>,
    now: DateTime<Utc>,
) -> Result<MailRecorded, LedgerError> {
    let label = store.label;
    let err = |e| pg_err(label, "record the imported mail events", e);
    let insert = store
        .tx
        .prepare(
            "INSERT INTO mail_events (piece_id, event, event_at, detail, import_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .map_err(err)?;
    let (mut recorded, mut duplicates) = (0u64, 0u64);
    let (mut stopped, mut after_redeemed) = (Vec::new(), Vec::new());
    for e in events {
        // An error reading the events returns before the commit: the
        // transaction is dropped, so nothing of the import is recorded.
        let e = e?;
        let e = e.borrow();
        let at = e.at.to_text();
        let row: [&(dyn ::postgres::types::ToSql + Sync); 5] =
            [&e.piece_id, &e.kind.as_str(), &at, &e.detail, &import_id];
        if store.tx.execute(&insert, &row).map_err(err)? == 0 {
            duplicates += 1;
            continue;
        }
        recorded += 1;
        if e.kind != MailEventKind::Returned {
            continue;
        }
        let Some((receipt, issue_no)) = piece_issue(store, &e.piece_id)? else {
            continue;
        };
        let reason = returned_reason(&e.detail, e.at);
        let change = Change::Return {
            issue_no,
            reason: &reason,
        };
        match life::change(store, &receipt, change, now)? {
            Answer::Return(ReturnStep::Stopped) => stopped.push((receipt, issue_no)),
            Answer::Return(ReturnStep::AfterRedeemed) => after_redeemed.push((receipt, issue_no)),
            _ => {}
        }
    }
    Ok(MailRecorded::Recorded {
        recorded,
        duplicates,
        stopped,
        after_redeemed,
    })
}

/// The receipt and issue of a piece, if the ledger knows it.
fn piece_issue(
    store: &mut PgLife<'_, Transaction<'_>>,
    piece_id: &str,
) -> Result<Option<(ReceiptNumber, u32)>, LedgerError> {
    let label = store.label;
    let row = store
        .tx
        .query_opt(
            "SELECT receipt, issue_no FROM issuances WHERE piece_id = $1",
            &[&piece_id],
        )
        .map_err(|e| pg_err(label, "find the returned piece", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let receipt: String = row
        .try_get(0)
        .map_err(|e| pg_err(label, "find the returned piece", e))?;
    let receipt = ReceiptNumber::parse(&receipt).map_err(|d| damaged(label, d))?;
    Ok(Some((receipt, get_u32(label, &row, "issue_no")?)))
}

/// Letters that came back after their code was redeemed, by receipt.
pub(super) fn redeemed_then_returned(
    client: &mut Client,
    label: &str,
) -> Result<Vec<Issuance>, LedgerError> {
    let rows = client
        .query(
            &format!(
                "SELECT {ISSUANCE_COLUMNS} FROM issuances i WHERE status = 'redeemed' \
                 AND EXISTS (SELECT 1 FROM mail_events e WHERE e.piece_id = i.piece_id \
                 AND e.event = 'returned') ORDER BY receipt, issue_no"
            ),
            &[],
        )
        .map_err(|e| pg_err(label, "list the letters returned after redemption", e))?;
    rows.iter().map(|r| issuance_from_row(label, r)).collect()
}

pub(super) fn mail_trail(
    client: &mut Client,
    label: &str,
    receipt: &ReceiptNumber,
) -> Result<Vec<MailEvent>, LedgerError> {
    let rows = client
        .query(
            "SELECT e.piece_id, e.event, e.event_at, e.detail FROM mail_events e \
             JOIN issuances i ON i.piece_id = e.piece_id WHERE i.receipt = $1 \
             ORDER BY e.event_at, e.id",
            &[&receipt.as_str()],
        )
        .map_err(|e| pg_err(label, "read the mail trail", e))?;
    rows.iter()
        .map(|r| {
            let kind: String = r.get(1);
            let at: String = r.get(2);
            event_from_parts(label, r.get(0), &kind, &at, r.get(3))
        })
        .collect()
}

pub(super) fn mail_counts(
    client: &mut Client,
    label: &str,
    batch_id: Option<&str>,
) -> Result<MailCounts, LedgerError> {
    let err = |e| pg_err(label, "count the mail trail", e);
    let rows = client
        .query(
            "SELECT e.event, COUNT(DISTINCT e.piece_id) FROM mail_events e \
             JOIN issuances i ON i.piece_id = e.piece_id \
             WHERE $1::TEXT IS NULL OR i.batch_id = $1 GROUP BY e.event",
            &[&batch_id],
        )
        .map_err(err)?;
    let mut by_kind = BTreeMap::new();
    for row in &rows {
        let kind: String = row.get(0);
        let n: i64 = row.get(1);
        let kind = MailEventKind::parse(&kind)
            .ok_or_else(|| damaged(label, format!("unknown mail event '{kind}'")))?;
        by_kind.insert(kind, stored_count(label, "pieces", n)?);
    }
    let flagged: i64 = client
        .query_one(
            &REDEEMED_THEN_RETURNED_COUNT.replace("PARAM", "$1::TEXT"),
            &[&batch_id],
        )
        .map_err(err)?
        .get(0);
    let deliveries: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM deliveries WHERE completed_at IS NOT NULL \
             AND ($1::TEXT IS NULL OR batch_id = $1)",
            &[&batch_id],
        )
        .map_err(err)?
        .get(0);
    // Unmatched scans belong to no batch: counted for the whole ledger only.
    let unmatched: i64 = match batch_id {
        Some(_) => 0,
        None => client
            .query_one(
                "SELECT COALESCE(SUM(unmatched), 0)::BIGINT FROM mail_imports WHERE kind = 'scans'",
                &[],
            )
            .map_err(err)?
            .get(0),
    };
    Ok(MailCounts {
        by_kind,
        deliveries: stored_count(label, "hand-offs", deliveries)?,
        unmatched_scans: stored_count(label, "unmatched scans", unmatched)?,
        redeemed_then_returned: stored_count(label, "returns after redemption", flagged)?,
    })
}

pub(super) fn returned_awaiting_reissue(
    client: &mut Client,
    label: &str,
) -> Result<Vec<Issuance>, LedgerError> {
    let rows = client
        .query(
            &format!(
                "SELECT {ISSUANCE_COLUMNS} FROM issuances i WHERE status = 'returned' \
                 AND NOT EXISTS (SELECT 1 FROM issuances j WHERE j.receipt = i.receipt \
                 AND j.issue_no > i.issue_no) ORDER BY status_changed_at, receipt"
            ),
            &[],
        )
        .map_err(|e| pg_err(label, "read the returns list", e))?;
    rows.iter().map(|r| issuance_from_row(label, r)).collect()
}

pub(super) fn unacknowledged(
    client: &mut Client,
    label: &str,
    delivered_before: DateTime<Utc>,
) -> Result<Vec<PieceRef>, LedgerError> {
    let rows = client
        .query(
            &format!(
                "SELECT {PIECE_COLUMNS} FROM issuances i JOIN (SELECT batch_id, \
                 MIN(completed_at) AS at FROM deliveries WHERE completed_at IS NOT NULL \
                 GROUP BY batch_id) d ON d.batch_id = i.batch_id WHERE d.at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM mail_events e WHERE e.piece_id = i.piece_id) \
                 ORDER BY i.batch_id, i.piece_id"
            ),
            &[&delivered_before],
        )
        .map_err(|e| pg_err(label, "list unacknowledged pieces", e))?;
    rows.iter().map(|r| piece_from_row(label, r)).collect()
}

pub(super) fn deliveries(
    client: &mut Client,
    label: &str,
    batch_id: &str,
) -> Result<Vec<Delivery>, LedgerError> {
    let err = |e| pg_err(label, "read the batch's hand-offs", e);
    let heads = client
        .query(
            "SELECT id, vendor, again, control_sha256, started_at, completed_at \
             FROM deliveries WHERE batch_id = $1 ORDER BY id",
            &[&batch_id],
        )
        .map_err(err)?;
    let digest = |text: String| {
        Sha256Hex::parse(&text)
            .map_err(|_| damaged(label, format!("a delivery digest '{text}' is not a sha256")))
    };
    let mut out = Vec::new();
    for head in &heads {
        let id: i64 = head.get(0);
        let files = client
            .query(
                "SELECT name, bytes, sha256 FROM delivery_files WHERE delivery_id = $1 \
                 ORDER BY name",
                &[&id],
            )
            .map_err(err)?;
        out.push(Delivery {
            id,
            batch_id: batch_id.to_string(),
            vendor: head.get(1),
            again: head.get(2),
            control_sha256: digest(head.get(3))?,
            started_at: head.get(4),
            completed_at: head.get(5),
            files: files
                .iter()
                .map(|f| {
                    Ok(DeliveredFile {
                        name: f.get(0),
                        bytes: stored_count(label, "a delivered file's bytes", f.get(1))?,
                        sha256: digest(f.get(2))?,
                    })
                })
                .collect::<Result<_, LedgerError>>()?,
        });
    }
    Ok(out)
}

pub(super) fn begin_delivery(
    client: &mut Client,
    label: &str,
    (batch_id, vendor, again): (&str, &str, bool),
    control_sha256: &Sha256Hex,
    now: DateTime<Utc>,
) -> Result<i64, LedgerError> {
    let row = client
        .query_one(
            "INSERT INTO deliveries (batch_id, vendor, again, control_sha256, started_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&batch_id, &vendor, &again, &control_sha256.as_str(), &now],
        )
        .map_err(|e| pg_err(label, "record the start of the hand-off", e))?;
    Ok(row.get(0))
}

pub(super) fn record_delivered_file(
    client: &mut Client,
    label: &str,
    delivery_id: i64,
    file: &DeliveredFile,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    let bytes = i64::try_from(file.bytes).unwrap_or(i64::MAX);
    client
        .execute(
            "INSERT INTO delivery_files (delivery_id, name, bytes, sha256, placed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_id, name) DO UPDATE SET \
             bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, placed_at = EXCLUDED.placed_at",
            &[
                &delivery_id,
                &file.name,
                &bytes,
                &file.sha256.as_str(),
                &now,
            ],
        )
        .map_err(|e| pg_err(label, "record a delivered file", e))?;
    Ok(())
}

pub(super) fn finish_delivery(
    client: &mut Client,
    label: &str,
    delivery_id: i64,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    client
        .execute(
            "UPDATE deliveries SET completed_at = $2 WHERE id = $1 AND completed_at IS NULL",
            &[&delivery_id, &now],
        )
        .map_err(|e| pg_err(label, "record the end of the hand-off", e))?;
    Ok(())
}
