//! `status`: a receipt's history as a table a desk agent can read, its
//! columns as wide as what they hold. Never a code: the ledger has none.

use crate::ledger::Issuance;

/// The header and one line per issuance, columns aligned; the last column
/// (the reason) is as long as it is.
pub fn history_table(history: &[Issuance]) -> Vec<String> {
    let header = [
        "issue", "status", "notice", "expires", "piece", "batch", "key", "reason",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(str::to_string)];
    for i in history {
        let reason = match (&i.issued.reason, i.issued.forced) {
            (Some(r), true) => format!("{r} (forced)"),
            (Some(r), false) => r.clone(),
            (None, _) => String::new(),
        };
        rows.push([
            i.issued.issue_no.to_string(),
            i.status.as_str().to_string(),
            i.issued.notice_date.to_string(),
            i.issued.expires_on.to_string(),
            i.issued.piece_id.clone(),
            i.issued.batch_id.clone(),
            i.issued.key_id.clone(),
            reason,
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (n, (cell, w)) in row.iter().zip(widths).enumerate() {
                if n + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$} "));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}
