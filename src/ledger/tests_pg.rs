//! Schema upgrades on PostgreSQL, on the server `ACCESS_LETTERS_TEST_PG`
//! names (`.ci/pg-cluster start`). Without it the test says it was skipped;
//! under CI (`CI` set) a missing server is a failure.

use super::postgres::migrations::PG_MIGRATIONS;
use super::tests::{date, filing, fingerprint, receipt};
use super::*;

/// A fresh schema at version 3 holding one issuance per old proof text;
/// returns its URL, or `None` when there is no test server.
fn v3_schema(name: &str, proofs: &[&str]) -> Option<(String, ::postgres::Client)> {
    let Ok(base) = std::env::var("ACCESS_LETTERS_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but ACCESS_LETTERS_TEST_PG is not: the PostgreSQL upgrade test cannot run"
        );
        eprintln!("skipped: the PostgreSQL upgrade test (ACCESS_LETTERS_TEST_PG is not set)");
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
    let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
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
    Some((url, admin))
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
