//! Between Rust values and SQLite rows: inserts, reads, and SQLite errors
//! turned into sentences about the ledger.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};

use crate::code::Fingerprint;
use crate::filing::{Filing, IssuanceStatus, ReceiptNumber};

use crate::ledger::types::mode_of_column;
use crate::ledger::PrintedLetter;
use crate::ledger::{
    parse_form, BatchKind, BatchRecord, Issuance, LedgerError, LetterProof, NewIssuance,
    Redemption, Unlink,
};
use crate::letter_proof::{ProofKind, Sha256Hex};

/// Dates are stored as ISO text so the file reads well in any SQLite tool.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// Inserts one active row inside the caller's transaction; a constraint
/// failure is diagnosed into the error that says which rule was broken.
pub(super) fn insert_active(
    label: &str,
    conn: &Connection,
    row: &NewIssuance,
    recorded_at: &str,
) -> Result<(), LedgerError> {
    // A Filing is plain strings and dates: encoding it cannot fail.
    let filing_json = serde_json::to_string(&row.filing).expect("a filing serialises");
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO issuances (receipt, issue_no, form, batch_id, piece_id, key_id, \
             fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, \
             zip5, zip4, filing_json, reason, forced, status, recorded_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, 'active', ?19)",
        )
        .map_err(|e| classify(label, "prepare to record issuances", e))?;
    let result = stmt.execute(params![
        row.receipt.as_str(),
        row.issue_no,
        row.form.code(),
        row.batch_id,
        row.piece_id,
        row.key_id,
        row.fingerprint.as_str(),
        date_text(row.notice_date),
        date_text(row.expires_on),
        row.proof.kind().as_str(),
        row.proof.digest().map(Sha256Hex::as_str),
        row.pages,
        row.imb_serial,
        row.filing.address.zip5,
        row.filing.address.zip4,
        filing_json,
        row.reason,
        row.forced,
        recorded_at,
    ]);
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            Err(diagnose_constraint(label, conn, row, e))
        }
        Err(e) => Err(classify(label, "record issuances", e)),
    }
}

/// Works out which rule an insert broke by asking the database, inside the
/// still-open transaction (SQLite undoes only the failed statement), rather
/// than parsing SQLite's message text.
fn diagnose_constraint(
    label: &str,
    conn: &Connection,
    row: &NewIssuance,
    original: rusqlite::Error,
) -> LedgerError {
    let ledger = label.to_string();
    let exists = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Option<Option<i64>> {
        conn.query_row(sql, p, |r| r.get::<_, i64>(0))
            .optional()
            .ok()
    };
    let receipt = row.receipt.as_str();
    if let Some(Some(_)) = exists(
        "SELECT 1 FROM issuances WHERE receipt = ?1 AND issue_no = ?2",
        &[&receipt, &row.issue_no],
    ) {
        return LedgerError::DuplicateIssuance {
            ledger,
            receipt: row.receipt.clone(),
            issue_no: row.issue_no,
        };
    }
    if let Some(Some(_)) = exists(
        "SELECT 1 FROM issuances WHERE piece_id = ?1",
        &[&row.piece_id],
    ) {
        return LedgerError::DuplicatePiece {
            ledger,
            piece_id: row.piece_id.clone(),
            receipt: row.receipt.clone(),
            issue_no: row.issue_no,
        };
    }
    if let Some(Some(active)) = exists(
        "SELECT issue_no FROM issuances WHERE receipt = ?1 AND status = 'active'",
        &[&receipt],
    ) {
        return LedgerError::AlreadyActive {
            ledger,
            receipt: row.receipt.clone(),
            issue_no: row.issue_no,
            active_issue_no: u32::try_from(active).unwrap_or(0),
        };
    }
    if let Some(None) = exists(
        "SELECT 1 FROM batches WHERE batch_id = ?1",
        &[&row.batch_id],
    ) {
        return LedgerError::UnknownBatch {
            ledger,
            batch_id: row.batch_id.clone(),
        };
    }
    classify(label, "record issuances", original)
}

/// Stages what was printed in `temp.printed_now` (emptied first); returns
/// how many letters were staged.
fn stage_printed(
    conn: &Connection,
    printed: &mut dyn Iterator<Item = PrintedLetter>,
) -> rusqlite::Result<u64> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS printed_now \
         (piece_id TEXT PRIMARY KEY, digest TEXT NOT NULL, pages INTEGER NOT NULL) \
         WITHOUT ROWID; \
         DELETE FROM temp.printed_now;",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO temp.printed_now (piece_id, digest, pages) VALUES (?1, ?2, ?3)",
    )?;
    let mut staged = 0u64;
    for letter in printed {
        insert.execute(params![
            letter.piece_id,
            letter.digest.as_str(),
            letter.pages
        ])?;
        staged += 1;
    }
    Ok(staged)
}

