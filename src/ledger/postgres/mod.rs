//! [`PostgresLedger`]: one ledger on a PostgreSQL server, shared by every
//! host that issues, reissues or verifies.
//!
//! # Why the synchronous `postgres` client
//!
//! A run is a batch CLI with one database connection per process, used by
//! one thread at a time between rendering chunks: there is nothing to
//! overlap, so an async runtime in our own code would add a second
//! programming model and gain nothing. The `postgres` crate is the
//! maintained synchronous face of `tokio-postgres` (it drives a private
//! single-threaded runtime inside), so callers stay plain blocking code,
//! exactly as with SQLite.
//!
//! # The same guarantees as SQLite
//!
//! The schema has the same version number, tables, columns and statuses as
//! the SQLite one, and the database itself enforces the rules: UNIQUE
//! (receipt, issue_no), unique piece IDs, and a partial unique index that
//! allows one `active` issuance per receipt. Each chunk is one transaction
//! and one binary `COPY` (one stream whatever the chunk size); its rows are
//! sent in receipt order so two hosts inserting overlapping chunks take
//! their index locks in the same order and never deadlock. When another
//! host has issued a receipt first, the chunk is rolled back whole and the
//! error names the receipt ([`LedgerError::DuplicateIssuance`] or
//! [`LedgerError::AlreadyActive`]).
//!
//! Migrations run on first use inside one transaction, behind a
//! transaction-level advisory lock so that several hosts starting at once
//! migrate once; a database whose schema is newer than this program is
//! refused. A reissue takes a transaction-level advisory lock on its
//! receipt so two operators cannot both compute the same next issue number.
//!
//! # One run per batch
//!
//! [`IssuanceLedger::lock_batch`] takes a session-level advisory lock on a hash of
//! the schema and batch id: a second run of the same batch refuses while the
//! first holds it, and the server releases it when the holder's connection
//! drops, so a run killed with `kill -9` never leaves a stale lock.
//!
//! # Passwords
//!
//! The URL may carry a password. It is stripped ([`redact_url`]) before the
//! URL is used in any message, and connection errors name the host, port,
//! database and user only.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::time::Duration;

use ::postgres::types::Type;
use ::postgres::{Client, Config};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::filing::ReceiptNumber;

use self::connect::start_up;
use self::rows::{
    batch_from_row, copy_rows, is_constraint, issuance_from_row, pg_err, pg_ints,
    record_printed_pg, BATCH_COLUMNS,
};
use self::url::describe_target;
pub use self::url::redact_url;
use self::watch::Watched;
pub use self::watch::{
    stop_waiting_on, DEFAULT_TIMEOUT_S as LEDGER_TIMEOUT_DEFAULT_S, EXIT_STOPPED_WAITING,
    TIMEOUT_ENV as LEDGER_TIMEOUT_ENV,
};
use crate::ledger::attempts::{AttemptKind, AttemptLimit, AttemptSummary, Gate};
use crate::ledger::check_batch_known;
use crate::ledger::guesses::{GuessGate, GuessLimit, Guesser, Tallies};
use crate::ledger::life::{Answer, Change, Unlinking};
use crate::ledger::redeem::{RedeemStep, Revocation};
use crate::ledger::types::{batch_differences, is_test_column};
use crate::ledger::{
    BatchRecord, CodeLife, DeliveredFile, Delivery, Issuance, IssuanceLedger, LedgerError,
    MailCounts, MailEvent, MailImport, MailRecorded, MailTrail, NewIssuance, PieceRef,
    ReceiptState, Sha256Hex, ISSUANCE_COLUMNS,
};

mod attempts;
mod connect;
mod diagnose;
mod guesses;
mod lifecycle;
mod locked;
mod mail;
pub(in crate::ledger) mod migrations;
mod rows;
mod url;
mod watch;

/// How long connecting may take before the run gives up with a sentence.
const CONNECT_TIMEOUT_S: u64 = 10;

/// Seconds a connection is idle before the kernel checks it is still there.
const KEEPALIVE_IDLE_S: u64 = 30;

/// Rows fetched per round trip when a batch is walked in presort order.
const PRESORT_PAGE_ROWS: i64 = 1_000;

