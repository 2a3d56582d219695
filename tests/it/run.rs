//! `access-letters run`: the nightly batch, end to end on the fixtures. A
//! run that names no mode makes print files, as the nightly script does;
//! the tests named `..._in_pieces_mode` are about one PDF per letter.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use crate::support::*;

#[test]
fn fixtures_run_finishes_with_rejects_and_counts_add_up() {
    let wd = Workdir::new();
    let (out, batch) = wd.run_fixtures();

    let printed = out.counts();
    printed.assert_add_up();
    assert_eq!(
        printed,
        Counts {
            read: FIXTURE_ROWS,
            issued: FIXTURE_VALID,
            already_issued: 0,
            rejected: FIXTURE_REJECTED,
        }
    );
    assert_eq!(batch.counts(), printed, "batch.json and stdout disagree");
    assert!(out.stdout.contains("TEST"), "{out:?}");
    assert!(out.stdout.contains("rejects.csv"), "{out:?}");

    assert_eq!(
        batch.id(),
        expected_batch_id(&fixtures_csv(), BATCH_DATE),
        "batch id is the date and the input's hash"
    );
    assert_eq!(batch.dir, wd.out().join(batch.id()));
    assert_eq!(wd.batch_dirs(), vec![batch.dir.clone()]);
    assert!(
        wd.ledger().is_file(),
        "ledger defaults to OUT/ledger.sqlite"
    );
}

#[test]
fn every_manifest_row_has_its_letter_in_a_print_file() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let manifest = batch.manifest();
    assert_eq!(manifest.len() as u64, FIXTURE_VALID);
    let mut piece_ids = BTreeSet::new();
    for row in &manifest {
        assert!(piece_ids.insert(row["piece_id"].clone()), "duplicate piece");
        assert_eq!(
            (row["file"].as_str(), row["sha256"].as_str()),
            ("", ""),
            "no letter file"
        );
        assert_eq!(
            row["pages"].parse::<u64>().unwrap(),
            1,
            "fixture letters fit one sheet"
        );
        assert_eq!(row["sheets"], row["pages"]);
    }
    // Each row a page range of a listed print file holding that letter, and
    // no page without a row (`check_print_files`).
    let printed: BTreeSet<String> = check_print_files(&batch).into_iter().collect();
    let listed: BTreeSet<String> = piece_ids.iter().map(|p| p[..13].to_string()).collect();
    assert_eq!(printed, listed);
}

#[test]
fn every_manifest_row_has_its_letter_with_matching_sha256_in_pieces_mode() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures_as_pieces();
    let manifest = batch.manifest();
    assert_eq!(manifest.len() as u64, FIXTURE_VALID);

    let mut piece_ids = BTreeSet::new();
    for row in &manifest {
        let bytes = batch.read(&row["file"]);
        assert_eq!(sha256_hex(&bytes), row["sha256"], "{}", row["file"]);
        assert_eq!(row["file"], format!("letters/{}.pdf", row["piece_id"]));
        assert!(piece_ids.insert(row["piece_id"].clone()), "duplicate piece");
        assert_eq!(
            row["pages"].parse::<u64>().unwrap(),
            1,
            "fixture letters fit one sheet"
        );
        assert_eq!(row["sheets"], row["pages"]);
        assert!(bytes.starts_with(b"%PDF-"), "{} is not a PDF", row["file"]);
    }
    // No letter without a manifest row.
    let files: BTreeSet<String> = batch.letter_files().into_iter().collect();
    let listed: BTreeSet<String> = manifest.iter().map(|r| r["file"].clone()).collect();
    assert_eq!(files, listed);
}

#[test]
fn batch_json_totals_match_the_files() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    batch_json_totals_match(&batch);
}

#[test]
fn batch_json_totals_match_the_files_in_pieces_mode() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures_as_pieces();
    batch_json_totals_match(&batch);
}

