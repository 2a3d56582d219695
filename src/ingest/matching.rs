//! From parsed rows to the ledger's events, a chunk of rows at a time: the
//! pieces a chunk names are looked up together, and each row becomes an
//! event (written to the spool until the one transaction that records them
//! all), a reject or an unmatched row (in line order, straight to its side
//! file). Nothing here grows with the file but the set of batch ids.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::sides::SideFile;
use super::source::Row;
use super::spool::{Events, Spool};
use super::{IngestError, IngestRequest, Line, PieceKey, SetAside};
use crate::imb::parse_tracking;
use crate::ledger::{ImportKind, Ledger, LedgerError, PieceRef};

/// How many ids one ledger look-up asks for.
const LOOKUP_CHUNK: usize = 1_000;

/// What an import has gathered so far.
pub(super) struct Trail {
    header: Vec<String>,
    rows: u64,
    events: Spool,
    batches: BTreeSet<String>,
    rejects: SideFile,
    unmatched: SideFile,
}

/// What an import gathered, once every row was read.
pub(super) struct Gathered {
    pub rows: u64,
    pub rejected: u64,
    pub unmatched: u64,
    pub events: Events,
    pub batches: BTreeSet<String>,
    pub rejects_file: Option<PathBuf>,
    pub unmatched_file: Option<PathBuf>,
}

impl Trail {
    pub(super) fn new(out_dir: &Path, stem: &str, header: &[String]) -> Result<Trail, IngestError> {
        let events = Spool::create(out_dir, stem).map_err(|source| IngestError::Write {
            path: out_dir.join(format!(".{stem}.events.tmp")),
            source,
        })?;
        Ok(Trail {
            header: header.to_vec(),
            rows: 0,
            events,
            batches: BTreeSet::new(),
            rejects: SideFile::new(out_dir, &format!("{stem}.rejects.csv")),
            unmatched: SideFile::new(out_dir, &format!("{stem}.unmatched.csv")),
        })
    }

    /// Matches a chunk of rows to their pieces and files each one; leaves
    /// `chunk` empty.
    pub(super) fn settle(
        &mut self,
        req: &IngestRequest<'_>,
        ledger: &dyn Ledger,
        chunk: &mut Vec<Row>,
    ) -> Result<(), IngestError> {
        let lines = chunk.iter().filter_map(|r| match r {
            Row::Parsed { parsed, .. } => Some(parsed),
            Row::Aside(_) => None,
        });
        let found = resolve(ledger, req.mailer_id, lines)?;
        for row in chunk.drain(..) {
            self.rows += 1;
            let (line, fields, parsed) = match row {
                Row::Aside(aside) => {
                    self.rejects.push(&self.header, &aside)?;
                    continue;
                }
                Row::Parsed {
                    line,
                    fields,
                    parsed,
                } => (line, fields, parsed),
            };
            let candidates = found.get(&parsed.who).map_or(&[][..], Vec::as_slice);
            let day = parsed.event.at.date();
            if let Some(piece) = candidates.iter().find(|p| p.notice_date <= day) {
                if !self.batches.contains(&piece.batch_id) {
                    self.batches.insert(piece.batch_id.clone());
                }
                let e = &parsed.event;
                let pushed = self.events.push(&piece.piece_id, e.kind, e.at, &e.detail);
                pushed.map_err(|source| IngestError::Write {
                    path: self.events.path().to_path_buf(),
                    source,
                })?;
                continue;
            }
            let aside = |reason| SetAside {
                line,
                reason,
                fields,
            };
            if let Some(first) = candidates.last() {
                let reason = format!(
                    "dated {day}, before its letter {} was issued ({}): a wrong date, or a barcode reused",
                    first.piece_id, first.notice_date
                );
                self.rejects.push(&self.header, &aside(reason))?;
                continue;
            }
            let unknown = aside(no_piece_reason(&parsed.who, req.mailer_id));
            match (req.kind, &parsed.who) {
                (ImportKind::Scans, _) | (_, PieceKey::Barcode(_)) => {
                    self.unmatched.push(&self.header, &unknown)?
                }
                _ => self.rejects.push(&self.header, &unknown)?,
            }
        }
        Ok(())
    }

    /// Puts the side files in place and hands over the events.
    pub(super) fn finish(self) -> Result<Gathered, IngestError> {
        let (rejected, unmatched) = (self.rejects.rows(), self.unmatched.rows());
        let spool = self.events.path().to_path_buf();
        let events = self
            .events
            .into_events()
            .map_err(|source| IngestError::Write {
                path: spool,
                source,
            })?;
        Ok(Gathered {
            rows: self.rows,
            rejected,
            unmatched,
            events,
            batches: self.batches,
            rejects_file: self.rejects.finish()?,
            unmatched_file: self.unmatched.finish()?,
        })
    }
}

/// Looks up every piece the rows name, in chunks.
fn resolve<'a>(
    ledger: &dyn Ledger,
    mailer_id: Option<&str>,
    lines: impl Iterator<Item = &'a Line>,
) -> Result<HashMap<PieceKey, Vec<PieceRef>>, LedgerError> {
    let mut ids: Vec<String> = Vec::new();
    let mut serials: Vec<(String, u64)> = Vec::new();
    for line in lines {
        match &line.who {
            PieceKey::Piece(id) => ids.push(id.clone()),
            PieceKey::Barcode(digits) => {
                // Only this mailer's barcodes can be our pieces.
                if let (Ok(t), Some(mid)) = (parse_tracking(digits), mailer_id) {
                    if t.mailer_id == mid {
                        serials.push((digits.clone(), t.serial));
                    }
                }
            }
        }
    }
    ids.sort();
    ids.dedup();
    let mut found = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        for (id, piece) in ledger.pieces(chunk)? {
            found.insert(PieceKey::Piece(id), vec![piece]);
        }
    }
    let mut wanted: Vec<u64> = serials.iter().map(|(_, s)| *s).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut by_serial = HashMap::new();
    for chunk in wanted.chunks(LOOKUP_CHUNK) {
        by_serial.extend(ledger.pieces_by_serial(chunk)?);
    }
    for (digits, serial) in serials {
        if let Some(pieces) = by_serial.get(&serial) {
            found.insert(PieceKey::Barcode(digits), pieces.clone());
        }
    }
    Ok(found)
}

fn no_piece_reason(who: &PieceKey, mailer_id: Option<&str>) -> String {
    match who {
        PieceKey::Piece(id) => format!("no letter with piece ID {id} in this ledger"),
        PieceKey::Barcode(digits) => match (parse_tracking(digits), mailer_id) {
            (_, None) => {
                "no mailer ID is configured ([mail] mailer_id), so no barcode is ours".into()
            }
            (Ok(t), Some(mid)) if t.mailer_id != mid => {
                format!("mailer ID {} is not ours ({mid})", t.mailer_id)
            }
            (Ok(t), Some(_)) => format!("no letter of ours carries serial {}", t.serial),
            (Err(e), _) => e,
        },
    }
}
