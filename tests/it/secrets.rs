//! Codes live only inside letters. After a night's run, a reissue, reprints,
//! verifications and status checks (quiet and verbose), no code appears in
//! any other file the program wrote or in anything it printed, in any form a
//! person or a grep might find it.

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

    // Every code printed on every letter anywhere under output/.
    let letters: Vec<PathBuf> = walk(&wd.out())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    assert_eq!(
        letters.len() as u64,
        FIXTURE_VALID + 1 + 2,
        "46 + reissue + 2 reprints"
    );
    let codes: BTreeSet<String> = letters
        .iter()
        .map(|p| letter_code(&fs::read(p).unwrap()))
        .collect();
    assert_eq!(
        codes.len() as u64,
        FIXTURE_VALID + 1,
        "reprints repeat two codes"
    );
    assert!(codes.contains(&old_code) && codes.contains(&new_code));

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

    // A positive control: the scan reads what these files really hold.
    let ledger = fs::read(wd.ledger()).unwrap();
    assert!(contains_bytes(&ledger, RECEIPT.as_bytes()));
    assert!(contains_bytes(&ledger, "NGUYỄN".as_bytes()));
    assert!(contains_bytes(
        &nightly.read("manifest.csv"),
        RECEIPT.as_bytes()
    ));

    let secret = test_key_secret();
    for (what, bytes) in &files {
        for code in &codes {
            for form in code_forms(code) {
                assert!(
                    !contains_bytes(bytes, form.as_bytes()),
                    "code {code} appears as {form:?} in {what}"
                );
            }
        }
        assert!(
            !contains_bytes(bytes, secret.as_bytes()),
            "the key secret in {what}"
        );
    }
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
