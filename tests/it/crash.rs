//! Killing a run (SIGKILL) at any moment and running it again gives the
//! same batch as a run that was never interrupted: every valid filing has
//! exactly one letter and one ledger row, nothing temporary is left, and the
//! totals add up. Also: two runs never use one ledger at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::*;

const ROWS: u64 = 400;
const SEED: u64 = 7;
/// Small chunks, so a kill lands between many ledger transactions.
const CHUNK: &str = "16";
/// Long enough for a loaded machine; a run of ROWS takes a few seconds.
const PATIENCE: Duration = Duration::from_secs(60);

fn run_args(input: &Path) -> Vec<String> {
    [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
        "--chunk-size",
        CHUNK,
    ]
    .map(String::from)
    .to_vec()
}

fn spawn_run(wd: &Workdir, input: &Path) -> Child {
    wd.command(run_args(input))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// The batch folder of an uninterrupted run of the generated file, as
/// (relative path -> sha256) of every file, computed once.
fn reference() -> &'static BTreeMap<String, String> {
    static REFERENCE: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let wd = Workdir::new();
        let input = wd.generate(ROWS, SEED);
        let out = wd.cmd(run_args(&input));
        out.expect_code(EXIT_REJECTS);
        snapshot(&wd.path(out.batch_dir()))
    })
}

/// Receipts of the rows of `input` that are not listed in `rejects`.
fn valid_receipts(input: &Path, rejects: &[Row]) -> BTreeSet<String> {
    let rejected: BTreeSet<u64> = rejects.iter().map(|r| r["line"].parse().unwrap()).collect();
    let mut reader = csv::Reader::from_path(input).unwrap();
    let mut valid = BTreeSet::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        let line = rec.position().unwrap().line();
        if !rejected.contains(&line) {
            let receipt: String = rec[0]
                .chars()
                .filter(|c| !matches!(c, ' ' | '-'))
                .collect::<String>()
                .to_uppercase();
            assert!(
                valid.insert(receipt),
                "line {line}: a valid duplicate receipt"
            );
        }
    }
    valid
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// Ledger rows, or none if the run was killed before the ledger had tables.
fn ledger_rows_so_far(ledger: &Path) -> Vec<LedgerRow> {
    if !ledger.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(ledger).unwrap();
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'issuances'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0;
    drop(conn);
    if has_table {
        ledger_rows(ledger)
    } else {
        Vec::new()
    }
}

