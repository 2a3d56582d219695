//! The nightly batch: every input row issued, skipped as already issued, or
//! rejected, with the letters, manifest and control totals to prove it.
//!
//! # Exactly once, across crashes
//!
//! The batch id is the batch date plus a hash of the input file, so running
//! the same file again continues the same batch. Rows are processed in
//! chunks; for each chunk the letters are rendered in parallel, written under
//! temporary names and renamed into place, flushed to disk, and only then are
//! the chunk's ledger rows committed in one transaction. So:
//!
//! * a ledger row always has its letter on disk;
//! * a letter without a ledger row (killed between the two) is simply made
//!   again on the next run, with the same bytes, because a letter is a pure
//!   function of its inputs;
//! * a filing whose receipt already has an active issuance is not issued
//!   again: in this batch it counts as issued (a resumed run), in an earlier
//!   batch as already issued.
//!
//! `manifest.csv`, `rejects.csv` and finally `batch.json` are written from the
//! ledger once every chunk is committed; `batch.json` existing means the batch
//! is complete, and running it again changes nothing.
//!
//! Before any of that, a first pass reads the whole input through intake, so
//! a malformed file fails before anything is written. A filing whose address
//! does not fit the configured envelope window (intake checks the same
//! window, so this is a safety net) is rejected when its letter is laid out, like any bad row;
//! every other rendering failure stops the run.
//!
//! Memory is bounded by the chunk size, not the number of rows: rows stream
//! in, letters stream out, and the manifest is sorted by the ledger's index.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::filing::{Filing, ReceiptNumber, Reject};
use crate::intake::{Intake, IntakeError, Outcome};
use crate::issue::{
    barcode, barcode_columns, issue, next_serial, serial_modulus, IssueContext, IssueError, Planned,
};
use crate::key::KeyRing;
use crate::layout::{window_fit, LayoutError};
use crate::ledger::{BatchKind, BatchRecord, Ledger, LedgerError, NewIssuance};
use crate::letter::NoticeDates;
use crate::manifest::{
    letter_file, BatchSummary, Counts, FileEntry, ManifestRow, ManifestWriter, Presort,
    RejectsWriter,
};
use crate::output::{create_private_dir, remove_stray_temps, sync_dir, write_atomic, AtomicFile};
use crate::pdf::{sha256_hex, RenderedLetter};
use crate::render::RenderError;
use crate::render::Renderer;

