//! Schema upgrades on PostgreSQL, on the server `ACCESS_LETTERS_TEST_PG`
//! names (`.ci/pg-cluster start`). Without it the test says it was skipped;
//! under CI (`CI` set) a missing server is a failure.

use super::postgres::migrations::PG_MIGRATIONS;
use super::tests::{date, filing, fingerprint, receipt};
use super::*;

/// A fresh schema at version 3 holding one issuance per old proof text;
/// returns its URL and a connection to it, or `None` when there is no test
/// server.
fn v3_schema(name: &str, proofs: &[&str]) -> Option<(String, ::postgres::Client)> {
    let (url, mut c) = fresh_schema(name, "the PostgreSQL upgrade test")?;
    for sql in &PG_MIGRATIONS[..3] {
        c.batch_execute(sql).expect("migrate");
    }
    c.batch_execute(
        "CREATE TABLE ledger_schema_version (one_row BOOLEAN PRIMARY KEY DEFAULT TRUE \
         CHECK (one_row), version INTEGER NOT NULL); \
         INSERT INTO ledger_schema_version VALUES (TRUE, 3); \
         INSERT INTO batches (batch_id, batch_date, key_id, is_test, input_sha256, kind, started_at) \
         VALUES ('b', '2026-11-25', 'test-2026', TRUE, \
         'abababababababababababababababababababababababababababababababab', 'nightly', now())",
    )
    .expect("version 3");
    for (n, proof) in proofs.iter().enumerate() {
        let n = n as u64;
        let f = serde_json::to_string(&filing(n, "20001", None)).expect("json");
        c.execute(
            "INSERT INTO issuances (receipt, issue_no, form, batch_id, piece_id, key_id, \
             fingerprint, notice_date, expires_on, letter_sha256, pages, zip5, filing_json, \
             forced, status, recorded_at) VALUES ($1, 1, 'I-485', 'b', $2, 'test-2026', $3, \
             $4, $5, $6, 1, '20001', $7, FALSE, 'active', now())",
            &[
                &receipt(n).as_str(),
                &format!("P{n}"),
                &fingerprint(n, 1).as_str(),
                &date("2026-11-25"),
                &date("2027-02-23"),
                proof,
                &f,
            ],
        )
        .expect("issuance");
    }
    Some((url, c))
}

#[test]
fn version_4_reads_each_old_proof_text_as_its_kind_on_postgres() {
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let printed = format!("content-sha256:{hex}");
    let Some((url, _admin)) = v3_schema(
        "v4_kinds",
        &[&hex.to_uppercase(), &printed, "not-yet-printed"],
    ) else {
        return;
    };
    let ledger = PostgresLedger::connect(&url).expect("migrated");
    let proof = |n: u64| {
        ledger.history(&receipt(n)).expect("history")[0]
            .issued
            .proof
            .clone()
    };
    let digest = Sha256Hex::parse(hex).expect("hex");
    assert_eq!(proof(0), LetterProof::File(digest.clone()));
    assert_eq!(proof(1), LetterProof::Printed(digest));
    assert_eq!(proof(2), LetterProof::NotYetPrinted);
}

#[test]
fn version_4_refuses_a_proof_that_is_none_of_the_kinds_on_postgres() {
    let Some((url, _admin)) = v3_schema("v4_bad", &["(not a proof)"]) else {
        return;
    };
    let err = PostgresLedger::connect(&url).expect_err("refused");
    assert!(err.to_string().contains("schema version 4"), "{err}");
    let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
    let version: i32 = c
        .query_one("SELECT version FROM ledger_schema_version", &[])
        .expect("version")
        .get(0);
    assert_eq!(version, 3, "left as it was");
}

#[test]
fn a_stored_fingerprint_or_digest_that_is_not_one_is_a_damaged_ledger_on_postgres() {
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let Some((url, _admin)) = v3_schema("damaged_fp", &[hex]) else {
        return;
    };
    let ledger = PostgresLedger::connect(&url).expect("migrated");
    assert_eq!(ledger.history(&receipt(0)).expect("history").len(), 1);
    let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
    c.batch_execute(
        "UPDATE issuances SET fingerprint = '7K2M-9QXD-4RT8'; \
         UPDATE batches SET input_sha256 = 'abc'",
    )
    .expect("damage");
    let err = ledger.history(&receipt(0)).expect_err("must refuse");
    let text = err.to_string();
    assert!(matches!(err, LedgerError::Damaged { .. }), "{text}");
    assert!(
        text.contains("the fingerprint of receipt IOE0000000000"),
        "{text}"
    );
    assert!(!text.contains("7K2M"), "{text}");
    let err = ledger.batch("b").expect_err("must refuse");
    let text = err.to_string();
    assert!(matches!(err, LedgerError::Damaged { .. }), "{text}");
    assert!(text.contains("the input digest of batch b"), "{text}");
}

