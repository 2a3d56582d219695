//! The SFTP transport `deliver` hands batches over with, against a real
//! OpenSSH server ([`Sshd`]): files land whole under their names, an upload
//! replaces a file atomically and survives a killed one, a server not
//! vouched for in known_hosts (or whose key changed) is refused, a wrong
//! key is an authentication error, and nothing hangs: a silent server, a
//! cut connection and a stalled one all end in an error within the timeout.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use access_letters::deliver::sftp::{SftpSession, SftpTarget, TransferError};
use sha2::{Digest, Sha256};

use crate::support::sshd::Sshd;
use crate::support::{assert_none_in, wait_until};

/// The timeout of a target in these tests, except where a test waits for
/// it to run out.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A target for `sshd`, logging in with its user key.
fn target(sshd: &Sshd) -> SftpTarget {
    SftpTarget {
        host: "127.0.0.1".into(),
        port: sshd.port(),
        user: sshd.user().into(),
        key_file: sshd.user_key(),
        known_hosts: sshd.known_hosts(),
        remote_dir: sshd.remote_dir().to_str().unwrap().into(),
        timeout: TIMEOUT,
    }
}

#[track_caller]
fn connect(sshd: &Sshd, target: &SftpTarget) -> SftpSession {
    SftpSession::connect(target)
        .unwrap_or_else(|e| panic!("connect: {e}\n--- sshd log\n{}", sshd.log()))
}

/// `len` bytes that do not repeat: no chunk of an upload looks like another.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The lines of a private key file between its armour: what must never
/// show up in an error.
fn key_body(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_string)
        .collect()
}

#[track_caller]
fn assert_no_key_in(err: &TransferError, key: &Path) {
    let text = format!("{err}\n{err:?}");
    assert_none_in(&key_body(key), text.as_bytes(), "the error");
}

#[test]
fn uploads_land_whole_under_their_names() {
    let Some(sshd) = Sshd::start("the SFTP upload test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let big = noise(2 * 1024 * 1024 + 123, 1);
    let small = b"receipt,piece\n".to_vec();
    fs::write(work.path().join("print-0001.pdf"), &big).unwrap();
    fs::write(work.path().join("manifest.csv"), &small).unwrap();
    fs::write(work.path().join("empty.txt"), b"").unwrap();

    let mut s = connect(&sshd, &target(&sshd));
    assert!(s.atomic_replace(), "OpenSSH offers posix-rename");
    for name in ["print-0001.pdf", "manifest.csv", "empty.txt"] {
        let local = work.path().join(name);
        let sent = s.upload(&local, name, None).unwrap();
        assert_eq!(sent, fs::metadata(&local).unwrap().len(), "{name}");
    }
    let control = br#"{"batch":"2026-11-25"}"#;
    assert_eq!(
        s.upload_bytes(control, "batch.json").unwrap(),
        control.len() as u64
    );
    assert_eq!(s.upload_bytes(b"", ".ready").unwrap(), 0);

    let remote = sshd.remote_dir();
    let want = [
        ".ready",
        "batch.json",
        "empty.txt",
        "manifest.csv",
        "print-0001.pdf",
    ];
    assert_eq!(names_in(&remote), want, "no temporary names remain");
    assert_eq!(s.list().unwrap(), want);
    assert_eq!(
        sha256(&fs::read(remote.join("print-0001.pdf")).unwrap()),
        sha256(&big)
    );
    assert_eq!(fs::read(remote.join("manifest.csv")).unwrap(), small);
    assert_eq!(fs::read(remote.join("batch.json")).unwrap(), control);
    assert_eq!(
        s.remote_size("print-0001.pdf").unwrap(),
        Some(big.len() as u64)
    );
    assert_eq!(s.remote_size("empty.txt").unwrap(), Some(0));
    assert_eq!(s.remote_size("absent.pdf").unwrap(), None);

    s.remove("manifest.csv").unwrap();
    s.remove("manifest.csv").unwrap();
    assert_eq!(s.remote_size("manifest.csv").unwrap(), None);
    s.close().unwrap();
}

#[test]
fn an_upload_replaces_a_file_atomically() {
    let Some(sshd) = Sshd::start("the SFTP replace test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let versions = [noise(300_000, 2), noise(200_000, 3)];
    let locals: Vec<_> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let p = work.path().join(format!("v{i}"));
            fs::write(&p, v).unwrap();
            p
        })
        .collect();
    let mut s = connect(&sshd, &target(&sshd));
    s.upload(&locals[0], "print-0001.pdf", None).unwrap();

    // A reader watching the file while it is replaced over and over sees
    // one whole version or the other, never no file, never a mix.
    let remote = sshd.remote_dir().join("print-0001.pdf");
    let stop = Arc::new(AtomicBool::new(false));
    let digests = [sha256(&versions[0]), sha256(&versions[1])];
    let watcher = {
        let (stop, digests) = (stop.clone(), digests.clone());
        thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let bytes = fs::read(&remote).expect("the file is always there");
                assert!(digests.contains(&sha256(&bytes)), "a mixed or partial file");
                reads += 1;
            }
            reads
        })
    };
    for round in 1..=10 {
        s.upload(&locals[round % 2], "print-0001.pdf", None)
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads = watcher.join().expect("the watcher saw only whole files");
    assert!(reads > 0);
    assert_eq!(
        fs::read(sshd.remote_dir().join("print-0001.pdf")).unwrap(),
        versions[0],
        "the last upload won"
    );
    assert_eq!(names_in(&sshd.remote_dir()), ["print-0001.pdf"]);
}

