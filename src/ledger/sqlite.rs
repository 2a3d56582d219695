//! [`SqliteLedger`]: the ledger in one SQLite file, no server.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::filing::{IssuanceStatus, ReceiptNumber};

use super::files::{create_parent_dir, restrict_to_owner};
use super::migrations::migrate;
use super::rows::{
    batch_differences, batch_from_row, classify, date_text, insert_active, issuance_from_row,
    ISSUANCE_COLUMNS,
};
use super::{
    ActiveRef, BatchRecord, Issuance, Ledger, LedgerError, NewIssuance, ReceiptState,
    BUSY_TIMEOUT_MS,
};

/// The SQLite ledger: one file, no server.
pub struct SqliteLedger {
    pub(super) conn: Connection,
    /// The path as shown in error messages.
    label: String,
    clock: fn() -> DateTime<Utc>,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.label)
            .finish_non_exhaustive()
    }
}

impl SqliteLedger {
    /// Opens the ledger at `path`, creating it (and its folder) when new, and
    /// brings its schema up to date. Take a [`LedgerLock`](super::LedgerLock) first.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        Self::open_with_synchronous(path, "FULL")
    }

    pub(super) fn open_with_synchronous(
        path: &Path,
        synchronous: &str,
    ) -> Result<Self, LedgerError> {
        create_parent_dir(path)?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        restrict_to_owner(&mut options);
        // Create the file ourselves so it gets mode 0600 from the start;
        // SQLite would create it with the umask's default (often 0644).
        match options.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(LedgerError::File {
                    action: "create the issuance ledger",
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let label = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| classify(&label, "open it", e))?;
        Self::configure(conn, label, synchronous)
    }

    /// A fresh ledger in memory, for tests.
    pub fn open_in_memory() -> Result<Self, LedgerError> {
        let label = "(in-memory ledger)".to_string();
        let conn = Connection::open_in_memory().map_err(|e| classify(&label, "open it", e))?;
        Self::configure(conn, label, "FULL")
    }

    /// Replaces the clock used for audit timestamps (tests use a fixed one).
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Self {
        self.clock = clock;
        self
    }

    fn configure(
        mut conn: Connection,
        label: String,
        synchronous: &str,
    ) -> Result<Self, LedgerError> {
        let open_err = |e| classify(&label, "open it", e);
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(open_err)?;
        // WAL lets `status` and `verify` read while a batch writes. The
        // returned mode is "memory" for an in-memory database; that is fine.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        migrate(&mut conn, &label)?;
        Ok(SqliteLedger {
            conn,
            label,
            clock: Utc::now,
        })
    }

    fn now(&self) -> String {
        (self.clock)().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Turns a SQLite error into a sentence about this ledger.
    fn db_err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |source| classify(&self.label, action, source)
    }
}

