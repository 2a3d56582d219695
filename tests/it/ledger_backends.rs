//! The ledger's behaviour, written once over `&mut dyn Ledger` and run on
//! both backends: `sqlite::<case>` on a SQLite file in a temporary folder,
//! `postgres::<case>` on a fresh schema of the PostgreSQL server named by
//! `ACCESS_LETTERS_TEST_PG` (a connection URL; `.ci/pg-cluster start` makes
//! one). Without that variable each PostgreSQL test says it was skipped and
//! passes.
//!
//! Every PostgreSQL test gets its own schema (via `search_path` in the
//! connection URL), so the tests run in parallel on one server, and drops it
//! at the end.

use access_letters::ledger::prelude::*;
use std::collections::HashSet;
use std::time::Instant;

use access_letters::code::Fingerprint;
use access_letters::filing::{Address, Filing, FormType, IssuanceStatus, Language, ReceiptNumber};
use access_letters::key::KeyMode;
use access_letters::ledger::{
    AttemptKind, AttemptLimit, BatchKind, BatchRecord, Gate, Ledger, LedgerError, LetterProof,
    NewIssuance, PostgresLedger, PrintedLetter, ProofKind, Sha256Hex, SqliteLedger,
    NOT_YET_COUNTED,
};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::support::pg::PgSchema;

const BATCH: &str = "2026-11-25-abc123";
const FIXED_NOW: &str = "2026-11-26T03:04:05.000Z";

// ---------------------------------------------------------------- fixtures

fn fixed_clock() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(FIXED_NOW)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

fn receipt(n: u64) -> ReceiptNumber {
    ReceiptNumber::parse(&format!("IOE{n:010}")).expect("valid receipt")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

fn filing(n: u64, zip5: &str, zip4: Option<&str>) -> Filing {
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

fn row_zip(n: u64, issue_no: u32, batch_id: &str, zip5: &str, zip4: Option<&str>) -> NewIssuance {
    NewIssuance {
        receipt: receipt(n),
        issue_no,
        form: FormType::I485,
        batch_id: batch_id.into(),
        piece_id: format!("IOE{n:010}-{issue_no:02}"),
        key_id: "test-2026".into(),
        fingerprint: Fingerprint::from_hex(format!("{:064x}", n * 1000 + u64::from(issue_no)))
            .expect("hex"),
        notice_date: date("2026-11-25"),
        expires_on: date("2027-02-23"),
        proof: LetterProof::File(Sha256Hex::parse(&format!("{n:064x}")).expect("hex")),
        pages: 1,
        imb_serial: None,
        filing: filing(n, zip5, zip4),
        reason: None,
        forced: false,
    }
}

fn row(n: u64, issue_no: u32) -> NewIssuance {
    row_zip(n, issue_no, BATCH, "20001", None)
}

fn batch(id: &str, kind: BatchKind) -> BatchRecord {
    BatchRecord {
        batch_id: id.into(),
        batch_date: date("2026-11-25"),
        key_id: "test-2026".into(),
        mode: KeyMode::Test,
        input_sha256: Sha256Hex::parse(&"ab".repeat(32)).expect("hex"),
        kind,
    }
}

fn statuses(ledger: &dyn Ledger, n: u64) -> Vec<(u32, IssuanceStatus)> {
    ledger
        .history(&receipt(n))
        .expect("history")
        .iter()
        .map(|i| (i.issued.issue_no, i.status))
        .collect()
}

// ---------------------------------------------------------------- backends

fn with_sqlite(case: fn(&mut dyn Ledger)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = SqliteLedger::open(&dir.path().join("ledger.sqlite"))
        .expect("open the SQLite ledger")
        .with_clock(fixed_clock);
    case(&mut ledger);
}

fn with_postgres(test: &str, case: fn(&mut dyn Ledger)) {
    let Some(schema) = PgSchema::create(test) else {
        return;
    };
    let mut ledger = schema.connect().with_clock(fixed_clock);
    case(&mut ledger);
}

/// Each case becomes `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::with_sqlite(super::cases::$case) } )*
        }
        mod postgres {
            $( #[test] fn $case() { super::with_postgres(stringify!($case), super::cases::$case) } )*
        }
    };
}

on_both_backends!(
    record_then_history_round_trips_every_field,
    supersede_and_record_flips_statuses,
    uniqueness_is_enforced_and_a_chunk_is_all_or_nothing,
    receipt_states_report_known_receipts_only,
    last_serial_is_the_most_recent_not_the_largest,
    for_each_in_batch_walks_in_presort_order,
    start_and_complete_batch,
    lock_batch_succeeds_for_the_first_claim,
    ledger_id_is_32_hex_digits_and_stable,
    wrong_codes_lock_the_receipt_for_one_window,
    attempts_are_per_receipt_and_real_codes_are_not_counted,
    printed_letters_are_recorded_once_and_never_rewritten,
);

