//! The ledger's behaviour through the [`Ledger`] trait, on the SQLite ledger.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::lock::lock_path_for;
use super::sqlite::migrations::user_version;
use super::*;
use crate::code::{Fingerprint, IssuanceView};
use crate::filing::{Address, Filing, FormType, IssuanceStatus, Language, ReceiptNumber};
use crate::key::KeyMode;

pub(super) fn fixed_clock() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T03:04:05Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

pub(super) fn receipt(n: u64) -> ReceiptNumber {
    ReceiptNumber::parse(&format!("IOE{n:010}")).expect("valid receipt")
}

pub(super) fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

pub(super) fn filing(n: u64, zip5: &str, zip4: Option<&str>) -> Filing {
    Filing {
        line: n + 1,
        receipt: receipt(n),
        form: FormType::I485,
        received_date: date("2026-11-20"),
        given_name: "José".into(),
        middle_name: None,
        family_name: "Nguyễn".into(),
        a_number: Some("A123456789".into()),
        name_line: "JOSE NGUYEN".into(),
        address: Address {
            in_care_of: None,
            line1: "123 MAIN ST APT 4".into(),
            line2: None,
            city: "WASHINGTON".into(),
            state: "DC".into(),
            zip5: zip5.into(),
            zip4: zip4.map(str::to_string),
        },
        language: Language::En,
    }
}

pub(super) fn fingerprint(n: u64, issue_no: u32) -> Fingerprint {
    Fingerprint::from_hex(format!("{:064x}", n * 1000 + u64::from(issue_no))).expect("hex")
}

pub(super) fn new_row(n: u64, issue_no: u32, batch_id: &str) -> NewIssuance {
    new_row_zip(n, issue_no, batch_id, "20001", None)
}

pub(super) fn new_row_zip(
    n: u64,
    issue_no: u32,
    batch_id: &str,
    zip5: &str,
    zip4: Option<&str>,
) -> NewIssuance {
    NewIssuance {
        receipt: receipt(n),
        issue_no,
        form: FormType::I485,
        batch_id: batch_id.into(),
        piece_id: format!("P{n:08}-{issue_no}"),
        key_id: "test-2026".into(),
        fingerprint: fingerprint(n, issue_no),
        notice_date: date("2026-11-25"),
        expires_on: date("2027-02-23"),
        proof: LetterProof::File(Sha256Hex::parse(&format!("{:064x}", n)).expect("hex")),
        pages: 1,
        imb_serial: None,
        filing: filing(n, zip5, zip4),
        reason: None,
        forced: false,
    }
}

pub(super) fn batch(id: &str, kind: BatchKind) -> BatchRecord {
    BatchRecord {
        batch_id: id.into(),
        batch_date: date("2026-11-25"),
        key_id: "test-2026".into(),
        mode: KeyMode::Test,
        input_sha256: Sha256Hex::parse(&"ab".repeat(32)).expect("hex"),
        kind,
    }
}

pub(super) fn ledger_with_batch(id: &str) -> SqliteLedger {
    let mut ledger = SqliteLedger::open_in_memory()
        .expect("open")
        .with_clock(fixed_clock);
    ledger
        .start_batch(&batch(id, BatchKind::Nightly))
        .expect("start batch");
    ledger
}

pub(super) fn statuses(ledger: &SqliteLedger, r: &ReceiptNumber) -> Vec<(u32, IssuanceStatus)> {
    ledger
        .history(r)
        .expect("history")
        .iter()
        .map(|i| (i.issued.issue_no, i.status))
        .collect()
}

#[test]
fn migrations_apply_to_an_empty_database() {
    let ledger = SqliteLedger::open_in_memory().expect("open");
    assert_eq!(
        user_version(&ledger.conn, "test").expect("version"),
        SCHEMA_VERSION
    );
    let mut names: Vec<String> = ledger
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    names.sort();
    assert_eq!(
        names,
        [
            "batches",
            "deliveries",
            "deliveries_one_open",
            "delivery_files",
            "guesses",
            "guesses_by_account",
            "guesses_by_client",
            "guesses_by_receipt",
            "issuances",
            "issuances_by_serial",
            "issuances_one_active",
            "issuances_one_link",
            "issuances_presort",
            "mail_events",
            "mail_imports",
            "meta",
            "verify_attempts",
            "verify_attempts_by_receipt",
            "verify_locks",
            "verify_locks_by_receipt"
        ]
    );
    let fk: i64 = ledger
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("pragma");
    assert_eq!(fk, 1);
}

