//! A code's life after the envelope, written once over `&mut dyn Ledger`
//! and run on both backends (`sqlite::<case>`, `postgres::<case>`; the
//! PostgreSQL ones need `ACCESS_LETTERS_TEST_PG`): the one use of a code
//! (redeem), its cancellation (revoke), and what `verify` says after each.
//! Real codes are derived with the built-in test key, so the library's
//! whole path runs: verdict, wrong-code limit, ledger transaction.

use access_letters::ledger::prelude::*;
use std::sync::{Arc, Barrier};

use access_letters::code::Verdict;
use access_letters::filing::IssuanceStatus;
use access_letters::ledger::{AttemptLimit, BatchKind, Ledger, SqliteLedger};
use access_letters::ops::{
    redeem, revoke, verify_code, AccountRef, Answer, Door, RedeemAnswer, RedeemRequest,
    RevokeError, RevokeRequest, VerifyRequest,
};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::support::ledger_case::*;

fn limit() -> AttemptLimit {
    AttemptLimit {
        max_wrong: 5,
        window: TimeDelta::minutes(10),
    }
}

/// The history `status RECEIPT` and the desk's receipt answer show.
fn status_of(
    ledger: &dyn Ledger,
    receipt: &access_letters::filing::ReceiptNumber,
    now: DateTime<Utc>,
) -> access_letters::ops::ReceiptHistory {
    let codes = access_letters::config::Config::default_config().codes;
    let limits = (limit(), access_letters::ops::guess_limit(&codes));
    access_letters::ops::receipt_history(ledger, receipt, now, limits).expect("status")
}

struct Try<'a> {
    n: u64,
    typed: &'a str,
    account: &'a str,
    now: DateTime<Utc>,
    as_of: NaiveDate,
    door: Door,
}

impl<'a> Try<'a> {
    fn new(n: u64, typed: &'a str, account: &'a str) -> Self {
        Try {
            n,
            typed,
            account,
            now: at("2026-12-01T10:00:00.123456Z"),
            as_of: date("2026-12-01"),
            door: Door::Portal,
        }
    }

    fn redeem(&self, ledger: &mut dyn Ledger) -> RedeemAnswer {
        let account = AccountRef::parse(self.account).expect("an account reference");
        let req = RedeemRequest {
            receipt: &receipt(self.n),
            typed: self.typed,
            account: &account,
            as_of: self.as_of,
            now: self.now,
            limit: limit(),
            door: self.door,
            guessing: None,
        };
        redeem(&req, &ring(), ledger).expect("redeem")
    }

    fn verify(&self, ledger: &mut dyn Ledger) -> Answer {
        let req = VerifyRequest {
            receipt: &receipt(self.n),
            typed: self.typed,
            as_of: self.as_of,
            now: self.now,
            limit: limit(),
            door: self.door,
            guessing: None,
        };
        verify_code(&req, &ring(), ledger).expect("verify")
    }
}

fn wrong_in_window(ledger: &dyn Ledger, n: u64, now: DateTime<Utc>) -> u32 {
    ledger
        .attempt_summary(&receipt(n), now, limit())
        .expect("summary")
        .wrong_in_window
}

// ---------------------------------------------------------------- backends

/// The service's group commit on SQLite: redemptions committed together are
/// each decided exactly as alone, in order, and one that fails is undone
/// alone.
#[test]
fn sqlite_redemptions_committed_together_are_each_decided_as_alone() {
    use access_letters::ledger::{LedgerError, RedeemAsk, RedeemStep};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = SqliteLedger::open(&dir.path().join("ledger.sqlite")).expect("open");
    issued(&mut ledger, 3);
    let now = at("2026-11-26T10:00:00Z");
    let ask = |n: u64, issue_no: u32, account: &str| RedeemAsk {
        receipt: receipt(n),
        issue_no,
        account: account.into(),
        now,
    };
    let asks = [
        ask(1, 1, "portal-a"),
        ask(1, 1, "portal-b"),
        ask(2, 1, "portal-c"),
        ask(3, 9, "portal-d"),
        ask(1, 1, "portal-a"),
    ];
    let steps = ledger
        .redeem_many(&asks, Some(limit()))
        .expect("one commit");
    assert!(
        matches!(steps[0], Ok(RedeemStep::Redeemed { again: false, .. })),
        "{steps:?}"
    );
    assert!(
        matches!(steps[1], Ok(RedeemStep::UsedByAnother { .. })),
        "{steps:?}"
    );
    assert!(
        matches!(steps[2], Ok(RedeemStep::Redeemed { again: false, .. })),
        "{steps:?}"
    );
    assert!(
        matches!(steps[3], Err(LedgerError::NoSuchIssuance { .. })),
        "{steps:?}"
    );
    assert!(
        matches!(steps[4], Ok(RedeemStep::Redeemed { again: true, .. })),
        "{steps:?}"
    );
    let status = |n| ledger.history(&receipt(n)).unwrap()[0].status;
    assert_eq!(status(1), IssuanceStatus::Redeemed);
    assert_eq!(status(2), IssuanceStatus::Redeemed);
    assert_eq!(status(3), IssuanceStatus::Active);
    // The other account's try was counted, once.
    assert_eq!(wrong_in_window(&ledger, 1, now), 1);
}

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
    a_code_is_redeemed_once_and_a_retry_hears_the_same_answer,
    another_account_is_refused_counted_and_changes_nothing,
    a_code_that_is_not_live_cannot_be_redeemed,
    revoke_cancels_the_live_code_at_once,
    revoke_refuses_when_nothing_is_live,
    the_portal_hears_an_unknown_receipt_as_a_wrong_code,
    a_locked_receipt_redeems_nothing,
    many_accounts_at_once_exactly_one_wins,
    a_return_stops_the_code_once_and_a_reimport_records_nothing,
    pieces_are_found_by_id_and_by_barcode_serial,
    a_hand_off_is_recorded_file_by_file_and_finished_once,
    a_return_after_a_redemption_is_flagged_everywhere_the_desk_looks,
    a_linked_receipt_is_reissued_only_after_the_desk_unlinks_it,
    an_import_whose_events_fail_midway_records_nothing,
);

