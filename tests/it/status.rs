//! `access-letters status RECEIPT`: the issuance history from the ledger,
//! never the code.

use crate::support::*;

const RECEIPT: &str = "IOE0912345602";

/// The history lines of `status` (those starting with an issue number).
fn history(out: &Output) -> Vec<Vec<String>> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn status_shows_the_history_of_a_receipt() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();

    let out = wd.cmd(["status", RECEIPT]);
    out.expect_code(EXIT_OK);
    let first_line = out.stdout.lines().next().unwrap();
    assert!(first_line.starts_with(RECEIPT), "{out:?}");
    assert!(first_line.contains("I-765"), "{out:?}");
    assert!(first_line.contains("Khai Thị Minh Nguyễn"), "{out:?}");
    assert!(first_line.contains("(1 issuance)"), "{out:?}");
    let rows = history(&out);
    assert_eq!(rows.len(), 1, "{out:?}");
    assert_eq!(
        rows[0][..7],
        [
            "1",
            "active",
            "2026-11-25",
            "2027-02-23",
            &format!("{RECEIPT}-01"),
            &batch.id(),
            "test-fixture-0001",
        ]
    );

    age_ledger(&wd.ledger(), 48); // the reissue policy wants a day between letters
    wd.cmd(["reissue", RECEIPT, "--reason", "moved house"])
        .expect_code(EXIT_OK);
    let notice = today();
    let expires = notice + chrono::Days::new(90);
    let out = wd.cmd(["status", "ioe 0912345602"]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("(2 issuances)"), "{out:?}");
    let rows = history(&out);
    assert_eq!(rows.len(), 2, "{out:?}");
    assert_eq!(rows[0][..2], ["1", "superseded"]);
    assert_eq!(
        rows[1],
        [
            "2",
            "active",
            &notice.to_string(),
            &expires.to_string(),
            &format!("{RECEIPT}-02"),
            &format!("{notice}-reissue-{RECEIPT}-02"),
            "test-fixture-0001",
            "moved",
            "house",
        ]
    );
}

#[test]
fn status_never_shows_a_code() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let first = batch.code_for(RECEIPT);
    age_ledger(&wd.ledger(), 48);
    wd.cmd(["reissue", RECEIPT, "--reason", "lost"])
        .expect_code(EXIT_OK);
    let re = Batch::new(wd.out().join(format!("{}-reissue-{RECEIPT}-02", today())));
    let second = re.code_for(RECEIPT);

    for args in [vec!["status", RECEIPT], vec!["-vv", "status", RECEIPT]] {
        let out = wd.cmd(args);
        out.expect_code(EXIT_OK);
        let what = format!("the output of status:{out:?}");
        assert_no_code_in(
            &[first.clone(), second.clone()],
            out.all().as_bytes(),
            &what,
        );
    }
}

#[test]
fn status_of_a_receipt_never_issued() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let out = wd.cmd(["status", "IOE0912345701"]); // rejected in the fixtures
    out.expect_code(EXIT_OK);
    assert_eq!(out.stdout.trim(), "IOE0912345701: no code has been issued");

    let bad = wd.cmd(["status", "12345"]);
    bad.expect_code(EXIT_FAILED);
    assert!(bad.stderr.contains("12345"), "{bad:?}");
}

#[test]
fn status_without_a_ledger_fails_and_creates_none() {
    let wd = Workdir::new();
    let out = wd.cmd(["status", RECEIPT]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("no ledger"), "{out:?}");
    assert!(!wd.out().exists());
}
