//! No command waits forever for PostgreSQL. A server that takes the TCP
//! connection but never answers (its processes stopped, a frozen VM) is
//! played by a listener that accepts and says nothing: the kernel completes
//! the handshake exactly as it does for a SIGSTOPped server. Needs no real
//! server, so these always run.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A listener that accepts connections and never answers.
fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    (listener, port)
}

/// Runs `cmd`, killed after `limit` if still running; the output and how
/// long it took.
fn bounded(mut cmd: Command, limit: Duration, during: impl FnOnce(u32)) -> (Output, Duration) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("the command starts");
    let pid = child.id();
    during(pid);
    let waited = std::thread::spawn(move || child.wait_with_output());
    while !waited.is_finished() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    if !waited.is_finished() {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    (waited.join().unwrap().expect("the command ends"), took)
}

fn run_against(wd: &Workdir, port: u16) -> Command {
    let url = format!("postgres://al_user:s3cret-pw@127.0.0.1:{port}/ledger");
    wd.command([
        "run",
        "--input",
        repo_file("fixtures/filings.csv").to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--ledger",
        &url,
    ])
}

#[test]
fn a_server_that_never_answers_its_start_up_ends_the_run_within_the_deadline() {
    let (_server, port) = silent_server();
    let wd = Workdir::new();
    let mut cmd = run_against(&wd, port);
    cmd.env("ACCESS_LETTERS_LEDGER_TIMEOUT", "2");
    let (out, took) = bounded(cmd, Duration::from_secs(30), |_| {});
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(took < Duration::from_secs(2 + 5), "took {took:?}: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) || stderr.contains(&format!("port {port}")),
        "{stderr}"
    );
    assert!(stderr.contains("did not finish its start-up"), "{stderr}");
    assert!(
        !stderr.contains("s3cret-pw"),
        "the password leaked: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_first_sigterm_ends_a_run_waiting_for_the_server_and_says_so() {
    let (_server, port) = silent_server();
    let wd = Workdir::new();
    let mut cmd = run_against(&wd, port);
    cmd.env("ACCESS_LETTERS_LEDGER_TIMEOUT", "120");
    let (out, took) = bounded(cmd, Duration::from_secs(30), |pid| {
        std::thread::sleep(Duration::from_secs(1));
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(took < Duration::from_secs(1 + 5), "took {took:?}: {stderr}");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        out.status.code().is_some(),
        "ended by a signal, not by itself: {stderr}"
    );
    assert!(
        stderr.contains("stopped while waiting for the PostgreSQL"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing of that step was saved"),
        "{stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
}