// ---------------------------------------------------------------- cases

mod cases {
    use super::*;

    const LIMIT: AttemptLimit = AttemptLimit {
        max_wrong: 5,
        window: TimeDelta::minutes(10),
    };

    fn minute(m: i64) -> DateTime<Utc> {
        fixed_clock() + TimeDelta::minutes(m)
    }

    fn attempt(ledger: &mut dyn Ledger, n: u64, kind: AttemptKind, at: DateTime<Utc>) -> Gate {
        ledger
            .gate_attempt(&receipt(n), kind, at, LIMIT)
            .expect("count the attempt")
    }

    pub fn wrong_codes_lock_the_receipt_for_one_window(ledger: &mut dyn Ledger) {
        // Four wrong or mistyped codes in the window leave it open...
        for (i, kind) in [AttemptKind::Wrong, AttemptKind::Mistyped]
            .repeat(2)
            .into_iter()
            .enumerate()
        {
            let gate = attempt(ledger, 1, kind, minute(i as i64));
            assert_eq!(
                gate,
                Gate::Open {
                    wrong_in_window: i as u32 + 1,
                    locked_until: None
                }
            );
        }
        // ...the fifth locks it for ten minutes from then...
        assert_eq!(
            attempt(ledger, 1, AttemptKind::Wrong, minute(4)),
            Gate::Open {
                wrong_in_window: 5,
                locked_until: Some(minute(14))
            }
        );
        // ...and while locked even the right code is refused, uncounted.
        for at in [minute(4), minute(10), minute(13)] {
            assert_eq!(
                attempt(ledger, 1, AttemptKind::NotCounted, at),
                Gate::Locked { until: minute(14) }
            );
        }
        let s = ledger
            .attempt_summary(&receipt(1), minute(13), LIMIT)
            .expect("summary");
        assert_eq!((s.wrong_total, s.refused_total, s.locks_total), (5, 3, 1));
        assert_eq!(s.locked_until, Some(minute(14)));
        assert_eq!(s.last_attempt, Some(minute(13)));
        // When the lock ends the five are out of the window: open again.
        assert_eq!(
            attempt(ledger, 1, AttemptKind::NotCounted, minute(14)),
            Gate::Open {
                wrong_in_window: 0,
                locked_until: None
            }
        );
        assert_eq!(
            attempt(ledger, 1, AttemptKind::Wrong, minute(15)),
            Gate::Open {
                wrong_in_window: 1,
                locked_until: None
            }
        );
        let s = ledger
            .attempt_summary(&receipt(1), minute(15), LIMIT)
            .expect("summary");
        assert_eq!(
            (s.wrong_in_window, s.wrong_total, s.locked_until),
            (1, 6, None)
        );
    }

    pub fn attempts_are_per_receipt_and_real_codes_are_not_counted(ledger: &mut dyn Ledger) {
        for m in 0..5 {
            attempt(ledger, 1, AttemptKind::Wrong, minute(m));
        }
        assert!(matches!(
            attempt(ledger, 1, AttemptKind::Wrong, minute(5)),
            Gate::Locked { .. }
        ));
        // Another receipt is not held up, and real codes never add up.
        for m in 0..20 {
            assert_eq!(
                attempt(ledger, 2, AttemptKind::NotCounted, minute(m)),
                Gate::Open {
                    wrong_in_window: 0,
                    locked_until: None
                }
            );
        }
        // Wrong codes spread wider than the window never lock.
        for m in 0..10 {
            let gate = attempt(ledger, 3, AttemptKind::Mistyped, minute(m * 3));
            assert!(
                matches!(
                    gate,
                    Gate::Open {
                        locked_until: None,
                        ..
                    }
                ),
                "{gate:?}"
            );
        }
        let s = ledger
            .attempt_summary(&receipt(2), minute(20), LIMIT)
            .expect("summary");
        assert_eq!(
            (s.wrong_total, s.refused_total, s.last_attempt),
            (0, 0, None)
        );
    }

    fn started(ledger: &mut dyn Ledger) {
        ledger
            .start_batch(&batch(BATCH, BatchKind::Nightly))
            .expect("start batch");
    }

    /// The text form of a letter's recorded proof.
    fn proof_of(ledger: &dyn Ledger, n: u64) -> String {
        ledger.history(&receipt(n)).expect("history")[0]
            .issued
            .proof
            .to_string()
    }

    /// A digest made of one hex pair repeated.
    fn digest(pair: &str) -> Sha256Hex {
        Sha256Hex::parse(&pair.repeat(32)).expect("hex")
    }

    /// The text form of a printed letter's proof.
    fn printed_proof(pair: &str) -> String {
        LetterProof::Printed(digest(pair)).to_string()
    }

