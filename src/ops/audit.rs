//! `audit`: the full check an operator runs before trusting an output
//! folder, or after restoring a ledger from backup. It runs SQLite's full
//! integrity check on a SQLite ledger (a PostgreSQL server checks its own pages), then cross-checks every finished batch
//! folder under `--out` against it: the batch is in this ledger, its
//! `batch.json` names this ledger, its letter count is the ledger's, and
//! every file it lists is on disk with the SHA-256 it recorded. A batch
//! folder without `batch.json` whose batch the ledger holds unfinished is an
//! interrupted run: its codes are issued and live, its letters not printed,
//! so it is a problem to act on (run the batch again), never a silent pass.
//!
//! Nothing is changed; the answer is a list of problems, each a sentence.

use std::path::Path;

use crate::batch::batch_folders;
use crate::ledger::{Issuance, Ledger, LedgerError};
use crate::manifest::{read_file_list, read_summary};
use crate::output::file_sha256;

/// What `audit` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Finished batch folders checked.
    pub batches: usize,
    /// Files checked against their recorded SHA-256.
    pub files: usize,
    /// Every problem, as a sentence naming the batch or file.
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Checks `ledger` in full and every finished batch folder under `out`.
pub fn audit(ledger: &dyn Ledger, out: &Path) -> Result<Audit, AuditError> {
    ledger.full_check()?;
    let ledger_id = ledger.ledger_id()?;
    let mut found = Audit::default();
    for dir in batch_folders(out) {
        if dir.join("batch.json").is_file() {
            found.batches += 1;
            check_batch(ledger, &ledger_id, &dir, &mut found)?;
        }
    }
    // Every folder without batch.json, not only those holding letters: an
    // interrupted print run has written no letter file yet.
    let unfinished = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !p.join("batch.json").is_file());
    let mut unfinished: Vec<_> = unfinished.collect();
    unfinished.sort();
    for dir in unfinished {
        if let Some(problem) = interrupted(ledger, &dir)? {
            found.problems.push(problem);
        }
    }
    Ok(found)
}

/// The issuances of `history` (issue number, batch) whose batch the ledger
/// holds unfinished: their codes are live, their letters not printed (nor
/// mailed) until the batch is run again. `status` shows them.
pub fn unfinished_issuances(
    ledger: &dyn Ledger,
    history: &[Issuance],
) -> Result<Vec<(u32, String)>, LedgerError> {
    let mut complete: std::collections::HashMap<&str, bool> = Default::default();
    let mut found = Vec::new();
    for i in history {
        let batch_id = i.issued.batch_id.as_str();
        if !complete.contains_key(batch_id) {
            let done = !matches!(ledger.batch(batch_id)?, Some((_, None)));
            complete.insert(batch_id, done);
        }
        if !complete[batch_id] {
            found.push((i.issued.issue_no, batch_id.to_string()));
        }
    }
    Ok(found)
}

/// The sentence for a batch folder whose batch the ledger holds, not
/// complete, with codes issued in it; `None` for any other folder.
fn interrupted(ledger: &dyn Ledger, dir: &Path) -> Result<Option<String>, AuditError> {
    let Some(batch_id) = dir.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    let Some((_, None)) = ledger.batch(batch_id)? else {
        return Ok(None);
    };
    let issued = ledger.count_in_batch(batch_id)?;
    if issued == 0 {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}: batch {batch_id} was interrupted: {issued} {} issued, not printed yet; run the batch again (the same command) to finish it",
        dir.display(),
        if issued == 1 { "code" } else { "codes" },
    )))
}

fn check_batch(
    ledger: &dyn Ledger,
    ledger_id: &str,
    dir: &Path,
    found: &mut Audit,
) -> Result<(), AuditError> {
    let shown = dir.display();
    let (summary, files) = match read_summary(dir).and_then(|s| Ok((s, read_file_list(dir)?))) {
        Ok(read) => read,
        Err(e) => {
            found.problems.push(format!("{shown}: {e}"));
            return Ok(());
        }
    };
    let batch_id = summary.batch_id.as_str();
    if summary.ledger_id != ledger_id {
        let named = Some(summary.ledger_id.as_str()).filter(|id| !id.is_empty());
        found.problems.push(format!(
            "{shown}: batch.json names ledger {} but this ledger is {ledger_id}",
            named.unwrap_or("(none)")
        ));
    }
    match ledger.batch(batch_id)? {
        None => found
            .problems
            .push(format!("{shown}: batch {batch_id} is not in this ledger")),
        Some((_, None)) => found.problems.push(format!(
            "{shown}: the ledger has batch {batch_id} but not as complete"
        )),
        Some(_) => {
            let in_ledger = ledger.count_in_batch(batch_id)?;
            let listed = summary.letters;
            if in_ledger != listed {
                found.problems.push(format!(
                    "{shown}: batch.json lists {listed} letters, the ledger {in_ledger}"
                ));
            }
        }
    }
    for entry in &files {
        found.files += 1;
        check_file(&dir.join(&entry.path), &entry.sha256, found);
    }
    Ok(())
}

fn check_file(path: &Path, want: &str, found: &mut Audit) {
    match file_sha256(path) {
        Ok(got) if got.as_str() == want => {}
        Ok(_) => found.problems.push(format!(
            "{} differs from the SHA-256 batch.json recorded",
            path.display()
        )),
        Err(_) => found
            .problems
            .push(format!("{} is missing or unreadable", path.display())),
    }
}
