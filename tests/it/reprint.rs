//! `access-letters reprint RECEIPT`: the mailed letter again. A letter
//! printed in a print file (the default) comes back with the same page
//! content, proven by its digest; a letter file (pieces mode) byte for byte.

use std::fs;

use crate::support::*;

const RECEIPT: &str = "IOE0912345602";

#[test]
fn reprint_writes_the_printed_letter_again() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let row = batch.row_for(RECEIPT);
    let printed = batch.printed_digest_for(RECEIPT);

    let out = wd.cmd(["reprint", RECEIPT]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("the letter printed"), "{out:?}");
    assert!(out.stdout.contains(&printed), "{out:?}");
    let default_path = wd.out().join(format!("reprints/{}.pdf", row["piece_id"]));
    assert!(out.stdout.contains("reprints"), "{out:?}");
    assert_eq!(letter_digest(&fs::read(&default_path).unwrap()), printed);
    assert_eq!(mode(&default_path), 0o600);
}

#[test]
fn reprint_writes_the_mailed_letter_byte_for_byte_in_pieces_mode() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures_as_pieces();
    let row = batch.row_for(RECEIPT);

    let out = wd.cmd(["reprint", RECEIPT]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("identical"), "{out:?}");
    assert!(out.stdout.contains(&row["sha256"]), "{out:?}");
    let default_path = wd.out().join(format!("reprints/{}.pdf", row["piece_id"]));
    assert!(out.stdout.contains("reprints"), "{out:?}");
    assert_eq!(fs::read(&default_path).unwrap(), batch.read(&row["file"]));
    assert_eq!(mode(&default_path), 0o600);
}

#[test]
fn reprint_to_a_chosen_path() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let to = wd.path("desk/copy.pdf");
    let out = wd.cmd(["reprint", RECEIPT, "--to", to.to_str().unwrap()]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("copy.pdf"), "{out:?}");
    assert_eq!(
        letter_digest(&fs::read(&to).unwrap()),
        batch.printed_digest_for(RECEIPT)
    );
    assert!(
        !wd.out().join("reprints").exists(),
        "nothing at the default place"
    );
}

#[test]
fn the_receipt_may_be_typed_loosely() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let to = wd.path("loose.pdf");
    wd.cmd(["reprint", "ioe-0912345602", "--to", to.to_str().unwrap()])
        .expect_code(EXIT_OK);
    assert_eq!(
        letter_digest(&fs::read(&to).unwrap()),
        batch.printed_digest_for(RECEIPT)
    );
}

#[test]
fn reprint_of_an_unknown_receipt_fails_clearly() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let out = wd.cmd(["reprint", "IOE0000000000"]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("IOE0000000000"), "{out:?}");
    assert!(out.stderr.contains("never been issued"), "{out:?}");
    assert!(!wd.out().join("reprints").exists());

    let bad = wd.cmd(["reprint", "not-a-receipt"]);
    bad.expect_code(EXIT_FAILED);
    assert!(
        bad.stderr.contains("not-a-receipt") || bad.stderr.contains("NOTARECEIPT"),
        "{bad:?}"
    );
}

#[test]
fn reprint_without_a_ledger_says_so() {
    let wd = Workdir::new();
    let out = wd.cmd(["reprint", RECEIPT]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("no ledger"), "{out:?}");
    assert!(!wd.ledger().exists(), "reprint must not create a ledger");
}

#[test]
fn after_a_reissue_both_letters_can_be_reprinted() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let first = batch.printed_digest_for(RECEIPT);
    age_ledger(&wd.ledger(), 48); // the reissue policy wants a day between letters
    let re = wd.cmd(["reissue", RECEIPT, "--reason", "letter lost in the mail"]);
    re.expect_code(EXIT_OK);
    let reissue = Batch::new(wd.out().join(format!("{}-reissue-{RECEIPT}-02", today())));
    let second = reissue.read(&format!("letters/{RECEIPT}-02.pdf"));
    assert_ne!(first, letter_digest(&second));

    // The superseded letter, by issue number.
    let old = wd.path("issue1.pdf");
    let out = wd.cmd([
        "reprint",
        RECEIPT,
        "--issue",
        "1",
        "--to",
        old.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("superseded"), "{out:?}");
    assert_eq!(letter_digest(&fs::read(&old).unwrap()), first);

    // By default, the active one: the reissued letter.
    let new = wd.path("active.pdf");
    let out = wd.cmd(["reprint", RECEIPT, "--to", new.to_str().unwrap()]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("issue 2"), "{out:?}");
    assert_eq!(fs::read(&new).unwrap(), second);

    let none = wd.cmd(["reprint", RECEIPT, "--issue", "3"]);
    none.expect_code(EXIT_FAILED);
    assert!(none.stderr.contains("no issue 3"), "{none:?}");
}

#[test]
fn reprint_needs_the_key_the_letter_was_made_with() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let other = wd.production_key("other.key");
    let out = wd.cmd(["reprint", RECEIPT, "--key", other.to_str().unwrap()]);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr.contains("test-"),
        "names the key id it needs:{out:?}"
    );
    assert!(out.stderr.contains("--old-key"), "{out:?}");

    // With the old key loaded, the reprint works again.
    let to = wd.path("with-old-key.pdf");
    wd.cmd([
        "reprint",
        RECEIPT,
        "--key",
        other.to_str().unwrap(),
        "--old-key",
        test_key().to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ])
    .expect_code(EXIT_OK);
    assert!(to.exists());
}

#[test]
fn a_reprint_that_would_differ_from_the_letter_mailed_is_refused() {
    let wd = Workdir::new();
    wd.run_fixtures();
    // Templates edited since the night's run.
    for name in ["letter.en.tera", "letter.es.tera"] {
        let text = fs::read_to_string(repo_file(&format!("templates/{name}"))).unwrap();
        // One word more in the English body; Spanish unchanged.
        let edited = text.replace(
            "**online access code** below",
            "**online access code** shown below",
        );
        wd.write(&format!("edited/{name}"), edited);
    }
    let to = wd.path("reprint.pdf");
    let out = wd.cmd([
        "reprint",
        RECEIPT,
        "--templates",
        wd.path("edited").to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr.contains("differs from the one mailed"),
        "{out:?}"
    );
    assert!(out.stderr.contains("nothing was written"), "{out:?}");
    assert!(!to.exists(), "no letter that differs from the record");
}
