//! The file an import reads, in two passes, never held in memory.
//!
//! Only a regular file is read: a named pipe would block the night until
//! someone writes to it, and a device (`/dev/zero`) never ends. The path is
//! looked at before it is opened, and opened without blocking
//! (`O_NONBLOCK`), so neither a FIFO nor a device is ever read.
//!
//! 1. [`survey`] reads the whole file once for what refuses it as a whole:
//!    bytes that are not UTF-8, a header that is not one (empty file, a
//!    first record over the record bound, old-Mac line ends), a missing
//!    column. It keeps the file's sha256 and header, nothing else.
//! 2. [`Rows`] reads it again, one record at a time, through the bounded
//!    record reader of the filings intake ([`crate::intake::RecordReader`]:
//!    64 KB a record, physical line numbers; here a record ends with its
//!    line, as no field of these files holds a line break, so a quote left
//!    open costs one row), and turns each data row into
//!    a parsed [`Line`] or a row set aside with its line and reason.
//!    [`Rows::finish`] checks the bytes read the second time are those of
//!    the first (the same sha256): a file replaced between the passes is
//!    refused, nothing recorded.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::{IngestError, Layout, Line, SetAside, MAX_FILE_BYTES};
use crate::intake::{Record, RecordReader, MAX_RECORD_BYTES};
use crate::ledger::{ImportKind, Sha256Hex};

/// Bytes of the first line looked at for the delimiter of a scans file.
const SNIFF_BYTES: usize = 64 * 1024;

/// What the first pass found: enough to read the rows in the second.
#[derive(Clone, Debug)]
pub(crate) struct Survey {
    pub sha256: Sha256Hex,
    pub header: Vec<String>,
    pub layout: Layout,
    delimiter: u8,
}

/// Opens `path` if it is a regular file, refusing anything else before a
/// byte is read.
pub(crate) fn open_regular(path: &Path) -> Result<File, IngestError> {
    let read = |source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    };
    not_a_file(path, &std::fs::metadata(path).map_err(read)?)?;
    // O_NONBLOCK: should the path become a FIFO between the look and the
    // open, opening it still does not wait for a writer.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    not_a_file(path, &meta)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(IngestError::TooLarge {
            path: path.to_path_buf(),
            bytes: meta.len(),
        });
    }
    Ok(file)
}

/// Refuses what is not a regular file, saying what it is.
fn not_a_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), IngestError> {
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(IngestError::NotAFile {
        path: path.to_path_buf(),
        what,
    })
}

/// The first pass: the whole file checked, its sha256 and header kept.
pub(crate) fn survey(path: &Path, kind: ImportKind) -> Result<Survey, IngestError> {
    let mut file = open_regular(path)?;
    let delimiter = match kind {
        ImportKind::Scans => sniff_delimiter(&mut file).map_err(|source| IngestError::Read {
            path: path.to_path_buf(),
            source,
        })?,
        ImportKind::Acks | ImportKind::Returns => b',',
    };
    let mut reader = RecordReader::line_records(Checked::new(file), delimiter);
    let header = read_header(&mut reader).map_err(|e| e.into_error(path, &reader))?;
    let layout = Layout::of(kind, &header).map_err(|(line, reason)| IngestError::Malformed {
        path: path.to_path_buf(),
        line,
        reason,
    })?;
    // The rest is only hashed and checked for UTF-8 on its way through.
    io::copy(reader.inner_mut(), &mut io::sink())
        .map_err(|e| HeaderError::Io(e).into_error(path, &reader))?;
    let sha256 = reader
        .inner_mut()
        .finish()
        .map_err(|e| HeaderError::Io(e).into_error(path, &reader))?;
    Ok(Survey {
        sha256,
        header,
        layout,
        delimiter,
    })
}

/// IV-MTR files are `|`-delimited; a comma export is read too. The header
/// line says which.
fn sniff_delimiter(file: &mut File) -> io::Result<u8> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    file.rewind()?;
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    Ok(if first_line.contains(&b'|') {
        b'|'
    } else {
        b','
    })
}

/// Why a header could not be read, before the file name is attached.
enum HeaderError {
    Malformed(u64, String),
    Io(io::Error),
}

