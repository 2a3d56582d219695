//! Operator safety (issue 20): every command guards its folder, nothing
//! hangs, nothing hides a status. Each test is something that happened.
//!
//! Commands that probe huge flags or stalled peers run under a memory and a
//! time limit, so a regression fails the test instead of taking the host
//! down.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

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
        "--letters",
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
        "--letters",
        "print",
        "--pieces-per-file",
        "50000",
    ]);
    let probe = run_bounded(&cmd);
    assert_eq!(probe.code, Some(EXIT_REJECTS), "{}", probe.stderr);
}

// ---- item 7: smaller breaks ----

#[test]
fn closed_stdout_after_a_complete_batch_keeps_the_exit_status() {
    let wd = Workdir::new();
    let mut cmd = wd.command([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The reader goes away before the first line, as `| head -0` would.
    drop(child.stdout.take());
    let mut stderr = child.stderr.take().unwrap();
    let status = wait_bounded(&mut child, PROBE_TIMEOUT);
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(EXIT_REJECTS), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(Batch::new(wd.batch_dirs()[0].clone()).is_complete());
}

#[test]
fn input_from_a_pipe_is_refused_saying_why() {
    let wd = Workdir::new();
    let mut child = wd
        .command(["run", "--input", "/dev/stdin", "--date", BATCH_DATE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdin = child.stdin.take().unwrap();
    let csv = std::fs::read(fixtures_csv()).unwrap();
    // Written from a thread: the binary may refuse before reading any of it.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&csv);
    });
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = wait_bounded(&mut child, PROBE_TIMEOUT);
    writer.join().unwrap();
    assert_eq!(status.code(), Some(EXIT_FAILED), "{out}{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(err.contains("save the filings to a file"), "{err}");
    assert!(
        err.contains("error: --input: "),
        "the flag comes from the CLI: {err}"
    );
    assert!(!err.contains("is empty"), "{err}");
    assert!(wd.batch_dirs().is_empty());
}

#[test]
fn cr_only_line_ends_are_named() {
    let wd = Workdir::new();
    let text = std::fs::read_to_string(fixtures_csv()).unwrap();
    let input = wd.write("mac.csv", text.replace("\r\n", "\n").replace('\n', "\r"));
    let out = wd.run(&input);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("carriage return alone"), "{out:?}");
    assert!(!out.stderr.contains("64 KB"), "{out:?}");
}

#[test]
fn key_with_all_zero_secret_is_refused() {
    let wd = Workdir::new();
    let key = wd.write(
        "zero.key",
        format!("key_id = \"prod-zero\"\nsecret = \"{}\"\n", "0".repeat(64)),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--key",
        key.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("no randomness"), "{out:?}");
    assert!(wd.batch_dirs().is_empty());
}

/// Makes the fixtures' batch look as a run killed after issuing and before
/// printing leaves it: rows in the ledger, the batch not complete, no
/// batch.json.
fn interrupt_batch(wd: &Workdir, batch: &Batch) {
    let conn = rusqlite::Connection::open(wd.ledger()).unwrap();
    conn.execute(
        "UPDATE batches SET completed_at = NULL, summary_json = NULL WHERE batch_id = ?1",
        [batch.id()],
    )
    .unwrap();
    std::fs::remove_file(batch.path("batch.json")).unwrap();
}

/// `run` of the fixtures as the nightly script runs it (print files).
fn run_fixtures_print(wd: &Workdir) -> Batch {
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--letters",
        "print",
    ]);
    out.expect_code(EXIT_REJECTS);
    Batch::new(wd.path(out.batch_dir()))
}

#[test]
fn audit_and_status_show_an_interrupted_batch() {
    let wd = Workdir::new();
    let batch = run_fixtures_print(&wd);
    interrupt_batch(&wd, &batch);
    // Killed before its print files: no letter anywhere in the folder.
    std::fs::remove_dir_all(batch.path("print")).unwrap();

    let audit = wd.cmd(["audit"]);
    audit.expect_code(EXIT_FAILED);
    assert!(
        audit.stdout.contains(&format!(
            "batch {} was interrupted: {FIXTURE_VALID} codes issued, not printed yet; run the batch again",
            batch.id()
        )),
        "{audit:?}"
    );

    let status = wd.cmd(["status", "IOE0912345602"]);
    status.expect_code(EXIT_OK);
    assert!(
        status
            .stdout
            .contains("issue 1: issued, not printed yet: batch"),
        "{status:?}"
    );

    // Run again: the batch completes and both say so.
    run_fixtures_print(&wd);
    wd.cmd(["audit"]).expect_code(EXIT_OK);
    let status = wd.cmd(["status", "IOE0912345602"]);
    assert!(!status.stdout.contains("not printed yet"), "{status:?}");
}

