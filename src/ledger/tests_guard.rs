//! How the ledger guards itself (issue 12): explicit open modes, the check
//! on opening, its identity, and backups.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::sqlite::migrations::{user_version, MIGRATIONS};
use super::tests::{batch, new_row, receipt};
use super::*;

/// SQLite's default page size, in bytes.
const PAGE_BYTES: u64 = 4096;

/// A ledger file with one batch of `rows` issuances, closed (so its WAL is
/// checkpointed into the file).
fn ledger_file(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join("ledger.sqlite");
    let mut ledger = SqliteLedger::create(&path).expect("create");
    ledger
        .start_batch(&batch("b1", BatchKind::Nightly))
        .expect("start");
    let chunk: Vec<NewIssuance> = (1..=rows).map(|n| new_row(n, 1, "b1")).collect();
    ledger.record(&chunk).expect("record");
    path
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 12 finding 4: a truncated or deleted ledger was taken for a new
/// one, and every filing was issued again as issue 1.
#[test]
fn empty_or_missing_ledger_taken_as_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 3);

    std::fs::File::create(&path).expect("truncate to 0 bytes");
    for err in [
        SqliteLedger::open_existing(&path).expect_err("empty"),
        SqliteLedger::open(&path).expect_err("empty, legacy open"),
    ] {
        assert!(matches!(err, LedgerError::Empty { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "the issuance ledger {} is empty: restore it from the last backup (access-letters backup) before running again; an empty file is never taken for a new ledger",
                path.display()
            )
        );
    }
    assert_eq!(std::fs::metadata(&path).expect("still there").len(), 0);

    std::fs::remove_file(&path).expect("delete");
    let err = SqliteLedger::open_existing(&path).expect_err("missing");
    assert!(matches!(err, LedgerError::Missing { .. }), "{err}");
    assert!(!path.exists(), "opening must not create the file");

    // A database with no schema is not a ledger either.
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER)"))
        .expect("a plain database");
    let err = SqliteLedger::open_existing(&path).expect_err("not a ledger");
    assert!(matches!(err, LedgerError::Empty { .. }), "{err}");
}

/// Issue 12 finding 8 (ledger part): a mistyped folder was created.
#[test]
fn a_ledger_folder_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("typo");
    let path = folder.join("ledger.sqlite");
    for err in [
        SqliteLedger::open_existing(&path).expect_err("no folder"),
        SqliteLedger::create(&path).expect_err("no folder"),
        SqliteLedger::open(&path).expect_err("no folder"),
    ] {
        assert!(matches!(err, LedgerError::NoFolder { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "the folder {} for the issuance ledger does not exist; check the ledger path (a ledger is never made in a folder that is not there)",
                folder.display()
            )
        );
    }
    assert!(!folder.exists());
}

#[test]
fn create_makes_a_whole_ledger_or_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    let ledger = SqliteLedger::create(&path).expect("create");
    assert_eq!(user_version(&ledger.conn, "t").expect("v"), SCHEMA_VERSION);
    drop(ledger);
    let err = SqliteLedger::create(&path).expect_err("already there");
    assert!(matches!(err, LedgerError::Exists { .. }), "{err}");
    // The legacy `open` opens what is there and creates what is not.
    let id = SqliteLedger::open(&path)
        .and_then(|l| l.ledger_id())
        .expect("open");
    let other = dir.path().join("other.sqlite");
    assert_ne!(
        SqliteLedger::open(&other)
            .and_then(|l| l.ledger_id())
            .expect("new"),
        id
    );
    // No temporary file is left behind.
    let names = files_in(dir.path());
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

/// The id of a process that has ended (a child run and waited for).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

/// A creation killed part way leaves `<ledger>.new-<pid>.tmp` (and SQLite's
/// companions) under the dead process's id, which no later run would meet
/// by name: opening the ledger removes them, and leaves a running
/// process's alone (the crash test found one left after a resumed run).
#[test]
fn a_killed_creations_temporary_files_are_removed_when_the_ledger_is_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 1);
    let dead = dead_pid();
    let live = std::process::id();
    let name = |pid: u32, companion: &str| format!("ledger.sqlite.new-{pid}.tmp{companion}");
    let left = [
        name(dead, ""),
        name(dead, "-journal"),
        name(live, ""),
        format!("ledger.sqlite.backup-{dead}.tmp"),
        format!("other.sqlite.new-{dead}.tmp"),
    ];
    for file in &left {
        std::fs::write(dir.path().join(file), b"half made").expect("write");
    }
    drop(SqliteLedger::open_existing(&path).expect("open"));
    let names = files_in(dir.path());
    for gone in &left[..2] {
        assert!(!names.contains(gone), "{gone} is still there: {names:?}");
    }
    for kept in &left[2..] {
        assert!(names.contains(kept), "{kept} was removed: {names:?}");
    }
}