#[test]
fn no_column_can_hold_a_code() {
    let ledger = SqliteLedger::open_in_memory().expect("open");
    for table in ["batches", "issuances", "meta"] {
        let columns: Vec<String> = ledger
            .conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(!columns.is_empty());
        assert!(
            columns.iter().all(|c| !c.contains("code")),
            "{table}: {columns:?}"
        );
    }
}

#[test]
fn a_row_whose_filing_is_another_receipt_is_refused() {
    let mut ledger = ledger_with_batch("b1");
    let mut row = new_row(1, 1, "b1");
    row.filing = filing(2, "20001", None);
    let err = ledger.record(&[row]).expect_err("must refuse");
    assert!(matches!(err, LedgerError::FilingMismatch { .. }), "{err}");
}

#[test]
fn reopening_a_file_keeps_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    {
        let mut ledger = SqliteLedger::open(&path)
            .expect("open")
            .with_clock(fixed_clock);
        ledger
            .start_batch(&batch("b1", BatchKind::Nightly))
            .expect("start");
        ledger.record(&[new_row(1, 1, "b1")]).expect("record");
    }
    let ledger = SqliteLedger::open(&path).expect("reopen");
    let history = ledger.history(&receipt(1)).expect("history");
    assert_eq!(history.len(), 1);
    let got = &history[0];
    let want = new_row(1, 1, "b1");
    assert_eq!(got.issued.filing, want.filing);
    assert_eq!(got.issued.fingerprint, want.fingerprint);
    assert_eq!(got.issued.expires_on, date("2027-02-23"));
    assert_eq!(got.status, IssuanceStatus::Active);
    assert_eq!(got.recorded_at, fixed_clock());
    assert_eq!(got.status_changed_at, None);
    assert_eq!(
        got.view(),
        IssuanceView {
            issue_no: 1,
            key_id: "test-2026".into(),
            fingerprint: want.fingerprint.clone(),
            status: IssuanceStatus::Active,
            notice_date: got.issued.notice_date,
            expires_on: date("2027-02-23"),
            redeemed_at: None,
        }
    );
    assert_eq!(
        user_version(&ledger.conn, "test").expect("version"),
        SCHEMA_VERSION
    );
}