impl HeaderError {
    fn into_error<R: Read>(self, path: &Path, reader: &RecordReader<Checked<R>>) -> IngestError {
        let malformed = |line, reason| IngestError::Malformed {
            path: path.to_path_buf(),
            line,
            reason,
        };
        match self {
            HeaderError::Malformed(line, reason) => malformed(line, reason),
            HeaderError::Io(e) => match reader.get_ref().bad_utf8() {
                Some(line) => malformed(line, "the file is not UTF-8 text".into()),
                None => IngestError::Read {
                    path: path.to_path_buf(),
                    source: e,
                },
            },
        }
    }
}

/// The header row: the first record that is not blank.
fn read_header<R: Read>(reader: &mut RecordReader<R>) -> Result<Vec<String>, HeaderError> {
    loop {
        let Some(record) = reader.next_record().map_err(HeaderError::Io)? else {
            return Err(HeaderError::Malformed(
                1,
                "the file is empty: it has no header row".into(),
            ));
        };
        if reader.cr_line_ends() {
            return Err(HeaderError::Malformed(
                1,
                "its lines end with a carriage return alone (old Mac line ends), so it reads as one line; not a CSV file this program reads".into(),
            ));
        }
        if record.too_long.is_some() {
            return Err(HeaderError::Malformed(
                record.start_line,
                format!(
                    "the header row is longer than {} KB: this is not a CSV file with a header (or a quote in it is never closed)",
                    MAX_RECORD_BYTES / 1024
                ),
            ));
        }
        let fields = text_fields(&reader.fields());
        if fields.iter().any(|f| !f.trim().is_empty()) {
            return Ok(fields);
        }
    }
}

/// A record's fields as text, the `\r` of a CRLF line end removed. The
/// first pass has checked every byte is UTF-8; should the file have
/// changed since, the final sha256 check refuses it.
fn text_fields(raw: &[&[u8]]) -> Vec<String> {
    let mut fields: Vec<String> = raw
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    if let Some(last) = fields.last_mut() {
        if last.ends_with('\r') {
            last.pop();
        }
    }
    fields
}

/// One data row of the second pass.
#[derive(Debug)]
pub(crate) enum Row {
    Parsed {
        line: u64,
        fields: Vec<String>,
        parsed: Line,
    },
    Aside(SetAside),
}

/// The second pass: each data row, parsed or set aside.
pub(crate) struct Rows {
    reader: RecordReader<Checked<File>>,
    survey: Survey,
    /// Today in the agency's time zone: an event may be dated a day later
    /// (a vendor's clock ahead of ours), no more.
    today: NaiveDate,
    path: std::path::PathBuf,
}

impl Rows {
    /// Opens the file again and skips its header; `today` is the agency's.
    pub(crate) fn open(
        path: &Path,
        survey: &Survey,
        today: NaiveDate,
    ) -> Result<Rows, IngestError> {
        let file = open_regular(path)?;
        let mut reader = RecordReader::line_records(Checked::new(file), survey.delimiter);
        let header = read_header(&mut reader).map_err(|e| e.into_error(path, &reader))?;
        let rows = Rows {
            reader,
            survey: survey.clone(),
            today,
            path: path.to_path_buf(),
        };
        if header != survey.header {
            return Err(rows.changed());
        }
        Ok(rows)
    }

    fn changed(&self) -> IngestError {
        IngestError::Malformed {
            path: self.path.clone(),
            line: 1,
            reason: "the file changed while it was read; import it again once it is complete"
                .into(),
        }
    }