#[track_caller]
fn batch_json_totals_match(batch: &Batch) {
    let s = batch.summary();
    let manifest = batch.manifest();

    assert_eq!(s["batch_id"], batch.id());
    assert_eq!(s["batch_date"], BATCH_DATE);
    assert_eq!(s["kind"], "nightly");
    assert_eq!(s["mode"], "test", "the fixture key makes a test batch");
    assert!(s["key_id"].as_str().unwrap().starts_with("test-"));
    assert_eq!(s["input_file"], "filings.csv");
    assert_eq!(s["input_sha256"], file_sha256(&fixtures_csv()));

    let pages: u64 = manifest
        .iter()
        .map(|r| r["pages"].parse::<u64>().unwrap())
        .sum();
    let sheets: u64 = manifest
        .iter()
        .map(|r| r["sheets"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(s["letters"].as_u64(), Some(manifest.len() as u64));
    assert_eq!(s["pages"].as_u64(), Some(pages));
    assert_eq!(s["sheets"].as_u64(), Some(sheets));

    // Presort counts from the manifest's ZIPs.
    let mut zip3 = std::collections::BTreeMap::<String, u64>::new();
    let mut zip5 = std::collections::BTreeMap::<String, u64>::new();
    for r in &manifest {
        *zip5.entry(r["zip5"].clone()).or_default() += 1;
        *zip3.entry(r["zip5"][..3].to_string()).or_default() += 1;
    }
    let as_map = |v: &serde_json::Value| -> std::collections::BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    };
    assert_eq!(as_map(&s["presort"]["zip5"]), zip5);
    assert_eq!(as_map(&s["presort"]["zip3"]), zip3);

    // The files list: manifest.csv, rejects.csv, then every letter file or
    // print file in manifest order, each with the SHA-256 of the file on
    // disk.
    let files: Vec<(String, String)> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = vec!["manifest.csv".to_string(), "rejects.csv".to_string()];
    if batch.mode() == "print" {
        let mut print_files: Vec<String> =
            manifest.iter().map(|r| r["print_file"].clone()).collect();
        print_files.dedup();
        assert!(!print_files.is_empty() && print_files.iter().all(|f| !f.is_empty()));
        expected.extend(print_files);
    } else {
        expected.extend(manifest.iter().map(|r| r["file"].clone()));
    }
    assert_eq!(
        files.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
        expected
    );
    for (path, sha) in &files {
        assert_eq!(&file_sha256(&batch.path(path)), sha, "{path}");
    }
}

#[test]
fn rejects_csv_has_one_row_per_bad_line() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let rejects = batch.rejects();
    let lines: Vec<u64> = rejects.iter().map(|r| r["line"].parse().unwrap()).collect();
    assert_eq!(
        lines,
        (48..=61).collect::<Vec<u64>>(),
        "fixtures README: lines 48-61"
    );

    let fields: Vec<&str> = rejects.iter().map(|r| r["field"].as_str()).collect();
    assert_eq!(
        fields,
        [
            "receipt_number",
            "form_type",
            "received_date",
            "family_name",
            "state",
            "zip",
            "state",
            "address_line1",
            "receipt_number",
            "language",
            "family_name",
            "given_name",
            "a_number",
            "zip",
        ]
    );
    for r in &rejects {
        assert!(!r["reason"].trim().is_empty(), "{r:?}");
    }
    let by_line = |n: &str| rejects.iter().find(|r| r["line"] == n).unwrap().clone();
    assert!(by_line("49")["reason"].contains("I-130"));
    assert!(by_line("52")["reason"].contains("'XX'"));
    assert!(
        by_line("56")["reason"].contains("line 2"),
        "the duplicate names the first line"
    );
    assert_eq!(
        by_line("56")["receipt_number"],
        "IOE-0912345601",
        "receipt as typed"
    );
}

#[test]
fn manifest_is_in_presort_order_with_sequence_from_one() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let manifest = batch.manifest();
    let seq: Vec<u64> = manifest
        .iter()
        .map(|r| r["sequence"].parse().unwrap())
        .collect();
    assert_eq!(seq, (1..=manifest.len() as u64).collect::<Vec<_>>());

    let key = |r: &Row| (r["zip5"].clone(), r["zip4"].clone(), r["piece_id"].clone());
    let keys: Vec<_> = manifest.iter().map(key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "manifest is sorted by zip5, zip4, receipt");
    // Really spread out: territories first, military and the west later.
    assert!(keys.first().unwrap().0 < keys.last().unwrap().0);
}

