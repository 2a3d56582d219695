//! `access-letters verify RECEIPT CODE`: is a typed code good for a receipt
//! now, and if not, why not (in words a support agent can read out).

use crate::support::*;

const RECEIPT: &str = "IOE0912345602";

fn verify(wd: &Workdir, receipt: &str, code: &str, date: &str) -> Output {
    wd.cmd(["verify", receipt, code, "--date", date])
}

#[test]
fn the_code_on_the_letter_is_valid() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let code = batch.code_for(RECEIPT);
    let out = verify(&wd, RECEIPT, &code, BATCH_DATE);
    out.expect_code(EXIT_OK);
    assert!(
        out.stdout.starts_with(&format!("{RECEIPT}: valid")),
        "{out:?}"
    );
    // Every letter of the batch carries a code valid for its own receipt.
    let letters = batch.codes();
    assert_eq!(letters.len() as u64, FIXTURE_VALID);
    for (piece_id, code) in letters {
        let receipt = piece_id.split('-').next().unwrap().to_string();
        verify(&wd, &receipt, &code, BATCH_DATE).expect_code(EXIT_OK);
    }
}

/// An agency.toml that allows `max` wrong codes, for tests that type many.
fn config_allowing(wd: &Workdir, max: u32) -> String {
    let text = std::fs::read_to_string(repo_file("templates/agency.toml")).unwrap();
    assert!(text.contains("max_wrong_codes = 5"));
    let text = text.replace("max_wrong_codes = 5", &format!("max_wrong_codes = {max}"));
    wd.write("agency.toml", text).to_str().unwrap().to_string()
}

#[test]
fn a_mistyped_code_is_reported_as_mistyped() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let code = batch.code_for(RECEIPT);
    let config = config_allowing(&wd, 100);
    let verify = |wd: &Workdir, receipt: &str, code: &str, date: &str| {
        wd.cmd(["verify", receipt, code, "--date", date, "--config", &config])
    };
    for position in 0..12 {
        let typo = mistype(&code, position);
        assert_ne!(typo, code);
        let out = verify(&wd, RECEIPT, &typo, BATCH_DATE);
        out.expect_code(EXIT_NOT_VALID);
        assert!(
            out.stdout.contains("mistyped"),
            "position {position}:{out:?}"
        );
        assert!(out.stdout.contains("check"), "{out:?}");
    }
    // Two neighbours swapped.
    let mut chars: Vec<char> = code.chars().collect();
    let i = (0..chars.len() - 1)
        .find(|&i| chars[i] != '-' && chars[i + 1] != '-' && chars[i] != chars[i + 1])
        .unwrap();
    chars.swap(i, i + 1);
    let swapped: String = chars.into_iter().collect();
    let out = verify(&wd, RECEIPT, &swapped, BATCH_DATE);
    out.expect_code(EXIT_NOT_VALID);
    assert!(out.stdout.contains("mistyped"), "{out:?}");

    // Too short, and a letter access codes never use.
    let short = verify(&wd, RECEIPT, &code[..9], BATCH_DATE);
    short.expect_code(EXIT_NOT_VALID);
    assert!(short.stdout.contains("12"), "{short:?}");
    let with_u = format!("U{}", &code[1..]);
    verify(&wd, RECEIPT, &with_u, BATCH_DATE).expect_code(EXIT_NOT_VALID);
}

#[test]
fn case_spaces_and_lookalike_letters_do_not_matter() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let codes: Vec<(String, String)> = batch
        .codes()
        .into_iter()
        .map(|(piece_id, code)| (piece_id.split('-').next().unwrap().to_string(), code))
        .collect();

    let (receipt, code) = &codes[0];
    let bare: String = code.chars().filter(|c| *c != '-').collect();
    for typed in [
        code.to_lowercase(),
        code.replace('-', " "),
        bare.clone(),
        format!("  {}  ", bare.to_lowercase()),
        format!("{} - {} - {}", &bare[..4], &bare[4..8], &bare[8..]),
    ] {
        let out = verify(&wd, receipt, &typed, BATCH_DATE);
        out.expect_code(EXIT_OK);
        assert!(out.stdout.contains("valid"), "{typed:?}:{out:?}");
    }

    // O typed for 0, and I or l typed for 1.
    let (r0, c0) = codes
        .iter()
        .find(|(_, c)| c.contains('0'))
        .expect("a code with 0");
    verify(&wd, r0, &c0.replace('0', "O"), BATCH_DATE).expect_code(EXIT_OK);
    verify(&wd, r0, &c0.replace('0', "o"), BATCH_DATE).expect_code(EXIT_OK);
    let (r1, c1) = codes
        .iter()
        .find(|(_, c)| c.contains('1'))
        .expect("a code with 1");
    verify(&wd, r1, &c1.replace('1', "I"), BATCH_DATE).expect_code(EXIT_OK);
    verify(&wd, r1, &c1.replace('1', "l"), BATCH_DATE).expect_code(EXIT_OK);
}

