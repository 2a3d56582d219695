//! The scheduler files in `deploy/`: the crontab line runs the command it
//! names, with the exit statuses the README promises, and the systemd units
//! pass `systemd-analyze verify` and score at most 3.0 on
//! `systemd-analyze security` (skipped, with a word, where systemd is not
//! installed; a failure under CI, whose `.ci/run` installs it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const INSTALLED_DIR: &str = "/usr/local/libexec/access-letters/";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The command of the one schedule line in deploy/crontab (fields 6 and on).
fn crontab_command() -> String {
    let text = fs::read_to_string(repo().join("deploy/crontab")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(lines.len(), 1, "deploy/crontab holds one schedule line");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert!(
        fields.len() > 5,
        "a crontab line is five time fields and a command"
    );
    assert_eq!(
        &fields[..5],
        &["30", "1", "*", "*", "*"],
        "every night at 01:30"
    );
    fields[5..].join(" ")
}

/// The installed path of the crontab command, mapped to this checkout.
fn script_in_checkout(command: &str) -> PathBuf {
    let name = command
        .strip_prefix(INSTALLED_DIR)
        .unwrap_or_else(|| panic!("crontab command {command} is not under {INSTALLED_DIR}"));
    let path = repo().join("deploy").join(name);
    assert!(path.is_file(), "{} is shipped in deploy/", path.display());
    path
}

struct Night {
    dir: tempfile::TempDir,
}

impl Night {
    fn new() -> Night {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("drop")).unwrap();
        Night { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn drop_file(&self, name: &str, from: &Path) {
        fs::copy(from, self.path("drop").join(name)).unwrap();
    }

    fn run(&self) -> Output {
        self.run_with(&[])
    }

    fn run_with(&self, env: &[(&str, &Path)]) -> Output {
        let script = script_in_checkout(&crontab_command());
        Command::new("sh")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .arg(script)
            .env("ACCESS_LETTERS_BIN", env!("CARGO_BIN_EXE_access-letters"))
            .env("ACCESS_LETTERS_DROP", self.path("drop"))
            .env("ACCESS_LETTERS_OUT", self.path("out"))
            .env("ACCESS_LETTERS_KEY", repo().join("fixtures/test.key"))
            .env("ACCESS_LETTERS_LOG", self.path("nightly.log"))
            .env("ACCESS_LETTERS_LOCK", self.path("nightly.lock"))
            .output()
            .unwrap()
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path("nightly.log")).unwrap_or_default()
    }

    fn batches(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(self.path("out"))
            .map(|rd| {
                rd.map(|e| e.unwrap().path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }
}

#[test]
fn the_crontab_line_runs_every_file_of_the_drop_as_its_own_batch() {
    let night = Night::new();
    night.drop_file("a-filings.csv", &repo().join("fixtures/filings.csv"));
    let out = night.run();
    // The fixtures carry deliberately bad rows: done, with rejects to review.
    assert_eq!(out.status.code(), Some(2), "log:\n{}", night.log());
    let batches = night.batches();
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert!(batches[0].join("batch.json").is_file());
    assert!(
        night.log().contains("done with rejects to review"),
        "{}",
        night.log()
    );

    // Run again: the same batch is complete, nothing new, still status 2.
    let again = night.run();
    assert_eq!(again.status.code(), Some(2), "log:\n{}", night.log());
    assert_eq!(night.batches().len(), 1);
}

#[test]
fn with_delivery_on_the_night_hands_each_batch_to_the_vendor_once() {
    let Some(sshd) = crate::support::sshd::Sshd::start("the nightly script's deliver step") else {
        return;
    };
    let night = Night::new();
    night.drop_file("a-filings.csv", &repo().join("fixtures/filings.csv"));
    let text = fs::read_to_string(repo().join("templates/agency.toml")).unwrap();
    let vendor = sshd.vendor_section(false, &sshd.known_hosts());
    let config = night.path("agency.toml");
    fs::write(&config, text + &vendor).unwrap();
    let env = [
        ("ACCESS_LETTERS_CONFIG", config.as_path()),
        ("ACCESS_LETTERS_DELIVER", Path::new("yes")),
    ];
    let out = night.run_with(&env);
    assert_eq!(out.status.code(), Some(2), "log:\n{}", night.log());
    assert!(
        night.log().contains("delivered to the print vendor"),
        "{}",
        night.log()
    );
    let batch = night.batches()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(sshd.remote_dir().join(format!("{batch}.ready")).is_file());
    // The same night again: nothing is sent twice.
    let again = night.run_with(&env);
    assert_eq!(again.status.code(), Some(2), "log:\n{}", night.log());
    assert!(
        night.log().contains("already delivered: "),
        "{}",
        night.log()
    );
}

#[test]
fn an_empty_drop_folder_is_a_failed_night() {
    let night = Night::new();
    let out = night.run();
    assert_eq!(out.status.code(), Some(1));
    assert!(night.log().contains("no input files"), "{}", night.log());
}

#[test]
fn a_bad_input_file_fails_the_night_and_says_which() {
    let night = Night::new();
    fs::write(
        night.path("drop").join("b.csv"),
        "not,a,filings,file\n1,2,3,4\n",
    )
    .unwrap();
    let out = night.run();
    assert_eq!(out.status.code(), Some(1), "log:\n{}", night.log());
    assert!(night.log().contains("FAILED (exit 1)"), "{}", night.log());
    assert!(night.log().contains("b.csv"), "{}", night.log());
}

#[test]
fn a_second_nightly_run_does_not_start_while_one_holds_the_lock() {
    let night = Night::new();
    night.drop_file("a.csv", &repo().join("fixtures/filings.csv"));
    let lock = fs::File::create(night.path("nightly.lock")).unwrap();
    // Hold the lock from another process for the length of the attempt.
    let mut holder = Command::new("flock")
        .arg(night.path("nightly.lock"))
        .args(["sleep", "20"])
        .spawn()
        .expect("flock(1) from util-linux");
    // Wait until the holder has the lock: `flock -n` then finds it taken.
    let held = crate::support::wait_until(std::time::Duration::from_secs(20), || {
        Command::new("flock")
            .args([
                "-n".as_ref(),
                night.path("nightly.lock").as_os_str(),
                "true".as_ref(),
            ])
            .status()
            .is_ok_and(|s| !s.success())
    });
    assert!(held, "the holder never took the lock");
    let out = night.run();
    holder.kill().ok();
    holder.wait().ok();
    drop(lock);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        night.log().contains("another nightly run holds"),
        "{}",
        night.log()
    );
    assert!(night.batches().is_empty(), "no batch started");
}

#[test]
fn systemd_units_verify() {
    let Some(probe) = crate::support::tool(
        "systemd-analyze",
        &["--version".as_ref()],
        "the systemd units check",
        "apt-get install systemd; it runs without systemd as PID 1",
    ) else {
        return;
    };
    assert!(probe.status.success());
    // Verify copies whose ExecStart points at this checkout's script, since
    // systemd checks that the program exists.
    let dir = tempfile::tempdir().unwrap();
    let deploy = repo().join("deploy");
    let mut units = Vec::new();
    for name in [
        "access-letters-nightly.service",
        "access-letters-nightly.timer",
    ] {
        let text = fs::read_to_string(deploy.join(name)).unwrap();
        let text = text.replace(INSTALLED_DIR, &format!("{}/", deploy.display()));
        fs::write(dir.path().join(name), text).unwrap();
        units.push(dir.path().join(name));
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // The same check fails a unit whose program is missing (the shipped
    // unit names the installed path, not there on a test machine), so the
    // pass above means something.
    let shipped = deploy.join("access-letters-nightly.service");
    let bad = dir
        .path()
        .join("bad")
        .join("access-letters-nightly.service");
    fs::create_dir_all(bad.parent().unwrap()).unwrap();
    fs::copy(&shipped, &bad).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&bad)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "systemd-analyze verify passed a unit whose program does not exist"
    );
    let service = fs::read_to_string(deploy.join("access-letters-nightly.service")).unwrap();
    assert!(
        service.contains("SuccessExitStatus=2"),
        "rejects to review is not a failure"
    );
}

/// Most exposure `systemd-analyze security` may give a shipped unit: 3.0
/// is the top of its "OK" band.
const MAX_EXPOSURE: f64 = 3.0;

/// The overall exposure `systemd-analyze security --offline=true` gives the
/// unit file at `unit`.
fn exposure(unit: &Path) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score: {text}{}", String::from_utf8_lossy(&out.stderr)));
    let score = line.rsplit(':').next().unwrap().split_whitespace().next();
    score.and_then(|s| s.parse().ok()).expect("a score")
}

#[test]
fn systemd_units_are_fenced() {
    let Some(probe) = crate::support::tool(
        "systemd-analyze",
        &["--version".as_ref()],
        "the systemd units' security scores",
        "apt-get install systemd; `security --offline=true` needs no running systemd",
    ) else {
        return;
    };
    assert!(probe.status.success());
    let deploy = repo().join("deploy");
    for name in [
        "access-letters-serve.service",
        "access-letters-nightly.service",
    ] {
        let score = exposure(&deploy.join(name));
        assert!(score <= MAX_EXPOSURE, "{name} scores {score}");
    }
    // The same check fails the serve unit without its fence.
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(deploy.join("access-letters-serve.service")).unwrap();
    let (service, _) = text.split_once("# The fence").expect("the fence is marked");
    let loose = dir.path().join("access-letters-serve.service");
    fs::write(
        &loose,
        format!("{service}\n[Install]\nWantedBy=multi-user.target\n"),
    )
    .unwrap();
    assert!(exposure(&loose) > MAX_EXPOSURE);
    // Every connection holds a descriptor; the ledger is named; the night
    // may reach PostgreSQL and the vendor, so it waits for the network.
    assert!(text.contains("\nLimitNOFILE="), "{text}");
    let exec = text.split("ExecStart=").nth(1).unwrap();
    let exec = exec.split("\n#").next().unwrap();
    assert!(exec.contains("--ledger ${ACCESS_LETTERS_LEDGER}"), "{exec}");
    let night = fs::read_to_string(deploy.join("access-letters-nightly.service")).unwrap();
    for needed in [
        "After=local-fs.target network-online.target",
        "Wants=network-online.target",
    ] {
        assert!(night.contains(needed), "{needed}");
    }
}
