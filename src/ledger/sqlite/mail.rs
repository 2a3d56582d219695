//! The mail trail on SQLite: pieces looked up for imports, imports recorded
//! in one `BEGIN IMMEDIATE` transaction, hand-offs to the vendor (the values
//! and rules are in [`crate::ledger::mail`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::attempts::{parse_time, time_text};
use super::lifecycle::SqliteLife;
use super::rows::{bad_column, classify, date_column, issuance_from_row};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::ledger::life::{self, Answer, Change, ReturnStep};
use crate::ledger::mail::{
    event_from_parts, returned_reason, stored_count, DeliveredFile, Delivery, MailCounts,
    MailEvent, MailEventKind, MailImport, MailRecorded, PieceRef, REDEEMED_THEN_RETURNED_COUNT,
};
use crate::ledger::{Issuance, LedgerError, Sha256Hex, ISSUANCE_COLUMNS};

const PIECE_COLUMNS: &str =
    "piece_id, receipt, issue_no, batch_id, notice_date, imb_serial, status";

fn piece_from_row(row: &Row<'_>) -> rusqlite::Result<PieceRef> {
    let receipt: String = row.get("receipt")?;
    let status: String = row.get("status")?;
    let serial: Option<i64> = row.get("imb_serial")?;
    Ok(PieceRef {
        piece_id: row.get("piece_id")?,
        receipt: ReceiptNumber::parse(&receipt).map_err(|e| bad_column(0, e))?,
        issue_no: row.get("issue_no")?,
        batch_id: row.get("batch_id")?,
        notice_date: date_column(row, "notice_date")?,
        imb_serial: serial.and_then(|s| u64::try_from(s).ok()),
        status: IssuanceStatus::parse(&status)
            .ok_or_else(|| bad_column(0, format!("unknown status '{status}'")))?,
    })
}

pub(super) fn pieces(
    conn: &Connection,
    label: &str,
    ids: &[String],
) -> Result<HashMap<String, PieceRef>, LedgerError> {
    let err = |e| classify(label, "look up pieces", e);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PIECE_COLUMNS} FROM issuances WHERE piece_id = ?1"
        ))
        .map_err(err)?;
    let mut found = HashMap::new();
    for id in ids {
        if let Some(p) = stmt
            .query_row([id], piece_from_row)
            .optional()
            .map_err(err)?
        {
            found.insert(id.clone(), p);
        }
    }
    Ok(found)
}

pub(super) fn pieces_by_serial(
    conn: &Connection,
    label: &str,
    serials: &[u64],
) -> Result<HashMap<u64, Vec<PieceRef>>, LedgerError> {
    let err = |e| classify(label, "look up barcode serials", e);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PIECE_COLUMNS} FROM issuances WHERE imb_serial = ?1 ORDER BY id DESC"
        ))
        .map_err(err)?;
    let mut found = HashMap::new();
    for &serial in serials {
        let Ok(s) = i64::try_from(serial) else {
            continue;
        };
        let rows = stmt
            .query_map([s], piece_from_row)
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        if !rows.is_empty() {
            found.insert(serial, rows);
        }
    }
    Ok(found)
}

