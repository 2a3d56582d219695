//! Streaming intake of the nightly filings CSV.
//!
//! [`Intake`] reads the file one row at a time (one reused `csv::ByteRecord`,
//! never the whole file) and turns every data row into exactly one
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
//!   with four digits, a row with too many or too few fields. One bad row
//!   must not stop the night, so it becomes a reject and reading goes on.
//!
//! Each row is checked in column order (`receipt_number`, `form_type`,
//! `received_date`, `given_name`, `middle_name`, `family_name` (then the
//! printed name line), `a_number`, `in_care_of`, `address_line1`,
//! `address_line2`, `city`, `state`, `zip`, `language`) and the first
//! problem found is the row's one reject; cross-field checks are reported on
//! the later column (military city vs state on `state`, territory ZIPs on
//! `zip`). Address rules live in [`crate::address`].
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
//! line 1), so a quoted cell spanning several lines is counted correctly.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use csv::ByteRecord;

use crate::address::{self, FieldProblem, RawAddress};
use crate::filing::{Filing, FormType, Language, ReceiptNumber, Reject};

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

/// Longest header name or cell value quoted back in a message; garbage
/// headers (a binary file) must not produce a megabyte-long error.
const SHOWN_VALUE_MAX_CHARS: usize = 40;

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
        cause: csv::Error,
    },
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
    reader: csv::Reader<EndWithNewline<R>>,
    file: String,
    batch_date: NaiveDate,
    /// Header names by position, for messages.
    header: Vec<String>,
    /// Position of each of [`COLUMNS`] in the file, `None` for an absent
    /// optional column.
    index: [Option<usize>; COLUMN_COUNT],
    record: ByteRecord,
    seen: ReceiptIndex,
    read: u64,
    valid: u64,
    rejected: u64,
    blank: u64,
    last_line: u64,
    done: bool,
}

/// Opens a filings file and checks its header; see [`Intake::open`].
pub fn open(path: &Path, batch_date: NaiveDate) -> Result<Intake<BufReader<File>>, IntakeError> {
    Intake::open(path, batch_date)
}

impl Intake<BufReader<File>> {
    /// Opens a filings file and checks its header.
    pub fn open(path: &Path, batch_date: NaiveDate) -> Result<Self, IntakeError> {
        let file = File::open(path).map_err(|cause| IntakeError::Open {
            path: path.display().to_string(),
            cause,
        })?;
        Intake::new(
            BufReader::new(file),
            &path.display().to_string(),
            batch_date,
        )
    }
}

impl<R: Read> Intake<R> {
    /// Reads and checks the header row. `source_name` names the file in
    /// messages; `batch_date` is the latest acceptable received date.
    pub fn new(reader: R, source_name: &str, batch_date: NaiveDate) -> Result<Self, IntakeError> {
        let file = source_name.to_string();
        // Headers are read by hand (has_headers(false)) so that a header
        // that is not UTF-8 is reported like any other line; `flexible` lets
        // a row with the wrong field count become a reject, not an error.
        // Only `\n` ends a record (see `record_start_line` for why).
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(EndWithNewline::new(reader));
        let mut raw_header = ByteRecord::new();
        // Blank lines before the header (a lone `\r` of a CRLF file included)
        // are skipped like blank rows.
        loop {
            match reader.read_byte_record(&mut raw_header) {
                Ok(true) if raw_header.iter().all(|f| f.trim_ascii().is_empty()) => {}
                Ok(true) => break,
                Ok(false) => return Err(IntakeError::Empty { file }),
                Err(cause) => {
                    return Err(IntakeError::Read {
                        file,
                        line: 1,
                        cause,
                    })
                }
            }
        }
        let line = record_start_line(&raw_header, &reader);
        let names = utf8_fields(&raw_header, line, |i| format!("header field {}", i + 1))
            .map_err(|e| e.into_error(&file))?;
        let header: Vec<String> = names
            .iter()
            .map(|n| {
                n.trim()
                    .trim_start_matches('\u{FEFF}')
                    .trim()
                    .to_lowercase()
            })
            .collect();

        let mut index = [None; COLUMN_COUNT];
        for (position, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(IntakeError::UnnamedColumn {
                    file,
                    line,
                    position: position + 1,
                });
            }
            let Some(col) = COLUMNS.iter().position(|c| c == name) else {
                let typed = names[position].trim().trim_start_matches('\u{FEFF}');
                return Err(IntakeError::UnknownColumn {
                    file,
                    line,
                    name: shown(typed),
                });
            };
            if index[col].is_some() {
                return Err(IntakeError::DuplicateColumn {
                    file,
                    line,
                    name: name.clone(),
                });
            }
            index[col] = Some(position);
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .zip(index.iter())
            .filter(|(name, found)| found.is_none() && !OPTIONAL_COLUMNS.contains(name))
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(IntakeError::MissingColumns {
                file,
                line,
                missing: missing.join(", "),
            });
        }

        Ok(Intake {
            reader,
            file,
            batch_date,
            header,
            index,
            record: ByteRecord::new(),
            seen: ReceiptIndex::default(),
            read: 0,
            valid: 0,
            rejected: 0,
            blank: 0,
            last_line: line,
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

    /// The file name used in messages.
    pub fn source_name(&self) -> &str {
        &self.file
    }

    fn fail(&mut self, error: IntakeError) -> Option<Result<Outcome, IntakeError>> {
        self.done = true;
        Some(Err(error))
    }
}

impl<R: Read> Iterator for Intake<R> {
    type Item = Result<Outcome, IntakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(cause) => {
                    let error = IntakeError::Read {
                        file: self.file.clone(),
                        line: self.last_line,
                        cause,
                    };
                    return self.fail(error);
                }
            }
            let line = record_start_line(&self.record, &self.reader);
            self.last_line = line;
            let header = &self.header;
            let fields = match utf8_fields(&self.record, line, |i| match header.get(i) {
                Some(name) => format!("column {name}"),
                None => format!("field {} (beyond the header)", i + 1),
            }) {
                Ok(fields) => fields,
                Err(e) => {
                    let error = e.into_error(&self.file);
                    return self.fail(error);
                }
            };
            if fields.iter().all(|f| f.trim().is_empty()) {
                self.blank += 1;
                continue;
            }
            self.read += 1;

            let cell = |col: usize| -> &str {
                self.index[col]
                    .and_then(|i| fields.get(i).copied())
                    .unwrap_or("")
            };
            let outcome = if fields.len() != self.header.len() {
                Outcome::Rejected(Reject {
                    line,
                    receipt_number: non_empty(cell(RECEIPT)),
                    field: "row".into(),
                    reason: format!(
                        "the row has {} fields; the header has {}",
                        fields.len(),
                        self.header.len()
                    ),
                })
            } else {
                let mut cells = [""; COLUMN_COUNT];
                for (col, c) in cells.iter_mut().enumerate() {
                    *c = cell(col);
                }
                match validate_row(&cells, line, self.batch_date, &mut self.seen) {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        let error = IntakeError::Scratch {
                            file: self.file.clone(),
                            line,
                            cause: e.to_string(),
                        };
                        return self.fail(error);
                    }
                }
            };
            match &outcome {
                Outcome::Valid(_) => self.valid += 1,
                Outcome::Rejected(_) => self.rejected += 1,
            }
            return Some(Ok(outcome));
        }
    }
}

