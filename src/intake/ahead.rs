//! Reading ahead: an [`Intake`] driven on a thread of its own, a few
//! batches of outcomes ahead of the loop that consumes them.
//!
//! Reading and checking rows is single-threaded (records are split in file
//! order, and the first row with a receipt wins), so a loop that reads a
//! chunk and then hands it to the other cores leaves one core idle while it
//! reads. Here the reading thread keeps going while the consumer works: the
//! outcomes come out of [`ReadAhead`] exactly as the intake iterator yields
//! them, in the same order, each once, and after an error nothing more.
//!
//! Memory stays bounded: the channel holds at most `batches_ahead` batches
//! of at most `batch_rows` outcomes each, whatever the number of rows. When
//! the consumer stops early (drops the [`ReadAhead`]), the reader's next send
//! fails and it stops too, so a scope that spawned it can end.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::{Scope, ScopedJoinHandle};

use super::{Intake, IntakeError, Outcome};

type Item = Result<Outcome, IntakeError>;

/// The outcomes of an intake read on another thread, in input order.
pub struct ReadAhead<'scope> {
    batches: Receiver<Vec<Item>>,
    current: std::vec::IntoIter<Item>,
    reader: Option<ScopedJoinHandle<'scope, u64>>,
    read: Option<u64>,
}

/// Starts reading `intake` on a thread of `scope`, in batches of at most
/// `batch_rows` outcomes, at most `batches_ahead` batches ahead of the
/// consumer.
pub fn read_ahead<'scope, R: Read + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    mut intake: Intake<R>,
    batch_rows: usize,
    batches_ahead: usize,
) -> ReadAhead<'scope> {
    let batch_rows = batch_rows.max(1);
    let (sender, batches) = sync_channel(batches_ahead.max(1));
    let reader = scope.spawn(move || {
        loop {
            let batch: Vec<Item> = intake.by_ref().take(batch_rows).collect();
            // The consumer is gone (it stopped early): so is the need to read.
            if batch.is_empty() || sender.send(batch).is_err() {
                break;
            }
        }
        intake.read()
    });
    ReadAhead {
        batches,
        current: Vec::new().into_iter(),
        reader: Some(reader),
        read: None,
    }
}

impl ReadAhead<'_> {
    /// Data rows read (as [`Intake::read`]), once every outcome was taken;
    /// `None` before.
    pub fn read(&self) -> Option<u64> {
        self.read
    }
}

impl Iterator for ReadAhead<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            match self.batches.recv() {
                Ok(batch) => self.current = batch.into_iter(),
                Err(_) => {
                    // The reader ended: at the end of the input, or in a
                    // panic, which is carried on here rather than read as
                    // an end that would drop the rows it never sent.
                    let reader = self.reader.take()?;
                    match reader.join() {
                        Ok(read) => self.read = Some(read),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                    return None;
                }
            }
        }
    }
}

impl std::iter::FusedIterator for ReadAhead<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::DEFAULT_WINDOW_FIT;
    use chrono::NaiveDate;

    const HEADER: &str = "receipt_number,form_type,received_date,given_name,middle_name,\
        family_name,a_number,in_care_of,address_line1,address_line2,city,state,zip,language\n";

    /// Valid rows, rejects (bad form, duplicate receipt, wrong field count)
    /// and blank rows, mixed.
    fn mixed_input(rows: usize) -> Vec<u8> {
        let mut csv = HEADER.to_string();
        for i in 0..rows {
            let receipt = format!("IOE{:010}", 1_000 + i % 17 * 31 + i);
            let form = if i % 5 == 3 { "I-999" } else { "I-485" };
            let receipt = if i % 7 == 6 {
                "IOE0000001000".into()
            } else {
                receipt
            };
            match i % 11 {
                9 => csv.push_str(",,,,,,,,,,,,,\n"),
                10 => csv.push_str("IOE0912345678,I-485\n"),
                _ => csv.push_str(&format!(
                    "{receipt},{form},2026-11-20,Ana,,Ruiz,,,1 Elm St,,Austin,TX,78701,en\n"
                )),
            }
        }
        csv.into_bytes()
    }

    fn intake(bytes: &[u8]) -> Intake<&[u8]> {
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date");
        Intake::new(bytes, "filings.csv", date, DEFAULT_WINDOW_FIT).expect("a header")
    }

    fn sequential(bytes: &[u8]) -> (Vec<String>, u64) {
        let mut intake = intake(bytes);
        let items = intake.by_ref().map(|i| format!("{i:?}")).collect();
        (items, intake.read())
    }

    fn ahead(bytes: &[u8], batch_rows: usize, batches_ahead: usize) -> (Vec<String>, u64) {
        std::thread::scope(|scope| {
            let mut ahead = read_ahead(scope, intake(bytes), batch_rows, batches_ahead);
            let items = ahead.by_ref().map(|i| format!("{i:?}")).collect();
            (items, ahead.read().expect("read to the end"))
        })
    }

    #[test]
    fn read_ahead_yields_what_intake_yields_in_order_each_once() {
        let bytes = mixed_input(60);
        let (items, read) = sequential(&bytes);
        assert!(items.iter().any(|i| i.contains("Rejected")));
        assert!(items.iter().any(|i| i.contains("already appears")));
        assert!(items.iter().any(|i| i.starts_with("Ok(Valid")));
        for (batch_rows, batches_ahead) in [(1, 1), (2, 1), (7, 2), (64, 3), (1000, 1)] {
            assert_eq!(
                ahead(&bytes, batch_rows, batches_ahead),
                (items.clone(), read),
                "batches of {batch_rows}, {batches_ahead} ahead"
            );
        }
    }

    #[test]
    fn read_ahead_stops_after_a_file_error_as_intake_does() {
        let mut bytes = mixed_input(20);
        bytes.extend_from_slice(
            b"IOE0912345678,I-485,2026-11-20,\xFF,,Ruiz,,,1 Elm St,,Austin,TX,78701,en\n",
        );
        bytes.extend_from_slice(&mixed_input(5)[HEADER.len()..]);
        let (items, _) = sequential(&bytes);
        assert!(items.last().expect("items").starts_with("Err(NotUtf8"));
        assert_eq!(ahead(&bytes, 3, 1).0, items);
    }

    #[test]
    fn a_consumer_that_stops_early_does_not_hang_the_reader() {
        let bytes = mixed_input(200);
        std::thread::scope(|scope| {
            let mut ahead = read_ahead(scope, intake(&bytes), 2, 1);
            assert!(ahead.next().is_some());
            // Dropped here with most rows unread: the scope must still end.
        });
    }
}