    /// The next data row, `None` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, IngestError> {
        loop {
            let record = match self.reader.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(None),
                Err(e) => return Err(HeaderError::Io(e).into_error(&self.path, &self.reader)),
            };
            let mut raw = self.reader.fields();
            if record.too_long.is_some() {
                // What fits of the field over the bound, for the rejects file.
                raw.extend(self.reader.cut_field());
            }
            let fields = text_fields(&raw);
            if record.too_long.is_none() && fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            return Ok(Some(self.row(&record, fields)));
        }
    }

    fn row(&self, record: &Record, fields: Vec<String>) -> Row {
        let line = record.start_line;
        let aside = |reason: String, fields: Vec<String>| {
            Row::Aside(SetAside {
                line,
                reason,
                fields,
            })
        };
        let columns = self.survey.header.len();
        // Records end with their line (`RecordReader::line_records`): a
        // field holding a line feed is a quote left open.
        if fields.iter().any(|f| f.contains('\n')) {
            return aside(
                format!("a quote (\") opened on line {line} is not closed before the line ends"),
                fields,
            );
        }
        if let Some(long) = &record.too_long {
            return aside(
                format!(
                    "the row holds {} in {}, more than the {} KB a row may hold: a field is over its bound",
                    count(long.bytes, "byte"),
                    count(long.fields, "field"),
                    MAX_RECORD_BYTES / 1024
                ),
                fields,
            );
        }
        if fields.len() != columns {
            let what = if fields.len() < columns {
                "short"
            } else {
                "long"
            };
            return aside(
                format!(
                    "the row is {what}: it has {}, the header has {columns}",
                    count(fields.len() as u64, "field")
                ),
                fields,
            );
        }
        let latest = self.today.succ_opt().unwrap_or(self.today);
        match self.survey.layout.parse_row(&fields) {
            Ok(parsed) if parsed.event.at.date() > latest => aside(
                format!(
                    "dated {}, more than a day after today ({} in the agency's time zone): a wrong date or a wrong clock",
                    parsed.event.at.date(),
                    self.today
                ),
                fields,
            ),
            Ok(parsed) => Row::Parsed {
                line,
                fields,
                parsed,
            },
            Err(reason) => aside(reason, fields),
        }
    }

    /// After the last row: the bytes read now are those the first pass
    /// checked, or the file is refused.
    pub(crate) fn finish(mut self) -> Result<(), IngestError> {
        let rest = io::copy(self.reader.inner_mut(), &mut io::sink());
        let sha = rest.and_then(|_| self.reader.inner_mut().finish());
        match sha {
            Ok(sha) if sha == self.survey.sha256 => Ok(()),
            Ok(_) => Err(self.changed()),
            Err(e) => Err(HeaderError::Io(e).into_error(&self.path, &self.reader)),
        }
    }
}

/// A reader that hashes what passes through it and checks it is UTF-8,
/// counting lines to say where it is not.
pub(crate) struct Checked<R> {
    inner: R,
    sha: Sha256,
    /// Line feeds in the bytes checked so far.
    newlines: u64,
    /// The start of a character the last read cut in two.
    pending: Vec<u8>,
    /// The line of the first byte that is not UTF-8.
    bad_utf8: Option<u64>,
}

impl<R: Read> Checked<R> {
    pub(crate) fn new(inner: R) -> Self {
        Checked {
            inner,
            sha: Sha256::new(),
            newlines: 0,
            pending: Vec::with_capacity(4),
            bad_utf8: None,
        }
    }

    /// Once everything was read: the sha256, or the error of a file that
    /// ends in the middle of a character.
    pub(crate) fn finish(&mut self) -> io::Result<Sha256Hex> {
        if !self.pending.is_empty() {
            return Err(self.not_utf8(self.newlines + 1));
        }
        Ok(Sha256Hex::from_hasher(std::mem::take(&mut self.sha)))
    }

    /// The line of the first byte that is not UTF-8, once one was read.
    pub(crate) fn bad_utf8(&self) -> Option<u64> {
        self.bad_utf8
    }

    fn not_utf8(&mut self, line: u64) -> io::Error {
        self.bad_utf8.get_or_insert(line);
        io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text")
    }

    /// Checks `bytes`, which follow those checked before.
    fn check(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if let Some(&lead) = self.pending.first() {
            let width = match lead {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            let take = (width - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < width {
                return Ok(());
            }
            if std::str::from_utf8(&self.pending).is_err() {
                return Err(self.not_utf8(self.newlines + 1));
            }
            self.pending.clear();
        }
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(_) => (bytes, &[][..]),
            Err(e) if e.error_len().is_none() => bytes.split_at(e.valid_up_to()),
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = self.newlines + 1 + newlines(before);
                return Err(self.not_utf8(line));
            }
        };
        self.newlines += newlines(valid);
        self.pending.extend_from_slice(rest);
        Ok(())
    }
}

/// `1 field`, `3 fields`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.bad_utf8.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file is not UTF-8 text",
            ));
        }
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.check(&buf[..n])?;
        Ok(n)
    }
}