#[test]
fn running_the_same_batch_again_changes_nothing() {
    let wd = Workdir::new();
    let (first, batch) = wd.run_fixtures();
    let before = snapshot(&wd.out());
    assert!(before.contains_key("ledger.sqlite"));

    let again = wd.run(&fixtures_csv());
    again.expect_code(first.code);
    assert!(again.stdout.contains("already complete"), "{again:?}");
    assert_eq!(again.counts(), first.counts());
    assert_eq!(again.batch_dir(), first.batch_dir());
    assert_eq!(
        snapshot(&wd.out()),
        before,
        "a complete batch is left as it is"
    );
    assert_eq!(wd.batch_dirs(), vec![batch.dir]);
}

#[test]
fn a_second_file_the_same_night_is_its_own_batch_and_skips_issued_receipts() {
    let wd = Workdir::new();
    let (_, first) = wd.run_fixtures();

    // Lines 2-11 of the fixtures again, and one new filing: a copy of
    // line 12 under a receipt number the ledger has not seen.
    let text = fs::read_to_string(fixtures_csv()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line12 = lines[11];
    let (receipt12, rest) = line12.split_once(',').unwrap();
    assert_eq!(receipt12, "LIN2190000111");
    let mut second = lines[..11].join("\n");
    second.push_str(&format!("\nLIN2190099999,{rest}\n"));
    let input = wd.write("second.csv", second);

    let out = wd.run(&input);
    out.expect_code(EXIT_OK);
    let expected = Counts {
        read: 11,
        issued: 1,
        already_issued: 10,
        rejected: 0,
    };
    assert_eq!(out.counts(), expected);
    let batch = Batch::new(wd.path(out.batch_dir()));
    assert_ne!(batch.dir, first.dir);
    assert_eq!(batch.id(), expected_batch_id(&input, BATCH_DATE));
    assert_eq!(batch.counts(), expected);
    let manifest = batch.manifest();
    assert_eq!(manifest.len(), 1);
    assert_eq!(manifest[0]["piece_id"], "LIN2190099999-01");
    assert_eq!(check_print_files(&batch), vec!["LIN2190099999"]);
    assert!(batch.rejects().is_empty());
    // The first batch is untouched and still has its 46 letters.
    assert_eq!(first.manifest().len() as u64, FIXTURE_VALID);
    // The ledger: each receipt issued once, the new one in the new batch.
    let rows = wd_ledger_rows(&wd);
    assert_eq!(rows.len() as u64, FIXTURE_VALID + 1);
    assert!(rows.iter().all(|r| r.issue_no == 1 && r.status == "active"));
    let new = rows.iter().find(|r| r.receipt == "LIN2190099999").unwrap();
    assert_eq!(new.batch_id, batch.id());
}

fn wd_ledger_rows(wd: &Workdir) -> Vec<LedgerRow> {
    ledger_rows(&wd.ledger())
}

/// Asserts a failed run: exit 1, the file named, no batch marked complete
/// and no letter written.
#[track_caller]
fn assert_fails_cleanly(wd: &Workdir, out: &Output, file_name: &str, message: &str) {
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr.contains(file_name),
        "the message names the file:{out:?}"
    );
    assert!(out.stderr.contains(message), "expected '{message}':{out:?}");
    for dir in wd.batch_dirs() {
        assert!(
            !dir.join("batch.json").exists(),
            "{} marked complete",
            dir.display()
        );
        let letters: Vec<PathBuf> = walk(&dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        assert!(
            letters.is_empty(),
            "letters or print files written: {letters:?}"
        );
    }
}

fn fixture_bytes() -> Vec<u8> {
    fs::read(fixtures_csv()).unwrap()
}

#[test]
fn a_file_that_is_not_utf8_early_on_fails_before_anything_is_written() {
    let wd = Workdir::new();
    let text = fixture_bytes();
    // "José" on line 2 in Latin-1.
    let pos = text
        .windows(5)
        .position(|w| w == "José".as_bytes())
        .unwrap();
    let mut bad = text[..pos].to_vec();
    bad.extend_from_slice(b"Jos\xe9");
    bad.extend_from_slice(&text[pos + 5..]);
    let input = wd.write("latin1.csv", bad);
    let out = wd.run(&input);
    assert_fails_cleanly(&wd, &out, "latin1.csv", "UTF-8");
    assert!(out.stderr.contains("line 2"), "{out:?}");
}

#[test]
fn a_file_that_is_not_utf8_on_its_last_row_fails_before_any_letter() {
    let wd = Workdir::new();
    let mut bad = fixture_bytes();
    while bad.last() == Some(&b'\n') || bad.last() == Some(&b'\r') {
        bad.pop();
    }
    bad.extend_from_slice(b"\xff\n");
    let input = wd.write("late.csv", bad);
    let out = wd.run(&input);
    assert_fails_cleanly(&wd, &out, "late.csv", "UTF-8");
    assert!(out.stderr.contains("line 61"), "{out:?}");
    // Not even the letters folder has anything in it.
    if let Ok(entries) = fs::read_dir(wd.out()) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                assert!(
                    walk(&p).iter().all(|f| f.is_dir()),
                    "files in {}",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn a_file_missing_a_required_column_fails() {
    let wd = Workdir::new();
    let text = String::from_utf8(fixture_bytes()).unwrap();
    // Drop the `zip` column (the 13th of 14) from every line.
    let cut: Vec<String> = text
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            if cells.len() == 14 {
                cells.remove(12);
            }
            cells.join(",")
        })
        .collect();
    assert!(cut[0].ends_with("state,language"));
    let input = wd.write("nozip.csv", cut.join("\n"));
    let out = wd.run(&input);
    assert_fails_cleanly(&wd, &out, "nozip.csv", "zip");
}

#[test]
fn binary_garbage_fails() {
    let wd = Workdir::new();
    // A deterministic scramble of bytes, with NULs and high bytes.
    let garbage: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let input = wd.write("garbage.bin", garbage);
    let out = wd.run(&input);
    assert_fails_cleanly(&wd, &out, "garbage.bin", "line 1");
}

#[test]
fn a_missing_input_file_fails_with_its_name() {
    let wd = Workdir::new();
    let out = wd.run(&wd.path("nowhere.csv"));
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("nowhere.csv"), "{out:?}");
}

