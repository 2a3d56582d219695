//! Making a new SQLite ledger file: built whole under a temporary name, then
//! linked into place, so a half-made ledger is never found at its path.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::migrations::migrate;
use super::rows::classify;
use crate::ledger::files::{canonical_path, create_private, publish_no_clobber, temp_name};
use crate::ledger::LedgerError;

/// Builds a new ledger file at `path` (its canonical name): schema and
/// identity under a temporary name, in SQLite's rollback-journal mode so
/// the finished file holds everything, then linked into place. The
/// temporary file is locked (`flock`) from its creation until it is in
/// place, which tells [`remove_abandoned`] it is being made, whatever the
/// process ids it can see.
pub(super) fn create_file(path: &Path) -> Result<(), LedgerError> {
    let label = path.display().to_string();
    let target = canonical_path(path)?;
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(LedgerError::Exists { ledger: label });
    }
    let tmp = temp_name(&target, "new");
    remove_leftovers(&tmp);
    let result = build_new(&tmp, path, &label).and_then(|_held| {
        publish_no_clobber(&tmp, &target).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => LedgerError::Exists {
                ledger: label.clone(),
            },
            _ => LedgerError::File {
                action: "create the issuance ledger",
                path: path.to_path_buf(),
                source,
            },
        })
    });
    remove_leftovers(&tmp);
    result
}

/// Builds the ledger at `tmp`; returns the file's handle, which holds its
/// lock (the caller keeps it until the file is in place).
fn build_new(tmp: &Path, path: &Path, label: &str) -> Result<std::fs::File, LedgerError> {
    let file_err = |source| LedgerError::File {
        action: "create the issuance ledger",
        path: path.to_path_buf(),
        source,
    };
    // Created by us so it has mode 0600 from the start; SQLite would use
    // the umask's default (often 0644). Nobody else can hold its lock yet.
    let held = create_private(tmp).map_err(file_err)?;
    held.lock().map_err(file_err)?;
    let mut conn = Connection::open(tmp).map_err(|e| classify(label, "create it", e))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| classify(label, "create it", e))?;
    migrate(&mut conn, label)?;
    conn.close()
        .map_err(|(_, e)| classify(label, "create it", e))?;
    Ok(held)
}

/// Removes a temporary file and the companions SQLite may have left.
pub(super) fn remove_leftovers(tmp: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = tmp.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Removes what a [`create_file`] killed part way left next to the ledger
/// at `path` (its temporary file and SQLite's companions), once the process
/// that made it is gone. The temporary name holds that process's id, so a
/// later run never meets it by name and it would stay for good; a file
/// whose maker still runs is left alone. A process id says nothing across
/// PID namespaces (two containers sharing the ledger's folder), so a file
/// whose maker seems gone is still left while its lock is held.
pub(super) fn remove_abandoned(path: &Path) {
    let Ok(target) = canonical_path(path) else {
        return;
    };
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!("{}.new-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let Some((pid, companion)) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(".tmp"))
        else {
            continue;
        };
        let abandoned = ["", "-journal", "-wal", "-shm"].contains(&companion)
            && pid.parse::<i32>().is_ok_and(|pid| !running(pid))
            && !being_made(&dir.join(format!("{prefix}{pid}.tmp")));
        if abandoned {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether the temporary ledger file at `tmp` is locked by the process
/// making it (one that does not exist is not being made).
fn being_made(tmp: &Path) -> bool {
    match std::fs::File::open(tmp) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Whether process `pid` exists (this one included); one that exists but
/// belongs to another user counts as running.
fn running(pid: i32) -> bool {
    use rustix::process::{test_kill_process, Pid};
    match Pid::from_raw(pid) {
        Some(pid) => !matches!(test_kill_process(pid), Err(rustix::io::Errno::SRCH)),
        None => false,
    }
}
