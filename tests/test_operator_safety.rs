//! Operator safety (issue 20): every command guards its folder, nothing
//! hangs, nothing hides a status. Each test is something that happened.
//!
//! Commands that probe huge flags or stalled peers run under a memory and a
//! time limit, so a regression fails the test instead of taking the host
//! down.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Address space a probed binary may use (`ulimit -v`, in KiB).
const PROBE_ADDRESS_SPACE_KIB: u64 = 8 * 1024 * 1024;

/// How long a probed command may take before it is killed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// A finished probe: exit status (None when killed by a signal), stderr.
struct Probe {
    code: Option<i32>,
    stderr: String,
}

/// Runs `cmd` through `sh -c` under [`PROBE_ADDRESS_SPACE_KIB`] and
/// [`PROBE_TIMEOUT`] (killed when it runs over).
fn run_bounded(cmd: &Command) -> Probe {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "ulimit -v {PROBE_ADDRESS_SPACE_KIB} && exec \"$@\""
        ))
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(name, value),
            None => sh.env_remove(name),
        };
    }
    let mut child = sh.spawn().expect("sh runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let reader_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_bounded(&mut child, PROBE_TIMEOUT);
    let _stdout = reader.join().unwrap();
    Probe {
        code: status.code(),
        stderr: reader_err.join().unwrap(),
    }
}

/// Waits for `child`, killing it (and failing the test) after `limit`.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command ran for {limit:?} without finishing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- item 5: --pieces-per-file is bounded, no allocation sized from it ----

#[test]
fn huge_pieces_per_file_is_refused_with_the_reason() {
    let wd = Workdir::new();
    let cmd = wd.command([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--output",
        "print",
        "--pieces-per-file",
        "1000000000",
    ]);
    let probe = run_bounded(&cmd);
    assert_eq!(probe.code, Some(EXIT_FAILED), "{}", probe.stderr);
    assert!(probe.stderr.contains("50000"), "{}", probe.stderr);
    assert!(probe.stderr.contains("vendors"), "{}", probe.stderr);
    assert!(wd.batch_dirs().is_empty(), "nothing is written");
}

#[test]
fn largest_pieces_per_file_runs_in_little_memory() {
    let wd = Workdir::new();
    let cmd = wd.command([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--output",
        "print",
        "--pieces-per-file",
        "50000",
    ]);
    let probe = run_bounded(&cmd);
    assert_eq!(probe.code, Some(EXIT_REJECTS), "{}", probe.stderr);
}