/// Marks letters of `batch_id` printed (see `Ledger::record_printed`),
/// with their page counts, inside the caller's transaction. They are staged in a temporary
/// table, then the batch's rows are updated in table order (a rowid range),
/// not in the presort order they were printed in: each page of the ledger is
/// then written once, not once per letter on it (4.8 times faster at
/// 100,000 rows).
pub(super) fn record_printed_in(
    conn: &Connection,
    label: &str,
    batch_id: &str,
    printed: &mut dyn Iterator<Item = PrintedLetter>,
) -> Result<u64, LedgerError> {
    let err = |e| classify(label, "record what was printed", e);
    let staged = stage_printed(conn, printed).map_err(err)?;
    let (lo, hi): (Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT min(id), max(id) FROM issuances WHERE batch_id = ?1",
            [batch_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err)?;
    // `+` keeps the planner on the rowid range rather than an index.
    let changed = match (lo, hi) {
        (Some(lo), Some(hi)) => conn
            .execute(
                "UPDATE issuances SET proof_kind = ?4, proof_digest = p.digest, pages = p.pages \
                 FROM temp.printed_now AS p \
                 WHERE issuances.id BETWEEN ?1 AND ?2 AND +issuances.batch_id = ?3 \
                 AND +issuances.piece_id = p.piece_id \
                 AND (issuances.proof_kind = ?5 \
                      OR (issuances.proof_kind = ?4 AND issuances.proof_digest = p.digest))",
                params![
                    lo,
                    hi,
                    batch_id,
                    ProofKind::Printed.as_str(),
                    ProofKind::NotYetPrinted.as_str()
                ],
            )
            .map_err(err)? as u64,
        _ => 0,
    };
    if changed != staged {
        // The caller's transaction is rolled back: nothing is recorded.
        let refused: Option<String> = conn
            .query_row(
                "SELECT p.piece_id FROM temp.printed_now AS p LEFT JOIN issuances AS i \
                 ON i.piece_id = p.piece_id AND i.batch_id = ?1 \
                 WHERE i.id IS NULL OR i.proof_kind <> ?2 OR i.proof_digest <> p.digest \
                 ORDER BY p.piece_id LIMIT 1",
                [batch_id, ProofKind::Printed.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        return Err(LedgerError::PrintedDiffers {
            ledger: label.to_string(),
            batch_id: batch_id.to_string(),
            piece_id: refused.unwrap_or_default(),
        });
    }
    conn.execute("DELETE FROM temp.printed_now", [])
        .map_err(err)?;
    Ok(staged)
}

pub(super) fn classify(
    label: &str,
    action: impl Into<String>,
    source: rusqlite::Error,
) -> LedgerError {
    use rusqlite::Error as E;
    match &source {
        E::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            LedgerError::Busy {
                ledger: label.to_string(),
            }
        }
        E::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            LedgerError::Damaged {
                ledger: label.to_string(),
                detail: format!("SQLite: {source}"),
            }
        }
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..) => LedgerError::Damaged {
            ledger: label.to_string(),
            detail: format!("a value cannot be read: {source}"),
        },
        _ => LedgerError::Sqlite {
            ledger: label.to_string(),
            action: action.into(),
            source,
        },
    }
}

pub(super) fn date_text(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

/// A conversion failure for column `idx`, reported as a corrupt ledger.
pub(super) fn bad_column(idx: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        Box::<dyn std::error::Error + Send + Sync>::from(what),
    )
}

pub(super) fn date_column(row: &Row<'_>, name: &str) -> rusqlite::Result<NaiveDate> {
    let text: String = row.get(name)?;
    stored_date(&text)
        .ok_or_else(|| bad_column(0, format!("{name} '{text}' is not a YYYY-MM-DD date")))
}

pub(super) fn time_column(row: &Row<'_>, name: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let Some(text) = row.get::<_, Option<String>>(name)? else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| bad_column(0, format!("{name} '{text}' is not a time")))
}