mod cases {
    use super::*;
    use access_letters::ledger::{
        DeliveredFile, ImportKind, MailEvent, MailEventKind, MailImport, MailRecorded, MailTime,
        Sha256Hex,
    };

    fn import(kind: ImportKind, content: &str) -> MailImport {
        MailImport {
            kind,
            file_sha256: Sha256Hex::of(content.as_bytes()),
            file_name: format!("{}.csv", kind.as_str()),
            rows: 2,
            unmatched: 0,
            rejected: 0,
        }
    }

    fn event(n: u64, kind: MailEventKind, day: &str, detail: &str) -> MailEvent {
        MailEvent {
            piece_id: format!("IOE{n:010}-01"),
            kind,
            at: MailTime::Day(date(day)),
            detail: detail.into(),
        }
    }

    /// `ingest` hands the events over one at a time, read back from disk: a
    /// read that fails after some were inserted leaves no trace of the file,
    /// so the same file imports whole on the next try.
    pub fn an_import_whose_events_fail_midway_records_nothing(ledger: &mut dyn Ledger, _: Opener) {
        issued(ledger, 2);
        let now = at("2026-12-02T15:00:00Z");
        let events = [
            event(1, MailEventKind::Mailed, "2026-11-26", ""),
            event(1, MailEventKind::Returned, "2026-12-01", "no such number"),
            event(2, MailEventKind::Mailed, "2026-11-26", ""),
        ];
        let file = import(ImportKind::Returns, "returns file streamed");
        let mut failing = events
            .iter()
            .cloned()
            .map(Ok)
            .take(2)
            .chain(std::iter::once(Err(
                access_letters::ledger::LedgerError::Damaged {
                    ledger: "the spool".into(),
                    detail: "the third event could not be read back".into(),
                },
            )));
        let err = ledger
            .record_mail_each(&file, &mut failing, now)
            .expect_err("a failed read fails the import");
        assert!(err.to_string().contains("third event"), "{err}");
        assert!(ledger.mail_trail(&receipt(1)).expect("trail").is_empty());
        let h = ledger.history(&receipt(1)).expect("history");
        assert_eq!(h[0].status, IssuanceStatus::Active, "the return was undone");
        let mut whole = events.iter().cloned().map(Ok);
        let MailRecorded::Recorded {
            recorded, stopped, ..
        } = ledger
            .record_mail_each(&file, &mut whole, now)
            .expect("the same file again")
        else {
            panic!("the failed import left the file marked as imported");
        };
        assert_eq!(recorded, 3);
        assert_eq!(stopped, vec![(receipt(1), 1)]);
    }

