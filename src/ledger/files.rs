//! File-system helpers shared by the lock, the SQLite ledger and backups.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::LedgerError;

/// How many symlinks in a row are followed before giving up (the limit
/// Linux itself uses).
const MAX_SYMLINK_HOPS: usize = 40;

/// The one name of a ledger file, however it was spelled: the canonical
/// path of the file when it exists; otherwise (a new ledger, or a dangling
/// symlink to one) the canonical path of its folder plus its file name. The
/// folder must exist: a mistyped folder is an error, never created.
pub(super) fn canonical_path(path: &Path) -> Result<PathBuf, LedgerError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match std::fs::canonicalize(&current) {
            Ok(canonical) => return Ok(canonical),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(LedgerError::File {
                    action: "find the issuance ledger",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
            Err(_) => {}
        }
        match std::fs::read_link(&current) {
            // A dangling symlink: follow it to the file it will name.
            Ok(target) => current = folder_of(&current).join(target),
            Err(_) => return canonical_in_folder(&current),
        }
    }
    Err(LedgerError::File {
        action: "follow the symlinks of",
        path: path.to_path_buf(),
        source: io::Error::other("too many levels of symbolic links"),
    })
}

/// The canonical folder of a file that does not exist, plus its name.
fn canonical_in_folder(path: &Path) -> Result<PathBuf, LedgerError> {
    let folder = folder_of(path);
    let Some(name) = path.file_name() else {
        return Err(LedgerError::File {
            action: "use as a ledger file",
            path: path.to_path_buf(),
            source: io::Error::other("the path names no file"),
        });
    };
    match std::fs::canonicalize(&folder) {
        Ok(f) if f.is_dir() => Ok(f.join(name)),
        _ => Err(LedgerError::NoFolder { folder }),
    }
}

/// The folder a path lives in; `.` for a bare file name.
pub(super) fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `<path>.<tag>-<pid>.tmp`, next to `path` so a rename stays on one disk.
pub(super) fn temp_name(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{tag}-{}.tmp", std::process::id()));
    PathBuf::from(name)
}

/// Creates `path` empty with mode 0600; fails if anything is there.
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    restrict_to_owner(&mut options);
    options.open(path)
}

/// Gives the finished file `tmp` its final name `dest`, never replacing a
/// file already there (a hard link fails if `dest` exists, where a rename
/// would overwrite), then makes the new name durable.
pub(super) fn publish_no_clobber(tmp: &Path, dest: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    std::fs::hard_link(tmp, dest)?;
    std::fs::remove_file(tmp)?;
    File::open(folder_of(dest))?.sync_all()
}

#[cfg(unix)]
pub(super) fn restrict_to_owner(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    // The ledger holds names and addresses: owner only.
    options.mode(0o600);
}

#[cfg(not(unix))]
pub(super) fn restrict_to_owner(_options: &mut OpenOptions) {}