/// The PostgreSQL ledger. Reads take `&self` in the [`IssuanceLedger`] trait while a
/// `postgres::Client` needs `&mut`, hence the `RefCell`; no borrow is held
/// while a caller's closure runs.
pub struct PostgresLedger {
    client: Watched,
    /// The URL without its password, as shown in messages.
    label: String,
    /// The schema the tables live in (the first on the search path); part of
    /// every advisory lock key so two ledgers in one database never collide.
    schema: String,
    clock: fn() -> DateTime<Utc>,
    /// The portal's guess read ([`guesses::history_for_guess`]), prepared
    /// on this connection the first time it is needed: it runs on every
    /// verify and redeem, and a prepared statement is planned once.
    guess_read: std::cell::OnceCell<::postgres::Statement>,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("url", &self.label)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// One keyset page of a batch in presort order, read by walking the presort
/// index. Right after a batch's rows are copied in, the table's statistics
/// are stale and the planner would sort the whole rest of the batch for
/// every page (63 ms a page at 100,000 rows, against 1.5 ms on the index),
/// so the page is read in a transaction that rules out sorting and bitmap
/// scans.
fn presort_page(
    client: &mut Client,
    sql: &str,
    params: &[&(dyn ::postgres::types::ToSql + Sync)],
) -> Result<Vec<::postgres::Row>, ::postgres::Error> {
    let mut tx = client.transaction()?;
    tx.batch_execute("SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off")?;
    let page = tx.query(sql, params)?;
    tx.commit()?;
    Ok(page)
}

/// A stable 64-bit advisory lock key for `parts`.
fn lock_key(parts: &[&str]) -> i64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl PostgresLedger {
    /// Connects to the ledger at `url` (`postgres://` or `postgresql://`),
    /// creating or upgrading its tables on first use.
    pub fn connect(url: &str) -> Result<Self, LedgerError> {
        let label = redact_url(url);
        // The parser's message never holds the password, but may quote a
        // value; the URL itself is shown only without it.
        let mut config = Config::from_str(url).map_err(|e| LedgerError::BadUrl {
            ledger: label.clone(),
            detail: e.to_string(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(CONNECT_TIMEOUT_S));
        }
        if config.get_application_name().is_none() {
            config.application_name("access-letters");
        }
        // A dropped network link is noticed by the kernel, not in hours.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(KEEPALIVE_IDLE_S));
        let limit = watch::timeout_from_env();
        let target = describe_target(&config);
        let (client, schema) = connect::within(limit, &target, &label, move |label| {
            start_up(&config, label, limit)
        })?;
        Ok(PostgresLedger {
            client: Watched::new(client, &label, limit),
            label,
            schema,
            clock: Utc::now,
            guess_read: std::cell::OnceCell::new(),
        })
    }

    /// One change of a receipt's codes, decided and recorded in one
    /// transaction under the receipt's lock ([`crate::ledger::life`]).
    fn change(
        &mut self,
        receipt: &ReceiptNumber,
        change: Change<'_>,
        now: DateTime<Utc>,
    ) -> Result<Answer, LedgerError> {
        let (schema, label) = (self.schema.clone(), self.label.clone());
        let mut client = self.client.get_mut();
        lifecycle::run(&mut client, (&label, &schema), receipt, change, now)
    }

    /// Replaces the clock used for audit timestamps (tests use a fixed one).
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Self {
        self.clock = clock;
        self
    }

    /// The URL as shown in messages (without the password).
    pub fn label(&self) -> &str {
        &self.label
    }

    fn err(&self, action: &'static str) -> impl Fn(::postgres::Error) -> LedgerError + '_ {
        move |source| pg_err(&self.label, action, source)
    }

    /// Works out which rule a failed chunk broke, after its rollback
    /// ([`diagnose::diagnose`]).
    fn diagnose(&self, rows: &[NewIssuance], original: ::postgres::Error) -> LedgerError {
        diagnose::diagnose(&mut self.client.borrow_mut(), &self.label, rows, original)
    }
}

impl IssuanceLedger for PostgresLedger {
    fn start_batch(&mut self, batch: &BatchRecord) -> Result<(), LedgerError> {
        let now = (self.clock)();
        let action = "start the batch";
        let mut client = self.client.get_mut();
        let label = &self.label;
        let err = |e| pg_err(label, action, e);
        // ON CONFLICT DO NOTHING: two hosts starting the same batch at once
        // both succeed, and both then compare against the stored row.
        client
            .execute(
                "INSERT INTO batches (batch_id, batch_date, key_id, is_test, input_sha256, \
                 kind, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (batch_id) DO NOTHING",
                &[
                    &batch.batch_id,
                    &batch.batch_date,
                    &batch.key_id,
                    &is_test_column(batch.mode),
                    &batch.input_sha256.as_str(),
                    &batch.kind.as_str(),
                    &now,
                ],
            )
            .map_err(err)?;
        let row = client
            .query_one(
                &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE batch_id = $1"),
                &[&batch.batch_id],
            )
            .map_err(err)?;
        let (old, _) = batch_from_row(label, &row)?;
        let diffs = batch_differences(&old, batch);
        if !diffs.is_empty() {
            return Err(LedgerError::BatchConflict {
                ledger: label.clone(),
                batch_id: batch.batch_id.clone(),
                differences: diffs.join(" and "),
            });
        }
        Ok(())
    }

    fn batch(&self, batch_id: &str) -> Result<Option<(BatchRecord, Option<String>)>, LedgerError> {
        let row = self
            .client
            .borrow_mut()
            .query_opt(
                &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE batch_id = $1"),
                &[&batch_id],
            )
            .map_err(self.err("read the batch"))?;
        row.map(|r| batch_from_row(&self.label, &r)).transpose()
    }

    fn complete_batch(&mut self, batch_id: &str, summary_json: &str) -> Result<(), LedgerError> {
        let now = (self.clock)();
        let changed = self
            .client
            .get_mut()
            .execute(
                "UPDATE batches SET completed_at = $2, summary_json = $3 WHERE batch_id = $1",
                &[&batch_id, &now, &summary_json],
            )
            .map_err(|e| pg_err(&self.label, "mark the batch complete", e))?;
        check_batch_known(&self.label, batch_id, changed)
    }

    fn receipt_states(
        &self,
        receipts: &[ReceiptNumber],
    ) -> Result<HashMap<ReceiptNumber, ReceiptState>, LedgerError> {
        let wanted: HashMap<&str, &ReceiptNumber> =
            receipts.iter().map(|r| (r.as_str(), r)).collect();
        let keys: Vec<&str> = wanted.keys().copied().collect();
        // One statement, one snapshot, one round trip for the whole chunk.
        // One index probe per receipt: `receipt = ANY($1)` would do, but on
        // a table filled faster than autovacuum analyses it (a first night)
        // the planner guesses a sequential scan; the lateral subquery (kept
        // apart by OFFSET 0) makes it probe the (receipt, issue_no) index.
        let rows = self
            .client
            .borrow_mut()
            .query(
                "SELECT i.receipt, i.issue_no, i.status, i.batch_id \
                 FROM UNNEST($1::text[]) AS u(r) CROSS JOIN LATERAL \
                 (SELECT receipt, issue_no, status, batch_id FROM issuances \
                  WHERE receipt = u.r OFFSET 0) AS i",
                &[&keys],
            )
            .map_err(self.err("look up receipts"))?;
        let mut states: HashMap<ReceiptNumber, ReceiptState> = HashMap::new();
        for row in rows {
            let text: String = row.get("receipt");
            let Some(receipt) = wanted.get(text.as_str()) else {
                continue;
            };
            let issue_no = rows::get_u32(&self.label, &row, "issue_no")?;
            let status: String = row.get("status");
            states
                .entry((*receipt).clone())
                .or_default()
                .fold(issue_no, &status, || row.get("batch_id"));
        }
        Ok(states)
    }

    fn ledger_id(&self) -> Result<String, LedgerError> {
        let row = self
            .client
            .borrow_mut()
            .query_opt("SELECT value FROM meta WHERE name = 'ledger_id'", &[])
            .map_err(self.err("read its identity"))?;
        row.map(|r| r.get::<_, String>(0))
            .ok_or_else(|| LedgerError::Damaged {
                ledger: self.label().to_string(),
                detail: "it has no ledger id".into(),
            })
    }

    fn last_serial(&self) -> Result<Option<u64>, LedgerError> {
        let row = self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT imb_serial FROM issuances WHERE imb_serial IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
                &[],
            )
            .map_err(self.err("read the last barcode serial"))?;
        Ok(row.and_then(|r| u64::try_from(r.get::<_, i64>(0)).ok()))
    }

    fn record(&mut self, rows: &[NewIssuance]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        for row in rows {
            row.check()?;
        }
        if let Some(e) = diagnose::duplicate_within(&self.label, rows) {
            return Err(e);
        }
        for row in rows {
            pg_ints(row).map_err(|detail| LedgerError::Damaged {
                ledger: self.label.clone(),
                detail,
            })?;
        }
        let now = (self.clock)();
        let action = "record issuances";
        let result = {
            let mut client = self.client.get_mut();
            let label = &self.label;
            (|| {
                let mut tx = client.transaction()?;
                copy_rows(&mut tx, rows, now)?;
                tx.commit()
            })()
            .map_err(|e| (label, e))
        };
        match result {
            Ok(()) => Ok(()),
            // The transaction was dropped, so rolled back: nothing of the
            // chunk is in the ledger. Now find out which row was refused.
            Err((_, e)) if is_constraint(&e) => Err(self.diagnose(rows, e)),
            Err((label, e)) => Err(pg_err(label, action, e)),
        }
    }

    fn history(&self, receipt: &ReceiptNumber) -> Result<Vec<Issuance>, LedgerError> {
        let rows = self
            .client
            .borrow_mut()
            // Typed: one round trip, no prepared statement (this is the
            // first query of every verify and redeem).
            .query_typed(
                &format!(
                    "SELECT {ISSUANCE_COLUMNS} FROM issuances WHERE receipt = $1 \
                     ORDER BY issue_no"
                ),
                &[(&receipt.as_str(), Type::TEXT)],
            )
            .map_err(self.err("read the receipt's history"))?;
        rows.iter()
            .map(|r| issuance_from_row(&self.label, r))
            .collect()
    }

    fn issuance(
        &self,
        receipt: &ReceiptNumber,
        issue_no: u32,
    ) -> Result<Option<Issuance>, LedgerError> {
        let issue_no = i32::try_from(issue_no).unwrap_or(i32::MAX);
        let row = self
            .client
            .borrow_mut()
            .query_opt(
                &format!(
                    "SELECT {ISSUANCE_COLUMNS} FROM issuances \
                     WHERE receipt = $1 AND issue_no = $2"
                ),
                &[&receipt.as_str(), &issue_no],
            )
            .map_err(self.err("read the issuance"))?;
        row.map(|r| issuance_from_row(&self.label, &r)).transpose()
    }

    fn for_each_in_batch(
        &self,
        batch_id: &str,
        f: &mut dyn FnMut(Issuance) -> ControlFlow<()>,
    ) -> Result<u64, LedgerError> {
        // Keyset pages in presort order (a plain ZIP, read as '', before
        // the ZIP+4s of its ZIP5): memory stays bounded by the page, and no
        // borrow of the connection is held while `f` runs.
        let sql = format!(
            "SELECT {ISSUANCE_COLUMNS}, zip5 AS page_zip5, coalesce(zip4, '') AS page_zip4 \
             FROM issuances \
             WHERE batch_id = $1 AND (zip5, coalesce(zip4, ''), receipt, issue_no) > \
             ($2, $3, $4, $5) ORDER BY zip5, coalesce(zip4, ''), receipt, issue_no LIMIT $6"
        );
        let mut after: (String, String, String, i32) = Default::default();
        let mut count = 0u64;
        loop {
            let params: [&(dyn ::postgres::types::ToSql + Sync); 6] = [
                &batch_id,
                &after.0,
                &after.1,
                &after.2,
                &after.3,
                &PRESORT_PAGE_ROWS,
            ];
            let page = presort_page(&mut self.client.borrow_mut(), &sql, &params)
                .map_err(self.err("read the batch's issuances"))?;
            let Some(last) = page.last() else {
                return Ok(count);
            };
            after = (
                last.get("page_zip5"),
                last.get("page_zip4"),
                last.get("receipt"),
                last.get("issue_no"),
            );
            let full = page.len() as i64 == PRESORT_PAGE_ROWS;
            for row in &page {
                count += 1;
                if f(issuance_from_row(&self.label, row)?).is_break() {
                    return Ok(count);
                }
            }
            if !full {
                return Ok(count);
            }
        }
    }

    fn record_printed(
        &mut self,
        batch_id: &str,
        printed: &mut dyn Iterator<Item = crate::ledger::PrintedLetter>,
    ) -> Result<u64, LedgerError> {
        let label = self.label.clone();
        record_printed_pg(&mut self.client.get_mut(), &label, batch_id, printed)
    }

    fn count_in_batch(&self, batch_id: &str) -> Result<u64, LedgerError> {
        let n: i64 = self
            .client
            .borrow_mut()
            .query_one(
                "SELECT COUNT(*) FROM issuances WHERE batch_id = $1",
                &[&batch_id],
            )
            .map_err(self.err("count the batch's issuances"))?
            .get(0);
        crate::ledger::mail::stored_count(&self.label, "the batch's issuances", n)
    }

    fn lock_batch(&mut self, batch_id: &str) -> Result<(), LedgerError> {
        let key = lock_key(&["batch", &self.schema, batch_id]);
        let got: bool = self
            .client
            .get_mut()
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(|e| pg_err(&self.label, "claim the batch", e))?
            .get(0);
        if got {
            Ok(())
        } else {
            Err(LedgerError::BatchBusy {
                ledger: self.label.clone(),
                batch_id: batch_id.to_string(),
            })
        }
    }
}

impl CodeLife for PostgresLedger {
    fn gate_attempt(
        &mut self,
        receipt: &ReceiptNumber,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<Gate, LedgerError> {
        let key = lifecycle::receipt_lock(&self.schema, receipt);
        let mut client = self.client.get_mut();
        attempts::gate(&mut client, &self.label, key, (receipt, kind), now, limit)
    }

    fn gate_guess(
        &mut self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: GuessLimit,
    ) -> Result<GuessGate, LedgerError> {
        let (label, schema) = (self.label.clone(), self.schema.clone());
        let mut client = self.client.get_mut();
        let who = (receipt, guesser);
        guesses::gate_guess(&mut client, (&label, &schema), who, kind, now, limit)
    }

    fn history_for_guess(
        &self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        since: DateTime<Utc>,
    ) -> Result<(Vec<Issuance>, Tallies), LedgerError> {
        let mut client = self.client.borrow_mut();
        let at = (self.label.as_str(), &self.guess_read);
        guesses::history_for_guess(&mut client, at, (receipt, guesser), since)
    }

    fn guess_sources(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
    ) -> Result<u32, LedgerError> {
        guesses::sources(
            &mut self.client.borrow_mut(),
            &self.label,
            receipt,
            now,
            window,
        )
    }

    fn targeted(
        &self,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
        more_than: u32,
    ) -> Result<Vec<(ReceiptNumber, u32)>, LedgerError> {
        let mut client = self.client.borrow_mut();
        guesses::targeted(&mut client, &self.label, (now, window), more_than)
    }

    fn attempt_summary(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<AttemptSummary, LedgerError> {
        let mut client = self.client.borrow_mut();
        attempts::summary(&mut client, &self.label, receipt, now, limit)
    }

    fn redeem(
        &mut self,
        receipt: &ReceiptNumber,
        issue_no: u32,
        account: &str,
        now: DateTime<Utc>,
        limit: Option<AttemptLimit>,
    ) -> Result<RedeemStep, LedgerError> {
        let change = Change::Redeem {
            issue_no,
            account,
            limit,
        };
        self.change(receipt, change, now)?.into_redeem(&self.label)
    }

    fn revoke(
        &mut self,
        receipt: &ReceiptNumber,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Revocation, LedgerError> {
        self.change(receipt, Change::Revoke { reason }, now)?
            .into_revoke(&self.label)
    }

    fn unlink(
        &mut self,
        receipt: &ReceiptNumber,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Unlinking, LedgerError> {
        self.change(receipt, Change::Unlink { reason }, now)?
            .into_unlink(&self.label)
    }

    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<Option<u32>, LedgerError> {
        row.check()?;
        pg_ints(row).map_err(|detail| LedgerError::Damaged {
            ledger: self.label.clone(),
            detail,
        })?;
        let now = (self.clock)();
        match self.change(&row.receipt, Change::Reissue { row }, now) {
            Ok(answer) => answer.into_superseded(&self.label),
            // The transaction was rolled back: say which rule the row broke.
            Err(LedgerError::Postgres { source, .. }) if is_constraint(&source) => {
                Err(self.diagnose(std::slice::from_ref(row), source))
            }
            Err(e) => Err(e),
        }
    }
}

impl MailTrail for PostgresLedger {
    fn redeemed_then_returned(&self) -> Result<Vec<Issuance>, LedgerError> {
        mail::redeemed_then_returned(&mut self.client.borrow_mut(), &self.label)
    }

    fn pieces(&self, ids: &[String]) -> Result<HashMap<String, PieceRef>, LedgerError> {
        mail::pieces(&mut self.client.borrow_mut(), &self.label, ids)
    }

    fn pieces_by_serial(
        &self,
        serials: &[u64],
    ) -> Result<HashMap<u64, Vec<PieceRef>>, LedgerError> {
        mail::pieces_by_serial(&mut self.client.borrow_mut(), &self.label, serials)
    }

    fn record_mail(
        &mut self,
        import: &MailImport,
        events: &[MailEvent],
        now: DateTime<Utc>,
    ) -> Result<MailRecorded, LedgerError> {
        let schema = self.schema.clone();
        let at = (self.label.as_str(), schema.as_str());
        let events = events.iter().map(Ok);
        mail::record_mail(&mut self.client.get_mut(), at, import, events, now)
    }

    fn record_mail_each(
        &mut self,
        import: &MailImport,
        events: &mut dyn Iterator<Item = Result<MailEvent, LedgerError>>,
        now: DateTime<Utc>,
    ) -> Result<MailRecorded, LedgerError> {
        let schema = self.schema.clone();
        let at = (self.label.as_str(), schema.as_str());
        mail::record_mail(&mut self.client.get_mut(), at, import, events, now)
    }

    fn mail_trail(&self, receipt: &ReceiptNumber) -> Result<Vec<MailEvent>, LedgerError> {
        mail::mail_trail(&mut self.client.borrow_mut(), &self.label, receipt)
    }

    fn mail_counts(&self, batch_id: Option<&str>) -> Result<MailCounts, LedgerError> {
        mail::mail_counts(&mut self.client.borrow_mut(), &self.label, batch_id)
    }

    fn returned_awaiting_reissue(&self) -> Result<Vec<Issuance>, LedgerError> {
        mail::returned_awaiting_reissue(&mut self.client.borrow_mut(), &self.label)
    }

    fn unacknowledged(
        &self,
        delivered_before: DateTime<Utc>,
    ) -> Result<Vec<PieceRef>, LedgerError> {
        mail::unacknowledged(&mut self.client.borrow_mut(), &self.label, delivered_before)
    }

    fn deliveries(&self, batch_id: &str) -> Result<Vec<Delivery>, LedgerError> {
        mail::deliveries(&mut self.client.borrow_mut(), &self.label, batch_id)
    }

    fn begin_delivery(
        &mut self,
        batch_id: &str,
        vendor: &str,
        again: bool,
        control_sha256: &Sha256Hex,
        now: DateTime<Utc>,
    ) -> Result<i64, LedgerError> {
        let head = (batch_id, vendor, again);
        mail::begin_delivery(
            &mut self.client.get_mut(),
            &self.label,
            head,
            control_sha256,
            now,
        )
    }

    fn record_delivered_file(
        &mut self,
        delivery_id: i64,
        file: &DeliveredFile,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        mail::record_delivered_file(
            &mut self.client.get_mut(),
            &self.label,
            delivery_id,
            file,
            now,
        )
    }

    fn finish_delivery(&mut self, delivery_id: i64, now: DateTime<Utc>) -> Result<(), LedgerError> {
        mail::finish_delivery(&mut self.client.get_mut(), &self.label, delivery_id, now)
    }
}

#[cfg(test)]
mod tests;
