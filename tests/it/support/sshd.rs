//! A throwaway OpenSSH server for the SFTP tests: Debian's `/usr/sbin/sshd`
//! in the foreground, as the user running the tests, on a free port of
//! 127.0.0.1, with keys made for it by `ssh-keygen` in a temporary folder.
//!
//! It allows one thing: the current user, logging in with the user key
//! [`Sshd::user_key`], gets `internal-sftp` (no shell, no passwords). Root
//! is not needed: sshd runs unprivileged for logins as the same user when
//! `UsePAM no` and `StrictModes no` (the account must not be locked: a
//! system account such as `nobody` is refused). Under root (as in the CI
//! container) it needs Debian's privilege separation folder `/run/sshd`,
//! made if missing.
//!
//! Where sshd or ssh-keygen is not installed, [`Sshd::start`] skips the
//! test (see [`super::skip`]); under CI that is a failure.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{skip, InCi};

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "ssh-keygen";
const INSTALL: &str = "apt-get install openssh-server openssh-client";

/// How long sshd may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at a free port (another process may take the one picked
/// between our probe and sshd's bind).
const PORT_ATTEMPTS: usize = 5;

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    user: String,
}

impl Sshd {
    /// Starts a server, or returns `None` after skipping `part` where the
    /// OpenSSH tools are missing.
    #[track_caller]
    pub fn start(part: &str) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            skip(
                part,
                &format!("{SSHD} is not installed ({INSTALL}; .ci/run installs it)"),
                InCi::Fails,
            );
            return None;
        }
        if Command::new(SSH_KEYGEN)
            .arg("-?")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            skip(
                part,
                &format!("ssh-keygen is not installed ({INSTALL}; .ci/run installs it)"),
                InCi::Fails,
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("access-letters-sshd-")
            .tempdir()
            .expect("a temporary folder");
        for key in [
            "host_ed25519",
            "other_host_ed25519",
            "user_ed25519",
            "other_user_ed25519",
        ] {
            keygen(&dir.path().join(key), "ed25519");
        }
        fs::copy(
            dir.path().join("user_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        fs::create_dir(dir.path().join("remote")).unwrap();
        // Debian's sshd refuses to start as root without it.
        let _ = fs::create_dir_all("/run/sshd");
        let user = current_user();

        let log = dir.path().join("sshd.log");
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            fs::write(&config, sshd_config(dir.path(), port, &user)).unwrap();
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(fs::File::create(&log).unwrap())
                .stderr(fs::File::options().append(true).open(&log).unwrap())
                .spawn()
                .expect("sshd starts");
            if wait_ready(&mut child, port) {
                return Some(Sshd {
                    dir,
                    child,
                    port,
                    user,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start on any of {PORT_ATTEMPTS} ports; its last log:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user sshd lets in: whoever runs the tests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The private key sshd accepts for [`Sshd::user`].
    pub fn user_key(&self) -> PathBuf {
        self.path("user_ed25519")
    }

    /// A well-formed private key sshd does not accept.
    pub fn other_user_key(&self) -> PathBuf {
        self.path("other_user_ed25519")
    }

    /// A new user key of another type (`rsa`, `ecdsa`), accepted from now
    /// on like [`Sshd::user_key`].
    pub fn add_user_key(&self, kind: &str) -> PathBuf {
        let path = self.path(&format!("user_{kind}"));
        keygen(&path, kind);
        let public = fs::read_to_string(path.with_extension("pub")).unwrap();
        let mut authorized = fs::OpenOptions::new()
            .append(true)
            .open(self.path("authorized_keys"))
            .unwrap();
        std::io::Write::write_all(&mut authorized, public.as_bytes()).unwrap();
        path
    }

    /// A known_hosts file with the server's key under `[127.0.0.1]:PORT`.
    pub fn known_hosts(&self) -> PathBuf {
        self.known_hosts_for(self.port, "known_hosts")
    }

    /// The server's key recorded for another port (a proxy in front of
    /// it, say), in a file of its own.
    pub fn known_hosts_for(&self, port: u16, file: &str) -> PathBuf {
        self.known_hosts_with("host_ed25519.pub", port, file)
    }

    /// A known_hosts file recording another key for `[127.0.0.1]:PORT`: what
    /// a client sees when the server's key changed, or someone intercepts.
    pub fn wrong_known_hosts(&self) -> PathBuf {
        self.known_hosts_with("other_host_ed25519.pub", self.port, "wrong_known_hosts")
    }

    fn known_hosts_with(&self, public: &str, port: u16, file: &str) -> PathBuf {
        let key = fs::read_to_string(self.path(public)).unwrap();
        let path = self.path(file);
        fs::write(&path, format!("[127.0.0.1]:{port} {}", key.trim_end())).unwrap();
        path
    }

    /// The server's host key fingerprint, `SHA256:...`, as ssh-keygen shows it.
    pub fn host_fingerprint(&self) -> String {
        let out = Command::new(SSH_KEYGEN)
            .arg("-lf")
            .arg(self.path("host_ed25519.pub"))
            .output()
            .expect("ssh-keygen runs");
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }

    /// The folder uploads go to (a local folder: tests read it directly).
    pub fn remote_dir(&self) -> PathBuf {
        self.path("remote")
    }

    /// A file in the server's temporary folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// agency.toml's `[vendor]` section for this server, its host key
    /// checked against `known_hosts`.
    pub fn vendor_section(&self, production: bool, known_hosts: &Path) -> String {
        format!(
            "\n[vendor]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nkey_file = \"{}\"\nknown_hosts = \"{}\"\nremote_dir = \"{}\"\nproduction = {production}\ntimeout_seconds = 20\n",
            self.port(),
            self.user(),
            self.user_key().display(),
            known_hosts.display(),
            self.remote_dir().display()
        )
    }

    /// What sshd has logged so far (to show when a test fails).
    pub fn log(&self) -> String {
        fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the sshd `child` answers on `port` with an SSH banner, and
/// has not exited (another program may hold the port).
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + READY_TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut banner = String::new();
            let _ = BufReader::new(stream).read_line(&mut banner);
            if banner.starts_with("SSH-2.0-OpenSSH") {
                return matches!(child.try_wait(), Ok(None));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn keygen(path: &Path, kind: &str) {
    let out = Command::new(SSH_KEYGEN)
        .args([
            "-q",
            "-t",
            kind,
            "-N",
            "",
            "-C",
            "access-letters-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -f {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sshd_config(dir: &Path, port: u16, user: &str) -> String {
    let d = dir.display();
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         AllowUsers {user}\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         UsePAM no\n\
         StrictModes no\n\
         PidFile none\n\
         Subsystem sftp internal-sftp\n\
         ForceCommand internal-sftp\n\
         AllowTcpForwarding no\n\
         X11Forwarding no\n\
         LogLevel VERBOSE\n"
    )
}
