//! `access-letters preview`: one letter for template authors, test key only,
//! no ledger.

use std::fs;

use crate::support::*;

fn preview(wd: &Workdir, receipt: &str, to: &str, extra: &[&str]) -> Output {
    let input = fixtures_csv();
    let mut args = vec![
        "preview",
        "--input",
        input.to_str().unwrap(),
        "--receipt",
        receipt,
        "--to",
        to,
        "--date",
        BATCH_DATE,
    ];
    args.extend_from_slice(extra);
    wd.cmd(args)
}

#[test]
fn preview_writes_a_specimen_letter_and_no_ledger() {
    let wd = Workdir::new();
    let to = wd.path("preview.pdf");
    let out = preview(&wd, "IOE0912345601", to.to_str().unwrap(), &[]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("preview.pdf"), "{out:?}");
    assert_eq!(mode(&to), 0o600, "a preview is private like every letter");
    assert!(out.stdout.contains("1 page"), "{out:?}");
    let bytes = fs::read(&to).unwrap();
    assert!(out.stdout.contains(&sha256_hex(&bytes)), "{out:?}");

    let text = pdf_text(&bytes);
    for want in [
        "SPECIMEN",
        "IOE0912345601",
        "José",
        "LOS ANGELES CA 90012-3456",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    letter_code(&bytes); // exactly one code
    assert!(!wd.out().exists(), "preview touches no ledger or batch");
    assert!(!wd.path("output").exists());
}

#[test]
fn preview_shows_what_the_nightly_run_prints_with_the_test_key() {
    let wd = Workdir::new();
    let to = wd.path("preview.pdf");
    preview(&wd, "IOE0912345602", to.to_str().unwrap(), &[]).expect_code(EXIT_OK);
    let (_, batch) = wd.run_fixtures();
    assert_eq!(
        letter_code(&fs::read(&to).unwrap()),
        batch.code_for("IOE0912345602"),
        "the same test key, receipt and issue number give the same code"
    );
}

#[test]
fn preview_refuses_a_production_key() {
    let wd = Workdir::new();
    let key = wd.production_key("prod.key");
    let to = wd.path("preview.pdf");
    let out = preview(
        &wd,
        "IOE0912345601",
        to.to_str().unwrap(),
        &["--key", key.to_str().unwrap()],
    );
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("test key only"), "{out:?}");
    assert!(!to.exists(), "no letter with a real code");
}

#[test]
fn preview_of_a_receipt_not_in_the_file_fails_clearly() {
    let wd = Workdir::new();
    let to = wd.path("preview.pdf");
    let out = preview(&wd, "IOE0999999999", to.to_str().unwrap(), &[]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("IOE0999999999"), "{out:?}");
    assert!(out.stderr.contains("is not in"), "{out:?}");
    assert!(out.stderr.contains("filings.csv"), "{out:?}");
    assert!(!to.exists());

    // A row that is in the file but rejected says why.
    let out = preview(&wd, "IOE0912345701", to.to_str().unwrap(), &[]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("line 49"), "{out:?}");
    assert!(out.stderr.contains("I-130"), "{out:?}");
    assert!(!to.exists());
}

#[test]
fn preview_works_from_any_folder_with_the_built_in_test_key() {
    let wd = Workdir::new();
    let to = wd.path("anywhere.pdf");
    // No --key, run from a folder with no fixtures/: the built-in test key.
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "preview",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--receipt",
        "IOE0912345602",
        "--out", // the old spelling of --to still works
        to.to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
    ])
    .current_dir(wd.root());
    wd.output(&mut cmd).expect_code(EXIT_OK);
    let with_file = wd.path("with-file.pdf");
    preview(&wd, "IOE0912345602", with_file.to_str().unwrap(), &[]).expect_code(EXIT_OK);
    assert_eq!(
        fs::read(&to).unwrap(),
        fs::read(&with_file).unwrap(),
        "the built-in key is fixtures/test.key"
    );
}
