//! Verify: before a batch is called complete, every letter the ledger lists
//! for it is on disk, under this output folder, with the SHA-256 the ledger
//! recorded.
//!
//! A ledger row proves a letter was written once, not that it is still
//! there: the run may be pointed at another `--out`, or letters may have
//! been deleted or damaged since. A missing or different letter is made
//! again from the filing the ledger keeps (a letter is a pure function of
//! its inputs, so the bytes are the same) and checked against the recorded
//! SHA-256 before it is written. A letter that cannot be made with those
//! bytes (its key is not loaded, the templates or configuration changed)
//! stops the batch with its file named; nothing is written over it.

use std::path::Path;

use rayon::prelude::*;

use super::error::{io_err, name_files, FILES_NAMED_MAX};
use super::plan::Checked;
use super::render::letter_path;
use super::BatchError;
use crate::issue::{issue, IssueContext, Planned};
use crate::key::KeyRing;
use crate::ledger::{Issuance, Ledger};
use crate::ledger::{LetterProof, Sha256Hex};
use crate::manifest::letter_file;
use crate::output::{sync_dir, write_atomic, Flush};
use crate::render::Renderer;

/// What checking (and re-making) a batch's letters needs.
pub struct LetterCheck<'a> {
    pub batch_id: &'a str,
    pub batch_dir: &'a Path,
    pub keys: &'a KeyRing,
    pub renderer: &'a Renderer,
    /// Letters checked in parallel at a time.
    pub chunk_size: usize,
}

impl Checked<'_> {
    /// The letter check for this input's batch in `batch_dir`.
    pub fn letter_check<'b>(&'b self, batch_dir: &'b Path) -> LetterCheck<'b> {
        LetterCheck {
            batch_id: &self.batch_id,
            batch_dir,
            keys: self.inputs.keys,
            renderer: self.inputs.renderer,
            chunk_size: self.inputs.chunk_size.max(1),
        }
    }
}

/// One letter after checking.
enum LetterState {
    Good,
    Remade,
    /// Cannot be made with the recorded bytes; says why.
    Lost(String),
}

/// Checks every letter of the batch and re-makes the missing or changed
/// ones. Returns how many were re-made; fails, naming the files, if any
/// cannot be made with the bytes the ledger recorded.
pub fn ensure_letters(check: &LetterCheck<'_>, ledger: &dyn Ledger) -> Result<u64, BatchError> {
    let letters_dir = check.batch_dir.join("letters");
    let mut remade = 0u64;
    let mut lost: Vec<String> = Vec::new();
    let mut lost_count = 0u64;
    let mut chunk: Vec<Issuance> = Vec::new();
    let mut flush = |chunk: &mut Vec<Issuance>| -> Result<(), BatchError> {
        let results: Vec<LetterState> = chunk
            .par_iter()
            .map(|iss| check_one(check, &letters_dir, iss))
            .collect::<Result<_, _>>()?;
        let mut remade_here = 0;
        for (iss, r) in chunk.iter().zip(results) {
            match r {
                LetterState::Good => {}
                LetterState::Remade => remade_here += 1,
                LetterState::Lost(why) => {
                    lost_count += 1;
                    if lost.len() < FILES_NAMED_MAX {
                        lost.push(format!("{}: {why}", letter_file(&iss.issued.piece_id)));
                    }
                }
            }
        }
        if remade_here > 0 {
            sync_dir(&letters_dir).map_err(io_err("cannot flush", &letters_dir))?;
        }
        remade += remade_here;
        chunk.clear();
        Ok(())
    };
    ledger.walk_batch(check.batch_id, |iss| {
        chunk.push(iss);
        if chunk.len() >= check.chunk_size {
            flush(&mut chunk)?;
        }
        Ok::<_, BatchError>(())
    })??;
    flush(&mut chunk)?;
    if lost_count > 0 {
        return Err(BatchError::LettersMissing {
            batch_id: check.batch_id.to_string(),
            batch_dir: check.batch_dir.display().to_string(),
            count: lost_count,
            files: name_files(&lost, lost_count),
        });
    }
    if remade > 0 {
        tracing::warn!(batch = %check.batch_id, remade, "letters missing or changed on disk were made again");
    }
    Ok(remade)
}

/// Checks one letter; re-makes it when it is missing or differs.
fn check_one(
    check: &LetterCheck<'_>,
    letters_dir: &Path,
    iss: &Issuance,
) -> Result<LetterState, BatchError> {
    let LetterProof::File(recorded) = &iss.issued.proof else {
        return Ok(LetterState::Lost(
            "printed in a print file, it has no letter file of its own (the batch was written as print files)".into(),
        ));
    };
    let path = letter_path(letters_dir, &iss.issued.piece_id);
    match std::fs::read(&path) {
        Ok(bytes) if Sha256Hex::of(&bytes) == *recorded => return Ok(LetterState::Good),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot read", &path)(e)),
    }
    let Some(key) = check.keys.get(&iss.issued.key_id) else {
        return Ok(LetterState::Lost(format!(
            "made with key {}, which is not loaded",
            iss.issued.key_id
        )));
    };
    let ctx = IssueContext::recorded(&iss.issued, key, check.renderer);
    let planned = Planned::recorded(&iss.issued);
    let letter = match issue(&ctx, &planned) {
        Ok((_, letter)) => letter,
        Err(e) => return Ok(LetterState::Lost(format!("cannot be made again: {e}"))),
    };
    if letter.sha256 != *recorded {
        return Ok(LetterState::Lost(
            "made again, its bytes differ from the ones the ledger recorded".into(),
        ));
    }
    write_atomic(&path, &letter.bytes, Flush::Later).map_err(io_err("cannot write", &path))?;
    Ok(LetterState::Remade)
}
