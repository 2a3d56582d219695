//! Print files: once every letter of the batch is in the ledger, the
//! letters are drawn in presort order (the ledger's index walks the batch by
//! ZIP, ZIP+4, receipt) and written `pieces_per_file` at a time into
//! `print/<batch>-NNN.pdf` (see [`crate::print`]).
//!
//! A walker thread reads the ledger and hands over one file's letters at a
//! time; as many files as there are rendering threads are drawn and written
//! at once, each file on one thread, so assembling one file never leaves a
//! core idle. Memory holds those files' letters, never the batch.
//!
//! Each letter is drawn once, here. The digest of what was printed (see
//! the content digest, `crate::print`) is recorded in the ledger after the
//! files are written and flushed, so the ledger never proves a letter by a
//! file that is not on disk; until then a row says
//! "not yet printed" ([`crate::letter_proof::LetterProof::NotYetPrinted`]). The digests wait in
//! a temporary file meanwhile, so memory does not grow with the batch.
//!
//! A batch of print files only makes its manifest's rows here too: each
//! round of files, once written, goes on to a thread that writes their
//! rows (`manifest_rows`), with the pages just drawn, while the next round
//! is drawn. The manifest's rows come from the same walk, in the same
//! order, as a walk of the ledger after the proofs are recorded would give
//! them (a test compares the two), so the ledger is not walked twice.
//!
//! Each file is written under a temporary name, flushed and renamed, so a
//! file that exists is complete; a killed run's temporary files are removed
//! when the batch is run again, and every print file is then written again:
//! a letter is a pure function of what the ledger recorded, so the bytes are
//! the same, and a letter whose digest was already recorded is checked
//! against it. Files left from an earlier run that this run does not write
//! (another `--pieces-per-file`) are removed.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::error::io_err;
use super::plan::Checked;
use super::{BatchError, OutputChoice, Progress};
use crate::issue::{draw_for_print, issue_as_before, IssueContext, Planned};
use crate::key::KeyRing;
use crate::ledger::{Issuance, Ledger, NewIssuance, PrintedLetter};
use crate::ledger::{LetterProof, Sha256Hex};
use crate::manifest::PrintFileEntry;
use crate::output::{create_private, sync_dir, AtomicFile};
use crate::print::{digest_v1_of_letter_pdf, PrintFile, PrintFileMeta, PrintLetter};
use crate::render::Renderer;

/// What writing a batch's print files needs.
pub struct PrintRun<'a> {
    pub batch_id: &'a str,
    pub batch_dir: &'a Path,
    pub batch_date: chrono::NaiveDate,
    pub keys: &'a KeyRing,
    pub renderer: &'a Renderer,
    pub output: OutputChoice,
}

impl Checked<'_> {
    /// The print run for this input's batch in `batch_dir`.
    pub fn print_run<'b>(&'b self, batch_dir: &'b Path) -> PrintRun<'b> {
        PrintRun {
            batch_id: &self.batch_id,
            batch_dir,
            batch_date: self.inputs.batch_date,
            keys: self.inputs.keys,
            renderer: self.inputs.renderer,
            output: self.inputs.output,
        }
    }
}

/// The name of the `number`th print file of a batch (from 1).
pub fn print_file_name(batch_id: &str, number: usize) -> String {
    format!("{batch_id}-{number:03}.pdf")
}

/// Which print file (from 1) the `index`th piece of the batch (from 0, in
/// presort order) is in.
pub fn print_file_number(index: u64, pieces_per_file: usize) -> usize {
    (index / pieces_per_file.max(1) as u64) as usize + 1
}

/// What is done with each letter once its print file is written, in
/// presort order, its pages set to those drawn (the manifest's row is
/// written); an error stops the run.
pub type EachPrinted<'a> = &'a mut (dyn FnMut(&Issuance) -> Result<(), BatchError> + Send);

