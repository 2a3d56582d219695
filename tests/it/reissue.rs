//! `access-letters reissue RECEIPT --reason TEXT`: a new code; the old one
//! stops working; a letter, a one-row manifest and batch.json of its own; and
//! a policy against flooding a receipt with letters, counted in real time.
//!
//! The policy reads when each letter was recorded, so these tests let time
//! pass by moving the ledger's audit times back ([`age_ledger`]).

use crate::support::*;
use chrono::Days;

const RECEIPT: &str = "IOE0912345602";
const HOUR: i64 = 1;
const DAY: i64 = 24 * HOUR;

fn reissue_on(wd: &Workdir, date: &str, force: bool) -> Output {
    let mut args = vec![
        "reissue",
        RECEIPT,
        "--reason",
        "letter lost",
        "--date",
        date,
    ];
    if force {
        args.push("--force");
    }
    wd.cmd(args)
}

/// A reissue dated today, as an operator would run it.
fn reissue(wd: &Workdir, force: bool) -> Output {
    reissue_on(wd, &today().to_string(), force)
}

fn reissue_batch(wd: &Workdir, issue_no: u32) -> Batch {
    Batch::new(
        wd.out()
            .join(format!("{}-reissue-{RECEIPT}-{issue_no:02}", today())),
    )
}

fn verify(wd: &Workdir, code: &str, date: &str) -> Output {
    wd.cmd(["verify", RECEIPT, code, "--date", date])
}

/// The fixtures' run, recorded two days ago.
fn run_two_days_ago(wd: &Workdir) -> Batch {
    let (_, batch) = wd.run_fixtures();
    age_ledger(&wd.ledger(), 2 * DAY);
    batch
}

#[test]
fn a_reissue_supersedes_the_old_code() {
    let wd = Workdir::new();
    let batch = run_two_days_ago(&wd);
    let old_code = batch.code_for(RECEIPT);
    verify(&wd, &old_code, "2026-11-27").expect_code(EXIT_OK);

    let out = reissue(&wd, false);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("issue 2"), "{out:?}");
    assert!(out.stdout.contains("issue 1 is now superseded"), "{out:?}");
    assert!(!out.stdout.contains("(forced)"), "{out:?}");

    let re = reissue_batch(&wd, 2);
    let new_code = re.letter_code(&format!("letters/{RECEIPT}-02.pdf"));
    assert_ne!(new_code, old_code);

    let now = today().to_string();
    let old = verify(&wd, &old_code, &now);
    old.expect_code(EXIT_NOT_VALID);
    assert!(old.stdout.contains("superseded"), "{old:?}");
    let new = verify(&wd, &new_code, &now);
    new.expect_code(EXIT_OK);
    assert!(new.stdout.contains("valid"), "{new:?}");
    assert!(new.stdout.contains("issue 2"), "{new:?}");

    // The nightly batch is not touched.
    assert_eq!(batch.code_for(RECEIPT), old_code);
}

#[test]
fn the_reissue_folder_has_one_letter_a_one_row_manifest_and_batch_json() {
    let wd = Workdir::new();
    run_two_days_ago(&wd);
    reissue(&wd, false).expect_code(EXIT_OK);
    let re = reissue_batch(&wd, 2);

    let letter = format!("letters/{RECEIPT}-02.pdf");
    assert_eq!(re.letter_files(), vec![letter.clone()]);
    let manifest = re.manifest();
    assert_eq!(manifest.len(), 1);
    let row = &manifest[0];
    assert_eq!(row["sequence"], "1");
    assert_eq!(row["piece_id"], format!("{RECEIPT}-02"));
    assert_eq!(row["file"], letter);
    assert_eq!(row["sha256"], file_sha256(&re.path(&letter)));
    assert_eq!(row["recipient_name"], "KHAI THỊ MINH NGUYỄN");

    let s = re.summary();
    assert_eq!(s["kind"], "reissue");
    assert_eq!(s["batch_id"], re.id());
    assert_eq!(s["batch_date"], today().to_string());
    assert_eq!(s["mode"], "test");
    assert_eq!(s["letters"], 1);
    assert_eq!(
        re.counts(),
        Counts {
            read: 1,
            issued: 1,
            already_issued: 0,
            rejected: 0
        }
    );
    let files: Vec<(&str, &str)> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["sha256"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files.iter().map(|f| f.0).collect::<Vec<_>>(),
        ["manifest.csv", letter.as_str()]
    );
    for (path, sha) in files {
        assert_eq!(file_sha256(&re.path(path)), sha, "{path}");
    }
    // Private like every batch.
    assert_eq!(mode(&re.dir), 0o700);
    assert_eq!(mode(&re.path(&letter)), 0o600);

    let text = re.letter_text(&letter);
    assert!(
        text.contains(RECEIPT) && text.contains("SPECIMEN"),
        "{text}"
    );
    assert!(text.contains(&format!("{RECEIPT}-02")), "{text}");
}