/// Valid filings per chunk: the unit of parallel rendering and of a ledger
/// transaction. Large enough to keep both cores busy, small enough that
/// memory stays a few megabytes.
pub const DEFAULT_CHUNK_SIZE: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    Envelope(#[from] LayoutError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("batch {batch_id} was started with key {ledger_key} but this run uses key {run_key}; run it with the same key")]
    KeyMismatch {
        batch_id: String,
        ledger_key: String,
        run_key: String,
    },
    #[error("control totals do not add up for batch {batch_id}: {detail}; the batch was not marked complete")]
    Totals { batch_id: String, detail: String },
    #[error("cannot write {what}: {message}")]
    Write { what: String, message: String },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> BatchError + 'a {
    move |source| BatchError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

fn csv_err(what: &str) -> impl FnOnce(csv::Error) -> BatchError + '_ {
    move |e| BatchError::Write {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Receives progress as letters are made.
pub trait Progress: Sync {
    /// `total` valid filings will be planned.
    fn start(&self, total: u64);
    /// `n` more filings are done (issued or skipped).
    fn advance(&self, n: u64);
    fn finish(&self);
}

/// Progress that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// What a run needs.
pub struct RunInputs<'a> {
    pub input: &'a Path,
    pub batch_date: NaiveDate,
    /// Folder that holds batch folders (`output/`).
    pub out_root: &'a Path,
    pub keys: &'a KeyRing,
    pub renderer: &'a Renderer,
    pub chunk_size: usize,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub batch_id: String,
    pub batch_dir: PathBuf,
    pub counts: Counts,
    /// Letters this invocation made (the rest of `counts.issued` were made
    /// by an earlier, interrupted run of the same batch).
    pub issued_now: u64,
    pub pages: u64,
    /// The batch was already complete: nothing was done.
    pub already_complete: bool,
    /// Temporary files left by a killed run and removed.
    pub stray_removed: usize,
    pub test_mode: bool,
}

/// Hex SHA-256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String, BatchError> {
    let mut f = File::open(path).map_err(io_err("cannot open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_err("cannot read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// `YYYY-MM-DD-xxxxxx`: the batch date and the start of the input's hash.
pub fn batch_id(batch_date: NaiveDate, input_sha256: &str) -> String {
    format!("{}-{}", batch_date.format("%Y-%m-%d"), &input_sha256[..6])
}

fn summary_path(batch_dir: &Path) -> PathBuf {
    batch_dir.join("batch.json")
}

/// Runs (or resumes, or confirms) the batch for `inputs.input`.
pub fn run(
    inputs: &RunInputs<'_>,
    ledger: &mut dyn Ledger,
    progress: &dyn Progress,
) -> Result<RunReport, BatchError> {
    let key = inputs.keys.current();
    let input_sha256 = file_sha256(inputs.input)?;
    let id = batch_id(inputs.batch_date, &input_sha256);
    let batch_dir = inputs.out_root.join(&id);

    // First pass: the whole file must be readable before anything is written.
    let fit = window_fit(&inputs.renderer.config.envelope)?;
    let mut prepass = Intake::open(inputs.input, inputs.batch_date, fit)?;
    for outcome in prepass.by_ref() {
        outcome?;
    }
    let total_valid = prepass.valid();
    drop(prepass);

    if let Some((record, Some(summary_json))) = ledger.batch(&id)? {
        if summary_path(&batch_dir).exists() {
            let summary: BatchSummary =
                serde_json::from_str(&summary_json).map_err(|e| BatchError::Write {
                    what: "batch summary".into(),
                    message: e.to_string(),
                })?;
            return Ok(RunReport {
                batch_id: id,
                batch_dir,
                counts: summary.counts,
                issued_now: 0,
                pages: summary.pages,
                already_complete: true,
                stray_removed: 0,
                test_mode: record.is_test,
            });
        }
    }

    let letters_dir = batch_dir.join("letters");
    create_private_dir(&letters_dir).map_err(io_err("cannot create", &letters_dir))?;
    let stray_removed = remove_stray_temps(&batch_dir)
        .map_err(io_err("cannot clean", &batch_dir))?
        + remove_stray_temps(&letters_dir).map_err(io_err("cannot clean", &letters_dir))?;

    let record = BatchRecord {
        batch_id: id.clone(),
        batch_date: inputs.batch_date,
        key_id: key.id().to_string(),
        is_test: key.is_test(),
        input_sha256: input_sha256.clone(),
        kind: BatchKind::Nightly,
    };
    if let Some((existing, _)) = ledger.batch(&id)? {
        if existing.key_id != record.key_id {
            return Err(BatchError::KeyMismatch {
                batch_id: id,
                ledger_key: existing.key_id,
                run_key: record.key_id,
            });
        }
    }
    ledger.start_batch(&record)?;
    tracing::info!(
        batch = %id,
        key = %record.key_id,
        test = record.is_test,
        valid = total_valid,
        stray_removed,
        "batch started"
    );

    let renderer = inputs.renderer;
    let ctx = IssueContext {
        key,
        renderer,
        batch_id: &id,
        dates: NoticeDates::new(inputs.batch_date, renderer.config.codes.valid_days),
    };
    let mailer_id = renderer.config.mail.mailer_id().map(str::to_string);
    let mut next_serial = next_serial(&renderer.config.mail, ledger)?;

    let rejects_path = batch_dir.join("rejects.csv");
    let rejects_file =
        AtomicFile::create(&rejects_path).map_err(io_err("cannot create", &rejects_path))?;
    let mut rejects = RejectsWriter::new(rejects_file).map_err(csv_err("rejects.csv"))?;

    progress.start(total_valid);
    let mut counts = Counts::default();
    let mut issued_now = 0u64;
    let mut intake = Intake::open(inputs.input, inputs.batch_date, fit)?;
    let chunk_size = inputs.chunk_size.max(1);
    let mut chunk: Vec<Filing> = Vec::with_capacity(chunk_size);
    // Rows rendered and written but not yet committed (see `process_chunk`).
    let mut pending: Vec<NewIssuance> = Vec::new();
    loop {
        let next = intake.next().transpose()?;
        let at_end = next.is_none();
        match next {
            Some(Outcome::Rejected(r)) => {
                counts.rejected += 1;
                rejects.write(&r).map_err(csv_err("rejects.csv"))?;
                continue;
            }
            Some(Outcome::Valid(f)) => {
                chunk.push(f);
                if chunk.len() < chunk_size {
                    continue;
                }
            }
            None => {}
        }
        if !chunk.is_empty() {
            let (outcome, rows, late_rejects) = process_chunk(
                &ctx,
                ledger,
                &letters_dir,
                &chunk,
                std::mem::take(&mut pending),
                &mut next_serial,
                mailer_id.as_deref(),
            )?;
            pending = rows;
            for r in &late_rejects {
                rejects.write(r).map_err(csv_err("rejects.csv"))?;
            }
            counts.rejected += late_rejects.len() as u64;
            counts.issued += outcome.issued;
            counts.already_issued += outcome.already_issued;
            issued_now += outcome.issued_now;
            progress.advance(chunk.len() as u64);
            chunk.clear();
        }
        if at_end {
            break;
        }
    }
    commit_chunk(ledger, &letters_dir, &pending)?;
    counts.read = intake.read();
    drop(intake);
    progress.finish();
    rejects
        .finish()
        .map_err(io_err("cannot write", &rejects_path))?
        .commit()
        .map_err(io_err("cannot write", &rejects_path))?;

    finish_batch(
        &record,
        inputs.input,
        counts,
        issued_now,
        stray_removed,
        &batch_dir,
        ledger,
        renderer,
    )
}

struct ChunkOutcome {
    issued: u64,
    already_issued: u64,
    issued_now: u64,
}

/// Decides, for each filing of a chunk, whether it is issued here, was
/// issued by an earlier (interrupted) run of this batch, or was issued by an
/// earlier batch; and gives the new ones their issue and serial numbers.
fn plan_chunk(
    ctx: &IssueContext<'_>,
    ledger: &dyn Ledger,
    chunk: &[Filing],
    next_serial: &mut Option<u64>,
    mailer_id: Option<&str>,
) -> Result<(ChunkOutcome, Vec<Planned>), BatchError> {
    let receipts: Vec<ReceiptNumber> = chunk.iter().map(|f| f.receipt.clone()).collect();
    let states = ledger.receipt_states(&receipts)?;
    let mut out = ChunkOutcome {
        issued: 0,
        already_issued: 0,
        issued_now: 0,
    };
    let mut planned = Vec::new();
    for filing in chunk {
        match states.get(&filing.receipt) {
            Some(state)
                if state
                    .active
                    .as_ref()
                    .is_some_and(|a| a.batch_id == ctx.batch_id) =>
            {
                out.issued += 1
            }
            Some(state) if state.active.is_some() => out.already_issued += 1,
            state => {
                let serial = next_serial.inspect(|s| {
                    let m = serial_modulus(mailer_id.unwrap_or_default());
                    *next_serial = Some((s + 1) % m);
                });
                planned.push(Planned {
                    filing: filing.clone(),
                    issue_no: state.map_or(0, |s| s.max_issue_no) + 1,
                    serial,
                });
            }
        }
    }
    out.issued += planned.len() as u64;
    out.issued_now += planned.len() as u64;
    Ok((out, planned))
}

/// One planned filing after rendering.
// `Letter` is the common case; boxing it would cost an allocation per letter.
#[allow(clippy::large_enum_variant)]
enum Rendered {
    /// The letter is on disk; the row still has to be committed.
    Letter(NewIssuance),
    /// The filing's address does not fit the configured envelope window: the
    /// row is rejected like any other bad row instead of stopping the night.
    Rejected(Reject),
}

/// Turns a row-specific rendering failure into a reject; anything else
/// (templates, disk) stays an error that stops the run.
fn reject_for(error: &IssueError) -> Option<Reject> {
    match error {
        IssueError::Render {
            line,
            receipt,
            source: RenderError::Layout(LayoutError::AddressTooBig(why)),
        } => Some(Reject {
            line: *line,
            receipt_number: Some(receipt.clone()),
            field: "address".into(),
            reason: format!("the address does not fit the envelope window: {why}"),
        }),
        _ => None,
    }
}

/// Renders and writes a chunk's letters in parallel; results come back in
/// input order, not yet in the ledger.
fn render_chunk(
    ctx: &IssueContext<'_>,
    letters_dir: &Path,
    planned: &[Planned],
) -> Result<Vec<Rendered>, BatchError> {
    planned
        .par_iter()
        .map(|p| {
            let (row, letter) = match issue(ctx, p) {
                Ok(done) => done,
                Err(e) => return reject_for(&e).map(Rendered::Rejected).ok_or(e.into()),
            };
            let path = letters_dir.join(format!("{}.pdf", row.piece_id));
            write_atomic(&path, &letter.bytes, false).map_err(io_err("cannot write", &path))?;
            Ok(Rendered::Letter(row))
        })
        .collect()
}

/// Makes a chunk's letters durable, then records them: the letters must be
/// on disk before the ledger says they exist.
fn commit_chunk(
    ledger: &mut dyn Ledger,
    letters_dir: &Path,
    rows: &[NewIssuance],
) -> Result<(), BatchError> {
    if rows.is_empty() {
        return Ok(());
    }
    sync_dir(letters_dir).map_err(io_err("cannot flush", letters_dir))?;
    ledger.record(rows)?;
    tracing::debug!(letters = rows.len(), first = %rows[0].piece_id, "chunk committed");
    Ok(())
}

/// Plans and renders `chunk` while the previous chunk's rows (`pending`) are
/// flushed and committed on another thread, so the disk and the ledger do not
/// leave a core idle. Returns this chunk's rows, still to be committed.
#[allow(clippy::too_many_arguments)]
fn process_chunk(
    ctx: &IssueContext<'_>,
    ledger: &mut dyn Ledger,
    letters_dir: &Path,
    chunk: &[Filing],
    pending: Vec<NewIssuance>,
    next_serial: &mut Option<u64>,
    mailer_id: Option<&str>,
) -> Result<(ChunkOutcome, Vec<NewIssuance>, Vec<Reject>), BatchError> {
    // Planning reads the ledger before the commit thread borrows it. The
    // pending rows belong to other receipts (a file names each receipt once),
    // so their commit cannot change this plan.
    let (outcome, planned) = plan_chunk(ctx, ledger, chunk, next_serial, mailer_id)?;
    let (committed, rendered) = std::thread::scope(|scope| {
        let committer = scope.spawn(|| commit_chunk(ledger, letters_dir, &pending));
        let rendered = render_chunk(ctx, letters_dir, &planned);
        let committed = committer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (committed, rendered)
    });
    committed?;
    let mut outcome = outcome;
    let mut rows = Vec::with_capacity(planned.len());
    let mut rejects = Vec::new();
    for r in rendered? {
        match r {
            Rendered::Letter(row) => rows.push(row),
            Rendered::Rejected(reject) => {
                outcome.issued -= 1;
                outcome.issued_now -= 1;
                rejects.push(reject);
            }
        }
    }
    Ok((outcome, rows, rejects))
}

/// Writes manifest.csv from the ledger in presort order, then batch.json.
#[allow(clippy::too_many_arguments)]
fn finish_batch(
    record: &BatchRecord,
    input: &Path,
    counts: Counts,
    issued_now: u64,
    stray_removed: usize,
    batch_dir: &Path,
    ledger: &mut dyn Ledger,
    renderer: &Renderer,
) -> Result<RunReport, BatchError> {
    let id = &record.batch_id;
    let in_ledger = ledger.count_in_batch(id)?;
    if !counts.add_up() || in_ledger != counts.issued {
        return Err(BatchError::Totals {
            batch_id: id.clone(),
            detail: format!(
                "read {} but issued {} + already issued {} + rejected {}; the ledger holds {} letters for the batch",
                counts.read, counts.issued, counts.already_issued, counts.rejected, in_ledger
            ),
        });
    }
    let input_file = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let summary = complete(record, &input_file, counts, batch_dir, ledger, renderer)?;
    let pages = summary.pages;
    tracing::info!(batch = %id, letters = in_ledger, pages, "batch complete");
    Ok(RunReport {
        batch_id: id.clone(),
        batch_dir: batch_dir.to_path_buf(),
        counts,
        issued_now,
        pages,
        already_complete: false,
        stray_removed,
        test_mode: record.is_test,
    })
}

/// What `batch.json` needs from the manifest pass.
pub struct ManifestTotals {
    /// The manifest's and rejects' entries; letters are streamed later.
    pub files: Vec<FileEntry>,
    pub pages: u64,
    pub sheets: u64,
    pub presort: Presort,
}

/// Closes a batch whose letters are all in the ledger: writes the manifest,
/// then `batch.json`, then marks the batch complete in the ledger. Used by
/// the nightly run and by `reissue` (a batch of one letter).
pub fn complete(
    record: &BatchRecord,
    input_file: &str,
    counts: Counts,
    batch_dir: &Path,
    ledger: &mut dyn Ledger,
    renderer: &Renderer,
) -> Result<BatchSummary, BatchError> {
    let letters = ledger.count_in_batch(&record.batch_id)?;
    let totals = write_manifest(record, batch_dir, ledger, renderer)?;
    let summary = BatchSummary {
        batch_id: record.batch_id.clone(),
        batch_date: record.batch_date.format("%Y-%m-%d").to_string(),
        kind: record.kind.as_str().to_string(),
        key_id: record.key_id.clone(),
        mode: if record.is_test { "test" } else { "production" }.to_string(),
        program_version: env!("CARGO_PKG_VERSION").to_string(),
        input_file: input_file.to_string(),
        input_sha256: record.input_sha256.clone(),
        counts,
        letters,
        pages: totals.pages,
        sheets: totals.sheets,
        presort: totals.presort,
        files: totals.files,
    };
    write_summary(batch_dir, &summary, ledger)?;
    let json = serde_json::to_string(&summary).expect("a summary serialises");
    ledger.complete_batch(&record.batch_id, &json)?;
    Ok(summary)
}

/// Writes `manifest.csv` for every letter of the batch, in presort order,
/// and returns the manifest's and rejects' entries for `batch.json` (the
/// letters' entries are streamed by [`write_summary`]), the page total and
/// the presort counts.
pub fn write_manifest(
    record: &BatchRecord,
    batch_dir: &Path,
    ledger: &dyn Ledger,
    renderer: &Renderer,
) -> Result<ManifestTotals, BatchError> {
    let manifest_path = batch_dir.join("manifest.csv");
    let file =
        AtomicFile::create(&manifest_path).map_err(io_err("cannot create", &manifest_path))?;
    let mut manifest = ManifestWriter::new(file).map_err(csv_err("manifest.csv"))?;
    let mut pages = 0u64;
    let mut sheets = 0u64;
    let mut presort = Presort::default();
    let mut seq = 0u64;
    let mut failure: Option<BatchError> = None;
    let mail = &renderer.config.mail;
    ledger.for_each_in_batch(&record.batch_id, &mut |iss| {
        seq += 1;
        let barcode = match barcode(mail, iss.imb_serial, &iss.filing) {
            Ok(b) => b,
            Err(source) => {
                failure.get_or_insert(BatchError::Issue(IssueError::Barcode {
                    receipt: iss.receipt.to_string(),
                    source,
                }));
                None
            }
        };
        let row = ManifestRow::from_issuance(
            seq,
            &iss,
            &mail.mail_class,
            barcode_columns(barcode.as_ref()),
        );
        if let Err(e) = manifest.write(&row) {
            failure.get_or_insert(BatchError::Write {
                what: "manifest.csv".into(),
                message: e.to_string(),
            });
        }
        pages += u64::from(row.pages);
        sheets += u64::from(row.sheets);
        presort.add(&iss.filing.address.zip5);
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    manifest
        .finish()
        .map_err(io_err("cannot write", &manifest_path))?
        .commit()
        .map_err(io_err("cannot write", &manifest_path))?;
    let mut files = vec![FileEntry {
        path: "manifest.csv".into(),
        sha256: file_sha256(&manifest_path)?,
    }];
    let rejects_path = batch_dir.join("rejects.csv");
    if rejects_path.exists() {
        files.push(FileEntry {
            path: "rejects.csv".into(),
            sha256: file_sha256(&rejects_path)?,
        });
    }
    Ok(ManifestTotals {
        files,
        pages,
        sheets,
        presort,
    })
}

/// Writes `batch.json`, last, atomically: the summary, then the list of
/// files (`summary.files`, then every letter of the batch in manifest
/// order, streamed from the ledger).
pub fn write_summary(
    batch_dir: &Path,
    summary: &BatchSummary,
    ledger: &dyn Ledger,
) -> Result<(), BatchError> {
    let path = summary_path(batch_dir);
    let head = serde_json::to_string_pretty(summary).expect("a summary serialises");
    // `head` ends with the closing brace of the object; the files go before it.
    let head = head.strip_suffix('}').expect("a JSON object").trim_end();
    let mut out = AtomicFile::create(&path).map_err(io_err("cannot create", &path))?;
    let mut text = format!("{head},\n  \"files\": [");
    let mut first = true;
    let mut entry = |e: &FileEntry, text: &mut String| {
        text.push_str(if first { "\n    " } else { ",\n    " });
        first = false;
        text.push_str(&serde_json::to_string(e).expect("a file entry serialises"));
    };
    for e in &summary.files {
        entry(e, &mut text);
    }
    let mut failure = None;
    ledger.for_each_in_batch(&summary.batch_id, &mut |iss| {
        let e = FileEntry {
            path: letter_file(&iss.piece_id),
            sha256: iss.letter_sha256,
        };
        entry(&e, &mut text);
        if text.len() > 64 * 1024 {
            if let Err(err) = out.write_all(text.as_bytes()) {
                failure.get_or_insert(err);
            }
            text.clear();
        }
        Ok(())
    })?;
    text.push_str("\n  ]\n}\n");
    if let Some(err) = failure {
        return Err(BatchError::Io {
            action: "cannot write",
            path: path.display().to_string(),
            source: err,
        });
    }
    out.write_all(text.as_bytes())
        .map_err(io_err("cannot write", &path))?;
    out.commit().map_err(io_err("cannot write", &path))?;
    sync_dir(batch_dir).map_err(io_err("cannot flush", batch_dir))
}

/// Writes one letter durably (used by reissue and reprint).
pub fn write_letter(path: &Path, letter: &RenderedLetter) -> Result<(), BatchError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(io_err("cannot create", dir))?;
    }
    write_atomic(path, &letter.bytes, true).map_err(io_err("cannot write", path))?;
    debug_assert_eq!(sha256_hex(&letter.bytes), letter.sha256);
    Ok(())
}