    pub fn a_return_stops_the_code_once_and_a_reimport_records_nothing(
        ledger: &mut dyn Ledger,
        _: Opener,
    ) {
        issued(ledger, 2);
        let now = at("2026-12-02T15:00:00Z");
        let events = [
            event(1, MailEventKind::Mailed, "2026-11-26", ""),
            event(
                1,
                MailEventKind::Returned,
                "2026-12-01",
                "moved, left no address",
            ),
        ];
        let file = import(ImportKind::Returns, "returns file 1");
        let MailRecorded::Recorded {
            recorded,
            duplicates,
            stopped,
            ..
        } = ledger.record_mail(&file, &events, now).expect("record")
        else {
            panic!("a new file is recorded");
        };
        assert_eq!((recorded, duplicates), (2, 0));
        assert_eq!(stopped, vec![(receipt(1), 1)]);
        let h = ledger.history(&receipt(1)).expect("history");
        assert_eq!(h[0].status, IssuanceStatus::Returned);
        assert_eq!(
            h[0].status_reason.as_deref(),
            Some("letter returned as undeliverable on 2026-12-01: moved, left no address")
        );
        // verify now says the letter came back, never "valid".
        let answer = Try::new(1, &code(1, 1), "-").verify(ledger);
        assert!(
            matches!(
                &answer,
                Answer::Checked {
                    verdict: Verdict::Returned { issue_no: 1 },
                    ..
                }
            ),
            "{answer:?}"
        );
        // Receipt 2 is untouched.
        assert_eq!(
            ledger.history(&receipt(2)).unwrap()[0].status,
            IssuanceStatus::Active
        );

        // The same file again: nothing.
        let again = ledger.record_mail(&file, &events, now).expect("again");
        assert!(
            matches!(again, MailRecorded::AlreadyImported { .. }),
            "{again:?}"
        );
        // Another file overlapping the first: only the new event counts.
        let more = [
            event(
                1,
                MailEventKind::Returned,
                "2026-12-01",
                "moved, left no address",
            ),
            event(2, MailEventKind::Mailed, "2026-11-26", ""),
        ];
        let second = import(ImportKind::Acks, "acks file 2");
        let MailRecorded::Recorded {
            recorded,
            duplicates,
            stopped,
            ..
        } = ledger.record_mail(&second, &more, now).expect("second")
        else {
            panic!("a new file is recorded");
        };
        assert_eq!((recorded, duplicates, stopped.len()), (1, 1, 0));
        let trail = ledger.mail_trail(&receipt(1)).expect("trail");
        assert_eq!(
            trail.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [MailEventKind::Mailed, MailEventKind::Returned]
        );
        let counts = ledger.mail_counts(Some(BATCH)).expect("counts");
        assert_eq!(counts.pieces(MailEventKind::Mailed), 2);
        assert_eq!(counts.pieces(MailEventKind::Returned), 1);
        let returns = ledger.returned_awaiting_reissue().expect("returns");
        assert_eq!(returns.len(), 1);
        assert_eq!(returns[0].issued.receipt, receipt(1));
        // A new letter takes the receipt off the returns list.
        start(ledger, "2026-12-02-reissue1", BatchKind::Reissue);
        ledger
            .supersede_and_record(&row(1, 2, "2026-12-02-reissue1"))
            .expect("reissue");
        assert!(ledger
            .returned_awaiting_reissue()
            .expect("returns")
            .is_empty());
        // ...and the returned issue stays returned (not superseded).
        assert_eq!(
            ledger.history(&receipt(1)).unwrap()[0].status,
            IssuanceStatus::Returned
        );
    }

