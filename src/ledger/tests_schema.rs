//! The schema across its versions: each upgrade keeps what the ledger
//! held (or refuses, leaving the file as it was), and the checks the
//! database makes on every write.

use super::sqlite::migrations::user_version;
use super::tests::{filing, fingerprint, ledger_with_batch, new_row, receipt};
use super::*;

/// A SQLite file at schema `version`, holding batch `b` and nothing else.
fn ledger_at_version(path: &std::path::Path, version: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    for step in &super::sqlite::migrations::MIGRATIONS[..version] {
        conn.execute_batch(step.sql).expect("migrate");
    }
    conn.pragma_update(None, "user_version", version as i64)
        .expect("version");
    conn.execute(
        "INSERT INTO batches (batch_id, batch_date, key_id, is_test, input_sha256, kind, started_at) \
         VALUES ('b', '2026-11-25', 'test-2026', 1, 'abababababababababababababababababababababababababababababababab', \
         'nightly', '2026-11-25T03:00:00.000Z')",
        [],
    )
    .expect("batch");
    conn
}

/// A SQLite file at schema version 3 (before the typed letter proof and
/// redemptions), holding one issuance per `letter_sha256` text given.
fn v3_ledger(path: &std::path::Path, proofs: &[&str]) {
    let conn = ledger_at_version(path, 3);
    for (n, proof) in proofs.iter().enumerate() {
        let f = serde_json::to_string(&filing(n as u64, "20001", None)).expect("json");
        conn.execute(
            "INSERT INTO issuances (receipt, issue_no, form, batch_id, piece_id, key_id, \
             fingerprint, notice_date, expires_on, letter_sha256, pages, zip5, filing_json, \
             forced, status, recorded_at) VALUES (?1, 1, 'I-485', 'b', ?2, 'test-2026', ?3, \
             '2026-11-25', '2027-02-23', ?4, 1, '20001', ?5, 0, 'active', \
             '2026-11-25T03:00:00.000Z')",
            rusqlite::params![
                receipt(n as u64).as_str(),
                format!("P{n}"),
                fingerprint(n as u64, 1).as_str(),
                proof,
                f
            ],
        )
        .expect("issuance");
    }
}

#[test]
fn version_4_reads_each_old_proof_text_as_its_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    v3_ledger(
        &path,
        &[
            &hex.to_uppercase(),
            &format!("content-sha256:{hex}"),
            "not-yet-printed",
        ],
    );
    let ledger = SqliteLedger::open_existing(&path).expect("migrated");
    assert_eq!(
        user_version(&ledger.conn, "test").expect("version"),
        SCHEMA_VERSION
    );
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
    // The one-active rule survived the rebuild of the table.
    assert_one_active_per_receipt(ledger, 0);
}

/// A second active issuance of receipt `n` (issued in batch `b`) is refused.
fn assert_one_active_per_receipt(mut ledger: SqliteLedger, n: u64) -> SqliteLedger {
    let mut dup = new_row(n, 9, "b");
    dup.piece_id = "P-dup".into();
    assert!(matches!(
        ledger.record(&[dup]),
        Err(LedgerError::AlreadyActive { .. })
    ));
    ledger
}

#[test]
fn version_4_refuses_a_proof_that_is_none_of_the_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    v3_ledger(&path, &["(the rebuilt PDF cannot be read back: bad xref)"]);
    let err = SqliteLedger::open_existing(&path).expect_err("refused");
    assert!(err.to_string().contains("schema version 4"), "{err}");
    // Left as it was: still version 3, the old column and its value there.
    let conn = rusqlite::Connection::open(&path).expect("open");
    assert_eq!(user_version(&conn, "test").expect("version"), 3);
    let kept: String = conn
        .query_row("SELECT letter_sha256 FROM issuances", [], |r| r.get(0))
        .expect("the old row");
    assert!(kept.starts_with("(the rebuilt PDF"), "{kept}");
}