// ---- item 2: a folder input takes *.CSV too and names what it does not take ----

/// Exit status of `run --input DIR` (and the nightly script) when the
/// folder holds files that were not taken.
const EXIT_NOT_TAKEN: i32 = 8;

#[test]
fn folder_input_takes_csv_in_any_case_and_names_the_rest() {
    let wd = Workdir::new();
    let drop = wd.path("drop");
    std::fs::create_dir(&drop).unwrap();
    std::fs::copy(fixtures_csv(), drop.join("a.csv")).unwrap();
    let generated = wd.generate(20, 3);
    std::fs::copy(&generated, drop.join("B.CSV")).unwrap();
    std::fs::write(drop.join("notes.txt"), "not filings").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(wd.path("missing.csv"), drop.join("c.csv")).unwrap();
    std::fs::create_dir(drop.join("done")).unwrap();

    let out = wd.cmd([
        "run",
        "--input",
        drop.to_str().unwrap(),
        "--date",
        BATCH_DATE,
    ]);
    out.expect_code(EXIT_NOT_TAKEN);
    let taken: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("taking "))
        .collect();
    assert_eq!(taken.len(), 2, "{out:?}");
    assert!(
        taken[0].ends_with("B.CSV") && taken[1].ends_with("a.csv"),
        "{out:?}"
    );
    assert!(out.stderr.contains("notes.txt: not a .csv file"), "{out:?}");
    #[cfg(unix)]
    assert!(out.stderr.contains("c.csv: cannot be read"), "{out:?}");
    assert!(!out.stderr.contains("done"), "{out:?}");
    assert!(out.stderr.contains("not taken (named above)"), "{out:?}");
    assert_eq!(wd.batch_dirs().len(), 2, "both files are batches");
}

#[test]
fn nightly_script_takes_upper_case_csv_and_names_the_rest() {
    let wd = Workdir::new();
    let drop = wd.path("drop");
    std::fs::create_dir(&drop).unwrap();
    std::fs::copy(fixtures_csv(), drop.join("A.CSV")).unwrap();
    std::fs::write(drop.join("notes.txt"), "not filings").unwrap();
    let out = Command::new("sh")
        .arg(repo_file("deploy/access-letters-nightly.sh"))
        .env("ACCESS_LETTERS_BIN", BIN)
        .env("ACCESS_LETTERS_DROP", &drop)
        .env("ACCESS_LETTERS_OUT", wd.out())
        .env("ACCESS_LETTERS_KEY", test_key())
        .env("ACCESS_LETTERS_LOG", wd.path("nightly.log"))
        .env("ACCESS_LETTERS_LOCK", wd.path("nightly.lock"))
        .env_remove("ACCESS_LETTERS_LEDGER")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(wd.path("nightly.log")).unwrap_or_default();
    assert_eq!(out.status.code(), Some(EXIT_NOT_TAKEN), "log:\n{log}");
    assert!(log.contains("batch for") && log.contains("A.CSV"), "{log}");
    assert!(log.contains("done with rejects to review"), "{log}");
    assert!(
        log.contains("NOT TAKEN (not a .csv file)") && log.contains("notes.txt"),
        "{log}"
    );
    assert_eq!(wd.batch_dirs().len(), 1);
}

// ---- item 10: the wrong-code door ----

#[test]
fn empty_codes_are_not_counted_as_wrong_tries() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let receipt = "IOE0912345602";
    let code = batch.code_for(receipt);
    // More empty codes than the limit (5 in 10 minutes).
    for _ in 0..7 {
        let out = wd.cmd(["verify", receipt, "", "--date", BATCH_DATE]);
        out.expect_code(EXIT_NOT_VALID);
        assert!(out.stdout.contains("no access code was entered"), "{out:?}");
    }
    wd.cmd(["verify", receipt, &code, "--date", BATCH_DATE])
        .expect_code(EXIT_OK);
    let status = wd.cmd(["status", receipt]);
    assert!(!status.stdout.contains("wrong"), "{status:?}");
}

