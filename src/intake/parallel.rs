//! Reading in batches, the rows of each checked on rayon's threads.
//!
//! Records are split in file order on the calling thread (where one ends is
//! known only once the one before it is read); each is then checked on its
//! own ([`Columns::check`]) in parallel; last, on the calling thread and in
//! file order, their receipts are claimed (the first row with a receipt
//! wins) and they are counted. So the outcomes are those the iterator
//! yields, in the same order, each once, and after a file error nothing
//! more; memory holds one batch of records.

use std::io::Read;

use rayon::prelude::*;

use super::columns::{Checked, Columns};
use super::reader::Record;
use super::{Intake, IntakeError, Outcome};

/// A record with its fields copied out of the reader's buffer.
struct OwnedRecord {
    record: Record,
    bytes: Vec<u8>,
    /// Where each field ends in `bytes`.
    ends: Vec<usize>,
}

impl OwnedRecord {
    fn copy(record: Record, fields: &[&[u8]]) -> Self {
        let mut bytes = Vec::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = Vec::with_capacity(fields.len());
        for field in fields {
            bytes.extend_from_slice(field);
            ends.push(bytes.len());
        }
        OwnedRecord {
            record,
            bytes,
            ends,
        }
    }

    fn fields(&self) -> Vec<&[u8]> {
        let mut from = 0;
        self.ends
            .iter()
            .map(|&to| {
                let field = &self.bytes[from..to];
                from = to;
                field
            })
            .collect()
    }

    fn check(&self, columns: &Columns) -> Result<Checked, IntakeError> {
        columns.check(&self.record, &self.fields())
    }
}

/// Why reading a batch stopped short.
enum Stop {
    End,
    Failed(IntakeError),
}

impl<R: Read> Intake<R> {
    /// The outcomes of the next `max_records` records (blank ones yield
    /// none), as the iterator would yield them, with the rows checked in
    /// parallel. Empty only once the input is used up or an error was
    /// returned; after an error, the file must not be used.
    pub fn next_batch(&mut self, max_records: usize) -> Vec<Result<Outcome, IntakeError>> {
        let mut out = Vec::new();
        while out.is_empty() && !self.done {
            let (records, stop) = self.read_records(max_records.max(1));
            let columns = &self.columns;
            let checked: Vec<_> = records.par_iter().map(|r| r.check(columns)).collect();
            for (owned, checked) in records.iter().zip(checked) {
                match checked.and_then(|c| self.settle(c, owned.record.start_line)) {
                    Ok(Some(outcome)) => out.push(Ok(outcome)),
                    Ok(None) => {}
                    Err(error) => {
                        self.done = true;
                        out.push(Err(error));
                        return out;
                    }
                }
            }
            match stop {
                None => {}
                Some(Stop::End) => self.done = true,
                Some(Stop::Failed(error)) => {
                    self.done = true;
                    out.push(Err(error));
                }
            }
        }
        out
    }