#[test]
fn a_stale_part_file_from_a_killed_upload_is_overwritten() {
    let Some(sshd) = Sshd::start("the SFTP stale part test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let content = noise(100_000, 4);
    let local = work.path().join("print-0002.pdf");
    fs::write(&local, &content).unwrap();
    // Longer than the new file: it must be truncated, not written over.
    fs::write(
        sshd.remote_dir().join(".print-0002.pdf.part"),
        noise(500_000, 5),
    )
    .unwrap();

    let mut s = connect(&sshd, &target(&sshd));
    assert_eq!(s.list().unwrap(), [".print-0002.pdf.part"]);
    s.upload(&local, "print-0002.pdf", None).unwrap();
    assert_eq!(names_in(&sshd.remote_dir()), ["print-0002.pdf"]);
    assert_eq!(
        fs::read(sshd.remote_dir().join("print-0002.pdf")).unwrap(),
        content
    );
}

#[test]
fn a_write_the_server_refuses_names_the_file_and_says_the_disk_may_be_full() {
    let Some(sshd) = Sshd::start("the SFTP full disk test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("print-0004.pdf");
    fs::write(&local, noise(200_000, 6)).unwrap();
    // The server's write fails as on a full disk: its file is /dev/full,
    // where every write(2) is ENOSPC (OpenSSH answers SSH_FX_FAILURE).
    let part = sshd.remote_dir().join(".print-0004.pdf.part");
    std::os::unix::fs::symlink("/dev/full", &part).unwrap();

    let mut s = connect(&sshd, &target(&sshd));
    let err = s.upload(&local, "print-0004.pdf", None).unwrap_err();
    assert!(matches!(err, TransferError::WriteRefused { .. }), "{err:?}");
    let text = err.to_string();
    for said in [
        "refused the write of",
        ".print-0004.pdf.part",
        "print-0004.pdf",
        "disk is full",
        "quota",
    ] {
        assert!(text.contains(said), "{said:?} in: {text}");
    }
    assert!(!sshd.remote_dir().join("print-0004.pdf").exists());
}

#[test]
fn a_remote_dir_with_dot_dot_is_refused_before_connecting() {
    let Some(sshd) = Sshd::start("the SFTP remote_dir test") else {
        return;
    };
    let mut t = target(&sshd);
    t.remote_dir = format!("{}/../remote", sshd.remote_dir().display());
    let err = SftpSession::connect(&t).unwrap_err();
    assert!(matches!(err, TransferError::BadRemoteDir { .. }), "{err:?}");
    assert!(err.to_string().contains("contains `..`"), "{err}");
}

#[test]
fn a_file_that_grows_while_it_is_sent_is_a_size_mismatch() {
    let Some(sshd) = Sshd::start("the SFTP size mismatch test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("print-0006.pdf");
    fs::write(&local, noise(256 * 1024, 9)).unwrap();
    let mut s = connect(&sshd, &target(&sshd));
    let part = sshd.remote_dir().join(".print-0006.pdf.part");
    let upload = {
        let local = local.clone();
        // A second's worth at this rate: time to append before the end.
        thread::spawn(move || s.upload(&local, "print-0006.pdf", Some(256 * 1024)))
    };
    assert!(
        wait_until(Duration::from_secs(10), || fs::metadata(&part)
            .is_ok_and(|m| m.len() > 0)),
        "the upload started"
    );
    fs::OpenOptions::new()
        .append(true)
        .open(&local)
        .unwrap()
        .write_all(&[0u8; 1000])
        .unwrap();
    let err = upload.join().unwrap().expect_err("the sizes differ");
    assert!(matches!(err, TransferError::SizeMismatch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("print-0006.pdf") && text.contains("262144"),
        "{text}"
    );
    assert!(
        names_in(&sshd.remote_dir()).is_empty(),
        "neither the file nor its .part is left"
    );
}

#[test]
fn an_upload_cut_midway_errs_and_the_next_one_completes() {
    let Some(sshd) = Sshd::start("the SFTP cut connection test") else {
        return;
    };
    let relay = Relay::start(sshd.port());
    let mut via_relay = target(&sshd);
    via_relay.port = relay.port;
    via_relay.known_hosts = sshd.known_hosts_for(relay.port, "relay_known_hosts");
    let work = tempfile::tempdir().unwrap();
    let content = noise(1024 * 1024, 6);
    let local = work.path().join("print-0003.pdf");
    fs::write(&local, &content).unwrap();

    let mut s = connect(&sshd, &via_relay);
    let part = sshd.remote_dir().join(".print-0003.pdf.part");
    let upload = {
        let local = local.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let r = s.upload(&local, "print-0003.pdf", Some(128 * 1024));
            (r, start.elapsed())
        })
    };
    assert!(
        wait_until(Duration::from_secs(10), || fs::metadata(&part)
            .is_ok_and(|m| m.len() > 0)),
        "the upload started"
    );
    relay.cut();
    let (result, took) = upload.join().unwrap();
    let err = result.expect_err("a cut connection is an error");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        matches!(
            err,
            TransferError::Lost { .. } | TransferError::Timeout { .. }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", relay.port)),
        "{err}"
    );
    assert!(
        !sshd.remote_dir().join("print-0003.pdf").exists(),
        "half a file never appears under its name"
    );
    assert!(part.exists(), "the cut upload left its .part");

    let mut s = connect(&sshd, &target(&sshd));
    s.upload(&local, "print-0003.pdf", None).unwrap();
    assert_eq!(names_in(&sshd.remote_dir()), ["print-0003.pdf"]);
    assert_eq!(
        sha256(&fs::read(sshd.remote_dir().join("print-0003.pdf")).unwrap()),
        sha256(&content)
    );
}

#[test]
fn a_server_that_stalls_midway_times_out() {
    let Some(sshd) = Sshd::start("the SFTP stalled server test") else {
        return;
    };
    let relay = Relay::start(sshd.port());
    let mut via_relay = target(&sshd);
    via_relay.port = relay.port;
    via_relay.known_hosts = sshd.known_hosts_for(relay.port, "relay_known_hosts");
    via_relay.timeout = Duration::from_secs(2);
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("print-0004.pdf");
    fs::write(&local, noise(1024 * 1024, 7)).unwrap();

    let mut s = connect(&sshd, &via_relay);
    let part = sshd.remote_dir().join(".print-0004.pdf.part");
    let upload = thread::spawn(move || {
        let start = Instant::now();
        let r = s.upload(&local, "print-0004.pdf", Some(128 * 1024));
        drop(s);
        (r, start.elapsed())
    });
    assert!(
        wait_until(Duration::from_secs(10), || fs::metadata(&part)
            .is_ok_and(|m| m.len() > 0)),
        "the upload started"
    );
    let stalled_at = Instant::now();
    relay.stall();
    let (result, _) = upload.join().unwrap();
    let waited = stalled_at.elapsed();
    let err = result.expect_err("a stalled server is an error");
    assert!(matches!(err, TransferError::Timeout { .. }), "{err:?}");
    assert!(waited < Duration::from_secs(15), "gave up after {waited:?}");
    assert!(err.to_string().contains("stopped answering"), "{err}");
}

#[test]
fn a_server_that_never_speaks_times_out() {
    let Some(sshd) = Sshd::start("the SFTP silent server test") else {
        return;
    };
    // Accepts connections and holds them, saying nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let held = held.clone();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                held.lock().unwrap().push(conn);
            }
        });
    }
    let mut silent = target(&sshd);
    silent.port = port;
    silent.timeout = Duration::from_secs(2);
    let start = Instant::now();
    let err = SftpSession::connect(&silent).expect_err("a silent server is an error");
    let took = start.elapsed();
    assert!(matches!(err, TransferError::Timeout { .. }), "{err:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("handshake"), "{text}");
}