#[test]
fn a_mistyped_flag_is_a_failure_not_a_batch_with_rejects() {
    let wd = Workdir::new();
    let out = wd.cmd(["run", "--imput", "x.csv"]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("--imput"), "{out:?}");
    let help = wd.cmd(["run", "--help"]);
    help.expect_code(EXIT_OK);
    assert!(help.stdout.contains("--input"));
}

#[test]
fn same_input_and_date_give_identical_letters_whatever_the_ledger_or_threads() {
    identical_whatever_the_ledger_or_threads(&[]);
}

#[test]
fn same_input_and_date_give_identical_letters_whatever_the_ledger_or_threads_in_pieces_mode() {
    identical_whatever_the_ledger_or_threads(&["--letters", "pieces"]);
}

fn identical_whatever_the_ledger_or_threads(mode: &[&str]) {
    let wd = Workdir::new();
    let input = fixtures_csv();
    let date_args = |out: &str, jobs: &str| {
        let mut args = vec![
            "run",
            "--input",
            input.to_str().unwrap(),
            "--batch-date",
            BATCH_DATE,
            "--jobs",
            jobs,
        ];
        args.extend(mode);
        let mut cmd = wd.command_with(wd.path(out), args);
        let o = wd.output(&mut cmd);
        o.expect_code(EXIT_REJECTS);
        Batch::new(wd.path(o.batch_dir()))
    };
    let a = date_args("out-a", "2");
    let b = date_args("out-b", "2");
    let c = date_args("out-c", "1");
    let sa = snapshot(&a.dir);
    if a.mode() == "print" {
        let listed = a.summary()["print_files"].as_array().unwrap().len();
        assert!(listed >= 1);
        assert_eq!(
            sa.keys().filter(|k| k.starts_with("print/")).count(),
            listed
        );
        assert_eq!(check_print_files(&a).len() as u64, FIXTURE_VALID);
    } else {
        assert_eq!(
            sa.keys().filter(|k| k.starts_with("letters/")).count() as u64,
            FIXTURE_VALID
        );
    }
    assert!(sa.contains_key("manifest.csv") && sa.contains_key("batch.json"));
    assert_eq!(snapshot(&b.dir), sa, "fresh ledger, same bytes");
    assert_eq!(snapshot(&c.dir), sa, "--jobs 1, same bytes");
    // The ledgers really were separate.
    assert!(wd.path("out-a/ledger.sqlite").exists() && wd.path("out-b/ledger.sqlite").exists());
}