    /// Up to `max` records, copied, and why reading stopped before `max`.
    fn read_records(&mut self, max: usize) -> (Vec<OwnedRecord>, Option<Stop>) {
        let mut records = Vec::with_capacity(max);
        while records.len() < max {
            match self.reader.next_record() {
                Ok(Some(record)) => {
                    let owned = OwnedRecord::copy(record, &self.reader.fields());
                    records.push(owned);
                }
                Ok(None) => return (records, Some(Stop::End)),
                Err(cause) => {
                    let error = IntakeError::Read {
                        file: self.columns.file.clone(),
                        line: self.reader.line(),
                        cause,
                    };
                    return (records, Some(Stop::Failed(error)));
                }
            }
        }
        (records, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::DEFAULT_WINDOW_FIT;
    use chrono::NaiveDate;

    const HEADER: &str = "receipt_number,form_type,received_date,given_name,middle_name,\
        family_name,a_number,in_care_of,address_line1,address_line2,city,state,zip,language\n";

    /// Valid rows and every kind of reject, blank rows, a record too long
    /// to keep, and receipts repeated far apart.
    fn mixed_input(rows: usize) -> Vec<u8> {
        let mut csv = HEADER.as_bytes().to_vec();
        for i in 0..rows {
            let receipt = if i % 7 == 6 {
                format!("IOE{:010}", i / 3)
            } else {
                format!("IOE{:010}", i)
            };
            let form = if i % 5 == 3 { "I-999" } else { "I-485" };
            let row = match i % 13 {
                9 => ",,,,,,,,,,,,,\n".to_string(),
                10 => format!("{receipt},I-485\n"),
                11 => "IOE12,I-485,2026-11-20,Ana,,Ruiz,,,1 Elm St,,Austin,TX,78701,en\n".into(),
                12 if i == 25 => format!("{receipt},\"{}\"\n", "x".repeat(70_000)),
                _ => format!(
                    "{receipt},{form},2026-11-20,Ana,,Ruiz,,,1 Elm St,,Austin,TX,78701,en\n"
                ),
            };
            csv.extend_from_slice(row.as_bytes());
        }
        csv
    }

    fn intake(bytes: &[u8], memory_limit: usize) -> Intake<&[u8]> {
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date");
        let mut intake =
            Intake::new(bytes, "filings.csv", date, DEFAULT_WINDOW_FIT).expect("a header");
        intake.seen.memory_limit = memory_limit;
        intake
    }

    fn one_by_one(bytes: &[u8], memory_limit: usize) -> (Vec<String>, super::super::IntakeCounts) {
        let mut intake = intake(bytes, memory_limit);
        let items = intake.by_ref().map(|i| format!("{i:?}")).collect();
        (items, intake.counts())
    }

    fn in_batches(
        bytes: &[u8],
        memory_limit: usize,
        max_records: usize,
    ) -> (Vec<String>, super::super::IntakeCounts) {
        let mut intake = intake(bytes, memory_limit);
        let mut items = Vec::new();
        loop {
            let batch = intake.next_batch(max_records);
            if batch.is_empty() {
                break;
            }
            items.extend(batch.iter().map(|i| format!("{i:?}")));
        }
        assert!(intake.next_batch(max_records).is_empty(), "ended for good");
        (items, intake.counts())
    }

    #[test]
    fn rows_checked_in_parallel_batches_are_those_read_one_by_one() {
        let bytes = mixed_input(80);
        for memory_limit in [3, 1 << 16] {
            let (items, counts) = one_by_one(&bytes, memory_limit);
            for kind in [
                "Ok(Valid",
                "already appears",
                "KB a row may hold",
                "the header has",
                "IOE12",
            ] {
                assert!(items.iter().any(|i| i.contains(kind)), "no {kind}");
            }
            assert!(counts.blank > 0);
            for max_records in [1, 2, 5, 64, 1000] {
                assert_eq!(
                    in_batches(&bytes, memory_limit, max_records),
                    (items.clone(), counts),
                    "batches of {max_records}, {memory_limit} receipts in memory"
                );
            }
        }
    }

    #[test]
    fn parallel_batches_stop_at_a_file_error_as_the_iterator_does() {
        let mut bytes = mixed_input(20);
        bytes.extend_from_slice(
            b"IOE0912345678,I-485,2026-11-20,\xFF,,Ruiz,,,1 Elm St,,Austin,TX,78701,en\n",
        );
        bytes.extend_from_slice(&mixed_input(5)[HEADER.len()..]);
        let (items, counts) = one_by_one(&bytes, 1 << 16);
        assert!(items.last().expect("items").starts_with("Err(NotUtf8"));
        for max_records in [1, 3, 1000] {
            assert_eq!(
                in_batches(&bytes, 1 << 16, max_records),
                (items.clone(), counts)
            );
        }
    }
}
