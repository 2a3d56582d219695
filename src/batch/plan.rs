//! Plan: read the input, then decide for each filing whether it is new (to
//! be issued here), was issued by an earlier interrupted run of this batch,
//! or was issued by an earlier batch; and give the new ones their issue and
//! serial numbers.

use chrono::NaiveDate;

use super::error::io_err;
use super::{BatchError, RunInputs};
use crate::config::Mail;
use crate::filing::{Filing, ReceiptNumber};
use crate::imb::serial_modulus;
use crate::intake::{Intake, WindowFit};
use crate::issue::Planned;
use crate::layout::window_fit;
use crate::ledger::{BatchKind, BatchRecord, Ledger, LedgerError, Sha256Hex};

/// Hex SHA-256 of a file, streamed.
pub(super) fn file_sha256(path: &std::path::Path) -> Result<Sha256Hex, BatchError> {
    crate::output::file_sha256(path).map_err(io_err("cannot read", path))
}

/// A pipe (`--input /dev/stdin`), a device or a socket cannot be read twice
/// nor give the same digest on a re-run; its metadata is read without
/// opening it, so a FIFO with no writer does not block.
fn refuse_unless_file(path: &std::path::Path) -> Result<(), BatchError> {
    let meta = std::fs::metadata(path).map_err(io_err("cannot open", path))?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(BatchError::InputNotAFile {
            path: path.display().to_string(),
        })
    }
}

/// `YYYY-MM-DD-xxxxxx`: the batch date and the start of the input's hash.
pub fn batch_id(batch_date: NaiveDate, input_sha256: &Sha256Hex) -> String {
    format!(
        "{}-{}",
        batch_date.format("%Y-%m-%d"),
        &input_sha256.as_str()[..6]
    )
}

/// An input read through once: readable, well formed, with filings in it.
pub struct Checked<'a> {
    pub inputs: &'a RunInputs<'a>,
    /// The envelope window every address was checked against.
    pub fit: WindowFit,
    /// Seconds the whole-input pass took (for the report).
    pub read_seconds: f64,
    pub batch_id: String,
    pub input_sha256: Sha256Hex,
    /// Data rows in the input (blank ones aside): each ends issued,
    /// already issued or rejected.
    pub rows: u64,
}

/// Reads the whole input and writes nothing: a malformed file (not CSV,
/// wrong header, not UTF-8) or one with no filings fails here, before any
/// folder, ledger or lock exists.
///
/// Only what can fail the file is checked here
/// ([`Intake::data_rows_to_end`]): the rules about a row's contents only
/// ever reject that row, and are applied once, as the rows are issued. The
/// input's SHA-256 is computed on a second thread meanwhile.
pub fn check<'a>(inputs: &'a RunInputs<'a>) -> Result<Checked<'a>, BatchError> {
    let started = std::time::Instant::now();
    refuse_unless_file(inputs.input)?;
    let fit = window_fit(&inputs.renderer.config.envelope)?;
    let (input_sha256, rows) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| file_sha256(inputs.input));
        let intake = read_through(inputs, fit);
        let sha256 = hashing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A file that cannot be read is reported as such first.
        Ok::<_, BatchError>((sha256?, intake?))
    })?;
    if rows == 0 {
        return Err(BatchError::NoFilings {
            path: inputs.input.display().to_string(),
        });
    }
    Ok(Checked {
        inputs,
        fit,
        read_seconds: started.elapsed().as_secs_f64(),
        batch_id: batch_id(inputs.batch_date, &input_sha256),
        rows,
        input_sha256,
    })
}

/// The data rows of the whole input, once nothing in it fails the file.
fn read_through(inputs: &RunInputs<'_>, fit: WindowFit) -> Result<u64, BatchError> {
    let mut intake = Intake::open(inputs.input, inputs.batch_date, fit)?;
    Ok(intake.data_rows_to_end()?)
}

