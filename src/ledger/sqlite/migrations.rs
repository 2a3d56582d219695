//! Schema versions. `MIGRATIONS[i]` takes `PRAGMA user_version` from `i` to
//! `i + 1`; they run in order inside one transaction, so a failed upgrade
//! leaves the file as it was. Append only: a released entry is never edited.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::ledger::{LedgerError, SCHEMA_VERSION};

/// One schema step: SQL, then an optional step in Rust in the same
/// transaction (for values SQL cannot make).
pub(in crate::ledger) struct Migration {
    pub sql: &'static str,
    pub then: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

pub(in crate::ledger) const MIGRATIONS: &[Migration] = &[
    // Version 1: the initial schema.
    Migration {
        sql: r#"
    CREATE TABLE batches (
        batch_id     TEXT PRIMARY KEY NOT NULL,
        batch_date   TEXT NOT NULL,
        key_id       TEXT NOT NULL,
        is_test      INTEGER NOT NULL CHECK (is_test IN (0, 1)),
        input_sha256 TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('nightly', 'reissue')),
        started_at   TEXT NOT NULL,
        completed_at TEXT,
        summary_json TEXT
    ) STRICT;

    CREATE TABLE issuances (
        id                INTEGER PRIMARY KEY,
        receipt           TEXT NOT NULL,
        issue_no          INTEGER NOT NULL CHECK (issue_no >= 1),
        form              TEXT NOT NULL,
        batch_id          TEXT NOT NULL REFERENCES batches (batch_id),
        piece_id          TEXT NOT NULL UNIQUE,
        key_id            TEXT NOT NULL,
        fingerprint       TEXT NOT NULL,
        notice_date       TEXT NOT NULL,
        expires_on        TEXT NOT NULL,
        letter_sha256     TEXT NOT NULL,
        pages             INTEGER NOT NULL,
        imb_serial        INTEGER,
        zip5              TEXT NOT NULL,
        zip4              TEXT,
        filing_json       TEXT NOT NULL,
        reason            TEXT,
        forced            INTEGER NOT NULL CHECK (forced IN (0, 1)),
        status            TEXT NOT NULL
                          CHECK (status IN ('active', 'superseded', 'revoked')),
        recorded_at       TEXT NOT NULL,
        status_changed_at TEXT,
        UNIQUE (receipt, issue_no)
    ) STRICT;

    -- At most one live code per receipt, whatever the program does.
    CREATE UNIQUE INDEX issuances_one_active ON issuances (receipt)
        WHERE status = 'active';

    -- Lets the manifest stream a batch in presort order without sorting.
    CREATE INDEX issuances_presort
        ON issuances (batch_id, zip5, zip4, receipt, issue_no);
    "#,
        then: None,
    },
    // Version 2: the ledger's identity, so a batch folder can name the
    // ledger it belongs to. A ledger from version 1 gets its id here.
    Migration {
        sql: r#"
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;
    "#,
        then: Some(insert_ledger_id),
    },
    // Version 3: the wrong-code limit. Attempts are counted per receipt,
    // never with what was typed; a lock ends at `locked_until`.
    Migration {
        sql: r#"
    CREATE TABLE verify_attempts (
        id           INTEGER PRIMARY KEY,
        receipt      TEXT NOT NULL,
        attempted_at TEXT NOT NULL,
        outcome      TEXT NOT NULL
                     CHECK (outcome IN ('wrong', 'mistyped', 'refused'))
    ) STRICT;
    CREATE INDEX verify_attempts_by_receipt
        ON verify_attempts (receipt, attempted_at);

    CREATE TABLE verify_locks (
        id           INTEGER PRIMARY KEY,
        receipt      TEXT NOT NULL,
        locked_at    TEXT NOT NULL,
        locked_until TEXT NOT NULL
    ) STRICT;
    CREATE INDEX verify_locks_by_receipt ON verify_locks (receipt, locked_until);
    "#,
        then: None,
    },
    // Version 4: a code's life after the envelope, and the letter proof as
    // a typed value. A code may be redeemed (once, by one account: when and
    // by whom are kept) or revoked with a reason; the proof that was one
    // text column, told apart by prefixes, becomes a kind and a digest that
    // the database checks. SQLite cannot change a CHECK in place, so the
    // table is rebuilt, keeping every row and its id; a proof that is none
    // of the three kinds fails the CHECK and the upgrade, leaving the file
    // as it was.
    Migration {
        sql: r#"
    CREATE TABLE issuances_v4 (
        id                INTEGER PRIMARY KEY,
        receipt           TEXT NOT NULL,
        issue_no          INTEGER NOT NULL CHECK (issue_no >= 1),
        form              TEXT NOT NULL,
        batch_id          TEXT NOT NULL REFERENCES batches (batch_id),
        piece_id          TEXT NOT NULL UNIQUE,
        key_id            TEXT NOT NULL,
        fingerprint       TEXT NOT NULL,
        notice_date       TEXT NOT NULL,
        expires_on        TEXT NOT NULL,
        proof_kind        TEXT NOT NULL
                          CHECK (proof_kind IN ('file-sha256', 'content-sha256', 'not-yet-printed')),
        proof_digest      TEXT,
        pages             INTEGER NOT NULL,
        imb_serial        INTEGER,
        zip5              TEXT NOT NULL,
        zip4              TEXT,
        filing_json       TEXT NOT NULL,
        reason            TEXT,
        forced            INTEGER NOT NULL CHECK (forced IN (0, 1)),
        status            TEXT NOT NULL
                          CHECK (status IN ('active', 'superseded', 'revoked', 'redeemed')),
        recorded_at       TEXT NOT NULL,
        status_changed_at TEXT,
        status_reason     TEXT,
        redeemed_at       TEXT,
        redeemed_by       TEXT,
        CHECK (CASE proof_kind
                 WHEN 'not-yet-printed' THEN proof_digest IS NULL
                 ELSE length(proof_digest) = 64 AND proof_digest NOT GLOB '*[^0-9a-f]*'
               END),
        CHECK ((status = 'redeemed') = (redeemed_at IS NOT NULL AND redeemed_by IS NOT NULL)),
        UNIQUE (receipt, issue_no)
    ) STRICT;

    INSERT INTO issuances_v4 (id, receipt, issue_no, form, batch_id, piece_id, key_id,
        fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial,
        zip5, zip4, filing_json, reason, forced, status, recorded_at, status_changed_at)
    SELECT id, receipt, issue_no, form, batch_id, piece_id, key_id,
        fingerprint, notice_date, expires_on,
        CASE
            WHEN letter_sha256 = 'not-yet-printed' THEN 'not-yet-printed'
            WHEN letter_sha256 LIKE 'content-sha256:%' THEN 'content-sha256'
            ELSE 'file-sha256'
        END,
        CASE
            WHEN letter_sha256 = 'not-yet-printed' THEN NULL
            WHEN letter_sha256 LIKE 'content-sha256:%' THEN lower(substr(letter_sha256, 16))
            ELSE lower(letter_sha256)
        END,
        pages, imb_serial, zip5, zip4, filing_json, reason, forced, status, recorded_at,
        status_changed_at
    FROM issuances ORDER BY id;

    DROP TABLE issuances;
    ALTER TABLE issuances_v4 RENAME TO issuances;

    CREATE UNIQUE INDEX issuances_one_active ON issuances (receipt)
        WHERE status = 'active';
    CREATE INDEX issuances_presort
        ON issuances (batch_id, zip5, zip4, receipt, issue_no);
    "#,
        then: None,
    },
    // Version 5: the mail trail. A letter may come back as undeliverable,
    // which stops its code ('returned', so the status CHECK is rebuilt as
    // in version 4). Hand-offs to the print vendor (`deliveries`, with the
    // files each one put in place), imported vendor and USPS files
    // (`mail_imports`, one row per file, so a file imported twice records
    // nothing twice) and what happened to each piece (`mail_events`, unique
    // per piece, event, time and detail, so overlapping files add nothing).
    Migration {
        sql: r#"
    CREATE TABLE issuances_v5 (
        id                INTEGER PRIMARY KEY,
        receipt           TEXT NOT NULL,
        issue_no          INTEGER NOT NULL CHECK (issue_no >= 1),
        form              TEXT NOT NULL,
        batch_id          TEXT NOT NULL REFERENCES batches (batch_id),
        piece_id          TEXT NOT NULL UNIQUE,
        key_id            TEXT NOT NULL,
        fingerprint       TEXT NOT NULL,
        notice_date       TEXT NOT NULL,
        expires_on        TEXT NOT NULL,
        proof_kind        TEXT NOT NULL
                          CHECK (proof_kind IN ('file-sha256', 'content-sha256', 'not-yet-printed')),
        proof_digest      TEXT,
        pages             INTEGER NOT NULL,
        imb_serial        INTEGER,
        zip5              TEXT NOT NULL,
        zip4              TEXT,
        filing_json       TEXT NOT NULL,
        reason            TEXT,
        forced            INTEGER NOT NULL CHECK (forced IN (0, 1)),
        status            TEXT NOT NULL
                          CHECK (status IN ('active', 'superseded', 'revoked', 'redeemed', 'returned')),
        recorded_at       TEXT NOT NULL,
        status_changed_at TEXT,
        status_reason     TEXT,
        redeemed_at       TEXT,
        redeemed_by       TEXT,
        CHECK (CASE proof_kind
                 WHEN 'not-yet-printed' THEN proof_digest IS NULL
                 ELSE length(proof_digest) = 64 AND proof_digest NOT GLOB '*[^0-9a-f]*'
               END),
        CHECK ((status = 'redeemed') = (redeemed_at IS NOT NULL AND redeemed_by IS NOT NULL)),
        UNIQUE (receipt, issue_no)
    ) STRICT;

    INSERT INTO issuances_v5 (id, receipt, issue_no, form, batch_id, piece_id, key_id, fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, zip5, zip4, filing_json, reason, forced, status, recorded_at, status_changed_at, status_reason, redeemed_at, redeemed_by)
    SELECT id, receipt, issue_no, form, batch_id, piece_id, key_id, fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, zip5, zip4, filing_json, reason, forced, status, recorded_at, status_changed_at, status_reason, redeemed_at, redeemed_by
    FROM issuances ORDER BY id;

    DROP TABLE issuances;
    ALTER TABLE issuances_v5 RENAME TO issuances;

    CREATE UNIQUE INDEX issuances_one_active ON issuances (receipt)
        WHERE status = 'active';
    CREATE INDEX issuances_presort
        ON issuances (batch_id, zip5, zip4, receipt, issue_no);
    CREATE INDEX issuances_by_serial ON issuances (imb_serial) WHERE imb_serial IS NOT NULL;

    CREATE TABLE deliveries (
        id             INTEGER PRIMARY KEY,
        batch_id       TEXT NOT NULL REFERENCES batches (batch_id),
        vendor         TEXT NOT NULL,
        again          INTEGER NOT NULL CHECK (again IN (0, 1)),
        control_sha256 TEXT NOT NULL CHECK (length(control_sha256) = 64),
        started_at     TEXT NOT NULL,
        completed_at   TEXT
    ) STRICT;
    -- One hand-off of a batch in progress at a time: a re-run resumes it.
    CREATE UNIQUE INDEX deliveries_one_open ON deliveries (batch_id)
        WHERE completed_at IS NULL;

    CREATE TABLE delivery_files (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
        name        TEXT NOT NULL,
        bytes       INTEGER NOT NULL CHECK (bytes >= 0),
        sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
        placed_at   TEXT NOT NULL,
        PRIMARY KEY (delivery_id, name)
    ) STRICT;

    CREATE TABLE mail_imports (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('acks', 'scans', 'returns')),
        file_sha256 TEXT NOT NULL CHECK (length(file_sha256) = 64),
        file_name   TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        rows        INTEGER NOT NULL,
        recorded    INTEGER NOT NULL,
        duplicates  INTEGER NOT NULL,
        unmatched   INTEGER NOT NULL,
        rejected    INTEGER NOT NULL,
        UNIQUE (kind, file_sha256)
    ) STRICT;

