//! The shared ledger through the command line: `--ledger postgres://...`
//! (or `ACCESS_LETTERS_LEDGER`) on the PostgreSQL server named by
//! `ACCESS_LETTERS_TEST_PG`, each test in a schema of its own. Several
//! hosts are played by several processes with their own `--out` folders.
//! Without a server each PostgreSQL test says it was skipped and passes.
//!
//! The wrong-code limit is checked on both backends.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::pg::PgSchema;
use crate::support::*;

const EXIT_LOCKED: i32 = 5;

/// A command of `wd` pointed at `ledger` (a URL or a file) and `out`.
fn on_ledger(wd: &Workdir, out: &Path, ledger: &str, args: &[&str]) -> Command {
    let mut cmd = wd.command_with(out.to_path_buf(), args);
    cmd.args(["--ledger", ledger]);
    cmd
}

fn run_on(wd: &Workdir, out: &Path, ledger: &str, input: &Path, chunk: &str) -> Command {
    let input = input.to_str().expect("utf-8 path");
    on_ledger(
        wd,
        out,
        ledger,
        &[
            "run",
            "--input",
            input,
            "--date",
            BATCH_DATE,
            "--chunk-size",
            chunk,
        ],
    )
}

fn finish(child: Child, args: &str) -> Output {
    let done = child.wait_with_output().expect("wait for the child");
    Output {
        args: args.to_string(),
        code: done.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start access-letters")
}

/// A receipt as the ledger writes it: `ioe-098-990-4036` is IOE0989904036.
fn normal(receipt: &str) -> String {
    receipt
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Receipts of a CSV file's data rows.
fn receipts_in(csv: &Path) -> BTreeSet<String> {
    read_csv(csv)
        .iter()
        .map(|r| normal(&r["receipt_number"]))
        .collect()
}

fn manifest_receipts(batch: &Batch) -> BTreeSet<String> {
    batch
        .manifest()
        .iter()
        .map(|r| {
            r["piece_id"]
                .split('-')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Receipts that nightly batches issued more than once (should be none;
/// a reissue is a second issuance on purpose).
fn doubled_receipts(schema: &PgSchema) -> Vec<String> {
    schema
        .admin()
        .query(
            "SELECT receipt FROM issuances JOIN batches USING (batch_id) \
             WHERE kind = 'nightly' GROUP BY receipt HAVING COUNT(*) > 1",
            &[],
        )
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn count_rows(schema: &PgSchema, sql: &str) -> i64 {
    schema.admin().query_one(sql, &[]).expect("query").get(0)
}

/// Waits (60 s at most) until `ready` or the child ends; true when ready
/// first.
fn wait_for(child: &mut Child, mut ready: impl FnMut() -> bool) -> bool {
    let mut ended = false;
    let got_there = wait_until(Duration::from_secs(60), || {
        if ready() {
            return true;
        }
        ended = child.try_wait().expect("poll").is_some();
        ended
    });
    got_there && !ended
}

/// Issuances recorded so far; 0 before a run has made the tables.
fn recorded(schema: &PgSchema) -> i64 {
    schema
        .admin()
        .query_one("SELECT COUNT(*) FROM issuances", &[])
        .map_or(0, |r| r.get::<_, i64>(0))
}

/// A batch is whole: letters on disk are exactly the manifest's (letter
/// files in pieces mode; page ranges of listed print files in print mode).
#[track_caller]
fn assert_whole(batch: &Batch) {
    let listed = manifest_receipts(batch);
    if batch.mode() == "print" {
        let printed = check_print_files(batch);
        assert_eq!(printed.len(), listed.len(), "a receipt printed twice");
        let printed: BTreeSet<String> = printed.into_iter().collect();
        assert_eq!(printed, listed, "print files differ from the manifest");
    } else {
        let files: BTreeSet<String> = batch.letter_files().into_iter().collect();
        let named: BTreeSet<String> = batch.manifest().iter().map(|r| r["file"].clone()).collect();
        assert_eq!(files, named, "letters on disk differ from the manifest");
    }
    assert_eq!(batch.counts().issued, listed.len() as u64);
}

#[test]
fn postgres_run_status_verify_and_reprint_through_the_cli() {
    let Some(schema) = PgSchema::create("cli_basic") else {
        return;
    };
    let wd = Workdir::new();
    let url = schema.url();
    let out = wd.out();
    let run = wd.output(&mut run_on(&wd, &out, &url, &fixtures_csv(), "8"));
    run.expect_code(EXIT_REJECTS);
    run.counts().assert_add_up();
    assert!(
        !out.join("ledger.sqlite").exists(),
        "a SQLite ledger was made"
    );
    let batch = Batch::new(run.batch_dir());
    assert_whole(&batch);
    let (receipt, code) = ("IOE0912345601", batch.code_for("IOE0912345601"));
    assert_eq!(
        count_rows(&schema, "SELECT COUNT(*) FROM issuances"),
        FIXTURE_VALID as i64
    );
    // The environment variable names the ledger when --ledger is not given.
    let mut status = wd.command_with(out.clone(), ["status", receipt]);
    status.env("ACCESS_LETTERS_LEDGER", &url);
    let status = wd.output(&mut status);
    status.expect_code(EXIT_OK);
    assert!(status.stdout.contains("active"), "{status:?}");
    let verify = wd.output(&mut on_ledger(&wd, &out, &url, &["verify", receipt, &code]));
    verify.expect_code(EXIT_OK);
    let reprint = wd.output(&mut on_ledger(&wd, &out, &url, &["reprint", receipt]));
    reprint.expect_code(EXIT_OK);
    // The same input again is the same, complete batch: nothing new.
    let again = wd.output(&mut run_on(&wd, &out, &url, &fixtures_csv(), "8"));
    again.expect_code(EXIT_REJECTS);
    assert_eq!(again.counts(), run.counts());
    assert!(doubled_receipts(&schema).is_empty());
    for o in wd.transcript() {
        let what = format!("the output of{o:?}");
        assert_no_code_in(std::slice::from_ref(&code), o.all().as_bytes(), &what);
    }
}

#[test]
fn postgres_two_hosts_with_overlapping_receipts_issue_each_once() {
    let Some(schema) = PgSchema::create("cli_overlap") else {
        return;
    };
    let wd = Workdir::new();
    let url = schema.url();
    let (a, b_only) = (wd.generate(160, 11), wd.generate(80, 12));
    // Host B's file: the second half of A's rows, then rows of its own.
    let text_a = std::fs::read_to_string(&a).expect("read");
    let text_b = std::fs::read_to_string(&b_only).expect("read");
    let mut lines_a = text_a.lines();
    let header = lines_a.next().expect("header");
    let rows_a: Vec<&str> = lines_a.collect();
    let mut b_text = format!("{header}\n");
    for line in rows_a[80..]
        .iter()
        .chain(text_b.lines().skip(1).collect::<Vec<_>>().iter())
    {
        b_text += line;
        b_text.push('\n');
    }
    let b = wd.write("host-b.csv", b_text);
    let (out_a, out_b) = (wd.path("host-a"), wd.path("host-b"));
    let child_a = spawn(run_on(&wd, &out_a, &url, &a, "4"));
    let child_b = spawn(run_on(&wd, &out_b, &url, &b, "4"));
    let (ra, rb) = (finish(child_a, "run A"), finish(child_b, "run B"));
    for r in [&ra, &rb] {
        assert!(
            r.code == EXIT_OK || r.code == EXIT_REJECTS,
            "a run failed:{r:?}"
        );
        r.counts().assert_add_up();
    }
    let (batch_a, batch_b) = (Batch::new(ra.batch_dir()), Batch::new(rb.batch_dir()));
    assert_whole(&batch_a);
    assert_whole(&batch_b);
    let (ma, mb) = (manifest_receipts(&batch_a), manifest_receipts(&batch_b));
    assert!(ma.is_disjoint(&mb), "a receipt has two letters");
    let issued: BTreeSet<String> = ma.union(&mb).cloned().collect();
    let shared: BTreeSet<String> = receipts_in(&a)
        .intersection(&receipts_in(&b))
        .filter(|r| issued.contains(*r))
        .cloned()
        .collect();
    assert!(shared.len() > 40, "the files overlap by {}", shared.len());
    // What each host counted as already issued was issued by the other.
    for (mine, other, file) in [(&batch_a, &mb, &a), (&batch_b, &ma, &b)] {
        let rejected: BTreeSet<u64> = mine
            .rejects()
            .iter()
            .map(|r| r["line"].parse().expect("line number"))
            .collect();
        let issued_here = manifest_receipts(mine);
        for (i, row) in read_csv(file).iter().enumerate() {
            let r = normal(&row["receipt_number"]);
            if !rejected.contains(&(i as u64 + 2)) && !issued_here.contains(&r) {
                assert!(
                    other.contains(&r),
                    "{r} counted as already issued, yet not issued by the other host"
                );
            }
        }
    }
    let (ca, cb) = (ra.counts(), rb.counts());
    assert_eq!(
        ca.already_issued + cb.already_issued,
        shared.len() as u64,
        "{ra:?}{rb:?}"
    );
    assert_eq!(ca.issued + cb.issued, issued.len() as u64);
    assert!(doubled_receipts(&schema).is_empty());
    assert_eq!(
        count_rows(&schema, "SELECT COUNT(*) FROM issuances"),
        issued.len() as i64
    );
}

#[test]
fn postgres_the_same_batch_twice_at_once_refuses_the_second() {
    let Some(schema) = PgSchema::create("cli_twice") else {
        return;
    };
    let wd = Workdir::new();
    let url = schema.url();
    let input = wd.generate(1500, 21);
    let out = wd.out();
    let mut first = spawn(run_on(&wd, &out, &url, &input, "2"));
    assert!(
        wait_for(&mut first, || recorded(&schema) >= 4),
        "the first run ended before it was under way"
    );
    let second = wd.output(&mut run_on(&wd, &out, &url, &input, "2"));
    // While the batch runs, the desk verifies and an operator reissues a
    // letter of an earlier batch made on another host.
    let desk = wd.path("desk");
    let earlier = wd.output(&mut run_on(&wd, &desk, &url, &fixtures_csv(), "16"));
    earlier.expect_code(EXIT_REJECTS);
    let code = Batch::new(earlier.batch_dir()).code_for("IOE0912345601");
    let verify = wd.output(&mut on_ledger(
        &wd,
        &desk,
        &url,
        &["verify", "IOE0912345601", &code],
    ));
    verify.expect_code(EXIT_OK);
    let reissue = on_ledger(
        &wd,
        &desk,
        &url,
        &[
            "reissue",
            "IOE0912345601",
            "--reason",
            "returned by the post office",
            "--force",
        ],
    );
    wd.output(&mut { reissue }).expect_code(EXIT_OK);
    assert!(
        first.try_wait().expect("poll").is_none(),
        "the batch ended before the desk was done; make it longer"
    );
    second.expect_code(EXIT_FAILED);
    assert!(
        second
            .stderr
            .contains("is being run by another access-letters process"),
        "{second:?}"
    );
    let first = finish(first, "first run");
    assert!(
        first.code == EXIT_OK || first.code == EXIT_REJECTS,
        "{first:?}"
    );
    let batch = Batch::new(first.batch_dir());
    assert_whole(&batch);
    // Once the first is done, the batch may be run again (and is complete).
    let third = wd.output(&mut run_on(&wd, &out, &url, &input, "2"));
    assert_eq!(third.code, first.code, "{third:?}");
    assert_eq!(third.counts(), first.counts());
    assert!(doubled_receipts(&schema).is_empty());
}

#[test]
fn postgres_killed_run_then_resume_gives_each_filing_one_letter() {
    let Some(schema) = PgSchema::create("cli_kill") else {
        return;
    };
    let wd = Workdir::new();
    let url = schema.url();
    let input = wd.generate(300, 31);
    let out = wd.out();
    for at_least in [10, 60] {
        let mut child = spawn(run_on(&wd, &out, &url, &input, "4"));
        let ready = wait_for(&mut child, || recorded(&schema) >= at_least);
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        assert!(ready, "the run finished before it could be killed");
    }
    let resumed = wd.output(&mut run_on(&wd, &out, &url, &input, "4"));
    assert!(
        resumed.code == EXIT_OK || resumed.code == EXIT_REJECTS,
        "{resumed:?}"
    );
    resumed.counts().assert_add_up();
    let batch = Batch::new(resumed.batch_dir());
    assert_whole(&batch);
    let in_ledger = count_rows(&schema, "SELECT COUNT(*) FROM issuances");
    assert_eq!(in_ledger as u64, batch.counts().issued);
    assert!(doubled_receipts(&schema).is_empty());
    let temps: Vec<PathBuf> = walk(&batch.dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with('.') || name.ends_with(".tmp")
        })
        .collect();
    assert!(temps.is_empty(), "temporary files left behind: {temps:?}");
}

#[test]
fn postgres_a_ledger_from_a_newer_program_is_refused_and_backup_is_sqlite_only() {
    let Some(schema) = PgSchema::create("cli_too_new") else {
        return;
    };
    let wd = Workdir::new();
    let (url, out) = (schema.url(), wd.out());
    let status = wd.output(&mut on_ledger(
        &wd,
        &out,
        &url,
        &["status", "IOE0912345601"],
    ));
    status.expect_code(EXIT_OK);
    schema
        .admin()
        .batch_execute("UPDATE ledger_schema_version SET version = 99")
        .expect("pretend a newer program wrote it");
    let run = wd.output(&mut run_on(&wd, &out, &url, &fixtures_csv(), "8"));
    run.expect_code(EXIT_FAILED);
    assert!(run.stderr.contains("newer access-letters"), "{run:?}");
    assert!(wd.batch_dirs().is_empty(), "{:?}", wd.batch_dirs());
    let backup = wd.output(&mut on_ledger(
        &wd,
        &out,
        &url,
        &["backup", "--to", "copy.sqlite"],
    ));
    backup.expect_code(EXIT_FAILED);
    assert!(backup.stderr.contains("pg_dump"), "{backup:?}");
}

#[test]
fn postgres_unreachable_server_or_wrong_password_fails_naming_the_host() {
    let wd = Workdir::new();
    let out = wd.out();
    let refused = "postgresql://issuer:pw-not-shown-1@127.0.0.1:1/ledger";
    let mut cases = vec![(refused.to_string(), "pw-not-shown-1", "127.0.0.1")];
    if let Some(schema) = PgSchema::create("cli_password") {
        schema
            .admin()
            .batch_execute(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'al_password_test') \
                 THEN CREATE ROLE al_password_test LOGIN PASSWORD 'the-right-one'; END IF; END $$",
            )
            .expect("role");
        let url = schema
            .url()
            .replacen("://postgres@", "://al_password_test:pw-not-shown-2@", 1);
        cases.push((url, "pw-not-shown-2", "as user al_password_test"));
    }
    for (url, password, names) in cases {
        for args in [
            vec![
                "run",
                "--input",
                fixtures_csv().to_str().unwrap(),
                "--date",
                BATCH_DATE,
            ],
            vec!["status", "IOE0912345601"],
            vec!["verify", "IOE0912345601", "AAAA-BBBB-CCCC"],
        ] {
            let o = wd.output(&mut on_ledger(&wd, &out, &url, &args));
            if o.code == EXIT_OK {
                skip(
                    "the wrong-password case",
                    "this server does not ask for a password (.ci/pg-cluster's servers do)",
                    InCi::Fails,
                );
                continue;
            }
            o.expect_code(EXIT_FAILED);
            assert!(o.stderr.contains("could not connect"), "{o:?}");
            assert!(o.stderr.contains(names), "{o:?}");
            assert!(
                url.contains(password),
                "control: the password is in the URL given"
            );
            let what = format!("the output of{o:?}");
            assert_none_in(&[password.to_string()], o.all().as_bytes(), &what);
        }
    }
    // Nothing half-written: no batch folder, no SQLite ledger instead.
    assert!(wd.batch_dirs().is_empty(), "{:?}", wd.batch_dirs());
    assert!(!out.join("ledger.sqlite").exists());
}

/// Starts 50 `verify` processes with one wrong code at once, then checks
/// that exactly `max` were counted and the rest refused as locked, and
/// that even the right code is refused now.
fn fifty_wrong_verifies_lock_after_exactly_five(ledger: &str, wd: &Workdir, batch: &Batch) {
    let receipt = "IOE0912345601";
    let right = batch.code_for(receipt);
    let wrong = batch.code_for("IOE0912345603");
    let out: PathBuf = wd.out();
    let children: Vec<Child> = (0..50)
        .map(|_| spawn(on_ledger(wd, &out, ledger, &["verify", receipt, &wrong])))
        .collect();
    let results: Vec<Output> = children
        .into_iter()
        .map(|c| finish(c, "verify (wrong)"))
        .collect();
    let wrong_answers = results.iter().filter(|o| o.code == EXIT_NOT_VALID).count();
    let locked = results.iter().filter(|o| o.code == EXIT_LOCKED).count();
    assert_eq!(
        (wrong_answers, locked),
        (5, 45),
        "{:?}",
        results.iter().find(|o| o.code != EXIT_LOCKED)
    );
    let locking: Vec<&Output> = results
        .iter()
        .filter(|o| o.stdout.contains("is now locked until"))
        .collect();
    assert_eq!(locking.len(), 1, "one answer says it locked the receipt");
    let right = wd.output(&mut on_ledger(
        wd,
        &out,
        ledger,
        &["verify", receipt, &right],
    ));
    right.expect_code(EXIT_LOCKED);
    assert!(right.stdout.contains("locked until"), "{right:?}");
    let status = wd.output(&mut on_ledger(wd, &out, ledger, &["status", receipt]));
    status.expect_code(EXIT_OK);
    assert!(
        status.stdout.contains("verify: 5 wrong codes in the last 10 minutes (5 lock it); 5 in all, 46 refused while locked, 1 lock; LOCKED until"),
        "{status:?}"
    );
    // Another receipt is not locked.
    let other = batch.code_for("IOE0912345603");
    let o = wd.output(&mut on_ledger(
        wd,
        &out,
        ledger,
        &["verify", "IOE0912345603", &other],
    ));
    o.expect_code(EXIT_OK);
    for o in results.iter().chain(wd.transcript().iter()) {
        let what = format!("the output of{o:?}");
        assert_no_code_in(std::slice::from_ref(&wrong), o.all().as_bytes(), &what);
    }
}

#[test]
fn sqlite_fifty_wrong_verifies_at_once_lock_after_exactly_five() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let ledger = wd.ledger();
    fifty_wrong_verifies_lock_after_exactly_five(ledger.to_str().unwrap(), &wd, &batch);
}

#[test]
fn postgres_fifty_wrong_verifies_at_once_lock_after_exactly_five() {
    let Some(schema) = PgSchema::create("cli_fifty") else {
        return;
    };
    let wd = Workdir::new();
    let url = schema.url();
    let out = wd.out();
    let run = wd.output(&mut run_on(&wd, &out, &url, &fixtures_csv(), "16"));
    run.expect_code(EXIT_REJECTS);
    let batch = Batch::new(run.batch_dir());
    fifty_wrong_verifies_lock_after_exactly_five(&url, &wd, &batch);
    assert_eq!(
        count_rows(
            &schema,
            "SELECT COUNT(*) FROM verify_attempts WHERE outcome = 'wrong'"
        ),
        5
    );
}

/// A ledger where another host records two of the first chunk's receipts
/// between this run's plan and its commit, as on a shared ledger.
struct Racing {
    inner: access_letters::ledger::SqliteLedger,
    raced: Vec<String>,
    /// When set, another host's portal redeems the receipt's active code
    /// for this account between a reissue's checks and its transaction.
    redeems_before_reissue: Option<&'static str>,
}

mod racing {
    use std::collections::HashMap;

    use access_letters::filing::ReceiptNumber;
    use access_letters::ledger::*;
    use chrono::{DateTime, Utc};

    use super::Racing;

    impl IssuanceLedger for Racing {
        fn record(&mut self, rows: &[NewIssuance]) -> Result<(), LedgerError> {
            if self.raced.is_empty() && rows.len() >= 3 {
                let mut other = self
                    .inner
                    .batch(&rows[0].batch_id)?
                    .expect("the batch is started")
                    .0;
                other.batch_id = "2026-11-25-otherhost".into();
                self.inner.start_batch(&other)?;
                let theirs: Vec<NewIssuance> = [&rows[0], &rows[2]]
                    .into_iter()
                    .map(|r| NewIssuance {
                        batch_id: other.batch_id.clone(),
                        piece_id: format!("{}-other", r.piece_id),
                        ..r.clone()
                    })
                    .collect();
                self.inner.record(&theirs)?;
                self.raced = theirs.iter().map(|r| r.receipt.to_string()).collect();
            }
            self.inner.record(rows)
        }
        fn ledger_id(&self) -> Result<String, LedgerError> {
            self.inner.ledger_id()
        }
        fn start_batch(&mut self, b: &BatchRecord) -> Result<(), LedgerError> {
            self.inner.start_batch(b)
        }
        fn batch(&self, id: &str) -> Result<Option<(BatchRecord, Option<String>)>, LedgerError> {
            self.inner.batch(id)
        }
        fn complete_batch(&mut self, id: &str, json: &str) -> Result<(), LedgerError> {
            self.inner.complete_batch(id, json)
        }
        fn receipt_states(
            &self,
            r: &[ReceiptNumber],
        ) -> Result<HashMap<ReceiptNumber, ReceiptState>, LedgerError> {
            self.inner.receipt_states(r)
        }
        fn last_serial(&self) -> Result<Option<u64>, LedgerError> {
            self.inner.last_serial()
        }
        fn history(&self, r: &ReceiptNumber) -> Result<Vec<Issuance>, LedgerError> {
            self.inner.history(r)
        }
        fn issuance(&self, r: &ReceiptNumber, n: u32) -> Result<Option<Issuance>, LedgerError> {
            self.inner.issuance(r, n)
        }
        fn for_each_in_batch(
            &self,
            id: &str,
            f: &mut dyn FnMut(Issuance) -> std::ops::ControlFlow<()>,
        ) -> Result<u64, LedgerError> {
            self.inner.for_each_in_batch(id, f)
        }
        fn record_printed(
            &mut self,
            id: &str,
            printed: &mut dyn Iterator<Item = access_letters::ledger::PrintedLetter>,
        ) -> Result<u64, LedgerError> {
            self.inner.record_printed(id, printed)
        }
        fn count_in_batch(&self, id: &str) -> Result<u64, LedgerError> {
            self.inner.count_in_batch(id)
        }
    }
    impl CodeLife for Racing {
        fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<Option<u32>, LedgerError> {
            if let Some(account) = self.redeems_before_reissue.take() {
                let now = chrono::Utc::now();
                let active = row.issue_no - 1;
                let step = self
                    .inner
                    .redeem(&row.receipt, active, account, now, None)?;
                assert!(matches!(step, RedeemStep::Redeemed { .. }), "{step:?}");
            }
            self.inner.supersede_and_record(row)
        }
        fn unlink(
            &mut self,
            r: &ReceiptNumber,
            reason: &str,
            now: DateTime<Utc>,
        ) -> Result<access_letters::ledger::Unlinking, LedgerError> {
            self.inner.unlink(r, reason, now)
        }
        fn gate_guess(
            &mut self,
            r: &ReceiptNumber,
            g: &access_letters::ledger::Guesser,
            k: AttemptKind,
            now: DateTime<Utc>,
            l: access_letters::ledger::GuessLimit,
        ) -> Result<access_letters::ledger::GuessGate, LedgerError> {
            self.inner.gate_guess(r, g, k, now, l)
        }
        fn history_for_guess(
            &self,
            r: &ReceiptNumber,
            g: &access_letters::ledger::Guesser,
            since: DateTime<Utc>,
        ) -> Result<(Vec<Issuance>, access_letters::ledger::Tallies), LedgerError> {
            self.inner.history_for_guess(r, g, since)
        }
        fn guess_sources(
            &self,
            r: &ReceiptNumber,
            now: DateTime<Utc>,
            w: chrono::TimeDelta,
        ) -> Result<u32, LedgerError> {
            self.inner.guess_sources(r, now, w)
        }
        fn targeted(
            &self,
            now: DateTime<Utc>,
            w: chrono::TimeDelta,
            more: u32,
        ) -> Result<Vec<(ReceiptNumber, u32)>, LedgerError> {
            self.inner.targeted(now, w, more)
        }
        fn gate_attempt(
            &mut self,
            r: &ReceiptNumber,
            k: AttemptKind,
            now: DateTime<Utc>,
            l: AttemptLimit,
        ) -> Result<Gate, LedgerError> {
            self.inner.gate_attempt(r, k, now, l)
        }
        fn attempt_summary(
            &self,
            r: &ReceiptNumber,
            now: DateTime<Utc>,
            l: AttemptLimit,
        ) -> Result<AttemptSummary, LedgerError> {
            self.inner.attempt_summary(r, now, l)
        }
        fn redeem(
            &mut self,
            r: &ReceiptNumber,
            n: u32,
            account: &str,
            now: DateTime<Utc>,
            l: Option<AttemptLimit>,
        ) -> Result<RedeemStep, LedgerError> {
            self.inner.redeem(r, n, account, now, l)
        }
        fn revoke(
            &mut self,
            r: &ReceiptNumber,
            reason: &str,
            now: DateTime<Utc>,
        ) -> Result<Revocation, LedgerError> {
            self.inner.revoke(r, reason, now)
        }
    }
    impl MailTrail for Racing {
        fn redeemed_then_returned(&self) -> Result<Vec<Issuance>, LedgerError> {
            self.inner.redeemed_then_returned()
        }
        fn pieces(&self, ids: &[String]) -> Result<HashMap<String, PieceRef>, LedgerError> {
            self.inner.pieces(ids)
        }
        fn pieces_by_serial(
            &self,
            serials: &[u64],
        ) -> Result<HashMap<u64, Vec<PieceRef>>, LedgerError> {
            self.inner.pieces_by_serial(serials)
        }
        fn record_mail(
            &mut self,
            import: &MailImport,
            events: &[MailEvent],
            now: DateTime<Utc>,
        ) -> Result<MailRecorded, LedgerError> {
            self.inner.record_mail(import, events, now)
        }
        fn mail_trail(&self, r: &ReceiptNumber) -> Result<Vec<MailEvent>, LedgerError> {
            self.inner.mail_trail(r)
        }
        fn mail_counts(&self, batch_id: Option<&str>) -> Result<MailCounts, LedgerError> {
            self.inner.mail_counts(batch_id)
        }
        fn returned_awaiting_reissue(&self) -> Result<Vec<Issuance>, LedgerError> {
            self.inner.returned_awaiting_reissue()
        }
        fn unacknowledged(&self, before: DateTime<Utc>) -> Result<Vec<PieceRef>, LedgerError> {
            self.inner.unacknowledged(before)
        }
        fn deliveries(&self, batch_id: &str) -> Result<Vec<Delivery>, LedgerError> {
            self.inner.deliveries(batch_id)
        }
        fn begin_delivery(
            &mut self,
            batch_id: &str,
            vendor: &str,
            again: bool,
            control: &Sha256Hex,
            now: DateTime<Utc>,
        ) -> Result<i64, LedgerError> {
            self.inner
                .begin_delivery(batch_id, vendor, again, control, now)
        }
        fn record_delivered_file(
            &mut self,
            id: i64,
            file: &DeliveredFile,
            now: DateTime<Utc>,
        ) -> Result<(), LedgerError> {
            self.inner.record_delivered_file(id, file, now)
        }
        fn finish_delivery(&mut self, id: i64, now: DateTime<Utc>) -> Result<(), LedgerError> {
            self.inner.finish_delivery(id, now)
        }
    }
}

#[test]
fn receipts_another_host_recorded_first_count_as_already_issued_and_their_letters_go_in_pieces_mode(
) {
    racing_run(access_letters::batch::OutputMode::Pieces);
}

#[test]
fn in_a_print_run_receipts_another_host_recorded_first_are_left_out_of_the_print_files() {
    racing_run(access_letters::batch::OutputMode::Print);
}

fn racing_run(mode: access_letters::batch::OutputMode) {
    use access_letters::batch::{run, NoProgress, OutputChoice, RunInputs};
    use access_letters::config::Config;
    use access_letters::key::{Key, KeyRing};
    use access_letters::letter::Templates;
    use access_letters::render::Renderer;

    let wd = Workdir::new();
    let out = wd.out();
    std::fs::create_dir_all(&out).expect("out");
    let keys = KeyRing::single(Key::load(&test_key()).expect("fixture key"));
    let renderer = Renderer::new(Templates::builtin(), Config::default_config());
    let mut ledger = Racing {
        inner: access_letters::ledger::SqliteLedger::create(&out.join("ledger.sqlite"))
            .expect("ledger"),
        raced: Vec::new(),
        redeems_before_reissue: None,
    };
    let inputs = RunInputs {
        input: &fixtures_csv(),
        batch_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        out_root: &out,
        keys: &keys,
        renderer: &renderer,
        chunk_size: 8,
        output: OutputChoice {
            mode,
            ..OutputChoice::default()
        },
    };
    let report = run(&inputs, &mut ledger, &NoProgress).expect("the run finishes");
    assert_eq!(ledger.raced.len(), 2, "the race happened");
    let c = report.counts;
    assert_eq!(
        (c.read, c.issued, c.already_issued, c.rejected),
        (FIXTURE_ROWS, FIXTURE_VALID - 2, 2, FIXTURE_REJECTED)
    );
    let batch = Batch::new(report.batch_dir);
    let printed: Vec<String> = if mode.pieces() {
        assert_whole(&batch);
        Vec::new()
    } else {
        assert!(
            !batch.path("letters").exists(),
            "letter files in print mode"
        );
        assert_eq!(batch.manifest().len() as u64, c.issued);
        check_print_files(&batch)
    };
    let ours = manifest_receipts(&batch);
    for receipt in &ledger.raced {
        assert!(
            !ours.contains(receipt),
            "{receipt} has a letter in both batches"
        );
        if mode.pieces() {
            assert!(
                !batch
                    .letter_files()
                    .iter()
                    .any(|f| f.contains(receipt.as_str())),
                "the letter of {receipt} was not withdrawn"
            );
        } else {
            assert!(
                !printed.iter().any(|r| r == receipt.as_str()),
                "{receipt} is in a print file"
            );
        }
    }
    assert_eq!(
        batch.counts(),
        Counts {
            read: c.read,
            issued: c.issued,
            already_issued: 2,
            rejected: c.rejected
        }
    );
}

#[test]
fn postgres_print_run_killed_then_resumed_gives_each_filing_one_page_range() {
    let Some(schema) = PgSchema::create("cli_print_kill") else {
        return;
    };
    let wd = Workdir::new();
    let url = schema.url();
    let input = wd.generate(2000, 41);
    let out = wd.out();
    let input_arg = input.to_str().expect("utf-8 path");
    let print_run = || {
        let args = [
            "run",
            "--input",
            input_arg,
            "--date",
            BATCH_DATE,
            "--chunk-size",
            "4",
        ];
        let print = ["--letters", "print", "--pieces-per-file", "50"];
        on_ledger(&wd, &out, &url, &[&args[..], &print[..]].concat())
    };
    let mut child = spawn(print_run());
    // Polled before the first run has made the tables: no table, no rows.
    let ready = wait_for(&mut child, || recorded(&schema) >= 40);
    child.kill().expect("SIGKILL");
    let early = finish(child, "print run");
    assert!(
        ready,
        "the run finished before it could be killed:{early:?}"
    );
    let resumed = wd.output(&mut print_run());
    assert!(
        resumed.code == EXIT_OK || resumed.code == EXIT_REJECTS,
        "{resumed:?}"
    );
    let batch = Batch::new(resumed.batch_dir());
    let rows = batch.manifest();
    assert_eq!(rows.len() as u64, batch.counts().issued);
    assert_eq!(
        count_rows(&schema, "SELECT COUNT(*) FROM issuances") as u64,
        batch.counts().issued
    );
    let mut ranges = BTreeSet::new();
    for r in &rows {
        assert!(r["print_file"].starts_with("print/"), "{r:?}");
        assert!(batch.path(&r["print_file"]).is_file(), "{r:?}");
        assert!(ranges.insert((r["print_file"].clone(), r["first_page"].clone())));
    }
    let listed = batch.summary()["print_files"]
        .as_array()
        .expect("print files")
        .len();
    let on_disk = std::fs::read_dir(batch.path("print"))
        .expect("print")
        .count();
    assert_eq!(
        listed, on_disk,
        "a print file not listed, or a temporary file left"
    );
    assert!(
        !batch.path("letters").exists(),
        "letter files in print mode"
    );
}

/// Every file under `dir`, by path.
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read a folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.insert(path);
            }
        }
    }
    found
}