#[test]
fn a_failed_check_character_says_what_is_known_not_how_close() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let receipt = "IOE0912345602";
    let typo = mistype(&batch.code_for(receipt), 4);
    let out = wd.cmd(["verify", receipt, &typo, "--date", BATCH_DATE]);
    out.expect_code(EXIT_NOT_VALID);
    assert!(
        out.stdout
            .contains("check character does not match, so it is not a code that was issued"),
        "{out:?}"
    );
    assert!(out.stdout.contains("re-read the letter"), "{out:?}");
    assert!(!out.stdout.contains("probably"), "{out:?}");
}

// ---- item 4: output paths are checked before the batch ----

/// Exit status of `run` when its batches are complete and a write after
/// them (the metrics file) failed.
const EXIT_AFTER_BATCH: i32 = 9;

#[test]
fn bad_metrics_path_is_refused_before_the_batch() {
    let wd = Workdir::new();
    let folder = wd.path("metrics-folder");
    std::fs::create_dir(&folder).unwrap();
    for metrics in [folder.clone(), wd.path("no-such-folder/run.prom")] {
        let out = wd.cmd([
            "run",
            "--input",
            fixtures_csv().to_str().unwrap(),
            "--date",
            BATCH_DATE,
            "--metrics",
            metrics.to_str().unwrap(),
        ]);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains("no batch was started"), "{out:?}");
        assert!(wd.batch_dirs().is_empty(), "{out:?}");
    }
    // --out that is a file.
    let file = wd.write("not-a-folder", "x");
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--out",
        file.join("out").to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("is a file, not a folder"), "{out:?}");
}

#[test]
fn metrics_write_failing_after_a_complete_batch_has_its_own_status() {
    let wd = Workdir::new();
    std::fs::create_dir(wd.out()).unwrap();
    // Free when checked; by the time it is written, the batch's own folder.
    let batch_id = expected_batch_id(&fixtures_csv(), BATCH_DATE);
    let metrics = wd.out().join(&batch_id);
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_AFTER_BATCH);
    assert!(Batch::new(metrics.clone()).is_complete(), "{out:?}");
    assert!(
        out.stderr.contains("the batches are complete")
            && out.stderr.contains("their own exit status is 2"),
        "{out:?}"
    );
}

// ---- item 9: the fixtures' counts hold whatever the day ----

/// README's first command, run as it is written (no `--date`: today), gives
/// the counts fixtures/README.md promises.
#[test]
fn readme_command_with_todays_date_gives_the_promised_counts() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -- run --input fixtures/filings.csv\n"),
        "README's main command changed; update this test"
    );
    let promise = std::fs::read_to_string(repo_file("fixtures/README.md")).unwrap();
    let said = format!(
        "{FIXTURE_ROWS} hand-written filing rows: {FIXTURE_VALID} valid, {FIXTURE_REJECTED} rejected"
    );
    assert!(
        promise.contains(&said),
        "fixtures/README.md no longer says {said:?}"
    );

    let wd = Workdir::new();
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--letters",
        "print",
    ]);
    out.expect_code(EXIT_REJECTS);
    let counts = out.counts();
    assert_eq!(counts.read, FIXTURE_ROWS, "{out:?}");
    assert_eq!(counts.issued, FIXTURE_VALID, "{out:?}");
    assert_eq!(counts.rejected, FIXTURE_REJECTED, "{out:?}");
    let batch = Batch::new(wd.path(out.batch_dir()));
    assert!(batch
        .id()
        .starts_with(&today().format("%Y-%m-%d").to_string()));
}

// ---- item 8: today is the agency's date ----

/// The shipped agency.toml with another time zone.
fn config_in_zone(wd: &Workdir, zone: &str) -> String {
    let text = std::fs::read_to_string(repo_file("templates/agency.toml")).unwrap();
    assert!(text.contains("time_zone = \"America/New_York\""));
    let text = text.replace("America/New_York", zone);
    let name = format!("agency-{}.toml", zone.replace('/', "-"));
    wd.write(&name, text).to_str().unwrap().to_string()
}

/// Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart, so at any
/// moment their dates differ: a run without --date is dated in the
/// configured zone, never the host's.
#[test]
fn a_run_without_date_is_dated_in_the_agency_time_zone() {
    let mut dates = Vec::new();
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let wd = Workdir::new();
        let config = config_in_zone(&wd, zone);
        let out = wd.cmd([
            "run",
            "--input",
            fixtures_csv().to_str().unwrap(),
            "--config",
            &config,
        ]);
        out.expect_code(EXIT_REJECTS);
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        let batch = Batch::new(wd.path(out.batch_dir()));
        assert!(
            batch
                .id()
                .starts_with(&today.format("%Y-%m-%d").to_string()),
            "{zone}: {out:?}"
        );
        dates.push(batch.id()[..10].to_string());
    }
    assert_ne!(dates[0], dates[1]);
}