#[test]
fn a_ledger_from_a_newer_program_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    {
        let ledger = SqliteLedger::open(&path).expect("open");
        ledger
            .conn
            .pragma_update(None, "user_version", 99)
            .expect("set version");
    }
    let err = SqliteLedger::open(&path).expect_err("must refuse");
    assert!(
        matches!(
            err,
            LedgerError::TooNew {
                found: 99,
                known: SCHEMA_VERSION,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("schema version 99"), "{text}");
    assert!(text.contains("newer access-letters"), "{text}");
}

#[test]
fn record_then_receipt_states() {
    let mut ledger = ledger_with_batch("b1");
    ledger
        .start_batch(&batch("r1", BatchKind::Reissue))
        .expect("reissue batch");
    ledger
        .record(&[new_row(1, 1, "b1"), new_row(2, 1, "b1")])
        .expect("record");
    ledger
        .supersede_and_record(&new_row(2, 2, "r1"))
        .expect("reissue");
    let states = ledger
        .receipt_states(&[receipt(1), receipt(2), receipt(3), receipt(1)])
        .expect("states");
    assert_eq!(states.len(), 2);
    assert_eq!(
        states[&receipt(1)],
        ReceiptState {
            max_issue_no: 1,
            active: Some(ActiveRef {
                issue_no: 1,
                batch_id: "b1".into()
            })
        }
    );
    assert_eq!(
        states[&receipt(2)],
        ReceiptState {
            max_issue_no: 2,
            active: Some(ActiveRef {
                issue_no: 2,
                batch_id: "r1".into()
            })
        }
    );
    assert!(!states.contains_key(&receipt(3)));
    assert_eq!(ledger.count_in_batch("b1").expect("count"), 2);
    assert_eq!(ledger.count_in_batch("r1").expect("count"), 1);
    assert_eq!(ledger.count_in_batch("nope").expect("count"), 0);
}

#[test]
fn a_duplicate_issue_rolls_back_the_whole_chunk() {
    let mut ledger = ledger_with_batch("b1");
    ledger.record(&[new_row(1, 1, "b1")]).expect("first");
    let mut dup = new_row(1, 1, "b1");
    dup.piece_id = "P-other".into();
    let err = ledger
        .record(&[new_row(3, 1, "b1"), dup])
        .expect_err("duplicate must fail");
    match &err {
        LedgerError::DuplicateIssuance {
            receipt: r,
            issue_no: 1,
            ..
        } => assert_eq!(r, &receipt(1)),
        other => panic!("wrong error: {other}"),
    }
    assert!(err
        .to_string()
        .starts_with("receipt IOE0000000001 issue 1 is already in the issuance ledger"));
    // Receipt 3 came first in the chunk and must not survive.
    assert!(ledger
        .receipt_states(&[receipt(3)])
        .expect("states")
        .is_empty());
    assert_eq!(ledger.count_in_batch("b1").expect("count"), 1);
}

#[test]
fn a_duplicate_piece_id_is_named() {
    let mut ledger = ledger_with_batch("b1");
    ledger.record(&[new_row(1, 1, "b1")]).expect("first");
    let mut row = new_row(2, 1, "b1");
    row.piece_id = new_row(1, 1, "b1").piece_id;
    let err = ledger.record(&[row]).expect_err("must fail");
    assert!(matches!(err, LedgerError::DuplicatePiece { .. }), "{err}");
}

#[test]
fn recording_for_an_unknown_batch_is_refused() {
    let mut ledger = ledger_with_batch("b1");
    let err = ledger
        .record(&[new_row(1, 1, "missing")])
        .expect_err("must fail");
    assert!(
        matches!(&err, LedgerError::UnknownBatch { batch_id, .. } if batch_id == "missing"),
        "{err}"
    );
}

#[test]
fn at_most_one_active_issuance_per_receipt() {
    let mut ledger = ledger_with_batch("b1");
    ledger.record(&[new_row(1, 1, "b1")]).expect("first");
    let err = ledger
        .record(&[new_row(1, 2, "b1")])
        .expect_err("second active must fail");
    assert!(
        matches!(
            err,
            LedgerError::AlreadyActive {
                issue_no: 2,
                active_issue_no: 1,
                ..
            }
        ),
        "{err}"
    );
    // Also within one chunk.
    let err = ledger
        .record(&[new_row(5, 1, "b1"), new_row(5, 2, "b1")])
        .expect_err("two active in one chunk must fail");
    assert!(matches!(err, LedgerError::AlreadyActive { .. }), "{err}");
    assert_eq!(
        statuses(&ledger, &receipt(1)),
        [(1, IssuanceStatus::Active)]
    );
    assert!(ledger.history(&receipt(5)).expect("history").is_empty());
}

#[test]
fn supersede_and_record_flips_statuses() {
    let mut ledger = ledger_with_batch("b1");
    ledger
        .start_batch(&batch("r1", BatchKind::Reissue))
        .expect("reissue batch");
    ledger.record(&[new_row(1, 1, "b1")]).expect("first");
    let mut second = new_row(1, 2, "r1");
    second.reason = Some("letter returned undeliverable".into());
    second.forced = true;
    ledger.supersede_and_record(&second).expect("reissue");
    let history = ledger.history(&receipt(1)).expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].status, IssuanceStatus::Superseded);
    assert_eq!(history[0].status_changed_at, Some(fixed_clock()));
    assert_eq!(history[1].status, IssuanceStatus::Active);
    assert_eq!(
        history[1].issued.reason.as_deref(),
        Some("letter returned undeliverable")
    );
    assert!(history[1].issued.forced);
    assert_eq!(history[1].issued.batch_id, "r1");

    // Wrong next number: refused, and nothing changes.
    for wrong in [2, 4] {
        let err = ledger
            .supersede_and_record(&new_row(1, wrong, "r1"))
            .expect_err("out of order");
        assert!(
            matches!(err, LedgerError::IssueOutOfOrder { expected: 3, .. }),
            "{err}"
        );
    }
    assert_eq!(
        statuses(&ledger, &receipt(1)),
        [(1, IssuanceStatus::Superseded), (2, IssuanceStatus::Active)]
    );
    assert_eq!(
        ledger
            .issuance(&receipt(1), 2)
            .expect("issuance")
            .map(|i| i.issued.piece_id),
        Some(new_row(1, 2, "r1").piece_id)
    );
    assert_eq!(ledger.issuance(&receipt(1), 3).expect("issuance"), None);
}

