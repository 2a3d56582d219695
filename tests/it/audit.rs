//! `audit`: a sound ledger and output folder pass; a changed letter, a
//! deleted file, a batch of another ledger and a damaged ledger are each
//! named, with exit status 1.

use std::fs;

use crate::support::*;

#[test]
fn a_finished_batch_passes_the_audit() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let out = wd.cmd(["audit"]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("audit passed"), "{out:?}");
    // manifest.csv, rejects.csv and the print file.
    assert_eq!(batch.summary()["print_files"].as_array().unwrap().len(), 1);
    assert!(out.stdout.contains("1 batch and 3 files"), "{out:?}");
}

#[test]
fn a_finished_batch_in_pieces_mode_passes_the_audit() {
    let wd = Workdir::new();
    wd.run_fixtures_as_pieces();
    let out = wd.cmd(["audit"]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("audit passed"), "{out:?}");
    assert!(out.stdout.contains("1 batch and 48 files"), "{out:?}");
}

#[test]
fn a_changed_print_file_or_a_missing_file_is_named() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let print = batch.summary()["print_files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    fs::write(batch.path(&print), b"%PDF-1.7 not the print file").unwrap();
    fs::remove_file(batch.path("rejects.csv")).unwrap();
    let out = wd.cmd(["audit"]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stdout.contains(&format!("{print} differs")), "{out:?}");
    assert!(out.stdout.contains("rejects.csv is missing"), "{out:?}");
    assert!(out.stdout.contains("2 problems"), "{out:?}");
}

#[test]
fn a_changed_or_missing_letter_file_in_pieces_mode_is_named() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures_as_pieces();
    let letters = batch.letter_files();
    fs::write(batch.path(&letters[0]), b"%PDF-1.7 not the letter").unwrap();
    fs::remove_file(batch.path(&letters[1])).unwrap();
    let out = wd.cmd(["audit"]);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stdout.contains(&format!("{} differs", letters[0])),
        "{out:?}"
    );
    assert!(
        out.stdout.contains(&format!("{} is missing", letters[1])),
        "{out:?}"
    );
    assert!(out.stdout.contains("2 problems"), "{out:?}");
}

#[test]
fn a_batch_of_another_ledger_is_named() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let path = batch.path("batch.json");
    let text = fs::read_to_string(&path).unwrap();
    let id = batch.summary()["ledger_id"].as_str().unwrap().to_string();
    fs::write(&path, text.replace(&id, "0123456789abcdef0123456789abcdef")).unwrap();
    let out = wd.cmd(["audit"]);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stdout.contains("names ledger 0123456789abcdef"),
        "{out:?}"
    );
    // And a run into that folder refuses rather than mixing ledgers.
    let again = wd.run(&fixtures_csv());
    again.expect_code(EXIT_FAILED);
    assert!(
        again.stderr.contains("recorded by another ledger")
            && again.stderr.contains("error: --ledger or --out: "),
        "{again:?}"
    );
}

#[test]
fn finding_3_a_damaged_ledger_fails_the_audit_with_what_to_do() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let ledger = wd.ledger();
    let mut bytes = fs::read(&ledger).unwrap();
    let len = bytes.len();
    // Overwrite pages past the header: the schema page survives, data pages do not.
    for b in &mut bytes[8192.min(len)..(8192 + 16384).min(len)] {
        *b = 0xA5;
    }
    fs::write(&ledger, &bytes).unwrap();
    let out = wd.cmd(["audit"]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("damaged"), "{out:?}");
    assert!(out.stderr.contains("backup"), "{out:?}");
}

#[test]
fn finding_4_a_missing_ledger_next_to_finished_batches_is_refused() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let before = snapshot(&batch.dir);
    fs::remove_file(wd.ledger()).unwrap();
    let again = wd.run(&fixtures_csv());
    again.expect_code(EXIT_FAILED);
    assert!(again.stderr.contains("restore the ledger"), "{again:?}");
    assert!(!wd.ledger().exists(), "no new ledger was made");
    assert_eq!(
        snapshot(&batch.dir),
        before,
        "the finished batch is untouched"
    );
    // --new-ledger does not let a new ledger share --out with finished batches.
    let forced = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--new-ledger",
    ]);
    forced.expect_code(EXIT_FAILED);
    assert!(!wd.ledger().exists());
}

#[test]
fn finding_4_an_empty_ledger_file_is_refused() {
    let wd = Workdir::new();
    wd.run_fixtures();
    fs::write(wd.ledger(), b"").unwrap();
    let again = wd.run(&fixtures_csv());
    again.expect_code(EXIT_FAILED);
    assert!(again.stderr.contains("empty"), "{again:?}");
}