#[test]
fn the_database_refuses_a_proof_or_redemption_that_breaks_its_checks() {
    let mut ledger = ledger_with_batch("b");
    ledger.record(&[new_row(1, 1, "b")]).expect("record");
    for bad in [
        "UPDATE issuances SET proof_kind = 'sha256'",
        "UPDATE issuances SET proof_kind = 'not-yet-printed'",
        "UPDATE issuances SET proof_digest = 'XYZ'",
        "UPDATE issuances SET status = 'redeemed'",
        "UPDATE issuances SET redeemed_at = '2026-12-01T00:00:00.000Z', redeemed_by = 'a'",
    ] {
        assert!(ledger.conn.execute(bad, []).is_err(), "{bad} was accepted");
    }
}

/// A SQLite file at schema version 6 holding two issuances of one
/// receipt (the older redeemed and unlinked), a mail event for each, and,
/// when `orphan`, a mail event for a piece no issuance has.
fn v6_ledger(path: &std::path::Path, orphan: bool) {
    let conn = ledger_at_version(path, 6);
    conn.execute_batch(
        "INSERT INTO mail_imports (id, kind, file_sha256, file_name, imported_at, rows, recorded, \
         duplicates, unmatched, rejected) VALUES (1, 'scans', \
         'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', 'scans.csv', \
         '2026-11-27T03:00:00.000Z', 2, 2, 0, 0, 0);
         INSERT INTO verify_attempts (id, receipt, attempted_at, outcome) \
         VALUES (5, 'IOE0000000007', '2026-11-28T09:00:00.000Z', 'mistyped');",
    )
    .expect("an import");
    let f = serde_json::to_string(&filing(7, "20001", None)).expect("json");
    for (id, issue_no, status, proof, digest, redeemed, unlinked) in [
        (
            11,
            1,
            "redeemed",
            "content-sha256",
            Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            Some("acct-1"),
            Some("the desk unlinked it"),
        ),
        (12, 2, "active", "not-yet-printed", None, None, None),
    ] {
        conn.execute(
            "INSERT INTO issuances (id, receipt, issue_no, form, batch_id, piece_id, key_id, \
             fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, zip5, \
             filing_json, forced, status, recorded_at, redeemed_at, redeemed_by, unlinked_at, \
             unlink_reason) VALUES (?1, ?2, ?3, 'I-485', 'b', ?4, 'test-2026', ?5, '2026-11-25', \
             '2027-02-23', ?6, ?7, 1, '20001', ?8, 0, ?9, '2026-11-25T03:00:00.000Z', \
             ?10, ?11, ?12, ?13)",
            rusqlite::params![
                id,
                receipt(7).as_str(),
                issue_no,
                format!("P{issue_no}"),
                fingerprint(7, issue_no).as_str(),
                proof,
                digest,
                f,
                status,
                redeemed.map(|_| "2026-11-30T10:00:00.000Z"),
                redeemed,
                unlinked.map(|_| "2026-12-01T10:00:00.000Z"),
                unlinked,
            ],
        )
        .expect("issuance");
        conn.execute(
            "INSERT INTO mail_events (piece_id, event, event_at, detail, import_id) \
             VALUES (?1, 'delivered', '2026-11-27T12:00:00Z', '', 1)",
            [format!("P{issue_no}")],
        )
        .expect("event");
    }
    if orphan {
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO mail_events (piece_id, event, event_at, detail, import_id) \
             VALUES ('P-nobody', 'delivered', '2026-11-27T12:00:00Z', '', 1);",
        )
        .expect("orphan event");
    }
}

