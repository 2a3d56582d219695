//! Commit: a chunk's letters made durable on disk, then its ledger rows
//! recorded in one transaction, so the ledger never names a letter that is
//! not there. The input is streamed chunk by chunk, read on a thread of its
//! own a chunk or two ahead; while one chunk renders, the previous one is
//! flushed and committed on another thread.

use std::io;
use std::path::{Path, PathBuf};

use super::error::{csv_err, io_err};
use super::plan::{Checked, ChunkOutcome, Planner};
use super::render::{letter_path, render_chunk, Rendered};
use super::{BatchError, OutputMode, Progress};
use crate::filing::ReceiptNumber;
use crate::filing::{Filing, Reject};
use crate::intake::{read_ahead, Intake, Outcome, ReadAhead};
use crate::issue::IssueContext;
use crate::ledger::{Ledger, LedgerError, NewIssuance};
use crate::letter::NoticeDates;
use crate::letter_proof::Sha256Hex;
use crate::manifest::{Counts, RejectsWriter};
use crate::output::{
    create_private_dir, remove_stray_temps, sync_dir, write_atomic, AtomicFile, Flush,
};
use crate::pdf::RenderedLetter;

/// Creates the batch folder and its `letters/` or `print/` folder (or both,
/// as `mode` says), withdraws a `batch.json` left from an earlier finish
/// (the batch is not complete until it is finished again) and removes the
/// temporary files a killed run left there. Returns how many temporary
/// files it removed.
pub fn prepare_folder(batch_dir: &Path, mode: OutputMode) -> Result<usize, BatchError> {
    create_private_dir(batch_dir).map_err(io_err("cannot create", batch_dir))?;
    for (wanted, name) in [(mode.pieces(), "letters"), (mode.print(), "print")] {
        if wanted {
            let dir = batch_dir.join(name);
            create_private_dir(&dir).map_err(io_err("cannot create", &dir))?;
        }
    }
    withdraw_summary(batch_dir)?;
    remove_temporaries(batch_dir)
}

/// Removes the temporary files (`.NAME.tmp`) in a batch folder and its
/// `letters/` and `print/` folders: those a killed run left, or those of a
/// run stopped on a signal. Returns how many it removed.
pub fn remove_temporaries(batch_dir: &Path) -> Result<usize, BatchError> {
    let mut removed = 0;
    for dir in [
        batch_dir.to_path_buf(),
        batch_dir.join("letters"),
        batch_dir.join("print"),
    ] {
        if dir.is_dir() {
            removed += remove_stray_temps(&dir).map_err(io_err("cannot clean", &dir))?;
        }
    }
    Ok(removed)
}

/// What the chunks of a run added up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: Counts,
    /// Letters this invocation made.
    pub issued_now: u64,
}

impl Tally {
    /// Adds a chunk's counts; filings another run recorded first (counted
    /// as issued by an earlier chunk) move to already issued.
    fn add(&mut self, chunk: &ChunkOutcome) {
        let taken = chunk.taken_by_others;
        self.counts.issued = self.counts.issued + chunk.issued - taken;
        self.counts.already_issued += chunk.already_issued + taken;
        self.issued_now = self.issued_now + chunk.issued_now - taken;
    }
}

/// Chunks of outcomes the reading thread may hold ready for the issuing
/// loop. Reading a chunk is quicker than rendering it, so one ready (and
/// the next being read) keeps the reader busy; memory holds at most three
/// chunks of filings (the one issued, the one ready, the one being read).
const CHUNKS_READ_AHEAD: usize = 1;

/// Outcomes the reading thread hands over at a time: far fewer than a
/// chunk, so the issuing loop starts on a chunk as soon as its last row is
/// read, not when the reader's batch after it is full.
const READ_BATCH_ROWS: usize = 256;

/// Streams the input in chunks: plans, renders and commits every valid
/// filing and writes `rejects.csv`. When it returns, every letter of the
/// batch that this input names is in the ledger.
///
/// The input is read and checked on a thread of its own, a chunk or two
/// ahead ([`read_ahead`]), so reading the next chunk overlaps rendering and
/// committing this one instead of leaving a core idle between chunks.
pub fn issue_all(
    checked: &Checked<'_>,
    batch_dir: &Path,
    ledger: &mut dyn Ledger,
    progress: &dyn Progress,
) -> Result<Tally, BatchError> {
    let inputs = checked.inputs;
    let intake = Intake::open(inputs.input, inputs.batch_date, checked.fit)?;
    let chunk_size = inputs.chunk_size.max(1);
    std::thread::scope(|scope| {
        let batch_rows = READ_BATCH_ROWS.min(chunk_size);
        let batches_ahead = chunk_size.div_ceil(batch_rows) * CHUNKS_READ_AHEAD;
        let outcomes = read_ahead(scope, intake, batch_rows, batches_ahead);
        issue_outcomes(checked, batch_dir, outcomes, ledger, progress)
    })
}