#[test]
fn a_second_letter_within_a_day_is_refused_unless_forced() {
    let wd = Workdir::new();
    wd.run_fixtures(); // recorded just now
    let before = snapshot(&wd.out());
    let out = reissue(&wd, false);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("less than 24 hours ago"), "{out:?}");
    assert!(out.stderr.contains("--force"), "{out:?}");
    assert_eq!(
        snapshot(&wd.out()),
        before,
        "a refused reissue writes nothing"
    );

    let forced = reissue(&wd, true);
    forced.expect_code(EXIT_OK);
    assert!(forced.stdout.contains("(forced)"), "{forced:?}");
    reissue_batch(&wd, 2);

    let status = wd.cmd(["status", RECEIPT]);
    status.expect_code(EXIT_OK);
    assert!(status.stdout.contains("letter lost (forced)"), "{status:?}");
}

#[test]
fn a_fifth_letter_within_thirty_days_needs_force() {
    let wd = Workdir::new();
    wd.run_fixtures(); // issue 1
    for _ in 2..=4 {
        age_ledger(&wd.ledger(), DAY + HOUR);
        reissue(&wd, false).expect_code(EXIT_OK);
    }
    // Issues 1-4 were recorded 100, 75, 50 and 25 hours ago.
    age_ledger(&wd.ledger(), DAY + HOUR);
    let refused = reissue(&wd, false);
    refused.expect_code(EXIT_FAILED);
    assert!(
        refused.stderr.contains("4 letters in the last 30 days"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("--force"), "{refused:?}");
    assert!(!wd
        .out()
        .join(format!("{}-reissue-{RECEIPT}-05", today()))
        .exists());

    let forced = reissue(&wd, true);
    forced.expect_code(EXIT_OK);
    assert!(forced.stdout.contains("issue 5 (forced)"), "{forced:?}");

    // 630 hours on, issues 2-5 are inside the 720-hour window: still four.
    // 30 hours later, issue 2 has left it: three.
    age_ledger(&wd.ledger(), 630 * HOUR);
    reissue(&wd, false).expect_code(EXIT_FAILED);
    age_ledger(&wd.ledger(), 30 * HOUR);
    reissue(&wd, false).expect_code(EXIT_OK);

    let status = wd.cmd(["status", RECEIPT]);
    status.expect_code(EXIT_OK);
    assert!(status.stdout.contains("(6 issuances)"), "{status:?}");
    let lines: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(lines.len(), 6, "{status:?}");
    for (i, line) in lines.iter().enumerate() {
        let want = if i == 5 { "active" } else { "superseded" };
        assert!(line.contains(want), "issue {}: {line}", i + 1);
    }
    assert!(lines[4].ends_with("letter lost (forced)"), "{}", lines[4]);
    assert!(lines[5].ends_with("letter lost"), "{}", lines[5]);
    assert!(!lines[5].contains("(forced)"));

    let rows = ledger_rows(&wd.ledger());
    let mine: Vec<_> = rows.iter().filter(|r| r.receipt == RECEIPT).collect();
    assert_eq!(mine.len(), 6);
    assert_eq!(mine.iter().filter(|r| r.status == "active").count(), 1);
}

/// Finding 12.7: a future `--batch-date` let a second and third reissue on
/// the same real day pass the policy. The policy now counts real time, and a
/// date after tomorrow needs --force.
#[test]
fn finding_7_reissue_dates_in_the_future_do_not_pass_the_policy() {
    let wd = Workdir::new();
    run_two_days_ago(&wd);
    reissue(&wd, false).expect_code(EXIT_OK);
    let before = snapshot(&wd.out());

    // Dated ahead to look like days have passed: refused twice over.
    let ahead = today().checked_add_days(Days::new(10)).unwrap().to_string();
    let out = reissue_on(&wd, &ahead, false);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("after today"), "{out:?}");
    assert!(out.stderr.contains("--force"), "{out:?}");
    // Within the date rule, the real-time rule still holds.
    let tomorrow = today().checked_add_days(Days::new(1)).unwrap().to_string();
    let out = reissue_on(&wd, &tomorrow, false);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("less than 24 hours ago"), "{out:?}");
    assert_eq!(snapshot(&wd.out()), before, "nothing written");

    // Forced, it goes out and the ledger says so.
    reissue_on(&wd, &ahead, true).expect_code(EXIT_OK);
    let status = wd.cmd(["status", RECEIPT]);
    assert!(status.stdout.contains("letter lost (forced)"), "{status:?}");
}

