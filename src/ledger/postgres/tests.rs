//! Unit tests of the PostgreSQL ledger that need no server.
use super::*;

#[test]
fn connection_refused_names_the_host_never_the_password() {
    // Port 1 on localhost: nothing listens there, so the refusal is
    // immediate.
    let url = "postgres://issuer:hunter2secret@127.0.0.1:1/ledger?connect_timeout=5";
    let err = PostgresLedger::connect(url).expect_err("nothing listens on port 1");
    let msg = err.to_string();
    assert!(matches!(err, LedgerError::Connect { .. }), "{msg}");
    assert!(msg.contains("host 127.0.0.1 port 1"), "{msg}");
    assert!(msg.contains("database ledger as user issuer"), "{msg}");
    assert!(!msg.contains("hunter2secret"), "{msg}");
    assert!(!format!("{err:?}").contains("hunter2secret"));
}

#[test]
fn a_bad_url_is_refused_without_showing_the_password() {
    let url = "postgres://issuer:hunter2secret@db:notaport/ledger";
    let err = PostgresLedger::connect(url).expect_err("the port is not a number");
    let msg = err.to_string();
    assert!(matches!(err, LedgerError::BadUrl { .. }), "{msg}");
    assert!(!msg.contains("hunter2secret"), "{msg}");
}

#[test]
fn lock_keys_differ_by_schema_and_batch() {
    let a = lock_key(&["batch", "public", "2026-11-25-abc"]);
    assert_eq!(a, lock_key(&["batch", "public", "2026-11-25-abc"]));
    assert_ne!(a, lock_key(&["batch", "other", "2026-11-25-abc"]));
    assert_ne!(a, lock_key(&["batch", "public", "2026-11-25-abd"]));
    // The separator keeps ("ab", "c") apart from ("a", "bc").
    assert_ne!(lock_key(&["ab", "c"]), lock_key(&["a", "bc"]));
}
