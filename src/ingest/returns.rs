//! Mail returned as undeliverable: `piece_id,reason,date`, or `imb` in
//! place of `piece_id` (the barcode's digits, as the vendor's return scan
//! reads them). The reason is USPS's ("attempted, not known", "no such
//! number", "moved, left no address", ...). Recording a return stops the
//! piece's code at once.

use super::scans::parse_barcode;
use super::{cell, columns, parse_day, parse_piece_id, Happened, Layout, Line, PieceKey};
use crate::ledger::{MailEventKind, MailTime};

/// The longest reason kept; a longer cell is not a USPS reason.
const MAX_REASON_CHARS: usize = 200;

pub(crate) fn layout(header: &[String]) -> Result<Layout, (u64, String)> {
    let keys: Vec<String> = header.iter().map(|h| super::header_key(h)).collect();
    let by_barcode = !keys.iter().any(|k| k == "pieceid") && keys.iter().any(|k| k == "imb");
    let id_column: (&str, &[&str]) = if by_barcode {
        ("imb", &["imb"])
    } else {
        ("piece_id (or imb)", &["piece_id", "piece id"])
    };
    let at = columns(
        header,
        &[
            id_column,
            ("reason", &["reason", "return_reason"]),
            ("date", &["date", "return_date"]),
        ],
    )?;
    Ok(Layout::Returns { at, by_barcode })
}

pub(crate) fn parse_row(fields: &[String], at: &[usize], by_barcode: bool) -> Result<Line, String> {
    let who = if by_barcode {
        PieceKey::Barcode(parse_barcode(cell(fields, at[0]))?)
    } else {
        PieceKey::Piece(parse_piece_id(cell(fields, at[0]))?)
    };
    let reason = cell(fields, at[1]);
    if reason.is_empty() {
        return Err("the return reason is empty".into());
    }
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(format!(
            "the return reason is not a USPS reason (control characters or over {MAX_REASON_CHARS} characters)"
        ));
    }
    let day = parse_day(cell(fields, at[2]))?;
    Ok(Line {
        who,
        event: Happened {
            kind: MailEventKind::Returned,
            at: MailTime::Day(day),
            detail: reason.to_lowercase(),
        },
    })
}