#[test]
fn an_unknown_time_zone_is_refused_naming_it() {
    let wd = Workdir::new();
    let config = config_in_zone(&wd, "America/Nowhere");
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--config",
        &config,
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr.contains("'America/Nowhere' is not a time zone"),
        "{out:?}"
    );
}

// ---- item 1: reissue, reprint and proof check whose --out it is ----

#[test]
fn reissue_reprint_and_proof_refuse_an_out_folder_of_another_ledger() {
    let wd = Workdir::new();
    wd.run_fixtures();
    // Ledger B: the same fixtures into another folder.
    let other_out = wd.path("other");
    wd.output(&mut wd.command_with(
        other_out.clone(),
        [
            "run",
            "--input",
            fixtures_csv().to_str().unwrap(),
            "--date",
            BATCH_DATE,
        ],
    ))
    .expect_code(EXIT_REJECTS);
    let ledger_b = other_out.join("ledger.sqlite");
    let before = snapshot(&wd.out());
    let receipt = "IOE0912345602";
    let png = wd.path("proof.png");
    let refused = [
        wd.cmd([
            "reissue",
            receipt,
            "--reason",
            "letter lost",
            "--force",
            "--ledger",
            ledger_b.to_str().unwrap(),
        ]),
        wd.cmd(["reprint", receipt, "--ledger", ledger_b.to_str().unwrap()]),
        wd.cmd([
            "proof",
            receipt,
            "--png",
            png.to_str().unwrap(),
            "--ledger",
            ledger_b.to_str().unwrap(),
        ]),
        wd.cmd([
            "revoke",
            receipt,
            "--reason",
            "letter stolen",
            "--ledger",
            ledger_b.to_str().unwrap(),
        ]),
    ];
    for out in &refused {
        out.expect_code(EXIT_FAILED);
        assert!(
            out.stderr.contains("belongs to another ledger")
                && out.stderr.contains("recorded by another ledger"),
            "{out:?}"
        );
    }
    assert_eq!(snapshot(&wd.out()), before, "nothing was written in --out");
    assert!(!png.exists());
    // Ledger B's code was not revoked by the refused command.
    let status_b = wd.cmd(["status", receipt, "--ledger", ledger_b.to_str().unwrap()]);
    assert!(!status_b.stdout.contains("revoked"), "{status_b:?}");
    // With its own ledger, each works.
    wd.cmd(["reprint", receipt]).expect_code(EXIT_OK);
    wd.cmd(["proof", receipt, "--png", png.to_str().unwrap()])
        .expect_code(EXIT_OK);
}

// ---- item 6: SIGTERM stops a run at a safe point ----

/// Exit status of `run` stopped by SIGTERM or SIGINT.
const EXIT_STOPPED: i32 = 10;

/// How many issuances a SQLite ledger holds, read while a run writes it
/// (WAL lets a reader in); 0 while it does not exist or has no table yet.
fn issuances_committed(ledger: &std::path::Path) -> u64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(ledger, flags)
        .and_then(|c| c.query_row("SELECT count(*) FROM issuances", [], |r| r.get(0)))
        .unwrap_or(0)
}