    /// What was printed of letters `n` (digests of `pair`); letter `n`
    /// has `n % 3 + 1` pages.
    fn printed(pairs: &[(u64, &str)]) -> Vec<PrintedLetter> {
        pairs
            .iter()
            .map(|(n, pair)| PrintedLetter {
                piece_id: format!("IOE{n:010}-01"),
                digest: digest(pair),
                pages: (n % 3 + 1) as u32,
            })
            .collect()
    }

    fn pages_of(ledger: &dyn Ledger, n: u64) -> u32 {
        let issued = ledger.issuance(&receipt(n), 1).expect("read");
        issued.expect("recorded").issued.pages
    }

    pub fn printed_letters_are_recorded_once_and_never_rewritten(ledger: &mut dyn Ledger) {
        started(ledger);
        let mut rows: Vec<NewIssuance> = (1..=5).map(|n| row(n, 1)).collect();
        for n in [1, 2, 5] {
            rows[n - 1].proof = LetterProof::NotYetPrinted;
            rows[n - 1].pages = NOT_YET_COUNTED;
        }
        ledger.record(&rows).expect("record");
        let recorded = ledger
            .record_printed(BATCH, &mut printed(&[(1, "aa"), (2, "bb")]).into_iter())
            .expect("record what was printed");
        assert_eq!(recorded, 2);
        assert_eq!(proof_of(ledger, 1), printed_proof("aa"));
        assert_eq!(proof_of(ledger, 2), printed_proof("bb"));
        // The pages are counted as the letters are drawn.
        assert_eq!((pages_of(ledger, 1), pages_of(ledger, 2)), (2, 3));
        assert_eq!(pages_of(ledger, 5), NOT_YET_COUNTED);
        // The same print again (a print file written again) is fine.
        ledger
            .record_printed(BATCH, &mut printed(&[(1, "aa")]).into_iter())
            .expect("the same print again");
        // Another print of a recorded letter, a letter with a file of its
        // own, an unknown letter or another batch's letter refuse the whole
        // group: letter 5, first in each group, stays not printed.
        for (bad, batch_id, named) in [
            (printed(&[(5, "ff"), (2, "cc")]), BATCH, 2),
            (printed(&[(5, "ff"), (3, "dd")]), BATCH, 3),
            (printed(&[(5, "ff"), (9, "ee")]), BATCH, 9),
            (printed(&[(5, "ff")]), "another-batch", 5),
        ] {
            let err = ledger
                .record_printed(batch_id, &mut bad.into_iter())
                .expect_err("refused");
            let want = format!("IOE{named:010}-01");
            assert!(
                matches!(&err, LedgerError::PrintedDiffers { piece_id, .. } if *piece_id == want),
                "{err}"
            );
            assert_eq!(proof_of(ledger, 5), "not-yet-printed", "{err}");
            assert_eq!(pages_of(ledger, 5), NOT_YET_COUNTED, "{err}");
        }
        assert_eq!(proof_of(ledger, 1), printed_proof("aa"));
        assert_eq!(proof_of(ledger, 2), printed_proof("bb"));
        assert_eq!(proof_of(ledger, 3), format!("{:064x}", 3));
        let nothing = ledger.record_printed(BATCH, &mut std::iter::empty());
        assert_eq!(nothing.expect("nothing to record"), 0);
        // A batch's worth, more than one group of the PostgreSQL backend,
        // streamed in one call.
        let many: Vec<NewIssuance> = (100..5_100)
            .map(|n| NewIssuance {
                proof: LetterProof::NotYetPrinted,
                ..row(n, 1)
            })
            .collect();
        ledger.record(&many).expect("record");
        let mut proofs = (100..5_100u64).map(|n| PrintedLetter {
            piece_id: format!("IOE{n:010}-01"),
            digest: Sha256Hex::parse(&format!("{n:064x}")).expect("hex"),
            pages: (n % 3 + 1) as u32,
        });
        let recorded = ledger.record_printed(BATCH, &mut proofs);
        assert_eq!(recorded.expect("record a batch's worth"), 5_000);
        for n in [100, 4_195, 4_196, 5_099] {
            assert_eq!(proof_of(ledger, n), format!("content-sha256:{n:064x}"));
            assert_eq!(pages_of(ledger, n), (n % 3 + 1) as u32);
        }
    }

