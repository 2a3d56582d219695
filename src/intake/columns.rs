//! One record checked on its own against the header and the rules: all of
//! a row's check that does not depend on the rows before it, so any thread
//! may do it. Whether its receipt was already claimed is decided after, in
//! file order (`row::claim`).

use super::reader::{utf8_fields, Record, TooLong};
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

/// A record's cells as text, before any rule about their contents.
enum Cells<'a> {
    /// Longer than a record may be: rejected, its cells not read.
    TooLong(&'a TooLong),
    /// Every cell empty: skipped.
    Blank,
    Text(Vec<&'a str>),
}

impl Columns {
    /// The part of a record's check that can fail the whole file (a cell
    /// that is not UTF-8), and what it leaves: the cells as text, or why
    /// they are not looked at.
    fn cells<'a>(&self, record: &'a Record, raw: &[&'a [u8]]) -> Result<Cells<'a>, IntakeError> {
        if let Some(long) = &record.too_long {
            return Ok(Cells::TooLong(long));
        }
        let header = &self.header;
        let fields = utf8_fields(raw, record.start_line, |i| match header.get(i) {
            Some(name) => format!("column {name}"),
            None => format!("field {} (beyond the header)", i + 1),
        })
        .map_err(|e| e.into_error(&self.file))?;
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(Cells::Blank);
        }
        Ok(Cells::Text(fields))
    }

    /// Whether a record is a data row (not blank), or the error that fails
    /// the file: [`Columns::check`] without the rules about a row's
    /// contents, which only ever reject the row.
    pub(super) fn shape(&self, record: &Record, raw: &[&[u8]]) -> Result<bool, IntakeError> {
        Ok(!matches!(self.cells(record, raw)?, Cells::Blank))
    }

    /// Checks one record, given its fields as read (`raw`).
    pub(super) fn check(&self, record: &Record, raw: &[&[u8]]) -> Result<Checked, IntakeError> {
        let line = record.start_line;
        let fields = match self.cells(record, raw)? {
            Cells::Blank => return Ok(Checked::Blank),
            Cells::Text(fields) => fields,
            Cells::TooLong(long) => {
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
        };
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
