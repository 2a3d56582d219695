//! Codes live only inside letters. After a night's run, a reissue, reprints,
//! verifications and status checks (quiet and verbose), no code appears in
//! any other file the program wrote or in anything it printed, in any form a
//! person or a grep might find it.
//!
//! The night's run makes print files, as the nightly script's does. Each
//! search for a code is shown to find one where one is (positive controls),
//! so an empty result means the code is absent, not that the search is
//! blind.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use crate::support::*;

const RECEIPT: &str = "IOE0912345602";

#[test]
fn no_code_leaves_its_letter() {
    let wd = Workdir::new();
    let input = fixtures_csv();
    let input = input.to_str().unwrap();

    // The night's run, quiet then verbose (the second finds it complete).
    let run = ["run", "--input", input, "--batch-date", BATCH_DATE];
    wd.cmd(run).expect_code(EXIT_REJECTS);
    let verbose_run = ["-vv", "run", "--input", input, "--batch-date", BATCH_DATE];
    wd.cmd(verbose_run).expect_code(EXIT_REJECTS);
    let nightly = Batch::new(wd.batch_dirs()[0].clone());
    let old_code = nightly.code_for(RECEIPT);

    // A reissue, verbose (two days on: the policy counts real time).
    age_ledger(&wd.ledger(), 48);
    wd.cmd(["-v", "reissue", RECEIPT, "--reason", "lost"])
        .expect_code(EXIT_OK);
    let reissue = Batch::new(wd.out().join(format!("{}-reissue-{RECEIPT}-02", today())));
    let new_code = reissue.code_for(RECEIPT);

    // Reprints, verifications of every kind, status.
    wd.cmd(["reprint", RECEIPT]).expect_code(EXIT_OK);
    wd.cmd(["-v", "reprint", RECEIPT, "--issue", "1"])
        .expect_code(EXIT_OK);
    let now = today().to_string();
    let date = ["--date", now.as_str()];
    for (verbosity, code, want) in [
        ("-v", new_code.clone(), EXIT_OK),
        ("-vv", new_code.to_lowercase(), EXIT_OK),
        ("-v", old_code.clone(), EXIT_NOT_VALID),
        ("-vv", mistype(&new_code, 3), EXIT_NOT_VALID),
        ("-v", nightly.code_for("IOE0912345603"), EXIT_NOT_VALID),
    ] {
        let mut args = vec![verbosity, "verify", RECEIPT, &code];
        args.extend(date);
        wd.cmd(args).expect_code(want);
    }
    for receipt in ["IOE0912345603", "MSC2190000104"] {
        let code = nightly.code_for(receipt);
        let mut args = vec!["verify", receipt, &code];
        args.extend(["--date", "2026-12-01"]);
        wd.cmd(args).expect_code(EXIT_OK);
    }
    wd.cmd(["status", RECEIPT]).expect_code(EXIT_OK);
    wd.cmd(["-vv", "status", RECEIPT]).expect_code(EXIT_OK);

    // Every code printed on every letter anywhere under output/: the
    // night's print files, the reissue's letter, the two reprints.
    assert_eq!(
        nightly.mode(),
        "print",
        "the night runs in the default mode"
    );
    let letters: Vec<PathBuf> = walk(&wd.out())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    let reprints: Vec<&PathBuf> = letters
        .iter()
        .filter(|p| p.starts_with(wd.out().join("reprints")))
        .collect();
    assert_eq!(reprints.len(), 2, "two reprints: {letters:?}");
    assert_eq!(nightly.manifest().len() as u64, FIXTURE_VALID);
    assert_eq!(reissue.manifest().len(), 1);
    let mut on_paper = Vec::new();
    for p in &letters {
        on_paper.extend(codes_in(&pdf_text(&fs::read(p).unwrap())));
    }
    for p in reprints {
        letter_code(&fs::read(p).unwrap()); // one code each
    }
    let codes: BTreeSet<String> = on_paper.iter().cloned().collect();
    assert_eq!(
        codes.len() as u64,
        FIXTURE_VALID + 1,
        "46 letters and a reissue; reprints repeat two codes"
    );
    assert!(codes.contains(&old_code) && codes.contains(&new_code));
    let by_manifest: BTreeSet<String> = nightly
        .codes()
        .into_iter()
        .chain(reissue.codes())
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        by_manifest, codes,
        "every code on paper is a listed letter's"
    );

    // Every file that is not a letter: CSVs, batch.json, the ledger and its
    // write-ahead log, the lock file.
    let others: Vec<PathBuf> = walk(&wd.out())
        .into_iter()
        .filter(|p| p.is_file() && !letters.contains(p))
        .collect();
    let names: BTreeSet<String> = others
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for must in ["manifest.csv", "rejects.csv", "batch.json", "ledger.sqlite"] {
        assert!(names.contains(must), "{must} not checked: {names:?}");
    }
    let mut files: Vec<(String, Vec<u8>)> = others
        .iter()
        .map(|p| (p.display().to_string(), fs::read(p).unwrap()))
        .collect();
    for output in wd.transcript() {
        files.push((
            format!("output of {}", output.args),
            output.all().into_bytes(),
        ));
    }
    assert!(files.len() > 20);

    // Positive controls: the scan reads what these files really hold, and
    // finds a code where one is: in a letter's text, and in a file like
    // those scanned with a code written into it, in every form it looks for.
    let ledger = fs::read(wd.ledger()).unwrap();
    assert!(contains_bytes(&ledger, RECEIPT.as_bytes()));
    assert!(contains_bytes(&ledger, "NGUYỄN".as_bytes()));
    assert!(contains_bytes(
        &nightly.read("manifest.csv"),
        RECEIPT.as_bytes()
    ));
    let secret = test_key_secret();
    let letter = (
        "the letter's text".to_string(),
        nightly.letter_text_for(RECEIPT).into_bytes(),
    );
    assert_eq!(
        leaks(&[letter], &codes, &secret),
        vec![format!(
            "code {old_code} as {old_code:?} in the letter's text"
        )],
        "the scan finds the code printed on the letter"
    );
    for form in code_forms(&old_code).into_iter().chain([secret.clone()]) {
        let mut planted = nightly.read("manifest.csv");
        planted.extend(format!("\n{form}\n").as_bytes());
        let found = leaks(&[("a planted manifest".into(), planted)], &codes, &secret);
        assert_eq!(found.len(), 1, "{form:?} planted, found {found:?}");
    }

    let found = leaks(&files, &codes, &secret);
    assert!(
        found.is_empty(),
        "secrets outside letters:\n{}",
        found.join("\n")
    );
}

/// Every code (in any of its forms) and the key secret found in `files`,
/// as sentences; empty when none is there.
fn leaks(files: &[(String, Vec<u8>)], codes: &BTreeSet<String>, secret: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (what, bytes) in files {
        for code in codes {
            if let Some(form) = code_forms(code)
                .into_iter()
                .find(|f| contains_bytes(bytes, f.as_bytes()))
            {
                found.push(format!("code {code} as {form:?} in {what}"));
            }
        }
        if contains_bytes(bytes, secret.as_bytes()) {
            found.push(format!("the key secret in {what}"));
        }
    }
    found
}

fn test_key_secret() -> String {
    let text = fs::read_to_string(test_key()).unwrap();
    let secret = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret"))
        .map(|rest| {
            rest.trim_start_matches([' ', '='])
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .expect("a secret line in the test key");
    assert_eq!(secret.len(), 64);
    secret.to_lowercase()
}