    pub fn record_then_history_round_trips_every_field(ledger: &mut dyn Ledger) {
        started(ledger);
        let mut rows = vec![
            row(1, 1),
            row(2, 1),
            row_zip(3, 1, BATCH, "96799", Some("1234")),
        ];
        rows[1].imb_serial = Some(123_456);
        rows[1].reason = Some("a reason".into());
        rows[1].forced = true;
        rows[2].pages = 3;
        ledger.record(&rows).expect("record");
        for r in &rows {
            let history = ledger.history(&r.receipt).expect("history");
            assert_eq!(history.len(), 1);
            let got = &history[0];
            assert_eq!(&got.issued, r, "every field comes back as recorded");
            assert_eq!(got.status, IssuanceStatus::Active);
            assert_eq!(got.recorded_at, fixed_clock());
            assert_eq!(got.status_changed_at, None);
            let one = ledger.issuance(&r.receipt, 1).expect("issuance");
            assert_eq!(one.as_ref().map(|i| &i.issued), Some(r));
        }
        assert!(ledger.issuance(&receipt(1), 2).expect("read").is_none());
        assert!(ledger.history(&receipt(99)).expect("read").is_empty());
        assert_eq!(ledger.count_in_batch(BATCH).expect("count"), 3);
        ledger.record(&[]).expect("an empty chunk is fine");
    }

    pub fn supersede_and_record_flips_statuses(ledger: &mut dyn Ledger) {
        started(ledger);
        ledger
            .start_batch(&batch("reissue-1", BatchKind::Reissue))
            .expect("start");
        ledger.record(&[row(7, 1)]).expect("record");
        let mut second = row_zip(7, 2, "reissue-1", "20001", None);
        second.reason = Some("lost in the mail".into());
        ledger.supersede_and_record(&second).expect("reissue");
        assert_eq!(
            statuses(ledger, 7),
            vec![(1, IssuanceStatus::Superseded), (2, IssuanceStatus::Active)]
        );
        let history = ledger.history(&receipt(7)).expect("history");
        assert_eq!(history[0].status_changed_at, Some(fixed_clock()));
        let skipped = row_zip(7, 4, "reissue-1", "20001", None);
        let err = ledger
            .supersede_and_record(&skipped)
            .expect_err("4 is not next");
        assert!(
            matches!(err, LedgerError::IssueOutOfOrder { expected: 3, .. }),
            "{err}"
        );
        // A first issuance by reissue (no history) is issue 1.
        ledger
            .supersede_and_record(&row_zip(8, 1, "reissue-1", "20001", None))
            .expect("issue 1 of a new receipt");
        assert_eq!(statuses(ledger, 8), vec![(1, IssuanceStatus::Active)]);
    }

    pub fn uniqueness_is_enforced_and_a_chunk_is_all_or_nothing(ledger: &mut dyn Ledger) {
        started(ledger);
        ledger.record(&[row(1, 1)]).expect("record");

        let err = ledger
            .record(&[row(5, 1), row(1, 1)])
            .expect_err("1/1 again");
        assert!(
            matches!(&err, LedgerError::DuplicateIssuance { receipt: r, issue_no: 1, .. } if *r == receipt(1)),
            "{err}"
        );
        assert!(err.to_string().contains("already in the issuance ledger"));
        assert!(
            ledger.history(&receipt(5)).expect("read").is_empty(),
            "all or nothing"
        );

        let mut second_active = row(1, 2);
        second_active.piece_id = "OTHER-PIECE".into();
        let err = ledger.record(&[second_active]).expect_err("two active");
        assert!(
            matches!(
                err,
                LedgerError::AlreadyActive {
                    active_issue_no: 1,
                    ..
                }
            ),
            "{err}"
        );

        let mut same_piece = row(2, 1);
        same_piece.piece_id = row(1, 1).piece_id;
        let err = ledger.record(&[same_piece]).expect_err("piece reused");
        assert!(matches!(err, LedgerError::DuplicatePiece { .. }), "{err}");

        let err = ledger
            .record(&[row(3, 1), row(3, 1)])
            .expect_err("twice in one chunk");
        assert!(
            matches!(err, LedgerError::DuplicateIssuance { .. }),
            "{err}"
        );

        let err = ledger
            .record(&[row_zip(4, 1, "no-such-batch", "20001", None)])
            .expect_err("unknown batch");
        assert!(matches!(err, LedgerError::UnknownBatch { .. }), "{err}");

        assert_eq!(ledger.count_in_batch(BATCH).expect("count"), 1);
        assert_eq!(statuses(ledger, 1), vec![(1, IssuanceStatus::Active)]);
    }

    pub fn receipt_states_report_known_receipts_only(ledger: &mut dyn Ledger) {
        started(ledger);
        ledger
            .start_batch(&batch("reissue-1", BatchKind::Reissue))
            .expect("start");
        ledger.record(&[row(1, 1), row(2, 1)]).expect("record");
        ledger
            .supersede_and_record(&row_zip(2, 2, "reissue-1", "20001", None))
            .expect("reissue");
        let asked = [receipt(1), receipt(2), receipt(3), receipt(1)];
        let states = ledger.receipt_states(&asked).expect("states");
        assert_eq!(states.len(), 2, "receipt 3 was never issued");
        assert_eq!(states[&receipt(1)].max_issue_no, 1);
        let active = states[&receipt(1)].active.as_ref().expect("active");
        assert_eq!((active.issue_no, active.batch_id.as_str()), (1, BATCH));
        assert_eq!(states[&receipt(2)].max_issue_no, 2);
        let active = states[&receipt(2)].active.as_ref().expect("active");
        assert_eq!(
            (active.issue_no, active.batch_id.as_str()),
            (2, "reissue-1")
        );
        assert!(ledger.receipt_states(&[]).expect("empty").is_empty());
    }

