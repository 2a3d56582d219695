//! Streaming intake of the nightly filings CSV.
//!
//! [`Intake`] reads the file one record at a time into fixed buffers (never
//! the whole file, never more than [`MAX_RECORD_BYTES`] of one record) and
//! turns every data row into exactly one
//! [`Outcome`]: a validated [`Filing`] or a [`Reject`] that names the input
//! line, the column at fault and a sentence a clerk can act on.
//!
//! Two kinds of trouble are kept apart on purpose:
//! - **The file is wrong** ([`IntakeError`]): no header, a missing or unknown
//!   column, text that is not UTF-8, an unreadable stream. Nothing in such a
//!   file can be trusted, so the iterator yields the error and then stops.
//!   An unknown column fails the file rather than being ignored: a misspelt
//!   `zip_code` would otherwise silently drop every ZIP.
//! - **A row is wrong** ([`Reject`]): a bad receipt, an unknown form, a ZIP
//!   with four digits, a row with too many or too few fields, a row over
//!   [`MAX_RECORD_BYTES`] (typically a quote never closed, which joins every
//!   line after it into one record). One bad row must not stop the night, so
//!   it becomes a reject and reading goes on. Values quoted back in a reason
//!   or the receipt column are clipped, so no reject copies a runaway cell.
//!
//! Each row is checked in column order (`receipt_number`, `form_type`,
//! `received_date`, `given_name`, `middle_name`, `family_name` (then the
//! printed name line), `a_number`, `in_care_of`, `address_line1`,
//! `address_line2`, `city`, `state`, `zip`, `language`) and the first
//! problem found is the row's one reject; cross-field checks are reported on
//! the later column (military city vs state on `state`, territory ZIPs on
//! `zip`). Address rules live in [`crate::address`]. Every name and address
//! field must fit its line of the recipient window on its own; the window is
//! a [`WindowFit`] the caller builds from the configured envelope.
//!
//! A receipt number repeated inside one file: the first row that carries it
//! wins, whether or not that row was valid, and later rows are rejected as
//! duplicates naming the first line. Receipts seen are kept packed in a
//! `u64` hash table while there are few of them; past
//! [`RECEIPTS_IN_MEMORY`] they move to a temporary on-disk SQLite table, so
//! the memory of a run does not grow with the number of rows.
//!
//! Rows whose every cell is empty (spreadsheet exports often end with a few)
//! are skipped and counted in [`Intake::blank_rows`], not rejected. Line
//! numbers are physical, 1-based lines of the start of a row (the header is
//! line 1), so a quoted cell spanning several lines, a CRLF file or a row
//! swallowed by an unclosed quote is reported at the line where it starts.
//!
//! Every record after the header is counted exactly once
//! ([`Intake::counts`]: `records == valid + rejected + blank`). A header
//! with no data rows after it ([`IntakeCounts::has_no_data_rows`]) is not an
//! error here: the batch turns it into "no filings in FILE".
//!
//! Where things are: this file holds the reader loop and the counters;
//! `header` checks the header row, `reader` splits the bytes into records
//! and finds their lines, `row` validates one row field by field, `seen`
//! remembers the receipts already claimed, `columns` checks one record on
//! its own (what any thread may do), `ahead` runs an intake on a thread of
//! its own, ahead of the loop that consumes it. [`Intake::data_rows_to_end`]
//! reads a file only for what can fail it as a whole (the run's check
//! before it writes anything).

mod ahead;
mod columns;
mod header;
mod reader;
mod row;
mod seen;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::NaiveDate;

pub use crate::address::WindowFit;
use crate::filing::{Filing, Reject};

pub use ahead::{read_ahead, ReadAhead};
use columns::{Checked, Columns};
use reader::utf8_fields;
pub(crate) use reader::{Record, RecordReader};
pub use reader::{MAX_RECORD_BYTES, MAX_RECORD_FIELDS};
use row::claim;
#[cfg(test)]
use row::non_empty;
use seen::ReceiptIndex;
pub use seen::RECEIPTS_IN_MEMORY;

