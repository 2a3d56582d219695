//! File-system helpers shared by the lock, the SQLite ledger and backups.

use std::fs::OpenOptions;
use std::path::Path;

use super::LedgerError;

pub(super) fn create_parent_dir(path: &Path) -> Result<(), LedgerError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|source| LedgerError::File {
                action: "create the folder",
                path: parent.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(unix)]
pub(super) fn restrict_to_owner(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    // The ledger holds names and addresses: owner only.
    options.mode(0o600);
}

#[cfg(not(unix))]
pub(super) fn restrict_to_owner(_options: &mut OpenOptions) {}