    pub fn last_serial_is_the_most_recent_not_the_largest(ledger: &mut dyn Ledger) {
        started(ledger);
        assert_eq!(ledger.last_serial().expect("read"), None);
        let mut a = row(1, 1);
        a.imb_serial = Some(999_999);
        ledger.record(&[a]).expect("record");
        ledger.record(&[row(2, 1)]).expect("no serial");
        let mut c = row(3, 1);
        c.imb_serial = Some(5);
        ledger.record(&[c]).expect("record");
        ledger.record(&[row(4, 1)]).expect("no serial");
        assert_eq!(ledger.last_serial().expect("read"), Some(5));
    }

    pub fn for_each_in_batch_walks_in_presort_order(ledger: &mut dyn Ledger) {
        started(ledger);
        // More rows than one page of the PostgreSQL walk.
        let zips = [
            ("20001", Some("0002")),
            ("10001", None),
            ("20001", None),
            ("20001", Some("0001")),
        ];
        let rows: Vec<NewIssuance> = (0..2_500u64)
            .rev()
            .map(|n| {
                let (z5, z4) = zips[(n % 4) as usize];
                row_zip(n, 1, BATCH, z5, z4)
            })
            .collect();
        for chunk in rows.chunks(512) {
            ledger.record(chunk).expect("record");
        }
        let mut seen = Vec::new();
        let count = ledger
            .for_each_in_batch(BATCH, &mut |i| {
                let a = &i.issued.filing.address;
                seen.push((a.zip5.clone(), a.zip4.clone(), i.issued.receipt.clone()));
                std::ops::ControlFlow::Continue(())
            })
            .expect("walk");
        assert_eq!(count, 2_500);
        let mut want = seen.clone();
        // Plain ZIPs (None) sort before ZIP+4s, as Option does.
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 2_500);

