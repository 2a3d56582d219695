//! Print files: once every letter of the batch is in the ledger, the
//! letters are drawn again in presort order (the ledger's index walks the
//! batch by ZIP, ZIP+4, receipt) and written `pieces_per_file` at a time into
//! `print/<batch>-NNN.pdf` (see [`crate::print`]).
//!
//! Memory holds one file's letters, never the batch. Each file is written
//! under a temporary name, flushed and renamed, so a file that exists is
//! complete; a killed run's temporary files are removed when the batch is
//! run again, and every print file is then written again: a letter is a pure
//! function of what the ledger recorded, so the bytes are the same, and each
//! letter's content digest is checked against the one recorded when it was
//! issued before its file is written. Files left from an earlier run that
//! this run does not write (another `--pieces-per-file`) are removed.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::error::io_err;
use super::plan::Checked;
use super::{BatchError, OutputChoice};
use crate::issue::{redraw_printed, IssueContext, Planned};
use crate::key::KeyRing;
use crate::ledger::{Issuance, Ledger, LedgerError};
use crate::manifest::PrintFileEntry;
use crate::output::{sync_dir, AtomicFile};
use crate::print::{PrintFile, PrintFileMeta, PrintLetter, RecordedProof};
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

/// Writes every print file of the batch, in presort order; returns them in
/// order.
pub fn write_print_files(
    run: &PrintRun<'_>,
    ledger: &dyn Ledger,
) -> Result<Vec<PrintFileEntry>, BatchError> {
    let dir = run.batch_dir.join("print");
    let per_file = run.output.pieces_per_file.max(1);
    let mut group: Vec<Issuance> = Vec::with_capacity(per_file);
    let mut files: Vec<PrintFileEntry> = Vec::new();
    let mut failure: Option<BatchError> = None;
    let walked = ledger.for_each_in_batch(run.batch_id, &mut |iss| {
        group.push(iss);
        if group.len() >= per_file {
            match write_file(run, &dir, files.len() + 1, &group) {
                Ok(entry) => files.push(entry),
                Err(e) => {
                    failure = Some(e);
                    return Err(LedgerError::Consumer("print files stopped".into()));
                }
            }
            group.clear();
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    walked?;
    if !group.is_empty() {
        files.push(write_file(run, &dir, files.len() + 1, &group)?);
    }
    remove_others(&dir, &files)?;
    sync_dir(&dir).map_err(io_err("cannot flush", &dir))?;
    tracing::info!(batch = %run.batch_id, files = files.len(), "print files written");
    Ok(files)
}

/// Letters drawn in parallel at a time while a print file is assembled: a
/// few per thread, so the drawing never holds a whole file.
const DRAWN_AT_A_TIME: usize = 64;

/// Draws a group of letters, a few at a time in parallel, and writes them
/// as one print file.
fn write_file(
    run: &PrintRun<'_>,
    dir: &Path,
    number: usize,
    group: &[Issuance],
) -> Result<PrintFileEntry, BatchError> {
    let name = print_file_name(run.batch_id, number);
    let meta = PrintFileMeta {
        name: name.clone(),
        author: run.renderer.config.agency.name.clone(),
        date: run.batch_date,
    };
    let mut print = PrintFile::new(&meta);
    let mut pages = 0u64;
    for part in group.chunks(DRAWN_AT_A_TIME) {
        let letters: Vec<PrintLetter> = part
            .par_iter()
            .map(|iss| draw_recorded(run, iss))
            .collect::<Result<_, _>>()?;
        for letter in letters {
            pages += letter.pages() as u64;
            print.add(letter);
        }
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
    Ok(PrintFileEntry {
        path: format!("print/{name}"),
        pages,
        pieces: group.len() as u64,
        first_zip: group.first().map(zip).unwrap_or_default(),
        last_zip: group.last().map(zip).unwrap_or_default(),
        sha256,
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

/// Draws a recorded letter again and checks it is the one recorded.
fn draw_recorded(run: &PrintRun<'_>, iss: &Issuance) -> Result<PrintLetter, BatchError> {
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
    let drawn = redraw_printed(&ctx, &Planned::recorded(issued))?;
    if let RecordedProof::ContentDigest(recorded) = RecordedProof::of(&issued.letter_sha256) {
        if recorded != drawn.digest {
            return Err(differs(
                "drawn again, its content differs from what the ledger recorded".into(),
            ));
        }
    }
    if drawn.pages.len() as u32 != issued.pages {
        return Err(differs(format!(
            "drawn again it has {} pages, the ledger recorded {}",
            drawn.pages.len(),
            issued.pages
        )));
    }
    Ok(PrintLetter::new(drawn))
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
