//! From bytes to records: where each record starts, and its fields as text.
//!
//! Records are split by `csv_core` (the engine under the `csv` crate) with
//! its default dialect (comma, double quotes, a doubled quote inside quotes)
//! except that only `\n` ends a record: the `\r` of a CRLF line end stays
//! on the last field and is removed by [`utf8_fields`], so a `\r\n` inside
//! a quoted cell is seen as the line break it is.
//!
//! Line numbers are counted here, byte by byte: a record's line is the
//! physical line of its first byte (blank lines before it skipped), so a
//! quoted cell spanning lines, a CRLF file or a missing final newline never
//! shifts them.
//!
//! Memory is bounded: a record's fields are kept in a buffer of
//! [`MAX_RECORD_BYTES`] and [`MAX_RECORD_FIELDS`] positions. A longer record
//! (typically an unclosed quote that swallowed the rest of the file) is
//! read to its end without being kept and reported as [`TooLong`]: one
//! reject at the line where it starts.

use std::io::{self, Read};

use csv_core::ReadRecordResult;

use super::IntakeError;

/// The most bytes of cell data one record may hold; a real filing row is
/// well under 1 KB.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The most fields one record may have; the header has at most 14.
pub const MAX_RECORD_FIELDS: usize = 256;

/// Bytes read from the input at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Where dropped bytes of an over-long record go, a piece at a time.
const DISCARD_BYTES: usize = 4 * 1024;
const DISCARD_FIELDS: usize = 64;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A record over the limits: what is known about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TooLong {
    /// Bytes of cell data in the record.
    pub(crate) bytes: u64,
    /// Fields in the record.
    pub(crate) fields: u64,
    /// Fields complete in the buffer before it filled up.
    pub(crate) kept_fields: usize,
}

/// One record's place in the file; its fields are read from the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Physical line of the record's first byte (the header is line 1).
    pub(crate) start_line: u64,
    /// Physical line of its last byte.
    pub(crate) end_line: u64,
    /// `Some` when the record was over [`MAX_RECORD_BYTES`] or
    /// [`MAX_RECORD_FIELDS`] and its fields were not kept.
    pub(crate) too_long: Option<TooLong>,
}

/// Splits a byte stream into records with bounded memory.
pub(crate) struct RecordReader<R> {
    inner: R,
    core: csv_core::Reader,
    input: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    at_file_start: bool,
    /// Physical line of `input[start]`.
    line: u64,
    output: Box<[u8]>,
    ends: Box<[usize]>,
    /// Bytes and fields of the last record kept in `output` and `ends`.
    kept: (usize, usize),
    discard: Box<[u8]>,
    discard_ends: Box<[usize]>,
    /// The first line of the input holds a carriage return that no line
    /// feed follows: a file with old-Mac (CR-only) line ends.
    cr_line_ends: bool,
    /// Every record ends at the end of its line, even inside quotes.
    line_records: bool,
}

/// A `\r` before the first `\n` (or anywhere, when there is none) that is
/// neither followed by a `\n` nor the last byte read so far.
fn lone_cr_in_first_line(bytes: &[u8]) -> bool {
    let first_line = match bytes.iter().position(|b| *b == b'\n') {
        Some(nl) => &bytes[..nl],
        None => bytes,
    };
    first_line
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\r' && i + 1 < first_line.len())
}

