//! Between Rust values and PostgreSQL rows, and PostgreSQL errors turned
//! into sentences about the ledger.

use ::postgres::binary_copy::BinaryCopyInWriter;
use ::postgres::error::SqlState;
use ::postgres::types::Type;
use ::postgres::{Client, Row};
use chrono::{DateTime, NaiveDate, Utc};

use crate::code::Fingerprint;
use crate::filing::{Filing, IssuanceStatus, ReceiptNumber};

use crate::ledger::types::mode_of_column;
use crate::ledger::{
    parse_form, BatchKind, BatchRecord, Issuance, LedgerError, LetterProof, NewIssuance,
    PrintedLetter, Redemption, Sha256Hex, Unlink,
};
use crate::letter_proof::ProofKind;

/// Turns a PostgreSQL error into a sentence about this ledger.
pub(super) fn pg_err(
    label: &str,
    action: impl Into<String>,
    source: ::postgres::Error,
) -> LedgerError {
    let mut action = action.into();
    if source.is_closed() {
        action.push_str(" (the connection to the server was lost)");
    }
    LedgerError::Postgres {
        ledger: label.to_string(),
        action,
        detail: pg_detail(&source),
        source,
    }
}

/// What went wrong, in the server's words when it answered (its message,
/// never its DETAIL line, which may quote row values), else the driver's
/// and its causes'.
pub(super) fn pg_detail(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let words = c.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        cause = c.source();
    }
    text
}

/// The SQLSTATE of a server error, if it is one.
pub(super) fn sql_state(e: &::postgres::Error) -> Option<&SqlState> {
    e.code()
}

pub(super) fn damaged(label: &str, detail: String) -> LedgerError {
    LedgerError::Damaged {
        ledger: label.to_string(),
        detail,
    }
}

pub(super) fn get<'a, T: ::postgres::types::FromSql<'a>>(
    label: &str,
    row: &'a Row,
    column: &str,
) -> Result<T, LedgerError> {
    row.try_get(column)
        .map_err(|e| damaged(label, format!("{column} cannot be read: {e}")))
}

/// A stored count that must fit a `u32` (issue numbers, pages).
pub(super) fn get_u32(label: &str, row: &Row, column: &str) -> Result<u32, LedgerError> {
    let v: i32 = get(label, row, column)?;
    u32::try_from(v).map_err(|_| damaged(label, format!("a negative {column} ({v})")))
}

/// Reads a row selected with the ledger's `ISSUANCE_COLUMNS`, by name.
pub(super) fn issuance_from_row(label: &str, row: &Row) -> Result<Issuance, LedgerError> {
    let receipt_text: String = get(label, row, "receipt")?;
    let receipt = ReceiptNumber::parse(&receipt_text).map_err(|e| damaged(label, e))?;
    let form_text: String = get(label, row, "form")?;
    let form = parse_form(&form_text)
        .ok_or_else(|| damaged(label, format!("unknown form '{form_text}'")))?;
    let filing_json: String = get(label, row, "filing_json")?;
    let filing: Filing = serde_json::from_str(&filing_json).map_err(|e| {
        damaged(
            label,
            format!("the stored filing of receipt {receipt} is not readable: {e}"),
        )
    })?;
    let status_text: String = get(label, row, "status")?;
    let status = IssuanceStatus::parse(&status_text)
        .ok_or_else(|| damaged(label, format!("unknown status '{status_text}'")))?;
    let imb_serial: Option<i64> = get(label, row, "imb_serial")?;
    let imb_serial = imb_serial
        .map(|s| u64::try_from(s).map_err(|_| damaged(label, format!("negative serial {s}"))))
        .transpose()?;
    let fingerprint = Fingerprint::from_hex(get(label, row, "fingerprint")?)
        .map_err(|e| damaged(label, format!("the fingerprint of receipt {receipt}: {e}")))?;
    let proof = LetterProof::from_parts(
        get(label, row, "proof_kind")?,
        get::<Option<&str>>(label, row, "proof_digest")?,
    )
    .map_err(|e| damaged(label, format!("the letter proof of receipt {receipt}: {e}")))?;
    let redeemed_at: Option<DateTime<Utc>> = get(label, row, "redeemed_at")?;
    let redeemed_by: Option<String> = get(label, row, "redeemed_by")?;
    let unlinked_at: Option<DateTime<Utc>> = get(label, row, "unlinked_at")?;
    let unlink_reason: Option<String> = get(label, row, "unlink_reason")?;
    let unlinked = unlinked_at.map(|at| Unlink {
        at,
        reason: unlink_reason.unwrap_or_default(),
    });
    let issued = NewIssuance {
        receipt,
        issue_no: get_u32(label, row, "issue_no")?,
        form,
        batch_id: get(label, row, "batch_id")?,
        piece_id: get(label, row, "piece_id")?,
        key_id: get(label, row, "key_id")?,
        fingerprint,
        notice_date: get::<NaiveDate>(label, row, "notice_date")?,
        expires_on: get::<NaiveDate>(label, row, "expires_on")?,
        proof,
        pages: get_u32(label, row, "pages")?,
        imb_serial,
        filing,
        reason: get(label, row, "reason")?,
        forced: get(label, row, "forced")?,
    };
    Ok(Issuance {
        issued,
        status,
        recorded_at: get(label, row, "recorded_at")?,
        status_changed_at: get(label, row, "status_changed_at")?,
        status_reason: get(label, row, "status_reason")?,
        redemption: redeemed_at
            .zip(redeemed_by)
            .map(|(at, account)| Redemption {
                at,
                account,
                unlinked,
            }),
    })
}

