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
/// the finished file holds everything, then linked into place.
pub(super) fn create_file(path: &Path) -> Result<(), LedgerError> {
    let label = path.display().to_string();
    let target = canonical_path(path)?;
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(LedgerError::Exists { ledger: label });
    }
    let tmp = temp_name(&target, "new");
    remove_leftovers(&tmp);
    let result = build_new(&tmp, path, &label).and_then(|()| {
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

fn build_new(tmp: &Path, path: &Path, label: &str) -> Result<(), LedgerError> {
    // Created by us so it has mode 0600 from the start; SQLite would use
    // the umask's default (often 0644).
    create_private(tmp).map_err(|source| LedgerError::File {
        action: "create the issuance ledger",
        path: path.to_path_buf(),
        source,
    })?;
    let mut conn = Connection::open(tmp).map_err(|e| classify(label, "create it", e))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| classify(label, "create it", e))?;
    migrate(&mut conn, label)?;
    conn.close()
        .map_err(|(_, e)| classify(label, "create it", e))
}

/// Removes a temporary file and the companions SQLite may have left.
pub(super) fn remove_leftovers(tmp: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = tmp.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}