#[test]
fn version_7_rebuilds_its_tables_keeping_every_row_and_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    v6_ledger(&path, false);
    let ledger = SqliteLedger::open_existing(&path).expect("migrated");
    assert_eq!(user_version(&ledger.conn, "t").expect("version"), 7);
    type Row = (i64, i64, String, Option<String>, Option<String>);
    let rows: Vec<Row> = ledger
        .conn
        .prepare(
            "SELECT id, issue_no, status, redeemed_by, unlink_reason FROM issuances ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .expect("rows");
    assert_eq!(
        rows,
        vec![
            (
                11,
                1,
                "redeemed".to_string(),
                Some("acct-1".to_string()),
                Some("the desk unlinked it".to_string())
            ),
            (12, 2, "active".to_string(), None, None),
        ]
    );
    let events: i64 = ledger
        .conn
        .query_row(
            "SELECT count(*) FROM mail_events JOIN issuances USING (piece_id) \
             JOIN mail_imports ON mail_imports.id = mail_events.import_id \
             WHERE mail_imports.kind = 'scans'",
            [],
            |r| r.get(0),
        )
        .expect("events");
    assert_eq!(
        events, 2,
        "each mail event still finds its issuance and import"
    );
    let attempt: (i64, String) = ledger
        .conn
        .query_row("SELECT id, outcome FROM verify_attempts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the attempt");
    assert_eq!(attempt, (5, "mistyped".to_string()));
    let fk: i64 = ledger
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("pragma");
    assert_eq!(fk, 1, "foreign keys are on again after the upgrade");
    ledger.integrity_check().expect("sound after the rebuild");
    // The rules survived the rebuild: one active code per receipt, and the
    // status and proof kinds the checks allow.
    let ledger = assert_one_active_per_receipt(ledger, 7);
    for bad in [
        "UPDATE issuances SET status = 'lost' WHERE id = 12",
        "UPDATE issuances SET proof_kind = 'sha1' WHERE id = 12",
        "UPDATE issuances SET status = 'Active' WHERE id = 12",
        "UPDATE verify_attempts SET outcome = 'guessed'",
        "UPDATE mail_imports SET kind = 'scan'",
        "UPDATE mail_events SET event = 'lost'",
    ] {
        let err = ledger.conn.execute(bad, []).expect_err(bad);
        assert!(err.to_string().contains("CHECK"), "{bad}: {err}");
    }
}

#[test]
fn version_7_refuses_a_ledger_whose_mail_events_refer_to_no_issuance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    v6_ledger(&path, true);
    let err = SqliteLedger::open_existing(&path).expect_err("refused");
    assert!(err.to_string().contains("schema version 7"), "{err}");
    assert!(err.to_string().contains("mail_events"), "{err}");
    let conn = rusqlite::Connection::open(&path).expect("open");
    assert_eq!(
        user_version(&conn, "t").expect("version"),
        6,
        "left as it was"
    );
}

#[test]
fn no_write_to_any_table_builds_a_temporary_btree_for_its_checks() {
    // SQLite checks `x IN (a, b, c)` by building a temporary B-tree on
    // every write (OpenEphemeral); the schema writes its checks as
    // comparisons, so no insert or update of any table builds one. Every
    // table is asked, so a new table with an `IN` list fails here.
    let ledger = SqliteLedger::open_in_memory().expect("open");
    let tables: Vec<String> = ledger
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    assert!(tables.len() >= 10, "{tables:?}");
    let opcodes = |sql: &str| -> Vec<String> {
        ledger
            .conn
            .prepare(&format!("EXPLAIN {sql}"))
            .and_then(|mut s| {
                let unbound = vec![rusqlite::types::Null; s.parameter_count()];
                s.query_map(rusqlite::params_from_iter(unbound), |r| r.get(1))?
                    .collect()
            })
            .expect(sql)
    };
    for table in &tables {
        let columns: Vec<String> = ledger
            .conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("columns");
        let names = columns.join(", ");
        let marks = vec!["?"; columns.len()].join(", ");
        let sets = columns
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect::<Vec<_>>()
            .join(", ");
        for sql in [
            format!("INSERT INTO {table} ({names}) VALUES ({marks})"),
            format!("UPDATE {table} SET {sets} WHERE rowid = ?"),
        ] {
            let ops = opcodes(&sql);
            assert!(ops.iter().any(|op| op == "Halt"), "{sql}: {ops:?}");
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{sql} builds a temporary B-tree: {ops:?}"
            );
        }
    }
}