/// The batch columns in the order [`batch_from_row`] reads them.
pub(super) const BATCH_COLUMNS: &str =
    "batch_id, batch_date, key_id, is_test, input_sha256, kind, summary_json";

pub(super) fn batch_from_row(
    label: &str,
    row: &Row,
) -> Result<(BatchRecord, Option<String>), LedgerError> {
    let kind_text: String = get(label, row, "kind")?;
    let kind = BatchKind::parse(&kind_text)
        .ok_or_else(|| damaged(label, format!("unknown batch kind '{kind_text}'")))?;
    let batch_id: String = get(label, row, "batch_id")?;
    let input_sha256 = Sha256Hex::parse(get(label, row, "input_sha256")?)
        .map_err(|e| damaged(label, format!("the input digest of batch {batch_id}: {e}")))?;
    Ok((
        BatchRecord {
            batch_id,
            batch_date: get(label, row, "batch_date")?,
            key_id: get(label, row, "key_id")?,
            mode: mode_of_column(get(label, row, "is_test")?),
            input_sha256,
            kind,
        },
        get(label, row, "summary_json")?,
    ))
}

/// True for the errors a broken uniqueness or reference rule raises.
pub(super) fn is_constraint(e: &::postgres::Error) -> bool {
    matches!(
        sql_state(e),
        Some(s) if *s == SqlState::UNIQUE_VIOLATION || *s == SqlState::FOREIGN_KEY_VIOLATION
    )
}

/// The columns [`copy_rows`] writes, in order.
const COPY_SQL: &str = "COPY issuances (receipt, issue_no, form, batch_id, piece_id, key_id, \
     fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, zip5, \
     zip4, filing_json, reason, forced, status, recorded_at) FROM STDIN (FORMAT binary)";

const COPY_TYPES: [Type; 20] = [
    Type::TEXT,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::DATE,
    Type::DATE,
    Type::TEXT,
    Type::TEXT,
    Type::INT4,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TIMESTAMPTZ,
];

/// The integer columns of a row in PostgreSQL's signed types.
pub(super) fn pg_ints(row: &NewIssuance) -> Result<(i32, i32, Option<i64>), String> {
    let too_big = |what: &str| format!("receipt {} {what} is too large", row.receipt);
    Ok((
        i32::try_from(row.issue_no).map_err(|_| too_big("issue number"))?,
        i32::try_from(row.pages).map_err(|_| too_big("page count"))?,
        row.imb_serial
            .map(i64::try_from)
            .transpose()
            .map_err(|_| too_big("barcode serial"))?,
    ))
}

