//! One record checked on its own against the header and the rules: all of
//! a row's check that does not depend on the rows before it, so any thread
//! may do it. Whether its receipt was already claimed is decided after, in
//! file order (`row::claim`).

use super::reader::{utf8_fields, Record};
use super::row::{self, check_row, Rules, Unclaimed};
use super::{IntakeError, Outcome, COLUMN_COUNT, RECEIPT};

/// What every row of a file is read against.
pub(super) struct Columns {
    /// The file's name, for messages.
    pub(super) file: String,
    pub(super) rules: Rules,
    /// Header names by position, for messages.
    pub(super) header: Vec<String>,
    /// Position of each of [`super::COLUMNS`] in the file, `None` for an
    /// absent optional column.
    pub(super) index: [Option<usize>; COLUMN_COUNT],
}

/// A record checked on its own.
// `Unclaimed` is both the large and the common variant, as `Outcome::Valid`.
#[allow(clippy::large_enum_variant)]
pub(super) enum Checked {
    /// Every cell empty: skipped.
    Blank,
    /// Rejected whatever rows came before (too long, wrong number of cells,
    /// no receipt number).
    Done(Outcome),
    /// Its outcome once its receipt is claimed.
    Unclaimed(Unclaimed),
}

impl Columns {
    /// Checks one record, given its fields as read (`raw`).
    pub(super) fn check(&self, record: &Record, raw: &[&[u8]]) -> Result<Checked, IntakeError> {
        let line = record.start_line;
        if let Some(long) = &record.too_long {
            let receipt = self.index[RECEIPT]
                .filter(|&i| i < long.kept_fields)
                .and_then(|i| raw.get(i))
                .map(|bytes| String::from_utf8_lossy(bytes));
            return Ok(Checked::Done(Outcome::Rejected(row::too_long_reject(
                record,
                long,
                receipt.as_deref(),
                self.header.len(),
            ))));
        }
        let header = &self.header;
        let fields = utf8_fields(raw, line, |i| match header.get(i) {
            Some(name) => format!("column {name}"),
            None => format!("field {} (beyond the header)", i + 1),
        })
        .map_err(|e| e.into_error(&self.file))?;
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(Checked::Blank);
        }
        let cell = |col: usize| -> &str {
            self.index[col]
                .and_then(|i| fields.get(i).copied())
                .unwrap_or("")
        };
        if fields.len() != self.header.len() {
            return Ok(Checked::Done(Outcome::Rejected(row::field_count_reject(
                record,
                cell(RECEIPT),
                fields.len(),
                self.header.len(),
            ))));
        }
        let mut cells = [""; COLUMN_COUNT];
        for (col, c) in cells.iter_mut().enumerate() {
            *c = cell(col);
        }
        Ok(match check_row(&cells, line, &self.rules) {
            Ok(unclaimed) => Checked::Unclaimed(unclaimed),
            Err(reject) => Checked::Done(Outcome::Rejected(reject)),
        })
    }
}