#[test]
fn another_receipts_code_is_the_wrong_code() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let other = batch.code_for("IOE0912345603");
    let out = verify(&wd, RECEIPT, &other, BATCH_DATE);
    out.expect_code(EXIT_NOT_VALID);
    assert!(out.stdout.contains("wrong code"), "{out:?}");
    assert!(
        out.stdout.contains("not a code issued for this receipt"),
        "{out:?}"
    );
}

#[test]
fn a_code_expires_ninety_days_after_the_notice() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let code = batch.code_for(RECEIPT);
    let status = wd.cmd(["status", RECEIPT]);
    assert!(
        status.stdout.contains("2027-02-23"),
        "expiry in the ledger:{status:?}"
    );

    verify(&wd, RECEIPT, &code, "2027-02-23").expect_code(EXIT_OK);
    let out = verify(&wd, RECEIPT, &code, "2027-02-24");
    out.expect_code(EXIT_NOT_VALID);
    assert!(out.stdout.contains("expired"), "{out:?}");
    assert!(out.stdout.contains("2027-02-23"), "says until when:{out:?}");
}

#[test]
fn a_receipt_with_no_code_is_unknown() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let code = batch.code_for(RECEIPT);
    // IOE0912345701 is in the fixtures but rejected (form I-130).
    for receipt in ["IOE0000000000", "IOE0912345701"] {
        let out = verify(&wd, receipt, &code, BATCH_DATE);
        out.expect_code(EXIT_NOT_VALID);
        assert!(out.stdout.contains("unknown"), "{out:?}");
    }
}

#[test]
fn verify_without_a_ledger_fails_and_creates_none() {
    let wd = Workdir::new();
    let out = verify(&wd, RECEIPT, "0000-0000-0000", BATCH_DATE);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("no ledger"), "{out:?}");
    assert!(!wd.out().exists());
}

// The helpers the tests rely on to read codes.

#[test]
fn code_parser_finds_codes_standing_alone() {
    let text = "SU CÓDIGO\n9TP7-EFA6-D25J \nID IOE0912345625-01 800-375-5283 \
                X9TP7-EFA6-D25J ABCD-EFGH-JKMN- 1234-5678-90AB";
    assert_eq!(codes_in(text), ["9TP7-EFA6-D25J", "1234-5678-90AB"]);
    assert!(codes_in("abcd-1234-wxyz").is_empty());
    assert!(codes_in("ABCD-1234-WXY").is_empty());
}

#[test]
fn mistype_changes_exactly_one_symbol() {
    assert_eq!(mistype("0000-0000-000Z", 11), "0000-0000-0000");
    assert_eq!(mistype("0000-0000-0000", 4), "0000-1000-0000");
}

/// Issue 12, finding 7: a code verified as valid before its notice date.
#[test]
fn a_code_is_not_valid_before_its_notice_date() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let code = batch.code_for(RECEIPT);
    let out = verify(&wd, RECEIPT, &code, "2026-11-24");
    out.expect_code(EXIT_NOT_VALID);
    assert!(
        out.stdout.starts_with(&format!(
            "{RECEIPT}: not valid yet: this code is not valid before {BATCH_DATE}"
        )),
        "{out:?}"
    );
    assert_no_code_in(
        std::slice::from_ref(&code),
        out.all().as_bytes(),
        &format!("the output of verify:{out:?}"),
    );
    verify(&wd, RECEIPT, &code, BATCH_DATE).expect_code(EXIT_OK);
}