        // An error from the callback stops the walk and comes back.
        let mut calls = 0;
        let err = (&*ledger as &dyn Ledger)
            .walk_batch(BATCH, |_| {
                calls += 1;
                Err("stop here")
            })
            .expect("the ledger did not fail")
            .expect_err("the callback failed");
        assert_eq!(calls, 1);
        assert_eq!(err, "stop here");
        let nothing = (&*ledger as &dyn Ledger).walk_batch("other", |_| Ok::<_, ()>(()));
        assert_eq!(nothing.expect("walk"), Ok(0));
    }

    pub fn ledger_id_is_32_hex_digits_and_stable(ledger: &mut dyn Ledger) {
        let id = ledger.ledger_id().expect("a ledger has an identity");
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(ledger.ledger_id().expect("read again"), id);
    }

    pub fn start_and_complete_batch(ledger: &mut dyn Ledger) {
        assert!(ledger.batch(BATCH).expect("read").is_none());
        started(ledger);
        started(ledger); // a re-run of the same input is fine
        let (got, summary) = ledger.batch(BATCH).expect("read").expect("recorded");
        assert_eq!(got, batch(BATCH, BatchKind::Nightly));
        assert_eq!(summary, None);

        let mut other_input = batch(BATCH, BatchKind::Nightly);
        other_input.input_sha256 = Sha256Hex::parse(&"cd".repeat(32)).expect("hex");
        let err = ledger.start_batch(&other_input).expect_err("another input");
        assert!(matches!(err, LedgerError::BatchConflict { .. }), "{err}");
        assert!(err.to_string().contains("input file"), "{err}");

        ledger
            .complete_batch(BATCH, r#"{"issued":1}"#)
            .expect("complete");
        ledger
            .complete_batch(BATCH, r#"{"issued":2}"#)
            .expect("again");
        let (_, summary) = ledger.batch(BATCH).expect("read").expect("recorded");
        assert_eq!(summary.as_deref(), Some(r#"{"issued":2}"#));
        let err = ledger.complete_batch("nope", "{}").expect_err("unknown");
        assert!(matches!(err, LedgerError::UnknownBatch { .. }), "{err}");
    }

    pub fn lock_batch_succeeds_for_the_first_claim(ledger: &mut dyn Ledger) {
        ledger.lock_batch(BATCH).expect("first claim");
        ledger.lock_batch("another-batch").expect("another batch");
    }
}

// ------------------------------------------------- PostgreSQL only

#[test]
fn postgres_second_run_of_a_batch_refuses_until_the_first_connection_drops() {
    let Some(schema) = PgSchema::create("batch_lock") else {
        return;
    };
    let mut first = schema.connect();
    first.lock_batch(BATCH).expect("first run claims the batch");
    let mut second = schema.connect();
    let err = second
        .lock_batch(BATCH)
        .expect_err("the first run holds it");
    assert!(matches!(err, LedgerError::BatchBusy { .. }), "{err}");
    assert!(err.to_string().contains(BATCH), "{err}");
    second
        .lock_batch("another-batch")
        .expect("other batches are free");
    // A crashed run's connection closes: the claim goes with it.
    // The server ends the dropped session asynchronously: allow it a
    // moment, bounded.
    drop(first);
    let freed = crate::support::wait_until(std::time::Duration::from_secs(10), || {
        match second.lock_batch(BATCH) {
            Ok(()) => true,
            Err(LedgerError::BatchBusy { .. }) => false,
            Err(e) => panic!("claiming the batch again: {e}"),
        }
    });
    assert!(freed, "still held 10 s after the first connection closed");
}

#[test]
fn postgres_schema_newer_than_the_program_is_refused() {
    let Some(schema) = PgSchema::create("too_new") else {
        return;
    };
    drop(schema.connect());
    schema
        .admin()
        .batch_execute("UPDATE ledger_schema_version SET version = 99")
        .expect("pretend a newer program wrote it");
    let err = PostgresLedger::connect(&schema.url()).expect_err("too new");
    assert!(
        matches!(err, LedgerError::TooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer access-letters"), "{err}");
}

#[test]
fn postgres_first_use_by_several_processes_migrates_once() {
    let Some(schema) = PgSchema::create("migrate_once") else {
        return;
    };
    let url = schema.url();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresLedger::connect(&url).map(drop))
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("every first use succeeds");
    }
    let n: i64 = schema
        .admin()
        .query_one("SELECT count(*) FROM ledger_schema_version", &[])
        .expect("read")
        .get(0);
    assert_eq!(n, 1);
}

/// Two hosts record overlapping receipts at once: each receipt ends up
/// issued exactly once, the loser of a chunk is told its receipts are
/// already issued, and a re-plan (as a re-run does) completes the rest.
#[test]
fn postgres_concurrent_overlapping_runs_issue_each_receipt_once() {
    let Some(schema) = PgSchema::create("overlap") else {
        return;
    };
    schema
        .connect()
        .start_batch(&batch(BATCH, BatchKind::Nightly))
        .expect("start");
    // Host A has receipts 0..600, host B 300..900; chunks of 25.
    let ranges = [(0u64, 600u64), (300, 900)];
    let handles: Vec<_> = ranges
        .into_iter()
        .map(|(from, to)| {
            let url = schema.url();
            std::thread::spawn(move || {
                let mut ledger = PostgresLedger::connect(&url).expect("connect");
                let mut won = 0usize;
                let mut refused = 0usize;
                for pass in 0..2 {
                    let all: Vec<u64> = (from..to).collect();
                    for chunk in all.chunks(25) {
                        let receipts: Vec<ReceiptNumber> =
                            chunk.iter().map(|&n| receipt(n)).collect();
                        let known = ledger.receipt_states(&receipts).expect("states");
                        let rows: Vec<NewIssuance> = chunk
                            .iter()
                            .filter(|&&n| !known.contains_key(&receipt(n)))
                            .map(|&n| row(n, 1))
                            .collect();
                        match ledger.record(&rows) {
                            Ok(()) => won += rows.len(),
                            Err(
                                LedgerError::DuplicateIssuance { .. }
                                | LedgerError::AlreadyActive { .. }
                                | LedgerError::DuplicatePiece { .. },
                            ) if pass == 0 => refused += 1,
                            Err(e) => panic!("pass {pass}: unexpected error: {e}"),
                        }
                    }
                }
                (won, refused)
            })
        })
        .collect();
    let results: Vec<(usize, usize)> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let ledger = schema.connect();
    assert_eq!(ledger.count_in_batch(BATCH).expect("count"), 900);
    assert_eq!(results[0].0 + results[1].0, 900, "{results:?}");
    let mut client = schema.admin();
    let dup: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT receipt FROM issuances GROUP BY receipt \
             HAVING count(*) > 1) d",
            &[],
        )
        .expect("read")
        .get(0);
    assert_eq!(dup, 0, "no receipt issued twice");
}

/// Rows per second for 100,000 issuances in chunks of 512 on both
/// backends, one right after the other. Run with
/// `cargo test --test it ledger_backends:: -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_insert_rate_100k() {
    const ROWS: u64 = 100_000;
    const CHUNK: usize = 512;
    let rows: Vec<NewIssuance> = (0..ROWS).map(|n| row(n, 1)).collect();
    let time = |ledger: &mut dyn Ledger| {
        ledger
            .start_batch(&batch(BATCH, BatchKind::Nightly))
            .expect("start");
        let t = Instant::now();
        let mut planning = std::time::Duration::ZERO;
        for chunk in rows.chunks(CHUNK) {
            let p = Instant::now();
            let receipts: Vec<ReceiptNumber> = chunk.iter().map(|r| r.receipt.clone()).collect();
            ledger.receipt_states(&receipts).expect("plan");
            planning += p.elapsed();
            ledger.record(chunk).expect("record");
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  (of which {:.2} s looking up receipts)",
            planning.as_secs_f64()
        );
        assert_eq!(ledger.count_in_batch(BATCH).expect("count"), ROWS);
        secs
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sqlite = SqliteLedger::open(&dir.path().join("ledger.sqlite")).expect("open");
    let s = time(&mut sqlite);
    println!(
        "SQLite:     {ROWS} rows in {s:.2} s = {:.0} rows/s",
        ROWS as f64 / s
    );
    if let Some(schema) = PgSchema::create("measure") {
        let mut pg = schema.connect();
        let p = time(&mut pg);
        println!(
            "PostgreSQL: {ROWS} rows in {p:.2} s = {:.0} rows/s",
            ROWS as f64 / p
        );
        println!("PostgreSQL/SQLite rate: {:.0}%", 100.0 * s / p);
    }
}

/// Two operators reissue the same receipt at the same moment: one gets
/// issue 2, the other is told the next number has moved on; never two
/// active codes.
#[test]
fn postgres_simultaneous_reissues_of_one_receipt_give_one_new_issue() {
    let Some(schema) = PgSchema::create("reissue_race") else {
        return;
    };
    {
        let mut ledger = schema.connect();
        ledger
            .start_batch(&batch(BATCH, BatchKind::Nightly))
            .expect("start");
        ledger
            .start_batch(&batch("reissue-1", BatchKind::Reissue))
            .expect("start");
        ledger.record(&[row(7, 1)]).expect("record");
    }
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = schema.url();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut ledger = PostgresLedger::connect(&url).expect("connect");
                barrier.wait();
                ledger.supersede_and_record(&row_zip(7, 2, "reissue-1", "20001", None))
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    let refused = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("one refused");
    assert!(
        matches!(refused, LedgerError::IssueOutOfOrder { expected: 3, .. }),
        "{refused}"
    );
    assert_eq!(
        statuses(&schema.connect(), 7),
        vec![(1, IssuanceStatus::Superseded), (2, IssuanceStatus::Active)]
    );
}

/// Two prints of one letter with different digests, the second waiting on
/// the first's row lock: once the first commits, the second's write checks
/// the row again and refuses its group; the first print stands, not
/// written over by a check the second took before the wait.
#[test]
fn postgres_a_print_racing_another_of_the_same_letter_is_refused_not_written_over() {
    let Some(schema) = PgSchema::create("printed_race") else {
        return;
    };
    let piece = "IOE0000000007-01";
    let (first, second) = ("aa".repeat(32), "bb".repeat(32));
    let mut ledger = schema.connect();
    ledger
        .start_batch(&batch(BATCH, BatchKind::Nightly))
        .expect("start");
    ledger
        .record(&[NewIssuance {
            proof: LetterProof::NotYetPrinted,
            pages: NOT_YET_COUNTED,
            ..row(7, 1)
        }])
        .expect("record");
    // The first print, its transaction open: it holds the row's lock.
    let mut admin = schema.admin();
    let mut tx = admin.transaction().expect("begin");
    let updated = tx
        .execute(
            "UPDATE issuances SET proof_kind = $1, proof_digest = $2, pages = 1 \
             WHERE piece_id = $3",
            &[&ProofKind::Printed.as_str(), &first, &piece],
        )
        .expect("the first print");
    assert_eq!(updated, 1);
    let holder: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pid")
        .get(0);
    let url = schema.url();
    let racing = std::thread::spawn(move || {
        let mut ledger = PostgresLedger::connect(&url).expect("connect");
        let mut printed = std::iter::once(PrintedLetter {
            piece_id: piece.to_string(),
            digest: Sha256Hex::parse(&second).expect("hex"),
            pages: 2,
        });
        ledger.record_printed(BATCH, &mut printed)
    });
    // Commit only once the second print waits on the row (bounded).
    let mut watcher = schema.admin();
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                &[&holder],
            )
            .expect("who waits")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second print never waited on the first"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tx.commit().expect("commit the first print");
    let result = racing.join().expect("thread");
    assert!(
        matches!(&result, Err(LedgerError::PrintedDiffers { piece_id, .. }) if piece_id == piece),
        "{result:?}"
    );
    let issued = ledger.issuance(&receipt(7), 1).expect("read").expect("row");
    assert_eq!(
        issued.issued.proof,
        LetterProof::Printed(Sha256Hex::parse(&first).expect("hex"))
    );
    assert_eq!(issued.issued.pages, 1);
}