impl Checked<'_> {
    /// The batch as the ledger records it.
    pub fn record(&self) -> BatchRecord {
        let key = self.inputs.keys.current();
        BatchRecord {
            batch_id: self.batch_id.clone(),
            batch_date: self.inputs.batch_date,
            key_id: key.id().to_string(),
            mode: key.mode(),
            input_sha256: self.input_sha256.clone(),
            kind: BatchKind::Nightly,
        }
    }
}

/// Records the batch in the ledger (or confirms a re-run matches it).
/// Returns whether the ledger already holds letters of this batch: a
/// resumed run, whose letters must be checked before it is complete.
pub fn start(ledger: &mut dyn Ledger, record: &BatchRecord) -> Result<bool, BatchError> {
    if let Some((existing, _)) = ledger.batch(&record.batch_id)? {
        if existing.key_id != record.key_id {
            return Err(BatchError::KeyMismatch {
                batch_id: record.batch_id.clone(),
                ledger_key: existing.key_id,
                run_key: record.key_id.clone(),
            });
        }
    }
    ledger.start_batch(record)?;
    Ok(ledger.count_in_batch(&record.batch_id)? > 0)
}

/// The serial number for the next piece: one past the last the ledger
/// recorded, so serials never repeat across batches until they wrap. `None`
/// when no mailer ID is configured (no barcode, no serial).
pub fn next_serial(mail: &Mail, ledger: &dyn Ledger) -> Result<Option<u64>, LedgerError> {
    let Some(mailer_id) = mail.mailer_id() else {
        return Ok(None);
    };
    let modulus = serial_modulus(mailer_id);
    Ok(Some(ledger.last_serial()?.map_or(0, |s| (s + 1) % modulus)))
}

/// How a chunk's filings were counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// Issued in this batch, now or by an earlier run of it.
    pub issued: u64,
    /// Issued by an earlier batch.
    pub already_issued: u64,
    /// Issued by this invocation.
    pub issued_now: u64,
    /// Planned and made by this invocation, but recorded first by another
    /// run on a shared ledger (counted in an earlier `issued`).
    pub taken_by_others: u64,
}

/// Plans chunk after chunk, handing out serial numbers in input order.
pub struct Planner<'a> {
    batch_id: &'a str,
    next_serial: Option<u64>,
    serial_modulus: u64,
}

impl<'a> Planner<'a> {
    pub fn new(batch_id: &'a str, mail: &Mail, ledger: &dyn Ledger) -> Result<Self, BatchError> {
        Ok(Planner {
            batch_id,
            next_serial: next_serial(mail, ledger)?,
            serial_modulus: mail.mailer_id().map_or(1, serial_modulus),
        })
    }

    fn take_serial(&mut self) -> Option<u64> {
        let serial = self.next_serial;
        self.next_serial = serial.map(|s| (s + 1) % self.serial_modulus);
        serial
    }

    /// Decides, for each filing of a chunk, whether it is issued here, was
    /// issued by an earlier (interrupted) run of this batch, or was issued
    /// by an earlier batch; the new ones come back planned, in input order.
    pub fn plan(
        &mut self,
        ledger: &dyn Ledger,
        chunk: &[Filing],
    ) -> Result<(ChunkOutcome, Vec<Planned>), BatchError> {
        let receipts: Vec<ReceiptNumber> = chunk.iter().map(|f| f.receipt.clone()).collect();
        let states = ledger.receipt_states(&receipts)?;
        let mut out = ChunkOutcome::default();
        let mut planned = Vec::new();
        for filing in chunk {
            let state = states.get(&filing.receipt);
            match state.and_then(|s| s.active.as_ref()) {
                Some(active) if active.batch_id == self.batch_id => out.issued += 1,
                Some(_) => out.already_issued += 1,
                None => planned.push(Planned {
                    filing: filing.clone(),
                    issue_no: state.map_or(0, |s| s.max_issue_no) + 1,
                    serial: self.take_serial(),
                }),
            }
        }
        out.issued += planned.len() as u64;
        out.issued_now += planned.len() as u64;
        Ok((out, planned))
    }
}