/// The input columns in their documented order, which is also the order in
/// which a row is checked.
pub const COLUMNS: [&str; COLUMN_COUNT] = [
    "receipt_number",
    "form_type",
    "received_date",
    "given_name",
    "middle_name",
    "family_name",
    "a_number",
    "in_care_of",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip",
    "language",
];

/// Columns a header may leave out entirely; their cells read as empty.
pub const OPTIONAL_COLUMNS: [&str; 5] = [
    "middle_name",
    "a_number",
    "in_care_of",
    "address_line2",
    "language",
];

/// A received date before this year is a typo (the forms' electronic
/// receipting is far younger), not a filing to act on.
pub const EARLIEST_RECEIVED_YEAR: i32 = 1990;

const COLUMN_COUNT: usize = 14;
const RECEIPT: usize = 0;
const FORM: usize = 1;
const RECEIVED: usize = 2;
const GIVEN: usize = 3;
const MIDDLE: usize = 4;
const FAMILY: usize = 5;
const A_NUMBER: usize = 6;
const IN_CARE_OF: usize = 7;
const LINE1: usize = 8;
const LINE2: usize = 9;
const CITY: usize = 10;
const STATE: usize = 11;
const ZIP: usize = 12;
const LANGUAGE: usize = 13;

/// What became of one data row.
// `Valid` is both the large and the common variant: boxing it would add an
// allocation per row and save no memory.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Valid(Filing),
    Rejected(Reject),
}

/// The file as a whole cannot be used. Messages name the file, the line
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("cannot open the filings file {path}: {cause}")]
    Open { path: String, cause: std::io::Error },
    #[error("{file} is empty; it needs a header row naming the columns ({})", COLUMNS.join(", "))]
    Empty { file: String },
    #[error("{file} line {line}: not valid UTF-8 text (byte 0x{byte:02X} in {column}); save the file as UTF-8")]
    NotUtf8 {
        file: String,
        line: u64,
        byte: u8,
        column: String,
    },
    #[error("{file} line {line}: the header has no column {missing}; the required columns are {}", required_columns().join(", "))]
    MissingColumns {
        file: String,
        line: u64,
        missing: String,
    },
    #[error("{file} line {line}: unknown column '{name}' in the header; the columns are {} (check the spelling: data in an unknown column would be lost)", COLUMNS.join(", "))]
    UnknownColumn {
        file: String,
        line: u64,
        name: String,
    },
    #[error("{file} line {line}: column {position} of the header has no name; name it or delete the empty column")]
    UnnamedColumn {
        file: String,
        line: u64,
        position: usize,
    },
    #[error("{file} line {line}: column '{name}' appears twice in the header; keep one")]
    DuplicateColumn {
        file: String,
        line: u64,
        name: String,
    },
    #[error(
        "{file} line {line}: cannot keep track of receipt numbers in a temporary file: {cause}"
    )]
    Scratch {
        file: String,
        line: u64,
        cause: String,
    },
    #[error("{file}: reading failed near line {line}: {cause}")]
    Read {
        file: String,
        line: u64,
        cause: std::io::Error,
    },
    #[error("{file} line {line}: the header row is longer than {} KB or has more than {MAX_RECORD_FIELDS} columns; this is not a filings CSV (or a quote in the header is never closed)", MAX_RECORD_BYTES / 1024)]
    HeaderTooLong { file: String, line: u64 },
    #[error("{file}: its lines end with a carriage return alone (old Mac line ends), so it reads as one endless line; save it with Unix (LF) or Windows (CRLF) line ends and run again")]
    CrLineEnds { file: String },
}

/// The columns every header must name.
pub fn required_columns() -> Vec<&'static str> {
    COLUMNS
        .iter()
        .copied()
        .filter(|c| !OPTIONAL_COLUMNS.contains(c))
        .collect()
}