/// Kills the run when `ready` says so, then resumes it and checks the
/// result against an uninterrupted run.
fn kill_then_resume(ready: impl FnMut(&Path) -> bool) {
    let reference = reference();
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));

    let mut child = spawn_run(&wd, &input);
    let mut ready = ready;
    let reached = wait_until(PATIENCE, || {
        ready(&batch_dir) || child.try_wait().unwrap().is_some()
    });
    assert!(reached, "the run neither got there nor finished");
    let finished_early = child.try_wait().unwrap();
    assert!(
        finished_early.is_none(),
        "the run finished ({finished_early:?}) before it could be killed; make the kill earlier"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // What the crash left: every ledger row has its letter, byte for byte.
    let rows_before = ledger_rows_so_far(&wd.ledger());
    for r in &rows_before {
        let letter = batch_dir.join(format!("letters/{}.pdf", r.piece_id));
        assert!(letter.exists(), "ledger row without its letter: {r:?}");
        assert_eq!(file_sha256(&letter), r.letter_sha256, "{r:?}");
    }
    assert!(
        !batch_dir.join("batch.json").exists(),
        "killed, yet marked complete"
    );
    let temps_before = temp_files(&batch_dir).len();
    eprintln!(
        "killed with {} letters on disk, {} in the ledger, {temps_before} temporary files",
        letters_on_disk(&batch_dir),
        rows_before.len()
    );

    // Run it again to the end.
    let out = wd.cmd(run_args(&input));
    out.expect_code(EXIT_REJECTS);
    assert_eq!(wd.path(out.batch_dir()), batch_dir);
    if !rows_before.is_empty() {
        let letters = counted(rows_before.len(), "letter was", "letters were");
        let said = format!("resumed: {letters} already made");
        assert!(out.stdout.contains(&said), "expected '{said}':{out:?}");
    }
    if temps_before > 0 {
        let said = format!(
            "removed {}",
            counted(temps_before, "temporary file", "temporary files")
        );
        assert!(out.stdout.contains(&said), "expected '{said}':{out:?}");
    }
    let batch = Batch::new(batch_dir.clone());
    let counts = out.counts();
    counts.assert_add_up();
    assert_eq!(batch.counts(), counts);
    assert_eq!(counts.read, ROWS);
    assert_eq!(counts.already_issued, 0);

    // Every valid filing: exactly one letter, one manifest line, one ledger row.
    let valid = valid_receipts(&input, &batch.rejects());
    assert_eq!(valid.len() as u64, counts.issued);
    assert_eq!(batch.rejects().len() as u64, counts.rejected);
    let expected_files: BTreeSet<String> = valid
        .iter()
        .map(|r| format!("letters/{r}-01.pdf"))
        .collect();
    let files: BTreeSet<String> = batch.letter_files().into_iter().collect();
    assert_eq!(files, expected_files);
    let manifest = batch.manifest();
    assert_eq!(manifest.len(), valid.len());
    let listed: BTreeSet<String> = manifest.iter().map(|r| r["file"].clone()).collect();
    assert_eq!(listed, expected_files);

    let rows = ledger_rows(&wd.ledger());
    assert_eq!(rows.len(), valid.len(), "one ledger row per valid filing");
    let in_ledger: BTreeSet<String> = rows.iter().map(|r| r.receipt.clone()).collect();
    assert_eq!(in_ledger, valid);
    for r in &rows {
        assert_eq!((r.issue_no, r.status.as_str()), (1, "active"), "{r:?}");
        assert_eq!(r.batch_id, batch.id());
        let letter = batch.path(&format!("letters/{}.pdf", r.piece_id));
        assert_eq!(file_sha256(&letter), r.letter_sha256);
    }
    assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new());

    // The same bytes as if it had never been interrupted.
    assert_eq!(&snapshot(&batch_dir), reference);

    // A third run finds it complete and changes nothing.
    let before = snapshot(&wd.out());
    let third = wd.cmd(run_args(&input));
    third.expect_code(EXIT_REJECTS);
    assert!(third.stdout.contains("already complete"), "{third:?}");
    assert_eq!(third.counts(), counts);
    assert_eq!(snapshot(&wd.out()), before);
}

fn letters_on_disk(batch_dir: &Path) -> usize {
    fs::read_dir(batch_dir.join("letters")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".pdf"))
        })
        .count()
    })
}

/// Ready once at least `k` letters are on disk.
fn letters_at_least(k: usize) -> impl FnMut(&Path) -> bool {
    move |batch_dir: &Path| letters_on_disk(batch_dir) >= k
}

/// Ready after a fixed delay from the start.
fn after(delay: Duration) -> impl FnMut(&Path) -> bool {
    let start = std::time::Instant::now();
    move |_: &Path| start.elapsed() >= delay
}

#[test]
fn killed_after_the_first_letters_then_resumed() {
    kill_then_resume(letters_at_least(20));
}

#[test]
fn killed_in_the_middle_then_resumed() {
    kill_then_resume(letters_at_least(150));
}

#[test]
fn killed_near_the_end_then_resumed() {
    kill_then_resume(letters_at_least(300));
}

#[test]
fn killed_while_starting_then_resumed() {
    // Before or while the ledger and batch folder are being created.
    for ms in [0, 40] {
        kill_then_resume(after(Duration::from_millis(ms)));
    }
}

#[test]
fn a_second_run_cannot_use_a_ledger_while_a_run_holds_it() {
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));
    let mut first = spawn_run(&wd, &input);
    let mut ready = letters_at_least(1);
    assert!(wait_until(PATIENCE, || ready(&batch_dir)
        || first.try_wait().unwrap().is_some()));
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended too soon"
    );

    let second = wd.run(&fixtures_csv());
    let still_running = first.try_wait().unwrap().is_none();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        still_running,
        "the first run ended while the second started"
    );
    second.expect_code(EXIT_FAILED);
    assert!(
        second
            .stderr
            .contains("another access-letters run is using the ledger"),
        "{second:?}"
    );
    assert!(second.stderr.contains("ledger.sqlite"), "{second:?}");
    // The second run wrote nothing: only the first batch folder exists.
    assert_eq!(wd.batch_dirs(), vec![batch_dir]);
}