#[test]
fn history_is_ordered_by_issue_number() {
    let mut ledger = ledger_with_batch("b1");
    ledger.record(&[new_row(1, 3, "b1")]).expect("issue 3");
    // Older issues inserted later, as a migration from another system
    // might: history must still come back by issue number.
    for issue_no in [1u32, 2] {
        ledger
            .conn
            .execute(
                &format!(
                    "INSERT INTO issuances ({ISSUANCE_COLUMNS}, zip5) \
                     SELECT receipt, ?1, form, batch_id, piece_id || '-' || ?1, key_id, \
                     fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, \
                     imb_serial, filing_json, reason, forced, 'superseded', recorded_at, \
                     status_changed_at, status_reason, redeemed_at, redeemed_by, unlinked_at, \
                     unlink_reason, zip5 FROM issuances WHERE issue_no = 3"
                ),
                [issue_no],
            )
            .expect("insert old issue");
    }
    assert_eq!(
        statuses(&ledger, &receipt(1)),
        [
            (1, IssuanceStatus::Superseded),
            (2, IssuanceStatus::Superseded),
            (3, IssuanceStatus::Active)
        ]
    );
}

#[test]
fn for_each_in_batch_streams_in_presort_order() {
    let mut ledger = ledger_with_batch("b1");
    ledger
        .start_batch(&batch("b2", BatchKind::Nightly))
        .expect("other batch");
    ledger
        .record(&[
            new_row_zip(1, 1, "b1", "20001", Some("1234")),
            new_row_zip(2, 1, "b1", "20001", None),
            new_row_zip(3, 1, "b1", "10001", Some("0001")),
            new_row_zip(4, 1, "b1", "99501", None),
            new_row_zip(5, 1, "b1", "20001", Some("0002")),
            new_row_zip(6, 1, "b1", "20001", None),
            new_row_zip(7, 1, "b2", "00601", None),
        ])
        .expect("record");
    let mut seen = Vec::new();
    let count = ledger
        .for_each_in_batch("b1", &mut |i| {
            seen.push((i.issued.filing.address.zip(), i.issued.receipt.clone()));
            std::ops::ControlFlow::Continue(())
        })
        .expect("walk");
    assert_eq!(count, 6);
    let want = [
        ("10001-0001", 3),
        ("20001", 2),
        ("20001", 6),
        ("20001-0002", 5),
        ("20001-1234", 1),
        ("99501", 4),
    ];
    let want: Vec<(String, ReceiptNumber)> = want
        .iter()
        .map(|(z, n)| (z.to_string(), receipt(*n)))
        .collect();
    assert_eq!(seen, want);

    // A callback error stops the walk at once and comes back unchanged.
    let mut calls = 0;
    let walker: &dyn Ledger = &ledger;
    let err = walker
        .walk_batch("b1", |_| {
            calls += 1;
            if calls == 2 {
                Err("manifest disk full")
            } else {
                Ok(())
            }
        })
        .expect("the ledger itself did not fail")
        .expect_err("aborted");
    assert_eq!(calls, 2);
    assert_eq!(err, "manifest disk full");
}