/// A ledger being made by a process this one cannot see (another PID
/// namespace: its id looks dead here) holds the lock on its temporary
/// file, and opening the ledger leaves that file alone.
#[test]
fn a_creation_whose_process_is_not_visible_but_holds_its_lock_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 1);
    let unseen = dead_pid();
    let tmp = format!("ledger.sqlite.new-{unseen}.tmp");
    let journal = format!("{tmp}-journal");
    std::fs::write(dir.path().join(&tmp), b"being made").expect("write");
    std::fs::write(dir.path().join(&journal), b"being made").expect("write");
    let held = std::fs::File::open(dir.path().join(&tmp)).expect("open");
    held.lock().expect("lock");
    drop(SqliteLedger::open_existing(&path).expect("open"));
    let names = files_in(dir.path());
    assert!(names.contains(&tmp), "{names:?}");
    assert!(names.contains(&journal), "{names:?}");
    // Once its lock is let go (its maker died), the next open removes it.
    drop(held);
    drop(SqliteLedger::open_existing(&path).expect("open"));
    let names = files_in(dir.path());
    assert!(
        !names.contains(&tmp) && !names.contains(&journal),
        "{names:?}"
    );
}

/// Overwrites `pages` whole pages from page `first` (1-based) with a pattern.
fn overwrite_pages(path: &Path, first: u64, pages: u64) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for damage");
    file.seek(SeekFrom::Start((first - 1) * PAGE_BYTES))
        .expect("seek");
    let garbage: Vec<u8> = (0..PAGE_BYTES * pages)
        .map(|i| (i * 37 % 251) as u8)
        .collect();
    file.write_all(&garbage).expect("damage");
    file.sync_all().expect("sync");
}

/// Issue 12 finding 3: with pages overwritten, `run` still wrote into the
/// ledger, and `status` blamed disk space and permissions.
#[test]
fn corrupted_ledger_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 200);
    let pages = std::fs::metadata(&path).expect("meta").len() / PAGE_BYTES;
    assert!(pages > 10, "{pages} pages");
    overwrite_pages(&path, pages / 2, 3);
    for err in [
        SqliteLedger::open_existing(&path).expect_err("damaged"),
        SqliteLedger::open(&path).expect_err("damaged, legacy open"),
    ] {
        assert!(matches!(err, LedgerError::Damaged { .. }), "{err}");
        let text = err.to_string();
        let head = format!("the ledger {} is damaged (SQLite: ", path.display());
        assert!(text.starts_with(&head), "{text}");
        assert!(
            text.ends_with(
                "): restore it from the last backup (access-letters backup) before running again"
            ),
            "{text}"
        );
    }
    // The first page holds the header: damage there is caught too.
    let second = dir.path().join("second");
    std::fs::create_dir(&second).expect("mkdir");
    let path = ledger_file(&second, 5);
    overwrite_pages(&path, 1, 1);
    let err = SqliteLedger::open_existing(&path).expect_err("damaged header");
    assert!(matches!(err, LedgerError::Damaged { .. }), "{err}");
}

#[test]
fn integrity_check_passes_a_sound_ledger_and_names_orphans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 20);
    let ledger = SqliteLedger::open_existing(&path).expect("open");
    ledger.integrity_check().expect("sound");
    ledger
        .conn
        .execute_batch(
            "PRAGMA foreign_keys = OFF; \
             UPDATE issuances SET batch_id = 'gone' WHERE receipt = 'IOE0000000007'; \
             PRAGMA foreign_keys = ON;",
        )
        .expect("orphan a row");
    let err = ledger.integrity_check().expect_err("orphan");
    assert!(matches!(err, LedgerError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("issuances row"), "{err}");
}

#[test]
fn ledger_identity_is_random_made_once_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 1);
    let id = SqliteLedger::open_existing(&path)
        .and_then(|l| l.ledger_id())
        .expect("id");
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let again = SqliteLedger::open_existing(&path)
        .and_then(|l| l.ledger_id())
        .expect("id");
    assert_eq!(again, id, "reopening keeps the id");
    let mem = SqliteLedger::open_in_memory().expect("mem");
    assert_ne!(mem.ledger_id().expect("id"), id);
    let mem2 = SqliteLedger::open_in_memory().expect("mem");
    assert_ne!(mem.ledger_id().expect("id"), mem2.ledger_id().expect("id"));
}

