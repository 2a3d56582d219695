//! Files on disk, written so a crash never leaves a half-written file under
//! its final name.
//!
//! Every output goes to a temporary name in the same folder (`.NAME.tmp`) and
//! is renamed into place once complete; a rename within one folder is atomic
//! on POSIX file systems. A run that dies leaves at most some `.tmp` files,
//! which the next run removes before it starts. Letters hold access codes, so
//! every file is created readable by its owner only and every folder is
//! private to its owner.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::letter_proof::Sha256Hex;

const TMP_SUFFIX: &str = ".tmp";

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{TMP_SUFFIX}"))
}

pub fn create_private(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Creates `dir` (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Whether a file written whole must be on disk before it takes its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Flushed to disk before the rename: a letter, a file handed on.
    BeforeRename,
    /// Left to the operating system: the caller flushes the folder once for
    /// many files, or the file is made again from the ledger if lost.
    Later,
}

/// Writes `bytes` to `path` through a temporary file and a rename,
/// flushed as `flush` says. On failure the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8], flush: Flush) -> io::Result<()> {
    let durable = flush == Flush::BeforeRename;
    let tmp = tmp_path(path);
    let mut f = create_private(&tmp)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| if durable { f.sync_all() } else { Ok(()) });
    drop(f);
    written
        .and_then(|()| fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
}

/// Checks, before any work, that [`write_atomic`] can later put a file at
/// `path`: it is not a folder, its folder exists, and a temporary file can
/// be made there (made and removed at once). Nothing else is touched.
pub fn check_can_write(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::other("it is a folder, not a file"));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(io::Error::other(format!(
            "its folder {} does not exist",
            folder.display()
        )));
    }
    let probe = tmp_path(path);
    create_private(&probe)?;
    fs::remove_file(&probe)
}

/// Checks, before any work, that files can be made in the folder `dir`, or
/// (when it does not exist yet) in the nearest folder above it that does.
pub fn check_can_write_in(dir: &Path) -> io::Result<()> {
    let mut at = dir;
    loop {
        match fs::metadata(at) {
            Ok(meta) if meta.is_dir() => {
                // A probe of this process's own: two runs starting at once
                // in one folder must not remove each other's probe.
                let probe = format!(".access-letters-probe-{}", std::process::id());
                return check_can_write(&at.join(probe));
            }
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} is a file, not a folder",
                    at.display()
                )))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) && at != Path::new(".") => {}
            Err(e) => return Err(e),
        }
        at = match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
}

/// A file written in pieces and put in place by [`AtomicFile::commit`]; if it
/// is dropped without a commit the temporary file is removed.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let tmp = tmp_path(path);
        let file = create_private(&tmp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            writer: Some(BufWriter::with_capacity(256 * 1024, file)),
        })
    }

    /// Flushes to disk and renames into place; on failure the temporary
    /// file is removed.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("commit is called once");
        let committed = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| fs::rename(&self.tmp, &self.path));
        committed.inspect_err(|_| {
            let _ = fs::remove_file(&self.tmp);
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("not committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("not committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Removes temporary files left in `dir` by a run that was killed. Returns
/// how many were removed.
pub fn remove_stray_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Flushes everything written under `dir`'s file system to disk: one call
/// per chunk of letters instead of one fsync per letter.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let f = File::open(dir)?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(&f)?;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        f.sync_all()
    }
}

/// The SHA-256 of a file, streamed (the file is never held in memory).
pub fn file_sha256(path: &Path) -> io::Result<Sha256Hex> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    /// Bytes read at a time.
    const HASH_BUFFER_BYTES: usize = 256 * 1024;
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_BUFFER_BYTES];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(Sha256Hex::from_hasher(hasher));
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_write_checks_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.prom");
        check_can_write(&file).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = check_can_write(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
        let err = check_can_write(&dir.path().join("no/m.prom")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        check_can_write_in(&dir.path().join("new/deeper")).unwrap();
        assert!(!dir.path().join("new").exists());
        fs::write(&file, "x").unwrap();
        let err = check_can_write_in(&file.join("sub")).unwrap_err();
        assert!(err.to_string().contains("is a file"), "{err}");
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.pdf");
        write_atomic(&p, b"hello", Flush::BeforeRename).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"hello");
        assert!(!tmp_path(&p).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn uncommitted_file_is_removed_and_stray_temps_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest.csv");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(!p.exists());
        assert!(!tmp_path(&p).exists());
        fs::write(dir.path().join(".x.pdf.tmp"), b"junk").unwrap();
        fs::write(dir.path().join("keep.pdf"), b"ok").unwrap();
        assert_eq!(remove_stray_temps(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep.pdf").exists());
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"whole").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"whole");
        sync_dir(dir.path()).unwrap();
    }
}
