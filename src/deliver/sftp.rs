//! The SFTP transport under `deliver`: one logged-in session with the print
//! vendor's server, and the few things `deliver` asks of it.
//!
//! What it guarantees:
//!
//! - **The server is the one the operator vouched for.** Its host key must
//!   be in the `known_hosts` file the target names (OpenSSH's format,
//!   `[host]:port` entries for other ports than 22, hashed `|1|...` entries,
//!   wildcards, `@revoked`). An unknown server is refused, never trusted on
//!   first use: the error gives the key's fingerprint and the `ssh-keyscan`
//!   line that adds it once the fingerprint has been checked with the vendor
//!   by another channel. A key that differs from the recorded one is refused
//!   loudly: that is what an interception looks like.
//! - **A file appears under its name only whole.** [`SftpSession::upload`]
//!   writes to `.NAME.part` (overwriting one a killed upload left behind),
//!   closes it, checks the server holds exactly as many bytes as the local
//!   file has, and only then renames it into place; the rename replaces an
//!   older file of that name atomically (`posix-rename@openssh.com`; on a
//!   server without it, the old file is removed first). A pickup job that
//!   ignores dot files never sees half a file.
//! - **Nothing hangs.** Connecting (TCP, handshake, login, opening SFTP) has
//!   one deadline, and each later request its own, both
//!   [`SftpTarget::timeout`]: a server that stops answering is an error
//!   naming what was being done, not a batch job stuck until morning.
//! - **Names stay in the folder.** Remote names are plain file names
//!   ([`check_remote_name`]); nothing outside [`SftpTarget::remote_dir`] is
//!   written, renamed or removed.
//!
//! The API is synchronous: a session owns a small tokio runtime (one worker
//! thread, which keeps the SSH connection serviced between calls) and
//! blocks on it. Do not call it from inside another tokio runtime; use
//! `spawn_blocking` there.
//!
//! SSH is russh (pure Rust, the `ring` crypto backend as rustls here) and
//! SFTP is russh-sftp's raw session: requests are sent as this module needs
//! them (pipelined writes, the OpenSSH rename extension), not through its
//! `std::fs`-like layer, which hides both.

mod error;
mod known_hosts;
mod login;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use tokio::time::Instant;

pub use crate::config::check_remote_dir;
pub use error::TransferError;

use error::{sftp_error, status_text};
use login::{HostCheck, POSIX_RENAME};

/// Where the vendor's SFTP server is.
#[derive(Clone, Debug)]
pub struct SftpTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// OpenSSH private key (ed25519, ecdsa or rsa), unencrypted. Only its
    /// path is ever shown.
    pub key_file: PathBuf,
    /// OpenSSH `known_hosts` file that must hold the server's host key.
    pub known_hosts: PathBuf,
    /// Folder on the server where files land.
    pub remote_dir: String,
    /// For connecting, and for each request after that.
    pub timeout: Duration,
}