#[test]
fn postgres_password_in_the_url_never_shows() {
    let Some(schema) = PgSchema::create("password") else {
        return;
    };
    // The throwaway cluster trusts local users, so the password is ignored
    // by the server but still travels in the URL.
    let url = format!("{}&password=hunter2secret", schema.url());
    assert!(
        url.contains("hunter2secret"),
        "control: the password is in the URL"
    );
    let ledger = PostgresLedger::connect(&url).expect("connect");
    assert!(
        !ledger.label().contains("hunter2secret"),
        "{}",
        ledger.label()
    );
    assert!(!format!("{ledger:?}").contains("hunter2secret"));
    let mut ledger = ledger;
    let err = ledger
        .complete_batch("no-such-batch", "{}")
        .expect_err("unknown batch");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
    assert!(err.to_string().contains(&schema.name), "{err}");
}

/// Set by [`postgres_a_killed_run_releases_its_batch_lock`] for the child
/// process it starts and kills.
const CHILD_URL_ENV: &str = "ACCESS_LETTERS_TEST_PG_CHILD_URL";

/// The child of the kill -9 test: claims the batch, says so, and waits to
/// be killed (reading its stdin, which ends if the parent dies first). Does
/// nothing when run on its own.
#[test]
#[ignore = "run only as the child of postgres_a_killed_run_releases_its_batch_lock"]
fn child_process_holds_the_batch_lock() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    let mut ledger = PostgresLedger::connect(&url).expect("connect");
    ledger.lock_batch(BATCH).expect("claim");
    println!("LOCKED");
    let _ = std::io::stdin().read_line(&mut String::new());
}

