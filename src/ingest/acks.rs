//! The vendor's acknowledgement file: `piece_id,status,date`, one row per
//! piece and step, status `printed` or `mailed`. Extra columns are allowed
//! and kept in the rejects file.

use super::{cell, columns, parse_day, parse_piece_id, shown, Happened, Layout, Line, PieceKey};
use crate::ledger::{MailEventKind, MailTime};

pub(crate) fn layout(header: &[String]) -> Result<Layout, (u64, String)> {
    let at = columns(
        header,
        &[
            ("piece_id", &["piece_id", "piece id", "pieceid"]),
            ("status", &["status"]),
            ("date", &["date", "status_date"]),
        ],
    )?;
    Ok(Layout::Acks(at))
}

pub(crate) fn parse_row(fields: &[String], at: &[usize]) -> Result<Line, String> {
    let piece = parse_piece_id(cell(fields, at[0]))?;
    let status = cell(fields, at[1]);
    let kind = match status.to_ascii_lowercase().as_str() {
        "printed" => MailEventKind::Printed,
        "mailed" => MailEventKind::Mailed,
        "" => return Err("the status is empty (printed or mailed)".into()),
        _ => {
            return Err(format!(
                "status '{}' is neither printed nor mailed",
                shown(status)
            ))
        }
    };
    let day = parse_day(cell(fields, at[2]))?;
    Ok(Line {
        who: PieceKey::Piece(piece),
        event: Happened {
            kind,
            at: MailTime::Day(day),
            detail: String::new(),
        },
    })
}
