//! What the ledger keeps in its own stored form (a fingerprint's text, a
//! digest's hex, `is_test`) is read back through the one parser of its
//! type: text that does not parse is a damaged ledger, said as such.

use super::tests::{batch, ledger_with_batch, new_row, receipt};
use super::*;
use crate::key::KeyMode;

#[test]
fn a_stored_fingerprint_that_is_not_one_is_a_damaged_ledger_and_not_echoed() {
    let mut ledger = ledger_with_batch("b1");
    ledger.record(&[new_row(1, 1, "b1")]).expect("record");
    // What a hand edit or a bad restore could leave: a clear code.
    ledger
        .conn
        .execute("UPDATE issuances SET fingerprint = '7K2M-9QXD-4RT8'", [])
        .expect("damage");
    let err = ledger.history(&receipt(1)).expect_err("must refuse");
    assert!(matches!(err, LedgerError::Damaged { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the fingerprint of receipt IOE0000000001"),
        "{text}"
    );
    assert!(text.contains("must be 64 hexadecimal digits"), "{text}");
    assert!(text.contains("restore it from the last backup"), "{text}");
    assert!(!text.contains("7K2M"), "{text}");
}

#[test]
fn a_stored_input_digest_that_is_not_one_is_a_damaged_ledger() {
    let ledger = ledger_with_batch("b1");
    ledger
        .conn
        .execute("UPDATE batches SET input_sha256 = 'abc'", [])
        .expect("damage");
    let err = ledger.batch("b1").expect_err("must refuse");
    assert!(matches!(err, LedgerError::Damaged { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("the input digest of batch b1"), "{text}");
    assert!(text.contains("'abc' is not a SHA-256 digest"), "{text}");
}

#[test]
fn a_batch_keeps_its_key_kind_in_the_is_test_column() {
    let mut ledger = ledger_with_batch("b1");
    let mut production = batch("b2", BatchKind::Nightly);
    production.mode = KeyMode::Production;
    ledger.start_batch(&production).expect("start");
    let stored = |id: &str| -> i64 {
        ledger
            .conn
            .query_row(
                "SELECT is_test FROM batches WHERE batch_id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("is_test")
    };
    assert_eq!((stored("b1"), stored("b2")), (1, 0));
    let mode = |id: &str| ledger.batch(id).expect("batch").expect("known").0.mode;
    assert_eq!(
        (mode("b1"), mode("b2")),
        (KeyMode::Test, KeyMode::Production)
    );
}
