//! What can go wrong handing files to the vendor, said for the operator
//! who has to act on it: which server, which file, what to do.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use russh_sftp::client::error::Error as SftpError;

use super::SftpTarget;

/// Why a transfer failed: each says which server and which file, and what
/// the operator can do about it.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "cannot connect to the vendor's SFTP server {server}: {reason} \
         (is the host name and port right, and is the server up?)"
    )]
    Connect { server: String, reason: String },

    #[error(
        "the vendor's SFTP server {server} stopped answering: no reply within {}s while {doing}",
        after.as_secs_f64()
    )]
    Timeout {
        server: String,
        doing: String,
        after: Duration,
    },

    #[error(
        "refusing to connect: the SFTP server {server} is not in the known_hosts file {}. \
         It presented the host key {key}. Check that fingerprint with the \
         vendor by another channel (a phone call, a signed letter), then add the key with \
         `ssh-keyscan -p {port} {host} >> {}` and check that the line added shows the same \
         fingerprint (`ssh-keygen -lf {}`)",
        known_hosts.display(), known_hosts.display(), known_hosts.display()
    )]
    UnknownHost {
        server: String,
        host: String,
        port: u16,
        known_hosts: PathBuf,
        /// The key presented: its algorithm and SHA-256 fingerprint
        /// (`ssh-ed25519 SHA256:...`).
        key: String,
    },

    #[error(
        "REFUSING TO CONNECT: THE HOST KEY OF THE SFTP SERVER {server} HAS CHANGED. It presented \
         the key {key}, but {} records a different key for it ({}). Someone \
         may be intercepting the connection, or the vendor replaced its key. Nothing was sent. \
         Ask the vendor, by another channel, whether and why its key changed and what the new \
         fingerprint is; only then replace the old entry in {}",
        known_hosts.display(), lines_text(lines), known_hosts.display()
    )]
    HostKeyChanged {
        server: String,
        known_hosts: PathBuf,
        lines: Vec<usize>,
        /// The key presented: its algorithm and SHA-256 fingerprint
        /// (`ssh-ed25519 SHA256:...`).
        key: String,
    },

    #[error(
        "REFUSING TO CONNECT: the SFTP server {server} presented the key {key}, \
         which {} marks @revoked (line {line}). Contact the vendor",
        known_hosts.display()
    )]
    HostKeyRevoked {
        server: String,
        known_hosts: PathBuf,
        line: usize,
        /// The key presented: its algorithm and SHA-256 fingerprint
        /// (`ssh-ed25519 SHA256:...`).
        key: String,
    },

    #[error(
        "cannot read the known_hosts file {} for the SFTP server {server}: {reason}",
        path.display()
    )]
    KnownHosts {
        server: String,
        path: PathBuf,
        reason: String,
    },

    #[error(
        "the SFTP server {server} refused to log in user {user:?} with the key {}: check \
         that the vendor has the matching public key ({}.pub) on file for that user",
        key_file.display(), key_file.display()
    )]
    AuthRefused {
        server: String,
        user: String,
        key_file: PathBuf,
    },

    #[error("cannot use the SSH key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },

    #[error(
        "the folder {dir:?} does not exist on the SFTP server {server} (or is not a folder): \
         check remote_dir with the vendor"
    )]
    RemoteDirMissing { server: String, dir: String },

    #[error(
        "uploading {} to {server} as {name:?}: the server holds {remote} bytes where the local \
         file has {local}; the partial file was removed and {name:?} left as it was",
        local_file.display()
    )]
    SizeMismatch {
        server: String,
        local_file: PathBuf,
        name: String,
        local: u64,
        remote: u64,
    },

    #[error("{name:?} is not a plain file name for the remote folder: {why}")]
    BadName { name: String, why: &'static str },

    #[error("upload rate must be at least 1 byte a second, not 0")]
    BadRate,

    #[error(
        "the SFTP server {server} refused the write of {file} (uploading {}): {reason}. \
         A server refuses a write most often because its disk is full or the account's \
         quota is used up: ask the vendor to make room, then run deliver again (files already \
         in place are not sent twice)",
        local_file.display()
    )]
    WriteRefused {
        server: String,
        /// The file on the server being written.
        file: String,
        local_file: PathBuf,
        reason: String,
    },

    #[error("{reason} (the SFTP server {server})")]
    BadRemoteDir { server: String, reason: String },

    #[error("the SFTP server {server} refused {doing}: {reason}")]
    Refused {
        server: String,
        doing: String,
        reason: String,
    },

    #[error("the connection to the SFTP server {server} failed while {doing}: {reason}")]
    Lost {
        server: String,
        doing: String,
        reason: String,
    },

    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn lines_text(lines: &[usize]) -> String {
    let list: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match list.len() {
        1 => format!("line {}", list[0]),
        _ => format!("lines {}", list.join(", ")),
    }
}

/// An SFTP error as the operator reads it: a status the server answered
/// (permission denied, no such file, ...) is a refusal; anything else means
/// the connection failed.
pub(super) fn sftp_error(target: &SftpTarget, doing: &str, e: SftpError) -> TransferError {
    match e {
        SftpError::Timeout => TransferError::Timeout {
            server: target.server(),
            doing: doing.to_string(),
            after: target.timeout,
        },
        SftpError::Status(s) => TransferError::Refused {
            server: target.server(),
            doing: doing.to_string(),
            reason: status_text(&s),
        },
        other => TransferError::Lost {
            server: target.server(),
            doing: doing.to_string(),
            reason: format!("the connection dropped ({other})"),
        },
    }
}

/// A status the server answered, as words: its message and its code.
pub(super) fn status_text(s: &russh_sftp::protocol::Status) -> String {
    if s.error_message.is_empty() || s.error_message == s.status_code.to_string() {
        format!("it answered {}", s.status_code)
    } else {
        format!("it answered {} ({})", s.error_message, s.status_code)
    }
}