#[test]
fn outputs_are_private_to_their_owner() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    outputs_private(&wd, &batch, "print", 8);
}

#[test]
fn outputs_are_private_to_their_owner_in_pieces_mode() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures_as_pieces();
    outputs_private(&wd, &batch, "letters", 50);
}

/// Every path under `--out` is its owner's only, `letters_in` included;
/// more than `at_least` paths are looked at.
#[track_caller]
fn outputs_private(wd: &Workdir, batch: &Batch, letters_in: &str, at_least: usize) {
    assert_eq!(mode(&wd.out()), 0o700, "the output folder the run created");
    let all = walk(&wd.out());
    assert!(all.len() > at_least, "{} paths", all.len());
    assert!(all
        .iter()
        .any(|p| p.starts_with(batch.path(letters_in)) && p.is_file()));
    for p in all {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&p), want, "{}", p.display());
    }
    assert_eq!(mode(&batch.path(letters_in)), 0o700);
}

#[test]
fn a_production_key_makes_letters_without_specimen() {
    let wd = Workdir::new();
    let key = wd.production_key("prod.key");
    let out = wd.run_fixtures_with_key(&key);
    out.expect_code(EXIT_REJECTS);
    assert!(!out.stdout.contains("TEST"), "{out:?}");
    let prod = Batch::new(wd.path(out.batch_dir()));
    let s = prod.summary();
    assert_eq!(s["mode"], "production");
    assert!(s["key_id"].as_str().unwrap().starts_with("prod-"));

    let test_wd = Workdir::new();
    let (_, test) = test_wd.run_fixtures();
    let receipt = "IOE0912345602";
    let prod_text = prod.letter_text_for(receipt);
    let test_text = test.letter_text_for(receipt);
    assert!(!prod_text.contains("SPECIMEN"), "{prod_text}");
    assert!(test_text.contains("SPECIMEN"), "{test_text}");
    // Both are real letters for the same applicant, with different codes.
    assert!(prod_text.contains(receipt) && test_text.contains(receipt));
    assert_ne!(prod.code_for(receipt), test.code_for(receipt));
}

#[test]
fn letters_carry_the_filing_and_the_code() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let row = batch.row_for("IOE0912345602");
    let text = batch.letter_text_for("IOE0912345602");
    for want in [
        "IOE0912345602",
        "KHAI THỊ MINH NGUYỄN",
        "8912 BOLSA AVE",
        "WESTMINSTER CA 92683",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(text.contains(&row["piece_id"]), "footer piece id");
    // Every letter has exactly one code, and no two letters share one.
    let mut codes = BTreeSet::new();
    for (piece_id, code) in batch.codes() {
        assert!(codes.insert(code), "code reused in {piece_id}");
    }
    assert_eq!(codes.len() as u64, FIXTURE_VALID);
}

// --- Issue 12, finding 2: resume trusts the ledger without checking the letters.

/// `run` over the fixtures with `--out out` and `--ledger ledger`.
fn run_fixtures_into(wd: &Workdir, out: &str, ledger: &std::path::Path, extra: &[&str]) -> Output {
    let input = fixtures_csv();
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
        "--ledger",
        ledger.to_str().unwrap(),
    ];
    args.extend(extra);
    let mut cmd = wd.command_with(wd.path(out), args);
    wd.output(&mut cmd)
}

/// Every file batch.json lists is on disk with the SHA-256 it gives.
#[track_caller]
fn assert_batch_json_files_exist(batch: &Batch) {
    let s = batch.summary();
    let files = s["files"].as_array().unwrap();
    let letter_files = if batch.mode() == "print" {
        s["print_files"].as_array().unwrap().len() as u64
    } else {
        FIXTURE_VALID
    };
    assert!(letter_files >= 1);
    assert_eq!(
        files.len() as u64,
        2 + letter_files,
        "manifest, rejects, letters"
    );
    for f in files {
        let path = f["path"].as_str().unwrap();
        assert!(
            batch.path(path).is_file(),
            "batch.json lists missing {path}"
        );
        assert_eq!(file_sha256(&batch.path(path)), f["sha256"], "{path}");
    }
}

