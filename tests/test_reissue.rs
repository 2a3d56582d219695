//! `access-letters reissue RECEIPT --reason TEXT`: a new code; the old one
//! stops working; a letter, a one-row manifest and batch.json of its own; and
//! a policy against flooding a receipt with letters.

mod common;

use common::*;

const RECEIPT: &str = "IOE0912345602";

fn reissue(wd: &Workdir, date: &str, force: bool) -> Output {
    let mut args = vec![
        "reissue",
        RECEIPT,
        "--reason",
        "letter lost",
        "--batch-date",
        date,
    ];
    if force {
        args.push("--force");
    }
    wd.cmd(args)
}

fn reissue_batch(wd: &Workdir, date: &str, issue_no: u32) -> Batch {
    Batch::new(
        wd.out()
            .join(format!("{date}-reissue-{RECEIPT}-{issue_no:02}")),
    )
}

fn verify(wd: &Workdir, code: &str, date: &str) -> Output {
    wd.cmd(["verify", RECEIPT, code, "--date", date])
}

#[test]
fn a_reissue_supersedes_the_old_code() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let old_code = batch.code_for(RECEIPT);
    verify(&wd, &old_code, "2026-11-27").expect_code(EXIT_OK);

    let out = reissue(&wd, "2026-11-28", false);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("issue 2"), "{out:?}");
    assert!(out.stdout.contains("issue 1 is now superseded"), "{out:?}");
    assert!(!out.stdout.contains("(forced)"), "{out:?}");

    let re = reissue_batch(&wd, "2026-11-28", 2);
    let new_code = re.letter_code(&format!("letters/{RECEIPT}-02.pdf"));
    assert_ne!(new_code, old_code);

    let old = verify(&wd, &old_code, "2026-11-28");
    old.expect_code(EXIT_NOT_VALID);
    assert!(old.stdout.contains("superseded"), "{old:?}");
    let new = verify(&wd, &new_code, "2026-11-28");
    new.expect_code(EXIT_OK);
    assert!(new.stdout.contains("valid"), "{new:?}");
    assert!(new.stdout.contains("issue 2"), "{new:?}");

    // The nightly batch is not touched.
    assert_eq!(batch.code_for(RECEIPT), old_code);
}

#[test]
fn the_reissue_folder_has_one_letter_a_one_row_manifest_and_batch_json() {
    let wd = Workdir::new();
    wd.run_fixtures();
    reissue(&wd, "2026-11-28", false).expect_code(EXIT_OK);
    let re = reissue_batch(&wd, "2026-11-28", 2);

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
    assert_eq!(s["batch_date"], "2026-11-28");
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

    // The new letter says it is for the same applicant and shows the new date.
    let text = re.letter_text(&letter);
    assert!(
        text.contains(RECEIPT) && text.contains("SPECIMEN"),
        "{text}"
    );
    assert!(text.contains(&format!("{RECEIPT}-02")), "{text}");
}

#[test]
fn a_second_letter_on_the_same_date_is_refused_unless_forced() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let before = snapshot(&wd.out());
    let out = reissue(&wd, "2026-11-25", false);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("2026-11-25"), "{out:?}");
    assert!(out.stderr.contains("--force"), "{out:?}");
    assert_eq!(
        snapshot(&wd.out()),
        before,
        "a refused reissue writes nothing"
    );

    let forced = reissue(&wd, "2026-11-25", true);
    forced.expect_code(EXIT_OK);
    assert!(forced.stdout.contains("(forced)"), "{forced:?}");
    reissue_batch(&wd, "2026-11-25", 2);

    let status = wd.cmd(["status", RECEIPT]);
    status.expect_code(EXIT_OK);
    assert!(status.stdout.contains("letter lost (forced)"), "{status:?}");
}

#[test]
fn a_fifth_letter_within_thirty_days_needs_force() {
    let wd = Workdir::new();
    wd.run_fixtures(); // issue 1 on 2026-11-25
    for date in ["2026-11-28", "2026-12-01", "2026-12-04"] {
        reissue(&wd, date, false).expect_code(EXIT_OK); // issues 2-4
    }
    let refused = reissue(&wd, "2026-12-07", false);
    refused.expect_code(EXIT_FAILED);
    assert!(
        refused.stderr.contains("4 letters in the last 30 days"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("--force"), "{refused:?}");
    assert!(!wd
        .out()
        .join(format!("2026-12-07-reissue-{RECEIPT}-05"))
        .exists());

    let forced = reissue(&wd, "2026-12-07", true);
    forced.expect_code(EXIT_OK);
    assert!(forced.stdout.contains("issue 5 (forced)"), "{forced:?}");

    // Thirty days on, the window holds the letters of 11-28 to 12-07: still
    // four. A day later, three.
    reissue(&wd, "2026-12-27", false).expect_code(EXIT_FAILED);
    reissue(&wd, "2026-12-28", false).expect_code(EXIT_OK);

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

#[test]
fn reason_is_required() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let before = snapshot(&wd.out());
    let missing = wd.cmd(["reissue", RECEIPT, "--batch-date", "2026-12-01"]);
    missing.expect_code(EXIT_FAILED);
    assert!(missing.stderr.contains("--reason"), "{missing:?}");
    assert!(
        missing.stderr.contains("Usage"),
        "a usage error:{missing:?}"
    );

    let blank = wd.cmd([
        "reissue",
        RECEIPT,
        "--reason",
        "  ",
        "--batch-date",
        "2026-12-01",
    ]);
    blank.expect_code(EXIT_FAILED);
    assert!(blank.stderr.contains("--reason"), "{blank:?}");
    assert_eq!(snapshot(&wd.out()), before);
}

#[test]
fn a_receipt_never_issued_cannot_be_reissued() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let out = wd.cmd([
        "reissue",
        "IOE0000000000",
        "--reason",
        "asked by phone",
        "--batch-date",
        "2026-12-01",
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("never been issued"), "{out:?}");
    assert_eq!(wd.batch_dirs().len(), 1);
}
