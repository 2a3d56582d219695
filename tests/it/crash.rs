//! Killing a run (SIGKILL) at any moment and running it again gives the
//! same batch as a run that was never interrupted: every valid filing has
//! exactly one letter and one ledger row, nothing temporary is left, and the
//! totals add up. Also: two runs never use one ledger at once.
//!
//! The runs make print files, as the nightly script's do; the tests named
//! `..._in_pieces_mode` kill runs that write one PDF per letter.

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

/// What a run writes: print files (the default, what the nightly script
/// runs) or one PDF per letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Default,
    Pieces,
}

fn run_args(input: &Path, mode: Mode) -> Vec<String> {
    let mut args = [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
        "--chunk-size",
        CHUNK,
    ]
    .map(String::from)
    .to_vec();
    if mode == Mode::Pieces {
        args.extend(["--letters", "pieces"].map(String::from));
    }
    args
}

fn spawn_run(wd: &Workdir, input: &Path, mode: Mode) -> Child {
    wd.command(run_args(input, mode))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// The batch folder of an uninterrupted run of the generated file in a
/// mode, as (relative path -> sha256) of every file, computed once.
fn reference(mode: Mode) -> &'static BTreeMap<String, String> {
    static DEFAULT: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    static PIECES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    let cell = match mode {
        Mode::Default => &DEFAULT,
        Mode::Pieces => &PIECES,
    };
    cell.get_or_init(|| {
        let wd = Workdir::new();
        let input = wd.generate(ROWS, SEED);
        let out = wd.cmd(run_args(&input, mode));
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
fn kill_then_resume(mode: Mode, ready: impl FnMut(&Path) -> bool) {
    let reference = reference(mode);
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));

    let mut child = spawn_run(&wd, &input, mode);
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

    // What the crash left (see `assert_nothing_half_written`).
    let rows_before = ledger_rows_so_far(&wd.ledger());
    assert_nothing_half_written(&wd, &batch_dir, mode, true);
    let temps_before = temp_files(&batch_dir).len();
    eprintln!(
        "{mode:?} mode: killed with {} letters and {} print files on disk, {} in the ledger, \
         {temps_before} temporary files",
        letters_on_disk(&batch_dir),
        print_files_on_disk(&batch_dir),
        rows_before.len()
    );

    // Run it again to the end.
    let out = wd.cmd(run_args(&input, mode));
    out.expect_code(EXIT_REJECTS);
    assert_eq!(wd.path(out.batch_dir()), batch_dir);
    if mode == Mode::Pieces && !rows_before.is_empty() {
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
    let manifest = batch.manifest();
    assert_eq!(manifest.len(), valid.len());
    match mode {
        Mode::Pieces => {
            let expected_files: BTreeSet<String> = valid
                .iter()
                .map(|r| format!("letters/{r}-01.pdf"))
                .collect();
            let files: BTreeSet<String> = batch.letter_files().into_iter().collect();
            assert_eq!(files, expected_files);
            let listed: BTreeSet<String> = manifest.iter().map(|r| r["file"].clone()).collect();
            assert_eq!(listed, expected_files);
        }
        Mode::Default => {
            // Each valid filing in exactly one page range of one listed,
            // complete print file.
            let printed = check_print_files(&batch);
            let once: BTreeSet<String> = printed.iter().cloned().collect();
            assert_eq!(once.len(), printed.len(), "a receipt printed twice");
            assert_eq!(once, valid);
        }
    }

    let rows = ledger_rows(&wd.ledger());
    assert_eq!(rows.len(), valid.len(), "one ledger row per valid filing");
    let in_ledger: BTreeSet<String> = rows.iter().map(|r| r.receipt.clone()).collect();
    assert_eq!(in_ledger, valid);
    for r in &rows {
        assert_eq!((r.issue_no, r.status.as_str()), (1, "active"), "{r:?}");
        assert_eq!(r.batch_id, batch.id());
        match mode {
            Mode::Pieces => {
                let letter = batch.path(&format!("letters/{}.pdf", r.piece_id));
                assert_eq!(file_sha256(&letter), r.letter_sha256);
            }
            // What was printed is recorded for every letter.
            Mode::Default => assert!(
                r.letter_sha256.starts_with("content-sha256:"),
                "a letter's print is not recorded: {r:?}"
            ),
        }
    }
    assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new());

    // The same bytes as if it had never been interrupted.
    assert_eq!(&snapshot(&batch_dir), reference);

    // A third run finds it complete and changes nothing.
    let before = snapshot(&wd.out());
    let third = wd.cmd(run_args(&input, mode));
    third.expect_code(EXIT_REJECTS);
    assert!(third.stdout.contains("already complete"), "{third:?}");
    assert_eq!(third.counts(), counts);
    assert_eq!(snapshot(&wd.out()), before);
}

fn expected_batch_dir_name(batch_dir: &Path) -> String {
    batch_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
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

fn print_files_on_disk(batch_dir: &Path) -> usize {
    fs::read_dir(batch_dir.join("print")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".pdf"))
        })
        .count()
    })
}

/// Ready once at least `k` letters are on disk (pieces mode).
fn letters_at_least(k: usize) -> impl FnMut(&Path) -> bool {
    move |batch_dir: &Path| letters_on_disk(batch_dir) >= k
}

/// Ready once at least `k` issuances are in the batch's ledger (the ledger
/// is `--out`'s default, next to the batch folder).
fn issued_at_least(k: usize) -> impl FnMut(&Path) -> bool {
    move |batch_dir: &Path| {
        let ledger = batch_dir.parent().unwrap().join("ledger.sqlite");
        ledger_count(&ledger) >= k
    }
}