impl<R: Read> RecordReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        RecordReader::with_delimiter(inner, b',')
    }

    /// A reader of records whose fields `delimiter` separates (USPS's
    /// IV-MTR files use `|`).
    pub(crate) fn with_delimiter(inner: R, delimiter: u8) -> Self {
        RecordReader {
            inner,
            core: csv_core::ReaderBuilder::new()
                .delimiter(delimiter)
                .terminator(csv_core::Terminator::Any(b'\n'))
                .build(),
            input: vec![0; READ_CHUNK_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            at_file_start: true,
            line: 1,
            output: vec![0; MAX_RECORD_BYTES].into_boxed_slice(),
            ends: vec![0; MAX_RECORD_FIELDS].into_boxed_slice(),
            kept: (0, 0),
            discard: vec![0; DISCARD_BYTES].into_boxed_slice(),
            discard_ends: vec![0; DISCARD_FIELDS].into_boxed_slice(),
            cr_line_ends: false,
            line_records: false,
        }
    }

    /// A reader for files whose fields never hold a line break (the
    /// vendor's and USPS's files): a record ends at the end of its line even
    /// inside quotes, so a quote never closed costs its one row, not every
    /// line after it. The field it opened keeps the line feed, which shows it.
    pub(crate) fn line_records(inner: R, delimiter: u8) -> Self {
        RecordReader {
            line_records: true,
            ..RecordReader::with_delimiter(inner, delimiter)
        }
    }

    /// Whether the file's lines end with a carriage return alone (old Mac
    /// line ends), as seen in its first line; known once a record was read.
    pub(crate) fn cr_line_ends(&self) -> bool {
        self.cr_line_ends
    }

    /// The physical line reading has reached, for messages about I/O errors.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The reader underneath, to read what is left past the records
    /// wanted (bytes already buffered here are not returned again).
    pub(crate) fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The reader underneath, to look at.
    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Refills the input buffer when it is used up; false at the end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start < self.end {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        let n = loop {
            match self.inner.read(&mut self.input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.start = 0;
        self.end = n;
        self.eof = n == 0;
        if self.at_file_start && n > 0 {
            self.at_file_start = false;
            if self.input[..n].starts_with(UTF8_BOM) {
                self.start = UTF8_BOM.len();
            }
            self.cr_line_ends = lone_cr_in_first_line(&self.input[..n]);
        }
        Ok(n > 0)
    }

    /// Skips the empty lines before a record; false at the end of input.
    fn skip_blank_lines(&mut self) -> io::Result<bool> {
        loop {
            if !self.fill()? {
                return Ok(false);
            }
            let newlines = self.input[self.start..self.end]
                .iter()
                .take_while(|&&b| b == b'\n')
                .count();
            self.start += newlines;
            self.line += newlines as u64;
            if self.start < self.end {
                return Ok(true);
            }
        }
    }

    /// The next record, or `None` at the end of the input.
    pub(crate) fn next_record(&mut self) -> io::Result<Option<Record>> {
        if !self.skip_blank_lines()? {
            return Ok(None);
        }
        let start_line = self.line;
        let (mut nout, mut nend) = (0usize, 0usize);
        let (mut bytes, mut fields) = (0u64, 0u64);
        let mut overflow: Option<usize> = None;
        let mut ends_overflow = false;
        let mut last_byte = 0u8;
        loop {
            self.fill()?;
            let (input, line_end) =
                to_line_end(&self.input[self.start..self.end], self.line_records);
            let output: &mut [u8] = match overflow {
                None => &mut self.output[nout..],
                Some(_) => &mut self.discard,
            };
            let ends: &mut [usize] = if overflow.is_some() || ends_overflow {
                &mut self.discard_ends
            } else {
                &mut self.ends[nend..]
            };
            let (result, nin, o, e) = self.core.read_record(input, output, ends);
            if nin > 0 {
                last_byte = input[nin - 1];
                self.line += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
            }
            self.start += nin;
            bytes += o as u64;
            fields += e as u64;
            if overflow.is_none() && !ends_overflow {
                nout += o;
                nend += e;
            }
            match result {
                ReadRecordResult::InputEmpty if line_end => {
                    // A quote open at the end of the line: end the record
                    // here as at the end of input, and start afresh.
                    let (o, e) = self.end_open_record(
                        &mut overflow,
                        &mut ends_overflow,
                        &mut nout,
                        &mut nend,
                    );
                    bytes += o as u64;
                    fields += e as u64;
                    break;
                }
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    overflow.get_or_insert(nend);
                }
                ReadRecordResult::OutputEndsFull => {
                    if !ends_overflow && overflow.is_none() {
                        overflow = Some(nend);
                    }
                    ends_overflow = true;
                }
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        self.kept = (nout, nend);
        let end_line = if last_byte == b'\n' {
            self.line - 1
        } else {
            self.line
        };
        let too_long = overflow.map(|kept_fields| TooLong {
            bytes,
            fields,
            kept_fields,
        });
        Ok(Some(Record {
            start_line,
            end_line: end_line.max(start_line),
            too_long,
        }))
    }

    /// The start of the field a too-long record was cut in (the bytes of
    /// it that fit), if any.
    pub(crate) fn cut_field(&self) -> Option<&[u8]> {
        let (nout, nend) = self.kept;
        let from = nend.checked_sub(1).map_or(0, |i| self.ends[i]);
        (nout > from).then(|| &self.output[from..nout])
    }

    /// Ends the record being read as the end of the input would, then
    /// readies the parser for the next line; returns the bytes and fields
    /// that adds.
    fn end_open_record(
        &mut self,
        overflow: &mut Option<usize>,
        ends_overflow: &mut bool,
        nout: &mut usize,
        nend: &mut usize,
    ) -> (usize, usize) {
        let kept = overflow.is_none() && !*ends_overflow;
        let (output, ends): (&mut [u8], &mut [usize]) = if kept {
            (&mut self.output[*nout..], &mut self.ends[*nend..])
        } else {
            (&mut self.discard, &mut self.discard_ends)
        };
        let (result, _, o, e) = self.core.read_record(&[], output, ends);
        if kept {
            *nout += o;
            *nend += e;
            if result == ReadRecordResult::OutputEndsFull {
                *overflow = Some(*nend);
                *ends_overflow = true;
            }
        }
        self.core.reset();
        (o, e)
    }

    /// The fields of the last record read (only those kept when it was too long).
    pub(crate) fn fields(&self) -> Vec<&[u8]> {
        let (_, nend) = self.kept;
        let mut from = 0;
        self.ends[..nend]
            .iter()
            .map(|&to| {
                let field = &self.output[from..to];
                from = to;
                field
            })
            .collect()
    }
}

/// The input to hand the parser: with `line_records`, up to and with the
/// next line feed, and whether it ends there.
fn to_line_end(input: &[u8], line_records: bool) -> (&[u8], bool) {
    match input.iter().position(|&b| b == b'\n') {
        Some(nl) if line_records => (&input[..=nl], true),
        _ => (input, false),
    }
}

/// A not-UTF-8 finding before the file name is attached.
pub(super) struct BadUtf8 {
    line: u64,
    byte: u8,
    column: String,
}

impl BadUtf8 {
    pub(super) fn into_error(self, file: &str) -> IntakeError {
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
pub(super) fn utf8_fields<'a>(
    record: &[&'a [u8]],
    line: u64,
    column_name: impl Fn(usize) -> String,
) -> Result<Vec<&'a str>, BadUtf8> {
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