#[test]
fn a_closed_port_is_a_connect_error() {
    let Some(sshd) = Sshd::start("the SFTP closed port test") else {
        return;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut closed = target(&sshd);
    closed.port = port;
    let err = SftpSession::connect(&closed).expect_err("nothing listens");
    assert!(matches!(err, TransferError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn an_unknown_server_is_refused_with_how_to_add_it() {
    let Some(sshd) = Sshd::start("the SFTP unknown host test") else {
        return;
    };
    let mut t = target(&sshd);
    t.known_hosts = sshd.path("empty_known_hosts");
    fs::write(&t.known_hosts, "").unwrap();
    let err = SftpSession::connect(&t).expect_err("an unknown host is refused");
    assert!(matches!(err, TransferError::UnknownHost { .. }), "{err:?}");
    let text = err.to_string();
    let port = sshd.port();
    for want in [
        format!("127.0.0.1:{port}"),
        format!(
            "ssh-keyscan -p {port} 127.0.0.1 >> {}",
            t.known_hosts.display()
        ),
        sshd.host_fingerprint(),
        "by another channel".into(),
    ] {
        assert!(text.contains(&want), "{want:?} missing from: {text}");
    }
    assert_no_key_in(&err, &t.key_file);
    assert!(names_in(&sshd.remote_dir()).is_empty());

    // A known_hosts file that is not there is its own error.
    t.known_hosts = sshd.path("no_such_known_hosts");
    let err = SftpSession::connect(&t).expect_err("no known_hosts file");
    assert!(matches!(err, TransferError::KnownHosts { .. }), "{err:?}");
    assert!(err.to_string().contains("no_such_known_hosts"), "{err}");
}

#[test]
fn a_changed_host_key_is_refused_loudly() {
    let Some(sshd) = Sshd::start("the SFTP changed host key test") else {
        return;
    };
    let mut t = target(&sshd);
    t.known_hosts = sshd.wrong_known_hosts();
    let err = SftpSession::connect(&t).expect_err("a changed key is refused");
    assert!(
        matches!(err, TransferError::HostKeyChanged { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("HAS CHANGED"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", sshd.port())),
        "{text}"
    );
    assert!(text.contains(&sshd.host_fingerprint()), "{text}");
    assert!(text.contains("line 1"), "{text}");
    assert_no_key_in(&err, &t.key_file);
    assert!(names_in(&sshd.remote_dir()).is_empty());
}

#[test]
fn hashed_known_hosts_entries_are_accepted() {
    let Some(sshd) = Sshd::start("the SFTP hashed known_hosts test") else {
        return;
    };
    let mut t = target(&sshd);
    t.known_hosts = sshd.path("hashed_known_hosts");
    fs::copy(sshd.known_hosts(), &t.known_hosts).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&t.known_hosts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hashed = fs::read_to_string(&t.known_hosts).unwrap();
    assert!(
        hashed.starts_with("|1|") && !hashed.contains("127.0.0.1"),
        "{hashed}"
    );
    connect(&sshd, &t).close().unwrap();
}

#[test]
fn rsa_and_ecdsa_user_keys_log_in() {
    let Some(sshd) = Sshd::start("the SFTP rsa and ecdsa key test") else {
        return;
    };
    for kind in ["rsa", "ecdsa"] {
        let mut t = target(&sshd);
        t.key_file = sshd.add_user_key(kind);
        let mut s = connect(&sshd, &t);
        s.upload_bytes(kind.as_bytes(), kind).unwrap();
        s.close().unwrap();
        assert_eq!(
            fs::read(sshd.remote_dir().join(kind)).unwrap(),
            kind.as_bytes()
        );
    }
}

#[test]
fn a_key_the_server_does_not_accept_is_an_authentication_error() {
    let Some(sshd) = Sshd::start("the SFTP wrong key test") else {
        return;
    };
    let mut t = target(&sshd);
    t.key_file = sshd.other_user_key();
    let err = SftpSession::connect(&t).expect_err("the wrong key is refused");
    assert!(matches!(err, TransferError::AuthRefused { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(sshd.user()), "{text}");
    assert!(text.contains("other_user_ed25519"), "{text}");
    assert_no_key_in(&err, &t.key_file);

    t.key_file = sshd.path("no_such_key");
    let err = SftpSession::connect(&t).expect_err("no key file");
    assert!(matches!(err, TransferError::KeyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("no_such_key"), "{err}");
}

#[test]
fn a_missing_remote_dir_is_named() {
    let Some(sshd) = Sshd::start("the SFTP missing remote_dir test") else {
        return;
    };
    let mut t = target(&sshd);
    t.remote_dir = format!("{}/incoming", t.remote_dir);
    let err = SftpSession::connect(&t).expect_err("no such folder");
    assert!(
        matches!(err, TransferError::RemoteDirMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("incoming"), "{err}");
}

#[test]
fn names_that_leave_the_folder_are_refused() {
    let Some(sshd) = Sshd::start("the SFTP name check test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("x");
    fs::write(&local, b"x").unwrap();
    let mut s = connect(&sshd, &target(&sshd));
    for name in ["../escaped", "sub/x", "..", ".", "", "/tmp/x"] {
        let err = s.upload(&local, name, None).expect_err(name);
        assert!(
            matches!(err, TransferError::BadName { .. }),
            "{name:?}: {err:?}"
        );
        let err = s.upload_bytes(b"x", name).expect_err(name);
        assert!(
            matches!(err, TransferError::BadName { .. }),
            "{name:?}: {err:?}"
        );
        assert!(s.remove(name).is_err(), "{name:?}");
        assert!(s.remote_size(name).is_err(), "{name:?}");
    }
    assert!(names_in(&sshd.remote_dir()).is_empty());
    assert!(!sshd.path("escaped").exists());
}

#[test]
fn a_rate_limit_spreads_an_upload_over_time() {
    let Some(sshd) = Sshd::start("the SFTP rate limit test") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let content = noise(1024 * 1024, 8);
    let local = work.path().join("print-0005.pdf");
    fs::write(&local, &content).unwrap();
    let mut s = connect(&sshd, &target(&sshd));
    let start = Instant::now();
    s.upload(&local, "print-0005.pdf", Some(256 * 1024))
        .unwrap();
    let took = start.elapsed();
    // 1 MiB at 256 KiB/s is 4 s; generous bounds, the machine may be busy.
    assert!(took >= Duration::from_secs(3), "took only {took:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(
        fs::read(sshd.remote_dir().join("print-0005.pdf")).unwrap(),
        content
    );
}

/// A TCP relay in front of sshd that a test can cut (as a dropped line
/// does) or stall (as a hung server does).
struct Relay {
    port: u16,
    state: Arc<RelayState>,
}

#[derive(Default)]
struct RelayState {
    stalled: AtomicBool,
    closed: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(RelayState::default());
        let accept_state = state.clone();
        thread::spawn(move || {
            for down in listener.incoming() {
                if accept_state.closed.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(down) = down else { break };
                let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let mut streams = accept_state.streams.lock().unwrap();
                streams.push(down.try_clone().unwrap());
                streams.push(up.try_clone().unwrap());
                drop(streams);
                for (from, to) in [
                    (down.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up, down),
                ] {
                    let state = accept_state.clone();
                    thread::spawn(move || pump(from, to, &state));
                }
            }
        });
        Relay { port, state }
    }

    /// Closes every relayed connection, both ways.
    fn cut(&self) {
        for s in self.state.streams.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Stops relaying bytes, connections left open.
    fn stall(&self) {
        self.state.stalled.store(true, Ordering::Relaxed);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::Relaxed);
        self.cut();
        // Wakes the accept loop so it sees `closed`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, state: &RelayState) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        while state.stalled.load(Ordering::Relaxed) {
            if state.closed.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
