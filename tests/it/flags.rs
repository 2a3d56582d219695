//! Flags and messages across commands, tried as a new user would: one flag,
//! one meaning; dates and thread counts checked before anything starts;
//! counts in words that agree with their numbers.

use std::time::{Duration, Instant};

use crate::support::*;
use chrono::Days;

/// Finding 12.5: `--jobs 100000` started 100,000 threads. Out-of-range
/// values fail at once, before a thread, a folder or a ledger exists.
#[test]
fn finding_5_jobs_beyond_four_per_core_is_refused_before_anything_starts() {
    let wd = Workdir::new();
    let input = fixtures_csv();
    for jobs in ["100000", "0", "many"] {
        let started = Instant::now();
        let out = wd.cmd([
            "run",
            "--input",
            input.to_str().unwrap(),
            "--date",
            BATCH_DATE,
            "--jobs",
            jobs,
        ]);
        out.expect_code(EXIT_FAILED);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "--jobs {jobs} took {:?}",
            started.elapsed()
        );
        assert!(out.stderr.contains("--jobs"), "{out:?}");
        assert!(!wd.out().exists(), "nothing written for --jobs {jobs}");
    }
    let out = wd.cmd(["run", "--input", "x.csv", "--jobs", "100000"]);
    assert!(out.stderr.contains("between 1 and"), "{out:?}");
    assert!(out.stderr.contains("per core"), "{out:?}");
}

/// Finding 12.7: `run --batch-date` far from today needs `--allow-any-date`.
#[test]
fn finding_7_a_run_dated_far_from_today_needs_allow_any_date() {
    let wd = Workdir::new();
    let input = fixtures_csv();
    let far = today().checked_add_days(Days::new(30)).unwrap().to_string();
    // Built by hand: the work folder adds --allow-any-date to dated runs.
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "--input", input.to_str().unwrap(), "--date", &far])
        .arg("--out")
        .arg(wd.out())
        .current_dir(wd.root());
    let out = wd.output(&mut cmd);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains(&far), "{out:?}");
    assert!(out.stderr.contains("30 days after today"), "{out:?}");
    assert!(out.stderr.contains("--allow-any-date"), "{out:?}");
    assert!(!wd.out().exists(), "nothing written");

    let out = wd.cmd([
        "run",
        "--input",
        input.to_str().unwrap(),
        "--date",
        &far,
        "--allow-any-date",
    ]);
    out.expect_code(EXIT_REJECTS);
    assert!(out.stdout.contains(&far), "{out:?}");
}

/// Finding 12.7: `--batch-date 9999-12-31` was accepted; a bad date showed
/// chrono's "input is out of range".
#[test]
fn finding_7_dates_no_letter_can_carry_are_refused_in_words() {
    let wd = Workdir::new();
    let input = fixtures_csv();
    for (date, want) in [
        ("9999-12-31", "outside the years 2000-2099"),
        ("2026-02-30", "'2026-02-30' is not a date (use YYYY-MM-DD)"),
        ("11/25/2026", "is not a date (use YYYY-MM-DD)"),
    ] {
        let out = wd.cmd([
            "run",
            "--input",
            input.to_str().unwrap(),
            "--batch-date",
            date,
            "--allow-any-date",
        ]);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains(want), "{out:?}");
        assert!(!out.stderr.contains("out of range"), "{out:?}");
        let out = wd.cmd(["verify", "IOE0912345601", "X", "--date", date]);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains(want), "{out:?}");
    }
    assert!(!wd.out().exists());
}

#[test]
fn dates_are_date_everywhere_and_batch_date_still_works() {
    let wd = Workdir::new();
    for sub in ["run", "reissue", "verify", "preview", "gen-fixtures"] {
        let help = wd.cmd([sub, "--help"]);
        help.expect_code(EXIT_OK);
        assert!(help.stdout.contains("--date <YYYY-MM-DD>"), "{help:?}");
        assert!(!help.stdout.contains("--batch-date"), "{help:?}");
    }
    let (out, _) = wd.run_fixtures(); // spelled --batch-date
    assert!(out.stdout.contains(BATCH_DATE), "{out:?}");
}