impl<R: Read> std::iter::FusedIterator for Intake<R> {}

/// The physical line a record starts on.
///
/// `csv` stamps a record with the position *before* it skipped blank lines,
/// and with its default terminator it ends a CRLF record at the `\r`,
/// leaving the `\n` for the next record: both make its line numbers drift.
/// So records end only at `\n`, the input always ends with one
/// ([`EndWithNewline`]), and the start line is counted back from the
/// position after the record: minus the line breaks inside quoted fields,
/// minus the terminator.
fn record_start_line<R: Read>(record: &ByteRecord, reader: &csv::Reader<R>) -> u64 {
    let inner_breaks: u64 = record
        .iter()
        .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
        .sum();
    reader
        .position()
        .line()
        .saturating_sub(inner_breaks)
        .saturating_sub(1)
}

/// Reads `R` and adds a final `\n` when the data does not end with one, so
/// every record, the last included, has a terminator.
struct EndWithNewline<R> {
    inner: R,
    last: Option<u8>,
    finished: bool,
}

impl<R> EndWithNewline<R> {
    fn new(inner: R) -> Self {
        EndWithNewline {
            inner,
            last: None,
            finished: false,
        }
    }
}

impl<R: Read> Read for EndWithNewline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
            return Ok(n);
        }
        self.finished = true;
        if self.last.is_some_and(|b| b != b'\n') {
            buf[0] = b'\n';
            return Ok(1);
        }
        Ok(0)
    }
}

/// A not-UTF-8 finding before the file name is attached.
struct BadUtf8 {
    line: u64,
    byte: u8,
    column: String,
}

impl BadUtf8 {
    fn into_error(self, file: &str) -> IntakeError {
        IntakeError::NotUtf8 {
            file: file.to_string(),
            line: self.line,
            byte: self.byte,
            column: self.column,
        }
    }
}

/// Every field as text, or where the first invalid byte is. The line
/// accounts for line breaks inside quoted fields before the bad byte. The
/// `\r` of a CRLF line end stays on the last field (records end at `\n`)
/// and is removed here.
fn utf8_fields(
    record: &ByteRecord,
    line: u64,
    column_name: impl Fn(usize) -> String,
) -> Result<Vec<&str>, BadUtf8> {
    let mut fields = Vec::with_capacity(record.len());
    let mut breaks_before = 0u64;
    for (i, bytes) in record.iter().enumerate() {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                breaks_before += text.bytes().filter(|&b| b == b'\n').count() as u64;
                let text = if i + 1 == record.len() {
                    text.strip_suffix('\r').unwrap_or(text)
                } else {
                    text
                };
                fields.push(text);
            }
            Err(e) => {
                let at = e.valid_up_to();
                let within = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
                return Err(BadUtf8 {
                    line: line + breaks_before + within,
                    byte: bytes.get(at).copied().unwrap_or(0),
                    column: column_name(i),
                });
            }
        }
    }
    Ok(fields)
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A value quoted back in a message: control characters escaped, long
/// values shortened.
fn shown(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(SHOWN_VALUE_MAX_CHARS)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if s.chars().count() > SHOWN_VALUE_MAX_CHARS {
        out.push('…');
    }
    out
}

/// How many receipts are tracked in memory before the index moves to a
/// temporary file (about 2 MB of hash table).
pub const RECEIPTS_IN_MEMORY: usize = 1 << 16;

/// Receipts already claimed in this file: packed receipt → first line, with
/// the low bit set when that row was rejected. Small files stay in a hash
/// table; large ones spill to a private temporary SQLite database (deleted
/// when closed) whose page cache is bounded.
struct ReceiptIndex {
    memory: HashMap<u64, u64>,
    disk: Option<rusqlite::Connection>,
    memory_limit: usize,
}

impl Default for ReceiptIndex {
    fn default() -> Self {
        ReceiptIndex {
            memory: HashMap::new(),
            disk: None,
            memory_limit: RECEIPTS_IN_MEMORY,
        }
    }
}

impl ReceiptIndex {
    /// Three letters and ten digits fit in 48 bits.
    fn pack(r: &ReceiptNumber) -> u64 {
        r.as_str().bytes().fold(0u64, |acc, b| {
            if b.is_ascii_uppercase() {
                acc * 26 + u64::from(b - b'A')
            } else {
                acc * 10 + u64::from(b - b'0')
            }
        })
    }

    fn get(&self, key: u64) -> rusqlite::Result<Option<u64>> {
        use rusqlite::OptionalExtension;
        match &self.disk {
            None => Ok(self.memory.get(&key).copied()),
            Some(db) => db
                .prepare_cached("SELECT first FROM seen WHERE key = ?1")?
                .query_row([key as i64], |row| row.get::<_, i64>(0))
                .optional()
                .map(|v| v.map(|v| v as u64)),
        }
    }

    fn insert(&mut self, key: u64, first: u64) -> rusqlite::Result<()> {
        if self.disk.is_none() && self.memory.len() >= self.memory_limit {
            self.spill()?;
        }
        match &self.disk {
            None => {
                self.memory.insert(key, first);
                Ok(())
            }
            Some(db) => db
                .prepare_cached("INSERT INTO seen (key, first) VALUES (?1, ?2)")?
                .execute([key as i64, first as i64])
                .map(drop),
        }
    }