pub(super) fn record_mail(
    conn: &mut Connection,
    label: &str,
    import: &MailImport,
    events: impl Iterator<Item = Result<impl std::borrow::Borrow<MailEvent>, LedgerError>>,
    now: DateTime<Utc>,
) -> Result<MailRecorded, LedgerError> {
    let err = |e| classify(label, "record the imported mail events", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let before: Option<(String, String)> = tx
        .query_row(
            "SELECT imported_at, file_name FROM mail_imports WHERE kind = ?1 AND file_sha256 = ?2",
            params![import.kind.as_str(), import.file_sha256.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?;
    if let Some((at, file_name)) = before {
        return Ok(MailRecorded::AlreadyImported {
            at: parse_time(label, &at)?,
            file_name,
        });
    }
    tx.execute(
        "INSERT INTO mail_imports (kind, file_sha256, file_name, imported_at, rows, recorded, \
         duplicates, unmatched, rejected) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?7)",
        params![
            import.kind.as_str(),
            import.file_sha256.as_str(),
            import.file_name,
            time_text(now),
            import.rows,
            import.unmatched,
            import.rejected
        ],
    )
    .map_err(err)?;
    let import_id = tx.last_insert_rowid();
    let recorded = record_events(&tx, label, import_id, events, now)?;
    if let MailRecorded::Recorded {
        recorded,
        duplicates,
        ..
    } = &recorded
    {
        tx.execute(
            "UPDATE mail_imports SET recorded = ?2, duplicates = ?3 WHERE id = ?1",
            params![import_id, recorded, duplicates],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(recorded)
}

/// Inserts the events of import `import_id` (an event already recorded is
/// counted, not added) and stops the code of each newly returned piece.
fn record_events(
    tx: &Connection,
    label: &str,
    import_id: i64,
    events: impl Iterator<Item = Result<impl std::borrow::Borrow<MailEvent>, LedgerError>>,
    now: DateTime<Utc>,
) -> Result<MailRecorded, LedgerError> {
    let err = |e| classify(label, "record the imported mail events", e);
    let (mut recorded, mut duplicates, mut stopped) = (0u64, 0u64, Vec::new());
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO mail_events (piece_id, event, event_at, detail, import_id) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .map_err(err)?;
    let mut stopped_after = Vec::new();
    for e in events {
        let e = e?;
        let e = e.borrow();
        let at = e.at.to_text();
        let row = params![e.piece_id, e.kind.as_str(), at, e.detail, import_id];
        if insert.execute(row).map_err(err)? == 0 {
            duplicates += 1;
            continue;
        }
        recorded += 1;
        if e.kind != MailEventKind::Returned {
            continue;
        }
        let reason = returned_reason(&e.detail, e.at);
        let Some((receipt, issue_no)) = piece_issue(tx, label, &e.piece_id)? else {
            continue;
        };
        let change = Change::Return {
            issue_no,
            reason: &reason,
        };
        let mut store = SqliteLife { conn: tx, label };
        match life::change(&mut store, &receipt, change, now)? {
            Answer::Return(ReturnStep::Stopped) => stopped.push((receipt, issue_no)),
            Answer::Return(ReturnStep::AfterRedeemed) => stopped_after.push((receipt, issue_no)),
            _ => {}
        }
    }
    Ok(MailRecorded::Recorded {
        recorded,
        duplicates,
        stopped,
        after_redeemed: stopped_after,
    })
}

pub(super) fn mail_trail(
    conn: &Connection,
    label: &str,
    receipt: &ReceiptNumber,
) -> Result<Vec<MailEvent>, LedgerError> {
    let err = |e| classify(label, "read the mail trail", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT e.piece_id, e.event, e.event_at, e.detail FROM mail_events e \
             JOIN issuances i ON i.piece_id = e.piece_id WHERE i.receipt = ?1 \
             ORDER BY e.event_at, e.id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([receipt.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    rows.into_iter()
        .map(|(piece_id, kind, at, detail)| event_from_parts(label, piece_id, &kind, &at, detail))
        .collect()
}

pub(super) fn mail_counts(
    conn: &Connection,
    label: &str,
    batch_id: Option<&str>,
) -> Result<MailCounts, LedgerError> {
    let err = |e| classify(label, "count the mail trail", e);
    let mut by_kind = BTreeMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT e.event, COUNT(DISTINCT e.piece_id) FROM mail_events e \
             JOIN issuances i ON i.piece_id = e.piece_id \
             WHERE ?1 IS NULL OR i.batch_id = ?1 GROUP BY e.event",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([batch_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(err)?;
    for row in rows {
        let (kind, n) = row.map_err(err)?;
        let kind = MailEventKind::parse(&kind).ok_or_else(|| LedgerError::Damaged {
            ledger: label.to_string(),
            detail: format!("unknown mail event '{kind}'"),
        })?;
        by_kind.insert(kind, stored_count(label, "pieces", n)?);
    }
    let flagged: i64 = conn
        .query_row(
            &REDEEMED_THEN_RETURNED_COUNT.replace("PARAM", "?1"),
            [batch_id],
            |r| r.get(0),
        )
        .map_err(err)?;
    let deliveries: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM deliveries WHERE completed_at IS NOT NULL \
             AND (?1 IS NULL OR batch_id = ?1)",
            [batch_id],
            |r| r.get(0),
        )
        .map_err(err)?;
    // Unmatched scans belong to no batch: counted for the whole ledger only.
    let unmatched: i64 = match batch_id {
        Some(_) => 0,
        None => conn
            .query_row(
                "SELECT COALESCE(SUM(unmatched), 0) FROM mail_imports WHERE kind = 'scans'",
                [],
                |r| r.get(0),
            )
            .map_err(err)?,
    };
    Ok(MailCounts {
        by_kind,
        deliveries: stored_count(label, "hand-offs", deliveries)?,
        unmatched_scans: stored_count(label, "unmatched scans", unmatched)?,
        redeemed_then_returned: stored_count(label, "returns after redemption", flagged)?,
    })
}

pub(super) fn returned_awaiting_reissue(
    conn: &Connection,
    label: &str,
) -> Result<Vec<Issuance>, LedgerError> {
    let err = |e| classify(label, "read the returns list", e);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ISSUANCE_COLUMNS} FROM issuances i WHERE status = 'returned' \
             AND NOT EXISTS (SELECT 1 FROM issuances j WHERE j.receipt = i.receipt \
             AND j.issue_no > i.issue_no) ORDER BY status_changed_at, receipt"
        ))
        .map_err(err)?;
    let rows = stmt.query_map([], issuance_from_row).map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

pub(super) fn unacknowledged(
    conn: &Connection,
    label: &str,
    delivered_before: DateTime<Utc>,
) -> Result<Vec<PieceRef>, LedgerError> {
    let err = |e| classify(label, "list unacknowledged pieces", e);
    let columns = PIECE_COLUMNS
        .split(", ")
        .map(|c| format!("i.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM issuances i JOIN (SELECT batch_id, MIN(completed_at) AS at \
             FROM deliveries WHERE completed_at IS NOT NULL GROUP BY batch_id) d \
             ON d.batch_id = i.batch_id WHERE d.at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM mail_events e WHERE e.piece_id = i.piece_id) \
             ORDER BY i.batch_id, i.piece_id"
        ))
        .map_err(err)?;
    let rows = stmt
        .query_map([time_text(delivered_before)], piece_from_row)
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

pub(super) fn deliveries(
    conn: &Connection,
    label: &str,
    batch_id: &str,
) -> Result<Vec<Delivery>, LedgerError> {
    let err = |e| classify(label, "read the batch's hand-offs", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, vendor, again, control_sha256, started_at, completed_at \
             FROM deliveries WHERE batch_id = ?1 ORDER BY id",
        )
        .map_err(err)?;
    type Head = (i64, String, bool, String, String, Option<String>);
    let heads: Vec<Head> = stmt
        .query_map([batch_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut files = conn
        .prepare_cached(
            "SELECT name, bytes, sha256 FROM delivery_files WHERE delivery_id = ?1 ORDER BY name",
        )
        .map_err(err)?;
    let digest = |text: String| {
        Sha256Hex::parse(&text).map_err(|_| LedgerError::Damaged {
            ledger: label.to_string(),
            detail: format!("a delivery digest '{text}' is not a sha256"),
        })
    };
    let mut out = Vec::new();
    for (id, vendor, again, control, started, completed) in heads {
        let placed: Vec<(String, i64, String)> = files
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        out.push(Delivery {
            id,
            batch_id: batch_id.to_string(),
            vendor,
            again,
            control_sha256: digest(control)?,
            started_at: parse_time(label, &started)?,
            completed_at: completed.map(|t| parse_time(label, &t)).transpose()?,
            files: placed
                .into_iter()
                .map(|(name, bytes, sha)| {
                    Ok(DeliveredFile {
                        name,
                        bytes: stored_count(label, "a delivered file's bytes", bytes)?,
                        sha256: digest(sha)?,
                    })
                })
                .collect::<Result<_, LedgerError>>()?,
        });
    }
    Ok(out)
}

pub(super) fn begin_delivery(
    conn: &mut Connection,
    label: &str,
    (batch_id, vendor, again): (&str, &str, bool),
    control_sha256: &Sha256Hex,
    now: DateTime<Utc>,
) -> Result<i64, LedgerError> {
    let err = |e| classify(label, "record the start of the hand-off", e);
    conn.execute(
        "INSERT INTO deliveries (batch_id, vendor, again, control_sha256, started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            batch_id,
            vendor,
            again,
            control_sha256.as_str(),
            time_text(now)
        ],
    )
    .map_err(err)?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn record_delivered_file(
    conn: &Connection,
    label: &str,
    delivery_id: i64,
    file: &DeliveredFile,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    conn.execute(
        "INSERT INTO delivery_files (delivery_id, name, bytes, sha256, placed_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (delivery_id, name) DO UPDATE SET \
         bytes = excluded.bytes, sha256 = excluded.sha256, placed_at = excluded.placed_at",
        params![
            delivery_id,
            file.name,
            file.bytes,
            file.sha256.as_str(),
            time_text(now)
        ],
    )
    .map_err(|e| classify(label, "record a delivered file", e))?;
    Ok(())
}

pub(super) fn finish_delivery(
    conn: &Connection,
    label: &str,
    delivery_id: i64,
    now: DateTime<Utc>,
) -> Result<(), LedgerError> {
    conn.execute(
        "UPDATE deliveries SET completed_at = ?2 WHERE id = ?1 AND completed_at IS NULL",
        params![delivery_id, time_text(now)],
    )
    .map_err(|e| classify(label, "record the end of the hand-off", e))?;
    Ok(())
}

/// The receipt and issue of a piece, if the ledger knows it.
fn piece_issue(
    tx: &Connection,
    label: &str,
    piece_id: &str,
) -> Result<Option<(ReceiptNumber, u32)>, LedgerError> {
    let err = |e| classify(label, "find the returned piece", e);
    let row: Option<(String, u32)> = tx
        .query_row(
            "SELECT receipt, issue_no FROM issuances WHERE piece_id = ?1",
            [piece_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?;
    row.map(|(receipt, issue_no)| {
        let receipt = ReceiptNumber::parse(&receipt).map_err(|d| LedgerError::Damaged {
            ledger: label.to_string(),
            detail: d,
        })?;
        Ok((receipt, issue_no))
    })
    .transpose()
}

/// Letters that came back after their code was redeemed, by receipt.
pub(super) fn redeemed_then_returned(
    conn: &Connection,
    label: &str,
) -> Result<Vec<Issuance>, LedgerError> {
    let err = |e| classify(label, "list the letters returned after redemption", e);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ISSUANCE_COLUMNS} FROM issuances i WHERE status = 'redeemed' \
             AND EXISTS (SELECT 1 FROM mail_events e WHERE e.piece_id = i.piece_id \
             AND e.event = 'returned') ORDER BY receipt, issue_no"
        ))
        .map_err(err)?;
    let rows = stmt.query_map([], issuance_from_row).map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}
