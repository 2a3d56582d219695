//! The PostgreSQL ledger's schema versions.
//!
//! The schema has the same version numbers, tables, columns, statuses and
//! constraints as the SQLite one (see `sqlite/migrations.rs`), written in
//! PostgreSQL's native types: dates are `DATE`, audit times `TIMESTAMPTZ`,
//! flags `BOOLEAN`. Text that is sorted or compared for the presort order
//! uses the "C" collation, so the order does not depend on the server's
//! locale and matches SQLite's byte order.

use ::postgres::{Client, GenericClient};

use super::rows::pg_err;
use crate::ledger::{LedgerError, SCHEMA_VERSION};

/// `PG_MIGRATIONS[i]` takes the schema from version `i` to `i + 1`, exactly
/// like `MIGRATIONS[i]` does on SQLite. Append only.
pub(in crate::ledger) const PG_MIGRATIONS: &[&str] = &[
    // Version 1: the initial schema.
    r#"
    CREATE TABLE batches (
        batch_id     TEXT COLLATE "C" PRIMARY KEY,
        batch_date   DATE NOT NULL,
        key_id       TEXT NOT NULL,
        is_test      BOOLEAN NOT NULL,
        input_sha256 TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('nightly', 'reissue')),
        started_at   TIMESTAMPTZ NOT NULL,
        completed_at TIMESTAMPTZ,
        summary_json TEXT
    );

    CREATE TABLE issuances (
        id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        receipt           TEXT COLLATE "C" NOT NULL,
        issue_no          INTEGER NOT NULL CHECK (issue_no >= 1),
        form              TEXT NOT NULL,
        batch_id          TEXT COLLATE "C" NOT NULL REFERENCES batches (batch_id),
        piece_id          TEXT NOT NULL UNIQUE,
        key_id            TEXT NOT NULL,
        fingerprint       TEXT NOT NULL,
        notice_date       DATE NOT NULL,
        expires_on        DATE NOT NULL,
        letter_sha256     TEXT NOT NULL,
        pages             INTEGER NOT NULL,
        imb_serial        BIGINT,
        zip5              TEXT COLLATE "C" NOT NULL,
        zip4              TEXT COLLATE "C",
        filing_json       TEXT NOT NULL,
        reason            TEXT,
        forced            BOOLEAN NOT NULL,
        status            TEXT NOT NULL
                          CHECK (status IN ('active', 'superseded', 'revoked')),
        recorded_at       TIMESTAMPTZ NOT NULL,
        status_changed_at TIMESTAMPTZ,
        UNIQUE (receipt, issue_no)
    );

    -- At most one live code per receipt, whatever the program does.
    CREATE UNIQUE INDEX issuances_one_active ON issuances (receipt)
        WHERE status = 'active';

    -- Serves the manifest's presort order (plain ZIPs before ZIP+4s).
    CREATE INDEX issuances_presort
        ON issuances (batch_id, zip5, (coalesce(zip4, '')), receipt, issue_no);
    "#,
    // Version 2: the ledger's identity (32 hex digits from the server's
    // random source, like SQLite's), recorded in every batch.json.
    r#"
    CREATE TABLE meta (
        name  TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (name, value)
        VALUES ('ledger_id', replace(gen_random_uuid()::text, '-', ''));
    "#,
    // Version 3: the wrong-code limit (see SQLite's version 3).
    r#"
    CREATE TABLE verify_attempts (
        id           BIGSERIAL PRIMARY KEY,
        receipt      TEXT COLLATE "C" NOT NULL,
        attempted_at TIMESTAMPTZ NOT NULL,
        outcome      TEXT NOT NULL
                     CHECK (outcome IN ('wrong', 'mistyped', 'refused'))
    );
    CREATE INDEX verify_attempts_by_receipt
        ON verify_attempts (receipt, attempted_at);

    CREATE TABLE verify_locks (
        id           BIGSERIAL PRIMARY KEY,
        receipt      TEXT COLLATE "C" NOT NULL,
        locked_at    TIMESTAMPTZ NOT NULL,
        locked_until TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX verify_locks_by_receipt ON verify_locks (receipt, locked_until);
    "#,
    // Version 4: redeemed and revoked codes, and the letter proof as a kind
    // and a digest (see SQLite's version 4). A proof that is none of the
    // three kinds fails a CHECK and the upgrade.
    r#"
    ALTER TABLE issuances
        ADD COLUMN proof_kind    TEXT,
        ADD COLUMN proof_digest  TEXT,
        ADD COLUMN status_reason TEXT,
        ADD COLUMN redeemed_at   TIMESTAMPTZ,
        ADD COLUMN redeemed_by   TEXT;
    UPDATE issuances SET
        proof_kind = CASE
            WHEN letter_sha256 = 'not-yet-printed' THEN 'not-yet-printed'
            WHEN letter_sha256 LIKE 'content-sha256:%' THEN 'content-sha256'
            ELSE 'file-sha256'
        END,
        proof_digest = CASE
            WHEN letter_sha256 = 'not-yet-printed' THEN NULL
            WHEN letter_sha256 LIKE 'content-sha256:%' THEN lower(substr(letter_sha256, 16))
            ELSE lower(letter_sha256)
        END;
    ALTER TABLE issuances
        ALTER COLUMN proof_kind SET NOT NULL,
        DROP COLUMN letter_sha256,
        ADD CONSTRAINT issuances_proof_kind_check
            CHECK (proof_kind IN ('file-sha256', 'content-sha256', 'not-yet-printed')),
        ADD CONSTRAINT issuances_proof_digest_check CHECK (CASE proof_kind
            WHEN 'not-yet-printed' THEN proof_digest IS NULL
            ELSE proof_digest ~ '^[0-9a-f]{64}$'
        END),
        DROP CONSTRAINT issuances_status_check,
        ADD CONSTRAINT issuances_status_check
            CHECK (status IN ('active', 'superseded', 'revoked', 'redeemed')),
        ADD CONSTRAINT issuances_redeemed_check
            CHECK ((status = 'redeemed') = (redeemed_at IS NOT NULL AND redeemed_by IS NOT NULL));
    "#,
    // Version 5: the mail trail (see SQLite's version 5).
    r#"
    ALTER TABLE issuances
        DROP CONSTRAINT issuances_status_check,
        ADD CONSTRAINT issuances_status_check
            CHECK (status IN ('active', 'superseded', 'revoked', 'redeemed', 'returned'));
    CREATE INDEX issuances_by_serial ON issuances (imb_serial) WHERE imb_serial IS NOT NULL;

    CREATE TABLE deliveries (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        batch_id       TEXT COLLATE "C" NOT NULL REFERENCES batches (batch_id),
        vendor         TEXT NOT NULL,
        again          BOOLEAN NOT NULL,
        control_sha256 TEXT NOT NULL CHECK (length(control_sha256) = 64),
        started_at     TIMESTAMPTZ NOT NULL,
        completed_at   TIMESTAMPTZ
    );
    CREATE UNIQUE INDEX deliveries_one_open ON deliveries (batch_id)
        WHERE completed_at IS NULL;

    CREATE TABLE delivery_files (
        delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
        name        TEXT COLLATE "C" NOT NULL,
        bytes       BIGINT NOT NULL CHECK (bytes >= 0),
        sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
        placed_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (delivery_id, name)
    );

    CREATE TABLE mail_imports (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('acks', 'scans', 'returns')),
        file_sha256 TEXT NOT NULL CHECK (length(file_sha256) = 64),
        file_name   TEXT NOT NULL,
        imported_at TIMESTAMPTZ NOT NULL,
        rows        BIGINT NOT NULL,
        recorded    BIGINT NOT NULL,
        duplicates  BIGINT NOT NULL,
        unmatched   BIGINT NOT NULL,
        rejected    BIGINT NOT NULL,
        UNIQUE (kind, file_sha256)
    );

    CREATE TABLE mail_events (
        id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        piece_id  TEXT NOT NULL REFERENCES issuances (piece_id),
        event     TEXT NOT NULL CHECK (event IN ('printed', 'mailed', 'accepted',
                  'processed', 'out-for-delivery', 'delivered', 'returned', 'scanned')),
        event_at  TEXT COLLATE "C" NOT NULL,
        detail    TEXT NOT NULL,
        import_id BIGINT NOT NULL REFERENCES mail_imports (id),
        UNIQUE (piece_id, event, event_at, detail)
    );
    "#,
    // Version 6: one account link per receipt (see SQLite's version 6).
    r#"
    ALTER TABLE issuances ADD COLUMN unlinked_at TIMESTAMPTZ;
    ALTER TABLE issuances ADD COLUMN unlink_reason TEXT;
    UPDATE issuances i
       SET unlinked_at = now(),
           unlink_reason = 'schema 6: this receipt was linked to two accounts before one link per receipt was enforced; check this older account'
     WHERE status = 'redeemed'
       AND EXISTS (SELECT 1 FROM issuances newer
                    WHERE newer.receipt = i.receipt
                      AND newer.status = 'redeemed'
                      AND newer.issue_no > i.issue_no);
    CREATE UNIQUE INDEX issuances_one_link ON issuances (receipt)
        WHERE status = 'redeemed' AND unlinked_at IS NULL;

    -- The portal's wrong codes, counted against the one guessing (its
    -- account, its client) rather than the receipt: see ledger/guesses.rs.
    CREATE TABLE guesses (
        id         BIGSERIAL PRIMARY KEY,
        receipt    TEXT NOT NULL,
        guessed_at TIMESTAMPTZ NOT NULL,
        account    TEXT,
        client     TEXT NOT NULL
    );
    CREATE INDEX guesses_by_account ON guesses (account, guessed_at);
    CREATE INDEX guesses_by_client ON guesses (client, guessed_at);
    CREATE INDEX guesses_by_receipt ON guesses (receipt, guessed_at);
    "#, // Version 7: SQLite rewrote its issuances CHECKs as comparisons, which
    // it checks without a temporary B-tree; PostgreSQL checks `IN` lists
    // as they are, so the rules here are already the same and nothing
    // changes but the version.
    "SELECT 1;",
];