#[test]
fn out_is_a_folder_and_to_is_a_file() {
    let wd = Workdir::new();
    for sub in ["run", "reprint", "reissue", "verify", "status"] {
        let help = wd.cmd([sub, "--help"]);
        assert!(help.stdout.contains("--out <DIR>"), "{help:?}");
    }
    for sub in ["keygen", "preview", "reprint", "gen-fixtures"] {
        let help = wd.cmd([sub, "--help"]);
        assert!(help.stdout.contains("--to <FILE>"), "{help:?}");
        assert!(!help.stdout.contains("--out <FILE>"), "{help:?}");
    }
    // The old file spelling still works.
    let csv = wd.path("three.csv");
    let out = wd.cmd([
        "gen-fixtures",
        "--rows",
        "1",
        "--out",
        csv.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("wrote 1 row ("), "{out:?}");
    assert!(csv.exists());
}

#[test]
fn key_help_says_what_each_command_does_with_it() {
    let wd = Workdir::new();
    for sub in ["run", "reissue"] {
        let help = wd.cmd([sub, "--help"]);
        assert!(help.stdout.contains("Key file for new codes"), "{help:?}");
    }
    for sub in ["verify", "reprint"] {
        let help = wd.cmd([sub, "--help"]);
        assert!(!help.stdout.contains("for new codes"), "{help:?}");
        assert!(
            help.stdout.contains("Key file the codes were made with"),
            "{help:?}"
        );
    }
}

#[test]
fn one_of_a_thing_is_not_plural() {
    let wd = Workdir::new();
    let input = wd.write(
        "one.csv",
        std::fs::read_to_string(fixtures_csv())
            .unwrap()
            .lines()
            .take(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let out = wd.run(&input);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("; 1 page;"), "{out:?}");
    let status = wd.cmd(["status", "IOE0912345601"]);
    assert!(status.stdout.contains("(1 issuance)"), "{status:?}");
}

/// An input with a header and no rows is its own outcome: exit 4.
#[test]
fn no_filings_exits_4() {
    let wd = Workdir::new();
    let header = std::fs::read_to_string(fixtures_csv())
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let input = wd.write("empty.csv", format!("{header}\n"));
    let out = wd.run(&input);
    out.expect_code(EXIT_NO_FILINGS);
    assert!(out.stderr.contains("no filings in"), "{out:?}");
    assert!(out.stderr.contains("empty.csv"), "{out:?}");
}

/// Finding 12.8: a mistyped `--ledger` (a folder that does not exist) was
/// created silently, and the run issued every filing again into it.
#[test]
fn finding_8_a_ledger_in_a_folder_that_does_not_exist_is_an_error() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let typo = wd.path("outptu/ledger.sqlite");
    let input = fixtures_csv();
    let out = wd.cmd([
        "run",
        "--input",
        input.to_str().unwrap(),
        "--date",
        BATCH_DATE,
        "--ledger",
        typo.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    assert!(out.stderr.contains("outptu"), "{out:?}");
    assert!(!wd.path("outptu").exists(), "no folder made for a typo");
}

/// Issue 18: `--output` sat beside `--out DIR`, and a new user typed
/// `--output /tmp/x`. The flag is `--letters`; a folder given to it is
/// refused naming the flag that takes a folder; the old spelling still
/// works, hidden from `--help`.
#[test]
fn letters_says_how_letters_are_written_and_output_is_a_hidden_alias() {
    let wd = Workdir::new();
    let input = fixtures_csv();
    let input = input.to_str().unwrap();
    let folder = wd.cmd(["run", "--input", input, "--letters", "/tmp/x"]);
    folder.expect_code(EXIT_FAILED);
    assert!(
        folder.stderr.contains("the folder they go to is --out"),
        "{folder:?}"
    );
    assert!(wd.batch_dirs().is_empty(), "nothing was written");

    let help = wd.cmd(["run", "--help"]);
    assert!(
        help.stdout.contains("--letters <print|pieces|both>"),
        "{help:?}"
    );
    assert!(!help.stdout.contains("--output"), "{help:?}");

    let old = wd.cmd([
        "run", "--input", input, "--date", BATCH_DATE, "--output", "pieces",
    ]);
    old.expect_code(EXIT_REJECTS);
    let batch = Batch::new(wd.path(old.batch_dir()));
    assert!(
        !batch.letter_files().is_empty(),
        "pieces mode wrote letter files"
    );
}