impl Ledger for SqliteLedger {
    fn start_batch(&mut self, batch: &BatchRecord) -> Result<(), LedgerError> {
        let now = self.now();
        let label = self.label.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&label, "start the batch", e))?;
        let existing = tx
            .query_row(
                "SELECT batch_id, batch_date, key_id, is_test, input_sha256, kind, summary_json \
                 FROM batches WHERE batch_id = ?1",
                [&batch.batch_id],
                batch_from_row,
            )
            .optional()
            .map_err(|e| classify(&label, "read the batch", e))?;
        match existing {
            Some((old, _)) => {
                let diffs = batch_differences(&old, batch);
                if !diffs.is_empty() {
                    return Err(LedgerError::BatchConflict {
                        ledger: label,
                        batch_id: batch.batch_id.clone(),
                        differences: diffs.join(" and "),
                    });
                }
                // A re-run of the same input: nothing to write.
                Ok(())
            }
            None => {
                tx.execute(
                    "INSERT INTO batches (batch_id, batch_date, key_id, is_test, input_sha256, \
                     kind, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        batch.batch_id,
                        date_text(batch.batch_date),
                        batch.key_id,
                        batch.is_test,
                        batch.input_sha256,
                        batch.kind.as_str(),
                        now,
                    ],
                )
                .map_err(|e| classify(&label, "start the batch", e))?;
                tx.commit()
                    .map_err(|e| classify(&label, "start the batch", e))
            }
        }
    }

    fn batch(&self, batch_id: &str) -> Result<Option<(BatchRecord, Option<String>)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT batch_id, batch_date, key_id, is_test, input_sha256, kind, summary_json \
                 FROM batches WHERE batch_id = ?1",
                [batch_id],
                batch_from_row,
            )
            .optional()
            .map_err(self.db_err("read the batch"))
    }

    fn complete_batch(&mut self, batch_id: &str, summary_json: &str) -> Result<(), LedgerError> {
        let now = self.now();
        // A re-run of a completed batch completes it again with its latest
        // totals, which are the ones batch.json carries.
        let changed = self
            .conn
            .execute(
                "UPDATE batches SET completed_at = ?2, summary_json = ?3 WHERE batch_id = ?1",
                params![batch_id, now, summary_json],
            )
            .map_err(self.db_err("mark the batch complete"))?;
        if changed == 0 {
            return Err(LedgerError::UnknownBatch {
                ledger: self.label.clone(),
                batch_id: batch_id.to_string(),
            });
        }
        Ok(())
    }

    fn receipt_states(
        &self,
        receipts: &[ReceiptNumber],
    ) -> Result<HashMap<ReceiptNumber, ReceiptState>, LedgerError> {
        let action = "look up receipts";
        // One read transaction so every answer comes from the same snapshot;
        // each lookup is a probe of the (receipt, issue_no) index.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.db_err(action))?;
        let mut stmt = tx
            .prepare_cached("SELECT issue_no, status, batch_id FROM issuances WHERE receipt = ?1")
            .map_err(self.db_err(action))?;
        let mut states = HashMap::new();
        for receipt in receipts {
            if states.contains_key(receipt) {
                continue;
            }
            let mut rows = stmt
                .query([receipt.as_str()])
                .map_err(self.db_err(action))?;
            let mut state: Option<ReceiptState> = None;
            while let Some(row) = rows.next().map_err(self.db_err(action))? {
                let issue_no: u32 = row.get(0).map_err(self.db_err(action))?;
                let status: String = row.get(1).map_err(self.db_err(action))?;
                let s = state.get_or_insert(ReceiptState {
                    max_issue_no: 0,
                    active: None,
                });
                s.max_issue_no = s.max_issue_no.max(issue_no);
                if status == IssuanceStatus::Active.as_str() {
                    s.active = Some(ActiveRef {
                        issue_no,
                        batch_id: row.get(2).map_err(self.db_err(action))?,
                    });
                }
            }
            if let Some(s) = state {
                states.insert(receipt.clone(), s);
            }
        }
        Ok(states)
    }

    fn last_serial(&self) -> Result<Option<u64>, LedgerError> {
        // `id` is the rowid; rows are never deleted, so the largest id is
        // the most recent insert.
        self.conn
            .query_row(
                "SELECT imb_serial FROM issuances WHERE imb_serial IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db_err("read the last barcode serial"))
    }

    fn record(&mut self, rows: &[NewIssuance]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        for row in rows {
            row.check()?;
        }
        let now = self.now();
        let label = self.label.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&label, "record issuances", e))?;
        for row in rows {
            // On error the transaction is dropped, which rolls back the
            // whole chunk.
            insert_active(&label, &tx, row, &now)?;
        }
        tx.commit()
            .map_err(|e| classify(&label, "record issuances", e))
    }

    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<(), LedgerError> {
        row.check()?;
        let now = self.now();
        let label = self.label.clone();
        let action = "record the reissue";
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&label, action, e))?;
        let max: Option<u32> = tx
            .query_row(
                "SELECT MAX(issue_no) FROM issuances WHERE receipt = ?1",
                [row.receipt.as_str()],
                |r| r.get(0),
            )
            .map_err(|e| classify(&label, action, e))?;
        let expected = max.unwrap_or(0).saturating_add(1);
        if row.issue_no != expected {
            return Err(LedgerError::IssueOutOfOrder {
                ledger: label,
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
                expected,
            });
        }
        tx.execute(
            "UPDATE issuances SET status = 'superseded', status_changed_at = ?2 \
             WHERE receipt = ?1 AND status = 'active'",
            params![row.receipt.as_str(), now],
        )
        .map_err(|e| classify(&label, action, e))?;
        insert_active(&label, &tx, row, &now)?;
        tx.commit().map_err(|e| classify(&label, action, e))
    }

    fn history(&self, receipt: &ReceiptNumber) -> Result<Vec<Issuance>, LedgerError> {
        let action = "read the receipt's history";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ISSUANCE_COLUMNS} FROM issuances WHERE receipt = ?1 ORDER BY issue_no"
            ))
            .map_err(self.db_err(action))?;
        let rows = stmt
            .query_map([receipt.as_str()], issuance_from_row)
            .map_err(self.db_err(action))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.db_err(action))
    }

    fn issuance(
        &self,
        receipt: &ReceiptNumber,
        issue_no: u32,
    ) -> Result<Option<Issuance>, LedgerError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {ISSUANCE_COLUMNS} FROM issuances WHERE receipt = ?1 AND issue_no = ?2"
                ),
                params![receipt.as_str(), issue_no],
                issuance_from_row,
            )
            .optional()
            .map_err(self.db_err("read the issuance"))
    }

    fn for_each_in_batch(
        &self,
        batch_id: &str,
        f: &mut dyn FnMut(Issuance) -> Result<(), LedgerError>,
    ) -> Result<u64, LedgerError> {
        let action = "read the batch's issuances";
        // SQLite sorts NULL before any text, so a plain ZIP comes before the
        // ZIP+4s of the same ZIP5; the presort index serves this order.
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ISSUANCE_COLUMNS} FROM issuances WHERE batch_id = ?1 \
                 ORDER BY zip5, zip4, receipt, issue_no"
            ))
            .map_err(self.db_err(action))?;
        let mut rows = stmt.query([batch_id]).map_err(self.db_err(action))?;
        let mut count = 0u64;
        while let Some(row) = rows.next().map_err(self.db_err(action))? {
            let issuance = issuance_from_row(row).map_err(self.db_err(action))?;
            f(issuance)?;
            count += 1;
        }
        Ok(count)
    }

    fn count_in_batch(&self, batch_id: &str) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM issuances WHERE batch_id = ?1",
                [batch_id],
                |r| r.get(0),
            )
            .map_err(self.db_err("count the batch's issuances"))
    }
}