/// Writes every print file of the batch, in presort order, then records
/// what was printed; returns the files in order. `each` is called for
/// every letter once its file is written, on a thread of its own while the
/// next files are drawn.
pub fn write_print_files(
    run: &PrintRun<'_>,
    ledger: &mut dyn Ledger,
    progress: &dyn Progress,
    each: Option<EachPrinted<'_>>,
) -> Result<Vec<PrintFileEntry>, BatchError> {
    let written = write_and_record(run, ledger, progress, each);
    if written.is_err() {
        // The proofs waiting to be recorded are drawn again by the next
        // run; a failed run leaves no temporary file behind.
        let _ = std::fs::remove_file(PrintedSpill::path_in(run.batch_dir));
    }
    written
}

fn write_and_record(
    run: &PrintRun<'_>,
    ledger: &mut dyn Ledger,
    progress: &dyn Progress,
    each: Option<EachPrinted<'_>>,
) -> Result<Vec<PrintFileEntry>, BatchError> {
    let dir = run.batch_dir.join("print");
    let per_file = run.output.pieces_per_file.max(1);
    let at_once = rayon::current_num_threads().max(1);
    let mut spill = PrintedSpill::create(run.batch_dir)?;
    // The walker has the ledger to itself until the files are written.
    let walking: &mut dyn Ledger = &mut *ledger;
    let files = std::thread::scope(|scope| {
        let (groups, handed) = mpsc::sync_channel::<Vec<Issuance>>(at_once);
        let walker = scope.spawn(move || walk_in_groups(walking, run.batch_id, per_file, groups));
        let mut rows = each.map(|each| EachThread::spawn(scope, each));
        let mut files: Vec<PrintFileEntry> = Vec::new();
        let mut round: Vec<Vec<Issuance>> = Vec::new();
        // On an error `handed` is dropped on return, which stops the walker
        // (and the sender of `each`'s thread, which ends it).
        for group in handed.iter() {
            round.push(group);
            if round.len() == at_once {
                write_round(run, &dir, &mut round, &mut files, &mut spill)?;
                EachThread::hand_on(&mut rows, std::mem::take(&mut round))?;
                // A safe point: the files written stay (each was renamed
                // into place whole) and are drawn again by the next run.
                if progress.stop_requested() {
                    return Err(BatchError::Stopped);
                }
            }
        }
        write_round(run, &dir, &mut round, &mut files, &mut spill)?;
        EachThread::hand_on(&mut rows, round)?;
        walker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        rows.map(EachThread::finish).transpose()?;
        Ok::<_, BatchError>(files)
    })?;
    remove_others(&dir, &files)?;
    sync_dir(&dir).map_err(io_err("cannot flush", &dir))?;
    let recorded = spill.record(ledger, run.batch_id)?;
    tracing::info!(batch = %run.batch_id, files = files.len(), recorded, "print files written");
    Ok(files)
}

/// The thread that calls `each` for the letters of each round of files
/// written, in order, while the next round is drawn.
struct EachThread<'scope> {
    rounds: mpsc::SyncSender<Vec<Vec<Issuance>>>,
    thread: std::thread::ScopedJoinHandle<'scope, Result<(), BatchError>>,
}