// Both backends must agree on what each schema version means.
const _: () = assert!(PG_MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// The one-row table that holds the schema version (SQLite keeps it in
/// `PRAGMA user_version`).
const VERSION_TABLE: &str = "ledger_schema_version";

/// Advisory lock key that serialises first use by several processes at once.
const MIGRATION_LOCK_KEY: i64 = 0x0061_6c5f_6d69_6772; // "al_migr"

/// The schema version found in the database (0 for a new one).
pub(super) fn schema_version(
    client: &mut impl GenericClient,
    label: &str,
) -> Result<i64, LedgerError> {
    let err = |e| pg_err(label, "read its schema version", e);
    // A plain catalog query, not to_regclass(): the latter may answer from
    // a cache that has not yet seen another process's just-committed
    // migration (found by the test of several first uses at once).
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = $1 AND n.nspname = current_schema())",
            &[&VERSION_TABLE],
        )
        .map_err(err)?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_opt(&format!("SELECT version FROM {VERSION_TABLE}"), &[])
        .map_err(err)?;
    Ok(row.map(|r| i64::from(r.get::<_, i32>(0))).unwrap_or(0))
}

/// Brings the schema up to date in one transaction, or refuses a database
/// written by a newer program. Several processes may call it at once.
pub(super) fn migrate(client: &mut Client, label: &str) -> Result<(), LedgerError> {
    let found = schema_version(client, label)?;
    if found > SCHEMA_VERSION {
        return Err(too_new(label, found));
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let first = usize::try_from(found).unwrap_or(0);
    let err = |version: usize| {
        move |e| {
            pg_err(
                label,
                format!("upgrade it to schema version {version} (the database was left as it was)"),
                e,
            )
        }
    };
    let mut tx = client.transaction().map_err(err(first + 1))?;
    // Another process may be migrating: wait for it, then look again.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .map_err(err(first + 1))?;
    let found = schema_version(&mut tx, label)?;
    if found > SCHEMA_VERSION {
        return Err(too_new(label, found));
    }
    let first = usize::try_from(found).unwrap_or(0);
    if first == PG_MIGRATIONS.len() {
        return Ok(());
    }
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (\
         one_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one_row), \
         version INTEGER NOT NULL)"
    ))
    .map_err(err(first + 1))?;
    for (index, sql) in PG_MIGRATIONS.iter().enumerate().skip(first) {
        let version = index + 1;
        tx.batch_execute(sql).map_err(err(version))?;
        let v = i32::try_from(version).unwrap_or(i32::MAX);
        tx.execute(
            &format!(
                "INSERT INTO {VERSION_TABLE} (one_row, version) VALUES (TRUE, $1) \
                 ON CONFLICT (one_row) DO UPDATE SET version = EXCLUDED.version"
            ),
            &[&v],
        )
        .map_err(err(version))?;
    }
    tx.commit().map_err(err(PG_MIGRATIONS.len()))
}

fn too_new(label: &str, found: i64) -> LedgerError {
    LedgerError::TooNew {
        ledger: label.to_string(),
        found,
        known: SCHEMA_VERSION,
    }
}