/// Streaming validator: an iterator of `Result<Outcome, IntakeError>`.
/// After an `Err` the iterator ends; the file must not be used.
pub struct Intake<R: Read> {
    reader: RecordReader<R>,
    columns: Columns,
    seen: ReceiptIndex,
    records: u64,
    read: u64,
    valid: u64,
    rejected: u64,
    blank: u64,
    done: bool,
}

/// Opens a filings file and checks its header; see [`Intake::open`].
pub fn open(
    path: &Path,
    batch_date: NaiveDate,
    fit: WindowFit,
) -> Result<Intake<BufReader<File>>, IntakeError> {
    Intake::open(path, batch_date, fit)
}

impl Intake<BufReader<File>> {
    /// Opens a filings file and checks its header.
    pub fn open(path: &Path, batch_date: NaiveDate, fit: WindowFit) -> Result<Self, IntakeError> {
        let file = File::open(path).map_err(|cause| IntakeError::Open {
            path: path.display().to_string(),
            cause,
        })?;
        Intake::new(
            BufReader::new(file),
            &path.display().to_string(),
            batch_date,
            fit,
        )
    }
}

impl<R: Read> Intake<R> {
    /// Reads and checks the header row. `source_name` names the file in
    /// messages; `batch_date` is the latest acceptable received date; `fit`
    /// is the envelope window every printed address line must fit (built
    /// from the configuration by the caller, see `crate::layout::window_fit`).
    pub fn new(
        reader: R,
        source_name: &str,
        batch_date: NaiveDate,
        fit: WindowFit,
    ) -> Result<Self, IntakeError> {
        let file = source_name.to_string();
        let mut reader = RecordReader::new(reader);
        // Blank lines before the header (a lone `\r` of a CRLF file included)
        // are skipped like blank rows.
        let record = loop {
            let record = match reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => return Err(IntakeError::Empty { file }),
                Err(cause) => {
                    let line = reader.line();
                    return Err(IntakeError::Read { file, line, cause });
                }
            };
            if reader.cr_line_ends() {
                return Err(IntakeError::CrLineEnds { file });
            }
            if record.too_long.is_some() {
                return Err(IntakeError::HeaderTooLong {
                    file,
                    line: record.start_line,
                });
            }
            if !reader.fields().iter().all(|f| f.trim_ascii().is_empty()) {
                break record;
            }
        };
        let line = record.start_line;
        let raw_header = reader.fields();
        let names = utf8_fields(&raw_header, line, |i| format!("header field {}", i + 1))
            .map_err(|e| e.into_error(&file))?;
        let (header, index) = header::columns(&names, &file, line)?;
        Ok(Intake {
            reader,
            columns: Columns {
                file,
                rules: row::Rules { batch_date, fit },
                header,
                index,
            },
            seen: ReceiptIndex::default(),
            records: 0,
            read: 0,
            valid: 0,
            rejected: 0,
            blank: 0,
            done: false,
        })
    }

    /// Data rows read so far (blank rows excluded): `valid() + rejected()`.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Rows that became a [`Filing`].
    pub fn valid(&self) -> u64 {
        self.valid
    }

    /// Rows that became a [`Reject`].
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Rows whose every cell was empty; skipped, neither valid nor rejected.
    pub fn blank_rows(&self) -> u64 {
        self.blank
    }

    /// Reads the rest of the file for what can fail it as a whole (a
    /// record that cannot be read, a cell that is not UTF-8: the same
    /// errors, at the same lines, as reading it row by row) and returns how
    /// many data rows (not blank) it holds, without the rules about a row's
    /// contents, which only ever reject the row. So a run can refuse a
    /// malformed file before writing anything, at a fraction of a full read.
    /// The rows are not counted as valid or rejected; the file must not be
    /// read further.
    pub fn data_rows_to_end(&mut self) -> Result<u64, IntakeError> {
        let mut rows = 0u64;
        while !self.done {
            let shape = match self.next_record() {
                Ok(Some(record)) => {
                    let raw = self.reader.fields();
                    self.columns.shape(&record, &raw)
                }
                Ok(None) => break,
                Err(error) => Err(error),
            };
            match shape {
                Ok(data) => rows += u64::from(data),
                Err(error) => {
                    self.done = true;
                    return Err(error);
                }
            }
        }
        self.done = true;
        Ok(rows)
    }

    /// The next record, or the error that stops the file there.
    fn next_record(&mut self) -> Result<Option<Record>, IntakeError> {
        self.reader
            .next_record()
            .map_err(|cause| IntakeError::Read {
                file: self.columns.file.clone(),
                line: self.reader.line(),
                cause,
            })
    }

    /// Every count at once; see [`IntakeCounts`].
    pub fn counts(&self) -> IntakeCounts {
        IntakeCounts {
            records: self.records,
            valid: self.valid,
            rejected: self.rejected,
            blank: self.blank,
        }
    }

    /// The file name used in messages.
    pub fn source_name(&self) -> &str {
        &self.columns.file
    }

    fn fail(&mut self, error: IntakeError) -> Option<Result<Outcome, IntakeError>> {
        self.done = true;
        Some(Err(error))
    }

    /// One record as an outcome, counted; `None` for a blank row.
    fn outcome(&mut self, record: &Record) -> Result<Option<Outcome>, IntakeError> {
        let raw = self.reader.fields();
        let checked = self.columns.check(record, &raw)?;
        self.settle(checked, record.start_line)
    }

    /// A checked record's outcome, its receipt claimed, counted. Records
    /// must be settled in file order (the first row with a receipt wins).
    fn settle(&mut self, checked: Checked, line: u64) -> Result<Option<Outcome>, IntakeError> {
        let outcome = match checked {
            Checked::Blank => None,
            Checked::Done(outcome) => Some(outcome),
            Checked::Unclaimed(row) => {
                Some(
                    claim(row, &mut self.seen).map_err(|e| IntakeError::Scratch {
                        file: self.columns.file.clone(),
                        line,
                        cause: e.to_string(),
                    })?,
                )
            }
        };
        self.records += 1;
        match &outcome {
            None => self.blank += 1,
            Some(Outcome::Valid(_)) => self.valid += 1,
            Some(Outcome::Rejected(_)) => self.rejected += 1,
        }
        self.read = self.valid + self.rejected;
        Ok(outcome)
    }
}