impl<'scope> EachThread<'scope> {
    fn spawn<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        each: EachPrinted<'env>,
    ) -> Self {
        // One round waiting: a row is far quicker to write than its letter
        // is to draw.
        let (rounds, handed) = mpsc::sync_channel::<Vec<Vec<Issuance>>>(1);
        let thread = scope.spawn(move || {
            for round in handed {
                round.iter().flatten().try_for_each(&mut *each)?;
            }
            Ok(())
        });
        EachThread { rounds, thread }
    }

    /// Hands a round of written files' letters on, when there is an
    /// `each`; its error when it stopped on one.
    fn hand_on(this: &mut Option<Self>, round: Vec<Vec<Issuance>>) -> Result<(), BatchError> {
        let Some(thread) = this.as_ref() else {
            return Ok(());
        };
        if round.is_empty() || thread.rounds.send(round).is_ok() {
            return Ok(());
        }
        // The thread stopped on an error: that error is the one to report.
        match this.take().map(EachThread::finish) {
            Some(Err(e)) => Err(e),
            _ => unreachable!("the thread of `each` only ends early on an error"),
        }
    }

    /// Waits for `each` to have seen every letter handed on.
    fn finish(self) -> Result<(), BatchError> {
        drop(self.rounds);
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Reads the batch in presort order and sends it on a file's worth of
/// letters at a time.
fn walk_in_groups(
    ledger: &dyn Ledger,
    batch_id: &str,
    per_file: usize,
    groups: mpsc::SyncSender<Vec<Issuance>>,
) -> Result<(), BatchError> {
    // Grown as letters come, never sized from the flag: a file of the
    // batch's last few letters needs no room for a full one.
    let mut group: Vec<Issuance> = Vec::new();
    let sent = ledger.walk_batch(batch_id, |iss| {
        group.push(iss);
        if group.len() >= per_file {
            let full = std::mem::take(&mut group);
            groups.send(full)?;
        }
        Ok::<_, mpsc::SendError<Vec<Issuance>>>(())
    })?;
    if sent.is_err() {
        // The receiver went away: it stopped on an error, which it reports.
        return Ok(());
    }
    if !group.is_empty() {
        // The receiver only goes away on an error, which it reports.
        let _ = groups.send(group);
    }
    Ok(())
}

/// Writes a round of files at once, one file per thread, and notes their
/// letters' digests; each letter's pages are set to those drawn.
fn write_round(
    run: &PrintRun<'_>,
    dir: &Path,
    round: &mut Vec<Vec<Issuance>>,
    files: &mut Vec<PrintFileEntry>,
    spill: &mut PrintedSpill,
) -> Result<(), BatchError> {
    let first = files.len() + 1;
    let written: Vec<(PrintFileEntry, Vec<Printed>)> = round
        .par_iter_mut()
        .enumerate()
        .map(|(i, group)| write_file(run, dir, first + i, group))
        .collect::<Result<_, _>>()?;
    for (entry, printed) in written {
        files.push(entry);
        spill.add(&printed)?;
    }
    Ok(())
}

/// What was printed of a letter, to be recorded.
type Printed = PrintedLetter;

/// Draws a group of letters one after the other and writes them as one
/// print file; returns the file and the proofs its letters need recorded.
fn write_file(
    run: &PrintRun<'_>,
    dir: &Path,
    number: usize,
    group: &mut [Issuance],
) -> Result<(PrintFileEntry, Vec<Printed>), BatchError> {
    let name = print_file_name(run.batch_id, number);
    let meta = PrintFileMeta {
        name: name.clone(),
        author: run.renderer.config.agency.name.clone(),
        date: run.batch_date,
    };
    let mut print = PrintFile::new(&meta);
    let mut pages = 0u64;
    let mut printed = Vec::new();
    for iss in group.iter_mut() {
        let (letter, to_record) = draw_recorded(run, iss)?;
        printed.extend(to_record);
        pages += letter.pages() as u64;
        // What the ledger records for it once the files are on disk.
        iss.issued.pages = u32::try_from(letter.pages()).unwrap_or(u32::MAX);
        print.add(letter);
    }
    let path = dir.join(&name);
    let mut file = HashingWriter {
        inner: AtomicFile::create(&path).map_err(io_err("cannot create", &path))?,
        sha256: Sha256::new(),
    };
    print
        .write(&mut file)
        .map_err(io_err("cannot write", &path))?;
    let sha256 = hex::encode(file.sha256.finalize());
    file.inner.commit().map_err(io_err("cannot write", &path))?;
    let zip = |iss: &Issuance| iss.issued.filing.address.zip5.clone();
    let entry = PrintFileEntry {
        path: format!("print/{name}"),
        pages,
        pieces: group.len() as u64,
        first_zip: group.first().map(zip).unwrap_or_default(),
        last_zip: group.last().map(zip).unwrap_or_default(),
        sha256,
    };
    Ok((entry, printed))
}

/// The proofs of what was printed, waiting in `.printed.tmp` in the batch
/// folder until every print file is on disk (a killed run's file is removed
/// with the other temporary files, and the next run prints again).
struct PrintedSpill {
    path: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl PrintedSpill {
    /// Where a batch's spill file is.
    fn path_in(batch_dir: &Path) -> std::path::PathBuf {
        batch_dir.join(".printed.tmp")
    }

    fn create(batch_dir: &Path) -> Result<Self, BatchError> {
        let path = Self::path_in(batch_dir);
        let file = create_private(&path).map_err(io_err("cannot create", &path))?;
        Ok(PrintedSpill {
            out: std::io::BufWriter::new(file),
            path,
        })
    }

    fn add(&mut self, printed: &[Printed]) -> Result<(), BatchError> {
        for p in printed {
            writeln!(self.out, "{} {} {}", p.piece_id, p.digest, p.pages)
                .map_err(io_err("cannot write", &self.path))?;
        }
        Ok(())
    }

    /// Records every proof in the ledger (one transaction, streamed from
    /// the file), then removes the file. Returns how many were recorded.
    fn record(self, ledger: &mut dyn Ledger, batch_id: &str) -> Result<u64, BatchError> {
        let PrintedSpill { path, out } = self;
        let file = out
            .into_inner()
            .map_err(|e| io_err("cannot write", &path)(e.into_error()))?;
        drop(file);
        let read = std::fs::File::open(&path).map_err(io_err("cannot read", &path))?;
        let mut failure: Option<std::io::Error> = None;
        let mut lines = std::io::BufReader::new(read).lines().map_while(|line| {
            let line = line.map_err(|e| failure = Some(e)).ok()?;
            let parsed = spilled_line(&line);
            if parsed.is_none() {
                failure = Some(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a line is not a piece id, a SHA-256 digest and a page count",
                ));
            }
            parsed
        });
        let recorded = ledger.record_printed(batch_id, &mut lines);
        drop(lines);
        if let Some(e) = failure {
            // Whatever was recorded is true, but not every letter is: the
            // batch is not complete, and a re-run prints it again.
            return Err(io_err("cannot read", &path)(e));
        }
        let recorded = recorded?;
        std::fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
        Ok(recorded)
    }
}

/// A line of the spill file: piece id, content digest and page count.
fn spilled_line(line: &str) -> Option<PrintedLetter> {
    let mut fields = line.split(' ');
    let (piece_id, digest, pages) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    Some(PrintedLetter {
        piece_id: piece_id.to_string(),
        digest: Sha256Hex::parse(digest).ok()?,
        pages: pages.parse().ok().filter(|&n| n > 0)?,
    })
}

/// Passes bytes on and hashes them, so a file's SHA-256 needs no second read.
struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Draws a recorded letter; one already printed before (a print file written
/// again) is checked to be the same, and one not printed yet comes with the
/// proof of its print, to be recorded.
fn draw_recorded(
    run: &PrintRun<'_>,
    iss: &Issuance,
) -> Result<(PrintLetter, Option<Printed>), BatchError> {
    let issued = &iss.issued;
    let differs = |why: String| BatchError::PrintDiffers {
        batch_id: run.batch_id.to_string(),
        piece_id: issued.piece_id.clone(),
        why,
    };
    let Some(key) = run.keys.get(&issued.key_id) else {
        return Err(differs(format!(
            "it was made with key {}, which is not loaded",
            issued.key_id
        )));
    };
    let ctx = IssueContext::recorded(issued, key, run.renderer);
    let drawn = draw_for_print(&ctx, &Planned::recorded(issued))?;
    let to_record = match &issued.proof {
        LetterProof::Printed(recorded)
            if *recorded != drawn.digest && !printed_before(&ctx, issued, recorded) =>
        {
            return Err(differs(
                "drawn again, its content differs from what the ledger recorded".into(),
            ));
        }
        // Its pages are counted now, as it is drawn (`NewIssuance::pages`).
        LetterProof::NotYetPrinted => Some(PrintedLetter {
            piece_id: issued.piece_id.clone(),
            digest: drawn.digest.clone(),
            pages: drawn.pages.len() as u32,
        }),
        LetterProof::Printed(_) | LetterProof::File(_) => None,
    };
    if to_record.is_none() && drawn.pages.len() as u32 != issued.pages {
        return Err(differs(format!(
            "drawn again it has {} pages, the ledger recorded {}",
            drawn.pages.len(),
            issued.pages
        )));
    }
    Ok((PrintLetter::new(drawn), to_record))
}

/// Whether `recorded` is the digest an earlier version recorded for this
/// letter (version 1, see `print::digest_v1_of_letter_pdf`): a batch
/// printed before print forms whose files are written again now. The
/// letter is the same; its new print file draws it with forms, and the
/// recorded proof still proves a reprint (`print::compare_rebuilt`).
fn printed_before(ctx: &IssueContext<'_>, issued: &NewIssuance, recorded: &Sha256Hex) -> bool {
    issue_as_before(ctx, &Planned::recorded(issued))
        .ok()
        .and_then(|before| digest_v1_of_letter_pdf(&before.bytes).ok())
        .is_some_and(|v1| v1 == *recorded)
}

/// Removes print files this run did not write (left by a run with another
/// `--pieces-per-file`), so the folder holds exactly the listed files.
fn remove_others(dir: &Path, files: &[PrintFileEntry]) -> Result<(), BatchError> {
    let keep: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.path.strip_prefix("print/").map(str::to_string))
        .collect();
    for entry in std::fs::read_dir(dir).map_err(io_err("cannot read", dir))? {
        let path = entry.map_err(io_err("cannot read", dir))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let is_pdf = path.extension().is_some_and(|e| e == "pdf");
        if is_pdf && name.is_some_and(|n| !keep.contains(&n)) {
            std::fs::remove_file(&path).map_err(io_err("cannot remove", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::manifest_rows::tests::{
        bytes_and_totals, ledger_issued_for_print, rows, BATCH,
    };
    use crate::batch::manifest_rows::{add_all, ISSUANCES_PER_HANDOFF};
    use crate::batch::NoProgress;
    use crate::config::Config;
    use crate::key::{Key, KeyRing};
    use crate::letter::Templates;
    use crate::manifest::OutputMode;

    /// The manifest rows made as the print files are drawn are, byte for
    /// byte and in every total, those a walk of the ledger makes once the
    /// proofs (and so the pages) are recorded: the rows the batch made
    /// from the ledger before print files made them.
    #[test]
    fn manifest_rows_made_with_the_print_files_are_those_of_the_ledger_after() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let keys = KeyRing::single(Key::load(&root.join("fixtures/test.key")).expect("a key"));
        let renderer = Renderer::new(Templates::builtin(), Config::default_config());
        let mail = Config::default_config().mail;
        let dir = tempfile::tempdir().expect("tempdir");
        let output = OutputChoice {
            mode: OutputMode::Print,
            pieces_per_file: 4,
        };
        let run = PrintRun {
            batch_id: BATCH,
            batch_dir: dir.path(),
            batch_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date"),
            keys: &keys,
            renderer: &renderer,
            output,
        };
        std::fs::create_dir(dir.path().join("print")).expect("print folder");
        let mut ledger = ledger_issued_for_print();
        let mut made = rows(&mail, output);
        let files = write_print_files(
            &run,
            &mut ledger,
            &NoProgress,
            Some(&mut |iss: &Issuance| made.add(iss)),
        )
        .expect("printed");
        let made = bytes_and_totals(made);
        assert_eq!(files.len(), 3, "11 letters, 4 a file");
        assert_eq!(made.1, files.iter().map(|f| f.pages).sum::<u64>());
        assert!(
            made.0.contains(&format!("print/{BATCH}-003.pdf")),
            "{}",
            made.0
        );
        let walked =
            add_all(&ledger, BATCH, rows(&mail, output), ISSUANCES_PER_HANDOFF).expect("walked");
        assert_eq!(made, bytes_and_totals(walked));
    }

    #[test]
    fn a_spilled_line_is_a_piece_a_digest_and_a_page_count() {
        let digest = "ab".repeat(32);
        let line = format!("IOE0934567812-01 {digest} 2");
        let read = spilled_line(&line).expect("a whole line");
        assert_eq!(read.piece_id, "IOE0934567812-01");
        assert_eq!(read.digest.as_str(), digest);
        assert_eq!(read.pages, 2);
        for bad in [
            format!("IOE0934567812-01 {digest}"),
            format!("IOE0934567812-01 {digest} 0"),
            format!("IOE0934567812-01 {digest} two"),
            format!("IOE0934567812-01 {digest} 2 more"),
            "IOE0934567812-01 not-a-digest 2".to_string(),
        ] {
            assert!(spilled_line(&bad).is_none(), "{bad}");
        }
    }
}