/// Finding 12.7: the active letter could carry an older notice date than a
/// superseded one. Notice dates of a receipt never go backwards, forced or not.
#[test]
fn finding_7_notice_dates_of_a_receipt_never_go_backwards() {
    let wd = Workdir::new();
    run_two_days_ago(&wd); // notice date 2026-11-25
    let before = snapshot(&wd.out());
    for force in [false, true] {
        let out = reissue_on(&wd, "2026-11-20", force);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains("dated 2026-11-25"), "{out:?}");
        assert!(out.stderr.contains("never go backwards"), "{out:?}");
    }
    assert_eq!(snapshot(&wd.out()), before, "nothing written");
}

/// Finding 12.7: `--batch-date 9999-12-31` was accepted (expiry +10000-03-30).
#[test]
fn finding_7_a_date_no_letter_can_carry_is_refused() {
    let wd = Workdir::new();
    run_two_days_ago(&wd);
    let before = snapshot(&wd.out());
    for args in [
        ["--date", "9999-12-31", "--force"],
        ["--batch-date", "9999-12-31", "--force"],
    ] {
        let mut all = vec!["reissue", RECEIPT, "--reason", "x"];
        all.extend(args);
        let out = wd.cmd(all);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains("9999-12-31"), "{out:?}");
        assert!(out.stderr.contains("2000-2099"), "{out:?}");
    }
    assert_eq!(snapshot(&wd.out()), before);
}

#[test]
fn reason_is_required() {
    let wd = Workdir::new();
    run_two_days_ago(&wd);
    let before = snapshot(&wd.out());
    let missing = wd.cmd(["reissue", RECEIPT]);
    missing.expect_code(EXIT_FAILED);
    assert!(missing.stderr.contains("--reason"), "{missing:?}");
    assert!(
        missing.stderr.contains("Usage"),
        "a usage error:{missing:?}"
    );

    let blank = wd.cmd(["reissue", RECEIPT, "--reason", "  "]);
    blank.expect_code(EXIT_FAILED);
    assert!(blank.stderr.contains("--reason"), "{blank:?}");
    assert_eq!(snapshot(&wd.out()), before);
}

#[test]
fn a_receipt_never_issued_cannot_be_reissued() {
    let wd = Workdir::new();
    run_two_days_ago(&wd);
    let out = wd.cmd(["reissue", "IOE0000000000", "--reason", "asked by phone"]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("never been issued"), "{out:?}");
    assert_eq!(wd.batch_dirs().len(), 1);
}