    CREATE TABLE mail_events (
        id        INTEGER PRIMARY KEY,
        piece_id  TEXT NOT NULL REFERENCES issuances (piece_id),
        event     TEXT NOT NULL CHECK (event IN ('printed', 'mailed', 'accepted',
                  'processed', 'out-for-delivery', 'delivered', 'returned', 'scanned')),
        event_at  TEXT NOT NULL,
        detail    TEXT NOT NULL,
        import_id INTEGER NOT NULL REFERENCES mail_imports (id),
        UNIQUE (piece_id, event, event_at, detail)
    ) STRICT;
    "#,
        then: None,
    },
    // Version 6: a receipt is linked to at most one account, ever, unless
    // the desk records an unlink (`unlinked_at`, `unlink_reason`). A ledger
    // written before this rule may hold a receipt linked twice (a reissue
    // raced a redemption): every link but the newest is recorded as
    // unlinked, with a reason that says why, so `status` shows both and the
    // desk can check the older account.
    Migration {
        sql: r#"
    ALTER TABLE issuances ADD COLUMN unlinked_at TEXT;
    ALTER TABLE issuances ADD COLUMN unlink_reason TEXT;
    UPDATE issuances
       SET unlinked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
           unlink_reason = 'schema 6: this receipt was linked to two accounts before one link per receipt was enforced; check this older account'
     WHERE status = 'redeemed'
       AND EXISTS (SELECT 1 FROM issuances newer
                    WHERE newer.receipt = issuances.receipt
                      AND newer.status = 'redeemed'
                      AND newer.issue_no > issuances.issue_no);
    CREATE UNIQUE INDEX issuances_one_link ON issuances (receipt)
        WHERE status = 'redeemed' AND unlinked_at IS NULL;

    -- The portal's wrong codes, counted against the one guessing (its
    -- account, its client) rather than the receipt: see ledger/guesses.rs.
    CREATE TABLE guesses (
        id         INTEGER PRIMARY KEY,
        receipt    TEXT NOT NULL,
        guessed_at TEXT NOT NULL,
        account    TEXT,
        client     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX guesses_by_account ON guesses (account, guessed_at);
    CREATE INDEX guesses_by_client ON guesses (client, guessed_at);
    CREATE INDEX guesses_by_receipt ON guesses (receipt, guessed_at);
    "#,
        then: None,
    },
    // Version 7: the same rules, cheaper to check. SQLite checks a
    // `CHECK (x IN (a, b, c, ...))` of three or more values by building a
    // temporary B-tree of the list on every insert and every update of the
    // column (seen with EXPLAIN: OpenEphemeral), which was a tenth of a
    // nightly run's ledger time. The same rules written as comparisons
    // (`x = a OR x = b ...`) admit exactly the same rows. SQLite cannot
    // change a CHECK in place, so each table with such a list (issuances,
    // verify_attempts, mail_imports, mail_events) is rebuilt as in
    // versions 4 and 5, keeping every row, its id and its indexes;
    // `migrate` runs this with foreign keys off (mail_events refers to
    // issuances and mail_imports) and checks them all before it commits.
    Migration {
        sql: r#"
    CREATE TABLE issuances_v7 (
        id                INTEGER PRIMARY KEY,
        receipt           TEXT NOT NULL,
        issue_no          INTEGER NOT NULL CHECK (issue_no >= 1),
        form              TEXT NOT NULL,
        batch_id          TEXT NOT NULL REFERENCES batches (batch_id),
        piece_id          TEXT NOT NULL UNIQUE,
        key_id            TEXT NOT NULL,
        fingerprint       TEXT NOT NULL,
        notice_date       TEXT NOT NULL,
        expires_on        TEXT NOT NULL,
        proof_kind        TEXT NOT NULL
                          CHECK (proof_kind = 'file-sha256' OR proof_kind = 'content-sha256'
                                 OR proof_kind = 'not-yet-printed'),
        proof_digest      TEXT,
        pages             INTEGER NOT NULL,
        imb_serial        INTEGER,
        zip5              TEXT NOT NULL,
        zip4              TEXT,
        filing_json       TEXT NOT NULL,
        reason            TEXT,
        forced            INTEGER NOT NULL CHECK (forced IN (0, 1)),
        status            TEXT NOT NULL
                          CHECK (status = 'active' OR status = 'superseded' OR status = 'revoked'
                                 OR status = 'redeemed' OR status = 'returned'),
        recorded_at       TEXT NOT NULL,
        status_changed_at TEXT,
        status_reason     TEXT,
        redeemed_at       TEXT,
        redeemed_by       TEXT,
        unlinked_at       TEXT,
        unlink_reason     TEXT,
        CHECK (CASE proof_kind
                 WHEN 'not-yet-printed' THEN proof_digest IS NULL
                 ELSE length(proof_digest) = 64 AND proof_digest NOT GLOB '*[^0-9a-f]*'
               END),
        CHECK ((status = 'redeemed') = (redeemed_at IS NOT NULL AND redeemed_by IS NOT NULL)),
        UNIQUE (receipt, issue_no)
    ) STRICT;

    INSERT INTO issuances_v7 (id, receipt, issue_no, form, batch_id, piece_id, key_id, fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, zip5, zip4, filing_json, reason, forced, status, recorded_at, status_changed_at, status_reason, redeemed_at, redeemed_by, unlinked_at, unlink_reason)
    SELECT id, receipt, issue_no, form, batch_id, piece_id, key_id, fingerprint, notice_date, expires_on, proof_kind, proof_digest, pages, imb_serial, zip5, zip4, filing_json, reason, forced, status, recorded_at, status_changed_at, status_reason, redeemed_at, redeemed_by, unlinked_at, unlink_reason
    FROM issuances ORDER BY id;

    DROP TABLE issuances;
    ALTER TABLE issuances_v7 RENAME TO issuances;

    CREATE UNIQUE INDEX issuances_one_active ON issuances (receipt)
        WHERE status = 'active';
    CREATE INDEX issuances_presort
        ON issuances (batch_id, zip5, zip4, receipt, issue_no);
    CREATE INDEX issuances_by_serial ON issuances (imb_serial) WHERE imb_serial IS NOT NULL;
    CREATE UNIQUE INDEX issuances_one_link ON issuances (receipt)
        WHERE status = 'redeemed' AND unlinked_at IS NULL;

    CREATE TABLE verify_attempts_v7 (
        id           INTEGER PRIMARY KEY,
        receipt      TEXT NOT NULL,
        attempted_at TEXT NOT NULL,
        outcome      TEXT NOT NULL
                     CHECK (outcome = 'wrong' OR outcome = 'mistyped' OR outcome = 'refused')
    ) STRICT;
    INSERT INTO verify_attempts_v7 (id, receipt, attempted_at, outcome)
    SELECT id, receipt, attempted_at, outcome FROM verify_attempts ORDER BY id;
    DROP TABLE verify_attempts;
    ALTER TABLE verify_attempts_v7 RENAME TO verify_attempts;
    CREATE INDEX verify_attempts_by_receipt
        ON verify_attempts (receipt, attempted_at);

    CREATE TABLE mail_imports_v7 (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL
                    CHECK (kind = 'acks' OR kind = 'scans' OR kind = 'returns'),
        file_sha256 TEXT NOT NULL CHECK (length(file_sha256) = 64),
        file_name   TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        rows        INTEGER NOT NULL,
        recorded    INTEGER NOT NULL,
        duplicates  INTEGER NOT NULL,
        unmatched   INTEGER NOT NULL,
        rejected    INTEGER NOT NULL,
        UNIQUE (kind, file_sha256)
    ) STRICT;
    INSERT INTO mail_imports_v7 (id, kind, file_sha256, file_name, imported_at, rows, recorded, duplicates, unmatched, rejected)
    SELECT id, kind, file_sha256, file_name, imported_at, rows, recorded, duplicates, unmatched, rejected
    FROM mail_imports ORDER BY id;
    DROP TABLE mail_imports;
    ALTER TABLE mail_imports_v7 RENAME TO mail_imports;

    CREATE TABLE mail_events_v7 (
        id        INTEGER PRIMARY KEY,
        piece_id  TEXT NOT NULL REFERENCES issuances (piece_id),
        event     TEXT NOT NULL
                  CHECK (event = 'printed' OR event = 'mailed' OR event = 'accepted'
                         OR event = 'processed' OR event = 'out-for-delivery'
                         OR event = 'delivered' OR event = 'returned' OR event = 'scanned'),
        event_at  TEXT NOT NULL,
        detail    TEXT NOT NULL,
        import_id INTEGER NOT NULL REFERENCES mail_imports (id),
        UNIQUE (piece_id, event, event_at, detail)
    ) STRICT;
    INSERT INTO mail_events_v7 (id, piece_id, event, event_at, detail, import_id)
    SELECT id, piece_id, event, event_at, detail, import_id FROM mail_events ORDER BY id;
    DROP TABLE mail_events;
    ALTER TABLE mail_events_v7 RENAME TO mail_events;
    "#,
        then: None,
    },
];