#[test]
fn resume_with_another_out_prints_every_letter_again() {
    let wd = Workdir::new();
    let ledger = wd.path("ledger/ledger.sqlite");
    fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    let first = run_fixtures_into(&wd, "out-a", &ledger, &[]);
    first.expect_code(EXIT_REJECTS);
    let a = Batch::new(wd.path(first.batch_dir()));

    // Same input, same ledger, another output folder: the ledger says the
    // batch is issued, but none of its print files are under out-b.
    let second = run_fixtures_into(&wd, "out-b", &ledger, &[]);
    second.expect_code(EXIT_REJECTS);
    let b = Batch::new(wd.path(second.batch_dir()));
    assert_ne!(a.dir, b.dir);
    assert_eq!(second.counts(), first.counts());
    // The same print files, byte for byte, and the same batch.
    assert_eq!(snapshot(&b.dir), snapshot(&a.dir));
    assert_eq!(check_print_files(&b).len() as u64, FIXTURE_VALID);
    assert_batch_json_files_exist(&b);
    // Nothing was issued twice.
    assert_eq!(ledger_rows(&ledger).len() as u64, FIXTURE_VALID);
}

#[test]
fn resume_with_another_out_makes_every_letter_again_in_pieces_mode() {
    let wd = Workdir::new();
    let ledger = wd.path("ledger/ledger.sqlite");
    fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    let first = run_fixtures_into(&wd, "out-a", &ledger, &["--letters", "pieces"]);
    first.expect_code(EXIT_REJECTS);
    let a = Batch::new(wd.path(first.batch_dir()));

    // Same input, same ledger, another output folder: the ledger says the
    // batch is issued, but none of its letters are under out-b.
    let second = run_fixtures_into(&wd, "out-b", &ledger, &["--letters", "pieces"]);
    second.expect_code(EXIT_REJECTS);
    let b = Batch::new(wd.path(second.batch_dir()));
    assert_ne!(a.dir, b.dir);
    let said = format!("made again: {FIXTURE_VALID}");
    assert!(
        second.stdout.contains(&said),
        "expected '{said}':{second:?}"
    );
    assert_eq!(second.counts(), first.counts());
    // The same letters, byte for byte, and the same batch.
    assert_eq!(snapshot(&b.dir), snapshot(&a.dir));
    assert_batch_json_files_exist(&b);
    // Nothing was issued twice.
    assert_eq!(ledger_rows(&ledger).len() as u64, FIXTURE_VALID);
}

#[test]
fn resume_after_deleting_batch_json_and_3_letters_brings_them_back_in_pieces_mode() {
    let wd = Workdir::new();
    let (first, batch) = wd.run_fixtures_as_pieces();
    let before = snapshot(&batch.dir);
    let gone: Vec<String> = batch.letter_files().into_iter().take(3).collect();
    assert_eq!(gone.len(), 3);
    fs::remove_file(batch.path("batch.json")).unwrap();
    for f in &gone {
        fs::remove_file(batch.path(f)).unwrap();
    }

    let (again, _) = wd.run_fixtures_as_pieces();
    assert!(again.stdout.contains("made again: 3"), "{again:?}");
    assert_eq!(again.counts(), first.counts());
    assert_eq!(
        snapshot(&batch.dir),
        before,
        "the same files, byte for byte"
    );
    assert_batch_json_files_exist(&batch);
    assert_eq!(wd_ledger_rows(&wd).len() as u64, FIXTURE_VALID);
}

#[test]
fn a_complete_batch_with_letters_deleted_gets_them_back_on_rerun_in_pieces_mode() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures_as_pieces();
    let before = snapshot(&batch.dir);
    let damaged = batch.letter_files()[5].clone();
    let deleted = batch.letter_files()[9].clone();
    fs::write(batch.path(&damaged), b"%PDF-1.7 not the letter").unwrap();
    fs::remove_file(batch.path(&deleted)).unwrap();

    let (again, _) = wd.run_fixtures_as_pieces();
    assert!(again.stdout.contains("already complete"), "{again:?}");
    assert!(again.stdout.contains("made again: 2"), "{again:?}");
    assert_eq!(snapshot(&batch.dir), before);
}

