//! Connecting and logging in: TCP, the SSH handshake with the host key
//! judged against `known_hosts`, public key authentication, the SFTP
//! subsystem and a look at `remote_dir`. One deadline covers it all; each
//! step says what it was doing if the deadline passes.

use std::borrow::Cow;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::StatusCode;
use tokio::time::Instant;

use super::error::sftp_error;
use super::known_hosts::{judge, known_keys, preferred_host_key_algorithms, HostVerdict, KnownKey};
use super::{SftpTarget, TransferError};

/// The OpenSSH extension renaming over an existing file atomically
/// (rename(2)); the SFTP v3 rename refuses an existing target.
pub(super) const POSIX_RENAME: &str = "posix-rename@openssh.com";

/// A logged-in connection with SFTP open.
pub(super) struct Opened {
    pub ssh: client::Handle<HostCheck>,
    pub sftp: RawSftpSession,
    /// Does the server offer [`POSIX_RENAME`]?
    pub posix_rename: bool,
}

/// The keys `target.known_hosts` records for the target's server.
pub(super) fn read_known_hosts(target: &SftpTarget) -> Result<Vec<KnownKey>, TransferError> {
    let text =
        std::fs::read_to_string(&target.known_hosts).map_err(|e| TransferError::KnownHosts {
            server: target.server(),
            path: target.known_hosts.clone(),
            reason: e.to_string(),
        })?;
    Ok(known_keys(&text, &target.known_hosts_name()))
}

/// Connects and logs in, within `target.timeout` all told.
pub(super) async fn open(
    target: &SftpTarget,
    known: Vec<KnownKey>,
    key: Arc<PrivateKey>,
) -> Result<Opened, TransferError> {
    let by = Deadline {
        at: Instant::now() + target.timeout,
        target,
    };
    let mut ssh = handshake(&by, known).await?;
    log_in(&by, &mut ssh, key).await?;
    let (sftp, posix_rename) = open_sftp(&by, &ssh).await?;
    Ok(Opened {
        ssh,
        sftp,
        posix_rename,
    })
}

/// The one deadline of [`open`].
struct Deadline<'a> {
    at: Instant,
    target: &'a SftpTarget,
}

impl Deadline<'_> {
    /// `fut`, unless the deadline passes first: then a timeout saying what
    /// was being done.
    async fn within<T>(
        &self,
        doing: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, TransferError> {
        tokio::time::timeout_at(self.at, fut)
            .await
            .map_err(|_| TransferError::Timeout {
                server: self.target.server(),
                doing: doing.to_string(),
                after: self.target.timeout,
            })
    }

    fn lost(&self, doing: &str, e: russh::Error) -> TransferError {
        TransferError::Lost {
            server: self.target.server(),
            doing: doing.to_string(),
            reason: e.to_string(),
        }
    }
}

/// TCP and the SSH handshake, the host key judged by [`HostCheck`].
async fn handshake(
    by: &Deadline<'_>,
    known: Vec<KnownKey>,
) -> Result<client::Handle<HostCheck>, TransferError> {
    let target = by.target;
    let tcp = by
        .within(
            "connecting",
            tokio::net::TcpStream::connect((target.host.as_str(), target.port)),
        )
        .await?
        .map_err(|e| TransferError::Connect {
            server: target.server(),
            reason: e.to_string(),
        })?;
    let config = Arc::new(client::Config {
        preferred: russh::Preferred {
            key: Cow::Owned(preferred_host_key_algorithms(&known)),
            ..russh::Preferred::DEFAULT
        },
        nodelay: true,
        ..client::Config::default()
    });
    let refusal = Arc::new(Mutex::new(None));
    let handler = HostCheck {
        target: target.clone(),
        known,
        refusal: refusal.clone(),
    };
    let handshake = by
        .within(
            "waiting for the SSH handshake",
            client::connect_stream(config, tcp, handler),
        )
        .await?;
    handshake.map_err(|e| {
        let refused = refusal.lock().unwrap_or_else(|e| e.into_inner()).take();
        refused.unwrap_or_else(|| TransferError::Connect {
            server: target.server(),
            reason: format!("the SSH handshake failed: {e}"),
        })
    })
}

/// Public key authentication as `target.user`.
async fn log_in(
    by: &Deadline<'_>,
    ssh: &mut client::Handle<HostCheck>,
    key: Arc<PrivateKey>,
) -> Result<(), TransferError> {
    let target = by.target;
    let doing = "logging in";
    let hash_alg = if key.algorithm().is_rsa() {
        let best = by
            .within(doing, ssh.best_supported_rsa_hash())
            .await?
            .map_err(|e| by.lost(doing, e))?;
        // No server-sig-algs extension: rsa-sha2-256 is the safe guess.
        best.unwrap_or(Some(HashAlg::Sha256))
    } else {
        None
    };
    let auth = by
        .within(
            doing,
            ssh.authenticate_publickey(
                target.user.clone(),
                PrivateKeyWithHashAlg::new(key, hash_alg),
            ),
        )
        .await?
        .map_err(|e| by.lost(doing, e))?;
    if auth.success() {
        Ok(())
    } else {
        Err(TransferError::AuthRefused {
            server: target.server(),
            user: target.user.clone(),
            key_file: target.key_file.clone(),
        })
    }
}