impl SftpTarget {
    /// `host:port`, as errors name the server (`[::1]:22` for IPv6).
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The server's name in `known_hosts`: `host`, or `[host]:port` when the
    /// port is not 22 (OpenSSH's convention).
    pub fn known_hosts_name(&self) -> String {
        if self.port == SSH_PORT {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }

    /// `remote_dir/name`.
    fn remote_path(&self, name: &str) -> String {
        let dir = self.remote_dir.as_str();
        if dir.is_empty() {
            name.to_string()
        } else if dir.ends_with('/') {
            format!("{dir}{name}")
        } else {
            format!("{dir}/{name}")
        }
    }
}

/// OpenSSH's default port; `known_hosts` names other ports `[host]:port`.
const SSH_PORT: u16 = 22;

/// Bytes in one SFTP write request. OpenSSH's `sftp` sends 32 KiB, and every
/// server must take it (the SFTP drafts require at least 34000-byte
/// packets), so the `limits@openssh.com` extension need not be asked.
const WRITE_CHUNK_BYTES: usize = 32 * 1024;

/// Write requests sent before waiting for the first reply: 512 KiB in
/// flight, so a distant server is not paid one round trip per chunk.
const WRITES_IN_FLIGHT: usize = 16;

/// How often a rate-limited upload hands over a chunk, at least: its chunks
/// are a tenth of a second's worth, so the line is never flooded.
const RATE_CHUNKS_PER_SEC: u64 = 10;

/// Longest remote name: 255 bytes, less the `.` and `.part` of its
/// temporary name.
const MAX_NAME_BYTES: usize = 255 - TEMP_PREFIX.len() - TEMP_SUFFIX.len();
const TEMP_PREFIX: &str = ".";
const TEMP_SUFFIX: &str = ".part";

/// Checks that `name` is a plain file name in the remote folder: not empty,
/// not `.` or `..`, no `/`, no control characters, at most 249 bytes.
pub fn check_remote_name(name: &str) -> Result<(), TransferError> {
    let bad = |why| {
        Err(TransferError::BadName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("it names a folder, not a file");
    }
    if name.contains('/') {
        return bad("it contains `/`; files go straight into remote_dir");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("it is longer than 249 bytes");
    }
    Ok(())
}

/// The temporary name `name` is written under: `.NAME.part`.
pub fn temp_name(name: &str) -> String {
    format!("{TEMP_PREFIX}{name}{TEMP_SUFFIX}")
}

/// Bytes in each write of an upload limited to `rate` bytes a second.
fn chunk_len(rate: Option<u64>) -> usize {
    match rate {
        None => WRITE_CHUNK_BYTES,
        Some(r) => (r / RATE_CHUNKS_PER_SEC).clamp(1, WRITE_CHUNK_BYTES as u64) as usize,
    }
}

/// How long after the start of an upload `bytes` may have been handed
/// over, at `rate` bytes a second.
fn pace(bytes: u64, rate: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A logged-in SFTP session with the vendor's server.
pub struct SftpSession {
    target: SftpTarget,
    rt: tokio::runtime::Runtime,
    ssh: client::Handle<HostCheck>,
    sftp: Arc<RawSftpSession>,
    /// Does the server offer `posix-rename@openssh.com`?
    posix_rename: bool,
}

impl fmt::Debug for SftpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpSession")
            .field("server", &self.target.server())
            .field("user", &self.target.user)
            .field("remote_dir", &self.target.remote_dir)
            .field("posix_rename", &self.posix_rename)
            .finish_non_exhaustive()
    }
}

/// What a file being uploaded is, for errors: its path, or `<name>` for
/// bytes from memory.
struct Source<'a> {
    label: PathBuf,
    reader: &'a mut dyn Read,
    len: u64,
}

impl SftpSession {
    /// Connects, checks the host key against `known_hosts`, logs in with
    /// the key file, opens SFTP and checks that `remote_dir` is a folder;
    /// all within `target.timeout`.
    pub fn connect(target: &SftpTarget) -> Result<SftpSession, TransferError> {
        check_remote_dir(&target.remote_dir).map_err(|reason| TransferError::BadRemoteDir {
            server: target.server(),
            reason,
        })?;
        let known = login::read_known_hosts(target)?;
        let key = Arc::new(login::load_key(&target.key_file)?);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sftp")
            .enable_all()
            .build()
            .map_err(|e| TransferError::Connect {
                server: target.server(),
                reason: format!("cannot start the network runtime: {e}"),
            })?;
        let opened = rt.block_on(login::open(target, known, key))?;
        Ok(SftpSession {
            target: target.clone(),
            rt,
            ssh: opened.ssh,
            sftp: Arc::new(opened.sftp),
            posix_rename: opened.posix_rename,
        })
    }

    /// Runs one request with the target's timeout.
    fn run<T>(
        &self,
        doing: &str,
        fut: impl std::future::Future<Output = Result<T, SftpError>>,
    ) -> Result<T, TransferError> {
        let t = self.target.timeout;
        // The timer is made inside the runtime, which drives it.
        match self
            .rt
            .block_on(async { tokio::time::timeout(t, fut).await })
        {
            Ok(r) => r.map_err(|e| sftp_error(&self.target, doing, e)),
            Err(_) => Err(TransferError::Timeout {
                server: self.target.server(),
                doing: doing.to_string(),
                after: t,
            }),
        }
    }