/// [`issue_all`] over the outcomes read ahead. Returning early (an error,
/// a stop) drops `outcomes`, which stops the reading thread.
fn issue_outcomes(
    checked: &Checked<'_>,
    batch_dir: &Path,
    mut outcomes: ReadAhead<'_>,
    ledger: &mut dyn Ledger,
    progress: &dyn Progress,
) -> Result<Tally, BatchError> {
    let inputs = checked.inputs;
    let letters_dir = batch_dir.join("letters");
    let mut chunks = ChunkRunner::new(checked, &letters_dir, ledger)?;
    let rejects_path = batch_dir.join("rejects.csv");
    let rejects_file =
        AtomicFile::create(&rejects_path).map_err(io_err("cannot create", &rejects_path))?;
    let mut rejects = RejectsWriter::new(rejects_file).map_err(csv_err("rejects.csv"))?;
    let mut reject = |r: &Reject| rejects.write(r).map_err(csv_err("rejects.csv"));

    progress.start(checked.rows);
    let mut tally = Tally::default();
    let chunk_size = inputs.chunk_size.max(1);
    let mut chunk: Vec<Filing> = Vec::new();
    loop {
        let next = outcomes.next().transpose()?;
        let at_end = next.is_none();
        match next {
            Some(Outcome::Rejected(r)) => {
                tally.counts.rejected += 1;
                reject(&r)?;
                progress.advance(1);
                continue;
            }
            Some(Outcome::Valid(f)) => chunk.push(f),
            None => {}
        }
        if chunk.len() >= chunk_size || (at_end && !chunk.is_empty()) {
            let (outcome, late_rejects) = chunks.process(ledger, &chunk)?;
            for r in &late_rejects {
                reject(r)?;
            }
            tally.counts.rejected += late_rejects.len() as u64;
            tally.add(&outcome);
            progress.advance(chunk.len() as u64);
            chunk.clear();
            if !at_end && progress.stop_requested() {
                // A safe point: the letters rendered so far are recorded,
                // so the next run resumes after them.
                commit_chunk(ledger, &letters_dir, &chunks.pending)?;
                progress.finish();
                return Err(BatchError::Stopped);
            }
        }
        if at_end {
            break;
        }
    }
    let taken_by_others = commit_chunk(ledger, &letters_dir, &chunks.pending)?;
    tally.add(&ChunkOutcome {
        taken_by_others,
        ..ChunkOutcome::default()
    });
    tally.counts.read = outcomes
        .read()
        .expect("the outcomes were read to their end");
    progress.finish();
    rejects
        .finish()
        .map_err(io_err("cannot write", &rejects_path))?
        .commit()
        .map_err(io_err("cannot write", &rejects_path))?;
    Ok(tally)
}

/// Makes a chunk's letters durable, then records them: the letters must be
/// on disk before the ledger says they exist.
///
/// On a shared ledger another host may record one of these receipts between
/// this chunk's plan and its commit (the same filing in two input files).
/// The database refuses the chunk; the rows another run got first are then
/// dropped, their letters withdrawn (never mailed twice), and the rest
/// recorded. Returns how many were dropped: they count as already issued.
fn commit_chunk(
    ledger: &mut dyn Ledger,
    letters_dir: &Path,
    rows: &[NewIssuance],
) -> Result<u64, BatchError> {
    if rows.is_empty() {
        return Ok(0);
    }
    if letters_dir.is_dir() {
        sync_dir(letters_dir).map_err(io_err("cannot flush", letters_dir))?;
    }
    let refused = match ledger.record(rows) {
        Ok(()) => {
            tracing::debug!(letters = rows.len(), first = %rows[0].piece_id, "chunk committed");
            return Ok(0);
        }
        Err(e @ (LedgerError::DuplicateIssuance { .. } | LedgerError::AlreadyActive { .. })) => e,
        Err(e) => return Err(e.into()),
    };
    let receipts: Vec<ReceiptNumber> = rows.iter().map(|r| r.filing.receipt.clone()).collect();
    let states = ledger.receipt_states(&receipts)?;
    let (taken, keep): (Vec<&NewIssuance>, Vec<&NewIssuance>) = rows.iter().partition(|r| {
        states
            .get(&r.filing.receipt)
            .is_some_and(|s| s.max_issue_no >= r.issue_no || s.active.is_some())
    });
    if taken.is_empty() {
        return Err(refused.into());
    }
    for row in &taken {
        // Print runs write no letter files: there is nothing to withdraw.
        let path = letter_path(letters_dir, &row.piece_id);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err("cannot withdraw", &path)(e));
            }
            _ => {}
        }
        tracing::info!(piece = %row.piece_id, "issued meanwhile by another run; letter withdrawn");
    }
    let keep: Vec<NewIssuance> = keep.into_iter().cloned().collect();
    Ok(taken.len() as u64 + commit_chunk(ledger, letters_dir, &keep)?)
}