/// Streams a chunk into the table with one binary COPY inside the caller's
/// transaction, in (receipt, issue number) order so that concurrent chunks
/// take their index locks in the same order and cannot deadlock. Every row
/// must have passed [`pg_ints`].
pub(super) fn copy_rows(
    tx: &mut impl ::postgres::GenericClient,
    rows: &[NewIssuance],
    recorded_at: DateTime<Utc>,
) -> Result<(), ::postgres::Error> {
    let mut sorted: Vec<&NewIssuance> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.receipt, a.issue_no).cmp(&(&b.receipt, b.issue_no)));
    let sink = tx.copy_in(COPY_SQL)?;
    let mut writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    let active = IssuanceStatus::Active.as_str();
    for row in sorted {
        let (issue_no, pages, serial) = pg_ints(row).unwrap_or((i32::MAX, i32::MAX, None));
        // A Filing is plain strings and dates: encoding it cannot fail.
        let filing_json = serde_json::to_string(&row.filing).expect("a filing serialises");
        writer.write(&[
            &row.receipt.as_str(),
            &issue_no,
            &row.form.code(),
            &row.batch_id,
            &row.piece_id,
            &row.key_id,
            &row.fingerprint.as_str(),
            &row.notice_date,
            &row.expires_on,
            &row.proof.kind().as_str(),
            &row.proof.digest().map(Sha256Hex::as_str),
            &pages,
            &serial,
            &row.filing.address.zip5,
            &row.filing.address.zip4,
            &filing_json,
            &row.reason,
            &row.forced,
            &active,
            &recorded_at,
        ])?;
    }
    writer.finish().map(|_| ())
}

/// Marks letters of `batch_id` printed (see `Ledger::record_printed`) in one
/// transaction, a few thousand at a time: for each group one statement
/// marks every letter that may be marked, and a group in which any may not
/// refuses them all (as `sqlite::rows::record_printed_in`).
pub(super) fn record_printed_pg(
    client: &mut Client,
    label: &str,
    batch_id: &str,
    printed: &mut dyn Iterator<Item = PrintedLetter>,
) -> Result<u64, LedgerError> {
    let err = |e| pg_err(label, "record what was printed", e);
    let (printed_kind, not_yet) = (
        ProofKind::Printed.as_str(),
        ProofKind::NotYetPrinted.as_str(),
    );
    let mut tx = client.transaction().map_err(err)?;
    let mut recorded = 0u64;
    loop {
        let group: Vec<PrintedLetter> = (&mut *printed).take(4096).collect();
        if group.is_empty() {
            break;
        }
        let pieces: Vec<&str> = group.iter().map(|p| p.piece_id.as_str()).collect();
        let digests: Vec<&str> = group.iter().map(|p| p.digest.as_str()).collect();
        let pages = group
            .iter()
            .map(|p| i32::try_from(p.pages))
            .collect::<Result<Vec<i32>, _>>()
            .map_err(|_| LedgerError::Damaged {
                ledger: label.to_string(),
                detail: "a printed letter's page count is too large".into(),
            })?;
        // The rule is decided by the statement that writes, on each row as
        // it locks it: a letter still not printed, or printed with the same
        // digest (its print file written again). A row another transaction
        // changed meanwhile is re-checked, not overwritten.
        let changed = tx
            .execute(
                "UPDATE issuances AS i \
                 SET proof_kind = $4, proof_digest = p.digest, pages = p.pages \
                 FROM unnest($2::text[], $3::text[], $5::int4[]) AS p(piece_id, digest, pages) \
                 WHERE i.batch_id = $1 AND i.piece_id = p.piece_id \
                 AND (i.proof_kind = $6 OR (i.proof_kind = $4 AND i.proof_digest = p.digest))",
                &[
                    &batch_id,
                    &pieces,
                    &digests,
                    &printed_kind,
                    &pages,
                    &not_yet,
                ],
            )
            .map_err(err)?;
        if changed != group.len() as u64 {
            // Dropping `tx` rolls back: nothing is recorded. Name a letter
            // that is not (now) printed with its digest.
            let refused = tx
                .query_opt(
                    "SELECT p.piece_id FROM unnest($2::text[], $3::text[]) AS p(piece_id, digest) \
                     LEFT JOIN issuances i ON i.piece_id = p.piece_id AND i.batch_id = $1 \
                     WHERE i.piece_id IS NULL OR i.proof_kind <> $4 OR i.proof_digest <> p.digest \
                     ORDER BY p.piece_id LIMIT 1",
                    &[&batch_id, &pieces, &digests, &printed_kind],
                )
                .map_err(err)?;
            return Err(LedgerError::PrintedDiffers {
                ledger: label.to_string(),
                batch_id: batch_id.to_string(),
                piece_id: refused.map(|row| row.get(0)).unwrap_or_default(),
            });
        }
        recorded += group.len() as u64;
    }
    tx.commit().map_err(err)?;
    Ok(recorded)
}