    /// Size of `remote_dir/name`, `None` if there is no such file.
    pub fn remote_size(&mut self, name: &str) -> Result<Option<u64>, TransferError> {
        check_remote_name(name)?;
        let path = self.target.remote_path(name);
        let doing = format!("looking up {path}");
        let sftp = self.sftp.clone();
        self.run(&doing, async move {
            match sftp.stat(path).await {
                Ok(a) => Ok(Some(a.attrs.size.unwrap_or(0))),
                Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// Uploads the local file to `remote_dir/name` (see the module docs:
    /// `.NAME.part`, size check, atomic rename). `rate` limits the bytes a
    /// second handed to the connection. Returns the bytes sent.
    pub fn upload(
        &mut self,
        local: &Path,
        name: &str,
        rate: Option<u64>,
    ) -> Result<u64, TransferError> {
        check_remote_name(name)?;
        let io_err = |source| TransferError::Io {
            path: local.to_path_buf(),
            source,
        };
        let mut file = File::open(local).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let source = Source {
            label: local.to_path_buf(),
            reader: &mut file,
            len,
        };
        self.put(source, name, rate)
    }

    /// [`SftpSession::upload`] for a small file held in memory (the control
    /// file, the `.ready` marker).
    pub fn upload_bytes(&mut self, bytes: &[u8], name: &str) -> Result<u64, TransferError> {
        check_remote_name(name)?;
        let mut reader = bytes;
        let source = Source {
            label: PathBuf::from(format!("<{name} from memory>")),
            reader: &mut reader,
            len: bytes.len() as u64,
        };
        self.put(source, name, None)
    }

    /// The protocol of [`SftpSession::upload`], for either kind of source.
    fn put(
        &mut self,
        source: Source<'_>,
        name: &str,
        rate: Option<u64>,
    ) -> Result<u64, TransferError> {
        if rate == Some(0) {
            return Err(TransferError::BadRate);
        }
        let part = self.target.remote_path(&temp_name(name));
        let label = source.label.clone();
        let local_len = source.len;
        let sent = self.write_part(source, &part, rate)?;

        let (sftp, stat_path) = (self.sftp.clone(), part.clone());
        let remote = self
            .run(&format!("checking the size of {part}"), async move {
                sftp.stat(stat_path).await
            })?
            .attrs
            .size
            .unwrap_or(0);
        if remote != local_len || sent != local_len {
            let _ = self.remove_path(&part);
            return Err(TransferError::SizeMismatch {
                server: self.target.server(),
                local_file: label,
                name: name.to_string(),
                local: local_len,
                remote,
            });
        }
        self.rename_over(&part, &self.target.remote_path(name))?;
        Ok(sent)
    }

    /// Writes `source` to the remote file `part` (created, or truncated if
    /// a killed upload left it) and closes it; returns the bytes written.
    fn write_part(
        &mut self,
        source: Source<'_>,
        part: &str,
        rate: Option<u64>,
    ) -> Result<u64, TransferError> {
        let label = source.label.clone();
        let doing = format!("uploading {} to {part}", label.display());
        let (sftp, open_path) = (self.sftp.clone(), part.to_string());
        let handle = self
            .run(&doing, async move {
                let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
                sftp.open(open_path, flags, FileAttributes::empty()).await
            })?
            .handle;
        let timeout = self.target.timeout;
        let sent = self
            .rt
            .block_on(send(&self.sftp, &handle, source, rate, timeout));
        let fail = match sent {
            Ok(sent) => {
                // The server may write the last bytes only on close: a full
                // disk can be found there too.
                let sftp = self.sftp.clone();
                let closed = self.run(&format!("closing {part}"), async move {
                    sftp.close(handle).await
                });
                return match closed {
                    Err(TransferError::Refused { reason, .. }) => {
                        Err(TransferError::WriteRefused {
                            server: self.target.server(),
                            file: part.to_string(),
                            local_file: label,
                            reason,
                        })
                    }
                    other => other.map(|_| sent),
                };
            }
            Err(fail) => fail,
        };
        // Where the server still answers, close the handle (best effort); a
        // lost or stalled connection takes it along.
        if matches!(
            fail,
            SendFail::Local(_) | SendFail::Remote(SftpError::Status(_))
        ) {
            let sftp = self.sftp.clone();
            let _ = self.run("closing", async move { sftp.close(handle).await });
        }
        Err(match fail {
            SendFail::Local(source) => TransferError::Io {
                path: label,
                source,
            },
            SendFail::Remote(SftpError::Status(s)) => TransferError::WriteRefused {
                server: self.target.server(),
                file: part.to_string(),
                local_file: label,
                reason: status_text(&s),
            },
            SendFail::Remote(e) => sftp_error(&self.target, &doing, e),
            SendFail::Timeout => TransferError::Timeout {
                server: self.target.server(),
                doing,
                after: timeout,
            },
        })
    }

    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename_over(&mut self, from: &str, to: &str) -> Result<(), TransferError> {
        let doing = format!("renaming {from} to {to}");
        let sftp = self.sftp.clone();
        let (from, to) = (from.to_string(), to.to_string());
        if self.posix_rename {
            // rename(2) on the server: `to` is replaced atomically, never
            // absent, never half written.
            let mut data = Vec::new();
            for s in [&from, &to] {
                data.extend_from_slice(&(s.len() as u32).to_be_bytes());
                data.extend_from_slice(s.as_bytes());
            }
            return self.run(&doing, async move {
                match sftp.extended(POSIX_RENAME, data).await? {
                    Packet::Status(s) if s.status_code == StatusCode::Ok => Ok(()),
                    Packet::Status(s) => Err(SftpError::Status(s)),
                    _ => Err(SftpError::UnexpectedPacket),
                }
            });
        }
        // Without the extension the SFTP v3 rename refuses an existing
        // target, so the old file is removed first: for a moment `to` is
        // absent (never half written).
        let target = to.clone();
        self.run(&doing, async move {
            match sftp.remove(target).await {
                Ok(_) => {}
                Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {}
                Err(e) => return Err(e),
            }
            sftp.rename(from, to).await.map(|_| ())
        })
    }

    /// Names in `remote_dir` (`.` and `..` left out), sorted; temporary
    /// `.NAME.part` files included.
    pub fn list(&mut self) -> Result<Vec<String>, TransferError> {
        let dir = self.target.remote_dir.clone();
        let doing = format!("listing {dir}");
        let sftp = self.sftp.clone();
        let mut names = self.run(&doing, async move {
            let handle = sftp.opendir(dir).await?.handle;
            let mut names = Vec::new();
            loop {
                match sftp.readdir(handle.clone()).await {
                    Ok(batch) => names.extend(batch.files.into_iter().map(|f| f.filename)),
                    Err(SftpError::Status(s)) if s.status_code == StatusCode::Eof => break,
                    Err(e) => return Err(e),
                }
            }
            sftp.close(handle).await?;
            Ok(names)
        })?;
        names.retain(|n| n != "." && n != "..");
        names.sort();
        Ok(names)
    }

    /// Removes `remote_dir/name`; a file already absent is not an error.
    pub fn remove(&mut self, name: &str) -> Result<(), TransferError> {
        check_remote_name(name)?;
        let path = self.target.remote_path(name);
        self.remove_path(&path)
    }

    fn remove_path(&mut self, path: &str) -> Result<(), TransferError> {
        let sftp = self.sftp.clone();
        let target = path.to_string();
        self.run(&format!("removing {path}"), async move {
            match sftp.remove(target).await {
                Ok(_) => Ok(()),
                Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    /// Does the server replace files atomically on rename
    /// (`posix-rename@openssh.com`)? Without it, an upload over an existing
    /// file removes the old one first.
    pub fn atomic_replace(&self) -> bool {
        self.posix_rename
    }

    /// Ends the SFTP session and the SSH connection politely.
    pub fn close(self) -> Result<(), TransferError> {
        let _ = self.sftp.close_session();
        let t = self.target.timeout;
        let ssh = &self.ssh;
        let done = self.rt.block_on(async {
            let bye = ssh.disconnect(russh::Disconnect::ByApplication, "", "en");
            tokio::time::timeout(t, bye).await
        });
        match done {
            Err(_) => Err(TransferError::Timeout {
                server: self.target.server(),
                doing: "closing the connection".into(),
                after: t,
            }),
            // The server may close first; either way the session is over.
            Ok(_) => Ok(()),
        }
    }
}

/// Why sending a file's bytes stopped.
enum SendFail {
    Local(io::Error),
    Remote(SftpError),
    Timeout,
}

/// Writes `source` to the open remote `handle`, [`WRITES_IN_FLIGHT`]
/// requests at a time, paced to `rate`. Returns the bytes written.
async fn send(
    sftp: &Arc<RawSftpSession>,
    handle: &str,
    source: Source<'_>,
    rate: Option<u64>,
    timeout: Duration,
) -> Result<u64, SendFail> {
    let chunk = chunk_len(rate);
    let start = Instant::now();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut offset = 0u64;
    let reader = source.reader;
    loop {
        let mut buf = vec![0u8; chunk];
        let n = read_full(reader, &mut buf).map_err(SendFail::Local)?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        if let Some(rate) = rate {
            let due = pace(offset + n as u64, rate);
            match start.checked_add(due) {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        }
        while in_flight.len() >= WRITES_IN_FLIGHT {
            settle(in_flight.join_next().await)?;
        }
        let (sftp, handle, at) = (sftp.clone(), handle.to_string(), offset);
        in_flight.spawn(async move {
            match tokio::time::timeout(timeout, sftp.write(handle, at, buf)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(SendFail::Remote(e)),
                Err(_) => Err(SendFail::Timeout),
            }
        });
        offset += n as u64;
    }
    while let Some(done) = in_flight.join_next().await {
        settle(Some(done))?;
    }
    Ok(offset)
}

fn settle(
    done: Option<Result<Result<(), SendFail>, tokio::task::JoinError>>,
) -> Result<(), SendFail> {
    match done {
        None | Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(fail))) => Err(fail),
        Some(Err(join)) => Err(SendFail::Local(io::Error::other(join))),
    }
}

/// Fills `buf` from `reader` unless the input ends first; returns the bytes
/// read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for name in [
            "0001.pdf",
            ".ready",
            "batch-2026-11-25.csv",
            "a..b",
            "é.pdf",
        ] {
            check_remote_name(name).unwrap();
        }
    }

    #[test]
    fn names_that_leave_the_folder_are_refused() {
        for name in ["", ".", "..", "../x", "a/b", "/etc/passwd", "x\n", "a\0b"] {
            let err = check_remote_name(name).unwrap_err();
            assert!(matches!(err, TransferError::BadName { .. }), "{name:?}");
        }
        check_remote_name(&"x".repeat(MAX_NAME_BYTES)).unwrap();
        check_remote_name(&"x".repeat(MAX_NAME_BYTES + 1)).unwrap_err();
    }

    #[test]
    fn temp_names_are_hidden() {
        assert_eq!(temp_name("0001.pdf"), ".0001.pdf.part");
    }

    #[test]
    fn remote_paths_join_once() {
        let mut t = target();
        for (dir, want) in [("/in", "/in/x"), ("/in/", "/in/x"), ("", "x"), ("/", "/x")] {
            t.remote_dir = dir.into();
            assert_eq!(t.remote_path("x"), want);
        }
    }

    #[test]
    fn pacing_spreads_bytes_over_time() {
        assert_eq!(pace(256 * 1024, 256 * 1024), Duration::from_secs(1));
        assert_eq!(pace(1024 * 1024, 256 * 1024), Duration::from_secs(4));
        assert_eq!(pace(1, 2), Duration::from_millis(500));
        assert_eq!(pace(0, 1), Duration::ZERO);
        // Saturates rather than overflows at the extremes.
        assert_eq!(pace(u64::MAX, 1), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn rate_limited_chunks_are_a_tenth_of_a_second() {
        assert_eq!(chunk_len(None), WRITE_CHUNK_BYTES);
        assert_eq!(chunk_len(Some(256 * 1024)), 26_214);
        assert_eq!(chunk_len(Some(100 * 1024 * 1024)), WRITE_CHUNK_BYTES);
        assert_eq!(chunk_len(Some(5)), 1);
    }

    #[test]
    fn servers_are_named_as_known_hosts_names_them() {
        let mut t = target();
        assert_eq!(t.known_hosts_name(), "[sftp.vendor.example]:2222");
        assert_eq!(t.server(), "sftp.vendor.example:2222");
        t.port = 22;
        assert_eq!(t.known_hosts_name(), "sftp.vendor.example");
        t.host = "::1".into();
        assert_eq!(t.server(), "[::1]:22");
    }

    fn target() -> SftpTarget {
        SftpTarget {
            host: "sftp.vendor.example".into(),
            port: 2222,
            user: "agency".into(),
            key_file: "/etc/access-letters/vendor_ed25519".into(),
            known_hosts: "/etc/access-letters/known_hosts".into(),
            remote_dir: "/in".into(),
            timeout: Duration::from_secs(30),
        }
    }
}