/// A new empty schema on the test server (`ACCESS_LETTERS_TEST_PG`, see
/// `.ci/pg-cluster`), named after `name`: its URL and a connection to it.
/// `None` when there is no server, said on stderr for `what` (the test that
/// cannot run); under CI (`CI` set) a missing server is a failure.
pub(in crate::ledger) fn fresh_schema(
    name: &str,
    what: &str,
) -> Option<(String, ::postgres::Client)> {
    let Ok(base) = std::env::var("ACCESS_LETTERS_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but ACCESS_LETTERS_TEST_PG is not: {what} cannot run"
        );
        eprintln!("skipped: {what} (ACCESS_LETTERS_TEST_PG is not set)");
        return None;
    };
    let schema = format!("t_{name}_{}", std::process::id());
    let mut admin = ::postgres::Client::connect(&base, ::postgres::NoTls).expect("connect");
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let client = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
    Some((url, client))
}

/// Sequential scans of `guesses` the server has counted so far.
fn guesses_seq_scans(admin: &mut ::postgres::Client) -> i64 {
    admin
        .query_one(
            "SELECT seq_scan FROM pg_stat_user_tables \
             WHERE relid = 'guesses'::regclass",
            &[],
        )
        .expect("stats")
        .get(0)
}

/// A service's connection lives for days, and reads every guesser's tally
/// on every verify. Its read is a prepared statement: with statistics that
/// said `guesses` was empty, the plan the server cached scanned the whole
/// table on every later read, however large the table grew, until new
/// statistics came (the serve bench found 685 million rows read in 20 s,
/// 65% of the machine). Each read is now planned for the table as it is,
/// through its indexes.
#[test]
fn a_guessers_tally_reads_its_index_after_the_table_has_grown_on_postgres() {
    let Some((url, mut admin)) = fresh_schema("plans", "the PostgreSQL plan test") else {
        return;
    };
    let ledger = PostgresLedger::connect(&url).expect("new ledger");
    // Statistics taken while the table is empty, as a nightly
    // `vacuumdb --analyze` of a quiet ledger takes them; autovacuum takes
    // new ones only a minute or more after the table grows.
    admin.batch_execute("ANALYZE guesses").expect("analyze");
    let guesser = Guesser {
        account: Some("acct-1".into()),
        client: "198.51.100.7".into(),
    };
    let since = Utc::now() - chrono::TimeDelta::minutes(10);
    // Enough reads of the empty table for the server to settle on a plan.
    for _ in 0..10 {
        ledger
            .history_for_guess(&receipt(1), &guesser, since)
            .expect("read");
    }
    admin
        .batch_execute(
            "INSERT INTO guesses (receipt, guessed_at, account, client) \
             SELECT 'IOE09' || lpad((i % 9000)::text, 8, '0'), now(), \
             'acct-' || (i % 5000), '198.51.100.' || (i % 250) \
             FROM generate_series(1, 20000) AS i",
        )
        .expect("grow the table");
    // The ledger's connection reports its counts at most once a second:
    // wait, let a statement report them, then read them.
    let settle = |admin: &mut ::postgres::Client| {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        ledger.ledger_id().expect("a statement that reports");
        std::thread::sleep(std::time::Duration::from_millis(200));
        guesses_seq_scans(admin)
    };
    let before = settle(&mut admin);
    for _ in 0..6 {
        let (_, tallies) = ledger
            .history_for_guess(&receipt(1), &guesser, since)
            .expect("read");
        assert_eq!(tallies.by_client.count, 80, "the client's guesses");
    }
    let after = settle(&mut admin);
    assert_eq!(
        after - before,
        0,
        "the tally scanned the whole guesses table {} times",
        after - before
    );
}
