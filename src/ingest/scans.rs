//! USPS Informed Visibility piece scans (IV-MTR), as a delimited file with a
//! header row: IV-MTR delivers `|`-delimited files, and a comma-separated
//! export is read too. The columns used (any order, others ignored):
//!
//! | IV-MTR field | names accepted |
//! |---|---|
//! | IMb | `imb`, `imb code`, `barcode` |
//! | scan date and time | `scan date time`, `scan datetime` (or `scan date` with `scan time`) |
//! | operation code | `operation code`, `op code` |
//! | facility ZIP | `scan facility zip`, `facility zip` |
//! | handling event type | `handling event type`, `event type` |
//!
//! The handling event type says what a scan means (see [`event_of`]): `A`
//! accepted, `P` or `L` processed, `O` out for delivery, `D` delivered, `U`
//! undeliverable as addressed (returned: the code stops, as for a return
//! file); the words spelled out are read too. Any other type is kept as a
//! plain scan. A scan is matched to its piece by the IMb's mailer ID and
//! serial (see [`crate::ingest`]); a scan of mail that is not ours is
//! unmatched.

use super::{cell, columns, header_key, parse_time, shown, Happened, Layout, Line, PieceKey};
use crate::imb::parse_tracking;
use crate::ledger::{MailEventKind, MailTime};

/// The longest IMb: 20 tracking digits and an 11-digit routing ZIP.
const MAX_IMB_DIGITS: usize = 31;

/// The columns of a scans file (whose delimiter the header line says).
pub(crate) fn layout(header: &[String]) -> Result<Layout, (u64, String)> {
    let keys: Vec<String> = header.iter().map(|h| header_key(h)).collect();
    let split_time = !keys
        .iter()
        .any(|k| k == "scandatetime" || k == "scandatetimelocal")
        && keys.iter().any(|k| k == "scandate");
    let time_columns: Vec<(&str, &[&str])> = if split_time {
        vec![("scan date", &["scan date"]), ("scan time", &["scan time"])]
    } else {
        vec![(
            "scan date time",
            &["scan date time", "scan datetime", "scan date time local"],
        )]
    };
    let mut wanted: Vec<(&str, &[&str])> = vec![
        ("IMb", &["imb", "imb code", "barcode"]),
        ("operation code", &["operation code", "op code", "opcode"]),
        ("facility ZIP", &["scan facility zip", "facility zip"]),
        (
            "handling event type",
            &["handling event type", "event type"],
        ),
    ];
    wanted.extend(time_columns);
    let at = columns(header, &wanted)?;
    Ok(Layout::Scans { at, split_time })
}

/// A barcode's digits, checked (a cell far too long is not quoted back).
pub(crate) fn parse_barcode(cell: &str) -> Result<String, String> {
    let digits = cell.trim();
    if digits.len() > MAX_IMB_DIGITS {
        return Err(format!(
            "'{}' is not an Intelligent Mail barcode: it is longer than {MAX_IMB_DIGITS} digits",
            shown(digits)
        ));
    }
    parse_tracking(digits)?;
    Ok(digits.to_string())
}

pub(crate) fn parse_row(fields: &[String], at: &[usize], split_time: bool) -> Result<Line, String> {
    let digits = parse_barcode(cell(fields, at[0]))?;
    let op = cell(fields, at[1]);
    let zip = cell(fields, at[2]);
    let event_type = cell(fields, at[3]);
    let time_text = if split_time {
        format!("{} {}", cell(fields, at[4]), cell(fields, at[5]))
    } else {
        cell(fields, at[4]).to_string()
    };
    let time = parse_time(&time_text)?;
    if op.is_empty() || !op.bytes().all(|b| b.is_ascii_alphanumeric()) || op.len() > 8 {
        return Err(format!(
            "operation code '{}' is not an operation code",
            shown(op)
        ));
    }
    if !(zip.len() == 5 || zip.len() == 9) || !zip.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("facility ZIP '{}' is not a ZIP code", shown(zip)));
    }
    let kind = event_of(event_type)?;
    let mut detail = format!("operation {op} at facility {zip}");
    if kind == MailEventKind::Scanned {
        detail.push_str(&format!(", event type {event_type}"));
    }
    Ok(Line {
        who: PieceKey::Barcode(digits),
        event: Happened {
            kind,
            at: MailTime::At(time),
            detail,
        },
    })
}

/// What a handling event type means for the mail trail.
pub fn event_of(event_type: &str) -> Result<MailEventKind, String> {
    let t = event_type.trim();
    if t.is_empty() {
        return Err("the handling event type is empty".into());
    }
    if t.len() > 40 || t.chars().any(char::is_control) {
        return Err(format!(
            "handling event type '{}' is not an event type",
            shown(t)
        ));
    }
    Ok(match header_key(t).as_str() {
        "a" | "acceptance" | "accepted" => MailEventKind::Accepted,
        "p" | "l" | "processing" | "processed" | "lastprocessing" => MailEventKind::Processed,
        "o" | "outfordelivery" => MailEventKind::OutForDelivery,
        "d" | "delivered" | "delivery" => MailEventKind::Delivered,
        "u" | "undeliverable" | "undeliverableasaddressed" | "returned" | "returntosender" => {
            MailEventKind::Returned
        }
        _ => MailEventKind::Scanned,
    })
}