    pub fn a_return_after_a_redemption_is_flagged_everywhere_the_desk_looks(
        ledger: &mut dyn Ledger,
        _: Opener,
    ) {
        issued(ledger, 2);
        let used = Try::new(1, &code(1, 1), "acct-someone").redeem(ledger);
        assert!(matches!(used, RedeemAnswer::Redeemed { .. }), "{used:?}");
        let now = at("2026-12-03T15:00:00Z");
        let events = [event(
            1,
            MailEventKind::Returned,
            "2026-12-02",
            "no such number",
        )];
        let file = import(ImportKind::Returns, "returns after redemption");
        let MailRecorded::Recorded {
            stopped,
            after_redeemed,
            ..
        } = ledger.record_mail(&file, &events, now).expect("record")
        else {
            panic!("a new file is recorded");
        };
        assert!(stopped.is_empty(), "{stopped:?}");
        assert_eq!(after_redeemed, vec![(receipt(1), 1)]);
        // The return is recorded as usual; the code stays used.
        let h = ledger.history(&receipt(1)).expect("history");
        assert_eq!(h[0].status, IssuanceStatus::Redeemed);
        let trail = ledger.mail_trail(&receipt(1)).expect("trail");
        assert_eq!(trail.len(), 1);
        // Flagged: the list, the counts, status, status --mail.
        let flagged = ledger.redeemed_then_returned().expect("flagged");
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].issued.receipt, receipt(1));
        assert_eq!(ledger.mail_counts(None).unwrap().redeemed_then_returned, 1);
        assert_eq!(
            ledger
                .mail_counts(Some(BATCH))
                .unwrap()
                .redeemed_then_returned,
            1
        );
        let status = status_of(ledger, &receipt(1), now);
        assert!(status.returned_after_redeemed, "{status:#?}");
        assert!(status.issuances[0].returned_after_redeemed, "{status:#?}");
        let lines = status.lines();
        assert!(
            lines.iter().any(|l| l.contains("redeemed, then returned")),
            "{lines:#?}"
        );
        let mail = access_letters::ops::status::mail_report_lines(
            ledger,
            now,
            (
                3,
                access_letters::ops::guess_limit(
                    &access_letters::config::Config::default_config().codes,
                ),
            ),
        )
        .expect("mail");
        assert!(
            mail.iter()
                .any(|l| l == "redeemed, then returned: check the linked account: 1"),
            "{mail:#?}"
        );
        assert!(
            mail.iter()
                .any(|l| l.contains(receipt(1).as_str()) && l.contains("never got")),
            "{mail:#?}"
        );
        // Receipt 2 was never redeemed: nothing flagged.
        let status = status_of(ledger, &receipt(2), now);
        assert!(!status.returned_after_redeemed, "{status:#?}");
        let lines = status.lines();
        assert!(!lines.iter().any(|l| l.contains("redeemed, then returned")));
    }

    pub fn a_linked_receipt_is_reissued_only_after_the_desk_unlinks_it(
        ledger: &mut dyn Ledger,
        _: Opener,
    ) {
        use access_letters::ledger::{LedgerError, Unlinking};
        issued(ledger, 1);
        start(ledger, "2026-12-02-reissue1", BatchKind::Reissue);
        let now = at("2026-12-02T09:00:00Z");
        assert_eq!(
            ledger
                .unlink(&receipt(1), "no link yet", now)
                .expect("unlink"),
            Unlinking::NotLinked
        );
        let first = Try::new(1, &code(1, 1), "acct-first").redeem(ledger);
        assert!(matches!(first, RedeemAnswer::Redeemed { .. }), "{first:?}");
        // Linked: no reissue, whatever the caller read before.
        let refused = ledger
            .supersede_and_record(&row(1, 2, "2026-12-02-reissue1"))
            .expect_err("a linked case is not reissued");
        assert!(
            matches!(refused, LedgerError::Linked { issue_no: 1, .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains("unlink"), "{refused}");
        assert_eq!(ledger.history(&receipt(1)).unwrap().len(), 1);
        // The desk unlinks; the used code stays used, even for its account.
        let Unlinking::Unlinked { issue_no, .. } = ledger
            .unlink(&receipt(1), "account opened by someone else", now)
            .expect("unlink")
        else {
            panic!("a linked receipt is unlinked");
        };
        assert_eq!(issue_no, 1);
        let again = Try::new(1, &code(1, 1), "acct-first").redeem(ledger);
        assert!(
            matches!(
                &again,
                RedeemAnswer::NotValid {
                    verdict: Verdict::Redeemed { issue_no: 1, .. },
                    ..
                }
            ),
            "{again:?}"
        );
        let status = status_of(ledger, &receipt(1), now);
        assert_eq!(
            status.issuances[0].unlink_reason.as_deref(),
            Some("account opened by someone else")
        );
        let line = status.issuances[0].after_the_envelope().expect("a line");
        assert!(
            line.contains("removed its account link") && line.contains("someone else"),
            "{line}"
        );
        // Now a new code may go out, and link the right account.
        assert_eq!(
            ledger
                .supersede_and_record(&row(1, 2, "2026-12-02-reissue1"))
                .expect("reissued after the unlink"),
            None
        );
        let right = Try::new(1, &code(1, 2), "acct-right").redeem(ledger);
        assert!(
            matches!(right, RedeemAnswer::Redeemed { issue_no: 2, .. }),
            "{right:?}"
        );
        // The first account, typing its old code, is never told "redeemed".
        let old = Try::new(1, &code(1, 1), "acct-first").redeem(ledger);
        assert!(!matches!(old, RedeemAnswer::Redeemed { .. }), "{old:?}");
    }

    pub fn pieces_are_found_by_id_and_by_barcode_serial(ledger: &mut dyn Ledger, _: Opener) {
        start(ledger, BATCH, BatchKind::Nightly);
        let mut rows: Vec<_> = (1..=3).map(|i| row(i, 1, BATCH)).collect();
        rows[0].imb_serial = Some(4711);
        rows[1].imb_serial = Some(4712);
        ledger.record(&rows).expect("record");
        let ids = vec![
            "IOE0000000001-01".to_string(),
            "IOE0000009999-01".to_string(),
        ];
        let found = ledger.pieces(&ids).expect("pieces");
        assert_eq!(found.len(), 1);
        assert_eq!(found["IOE0000000001-01"].receipt, receipt(1));
        assert_eq!(found["IOE0000000001-01"].imb_serial, Some(4711));
        let by_serial = ledger.pieces_by_serial(&[4712, 99]).expect("serials");
        assert_eq!(by_serial.len(), 1);
        assert_eq!(by_serial[&4712][0].receipt, receipt(2));
    }

    pub fn a_hand_off_is_recorded_file_by_file_and_finished_once(
        ledger: &mut dyn Ledger,
        _: Opener,
    ) {
        issued(ledger, 1);
        let now = at("2026-11-25T23:00:00Z");
        let control = Sha256Hex::of(b"control");
        let id = ledger
            .begin_delivery(BATCH, "letters@sftp.example:22/in", false, &control, now)
            .expect("begin");
        // One hand-off in progress at a time.
        assert!(ledger
            .begin_delivery(BATCH, "letters@sftp.example:22/in", false, &control, now)
            .is_err());
        let file = |name: &str, content: &[u8]| DeliveredFile {
            name: name.into(),
            bytes: content.len() as u64,
            sha256: Sha256Hex::of(content),
        };
        ledger
            .record_delivered_file(id, &file("a.pdf", b"a"), now)
            .unwrap();
        // A resumed hand-off records a file again: one row, the new digest.
        ledger
            .record_delivered_file(id, &file("a.pdf", b"aa"), now)
            .unwrap();
        ledger
            .record_delivered_file(id, &file("manifest.csv", b"m"), now)
            .unwrap();
        let d = ledger.deliveries(BATCH).expect("deliveries");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].completed_at, None);
        assert_eq!(d[0].files.len(), 2);
        assert_eq!(d[0].files[0].bytes, 2);
        ledger.finish_delivery(id, now).expect("finish");
        let d = ledger.deliveries(BATCH).expect("deliveries");
        assert_eq!(d[0].completed_at, Some(now));
        assert_eq!(ledger.mail_counts(Some(BATCH)).unwrap().deliveries, 1);
        // Nothing heard from the vendor since: listed once the days pass.
        assert!(ledger.unacknowledged(now).unwrap().is_empty());
        let later = at("2026-12-02T00:00:00Z");
        assert_eq!(ledger.unacknowledged(later).unwrap().len(), 1);
    }

    pub fn a_code_is_redeemed_once_and_a_retry_hears_the_same_answer(
        ledger: &mut dyn Ledger,
        _: Opener,
    ) {
        issued(ledger, 1);
        let good = code(1, 1);
        let first = Try::new(1, &good, "portal-acct-0001");
        let answer = first.redeem(ledger);
        let RedeemAnswer::Redeemed {
            issue_no: 1,
            at: when,
            again: false,
        } = answer
        else {
            panic!("not redeemed: {answer:?}");
        };
        assert_eq!(
            when,
            at("2026-12-01T10:00:00.123Z"),
            "kept to the millisecond"
        );

        // The retry, an hour later, hears the first answer's time.
        let retry = Try {
            now: at("2026-12-01T11:00:00Z"),
            ..Try::new(1, &good, "portal-acct-0001")
        };
        assert_eq!(
            retry.redeem(ledger),
            RedeemAnswer::Redeemed {
                issue_no: 1,
                at: when,
                again: true
            }
        );
        // And verify says "used", never "valid".
        let verdict = match retry.verify(ledger) {
            Answer::Checked { verdict, .. } => verdict,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            verdict,
            Verdict::Redeemed {
                issue_no: 1,
                on: when
            }
        );
        assert!(
            verdict.message().starts_with("used on 2026-12-01"),
            "{}",
            verdict.message()
        );

        let history = ledger.history(&receipt(1)).expect("history");
        assert_eq!(history[0].status, IssuanceStatus::Redeemed);
        let redemption = history[0].redemption.as_ref().expect("a redemption");
        assert_eq!(
            (redemption.at, redemption.account.as_str()),
            (when, "portal-acct-0001")
        );
        assert_eq!(
            wrong_in_window(ledger, 1, retry.now),
            0,
            "a retry is not a wrong code"
        );
    }

    pub fn another_account_is_refused_counted_and_changes_nothing(
        ledger: &mut dyn Ledger,
        _: Opener,
    ) {
        issued(ledger, 1);
        let good = code(1, 1);
        let owner = Try::new(1, &good, "acct-owner");
        assert!(matches!(
            owner.redeem(ledger),
            RedeemAnswer::Redeemed { again: false, .. }
        ));
        let thief = Try::new(1, &good, "acct-thief");
        let answer = thief.redeem(ledger);
        assert_eq!(
            answer,
            RedeemAnswer::UsedByAnother {
                on: at("2026-12-01T10:00:00.123Z"),
                wrong_in_window: 1,
                locked_until: None
            }
        );
        assert!(
            answer.message().starts_with("already used on 2026-12-01"),
            "{}",
            answer.message()
        );
        assert_eq!(wrong_in_window(ledger, 1, thief.now), 1);
        let history = ledger.history(&receipt(1)).expect("history");
        let redemption = history[0].redemption.as_ref().expect("a redemption");
        assert_eq!(
            redemption.account, "acct-owner",
            "the thief changed nothing"
        );
        // The owner's retry still succeeds.
        assert!(matches!(
            owner.redeem(ledger),
            RedeemAnswer::Redeemed { again: true, .. }
        ));
    }

    pub fn a_code_that_is_not_live_cannot_be_redeemed(ledger: &mut dyn Ledger, _: Opener) {
        issued(ledger, 2);
        let (one, two) = (code(1, 1), code(2, 1));
        let refused = |answer: RedeemAnswer| match answer {
            RedeemAnswer::NotValid { verdict, .. } => verdict,
            other => panic!("redeemed or locked: {other:?}"),
        };
        // Not valid yet, and expired: judged on the date asked about.
        let early = Try {
            as_of: date("2026-11-24"),
            ..Try::new(1, &one, "acct-a")
        };
        assert!(matches!(
            refused(early.redeem(ledger)),
            Verdict::NotValidYet { .. }
        ));
        let late = Try {
            as_of: date("2027-02-24"),
            ..Try::new(1, &one, "acct-a")
        };
        assert!(matches!(
            refused(late.redeem(ledger)),
            Verdict::Expired { .. }
        ));
        // Superseded by a reissue.
        let reissue = "2026-11-30-reissue-IOE0000000001-02";
        start(ledger, reissue, BatchKind::Reissue);
        ledger
            .supersede_and_record(&row(1, 2, reissue))
            .expect("supersede");
        let old = Try::new(1, &one, "acct-a");
        assert_eq!(
            refused(old.redeem(ledger)),
            Verdict::Superseded { issue_no: 1 }
        );
        // Revoked.
        let req = RevokeRequest {
            receipt: &receipt(2),
            reason: "letter reported stolen",
            now: at("2026-12-01T09:00:00Z"),
        };
        revoke(&req, ledger).expect("revoke");
        let stolen = Try::new(2, &two, "acct-b");
        assert_eq!(
            refused(stolen.redeem(ledger)),
            Verdict::Revoked { issue_no: 1 }
        );
        // A wrong code and a mistyped one: refused and counted.
        let mut wrong = code(2, 1);
        wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
        assert!(matches!(
            refused(Try::new(2, &wrong, "acct-b").redeem(ledger)),
            Verdict::WrongCode | Verdict::Mistyped(_)
        ));
        assert_eq!(wrong_in_window(ledger, 2, stolen.now), 1);
        // Nothing of all that redeemed anything.
        for n in [1, 2] {
            let history = ledger.history(&receipt(n)).expect("history");
            assert!(
                history.iter().all(|i| i.redemption.is_none()),
                "{history:?}"
            );
        }
    }

    pub fn revoke_cancels_the_live_code_at_once(ledger: &mut dyn Ledger, _: Opener) {
        issued(ledger, 1);
        let good = code(1, 1);
        assert!(Try::new(1, &good, "acct").verify(ledger).is_valid());
        let req = RevokeRequest {
            receipt: &receipt(1),
            reason: "applicant reports the letter stolen from the mailbox",
            now: at("2026-12-01T09:30:00.5Z"),
        };
        let done = revoke(&req, ledger).expect("revoke");
        assert_eq!(done.issue_no, 1);
        match Try::new(1, &good, "acct").verify(ledger) {
            Answer::Checked { verdict, .. } => {
                assert_eq!(verdict, Verdict::Revoked { issue_no: 1 })
            }
            other => panic!("{other:?}"),
        }
        let history = ledger.history(&receipt(1)).expect("history");
        assert_eq!(history[0].status, IssuanceStatus::Revoked);
        assert_eq!(
            history[0].status_changed_at,
            Some(at("2026-12-01T09:30:00.5Z"))
        );
        assert_eq!(
            history[0].status_reason.as_deref(),
            Some("applicant reports the letter stolen from the mailbox")
        );
        // The receipt has no live code left.
        let states = ledger.receipt_states(&[receipt(1)]).expect("states");
        assert_eq!(states[&receipt(1)].active, None);
    }

    pub fn revoke_refuses_when_nothing_is_live(ledger: &mut dyn Ledger, _: Opener) {
        issued(ledger, 1);
        let req = |n: u64, reason: &'static str| RevokeRequest {
            receipt: &*Box::leak(Box::new(receipt(n))),
            reason,
            now: at("2026-12-01T09:00:00Z"),
        };
        assert!(matches!(
            revoke(&req(1, "  "), ledger),
            Err(RevokeError::NoReason)
        ));
        assert!(matches!(
            revoke(&req(9, "stolen"), ledger),
            Err(RevokeError::NeverIssued { .. })
        ));
        Try::new(1, &code(1, 1), "acct").redeem(ledger);
        let e = revoke(&req(1, "stolen"), ledger).expect_err("a redeemed code is not live");
        assert!(
            e.to_string().contains("is redeemed since 2026-12-01"),
            "{e}"
        );
        assert_eq!(
            ledger.history(&receipt(1)).expect("history")[0].status,
            IssuanceStatus::Redeemed
        );
    }

    pub fn the_portal_hears_an_unknown_receipt_as_a_wrong_code(ledger: &mut dyn Ledger, _: Opener) {
        issued(ledger, 1);
        let someone_elses = code(1, 1);
        let portal = Try::new(7, &someone_elses, "acct");
        match portal.redeem(ledger) {
            RedeemAnswer::NotValid {
                verdict,
                wrong_in_window,
                ..
            } => assert_eq!((verdict, wrong_in_window), (Verdict::WrongCode, 1)),
            other => panic!("{other:?}"),
        }
        let desk = Try {
            door: Door::Desk,
            ..Try::new(7, &someone_elses, "acct")
        };
        match desk.verify(ledger) {
            Answer::Checked { verdict, .. } => assert_eq!(verdict, Verdict::Unknown),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            wrong_in_window(ledger, 7, desk.now),
            1,
            "the desk's question is not counted"
        );
    }

    pub fn a_locked_receipt_redeems_nothing(ledger: &mut dyn Ledger, _: Opener) {
        issued(ledger, 1);
        let mut wrong = code(1, 1);
        wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
        for _ in 0..5 {
            Try::new(1, &wrong, "acct").redeem(ledger);
        }
        let good = code(1, 1);
        let answer = Try::new(1, &good, "acct").redeem(ledger);
        assert!(matches!(answer, RedeemAnswer::Locked { .. }), "{answer:?}");
        assert!(ledger.history(&receipt(1)).expect("history")[0]
            .redemption
            .is_none());
        // After the lock ends, the right code works.
        let later = Try {
            now: at("2026-12-01T10:30:00Z"),
            ..Try::new(1, &good, "acct")
        };
        assert!(matches!(
            later.redeem(ledger),
            RedeemAnswer::Redeemed { again: false, .. }
        ));
    }

    pub fn many_accounts_at_once_exactly_one_wins(ledger: &mut dyn Ledger, open: Opener) {
        const ACCOUNTS: usize = 12;
        issued(ledger, 1);
        let good = Arc::new(code(1, 1));
        let barrier = Arc::new(Barrier::new(ACCOUNTS));
        let handles: Vec<_> = (0..ACCOUNTS)
            .map(|i| {
                let (open, good, barrier) = (open.clone(), good.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut mine = open();
                    let account = format!("acct-{i:03}");
                    barrier.wait();
                    Try::new(1, &good, &account).redeem(mine.as_mut())
                })
            })
            .collect();
        let answers: Vec<RedeemAnswer> = handles
            .into_iter()
            .map(|h| h.join().expect("a redeeming thread"))
            .collect();
        let winners = answers
            .iter()
            .filter(|a| matches!(a, RedeemAnswer::Redeemed { again: false, .. }))
            .count();
        assert_eq!(winners, 1, "{answers:?}");
        assert!(
            answers.iter().all(|a| matches!(
                a,
                RedeemAnswer::Redeemed { again: false, .. }
                    | RedeemAnswer::UsedByAnother { .. }
                    | RedeemAnswer::Locked { .. }
            )),
            "{answers:?}"
        );
    }
}

