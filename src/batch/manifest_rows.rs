//! The manifest's rows, made on a thread of their own while the ledger is
//! read.
//!
//! Reading a batch's issuances from the ledger (in presort order) and
//! turning each into a manifest row (its barcode, its place in the print
//! files, the CSV text) are both single-threaded work. So the ledger is
//! walked on the calling thread and the rows are made and written on a
//! second one, handed over in small batches
//! through a bounded channel: one sender, one receiver, first in first out,
//! so the rows come out in the ledger's order, numbered from 1, each once;
//! memory holds a few handoffs, whatever the size of the batch.

use std::io::Write;
use std::sync::mpsc::{sync_channel, SyncSender};

use super::print_files::{print_file_name, print_file_number};
use super::{BatchError, OutputChoice};
use crate::config::Mail;
use crate::issue::{barcode, IssueError};
use crate::ledger::{Issuance, Ledger};
use crate::manifest::{BarcodeColumns, ManifestRow, ManifestWriter, Presort};

/// Issuances handed from the ledger walk to the row writer at a time: a
/// channel message per 64 rows costs nothing next to the rows themselves.
pub(super) const ISSUANCES_PER_HANDOFF: usize = 64;

/// Handoffs the ledger walk may be ahead of the row writer.
const HANDOFFS_AHEAD: usize = 4;

/// Where each piece is in the print files: the file of the `seq`th piece
/// (from 1, presort order) and its first page there.
struct PrintPlace {
    pieces_per_file: usize,
    file: usize,
    next_page: u64,
}

impl PrintPlace {
    /// `None` when the batch has no print files.
    fn of(output: OutputChoice) -> Option<PrintPlace> {
        let output = Some(output).filter(|o| o.mode.print())?;
        Some(PrintPlace {
            pieces_per_file: output.pieces_per_file.max(1),
            file: 0,
            next_page: 1,
        })
    }

    fn place(&mut self, batch_id: &str, seq: u64, pages: u32) -> (String, Option<u64>) {
        let file = print_file_number(seq - 1, self.pieces_per_file);
        if file != self.file {
            self.file = file;
            self.next_page = 1;
        }
        let first = self.next_page;
        self.next_page += u64::from(pages);
        let path = format!("print/{}", print_file_name(batch_id, file));
        (path, Some(first))
    }
}

/// The manifest being written, and the totals `batch.json` needs from it.
pub struct ManifestRows<'a, W: Write> {
    manifest: ManifestWriter<W>,
    batch_id: &'a str,
    mail: &'a Mail,
    /// Rows name their letter file (the letters have files of their own).
    letter_files: bool,
    place: Option<PrintPlace>,
    seq: u64,
    pages: u64,
    sheets: u64,
    presort: Presort,
}

impl<'a, W: Write> ManifestRows<'a, W> {
    pub(super) fn new(
        manifest: ManifestWriter<W>,
        batch_id: &'a str,
        mail: &'a Mail,
        output: OutputChoice,
    ) -> Self {
        ManifestRows {
            manifest,
            batch_id,
            mail,
            letter_files: output.mode.pieces(),
            place: PrintPlace::of(output),
            seq: 0,
            pages: 0,
            sheets: 0,
            presort: Presort::default(),
        }
    }

    /// Writes the row of the next letter in presort order.
    pub(super) fn add(&mut self, iss: &Issuance) -> Result<(), BatchError> {
        self.seq += 1;
        let issued = &iss.issued;
        let barcode = barcode(self.mail, issued.imb_serial, &issued.filing).map_err(|source| {
            BatchError::Issue(IssueError::Barcode {
                receipt: issued.receipt.to_string(),
                source,
            })
        })?;
        let columns = BarcodeColumns::of(barcode.as_ref());
        let mut row = ManifestRow::from_issuance(self.seq, iss, &self.mail.mail_class, columns);
        if !self.letter_files {
            row.file.clear();
            row.sha256.clear();
        }
        if let Some(place) = self.place.as_mut() {
            (row.print_file, row.first_page) = place.place(self.batch_id, self.seq, row.pages);
        }
        self.manifest.write(&row).map_err(|e| BatchError::Write {
            what: "manifest.csv".into(),
            message: e.to_string(),
        })?;
        self.pages += u64::from(row.pages);
        self.sheets += u64::from(row.sheets);
        self.presort.add(&issued.filing.address.zip5);
        Ok(())
    }

    /// The manifest writer, every row written to it, and the pages,
    /// sheets and presort counts of those rows.
    pub(super) fn into_parts(self) -> (ManifestWriter<W>, u64, u64, Presort) {
        (self.manifest, self.pages, self.sheets, self.presort)
    }
}

/// Adds every issuance of the batch to `rows`, in the ledger's order: the
/// ledger is walked on this thread, the rows are made on another, handed
/// over `per_handoff` at a time.
pub(super) fn add_all<'a, W: Write + Send>(
    ledger: &dyn Ledger,
    batch_id: &str,
    rows: ManifestRows<'a, W>,
    per_handoff: usize,
) -> Result<ManifestRows<'a, W>, BatchError> {
    let per_handoff = per_handoff.max(1);
    let (sender, handoffs) = sync_channel::<Vec<Issuance>>(HANDOFFS_AHEAD);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            let mut rows = rows;
            for handoff in handoffs {
                for iss in &handoff {
                    rows.add(iss)?;
                }
            }
            Ok::<_, BatchError>(rows)
        });
        // Returns once the walk ended and `sender` is dropped, so the
        // writer sees the end of the rows.
        let walked = walk_in_handoffs(ledger, batch_id, per_handoff, sender);
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A failed write stops the walk (its next handoff is refused), so
        // the write's error is the one to report; a failed walk ends the
        // rows early, and its error is reported instead of the short rows.
        let rows = written?;
        walked?;
        Ok(rows)
    })
}