/// Plans, renders and commits chunk after chunk, one chunk behind.
struct ChunkRunner<'a> {
    planner: Planner<'a>,
    ctx: IssueContext<'a>,
    letters_dir: &'a Path,
    /// Letters get a PDF file each (else they are only drawn, for print files).
    mode: OutputMode,
    /// Rows rendered and written but not yet committed.
    pending: Vec<NewIssuance>,
}

impl<'a> ChunkRunner<'a> {
    fn new(
        checked: &'a Checked<'a>,
        letters_dir: &'a Path,
        ledger: &dyn Ledger,
    ) -> Result<Self, BatchError> {
        let inputs = checked.inputs;
        let renderer = inputs.renderer;
        Ok(ChunkRunner {
            planner: Planner::new(&checked.batch_id, &renderer.config.mail, ledger)?,
            ctx: IssueContext {
                key: inputs.keys.current(),
                renderer,
                batch_id: &checked.batch_id,
                dates: NoticeDates::new(inputs.batch_date, renderer.config.codes.valid_days),
            },
            letters_dir,
            mode: inputs.output.mode,
            pending: Vec::new(),
        })
    }

    /// Plans and renders `chunk` while the previous chunk's rows are flushed
    /// and committed on another thread, so the disk and the ledger do not
    /// leave a core idle. This chunk's rows become the pending ones.
    fn process(
        &mut self,
        ledger: &mut dyn Ledger,
        chunk: &[Filing],
    ) -> Result<(ChunkOutcome, Vec<Reject>), BatchError> {
        // Planning reads the ledger before the commit thread borrows it. The
        // pending rows belong to other receipts (a file names each receipt
        // once), so their commit cannot change this plan.
        let (mut outcome, planned) = self.planner.plan(ledger, chunk)?;
        let pending = std::mem::take(&mut self.pending);
        let (committed, rendered) = std::thread::scope(|scope| {
            let committer = scope.spawn(|| commit_chunk(ledger, self.letters_dir, &pending));
            let rendered = render_chunk(&self.ctx, self.letters_dir, &planned, self.mode);
            let committed = committer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (committed, rendered)
        });
        outcome.taken_by_others = committed?;
        let mut rejects = Vec::new();
        for r in rendered? {
            match r {
                Rendered::Letter(row) => self.pending.push(row),
                Rendered::Rejected(reject) => {
                    outcome.issued -= 1;
                    outcome.issued_now -= 1;
                    rejects.push(reject);
                }
            }
        }
        Ok((outcome, rejects))
    }
}

/// Writes one letter durably (used by reissue and reprint).
pub fn write_letter(path: &Path, letter: &RenderedLetter) -> Result<(), BatchError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(io_err("cannot create", dir))?;
    }
    write_atomic(path, &letter.bytes, Flush::BeforeRename).map_err(io_err("cannot write", path))?;
    debug_assert_eq!(Sha256Hex::of(&letter.bytes), letter.sha256);
    Ok(())
}

/// Where a batch folder's `batch.json` is: its presence means complete.
pub(super) fn summary_path(batch_dir: &Path) -> PathBuf {
    batch_dir.join("batch.json")
}

/// Removes a `batch.json` that no longer tells the truth: the batch is
/// being run again, or a letter it lists is gone. Its presence means
/// "complete", so it goes before anything else happens to the batch; the
/// ledger keeps the totals, and finishing the batch writes it again.
pub fn withdraw_summary(batch_dir: &Path) -> Result<(), BatchError> {
    let path = summary_path(batch_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => sync_dir(batch_dir).map_err(io_err("cannot flush", batch_dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("cannot remove", &path)(e)),
    }
}