/// The position of each of [`ISSUANCE_COLUMNS`] in a row that selects them
/// first. A row is read by position: rusqlite finds a column by name by
/// comparing it with every column's name, on every read of every row.
mod col {
    pub const RECEIPT: usize = 0;
    pub const ISSUE_NO: usize = 1;
    pub const FORM: usize = 2;
    pub const BATCH_ID: usize = 3;
    pub const PIECE_ID: usize = 4;
    pub const KEY_ID: usize = 5;
    pub const FINGERPRINT: usize = 6;
    pub const NOTICE_DATE: usize = 7;
    pub const EXPIRES_ON: usize = 8;
    pub const PROOF_KIND: usize = 9;
    pub const PROOF_DIGEST: usize = 10;
    pub const PAGES: usize = 11;
    pub const IMB_SERIAL: usize = 12;
    pub const FILING_JSON: usize = 13;
    pub const REASON: usize = 14;
    pub const FORCED: usize = 15;
    pub const STATUS: usize = 16;
    pub const RECORDED_AT: usize = 17;
    pub const STATUS_CHANGED_AT: usize = 18;
    pub const STATUS_REASON: usize = 19;
    pub const REDEEMED_AT: usize = 20;
    pub const REDEEMED_BY: usize = 21;
    pub const UNLINKED_AT: usize = 22;
    pub const UNLINK_REASON: usize = 23;
    /// Each position's column name, in order: a test holds them to
    /// `ISSUANCE_COLUMNS`.
    #[cfg(test)]
    pub const NAMES: [(usize, &str); 24] = [
        (RECEIPT, "receipt"),
        (ISSUE_NO, "issue_no"),
        (FORM, "form"),
        (BATCH_ID, "batch_id"),
        (PIECE_ID, "piece_id"),
        (KEY_ID, "key_id"),
        (FINGERPRINT, "fingerprint"),
        (NOTICE_DATE, "notice_date"),
        (EXPIRES_ON, "expires_on"),
        (PROOF_KIND, "proof_kind"),
        (PROOF_DIGEST, "proof_digest"),
        (PAGES, "pages"),
        (IMB_SERIAL, "imb_serial"),
        (FILING_JSON, "filing_json"),
        (REASON, "reason"),
        (FORCED, "forced"),
        (STATUS, "status"),
        (RECORDED_AT, "recorded_at"),
        (STATUS_CHANGED_AT, "status_changed_at"),
        (STATUS_REASON, "status_reason"),
        (REDEEMED_AT, "redeemed_at"),
        (REDEEMED_BY, "redeemed_by"),
        (UNLINKED_AT, "unlinked_at"),
        (UNLINK_REASON, "unlink_reason"),
    ];
}

/// A date column at `idx` (named `name` in errors).
fn date_at(row: &Row<'_>, idx: usize, name: &str) -> rusqlite::Result<NaiveDate> {
    let text = text_at(row, idx)?;
    stored_date(text)
        .ok_or_else(|| bad_column(idx, format!("{name} '{text}' is not a YYYY-MM-DD date")))
}

/// A stored date column's text read as [`DATE_FORMAT`] reads it; the
/// canonical form the ledger writes without a format string.
fn stored_date(text: &str) -> Option<NaiveDate> {
    canonical_date(text).or_else(|| NaiveDate::parse_from_str(text, DATE_FORMAT).ok())
}

/// A date written as the ledger writes one (`YYYY-MM-DD`, ten characters),
/// read without a format string: the same date [`DATE_FORMAT`] reads from
/// it. `None` for any other text, which the format then reads or refuses.
fn canonical_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// A text column at `idx`, borrowed from the row (no copy for a value that
/// is only parsed).
fn text_at<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(idx)?.as_str().map_err(|e| e.into())
}

/// A text column at `idx` that may be NULL, borrowed from the row.
fn opt_text_at<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(idx)?.as_str_or_null().map_err(|e| e.into())
}

/// A time column at `idx` (named `name` in errors), if set.
fn time_at(row: &Row<'_>, idx: usize, name: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let Some(text) = row.get::<_, Option<String>>(idx)? else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| bad_column(idx, format!("{name} '{text}' is not a time")))
}

/// A redemption and its unlinking, from a row of [`ISSUANCE_COLUMNS`].
fn redemption_at(row: &Row<'_>) -> rusqlite::Result<Option<Redemption>> {
    let redeemed_by: Option<String> = row.get(col::REDEEMED_BY)?;
    let unlink_reason: Option<String> = row.get(col::UNLINK_REASON)?;
    let unlinked = match (
        time_at(row, col::UNLINKED_AT, "unlinked_at")?,
        unlink_reason,
    ) {
        (Some(at), reason) => Some(Unlink {
            at,
            reason: reason.unwrap_or_default(),
        }),
        (None, _) => None,
    };
    Ok(
        match (time_at(row, col::REDEEMED_AT, "redeemed_at")?, redeemed_by) {
            (Some(at), Some(account)) => Some(Redemption {
                at,
                account,
                unlinked,
            }),
            _ => None,
        },
    )
}