#[test]
fn a_reissue_refused_inside_its_transaction_leaves_no_letter_behind() {
    use access_letters::batch::{run, NoProgress, OutputChoice, RunInputs};
    use access_letters::config::Config;
    use access_letters::filing::IssuanceStatus;
    use access_letters::filing::ReceiptNumber;
    use access_letters::key::{Key, KeyRing};
    use access_letters::ledger::prelude::*;
    use access_letters::ledger::{LedgerError, SqliteLedger};
    use access_letters::letter::Templates;
    use access_letters::ops::{reissue, Clock, ReissueError, ReissueRequest};
    use access_letters::render::Renderer;
    use chrono::NaiveDate;

    let wd = Workdir::new();
    let out = wd.out();
    std::fs::create_dir_all(&out).expect("out");
    let ledger_dir = tempfile::tempdir().expect("temp dir");
    let keys = KeyRing::single(Key::load(&test_key()).expect("fixture key"));
    let renderer = Renderer::new(Templates::builtin(), Config::default_config());
    let mut inner = SqliteLedger::create(&ledger_dir.path().join("ledger.sqlite")).expect("ledger");
    let nightly = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let inputs = RunInputs {
        input: &fixtures_csv(),
        batch_date: nightly,
        out_root: &out,
        keys: &keys,
        renderer: &renderer,
        chunk_size: 8,
        output: OutputChoice::default(),
    };
    let report = run(&inputs, &mut inner, &NoProgress).expect("the nightly run");
    let receipts: Vec<ReceiptNumber> = manifest_receipts(&Batch::new(report.batch_dir))
        .iter()
        .map(|r| ReceiptNumber::parse(r).expect("a receipt"))
        .collect();
    let mut ledger = Racing {
        inner,
        raced: Vec::new(),
        redeems_before_reissue: Some("acct-host-b"),
    };
    let clock = Clock {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-26T15:00:00Z")
            .expect("a time")
            .with_timezone(&chrono::Utc),
        today: nightly.succ_opt().expect("a date"),
    };
    let request = |receipt| ReissueRequest {
        receipt,
        reason: "the applicant moved",
        force: true,
        batch_date: clock.today,
        out_root: &out,
    };
    let before = files_under(&out);
    // Checked unlinked, then linked by another host before the transaction:
    // the transaction refuses, and the letter it drew is gone.
    let refused = reissue(&request(&receipts[0]), clock, &keys, &renderer, &mut ledger)
        .expect_err("a receipt linked meanwhile is not reissued");
    assert!(
        matches!(refused, ReissueError::Ledger(LedgerError::Linked { .. })),
        "{refused:?}"
    );
    assert_eq!(files_under(&out), before, "the refused reissue left files");
    let history = ledger.inner.history(&receipts[0]).expect("history");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].status, IssuanceStatus::Redeemed);
    // Positive control: unraced, the same request writes its letter.
    let done = reissue(&request(&receipts[1]), clock, &keys, &renderer, &mut ledger)
        .expect("an unraced reissue");
    let added: Vec<_> = files_under(&out).difference(&before).cloned().collect();
    assert!(
        added.iter().any(|f| f.starts_with(&done.batch_dir)
            && f.to_string_lossy().contains(&done.piece_id)),
        "{added:?}"
    );
}