#[test]
fn runs_and_reissues_wait_for_the_lock_but_readers_do_not() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let receipt = "IOE0912345602";
    let code = batch.code_for(receipt);

    let lock_path = PathBuf::from(format!("{}.lock", wd.ledger().display()));
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    lock.try_lock().expect("nobody else holds the lock");

    let before = snapshot(&wd.out());
    let run = wd.run(&fixtures_csv());
    run.expect_code(EXIT_FAILED);
    assert!(
        run.stderr
            .contains("another access-letters run is using the ledger"),
        "{run:?}"
    );
    let reissue = wd.cmd([
        "reissue",
        receipt,
        "--reason",
        "lost",
        "--batch-date",
        "2026-12-01",
    ]);
    reissue.expect_code(EXIT_FAILED);
    assert!(
        reissue.stderr.contains("another access-letters run"),
        "{reissue:?}"
    );
    assert_eq!(
        snapshot(&wd.out()),
        before,
        "refused commands wrote nothing"
    );

    // Reading needs no lock.
    wd.cmd(["status", receipt]).expect_code(EXIT_OK);
    wd.cmd(["verify", receipt, &code, "--date", BATCH_DATE])
        .expect_code(EXIT_OK);

    drop(lock);
    let after = wd.run(&fixtures_csv());
    after.expect_code(EXIT_REJECTS);
    assert!(after.stdout.contains("already complete"), "{after:?}");
}

// --- Killed on a small filesystem that fills up.

/// A tmpfs mounted on a folder for as long as this value lives; the test
/// is skipped, with the reason printed, where one cannot be mounted (not
/// root, no mount permission in a container).
struct SmallFs {
    dir: PathBuf,
}

impl SmallFs {
    fn mount(dir: &Path, size: &str) -> Option<SmallFs> {
        fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .output();
        match mounted {
            Ok(o) if o.status.success() => Some(SmallFs {
                dir: dir.to_path_buf(),
            }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a {size} tmpfs ({}); run as root to test a full filesystem",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount ({e}); run as root to test a full filesystem");
                None
            }
        }
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(status.success(), "remount to {size}");
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// What a failed or killed run left: every ledger row has its letter byte
/// for byte, nothing is marked complete and no temporary file is left
/// (unless the run was killed, which cannot clean up).
#[track_caller]
fn assert_nothing_half_written(wd: &Workdir, batch_dir: &Path, killed: bool) {
    for r in ledger_rows_so_far(&wd.ledger()) {
        let letter = batch_dir.join(format!("letters/{}.pdf", r.piece_id));
        assert!(letter.exists(), "ledger row without its letter: {r:?}");
        assert_eq!(file_sha256(&letter), r.letter_sha256, "{r:?}");
    }
    assert!(!batch_dir.join("batch.json").exists(), "marked complete");
    if !killed {
        assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new());
    }
}

#[test]
fn killed_on_a_full_filesystem_then_resumed_with_room() {
    let reference = reference();
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    // Declared after `wd`, so it is unmounted before the folder is removed.
    let Some(small) = SmallFs::mount(&wd.out(), "2m") else {
        return;
    };
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));

    // 400 letters of ~36 KB do not fit in 2 MB: the run fails cleanly.
    let full = wd.cmd(run_args(&input));
    full.expect_code(EXIT_FAILED);
    assert_nothing_half_written(&wd, &batch_dir, false);

    // Killed while it fails again on the full disk.
    let mut child = spawn_run(&wd, &input);
    std::thread::sleep(Duration::from_millis(150));
    let _ = child.kill();
    child.wait().unwrap();
    assert_nothing_half_written(&wd, &batch_dir, true);

    // With room, the run finishes with the bytes of an uninterrupted run.
    small.resize("64m");
    let out = wd.cmd(run_args(&input));
    out.expect_code(EXIT_REJECTS);
    assert_eq!(&snapshot(&batch_dir), reference);
    assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new());
}