/// Walks the batch, sending its issuances `per_handoff` at a time; stops
/// early when the receiver is gone (the writer failed).
fn walk_in_handoffs(
    ledger: &dyn Ledger,
    batch_id: &str,
    per_handoff: usize,
    sender: SyncSender<Vec<Issuance>>,
) -> Result<(), BatchError> {
    let mut handoff = Vec::with_capacity(per_handoff);
    let walked = ledger.walk_batch(batch_id, |iss| {
        handoff.push(iss);
        if handoff.len() < per_handoff {
            return Ok(());
        }
        let full = std::mem::replace(&mut handoff, Vec::with_capacity(per_handoff));
        sender.send(full).map_err(drop)
    })?;
    if walked.is_ok() && !handoff.is_empty() {
        // A refusal here is the writer's failure, which it reports.
        let _ = sender.send(handoff);
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;

    use super::*;
    use crate::address::DEFAULT_WINDOW_FIT;
    use crate::config::Config;
    use crate::intake::{Intake, Outcome};
    use crate::issue::{issue, issue_for_print, IssueContext, Planned};
    use crate::key::{Key, KeyRing};
    use crate::ledger::prelude::*;
    use crate::ledger::{BatchKind, BatchRecord, Sha256Hex, SqliteLedger};
    use crate::letter::{NoticeDates, Templates};
    use crate::manifest::OutputMode;
    use crate::render::Renderer;

    pub(in crate::batch) const BATCH: &str = "2026-11-25-000000";
    /// Letters in the ledger: enough for several handoffs and print files.
    const LETTERS: usize = 11;

    /// A ledger holding the first valid fixture filings, issued in `BATCH`.
    pub(in crate::batch) fn ledger_with_letters() -> SqliteLedger {
        ledger_issued(false)
    }

    /// The same, issued as a print run issues them: not yet printed, no
    /// page counted.
    pub(in crate::batch) fn ledger_issued_for_print() -> SqliteLedger {
        ledger_issued(true)
    }

    fn ledger_issued(for_print: bool) -> SqliteLedger {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let keys = KeyRing::single(Key::load(&root.join("fixtures/test.key")).expect("a key"));
        let renderer = Renderer::new(Templates::builtin(), Config::default_config());
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date");
        let mut ledger = SqliteLedger::open_in_memory().expect("a ledger");
        ledger
            .start_batch(&BatchRecord {
                batch_id: BATCH.into(),
                batch_date: date,
                key_id: keys.current().id().into(),
                mode: keys.current().mode(),
                input_sha256: Sha256Hex::of(b"filings"),
                kind: BatchKind::Nightly,
            })
            .expect("a batch");
        let ctx = IssueContext {
            key: keys.current(),
            renderer: &renderer,
            batch_id: BATCH,
            dates: NoticeDates::new(date, 90),
        };
        let intake = Intake::open(&root.join("fixtures/filings.csv"), date, DEFAULT_WINDOW_FIT);
        let rows: Vec<_> = intake
            .expect("the fixtures open")
            .filter_map(|o| match o.expect("a row") {
                Outcome::Valid(filing) => Some(filing),
                Outcome::Rejected(_) => None,
            })
            .take(LETTERS)
            .map(|filing| {
                let planned = Planned {
                    filing,
                    issue_no: 1,
                    serial: None,
                };
                if for_print {
                    issue_for_print(&ctx, &planned).expect("issued")
                } else {
                    issue(&ctx, &planned).expect("issued").0
                }
            })
            .collect();
        ledger.record(&rows).expect("recorded");
        ledger
    }

    pub(in crate::batch) fn rows(mail: &Mail, output: OutputChoice) -> ManifestRows<'_, Vec<u8>> {
        let manifest = ManifestWriter::new(Vec::new()).expect("a header");
        ManifestRows::new(manifest, BATCH, mail, output)
    }

    pub(in crate::batch) fn bytes_and_totals(
        rows: ManifestRows<'_, Vec<u8>>,
    ) -> (String, u64, u64, Presort) {
        let (manifest, pages, sheets, presort) = rows.into_parts();
        let text = String::from_utf8(manifest.finish().expect("written")).expect("text");
        (text, pages, sheets, presort)
    }

    /// The rows made on another thread, handed over one, three or 64 at a
    /// time, are the bytes and totals of the rows made one by one on the
    /// thread that walks the ledger.
    #[test]
    fn manifest_rows_made_on_another_thread_are_those_made_in_the_walk() {
        let ledger = ledger_with_letters();
        let ledger: &dyn Ledger = &ledger;
        let mail = Config::default_config().mail;
        for mode in [OutputMode::Print, OutputMode::Pieces] {
            let output = OutputChoice {
                mode,
                pieces_per_file: 4,
            };
            let mut sequential = rows(&mail, output);
            let walked = ledger.walk_batch(BATCH, |iss| sequential.add(&iss));
            assert_eq!(walked.expect("walked").expect("added"), LETTERS as u64);
            let expected = bytes_and_totals(sequential);
            assert_eq!(expected.0.lines().count(), LETTERS + 1, "{}", expected.0);
            for per_handoff in [1, 3, ISSUANCES_PER_HANDOFF] {
                let pipelined = add_all(ledger, BATCH, rows(&mail, output), per_handoff);
                assert_eq!(
                    bytes_and_totals(pipelined.expect("written")),
                    expected,
                    "{mode:?}, {per_handoff} a handoff"
                );
            }
        }
    }
}
