//! From parsed rows to the ledger's events, a chunk of rows at a time: the
//! pieces a chunk names are looked up together, each row becomes an event,
//! a reject or an unmatched row (in line order, straight to its side file),
//! and the events are kept compactly (piece IDs and details once each, an
//! event in a few bytes) until the one transaction that records them all.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::sides::SideFile;
use super::source::Row;
use super::{IngestError, IngestRequest, Line, PieceKey, SetAside};
use crate::imb::parse_tracking;
use crate::ledger::{
    ImportKind, Ledger, LedgerError, MailEvent, MailEventKind, MailTime, PieceRef,
};

/// How many ids one ledger look-up asks for.
const LOOKUP_CHUNK: usize = 1_000;

/// What an import has gathered so far.
pub(super) struct Trail {
    header: Vec<String>,
    rows: u64,
    events: EventStore,
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
    pub(super) fn new(out_dir: &Path, stem: &str, header: &[String]) -> Trail {
        Trail {
            header: header.to_vec(),
            rows: 0,
            events: EventStore::default(),
            batches: BTreeSet::new(),
            rejects: SideFile::new(out_dir, &format!("{stem}.rejects.csv")),
            unmatched: SideFile::new(out_dir, &format!("{stem}.unmatched.csv")),
        }
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
                self.batches.insert(piece.batch_id.clone());
                self.events.push(&piece.piece_id, &parsed);
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
        Ok(Gathered {
            rows: self.rows,
            rejected,
            unmatched,
            events: self.events.into_sorted(),
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

/// One event, small: its piece and detail by number.
#[derive(Clone, Copy, Debug)]
struct Compact {
    piece: u32,
    detail: u32,
    at: MailTime,
    kind: MailEventKind,
}

/// Texts kept once each, by number.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = u32::try_from(self.ids.len()).expect("fewer than 4 billion texts");
        self.ids.insert(text.into(), id);
        id
    }

    /// The texts by number, and each one's rank in text order.
    fn into_table(self) -> (Vec<Box<str>>, Vec<u32>) {
        let mut texts: Vec<Box<str>> = vec![Box::from(""); self.ids.len()];
        for (text, id) in self.ids {
            texts[id as usize] = text;
        }
        let mut order: Vec<u32> = (0..texts.len() as u32).collect();
        order.sort_unstable_by(|a, b| texts[*a as usize].cmp(&texts[*b as usize]));
        let mut rank = vec![0u32; texts.len()];
        for (r, id) in order.into_iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        (texts, rank)
    }
}

/// The events of an import while it is read.
#[derive(Default)]
struct EventStore {
    pieces: Interner,
    details: Interner,
    events: Vec<Compact>,
}

impl EventStore {
    fn push(&mut self, piece_id: &str, line: &Line) {
        self.events.push(Compact {
            piece: self.pieces.id(piece_id),
            detail: self.details.id(&line.event.detail),
            at: line.event.at,
            kind: line.event.kind,
        });
    }

    /// In the order of [`MailEvent`]'s fields: piece, kind, time, detail.
    fn into_sorted(self) -> Events {
        let (pieces, piece_rank) = self.pieces.into_table();
        let (details, detail_rank) = self.details.into_table();
        let mut events = self.events;
        events.sort_unstable_by_key(|e| {
            (
                piece_rank[e.piece as usize],
                e.kind,
                e.at,
                detail_rank[e.detail as usize],
            )
        });
        Events {
            pieces,
            details,
            events,
        }
    }
}

/// An import's events in order, made into [`MailEvent`]s one at a time
/// as the ledger records them.
pub(super) struct Events {
    pieces: Vec<Box<str>>,
    details: Vec<Box<str>>,
    events: Vec<Compact>,
}

impl Events {
    pub(super) fn len(&self) -> usize {
        self.events.len()
    }
}

impl IntoIterator for Events {
    type Item = MailEvent;
    type IntoIter = Box<dyn Iterator<Item = MailEvent>>;

    fn into_iter(self) -> Self::IntoIter {
        let Events {
            pieces,
            details,
            events,
        } = self;
        Box::new(events.into_iter().map(move |e| MailEvent {
            piece_id: pieces[e.piece as usize].to_string(),
            kind: e.kind,
            at: e.at,
            detail: details[e.detail as usize].to_string(),
        }))
    }
}
