//! One run per ledger: an OS file lock next to the ledger's canonical path.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::files::{canonical_path, restrict_to_owner};
use super::LedgerError;

/// Exclusive use of a ledger file by one run, held through an OS file lock on
/// `<canonical ledger path>.lock`. The ledger's path is made canonical first
/// (symlinks followed, `..` and relative spellings resolved), so every name
/// of one ledger file meets the same lock. The lock is released when this
/// value is dropped, and by the operating system when the process dies, so a
/// crashed run never leaves a stale lock behind. The lock file itself stays;
/// deleting it would let two runs lock two different files.
///
/// Hard links are the one way around it: two hard links are two canonical
/// paths. Do not hard-link a ledger.
#[derive(Debug)]
pub struct LedgerLock {
    // Held only for its lock; closing the file releases it.
    _file: File,
    lock_path: PathBuf,
}

impl LedgerLock {
    /// Takes the lock without waiting; fails at once if another run holds
    /// it. The ledger's folder must exist; the ledger file need not.
    pub fn acquire(ledger_path: &Path) -> Result<LedgerLock, LedgerError> {
        let lock_path = lock_path_for(&canonical_path(ledger_path)?);
        let lock_err = |source| LedgerError::File {
            action: "take the lock file",
            path: lock_path.clone(),
            source,
        };
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

    /// The lock file's path, `<canonical ledger path>.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

pub(super) fn lock_path_for(ledger_path: &Path) -> PathBuf {
    let mut name = ledger_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let path = root.join("ledger.sqlite");
        let first = LedgerLock::acquire(&path).expect("first lock");
        assert_eq!(first.lock_path(), root.join("ledger.sqlite.lock"));
        let err = LedgerLock::acquire(&path).expect_err("second must fail");
        assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "another access-letters run is using the ledger {} (lock file {}.lock); wait for it to finish",
                path.display(),
                path.display()
            )
        );
        drop(first);
        LedgerLock::acquire(&path).expect("free again after drop");
    }

    /// Issue 12 finding 1: `--ledger link.sqlite` took a second lock.
    #[cfg(unix)]
    #[test]
    fn lock_bypassed_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).expect("mkdir");
        let ledger = real_dir.join("ledger.sqlite");
        super::super::SqliteLedger::create(&ledger).expect("create");
        let link = dir.path().join("link.sqlite");
        std::os::unix::fs::symlink(&ledger, &link).expect("symlink");
        // A symlinked folder and a `..` spelling are the same file too.
        let dir_link = dir.path().join("dirlink");
        std::os::unix::fs::symlink(&real_dir, &dir_link).expect("symlink");
        let names = [
            link.clone(),
            dir_link.join("ledger.sqlite"),
            real_dir.join("..").join("real").join("ledger.sqlite"),
        ];

        let first = LedgerLock::acquire(&ledger).expect("first lock");
        for name in &names {
            let err = LedgerLock::acquire(name).expect_err("same ledger, same lock");
            assert!(matches!(err, LedgerError::Locked { .. }), "{name:?}: {err}");
        }
        drop(first);
        // And the other way round: the link's lock keeps the real name out.
        let by_link = LedgerLock::acquire(&link).expect("lock through the link");
        assert!(LedgerLock::acquire(&ledger).is_err());
        drop(by_link);

        // A dangling link to a ledger not made yet locks the target's name.
        let future = real_dir.join("future.sqlite");
        let dangling = dir.path().join("dangling.sqlite");
        std::os::unix::fs::symlink(&future, &dangling).expect("symlink");
        let held = LedgerLock::acquire(&dangling).expect("lock through a dangling link");
        assert!(matches!(
            LedgerLock::acquire(&future),
            Err(LedgerError::Locked { .. })
        ));
        drop(held);
    }

    #[test]
    fn a_lock_in_a_folder_that_does_not_exist_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("typo").join("ledger.sqlite");
        let err = LedgerLock::acquire(&path).expect_err("no folder");
        assert!(matches!(err, LedgerError::NoFolder { .. }), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!dir.path().join("typo").exists());
    }
}