/// Reads a row selected with [`ISSUANCE_COLUMNS`] first, by position.
pub(super) fn issuance_from_row(row: &Row<'_>) -> rusqlite::Result<Issuance> {
    let receipt_text = text_at(row, col::RECEIPT)?;
    let receipt = ReceiptNumber::parse(receipt_text).map_err(|e| bad_column(0, e))?;
    let form_text = text_at(row, col::FORM)?;
    let form = parse_form(form_text)
        .ok_or_else(|| bad_column(0, format!("unknown form '{form_text}'")))?;
    let filing_json = text_at(row, col::FILING_JSON)?;
    let filing: Filing = serde_json::from_str(filing_json).map_err(|e| {
        bad_column(
            0,
            format!("the stored filing of receipt {receipt} is not readable: {e}"),
        )
    })?;
    let status_text = text_at(row, col::STATUS)?;
    let status = IssuanceStatus::parse(status_text)
        .ok_or_else(|| bad_column(0, format!("unknown status '{status_text}'")))?;
    let fingerprint = Fingerprint::from_hex(row.get(col::FINGERPRINT)?)
        .map_err(|e| bad_column(0, format!("the fingerprint of receipt {receipt}: {e}")))?;
    let proof = LetterProof::from_parts(
        text_at(row, col::PROOF_KIND)?,
        opt_text_at(row, col::PROOF_DIGEST)?,
    )
    .map_err(|e| bad_column(0, format!("the letter proof of receipt {receipt}: {e}")))?;
    let issued = NewIssuance {
        receipt,
        issue_no: row.get(col::ISSUE_NO)?,
        form,
        batch_id: row.get(col::BATCH_ID)?,
        piece_id: row.get(col::PIECE_ID)?,
        key_id: row.get(col::KEY_ID)?,
        fingerprint,
        notice_date: date_at(row, col::NOTICE_DATE, "notice_date")?,
        expires_on: date_at(row, col::EXPIRES_ON, "expires_on")?,
        proof,
        pages: row.get(col::PAGES)?,
        imb_serial: row.get(col::IMB_SERIAL)?,
        filing,
        reason: row.get(col::REASON)?,
        forced: row.get(col::FORCED)?,
    };
    Ok(Issuance {
        issued,
        status,
        recorded_at: time_at(row, col::RECORDED_AT, "recorded_at")?
            .ok_or_else(|| bad_column(0, "recorded_at is missing".into()))?,
        status_changed_at: time_at(row, col::STATUS_CHANGED_AT, "status_changed_at")?,
        status_reason: row.get(col::STATUS_REASON)?,
        redemption: redemption_at(row)?,
    })
}

pub(super) fn batch_from_row(row: &Row<'_>) -> rusqlite::Result<(BatchRecord, Option<String>)> {
    let kind_text: String = row.get(5)?;
    let kind = BatchKind::parse(&kind_text)
        .ok_or_else(|| bad_column(5, format!("unknown batch kind '{kind_text}'")))?;
    let batch_id: String = row.get(0)?;
    let input_text: String = row.get(4)?;
    let input_sha256 = Sha256Hex::parse(&input_text)
        .map_err(|e| bad_column(4, format!("the input digest of batch {batch_id}: {e}")))?;
    Ok((
        BatchRecord {
            batch_id,
            batch_date: date_column(row, "batch_date")?,
            key_id: row.get(2)?,
            mode: mode_of_column(row.get(3)?),
            input_sha256,
            kind,
        },
        row.get(6)?,
    ))
}

#[cfg(test)]
mod col_tests {
    use chrono::NaiveDate;

    /// The shortcut reads every canonical date as the format does, and
    /// leaves every other text to the format.
    #[test]
    fn a_canonical_date_reads_as_the_format_reads_it() {
        let mut day = NaiveDate::from_ymd_opt(1899, 12, 25).expect("date");
        let last = NaiveDate::from_ymd_opt(2101, 1, 5).expect("date");
        while day <= last {
            let text = day.format(super::DATE_FORMAT).to_string();
            assert_eq!(super::canonical_date(&text), Some(day), "{text}");
            day = day.succ_opt().expect("next day");
        }
        for text in [
            "2026-1-07",
            "2026-12-7",
            "+2026-12-07",
            "2026/12/07",
            "2026-12-07 ",
            " 2026-12-07",
            "2026-13-01",
            "2026-02-30",
            "2026-00-10",
            "2O26-12-07",
            "",
        ] {
            assert_eq!(super::canonical_date(text), None, "{text:?}");
        }
        // What the shortcut leaves, the format still reads as before.
        assert_eq!(
            NaiveDate::parse_from_str("2026-1-7", super::DATE_FORMAT).ok(),
            NaiveDate::from_ymd_opt(2026, 1, 7)
        );
    }

    #[test]
    fn positions_are_the_order_of_issuance_columns() {
        let names: Vec<&str> = crate::ledger::ISSUANCE_COLUMNS
            .split(',')
            .map(str::trim)
            .collect();
        let want: Vec<&str> = super::col::NAMES.iter().map(|(_, n)| *n).collect();
        assert_eq!(names, want);
        for (i, (at, _)) in super::col::NAMES.iter().enumerate() {
            assert_eq!(i, *at);
        }
    }
}