    fn spill(&mut self) -> rusqlite::Result<()> {
        // An empty path is a private temporary database on disk.
        let db = rusqlite::Connection::open("")?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2048;
             CREATE TABLE seen (key INTEGER PRIMARY KEY, first INTEGER NOT NULL);
             BEGIN;",
        )?;
        {
            let mut insert = db.prepare("INSERT INTO seen (key, first) VALUES (?1, ?2)")?;
            for (k, v) in self.memory.drain() {
                insert.execute([k as i64, v as i64])?;
            }
        }
        self.memory = HashMap::new();
        self.disk = Some(db);
        Ok(())
    }
}

fn validate_row(
    cells: &[&str; COLUMN_COUNT],
    line: u64,
    batch_date: NaiveDate,
    seen: &mut ReceiptIndex,
) -> rusqlite::Result<Outcome> {
    let reject = |p: FieldProblem| {
        Outcome::Rejected(Reject {
            line,
            receipt_number: non_empty(cells[RECEIPT]),
            field: p.field.to_string(),
            reason: p.reason,
        })
    };
    let receipt = match parse_receipt(cells[RECEIPT]) {
        Ok(r) => r,
        Err(p) => return Ok(reject(p)),
    };
    let key = ReceiptIndex::pack(&receipt);
    if let Some(first) = seen.get(key)? {
        let note = if first & 1 == 1 {
            " (that row was rejected)"
        } else {
            ""
        };
        return Ok(reject(FieldProblem::new(
            "receipt_number",
            format!(
                "receipt {receipt} already appears on line {}{note}; only the first row is used",
                first >> 1
            ),
        )));
    }
    let outcome = match validate_rest(cells, line, receipt, batch_date) {
        Ok(filing) => Outcome::Valid(filing),
        Err(p) => reject(p),
    };
    let rejected_bit = u64::from(matches!(outcome, Outcome::Rejected(_)));
    seen.insert(key, (line << 1) | rejected_bit)?;
    Ok(outcome)
}

fn validate_rest(
    cells: &[&str; COLUMN_COUNT],
    line: u64,
    receipt: ReceiptNumber,
    batch_date: NaiveDate,
) -> Result<Filing, FieldProblem> {
    let form = parse_form(cells[FORM])?;
    let received_date = parse_received_date(cells[RECEIVED], batch_date)?;
    let given_name = parse_name("given_name", "given name", cells[GIVEN])?;
    let middle_name = parse_name("middle_name", "middle name", cells[MIDDLE])?;
    let family_name = parse_name("family_name", "family name", cells[FAMILY])?;
    if family_name.is_empty() {
        return Err(FieldProblem::new("family_name", "family name is missing"));
    }
    let middle_name = (!middle_name.is_empty()).then_some(middle_name);
    let name_line = address::name_line(&given_name, middle_name.as_deref(), &family_name)?;
    let a_number = parse_a_number(cells[A_NUMBER])?;
    let address = address::normalize_address(&RawAddress {
        in_care_of: cells[IN_CARE_OF],
        line1: cells[LINE1],
        line2: cells[LINE2],
        city: cells[CITY],
        state: cells[STATE],
        zip: cells[ZIP],
    })?;
    let language = parse_language(cells[LANGUAGE])?;
    Ok(Filing {
        line,
        receipt,
        form,
        received_date,
        given_name,
        middle_name,
        family_name,
        a_number,
        name_line,
        address,
        language,
    })
}

fn parse_receipt(raw: &str) -> Result<ReceiptNumber, FieldProblem> {
    // ReceiptNumber::parse quotes the value back; keep control characters out of it.
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(FieldProblem::new(
            "receipt_number",
            format!(
                "receipt number '{}' contains a control character; retype it",
                shown(raw.trim())
            ),
        ));
    }
    ReceiptNumber::parse(raw).map_err(|reason| FieldProblem::new("receipt_number", reason))
}

fn parse_form(raw: &str) -> Result<FormType, FieldProblem> {
    let typed = raw.trim();
    if typed.is_empty() {
        return Err(FieldProblem::new("form_type", "form type is missing"));
    }
    let key: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match key.as_str() {
        "I485" => Ok(FormType::I485),
        "I131" => Ok(FormType::I131),
        "I765" => Ok(FormType::I765),
        _ => Err(FieldProblem::new(
            "form_type",
            format!(
                "form type '{}' is not one of I-485, I-131, I-765",
                shown(typed)
            ),
        )),
    }
}

fn parse_received_date(raw: &str, batch_date: NaiveDate) -> Result<NaiveDate, FieldProblem> {
    const FIELD: &str = "received_date";
    let typed = raw.trim();
    if typed.is_empty() {
        return Err(FieldProblem::new(FIELD, "received date is missing"));
    }
    let b = typed.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, &c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(FieldProblem::new(
            FIELD,
            format!(
                "received date '{}' is not a date in the form YYYY-MM-DD (like 2026-11-20)",
                shown(typed)
            ),
        ));
    }
    let date = NaiveDate::parse_from_str(typed, "%Y-%m-%d").map_err(|_| {
        FieldProblem::new(
            FIELD,
            format!("received date '{typed}' is not a real calendar date"),
        )
    })?;
    if date > batch_date {
        return Err(FieldProblem::new(
            FIELD,
            format!("received date {date} is after the batch date {batch_date}"),
        ));
    }
    if date.year() < EARLIEST_RECEIVED_YEAR {
        return Err(FieldProblem::new(
            FIELD,
            format!("received date {date} is before {EARLIEST_RECEIVED_YEAR}; check the year"),
        ));
    }
    Ok(date)
}

/// A name cell: printable by the letter font, then NFC, trimmed and with
/// inner whitespace collapsed; only letters, combining marks, spaces,
/// hyphens, apostrophes and periods. Empty is returned as empty.
fn parse_name(field: &'static str, label: &str, raw: &str) -> Result<String, FieldProblem> {
    address::check_printable(field, &format!("the {label}"), raw)?;
    let name = address::tidy_text(raw);
    const ALLOWED: &str = "names may hold only letters, spaces, hyphens, apostrophes and periods";
    for c in name.chars() {
        let ok = c.is_alphabetic()
            || matches!(c, '\u{0300}'..='\u{036F}')
            || matches!(c, ' ' | '-' | '\'' | '.' | '\u{2019}' | '\u{02BC}');
        if ok {
            continue;
        }
        let what = if c.is_numeric() {
            format!("the digit '{c}'")
        } else {
            format!("'{c}'")
        };
        return Err(FieldProblem::new(
            field,
            format!("{label} '{}' contains {what}; {ALLOWED}", shown(&name)),
        ));
    }
    if !name.is_empty() && !name.chars().any(char::is_alphabetic) {
        return Err(FieldProblem::new(
            field,
            format!("{label} '{}' has no letters", shown(&name)),
        ));
    }
    Ok(name)
}