#[test]
fn sigterm_stops_a_run_at_a_safe_point_and_the_same_command_finishes_it() {
    let wd = Workdir::new();
    let input = wd.generate(4000, 5);
    let args = [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--letters",
        "print",
        "--chunk-size",
        "128",
    ];
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));
    let mut child = wd
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The batch folder exists once the handlers are in place and the
    // batch has started; it is issuing chunks once the ledger holds one.
    let issuing = wait_until(Duration::from_secs(60), || {
        batch_dir.is_dir() && issuances_committed(&wd.ledger()) > 0
    });
    if !issuing {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the run did not commit a chunk of its batch within a minute");
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut stderr = child.stderr.take().unwrap();
    let status = wait_bounded(&mut child, PROBE_TIMEOUT);
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(EXIT_STOPPED), "{err}");
    assert!(
        err.contains("stopped; run the same command again to finish"),
        "{err}"
    );
    let batch = Batch::new(batch_dir.clone());
    assert!(!batch.is_complete(), "stopped before the end: {err}");
    let temporaries: Vec<_> = walk(&batch_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");

    // The same command again finishes the batch, each filing once.
    let again = wd.cmd(args);
    again.expect_code(EXIT_REJECTS);
    assert!(batch.is_complete());
    let counts = batch.counts();
    counts.assert_add_up();
    let rows = ledger_rows(&wd.ledger());
    assert_eq!(rows.len() as u64, counts.issued);
    let receipts: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.receipt.as_str()).collect();
    assert_eq!(receipts.len(), rows.len(), "no receipt twice");
    let manifest = batch.manifest();
    assert_eq!(manifest.len() as u64, counts.issued);
    let pieces: std::collections::BTreeSet<&str> =
        manifest.iter().map(|r| r["piece_id"].as_str()).collect();
    assert_eq!(pieces.len(), manifest.len(), "no piece twice");
}

// ---- item 3: a stalled PostgreSQL server ends the command ----

/// A throwaway cluster of this test's own (stopping the shared one would
/// stall every other test): started with `.ci/pg-cluster`, continued and
/// stopped whatever the test does.
struct OwnCluster {
    url: String,
}

impl OwnCluster {
    fn start() -> Option<OwnCluster> {
        if std::env::var_os(crate::support::pg::PG_ENV).is_none() {
            skip(
                "the stalled PostgreSQL server test",
                "ACCESS_LETTERS_TEST_PG is not set (.ci/run starts PostgreSQL)",
                InCi::Fails,
            );
            return None;
        }
        let out = std::process::Command::new(repo_file(".ci/pg-cluster"))
            .arg("start")
            .output()
            .expect(".ci/pg-cluster runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Some(OwnCluster { url })
    }

    /// The cluster's folder, as its URL names its socket folder.
    fn folder(&self) -> String {
        let host = self
            .url
            .split('@')
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        host.replace("%2F", "/")
    }

    /// Sends `signal` to the postmaster and every backend of the cluster.
    fn signal(&self, signal: &str) {
        let pids = std::process::Command::new("pgrep")
            .args(["-f", &self.folder()])
            .output()
            .expect("pgrep runs");
        for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
            let _ = std::process::Command::new("pkill")
                .args([signal, "-P", pid])
                .status();
            let _ = std::process::Command::new("kill")
                .args([signal, pid])
                .status();
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = std::process::Command::new(repo_file(".ci/pg-cluster"))
            .args(["stop", &self.url])
            .output();
    }
}

#[test]
fn a_stalled_postgres_server_ends_the_run_with_a_sentence_and_nothing_half_recorded() {
    let Some(cluster) = OwnCluster::start() else {
        return;
    };
    let wd = Workdir::new();
    let input = wd.generate(20_000, 13);
    let args = [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--ledger",
        &cluster.url,
    ];
    let mut cmd = wd.command(args);
    cmd.env("ACCESS_LETTERS_LEDGER_TIMEOUT", "3")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("the run starts");
    // Once the batch is under way, the server stops answering.
    assert!(
        wait_until(Duration::from_secs(60), || !wd.batch_dirs().is_empty()),
        "the batch never started"
    );
    cluster.signal("-STOP");
    // Bounded: the run must end on its own, well within a minute.
    let pid = child.id();
    let waited = std::thread::spawn(move || child.wait_with_output());
    let ended = wait_until(Duration::from_secs(60), || waited.is_finished());
    if !ended {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let out = waited.join().unwrap().expect("the run ends");
    assert!(ended, "the run hung on a stopped server");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not answer within 3 s"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The server comes back: the same command finishes the batch, and every
    // filing is in the ledger once.
    cluster.signal("-CONT");
    let again = wd.cmd(args);
    again.expect_code(EXIT_REJECTS);
    let batch = Batch::new(wd.path(again.batch_dir()));
    let c = batch.counts();
    assert_eq!(
        c.read,
        c.issued + c.already_issued + c.rejected,
        "{again:?}"
    );
    let mut client = ::postgres::Client::connect(&cluster.url, ::postgres::NoTls).unwrap();
    let rows: i64 = client
        .query_one(
            "SELECT count(*) FROM issuances WHERE batch_id = $1",
            &[&batch.id()],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows as u64, c.issued, "each filing once in the ledger");
    assert_eq!(batch.manifest().len() as u64, c.issued);
}
