//! Key files as an operator can get them wrong: `--key` pointing at a
//! device, a pipe or a huge file is refused at once with a sentence, never
//! read until the machine runs out of memory (issue 12, finding 5).
//!
//! Every command here runs under a memory limit and a time limit, so a
//! regression fails the test instead of taking the host down.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// Address space the probed binary may use (`ulimit -v`, in KiB): far more
/// than a run of the fixtures needs, far less than the machine has.
const PROBE_ADDRESS_SPACE_KIB: u64 = 8 * 1024 * 1024;

/// How long a refusal may take; a correct one takes milliseconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cmd` under [`PROBE_ADDRESS_SPACE_KIB`] and [`PROBE_TIMEOUT`]
/// (killed when it runs over) and returns (exit status, stderr).
fn run_bounded(cmd: &Command) -> (Option<i32>, String) {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "ulimit -v {PROBE_ADDRESS_SPACE_KIB} && exec \"$@\""
        ))
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(name, value),
            None => sh.env_remove(name),
        };
    }
    let started = Instant::now();
    let mut child = sh.spawn().expect("sh runs");
    let mut status = None;
    let finished = wait_until(PROBE_TIMEOUT, || {
        status = child.try_wait().expect("wait works");
        status.is_some()
    });
    if !finished {
        child.kill().expect("kill works");
        child.wait().expect("wait works");
        panic!(
            "the command ran for {:?} without finishing",
            started.elapsed()
        );
    }
    let status = status.expect("finished");
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut stderr)
        .expect("stderr is UTF-8");
    (status.code(), stderr)
}

fn run_with_key(wd: &Workdir, key: &Path) -> Command {
    wd.command([
        "run".as_ref(),
        "--input".as_ref(),
        fixtures_csv().as_os_str(),
        "--batch-date".as_ref(),
        BATCH_DATE.as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
    ])
}

#[test]
fn unbounded_key_read_run_with_dev_zero_key_is_refused() {
    let wd = Workdir::new();
    let (code, stderr) = run_bounded(&run_with_key(&wd, Path::new("/dev/zero")));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("key file /dev/zero is not a regular file"),
        "{stderr}"
    );
}

#[test]
fn unbounded_key_read_run_with_fifo_key_does_not_wait_for_a_writer() {
    let wd = Workdir::new();
    let fifo = wd.path("key.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let (code, stderr) = run_bounded(&run_with_key(&wd, &fifo));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is not a regular file"), "{stderr}");
}

#[test]
fn unbounded_key_read_run_with_huge_key_file_names_its_size() {
    let wd = Workdir::new();
    let big = wd.write("big.key", vec![b'#'; 1 << 20]);
    let (code, stderr) = run_bounded(&run_with_key(&wd, &big));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is 1048576 bytes; a key file is at most 4096 bytes"),
        "{stderr}"
    );
}
