//! Whose batches are these? Before a run writes into `--out`, every batch
//! folder already there must have been recorded by the ledger in hand. A
//! ledger restored from the wrong backup, or a fresh ledger next to old
//! batches, would otherwise issue their filings again and bring superseded
//! codes back to life.

use std::path::{Path, PathBuf};

use super::BatchError;

/// Batch folders under `out`: folders holding a `batch.json` or a letter.
pub fn batch_folders(out: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("batch.json").is_file() || holds_letters(&p.join("letters")))
        .collect();
    found.sort();
    found
}

/// Whether a folder holds at least one letter PDF.
fn holds_letters(dir: &Path) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().any(|e| {
        e.ok()
            .is_some_and(|e| e.path().extension().is_some_and(|x| x == "pdf") && e.path().is_file())
    })
}

/// The ledger id a finished batch folder records, if it records one.
fn recorded_ledger_id(batch_dir: &Path) -> Option<String> {
    /// The one field of `batch.json` this needs, read whatever else the
    /// file holds (a folder of an older program records no ledger).
    #[derive(serde::Deserialize)]
    struct Owner {
        ledger_id: Option<String>,
    }
    let text = std::fs::read_to_string(batch_dir.join("batch.json")).ok()?;
    let owner: Owner = serde_json::from_str(&text).ok()?;
    owner.ledger_id.filter(|id| !id.is_empty())
}

/// Refuses when a finished batch under `out` was recorded by another ledger
/// than `ledger_id`, or records none (made before ledgers had identities).
pub fn check_out_folder(out: &Path, ledger_id: &str) -> Result<(), BatchError> {
    let foreign: Vec<String> = batch_folders(out)
        .into_iter()
        .filter(|dir| dir.join("batch.json").is_file())
        .filter(|dir| recorded_ledger_id(dir).as_deref() != Some(ledger_id))
        .map(|dir| dir.display().to_string())
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(BatchError::ForeignBatches {
        ledger_id: ledger_id.to_string(),
        count: foreign.len(),
        first: foreign[0].clone(),
    })
}

/// Whether a new ledger may be made at `ledger` for batches under `out`:
/// yes on a first run (no batch folders). Folders with letters but no
/// `batch.json` (a first night lost with its ledger) need `new_ledger`;
/// finished batches never share `out` with a new ledger, since the new one
/// would not know their codes.
pub fn may_create_ledger(ledger: &Path, out: &Path, new_ledger: bool) -> Result<(), BatchError> {
    let batches = batch_folders(out);
    let finished = batches
        .iter()
        .filter(|b| b.join("batch.json").is_file())
        .count();
    if batches.is_empty() || (finished == 0 && new_ledger) {
        return Ok(());
    }
    Err(BatchError::LedgerMissing {
        ledger: ledger.display().to_string(),
        out: out.display().to_string(),
        count: batches.len(),
        first: batches[0].display().to_string(),
        advice: if finished > 0 {
            "restore the ledger from its last backup (access-letters backup); a new ledger cannot share an output folder with finished batches"
        } else {
            "restore the ledger from its last backup (access-letters backup), or start a new one on purpose"
        },
        new_ledger_helps: finished == 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(dir: &Path, name: &str, body: &str) {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("batch.json"), body).unwrap();
    }

    #[test]
    fn batches_of_this_ledger_pass_others_and_unknown_are_refused() {
        let out = tempfile::tempdir().unwrap();
        batch(out.path(), "2026-11-24-aaaaaa", r#"{"ledger_id": "L1"}"#);
        assert!(check_out_folder(out.path(), "L1").is_ok());
        let err = check_out_folder(out.path(), "L2").unwrap_err().to_string();
        assert!(
            err.contains("2026-11-24-aaaaaa") && err.contains("L2"),
            "{err}"
        );
        batch(out.path(), "2026-11-25-bbbbbb", r#"{"batch_id": "old"}"#);
        let err = check_out_folder(out.path(), "L1").unwrap_err().to_string();
        assert!(
            err.contains("2026-11-25-bbbbbb"),
            "an unknown ledger id is refused: {err}"
        );
    }

    #[test]
    fn a_new_ledger_is_made_only_for_an_out_folder_without_finished_batches() {
        let out = tempfile::tempdir().unwrap();
        let ledger = out.path().join("ledger.sqlite");
        assert!(
            may_create_ledger(&ledger, out.path(), false).is_ok(),
            "a first run"
        );
        std::fs::create_dir_all(out.path().join("b/letters")).unwrap();
        std::fs::write(out.path().join("b/letters/A-01.pdf"), b"%PDF").unwrap();
        let err = may_create_ledger(&ledger, out.path(), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("or start a new one on purpose"), "{err}");
        assert!(may_create_ledger(&ledger, out.path(), true).is_ok());
        batch(out.path(), "b", r#"{"ledger_id": "L1"}"#);
        let err = may_create_ledger(&ledger, out.path(), true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot share an output folder with finished batches"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_or_missing_out_folder_has_no_batches() {
        let out = tempfile::tempdir().unwrap();
        assert!(batch_folders(out.path()).is_empty());
        assert!(batch_folders(&out.path().join("nope")).is_empty());
        std::fs::create_dir_all(out.path().join("x/letters")).unwrap();
        assert!(
            batch_folders(out.path()).is_empty(),
            "an empty letters folder is no batch"
        );
        std::fs::write(out.path().join("x/letters/A-01.pdf"), b"%PDF").unwrap();
        assert_eq!(batch_folders(out.path()).len(), 1);
    }
}