#[test]
fn a_letter_that_cannot_be_made_again_is_named_and_the_batch_is_not_complete_in_pieces_mode() {
    let wd = Workdir::new();
    // The batch is made with edited templates ...
    let templates = wd.path("templates");
    fs::create_dir_all(&templates).unwrap();
    for name in ["letter.en.tera", "letter.es.tera"] {
        let text = fs::read_to_string(repo_file(&format!("templates/{name}"))).unwrap();
        fs::write(templates.join(name), format!("{text}\nEdited.\n")).unwrap();
    }
    let args = |with_templates: bool| {
        let mut a = vec![
            "run".to_string(),
            "--input".into(),
            fixtures_csv().to_str().unwrap().into(),
            "--batch-date".into(),
            BATCH_DATE.into(),
            "--letters".into(),
            "pieces".into(),
        ];
        if with_templates {
            a.extend(["--templates".into(), templates.to_str().unwrap().into()]);
        }
        a
    };
    let first = wd.cmd(args(true));
    first.expect_code(EXIT_REJECTS);
    let batch = Batch::new(wd.path(first.batch_dir()));
    let lost = batch.letter_files()[0].clone();
    fs::remove_file(batch.path(&lost)).unwrap();

    // ... and resumed with the built-in ones: the lost letter cannot be
    // made with the bytes the ledger recorded.
    let again = wd.cmd(args(false));
    again.expect_code(EXIT_FAILED);
    assert!(again.stderr.contains(&lost), "names the file:{again:?}");
    assert!(again.stderr.contains("not marked complete"), "{again:?}");
    // batch.json listed the lost letter: it no longer says "complete".
    assert!(!batch.is_complete(), "batch.json kept for a missing letter");
    assert!(
        !batch.path(&lost).exists(),
        "a letter with other bytes was written"
    );

    // Again, now without batch.json: still refused, still not complete.
    let third = wd.cmd(args(false));
    third.expect_code(EXIT_FAILED);
    assert!(third.stderr.contains(&lost), "names the file:{third:?}");
    assert!(!batch.is_complete());
}

// --- Issue 12, finding 8: an empty night looks like a good night.

#[test]
fn an_input_with_a_header_and_no_rows_is_no_filings_with_exit_4() {
    let wd = Workdir::new();
    let header = String::from_utf8(fixture_bytes())
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    for (name, text) in [
        ("empty-night.csv", format!("{header}\n")),
        ("blank-lines.csv", format!("{header}\n\n\n")),
    ] {
        let input = wd.write(name, text);
        let out = wd.run(&input);
        out.expect_code(4);
        let said = format!("no filings in {}", input.display());
        assert!(out.stderr.contains(&said), "expected '{said}':{out:?}");
        assert!(!wd.out().exists(), "something was written for {name}");
    }
}

// --- Issue 12, finding 9: loose ends.

#[test]
fn an_input_that_fails_as_a_whole_writes_no_folder_ledger_or_lock() {
    let wd = Workdir::new();
    let text = String::from_utf8(fixture_bytes()).unwrap();
    let wrong_header = text.replacen("receipt_number", "receipt", 1);
    let fixture = fixture_bytes();
    let jose = fixture
        .windows(5)
        .position(|w| w == "José".as_bytes())
        .unwrap();
    let mut latin1 = fixture[..jose].to_vec();
    latin1.extend_from_slice(b"Jos\xe9");
    latin1.extend_from_slice(&fixture[jose + 5..]);
    let garbage: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let ledger_dir = wd.path("ledgers");
    for (name, bytes) in [
        ("wrong-header.csv", wrong_header.into_bytes()),
        ("latin1.csv", latin1),
        ("garbage.bin", garbage),
        ("empty.csv", Vec::new()),
    ] {
        let input = wd.write(name, bytes);
        let out = wd.run(&input);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains(name), "names the file:{out:?}");
        assert!(!wd.out().exists(), "{name}: the output folder was made");
        // With the ledger named elsewhere: no ledger, no lock either.
        let ledger = ledger_dir.join("ledger.sqlite");
        let mut cmd = wd.command([
            "run",
            "--input",
            input.to_str().unwrap(),
            "--batch-date",
            BATCH_DATE,
            "--ledger",
            ledger.to_str().unwrap(),
        ]);
        wd.output(&mut cmd).expect_code(EXIT_FAILED);
        assert!(!ledger_dir.exists(), "{name}: the ledger folder was made");
        assert!(!wd.out().exists(), "{name}: the output folder was made");
    }
}