/// `A` and 8 or 9 digits, spaces and hyphens tolerated; printed as `A` and
/// 9 digits (an 8-digit A-number takes a leading zero).
fn parse_a_number(raw: &str) -> Result<Option<String>, FieldProblem> {
    let typed = raw.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    let cleaned: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = cleaned.strip_prefix(['A', 'a']).unwrap_or("");
    if matches!(digits.len(), 8 | 9) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(format!("A{digits:0>9}")));
    }
    Err(FieldProblem::new(
        "a_number",
        format!(
            "A-number '{}' is not A followed by 8 or 9 digits (like A012345678)",
            shown(typed)
        ),
    ))
}

fn parse_language(raw: &str) -> Result<Language, FieldProblem> {
    let typed = raw.trim();
    match typed.to_ascii_lowercase().as_str() {
        "" | "en" => Ok(Language::En),
        "es" => Ok(Language::Es),
        _ => Err(FieldProblem::new(
            "language",
            format!(
                "language '{}' has no letter template; use en or es",
                shown(typed)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn batch() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid date")
    }

    /// A valid row as (column, value) pairs in documented order.
    fn base_row() -> Vec<(&'static str, String)> {
        [
            ("receipt_number", "IOE0912345678"),
            ("form_type", "I-485"),
            ("received_date", "2026-11-20"),
            ("given_name", "José"),
            ("middle_name", "Luis"),
            ("family_name", "Ramírez Núñez"),
            ("a_number", "A012345678"),
            ("in_care_of", ""),
            ("address_line1", "1234 Elm St."),
            ("address_line2", "Apt 4B"),
            ("city", "Los Angeles"),
            ("state", "CA"),
            ("zip", "90012-3456"),
            ("language", "es"),
        ]
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect()
    }

    fn with(changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut row = base_row();
        for (k, v) in changes {
            let slot = row.iter_mut().find(|(c, _)| c == k).expect("known column");
            slot.1 = v.to_string();
        }
        row
    }

    fn csv_of(rows: &[Vec<(&'static str, String)>]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = base_row().iter().map(|(k, _)| *k).collect();
        w.write_record(&header).expect("write header");
        for r in rows {
            w.write_record(r.iter().map(|(_, v)| v.as_str()))
                .expect("write row");
        }
        w.into_inner().expect("flush")
    }

    fn run_bytes(bytes: &[u8]) -> Result<(Vec<Outcome>, u64, u64, u64), IntakeError> {
        let mut intake = Intake::new(bytes, "filings.csv", batch())?;
        let mut outcomes = Vec::new();
        for item in intake.by_ref() {
            outcomes.push(item?);
        }
        Ok((outcomes, intake.read(), intake.valid(), intake.rejected()))
    }

    fn one(row: Vec<(&'static str, String)>) -> Outcome {
        let (mut outcomes, ..) = run_bytes(&csv_of(&[row])).expect("file is fine");
        assert_eq!(outcomes.len(), 1);
        outcomes.remove(0)
    }

    fn valid(row: Vec<(&'static str, String)>) -> Filing {
        match one(row) {
            Outcome::Valid(f) => f,
            Outcome::Rejected(r) => panic!("expected valid, got {r:?}"),
        }
    }

    fn rejected(row: Vec<(&'static str, String)>) -> Reject {
        match one(row) {
            Outcome::Rejected(r) => r,
            Outcome::Valid(f) => panic!("expected reject, got {f:?}"),
        }
    }

    fn assert_reject(changes: &[(&'static str, &str)], field: &str, reason: &str) {
        let r = rejected(with(changes));
        assert_eq!(r.field, field, "{changes:?}: {}", r.reason);
        assert_eq!(r.reason, reason, "{changes:?}");
        assert_eq!(r.line, 2);
    }

    fn assert_reject_contains(changes: &[(&'static str, &str)], field: &str, part: &str) {
        let r = rejected(with(changes));
        assert_eq!(r.field, field, "{changes:?}: {}", r.reason);
        assert!(r.reason.contains(part), "{changes:?}: {}", r.reason);
    }

    #[test]
    fn valid_row_becomes_filing() {
        let f = valid(base_row());
        assert_eq!(f.line, 2);
        assert_eq!(f.receipt.as_str(), "IOE0912345678");
        assert_eq!(f.form, FormType::I485);
        assert_eq!(
            f.received_date,
            NaiveDate::from_ymd_opt(2026, 11, 20).expect("date")
        );
        assert_eq!(f.given_name, "José");
        assert_eq!(f.middle_name.as_deref(), Some("Luis"));
        assert_eq!(f.family_name, "Ramírez Núñez");
        assert_eq!(f.a_number.as_deref(), Some("A012345678"));
        assert_eq!(f.name_line, "JOSÉ LUIS RAMÍREZ NÚÑEZ");
        assert_eq!(f.address.line1, "1234 ELM ST APT 4B");
        assert_eq!(f.address.line2, None);
        assert_eq!(f.address.last_line(), "LOS ANGELES CA 90012-3456");
        assert_eq!(f.language, Language::Es);
        assert_eq!(
            f.address_lines(),
            [
                "JOSÉ LUIS RAMÍREZ NÚÑEZ",
                "1234 ELM ST APT 4B",
                "LOS ANGELES CA 90012-3456"
            ]
        );
    }

    #[test]
    fn receipt_numbers() {
        assert_eq!(
            valid(with(&[("receipt_number", " ioe-091-234-5678 ")]))
                .receipt
                .as_str(),
            "IOE0912345678"
        );
        assert_reject(
            &[("receipt_number", "IOE09123")],
            "receipt_number",
            "receipt number 'IOE09123' is not three letters followed by ten digits (like IOE0912345678)",
        );
        assert_reject(
            &[("receipt_number", "")],
            "receipt_number",
            "receipt number is missing",
        );
        assert_reject_contains(
            &[("receipt_number", "IOE\u{7}0912345678")],
            "receipt_number",
            "control character",
        );
        let r = rejected(with(&[("receipt_number", "XYZ")]));
        assert_eq!(r.receipt_number.as_deref(), Some("XYZ"));
    }

    #[test]
    fn form_types() {
        for (typed, want) in [
            ("I-485", FormType::I485),
            ("I485", FormType::I485),
            ("i-765", FormType::I765),
            ("I 131", FormType::I131),
            ("i–131", FormType::I131),
        ] {
            assert_eq!(valid(with(&[("form_type", typed)])).form, want, "{typed}");
        }
        assert_reject(
            &[("form_type", "I-130")],
            "form_type",
            "form type 'I-130' is not one of I-485, I-131, I-765",
        );
        assert_reject(&[("form_type", " ")], "form_type", "form type is missing");
    }

    #[test]
    fn received_dates() {
        assert_eq!(
            valid(with(&[("received_date", "2026-11-25")])).received_date,
            batch()
        );
        assert_reject(
            &[("received_date", "2026-12-01")],
            "received_date",
            "received date 2026-12-01 is after the batch date 2026-11-25",
        );
        assert_reject(
            &[("received_date", "11/20/2026")],
            "received_date",
            "received date '11/20/2026' is not a date in the form YYYY-MM-DD (like 2026-11-20)",
        );
        assert_reject(
            &[("received_date", "2026-02-30")],
            "received_date",
            "received date '2026-02-30' is not a real calendar date",
        );
        assert_reject(
            &[("received_date", "1989-12-31")],
            "received_date",
            "received date 1989-12-31 is before 1990; check the year",
        );
        assert_eq!(
            valid(with(&[("received_date", "1990-01-01")]))
                .received_date
                .year(),
            1990
        );
        assert_reject(
            &[("received_date", "")],
            "received_date",
            "received date is missing",
        );
    }

    #[test]
    fn names() {
        // Decomposed input (e + combining acute) is stored composed.
        let f = valid(with(&[
            ("given_name", "  Jose\u{0301}  "),
            ("family_name", "Nguye\u{0302}\u{0303}n  Văn"),
        ]));
        assert_eq!(f.given_name, "José");
        assert_eq!(f.family_name, "Nguyễn Văn");
        assert_eq!(f.name_line, "JOSÉ LUIS NGUYỄN VĂN");
        // Single-name applicant.
        let f = valid(with(&[
            ("given_name", ""),
            ("middle_name", ""),
            ("family_name", "Zoë"),
        ]));
        assert_eq!(
            (
                f.given_name.as_str(),
                f.middle_name.clone(),
                f.name_line.as_str()
            ),
            ("", None, "ZOË")
        );
        let f = valid(with(&[
            ("given_name", "Mary-Kate"),
            ("middle_name", "J."),
            ("family_name", "O’Brien"),
        ]));
        assert_eq!(f.name_line, "MARY-KATE J O'BRIEN");
        assert_eq!(
            valid(with(&[("family_name", "Ødegård"), ("given_name", "Σοφία")])).name_line,
            "ΣΟΦΊΑ LUIS ØDEGÅRD"
        );
        assert_reject(
            &[("family_name", "")],
            "family_name",
            "family name is missing",
        );
        assert_reject(
            &[("family_name", "  ")],
            "family_name",
            "family name is missing",
        );
        assert_reject(
            &[("family_name", "Sm1th")],
            "family_name",
            "family name 'Sm1th' contains the digit '1'; names may hold only letters, spaces, hyphens, apostrophes and periods",
        );
        assert_reject_contains(&[("given_name", "Ana@home")], "given_name", "contains '@'");
        assert_reject(
            &[("family_name", "Li 😀")],
            "family_name",
            "the font used for letters cannot print '😀' (U+1F600) in family_name",
        );
        assert_reject(
            &[("given_name", "李")],
            "given_name",
            "the font used for letters cannot print '李' (U+674E) in given_name",
        );
        assert_reject_contains(&[("middle_name", "A\u{1}B")], "middle_name", "U+0001");
        assert_reject(
            &[("family_name", "--")],
            "family_name",
            "family name '--' has no letters",
        );
    }

    #[test]
    fn long_names_are_shortened_or_rejected() {
        let f = valid(with(&[
            ("given_name", "Khai"),
            ("middle_name", "Thị Minh Hoàng Phương"),
            ("family_name", "Nguyễn Trần Phạm"),
        ]));
        assert_eq!(f.name_line, "KHAI T M H P NGUYỄN TRẦN PHẠM");
        assert_eq!(f.middle_name.as_deref(), Some("Thị Minh Hoàng Phương"));
        assert_reject_contains(
            &[
                ("given_name", "Wolfeschlegelsteinhausen"),
                ("middle_name", ""),
                ("family_name", "Bergerdorffvoralternwaren"),
            ],
            "family_name",
            "is 50 characters; the envelope window shows at most 40",
        );
    }

    #[test]
    fn a_numbers() {
        assert_eq!(
            valid(with(&[("a_number", "A12345678")]))
                .a_number
                .as_deref(),
            Some("A012345678")
        );
        assert_eq!(
            valid(with(&[("a_number", "a-123-456-789")]))
                .a_number
                .as_deref(),
            Some("A123456789")
        );
        assert_eq!(
            valid(with(&[("a_number", "A 123 456 789")]))
                .a_number
                .as_deref(),
            Some("A123456789")
        );
        assert_eq!(valid(with(&[("a_number", "")])).a_number, None);
        assert_reject(
            &[("a_number", "12345678")],
            "a_number",
            "A-number '12345678' is not A followed by 8 or 9 digits (like A012345678)",
        );
        assert_reject_contains(&[("a_number", "A1234")], "a_number", "'A1234'");
        assert_reject_contains(&[("a_number", "A1234567890")], "a_number", "8 or 9 digits");
        assert_reject_contains(&[("a_number", "Ä12345678")], "a_number", "8 or 9 digits");
    }

    #[test]
    fn address_fields_map_to_columns() {
        let f = valid(with(&[
            ("in_care_of", "c/o María López"),
            ("address_line2", ""),
        ]));
        assert_eq!(f.address.in_care_of.as_deref(), Some("C/O MARÍA LÓPEZ"));
        assert_eq!(f.address_lines()[1], "C/O MARÍA LÓPEZ");
        let f = valid(with(&[
            ("address_line1", "PSC 3 Box 4120"),
            ("address_line2", ""),
            ("city", "APO"),
            ("state", "AE"),
            ("zip", "09021"),
        ]));
        assert_eq!(f.address.last_line(), "APO AE 09021");
        assert_reject_contains(
            &[("in_care_of", "Immigrant Legal Resource Center Attn Intake")],
            "in_care_of",
            "47 characters",
        );
        assert_reject_contains(
            &[(
                "address_line1",
                "12345 North Martin Luther King Junior Boulevard",
            )],
            "address_line1",
            "is 47 characters",
        );
        assert_reject(
            &[("address_line1", "")],
            "address_line1",
            "address line 1 is missing",
        );
        assert_reject_contains(
            &[(
                "address_line2",
                "Building C Suite 300 Attention Receiving Dock North",
            )],
            "address_line2",
            "characters",
        );
        assert_reject(&[("city", "")], "city", "city is missing");
        assert_reject(
            &[("state", "XX")],
            "state",
            "state 'XX' is not a USPS state, territory or military code",
        );
        assert_reject(
            &[("city", "APO"), ("state", "TX")],
            "state",
            "city APO is military mail and needs state AA, AE or AP, not TX",
        );
        assert_reject(
            &[("state", "AE")],
            "state",
            "military state code AE needs city APO, FPO or DPO, not 'LOS ANGELES'",
        );
        assert_reject_contains(&[("zip", "9001")], "zip", "is not 5 digits or ZIP+4");
        assert_reject(
            &[("zip", "00926")],
            "zip",
            "ZIP 00926 belongs to PR, but the state is CA",
        );
    }

    #[test]
    fn languages() {
        assert_eq!(valid(with(&[("language", "EN")])).language, Language::En);
        assert_eq!(valid(with(&[("language", " Es ")])).language, Language::Es);
        assert_eq!(valid(with(&[("language", "")])).language, Language::En);
        assert_reject(
            &[("language", "fr")],
            "language",
            "language 'fr' has no letter template; use en or es",
        );
    }

    #[test]
    fn first_problem_in_column_order_wins() {
        assert_reject_contains(
            &[("form_type", "I-130"), ("zip", "1"), ("language", "fr")],
            "form_type",
            "I-130",
        );
        assert_reject_contains(
            &[("family_name", ""), ("zip", "1")],
            "family_name",
            "missing",
        );
        assert_reject_contains(&[("zip", "1"), ("language", "fr")], "zip", "'1'");
    }

    #[test]
    fn duplicates_first_row_wins() {
        let rows = vec![
            base_row(),
            with(&[("receipt_number", "MSC2190000001")]),
            with(&[
                ("receipt_number", "IOE-0912345678"),
                ("given_name", "Other"),
            ]),
            with(&[("receipt_number", "EAC2190000002"), ("zip", "1")]),
            with(&[("receipt_number", "EAC2190000002")]),
        ];
        let (outcomes, read, valid, rejected) = run_bytes(&csv_of(&rows)).expect("file is fine");
        assert_eq!((read, valid, rejected), (5, 2, 3));
        match &outcomes[2] {
            Outcome::Rejected(r) => {
                assert_eq!(r.line, 4);
                assert_eq!(r.field, "receipt_number");
                assert_eq!(
                    r.reason,
                    "receipt IOE0912345678 already appears on line 2; only the first row is used"
                );
                assert_eq!(r.receipt_number.as_deref(), Some("IOE-0912345678"));
            }
            other => panic!("{other:?}"),
        }
        match &outcomes[4] {
            Outcome::Rejected(r) => assert_eq!(
                r.reason,
                "receipt EAC2190000002 already appears on line 5 (that row was rejected); only the first row is used"
            ),
            other => panic!("{other:?}"),
        }
        // Packing is injective on the receipt shape.
        let a = ReceiptIndex::pack(&ReceiptNumber::parse("ZZZ9999999999").expect("ok"));
        let b = ReceiptIndex::pack(&ReceiptNumber::parse("AAA0000000000").expect("ok"));
        assert_eq!((a, b), (17_575 * 10_000_000_000 + 9_999_999_999, 0));
    }

    fn header_error(text: &str) -> String {
        match Intake::new(text.as_bytes(), "filings.csv", batch()) {
            Ok(_) => panic!("expected a header error for {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    const REQUIRED_HEADER: &str =
        "receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state,zip";

    #[test]
    fn header_rules() {
        // Optional columns may be absent; order and case do not matter.
        let text = "Zip, STATE ,city,address_line1,family_name,given_name,received_date,form_type,receipt_number\n\
                    10001,NY,New York,1 Main St,Doe,Jane,2026-11-01,I-765,SRC2190000003\n";
        let (outcomes, ..) = run_bytes(text.as_bytes()).expect("header is fine");
        match &outcomes[..] {
            [Outcome::Valid(f)] => {
                assert_eq!(f.name_line, "JANE DOE");
                assert_eq!(
                    (f.language, f.a_number.clone(), f.address.line2.clone()),
                    (Language::En, None, None)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            header_error("receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state\n"),
            "filings.csv line 1: the header has no column zip; the required columns are receipt_number, form_type, received_date, given_name, family_name, address_line1, city, state, zip"
        );
        assert!(header_error(&format!("{REQUIRED_HEADER},zip_code\n"))
            .starts_with("filings.csv line 1: unknown column 'zip_code' in the header; the columns are receipt_number,"));
        assert_eq!(
            header_error(&format!("{REQUIRED_HEADER},City\n")),
            "filings.csv line 1: column 'city' appears twice in the header; keep one"
        );
        assert_eq!(
            header_error(&format!("{REQUIRED_HEADER},\n")),
            "filings.csv line 1: column 10 of the header has no name; name it or delete the empty column"
        );
        assert!(header_error("").starts_with("filings.csv is empty; it needs a header row"));
        assert!(header_error("\n\n").starts_with("filings.csv is empty"));
        // Garbage that happens to be UTF-8 fails on its first "column".
        assert!(header_error("%PDF-1.7\n%âãÏÓ\n").contains("unknown column '%PDF-1.7'"));
    }

    #[test]
    fn byte_order_mark_is_tolerated() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(csv_of(&[base_row()]));
        let (outcomes, ..) = run_bytes(&bytes).expect("BOM is fine");
        assert!(matches!(&outcomes[..], [Outcome::Valid(f)] if f.line == 2));
    }

    #[test]
    fn not_utf8_fails_the_file_naming_line_and_column() {
        let mut bytes = csv_of(&[base_row(), with(&[("receipt_number", "MSC2190000001")])]);
        // Latin-1 "é" in the third line's family name.
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        let at = text.rfind("Ramírez").expect("name present") + "Ram".len();
        bytes.splice(at..at + 2, [0xE9]);
        let mut intake = Intake::new(&bytes[..], "filings.csv", batch()).expect("header ok");
        assert!(matches!(intake.next(), Some(Ok(Outcome::Valid(_)))));
        match intake.next() {
            Some(Err(e)) => assert_eq!(
                e.to_string(),
                "filings.csv line 3: not valid UTF-8 text (byte 0xE9 in column family_name); save the file as UTF-8"
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            intake.next().is_none(),
            "the iterator stops after a file error"
        );
        let e = header_error_bytes(b"receipt_number,\xFFform\n");
        assert_eq!(e, "filings.csv line 1: not valid UTF-8 text (byte 0xFF in header field 2); save the file as UTF-8");
    }

    fn header_error_bytes(bytes: &[u8]) -> String {
        match Intake::new(bytes, "filings.csv", batch()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn wrong_field_count_is_a_row_reject_and_reading_goes_on() {
        let mut bytes = csv_of(&[base_row()]);
        bytes.extend_from_slice(b"MSC2190000001,I-765,2026-11-20\n");
        bytes.extend(
            csv_of(&[with(&[("receipt_number", "EAC2190000002")])])
                .split(|&b| b == b'\n')
                .nth(1)
                .expect("row"),
        );
        bytes.push(b'\n');
        let (outcomes, read, valid, rejected) = run_bytes(&bytes).expect("file is fine");
        assert_eq!((read, valid, rejected), (3, 2, 1));
        match &outcomes[1] {
            Outcome::Rejected(r) => {
                assert_eq!((r.line, r.field.as_str()), (3, "row"));
                assert_eq!(r.reason, "the row has 3 fields; the header has 14");
                assert_eq!(r.receipt_number.as_deref(), Some("MSC2190000001"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&outcomes[2], Outcome::Valid(f) if f.line == 4));
    }

    #[test]
    fn line_numbers_count_quoted_line_breaks_and_blank_rows_are_skipped() {
        let rows = vec![
            with(&[("address_line1", "1234 Elm St\nApt 4B\nRear")]),
            with(&[("receipt_number", "MSC2190000001")]),
        ];
        let mut bytes = csv_of(&rows);
        bytes.extend_from_slice(b",,,,,,,,,,,,,\n\n");
        bytes.extend(
            csv_of(&[with(&[("receipt_number", "EAC2190000002")])])
                .split(|&b| b == b'\n')
                .nth(1)
                .expect("row"),
        );
        bytes.push(b'\n');
        let mut intake = Intake::new(&bytes[..], "filings.csv", batch()).expect("header ok");
        let outcomes: Vec<Outcome> = intake.by_ref().map(|o| o.expect("no file error")).collect();
        match &outcomes[..] {
            [Outcome::Rejected(r), Outcome::Valid(b), Outcome::Valid(c)] => {
                assert_eq!((r.line, r.field.as_str()), (2, "address_line1"));
                assert!(r.reason.contains("line break"), "{}", r.reason);
                assert_eq!(b.line, 5);
                assert_eq!(c.line, 8);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            (
                intake.read(),
                intake.valid(),
                intake.rejected(),
                intake.blank_rows()
            ),
            (3, 2, 1, 1)
        );
    }

    #[test]
    fn crlf_line_ends_leading_blank_lines_and_no_final_newline() {
        let text = String::from_utf8(csv_of(&[
            base_row(),
            with(&[("receipt_number", "MSC2190000001")]),
        ]))
        .expect("utf8");
        let crlf = format!("\r\n\r\n{}", text.trim_end().replace('\n', "\r\n"));
        let (outcomes, ..) = run_bytes(crlf.as_bytes()).expect("file is fine");
        let lines: Vec<u64> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Valid(f) => f.line,
                Outcome::Rejected(r) => panic!("{r:?}"),
            })
            .collect();
        assert_eq!(lines, [4, 5]);
        // The CR must not count as a line break in a free-text last column.
        let text = "receipt_number,form_type,received_date,given_name,family_name,city,state,zip,address_line1\r\n\
                    IOE0912345678,I-131,2026-11-02,Ana,Ruiz,Miami,FL,33101,\"1 Main St\"\r\n\
                    \r\n\
                    IOE0912345679,I-131,2026-11-02,Ana,Ruiz,Miami,FL,33101,\"2 Main St\r\nRear\"\r\n\
                    IOE0912345680,I-131,2026-11-02,Ana,Ruiz,Miami,FL,33101,3 Main St";
        let (outcomes, ..) = run_bytes(text.as_bytes()).expect("file is fine");
        match &outcomes[..] {
            [Outcome::Valid(a), Outcome::Rejected(b), Outcome::Valid(c)] => {
                assert_eq!((a.line, a.address.line1.as_str()), (2, "1 MAIN ST"));
                assert_eq!((b.line, b.field.as_str()), (4, "address_line1"));
                assert_eq!((c.line, c.address.line1.as_str()), (6, "3 MAIN ST"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn open_reads_a_file_and_names_a_missing_one() {
        let mut tmp = tempfile::NamedTempFile::new().expect("temp file");
        tmp.write_all(&csv_of(&[base_row()])).expect("write");
        let intake = Intake::open(tmp.path(), batch()).expect("opens");
        assert_eq!(
            intake
                .filter(|o| matches!(o, Ok(Outcome::Valid(_))))
                .count(),
            1
        );
        let missing = Path::new("/nonexistent/filings.csv");
        match Intake::open(missing, batch()) {
            Err(e @ IntakeError::Open { .. }) => {
                assert!(
                    e.to_string()
                        .starts_with("cannot open the filings file /nonexistent/filings.csv: "),
                    "{e}"
                )
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened a missing file"),
        }
    }

    /// Expected rejects in fixtures/filings.csv: (line, field).
    const FIXTURE_REJECTS: [(u64, &str); 14] = [
        (48, "receipt_number"),
        (49, "form_type"),
        (50, "received_date"),
        (51, "family_name"),
        (52, "state"),
        (53, "zip"),
        (54, "state"),
        (55, "address_line1"),
        (56, "receipt_number"),
        (57, "language"),
        (58, "family_name"),
        (59, "given_name"),
        (60, "a_number"),
        (61, "zip"),
    ];
    const FIXTURE_VALID: u64 = 46;

    #[test]
    fn fixture_file_counts_and_rejects() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/filings.csv");
        let mut intake = Intake::open(Path::new(path), batch()).expect("fixture opens");
        let mut rejects = Vec::new();
        let mut filings = Vec::new();
        for item in intake.by_ref() {
            match item.expect("fixture is a well-formed file") {
                Outcome::Valid(f) => filings.push(f),
                Outcome::Rejected(r) => rejects.push(r),
            }
        }
        let got: Vec<(u64, &str)> = rejects.iter().map(|r| (r.line, r.field.as_str())).collect();
        assert_eq!(got, FIXTURE_REJECTS, "{rejects:#?}");
        assert_eq!(intake.valid(), FIXTURE_VALID);
        assert_eq!(intake.rejected(), FIXTURE_REJECTS.len() as u64);
        // Spot checks the letters rely on.
        let by = |receipt: &str| {
            filings
                .iter()
                .find(|f| f.receipt.as_str() == receipt)
                .expect("receipt present")
        };
        assert!(filings.iter().all(|f| f
            .address_lines()
            .iter()
            .all(|l| l.chars().count() <= address::MAX_LINE_CHARS)));
        assert!(filings.iter().any(|f| f.language == Language::Es));
        assert!(filings
            .iter()
            .any(|f| f.address.state == "AE" && f.address.city == "APO"));
        assert_eq!(
            by("WAC2190000119").address.line2.as_deref(),
            Some("APT 1204")
        );
        assert_eq!(by("IOE0912345643").name_line, "SUKARNO");
        assert_eq!(by("IOE0912345601").address.line1, "1234 ELM ST APT 4B");
        assert_eq!(by("IOE0912345624").address.last_line(), "SAN JUAN PR 00926");
        let long = by("IOE0912345690");
        assert!(long.name_line.contains(" T "), "{}", long.name_line);
        assert!(long.full_name().chars().count() > address::MAX_LINE_CHARS);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(mut intake) = Intake::new(&bytes[..], "fuzz.csv", batch()) {
                let mut outcomes = 0u64;
                for item in intake.by_ref() {
                    if item.is_ok() {
                        outcomes += 1;
                    }
                }
                prop_assert_eq!(intake.read(), intake.valid() + intake.rejected());
                prop_assert_eq!(outcomes, intake.read());
            }
        }

        #[test]
        fn never_panics_with_a_good_header(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut bytes = csv_of(&[]);
            bytes.extend(body);
            let mut intake = Intake::new(&bytes[..], "fuzz.csv", batch()).expect("header ok");
            let mut outcomes = 0u64;
            for item in intake.by_ref() {
                if item.is_ok() {
                    outcomes += 1;
                }
            }
            prop_assert_eq!(intake.read(), intake.valid() + intake.rejected());
            prop_assert_eq!(outcomes, intake.read());
        }

        #[test]
        fn every_row_of_arbitrary_cells_is_one_outcome(
            rows in proptest::collection::vec(proptest::collection::vec(any::<String>(), COLUMN_COUNT), 0..12)
        ) {
            let rows: Vec<Vec<(&'static str, String)>> = rows
                .into_iter()
                .map(|cells| COLUMNS.iter().copied().zip(cells).collect())
                .collect();
            let blank = rows.iter().filter(|r| r.iter().all(|(_, v)| v.trim().is_empty())).count() as u64;
            let (outcomes, read, valid, rejected) = run_bytes(&csv_of(&rows)).expect("well-formed CSV never fails the file");
            prop_assert_eq!(read, rows.len() as u64 - blank);
            prop_assert_eq!(outcomes.len() as u64, read);
            prop_assert_eq!(read, valid + rejected);
            for o in &outcomes {
                if let Outcome::Valid(f) = o {
                    for l in f.address_lines() {
                        prop_assert!(l.chars().count() <= address::MAX_LINE_CHARS);
                    }
                }
            }
        }

        #[test]
        fn mutating_one_cell_of_a_valid_row_never_panics(col in 0..COLUMN_COUNT, value in "\\PC{0,50}") {
            let mut row = base_row();
            row[col].1 = value;
            let (outcomes, ..) = run_bytes(&csv_of(&[row])).expect("file is fine");
            prop_assert_eq!(outcomes.len(), 1);
        }
    }

    #[test]
    fn receipt_index_spills_to_disk_and_keeps_every_first_line() {
        let mut idx = ReceiptIndex {
            memory_limit: 4,
            ..ReceiptIndex::default()
        };
        for k in 0..10u64 {
            assert_eq!(idx.get(k * 7).unwrap(), None);
            idx.insert(k * 7, (k + 2) << 1 | (k % 2)).unwrap();
        }
        assert!(idx.disk.is_some(), "more than the limit must move to disk");
        assert!(idx.memory.is_empty());
        for k in 0..10u64 {
            assert_eq!(idx.get(k * 7).unwrap(), Some((k + 2) << 1 | (k % 2)));
        }
        assert_eq!(idx.get(3).unwrap(), None);
    }

    #[test]
    fn duplicates_are_found_after_the_index_spills() {
        let mut csv = String::from(
            "receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state,zip\n",
        );
        for i in 0..12 {
            csv.push_str(&format!(
                "IOE09000000{i:02},I-485,2026-11-01,Ana,Diaz,1 Main St,Austin,TX,78701\n"
            ));
        }
        csv.push_str("IOE0900000003,I-485,2026-11-01,Ana,Diaz,1 Main St,Austin,TX,78701\n");
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut intake = Intake::new(csv.as_bytes(), "t.csv", date).unwrap();
        intake.seen.memory_limit = 5;
        let outcomes: Vec<Outcome> = intake.by_ref().map(|o| o.unwrap()).collect();
        assert!(intake.seen.disk.is_some());
        assert_eq!(intake.valid(), 12);
        match outcomes.last().unwrap() {
            Outcome::Rejected(r) => {
                assert_eq!(r.line, 14);
                assert!(
                    r.reason.contains("already appears on line 5"),
                    "{}",
                    r.reason
                );
            }
            other => panic!("expected a duplicate reject, got {other:?}"),
        }
    }
}
