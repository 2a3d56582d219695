//! `access-letters backup --ledger FILE --to FILE`: a copy of the ledger
//! that opens as the same ledger, made while nothing else is needed.

use crate::support::*;

const REISSUED: &str = "IOE0912345602";

/// Receipts the fixture run issued, from its manifest's piece IDs.
fn receipts(batch: &Batch) -> Vec<String> {
    batch
        .manifest()
        .iter()
        .map(|r| r["piece_id"].split('-').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_backup_opens_with_the_same_issuances() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    wd.cmd(["reissue", REISSUED, "--reason", "moved house", "--force"])
        .expect_code(EXIT_OK);

    let copy = wd.path("backups/ledger-2026-12-03.sqlite");
    std::fs::create_dir(wd.path("backups")).unwrap();
    let out = wd.cmd([
        "backup".as_ref(),
        "--ledger".as_ref(),
        wd.ledger().as_os_str(),
        "--to".as_ref(),
        copy.as_os_str(),
    ]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("backed up the ledger"), "{out:?}");
    assert_eq!(mode(&copy), 0o600);

    let receipts = receipts(&batch);
    assert_eq!(receipts.len() as u64, FIXTURE_VALID);
    for receipt in &receipts {
        let live = wd.cmd(["status", receipt]);
        live.expect_code(EXIT_OK);
        let restored = wd.cmd([
            "status".as_ref(),
            receipt.as_ref(),
            "--ledger".as_ref(),
            copy.as_os_str(),
        ]);
        restored.expect_code(EXIT_OK);
        assert_eq!(restored.stdout, live.stdout, "{receipt}");
    }
    let reissued = wd.cmd([
        "status".as_ref(),
        REISSUED.as_ref(),
        "--ledger".as_ref(),
        copy.as_os_str(),
    ]);
    assert!(reissued.stdout.contains("(2 issuances)"), "{reissued:?}");
}

#[test]
fn a_backup_never_replaces_a_file_and_needs_a_ledger() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let existing = wd.write("precious.sqlite", "not to be overwritten");
    let out = wd.cmd([
        "backup".as_ref(),
        "--ledger".as_ref(),
        wd.ledger().as_os_str(),
        "--to".as_ref(),
        existing.as_os_str(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("already exists"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "not to be overwritten"
    );

    let empty = wd.write("empty.sqlite", "");
    let out = wd.cmd([
        "backup".as_ref(),
        "--ledger".as_ref(),
        empty.as_os_str(),
        "--to".as_ref(),
        wd.path("copy.sqlite").as_os_str(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("is empty: restore it"), "{out:?}");
    assert!(!wd.path("copy.sqlite").exists());
}
