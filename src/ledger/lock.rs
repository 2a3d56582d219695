//! One run per ledger: an OS file lock next to the ledger.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::files::{create_parent_dir, restrict_to_owner};
use super::LedgerError;

/// Exclusive use of a ledger file by one run, held through an OS file lock on
/// `<ledger>.lock`. The lock is released when this value is dropped, and by
/// the operating system when the process dies, so a crashed run never leaves
/// a stale lock behind. The lock file itself stays; deleting it would let two
/// runs lock two different files.
#[derive(Debug)]
pub struct LedgerLock {
    // Held only for its lock; closing the file releases it.
    _file: File,
    lock_path: PathBuf,
}

impl LedgerLock {
    /// Takes the lock without waiting; fails at once if another run holds it.
    pub fn acquire(ledger_path: &Path) -> Result<LedgerLock, LedgerError> {
        let lock_path = lock_path_for(ledger_path);
        let lock_err = |source| LedgerError::File {
            action: "take the lock file",
            path: lock_path.clone(),
            source,
        };
        create_parent_dir(ledger_path)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        restrict_to_owner(&mut options);
        let file = options.open(&lock_path).map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => Ok(LedgerLock {
                _file: file,
                lock_path,
            }),
            Err(TryLockError::WouldBlock) => Err(LedgerError::Locked {
                ledger: ledger_path.to_path_buf(),
                lock: lock_path,
            }),
            Err(TryLockError::Error(source)) => Err(lock_err(source)),
        }
    }

    /// The lock file's path, `<ledger>.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

pub(super) fn lock_path_for(ledger_path: &Path) -> PathBuf {
    let mut name = ledger_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