#[test]
fn a_ledger_from_version_1_gets_an_identity_on_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch(MIGRATIONS[0].sql).expect("version 1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
    }
    let ledger = SqliteLedger::open_existing(&path).expect("upgrade");
    assert_eq!(user_version(&ledger.conn, "t").expect("v"), SCHEMA_VERSION);
    let id = ledger.ledger_id().expect("id");
    assert_eq!(id.len(), 32);
    drop(ledger);
    let reopened = SqliteLedger::open_existing(&path).expect("reopen");
    assert_eq!(reopened.ledger_id().expect("id"), id);
}

#[test]
fn backup_copies_the_ledger_with_its_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_file(dir.path(), 30);
    let ledger = SqliteLedger::open_existing(&path).expect("open");
    let dest = dir.path().join("backup.sqlite");
    ledger.backup_to(&dest).expect("backup");

    let copy = SqliteLedger::open_existing(&dest).expect("the copy opens");
    copy.integrity_check().expect("the copy is sound");
    assert_eq!(
        copy.ledger_id().expect("id"),
        ledger.ledger_id().expect("id")
    );
    assert_eq!(copy.count_in_batch("b1").expect("count"), 30);
    for n in 1..=30 {
        assert_eq!(
            copy.history(&receipt(n)).expect("copy"),
            ledger.history(&receipt(n)).expect("original")
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dest).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Never over a file already there, never into a folder that is not.
    let err = ledger.backup_to(&dest).expect_err("exists");
    assert!(matches!(err, LedgerError::BackupExists { .. }), "{err}");
    let err = ledger.backup_to(&path).expect_err("the ledger itself");
    assert!(matches!(err, LedgerError::BackupExists { .. }), "{err}");
    let err = ledger
        .backup_to(&dir.path().join("nope").join("b.sqlite"))
        .expect_err("no folder");
    assert!(matches!(err, LedgerError::NoFolder { .. }), "{err}");
    let names = files_in(dir.path());
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

/// Measures `PRAGMA quick_check` (what opening costs) on a generated
/// ledger. Rows from `QUICK_CHECK_ROWS` (default 100,000). Run with
/// `cargo test --lib ledger::tests_guard::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_quick_check_on_opening() {
    const CHUNK_ROWS: u64 = 10_000;
    let rows: u64 = std::env::var("QUICK_CHECK_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir_in(".").expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    {
        let mut ledger = SqliteLedger::create(&path).expect("create");
        ledger
            .start_batch(&batch("b1", BatchKind::Nightly))
            .expect("start");
        for start in (1..=rows).step_by(CHUNK_ROWS as usize) {
            let end = (start + CHUNK_ROWS).min(rows + 1);
            let chunk: Vec<NewIssuance> = (start..end).map(|n| new_row(n, 1, "b1")).collect();
            ledger.record(&chunk).expect("record");
        }
    }
    let bytes = std::fs::metadata(&path).expect("meta").len();
    let ledger = SqliteLedger::open_existing(&path).expect("warm the page cache");
    drop(ledger);
    let (start, cpu) = (std::time::Instant::now(), cpu_seconds());
    let ledger = SqliteLedger::open_existing(&path).expect("open");
    let (open, open_cpu) = (start.elapsed(), cpu_seconds() - cpu);
    let (start, cpu) = (std::time::Instant::now(), cpu_seconds());
    ledger.integrity_check().expect("sound");
    let (full, full_cpu) = (start.elapsed(), cpu_seconds() - cpu);
    println!(
        "{rows} issuances, {:.0} MB: open with quick_check {:.3} s ({open_cpu:.2} s CPU), \
         full integrity_check {:.3} s ({full_cpu:.2} s CPU)",
        bytes as f64 / 1e6,
        open.as_secs_f64(),
        full.as_secs_f64()
    );
}

/// This process's CPU time (user + system), from /proc, in seconds; 0 where
/// there is no /proc. Wall time lies on a loaded machine.
fn cpu_seconds() -> f64 {
    /// Linux reports /proc times in clock ticks of 1/100 s.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the
    // 12th, stime the 13th.
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / TICKS_PER_SECOND
}