/// A run killed with SIGKILL while it holds its batch: the server sees the
/// connection drop and the re-run may claim the batch.
#[test]
fn postgres_a_killed_run_releases_its_batch_lock() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let Some(schema) = PgSchema::create("kill9") else {
        return;
    };
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            // The test's full name in the one test binary.
            "ledger_backends::child_process_holds_the_batch_lock",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_URL_ENV, schema.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child run");
    let stdout = child.stdout.take().expect("piped");
    let locked = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.trim() == "LOCKED");
    assert!(locked, "the child never claimed the batch");

    let mut rerun = schema.connect();
    let err = rerun.lock_batch(BATCH).expect_err("the child holds it");
    assert!(matches!(err, LedgerError::BatchBusy { .. }), "{err}");

    child.kill().expect("kill -9 the child");
    child.wait().expect("reap the child");
    let freed = crate::support::wait_until(std::time::Duration::from_secs(10), || {
        match rerun.lock_batch(BATCH) {
            Ok(()) => true,
            Err(LedgerError::BatchBusy { .. }) => false,
            Err(e) => panic!("claiming the batch again: {e}"),
        }
    });
    assert!(freed, "the killed run's claim outlived it by 10 s");
}

/// A wrong password: one sentence naming the host and database, never the
/// password, and nothing written. `.ci/pg-cluster` makes the role
/// `al_password_test` the one role that must give its password.
#[test]
fn postgres_wrong_password_names_the_host_never_the_password() {
    let Some(schema) = PgSchema::create("wrong_password") else {
        return;
    };
    let mut admin = schema.admin();
    admin
        .batch_execute(
            "DO $$ BEGIN \
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'al_password_test') \
             THEN CREATE ROLE al_password_test LOGIN PASSWORD 'the-right-one'; END IF; END $$",
        )
        .expect("create the role");
    let url = schema
        .url()
        .replacen("://postgres@", "://al_password_test:hunter2wrong@", 1);
    assert!(
        url.contains("al_password_test"),
        "the test URL names user postgres: {url}"
    );
    assert!(
        url.contains("hunter2wrong"),
        "control: the password is in the URL"
    );
    match PostgresLedger::connect(&url) {
        Ok(_) => crate::support::skip(
            "the wrong-password test",
            "this server does not ask al_password_test for a password (.ci/pg-cluster's servers do)",
            crate::support::InCi::Fails,
        ),
        Err(err) => {
            let msg = err.to_string();
            assert!(matches!(err, LedgerError::Connect { .. }), "{msg}");
            assert!(msg.contains("as user al_password_test"), "{msg}");
            assert!(msg.contains("password authentication failed"), "{msg}");
            assert!(!msg.contains("hunter2wrong"), "{msg}");
            assert!(!format!("{err:?}").contains("hunter2wrong"));
        }
    }
    let tables: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .expect("read")
        .get(0);
    assert_eq!(tables, 0, "a failed connection writes nothing");
}