/// Issuances in a ledger a run may be writing; 0 before it has any.
fn ledger_count(ledger: &Path) -> usize {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM issuances", [], |r| r.get::<_, i64>(0))
        .map_or(0, |n| n as usize)
}

/// Ready once at least `k` print files are on disk.
fn print_files_at_least(k: usize) -> impl FnMut(&Path) -> bool {
    move |batch_dir: &Path| print_files_on_disk(batch_dir) >= k
}

/// Ready after a fixed delay from the start.
fn after(delay: Duration) -> impl FnMut(&Path) -> bool {
    let start = std::time::Instant::now();
    move |_: &Path| start.elapsed() >= delay
}

#[test]
fn killed_after_the_first_letters_then_resumed() {
    kill_then_resume(Mode::Default, issued_at_least(20));
}

#[test]
fn killed_in_the_middle_then_resumed() {
    kill_then_resume(Mode::Default, issued_at_least(150));
}

#[test]
fn killed_near_the_end_then_resumed() {
    kill_then_resume(Mode::Default, issued_at_least(300));
}

#[test]
fn killed_while_writing_print_files_then_resumed() {
    kill_then_resume(Mode::Default, print_files_at_least(1));
}

#[test]
fn killed_while_starting_then_resumed() {
    // Before or while the ledger and batch folder are being created.
    for ms in [0, 40] {
        kill_then_resume(Mode::Default, after(Duration::from_millis(ms)));
    }
}

#[test]
fn killed_at_any_point_in_pieces_mode_then_resumed() {
    for ms in [0, 40] {
        kill_then_resume(Mode::Pieces, after(Duration::from_millis(ms)));
    }
    for k in [20, 150, 300] {
        kill_then_resume(Mode::Pieces, letters_at_least(k));
    }
}

#[test]
fn a_second_run_cannot_use_a_ledger_while_a_run_holds_it() {
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));
    let mut first = spawn_run(&wd, &input, Mode::Default);
    let mut ready = issued_at_least(1);
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
                skip(
                    "the full-filesystem test",
                    &format!(
                        "cannot mount a {size} tmpfs ({}); run as root, with the right to mount",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                    InCi::Skips,
                );
                None
            }
            Err(e) => {
                skip(
                    "the full-filesystem test",
                    &format!("cannot run mount ({e}); run as root, with the right to mount"),
                    InCi::Skips,
                );
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

/// What a failed or killed run left: nothing is marked complete, no
/// temporary file is left (unless the run was killed, which cannot clean
/// up), and nothing half written stands under a final name. In pieces mode
/// every ledger row has its letter, byte for byte; in print mode (rows are
/// recorded before their letters are drawn) no letter file is written,
/// every print file under its final name is a whole PDF, and every ledger
/// row is of this batch.
#[track_caller]
fn assert_nothing_half_written(wd: &Workdir, batch_dir: &Path, mode: Mode, killed: bool) {
    let rows = ledger_rows_so_far(&wd.ledger());
    match mode {
        Mode::Pieces => {
            for r in &rows {
                let letter = batch_dir.join(format!("letters/{}.pdf", r.piece_id));
                assert!(letter.exists(), "ledger row without its letter: {r:?}");
                assert_eq!(file_sha256(&letter), r.letter_sha256, "{r:?}");
            }
        }
        Mode::Default => {
            assert!(
                !batch_dir.join("letters").exists(),
                "letter files in print mode"
            );
            for p in walk(&batch_dir.join("print")) {
                if p.extension().is_some_and(|e| e == "pdf") {
                    let doc = lopdf::Document::load(&p)
                        .unwrap_or_else(|e| panic!("{} is not a whole PDF: {e}", p.display()));
                    assert!(!doc.get_pages().is_empty(), "{}", p.display());
                }
            }
            for r in &rows {
                assert_eq!(r.batch_id, expected_batch_dir_name(batch_dir), "{r:?}");
            }
        }
    }
    assert!(!batch_dir.join("batch.json").exists(), "marked complete");
    if !killed {
        assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new());
    }
}

#[test]
fn killed_on_a_full_filesystem_then_resumed_with_room() {
    full_filesystem_then_room(Mode::Default);
}

#[test]
fn killed_on_a_full_filesystem_in_pieces_mode_then_resumed_with_room() {
    full_filesystem_then_room(Mode::Pieces);
}

fn full_filesystem_then_room(mode: Mode) {
    let reference = reference(mode);
    let wd = Workdir::new();
    let input = wd.generate(ROWS, SEED);
    // Declared after `wd`, so it is unmounted before the folder is removed.
    let Some(small) = SmallFs::mount(&wd.out(), "2m") else {
        return;
    };
    let batch_dir = wd.out().join(expected_batch_id(&input, BATCH_DATE));

    // 400 letters do not fit in 2 MB: the run fails cleanly.
    let full = wd.cmd(run_args(&input, mode));
    full.expect_code(EXIT_FAILED);
    assert_nothing_half_written(&wd, &batch_dir, mode, false);

    // Killed while it fails again on the full disk: once it is writing (a
    // temporary file is there), or at once if it has already given up.
    let mut child = spawn_run(&wd, &input, mode);
    let writing = wait_until(PATIENCE, || {
        !temp_files(&wd.out()).is_empty() || child.try_wait().unwrap().is_some()
    });
    assert!(writing, "the run neither wrote nor ended");
    let _ = child.kill();
    child.wait().unwrap();
    assert_nothing_half_written(&wd, &batch_dir, mode, true);

    // With room, the run finishes with the bytes of an uninterrupted run.
    small.resize("64m");
    let out = wd.cmd(run_args(&input, mode));
    out.expect_code(EXIT_REJECTS);
    assert_eq!(&snapshot(&batch_dir), reference);
    assert_eq!(temp_files(&wd.out()), Vec::<PathBuf>::new());
}
