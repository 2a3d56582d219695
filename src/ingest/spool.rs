//! An import's events between reading the file and the one transaction
//! that records them: on disk, not in memory, so memory does not grow
//! with the file. The spool is a file in the output folder unlinked as
//! soon as it is made: it never outlives the import, even a killed one.
//!
//! Each event is written as: kind (1 byte), time (a 1-byte tag, the day
//! from the common era as 4 bytes, seconds from midnight as 4 bytes), then
//! the piece ID and the detail, each as a 4-byte length and its bytes.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::ledger::{LedgerError, MailEvent, MailEventKind, MailTime};
use crate::output::create_private_dir;

/// Buffer of the spool's reads and writes.
const SPOOL_BUFFER_BYTES: usize = 256 * 1024;

/// Events written as they are found.
pub(super) struct Spool {
    path: PathBuf,
    writer: BufWriter<File>,
    events: u64,
}

impl Spool {
    /// Makes the spool in `dir` (and unlinks it at once).
    pub(super) fn create(dir: &Path, stem: &str) -> io::Result<Spool> {
        create_private_dir(dir)?;
        let path = dir.join(format!(".{stem}.events.tmp"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(Spool {
            path,
            writer: BufWriter::with_capacity(SPOOL_BUFFER_BYTES, file),
            events: 0,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn push(
        &mut self,
        piece_id: &str,
        kind: MailEventKind,
        at: MailTime,
        detail: &str,
    ) -> io::Result<()> {
        let kind_no = MailEventKind::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind is in ALL") as u8;
        let (tag, date, secs) = match at {
            MailTime::Day(d) => (0u8, d, 0),
            MailTime::At(t) => (1u8, t.date(), t.time().num_seconds_from_midnight()),
        };
        let w = &mut self.writer;
        w.write_all(&[kind_no, tag])?;
        w.write_all(&date.num_days_from_ce().to_le_bytes())?;
        w.write_all(&secs.to_le_bytes())?;
        for text in [piece_id, detail] {
            let len = u32::try_from(text.len()).map_err(io::Error::other)?;
            w.write_all(&len.to_le_bytes())?;
            w.write_all(text.as_bytes())?;
        }
        self.events += 1;
        Ok(())
    }

    /// The events written, in the order they were, read back one at a time.
    pub(super) fn into_events(self) -> io::Result<Events> {
        let mut file = self.writer.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(Events {
            path: self.path,
            reader: BufReader::with_capacity(SPOOL_BUFFER_BYTES, file),
            left: self.events,
        })
    }
}

/// The spool read back.
pub(super) struct Events {
    path: PathBuf,
    reader: BufReader<File>,
    left: u64,
}

impl Events {
    /// Events not read yet.
    pub(super) fn len(&self) -> u64 {
        self.left
    }

    fn read_one(&mut self) -> io::Result<MailEvent> {
        let r = &mut self.reader;
        let mut head = [0u8; 10];
        r.read_exact(&mut head)?;
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let kind = *MailEventKind::ALL
            .get(usize::from(head[0]))
            .ok_or_else(|| bad("an unknown event kind"))?;
        let days = i32::from_le_bytes(head[2..6].try_into().expect("4 bytes"));
        let secs = u32::from_le_bytes(head[6..10].try_into().expect("4 bytes"));
        let date = NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| bad("a bad day"))?;
        let at = match head[1] {
            0 => MailTime::Day(date),
            _ => {
                let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)
                    .ok_or_else(|| bad("a bad time"))?;
                MailTime::At(NaiveDateTime::new(date, time))
            }
        };
        let piece_id = read_text(r)?;
        let detail = read_text(r)?;
        Ok(MailEvent {
            piece_id,
            kind,
            at,
            detail,
        })
    }
}

fn read_text(r: &mut impl Read) -> io::Result<String> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

impl Iterator for Events {
    type Item = Result<MailEvent, LedgerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.read_one().map_err(|source| LedgerError::File {
            action: "read back the events of the import from",
            path: self.path.clone(),
            source,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_as_they_went_in() {
        let dir = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let at = day.and_hms_opt(23, 59, 58).unwrap();
        let events = [
            MailEvent {
                piece_id: "IOE0912345601-01".into(),
                kind: MailEventKind::Mailed,
                at: MailTime::Day(day),
                detail: String::new(),
            },
            MailEvent {
                piece_id: "IOE0912345602-01".into(),
                kind: MailEventKind::Returned,
                at: MailTime::At(at),
                detail: "déménagé, sans adresse".into(),
            },
        ];
        let mut spool = Spool::create(dir.path(), "scans-x").unwrap();
        assert!(!spool.path().exists(), "unlinked at once");
        for e in &events {
            spool.push(&e.piece_id, e.kind, e.at, &e.detail).unwrap();
        }
        let events_back = spool.into_events().unwrap();
        assert_eq!(events_back.len(), 2);
        let back: Vec<MailEvent> = events_back.collect::<Result<_, _>>().unwrap();
        assert_eq!(back, events);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