/// The `meta` row that holds the ledger's identity.
pub(super) const LEDGER_ID_KEY: &str = "ledger_id";

/// Random bytes in a ledger id: 128 bits, so two ledgers never share one.
const LEDGER_ID_BYTES: usize = 16;

/// A new ledger id: 32 hex digits straight from the operating system's
/// random source.
fn new_ledger_id() -> Result<String, rand::rngs::SysError> {
    use rand::TryRng;
    let mut bytes = [0u8; LEDGER_ID_BYTES];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn insert_ledger_id(conn: &Connection) -> rusqlite::Result<()> {
    let id = new_ledger_id().map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)",
        [LEDGER_ID_KEY, id.as_str()],
    )
    .map(|_| ())
}

// Both backends must agree on what each schema version means.
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

pub(in crate::ledger) fn user_version(conn: &Connection, label: &str) -> Result<i64, LedgerError> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| super::rows::classify(label, "read its schema version", source))
}

/// Brings the schema up to date, or refuses a file from a newer program.
pub(super) fn migrate(conn: &mut Connection, label: &str) -> Result<(), LedgerError> {
    let found = user_version(conn, label)?;
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            ledger: label.to_string(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let migrate_err = |version: usize| {
        move |source| {
            super::rows::classify(
                label,
                format!("upgrade it to schema version {version} (the file was left as it was)"),
                source,
            )
        }
    };
    let first = usize::try_from(found).unwrap_or(0);
    // Foreign keys are off while the steps run (SQLite's own procedure for
    // rebuilding a table others refer to: dropping the old table would
    // otherwise count every row that refers to it as broken), and every
    // one of them is checked before the upgrade commits. The setting
    // cannot change inside a transaction, so it is made around it.
    let fk_was: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .map_err(migrate_err(first + 1))?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(migrate_err(first + 1))?;
    let upgraded = run_steps(conn, first, &migrate_err);
    conn.pragma_update(None, "foreign_keys", fk_was)
        .map_err(migrate_err(first + 1))?;
    upgraded
}

/// The steps from version `first` on, with the foreign keys checked, in
/// one transaction.
fn run_steps<E: Fn(usize) -> F, F: FnOnce(rusqlite::Error) -> LedgerError>(
    conn: &mut Connection,
    first: usize,
    migrate_err: &E,
) -> Result<(), LedgerError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(migrate_err(first + 1))?;
    for (index, step) in MIGRATIONS.iter().enumerate().skip(first) {
        let version = index + 1;
        tx.execute_batch(step.sql).map_err(migrate_err(version))?;
        if let Some(then) = step.then {
            then(&tx).map_err(migrate_err(version))?;
        }
        // user_version lives in the database header, so setting it is
        // part of the transaction: a failed upgrade leaves no trace.
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(migrate_err(version))?;
    }
    let last = MIGRATIONS.len();
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()
        .map_err(migrate_err(last))?;
    if let Some(table) = broken {
        return Err(migrate_err(last)(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some(format!(
                "a row of {table} refers to one that does not exist"
            )),
        )));
    }
    tx.commit().map_err(migrate_err(last))
}