#[test]
fn temporary_files_are_removed_when_a_run_fails() {
    let id = expected_batch_id(&fixtures_csv(), BATCH_DATE);
    temporary_files_removed_on_failure(&format!("print/{id}-001.pdf"), &[]);
}

#[test]
fn temporary_files_are_removed_when_a_run_fails_in_pieces_mode() {
    temporary_files_removed_on_failure("letters/IOE0912345602-01.pdf", &["--letters", "pieces"]);
}

fn temporary_files_removed_on_failure(in_the_way: &str, mode: &[&str]) {
    let wd = Workdir::new();
    let run = || {
        let input = fixtures_csv();
        let mut args = vec![
            "run",
            "--input",
            input.to_str().unwrap(),
            "--batch-date",
            BATCH_DATE,
        ];
        args.extend(mode);
        wd.cmd(args)
    };
    // A folder where a letter or print file must go: its temporary file is
    // written, then cannot be renamed into place, and the run fails.
    let batch_dir = wd
        .out()
        .join(expected_batch_id(&fixtures_csv(), BATCH_DATE));
    let blocker = batch_dir.join(in_the_way);
    fs::create_dir_all(blocker.join("in-the-way")).unwrap();

    let out = run();
    out.expect_code(EXIT_FAILED);
    let name = in_the_way.rsplit('/').next().unwrap();
    assert!(out.stderr.contains(name), "{out:?}");
    let temps: Vec<_> = walk(&wd.out())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "left behind: {temps:?}");
    assert!(!batch_dir.join("batch.json").exists());

    // Out of the way, the same run finishes and is whole.
    fs::remove_dir_all(&blocker).unwrap();
    run().expect_code(EXIT_REJECTS);
    assert_batch_json_files_exist(&Batch::new(batch_dir));
}

/// The input is read on a thread of its own, ahead of the issuing loop, and
/// the manifest is formatted while the ledger is read: neither may change a
/// byte or a count. In chunks of one filing the reader is furthest ahead of
/// the loop (many small batches, the channel full); in the default chunk the
/// whole file is one batch. The batch folders must be the same (batch.json
/// but for the ledger's id), and every rejected line named once, in input
/// order, duplicates and rows with too few fields included.
#[test]
fn batch_files_are_the_same_bytes_whatever_the_chunk_size() {
    let mut input = fs::read_to_string(fixtures_csv()).unwrap();
    let second_row = input.lines().nth(2).unwrap().to_string();
    input.push_str(&format!(
        "{second_row}\n,,,,,,,,,,,,,\nIOE0912345699,I-485\n"
    ));
    let mut folders = Vec::new();
    for chunk in ["1", "3", "4096"] {
        let wd = Workdir::new();
        let path = wd.write("filings.csv", &input);
        let out = wd.cmd([
            "run",
            "--input",
            path.to_str().unwrap(),
            "--batch-date",
            BATCH_DATE,
            "--chunk-size",
            chunk,
        ]);
        out.expect_code(EXIT_REJECTS);
        let batch = Batch::new(wd.path(out.batch_dir()));
        let counts = batch.counts();
        counts.assert_add_up();
        assert_eq!(out.counts(), counts, "stdout and batch.json disagree");
        assert_eq!(counts.read, FIXTURE_ROWS + 2, "the blank row is not read");
        assert_eq!(counts.rejected, FIXTURE_REJECTED + 2);
        let lines: Vec<u64> = batch
            .rejects()
            .iter()
            .map(|r| r["line"].parse().unwrap())
            .collect();
        assert_eq!(lines.len() as u64, counts.rejected, "chunks of {chunk}");
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "chunks of {chunk}: rejects out of input order: {lines:?}"
        );
        assert_eq!(batch.manifest().len() as u64, counts.issued);
        folders.push((chunk, snapshot(&batch.dir)));
    }
    let (_, first) = &folders[0];
    for (chunk, folder) in &folders[1..] {
        assert_eq!(folder, first, "chunks of {chunk} against chunks of 1");
    }
}