#[test]
fn presort_order_is_served_by_the_index_without_a_sort() {
    let ledger = ledger_with_batch("b1");
    let plan: Vec<String> = ledger
        .conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN SELECT {ISSUANCE_COLUMNS} FROM issuances \
             WHERE batch_id = ?1 ORDER BY zip5, zip4, receipt, issue_no"
        ))
        .expect("prepare")
        .query_map(["b1"], |r| r.get(3))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let plan = plan.join("; ");
    assert!(plan.contains("issuances_presort"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[test]
fn last_serial_is_the_most_recent_not_the_largest() {
    let mut ledger = ledger_with_batch("b1");
    assert_eq!(ledger.last_serial().expect("serial"), None);
    let with_serial = |n: u64, serial: Option<u64>| {
        let mut row = new_row(n, 1, "b1");
        row.imb_serial = serial;
        row
    };
    ledger
        .record(&[
            with_serial(1, Some(5)),
            with_serial(2, None),
            with_serial(3, Some(7)),
        ])
        .expect("record");
    assert_eq!(ledger.last_serial().expect("serial"), Some(7));
    ledger.record(&[with_serial(4, Some(3))]).expect("record");
    assert_eq!(ledger.last_serial().expect("serial"), Some(3));
    ledger.record(&[with_serial(5, None)]).expect("record");
    assert_eq!(ledger.last_serial().expect("serial"), Some(3));
}

#[test]
fn start_batch_is_idempotent_and_refuses_a_different_input() {
    let mut ledger = ledger_with_batch("b1");
    ledger
        .start_batch(&batch("b1", BatchKind::Nightly))
        .expect("same batch again");
    let n: i64 = ledger
        .conn
        .query_row("SELECT COUNT(*) FROM batches", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
    assert_eq!(
        ledger.batch("b1").expect("batch"),
        Some((batch("b1", BatchKind::Nightly), None))
    );
    assert_eq!(ledger.batch("b9").expect("batch"), None);

    let mut other = batch("b1", BatchKind::Nightly);
    other.input_sha256 = Sha256Hex::parse(&"cd".repeat(32)).expect("hex");
    let err = ledger.start_batch(&other).expect_err("conflict");
    assert!(matches!(err, LedgerError::BatchConflict { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("input file (recorded sha256 abab"), "{text}");

    let mut other_key = batch("b1", BatchKind::Nightly);
    other_key.key_id = "prod-2027".into();
    let text = ledger
        .start_batch(&other_key)
        .expect_err("conflict")
        .to_string();
    assert!(
        text.contains("key (recorded test-2026, now prod-2027)"),
        "{text}"
    );

    ledger
        .complete_batch("b1", r#"{"issued":0}"#)
        .expect("complete");
    assert_eq!(
        ledger.batch("b1").expect("batch").and_then(|(_, s)| s),
        Some(r#"{"issued":0}"#.to_string())
    );
    let err = ledger.complete_batch("b9", "{}").expect_err("unknown");
    assert!(matches!(err, LedgerError::UnknownBatch { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn a_new_ledger_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    let mut ledger = SqliteLedger::create(&path).expect("create");
    ledger
        .start_batch(&batch("b1", BatchKind::Nightly))
        .expect("start");
    ledger.record(&[new_row(1, 1, "b1")]).expect("record");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let _lock = LedgerLock::acquire(&path).expect("lock");
    for file in [
        path.clone(),
        PathBuf::from(wal),
        lock_path_for(&std::fs::canonicalize(&path).expect("canonical")),
    ] {
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
}

/// Measures the price of `synchronous=FULL` over `NORMAL` for 1000
/// transactions of 256 rows. Run with
/// `cargo test --release ledger::tests::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_synchronous_full_vs_normal() {
    const TRANSACTIONS: u64 = 1000;
    const ROWS_PER_TRANSACTION: u64 = 256;
    for mode in ["NORMAL", "FULL"] {
        let dir = tempfile::tempdir_in(".").expect("tempdir");
        let path = dir.path().join("ledger.sqlite");
        let mut ledger = SqliteLedger::open_with_synchronous(&path, mode).expect("open");
        ledger
            .start_batch(&batch("b1", BatchKind::Nightly))
            .expect("start");
        let mut elapsed = Duration::ZERO;
        for t in 0..TRANSACTIONS {
            let rows: Vec<NewIssuance> = (0..ROWS_PER_TRANSACTION)
                .map(|i| new_row(t * ROWS_PER_TRANSACTION + i, 1, "b1"))
                .collect();
            let start = std::time::Instant::now();
            ledger.record(&rows).expect("record");
            elapsed += start.elapsed();
        }
        println!(
            "synchronous={mode}: {TRANSACTIONS} transactions x {ROWS_PER_TRANSACTION} rows in {:.2} s ({:.2} ms per transaction)",
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1000.0 / TRANSACTIONS as f64
        );
    }
}