/// The SFTP subsystem, its extensions, and a check that `remote_dir` is a
/// folder.
async fn open_sftp(
    by: &Deadline<'_>,
    ssh: &client::Handle<HostCheck>,
) -> Result<(RawSftpSession, bool), TransferError> {
    let target = by.target;
    let doing = "opening SFTP";
    let channel = by
        .within(doing, async {
            let channel = ssh.channel_open_session().await?;
            channel.request_subsystem(true, "sftp").await?;
            Ok::<_, russh::Error>(channel)
        })
        .await?
        .map_err(|e| by.lost(doing, e))?;
    let sftp = RawSftpSession::new_with_config(
        channel.into_stream(),
        russh_sftp::client::Config {
            request_timeout_secs: target.timeout.as_secs().max(1),
            ..Default::default()
        },
    );
    let version = by
        .within(doing, sftp.init())
        .await?
        .map_err(|e| sftp_error(target, doing, e))?;
    let posix_rename = version
        .extensions
        .get(POSIX_RENAME)
        .is_some_and(|v| v == "1");

    let doing = "looking up remote_dir";
    let missing = || TransferError::RemoteDirMissing {
        server: target.server(),
        dir: target.remote_dir.clone(),
    };
    match by
        .within(doing, sftp.stat(target.remote_dir.clone()))
        .await?
    {
        Ok(attrs) if attrs.attrs.is_dir() => Ok((sftp, posix_rename)),
        Ok(_) => Err(missing()),
        Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Err(missing()),
        Err(e) => Err(sftp_error(target, doing, e)),
    }
}

/// Reads an OpenSSH private key. Errors name the file and say what is
/// wrong with it, never what is in it.
pub(super) fn load_key(path: &Path) -> Result<PrivateKey, TransferError> {
    let fail = |reason: String| TransferError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| fail("it is not a text file (an OpenSSH private key is)".into()))?;
    if text.trim_start().starts_with("ssh-") || text.trim_start().starts_with("ecdsa-") {
        return Err(fail(
            "it is a public key; give the private key (the file without .pub)".into(),
        ));
    }
    russh::keys::decode_secret_key(text, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => fail(
            "it is protected by a passphrase; deliver runs unattended and needs an \
             unencrypted key (protect it with the file's permissions instead)"
                .into(),
        ),
        other => fail(format!(
            "it is not an OpenSSH private key this program can use ({other})"
        )),
    })
}

/// The russh client handler: judges the server's host key.
pub(super) struct HostCheck {
    target: SftpTarget,
    known: Vec<KnownKey>,
    /// Why the key was refused, for `connect` to report (russh itself only
    /// says "unknown server key").
    refusal: Arc<Mutex<Option<TransferError>>>,
}

impl HostCheck {
    fn refusal(&self, key: &PublicKeyOrCertificate) -> Option<TransferError> {
        let t = &self.target;
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return Some(TransferError::Connect {
                    server: t.server(),
                    reason: "the server presented a host certificate, which is not supported; \
                             record its plain host key in known_hosts"
                        .into(),
                });
            }
        };
        let verdict = judge(&self.known, key);
        let key = format!(
            "{} {}",
            key.algorithm().as_str(),
            key.fingerprint(HashAlg::Sha256)
        );
        match verdict {
            HostVerdict::Known => None,
            HostVerdict::Unknown => Some(TransferError::UnknownHost {
                server: t.server(),
                host: t.host.clone(),
                port: t.port,
                known_hosts: t.known_hosts.clone(),
                key,
            }),
            HostVerdict::Changed { lines } => Some(TransferError::HostKeyChanged {
                server: t.server(),
                known_hosts: t.known_hosts.clone(),
                lines,
                key,
            }),
            HostVerdict::Revoked { line } => Some(TransferError::HostKeyRevoked {
                server: t.server(),
                known_hosts: t.known_hosts.clone(),
                line,
                key,
            }),
        }
    }
}

impl client::Handler for HostCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match self.refusal(key) {
            None => Ok(true),
            Some(refusal) => {
                *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(refusal);
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ me@host";

    #[test]
    fn key_file_errors_name_the_file_not_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "NOT-A-KEY-BUT-SECRET-LOOKING-TEXT";
        let path = dir.path().join("id_ed25519");
        std::fs::write(&path, secret).unwrap();
        let err = load_key(&path).unwrap_err().to_string();
        assert!(err.contains("id_ed25519"), "{err}");
        assert!(!err.contains(secret), "{err}");

        let public = dir.path().join("id.pub");
        std::fs::write(&public, PUBLIC).unwrap();
        let err = load_key(&public).unwrap_err().to_string();
        assert!(err.contains("public key"), "{err}");

        let err = load_key(&dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent"), "{err}");
    }
}
