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

use super::{
    cell, columns, header_key, parse_time, records, split_rows, Happened, Line, Parsed, PieceKey,
};
use crate::imb::parse_tracking;
use crate::ledger::{MailEventKind, MailTime};

pub(crate) fn parse(text: &str) -> Result<Parsed, (u64, String)> {
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('|') { b'|' } else { b',' };
    let (header, rows) = records(text, delimiter)?;
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
    let at = columns(&header, &wanted)?;
    Ok(split_rows(header, rows, |fields| {
        parse_row(fields, &at, split_time)
    }))
}

fn parse_row(fields: &[String], at: &[usize], split_time: bool) -> Result<Line, String> {
    let digits = cell(fields, at[0]);
    parse_tracking(digits)?;
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
        return Err(format!("operation code '{op}' is not an operation code"));
    }
    if !(zip.len() == 5 || zip.len() == 9) || !zip.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("facility ZIP '{zip}' is not a ZIP code"));
    }
    let kind = event_of(event_type)?;
    let mut detail = format!("operation {op} at facility {zip}");
    if kind == MailEventKind::Scanned {
        detail.push_str(&format!(", event type {event_type}"));
    }
    Ok(Line {
        who: PieceKey::Barcode(digits.to_string()),
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
        return Err(format!("handling event type '{t}' is not an event type"));
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