/// What intake has counted so far; final once the iterator has ended.
///
/// Every record after the header is counted exactly once:
/// `records == valid + rejected + blank`. A file that has a header but no
/// data rows (`data_rows() == 0`, whether it has blank rows or none) is
/// "no filings in FILE": the batch decides what to do about it (exit
/// status 4); intake only reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntakeCounts {
    /// Records after the header, blank ones included.
    pub records: u64,
    pub valid: u64,
    pub rejected: u64,
    /// Records whose every cell was empty: skipped.
    pub blank: u64,
}

impl IntakeCounts {
    /// Rows that were not blank: each became a filing or a reject.
    pub fn data_rows(&self) -> u64 {
        self.valid + self.rejected
    }

    /// The file had a header and nothing else but blank rows.
    pub fn has_no_data_rows(&self) -> bool {
        self.data_rows() == 0
    }
}

impl<R: Read> Iterator for Intake<R> {
    type Item = Result<Outcome, IntakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let record = match self.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(error) => return self.fail(error),
            };
            match self.outcome(&record) {
                Ok(None) => {}
                Ok(Some(outcome)) => return Some(Ok(outcome)),
                Err(error) => return self.fail(error),
            }
        }
    }
}

impl<R: Read> std::iter::FusedIterator for Intake<R> {}