// ------------------------------------------------------- the CLI, end to end

mod cli {
    use std::io::Write;
    use std::process::Stdio;

    use crate::support::*;

    const RECEIPT: &str = "IOE0912345602";

    /// `redeem`, with the code on standard input as a portal script gives it.
    fn redeem_via_stdin(wd: &Workdir, account: &str, code: &str) -> Output {
        let mut cmd = wd.command([
            "redeem",
            RECEIPT,
            "--account",
            account,
            "--date",
            BATCH_DATE,
        ]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the binary starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{code}\n").as_bytes())
            .expect("write the code");
        let out = child.wait_with_output().expect("the binary ends");
        Output {
            args: format!("redeem {RECEIPT} --account {account}"),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8"),
        }
    }

    /// The letter's promise, end to end: the code read from the letter
    /// links the case once; a second account is refused; verify says used.
    #[test]
    fn the_code_on_the_letter_works_once() {
        let wd = Workdir::new();
        let (_, batch) = wd.run_fixtures();
        let code = batch.code_for(RECEIPT);

        let first = redeem_via_stdin(&wd, "portal-acct-1", &code);
        first.expect_code(EXIT_OK);
        assert!(
            first.stdout.starts_with(&format!("{RECEIPT}: redeemed")),
            "{first:?}"
        );
        let retry = redeem_via_stdin(&wd, "portal-acct-1", &code);
        retry.expect_code(EXIT_OK);
        assert!(
            retry
                .stdout
                .contains("already redeemed by this same account"),
            "{retry:?}"
        );

        let other = redeem_via_stdin(&wd, "portal-acct-2", &code);
        other.expect_code(6);
        assert!(other.stdout.contains("already used on"), "{other:?}");

        let verify = wd.cmd(["verify", RECEIPT, &code, "--date", BATCH_DATE]);
        verify.expect_code(EXIT_NOT_VALID);
        assert!(verify.stdout.contains("used on"), "{verify:?}");

        // The code and the account references appear in no output, and
        // status shows the redemption without the account.
        let status = wd.cmd(["status", RECEIPT]);
        status.expect_code(EXIT_OK);
        assert!(status.stdout.contains("redeemed"), "{status:?}");
        for out in wd.transcript().iter().chain([&first, &retry, &other]) {
            for form in code_forms(&code) {
                assert!(!out.all().contains(&form), "the code leaked: {out:?}");
            }
            assert!(
                !out.stdout.contains("portal-acct"),
                "an account leaked: {out:?}"
            );
        }
        // Positive control: the same search finds the code in its letter.
        let letter = batch.letter_text_for(RECEIPT);
        assert!(code_forms(&code).iter().any(|f| letter.contains(f)));

        // A reissue of a linked receipt is refused, even forced, and the
        // refusal names unlink; after the desk unlinks, it goes out.
        for force in [false, true] {
            let mut args = vec!["reissue", RECEIPT, "--reason", "applicant asks"];
            if force {
                args.push("--force");
            }
            let reissue = wd.cmd(args);
            reissue.expect_code(EXIT_FAILED);
            assert!(
                reissue.stderr.contains("linked to an online account")
                    && reissue.stderr.contains("unlink the receipt"),
                "{reissue:?}"
            );
        }
        let unlink = wd.cmd([
            "unlink",
            RECEIPT,
            "--reason",
            "account opened by someone else",
        ]);
        unlink.expect_code(EXIT_OK);
        assert!(unlink.stdout.contains("unlinked"), "{unlink:?}");
        let status = wd.cmd(["status", RECEIPT]);
        assert!(
            status.stdout.contains("removed its account link")
                && status.stdout.contains("account opened by someone else"),
            "{status:?}"
        );
        let again = wd.cmd(["unlink", RECEIPT, "--reason", "twice"]);
        again.expect_code(EXIT_NOT_VALID);
        let reissue = wd.cmd(["reissue", RECEIPT, "--reason", "applicant asks", "--force"]);
        reissue.expect_code(EXIT_OK);
        assert!(
            reissue.stdout.contains("no earlier code was active"),
            "{reissue:?}"
        );
    }

    #[test]
    fn a_revoked_code_stops_working_and_reissue_need_not_wait() {
        let wd = Workdir::new();
        let (_, batch) = wd.run_fixtures();
        let code = batch.code_for(RECEIPT);
        // Within 24 hours of the letter a reissue waits...
        let early = wd.cmd(["reissue", RECEIPT, "--reason", "lost"]);
        early.expect_code(EXIT_FAILED);
        assert!(early.stderr.contains("less than 24"), "{early:?}");

        let revoked = wd.cmd(["revoke", RECEIPT, "--reason", "letter reported stolen"]);
        revoked.expect_code(EXIT_OK);
        assert!(
            revoked.stdout.starts_with(&format!("revoked {RECEIPT}")),
            "{revoked:?}"
        );
        let verify = wd.cmd(["verify", RECEIPT, &code, "--date", BATCH_DATE]);
        verify.expect_code(EXIT_NOT_VALID);
        assert!(verify.stdout.contains("revoked"), "{verify:?}");
        let redeem = redeem_via_stdin(&wd, "acct", &code);
        redeem.expect_code(EXIT_NOT_VALID);
        assert!(redeem.stdout.contains("revoked"), "{redeem:?}");
        let again = wd.cmd(["revoke", RECEIPT, "--reason", "twice"]);
        again.expect_code(EXIT_NOT_VALID);
        assert!(again.stdout.contains("no live code"), "{again:?}");

        // ...but not after a revocation: the old letter no longer works.
        let reissue = wd.cmd(["reissue", RECEIPT, "--reason", "stolen letter replaced"]);
        reissue.expect_code(EXIT_OK);
        let status = wd.cmd(["status", RECEIPT]);
        assert!(
            status.stdout.contains("letter reported stolen"),
            "{status:?}"
        );
        // The table's columns line up, whatever the lengths of batch ids.
        let lines: Vec<&str> = status.stdout.lines().collect();
        let header = lines
            .iter()
            .find(|l| l.starts_with("issue "))
            .expect("a header");
        let rows: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("1 ") || l.starts_with("2 "))
            .collect();
        assert_eq!(rows.len(), 2, "{status:?}");
        for column in ["status", "notice", "expires", "piece", "batch", "key"] {
            let at = header.find(column).expect("a column");
            for row in &rows {
                let bytes = row.as_bytes();
                assert!(
                    bytes[at - 1] == b' ' && bytes.get(at).is_some_and(|b| *b != b' '),
                    "{column} does not line up:\n{header}\n{row}"
                );
            }
        }
    }

    #[test]
    fn verify_reads_the_code_from_stdin_not_the_command_line() {
        let wd = Workdir::new();
        let (_, batch) = wd.run_fixtures();
        let code = batch.code_for(RECEIPT);
        let mut cmd = wd.command(["verify", RECEIPT, "--date", BATCH_DATE]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{}\n", code.to_lowercase()).as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("ends");
        assert_eq!(out.status.code(), Some(EXIT_OK), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
        // --help does not offer the code as an argument.
        let help = wd.cmd(["verify", "--help"]);
        assert!(!help.stdout.contains("[CODE]"), "{help:?}");
    }
}
