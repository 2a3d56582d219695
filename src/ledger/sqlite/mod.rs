//! [`SqliteLedger`]: the ledger in one SQLite file, no server.

use std::collections::HashMap;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::filing::ReceiptNumber;

use self::create::{create_file, remove_abandoned, remove_leftovers};
use self::migrations::{migrate, user_version, LEDGER_ID_KEY};
use self::rows::{
    batch_from_row, classify, date_text, insert_active, issuance_from_row, record_printed_in,
};
use crate::ledger::attempts::{AttemptKind, AttemptLimit, AttemptSummary, Gate};
use crate::ledger::check_batch_known;
use crate::ledger::files::{
    canonical_path, create_private, folder_of, publish_no_clobber, temp_name,
};
use crate::ledger::guesses::{GuessGate, GuessLimit, Guesser, Tallies};
use crate::ledger::life::{Change, Unlinking};
use crate::ledger::redeem::{RedeemAsk, RedeemStep, Revocation};
use crate::ledger::types::{batch_differences, is_test_column};
use crate::ledger::{
    BatchRecord, CodeLife, DeliveredFile, Delivery, Issuance, IssuanceLedger, LedgerError,
    MailCounts, MailEvent, MailImport, MailRecorded, MailTrail, NewIssuance, PieceRef,
    ReceiptState, Sha256Hex, BUSY_TIMEOUT_MS, ISSUANCE_COLUMNS,
};

mod attempts;
mod create;
mod guesses;
mod lifecycle;
mod mail;
pub(in crate::ledger) mod migrations;
mod rows;

/// How many of SQLite's findings a "damaged" sentence quotes.
const MAX_PROBLEMS_SHOWN: u32 = 5;

/// The pause before retrying a backup that met a writer's lock.
const BACKUP_RETRY_MS: u64 = 100;

/// The page cache of a connection, in KiB (SQLite's default is 2,000): a
/// batch inserts rows at random places in four indexes, and walks the batch
/// in presort order, and with the default the same pages are read from the
/// file again and again.
const CACHE_KIB: i64 = 8 * 1024;

/// The SQLite ledger: one file, no server.
pub struct SqliteLedger {
    pub(in crate::ledger) conn: Connection,
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
    /// Opens a ledger that must already exist, checks it (`PRAGMA
    /// quick_check`) and brings its schema up to date. Refused, never
    /// created or initialised: a missing file ([`LedgerError::Missing`]), a
    /// missing folder ([`LedgerError::NoFolder`]), an empty file
    /// ([`LedgerError::Empty`]), a damaged one ([`LedgerError::Damaged`]), one
    /// from a newer program ([`LedgerError::TooNew`]). Take a
    /// [`LedgerLock`](super::LedgerLock) first when writing.
    pub fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        Self::open_existing_with(path, "FULL")
    }

    /// Creates a new, empty ledger with a new identity. Refused when a file
    /// is already there ([`LedgerError::Exists`]) or the folder does not
    /// exist ([`LedgerError::NoFolder`]). The file is built under a temporary
    /// name and linked into place, so it appears complete (schema and
    /// identity) or not at all, with mode 0600.
    pub fn create(path: &Path) -> Result<Self, LedgerError> {
        create_file(path)?;
        Self::open_existing(path)
    }

    /// The first version's behaviour, kept until every caller says which it
    /// means: [`open_existing`](Self::open_existing) when anything is at
    /// `path`, [`create`](Self::create) when nothing is. Unlike the first
    /// version it neither makes a missing folder nor takes an empty file for
    /// a new ledger. New code should call one of the two explicitly: a new
    /// ledger is right only when no batch has been issued from this place.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        Self::open_with_synchronous(path, "FULL")
    }

    pub(in crate::ledger) fn open_with_synchronous(
        path: &Path,
        synchronous: &str,
    ) -> Result<Self, LedgerError> {
        if std::fs::symlink_metadata(path).is_err() {
            create_file(path)?;
        }
        Self::open_existing_with(path, synchronous)
    }

    fn open_existing_with(path: &Path, synchronous: &str) -> Result<Self, LedgerError> {
        let label = path.display().to_string();
        match std::fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let folder = folder_of(path);
                return Err(if folder.is_dir() {
                    LedgerError::Missing { ledger: label }
                } else {
                    LedgerError::NoFolder { folder }
                });
            }
            Err(source) => {
                return Err(LedgerError::File {
                    action: "read the issuance ledger",
                    path: path.to_path_buf(),
                    source,
                })
            }
            Ok(m) if m.len() == 0 => return Err(LedgerError::Empty { ledger: label }),
            Ok(_) => {}
        }
        remove_abandoned(path);
        // Never let SQLite create a file here: a missing ledger is an error.
        let flags = OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE);
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| classify(&label, "open it", e))?;
        Self::configure(conn, label, synchronous, Check::Quick)
    }

    /// A fresh ledger in memory, for tests.
    pub fn open_in_memory() -> Result<Self, LedgerError> {
        let label = "(in-memory ledger)".to_string();
        let conn = Connection::open_in_memory().map_err(|e| classify(&label, "open it", e))?;
        Self::configure(conn, label, "FULL", Check::None)
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
        check: Check,
    ) -> Result<Self, LedgerError> {
        let open_err = |e| classify(&label, "open it", e);
        conn.busy_handler(Some(wait_for_lock)).map_err(open_err)?;
        // Checked before anything is written to it.
        if check == Check::Quick {
            run_check(&conn, &label, "quick_check")?;
            if user_version(&conn, &label)? == 0 {
                // A database with no schema is not a ledger that lost its
                // rows; whatever it is, it is not to be issued from.
                return Err(LedgerError::Empty { ledger: label });
            }
        }
        // WAL lets `status` and `verify` read while a batch writes. The
        // returned mode is "memory" for an in-memory database; that is fine.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(open_err)?;
        migrate(&mut conn, &label)?;
        Ok(SqliteLedger {
            conn,
            label,
            clock: Utc::now,
        })
    }

    /// The full check for an audit: `PRAGMA integrity_check` (every page,
    /// every index against its table) and `PRAGMA foreign_key_check`. Slow
    /// on a big ledger (it reads everything); opening runs the quick one.
    pub fn integrity_check(&self) -> Result<(), LedgerError> {
        run_check(&self.conn, &self.label, "integrity_check")?;
        let orphans: Vec<String> = self
            .conn
            .prepare("PRAGMA foreign_key_check")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    Ok(format!(
                        "{} row {} has no {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?
                    ))
                })?
                .collect()
            })
            .map_err(self.db_err("check its references"))?;
        if orphans.is_empty() {
            return Ok(());
        }
        Err(LedgerError::Damaged {
            ledger: self.label.clone(),
            detail: orphans.join("; "),
        })
    }

    /// Copies the ledger to `dest` with SQLite's online backup: a consistent
    /// snapshot, taken while batches may go on writing. The copy is written
    /// under a temporary name with mode 0600, checked, and only then given
    /// its name; a file already at `dest` is never replaced
    /// ([`LedgerError::BackupExists`]). The copy keeps the ledger's identity.
    pub fn backup_to(&self, dest: &Path) -> Result<(), LedgerError> {
        let target = canonical_path(dest)?;
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(LedgerError::BackupExists {
                path: dest.to_path_buf(),
            });
        }
        let tmp = temp_name(&target, "backup");
        remove_leftovers(&tmp);
        let result = self.backup_into(&tmp, dest).and_then(|()| {
            publish_no_clobber(&tmp, &target).map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => LedgerError::BackupExists {
                    path: dest.to_path_buf(),
                },
                _ => LedgerError::File {
                    action: "write the backup",
                    path: dest.to_path_buf(),
                    source,
                },
            })
        });
        remove_leftovers(&tmp);
        result
    }

    fn backup_into(&self, tmp: &Path, dest: &Path) -> Result<(), LedgerError> {
        create_private(tmp).map_err(|source| LedgerError::File {
            action: "create the backup",
            path: dest.to_path_buf(),
            source,
        })?;
        let dest_label = dest.display().to_string();
        let action = "copy it into the backup";
        let mut copy = Connection::open(tmp).map_err(self.db_err(action))?;
        {
            let backup = Backup::new(&self.conn, &mut copy).map_err(self.db_err(action))?;
            // All pages in one step: one read transaction, one snapshot.
            let deadline = Instant::now() + Duration::from_millis(BUSY_TIMEOUT_MS);
            loop {
                match backup.step(-1).map_err(self.db_err(action))? {
                    StepResult::Done => break,
                    _ if Instant::now() > deadline => {
                        return Err(LedgerError::Busy {
                            ledger: self.label.clone(),
                        })
                    }
                    _ => std::thread::sleep(Duration::from_millis(BACKUP_RETRY_MS)),
                }
            }
        }
        // A backup that cannot be restored is worse than none: check it.
        run_check(&copy, &dest_label, "quick_check")?;
        copy.close()
            .map_err(|(_, e)| classify(&dest_label, "finish the backup", e))
    }

    fn now(&self) -> String {
        (self.clock)().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Several redemptions in one write transaction and one commit (one
    /// sync to disk for all), each decided as [`CodeLife::redeem`] decides it
    /// alone, in order: the service's group commit. A failed ask is undone
    /// alone and answered with its own error; the outer error means nothing
    /// was committed.
    pub fn redeem_many(
        &mut self,
        asks: &[RedeemAsk],
        limit: Option<AttemptLimit>,
    ) -> Result<Vec<Result<RedeemStep, LedgerError>>, LedgerError> {
        lifecycle::redeem_many(&mut self.conn, &self.label, asks, limit)
    }

    /// Turns a SQLite error into a sentence about this ledger.
    fn db_err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |source| classify(&self.label, action, source)
    }
}

/// How long a connection waits between tries at a lock another holds.
const BUSY_RETRY_MICROS: u64 = 200;

/// SQLite's busy handler: wait a little and try again, for up to
/// [`BUSY_TIMEOUT_MS`] in all. SQLite's own busy timeout sleeps 1, 2, 5, 10
/// ... up to 100 ms between tries, so a connection that arrives while
/// another writes may sleep long after the lock is free: under the
/// service's concurrent redeems that was most of the slowest answers'
/// time. Short, even waits keep the queue moving.
fn wait_for_lock(tries: i32) -> bool {
    let waited_micros = u64::try_from(tries).unwrap_or(0) * BUSY_RETRY_MICROS;
    if waited_micros >= BUSY_TIMEOUT_MS * 1_000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(BUSY_RETRY_MICROS));
    true
}

/// Which check opening runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// A ledger just made in memory: nothing to check.
    None,
    /// `PRAGMA quick_check`: every page read and its structure checked.
    Quick,
}

/// Runs `PRAGMA quick_check` or `integrity_check`; anything but "ok" is a
/// damaged ledger, with SQLite's first findings in the sentence.
fn run_check(conn: &Connection, label: &str, pragma: &str) -> Result<(), LedgerError> {
    let problems: Vec<String> = conn
        .prepare(&format!("PRAGMA {pragma}({MAX_PROBLEMS_SHOWN})"))
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| classify(label, "check it", e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(LedgerError::Damaged {
        ledger: label.to_string(),
        detail: format!("SQLite: {}", problems.join("; ")),
    })
}

impl IssuanceLedger for SqliteLedger {
    fn full_check(&self) -> Result<(), LedgerError> {
        self.integrity_check()
    }

    fn ledger_id(&self) -> Result<String, LedgerError> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE name = ?1",
                [LEDGER_ID_KEY],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db_err("read its identity"))?;
        id.ok_or_else(|| LedgerError::Damaged {
            ledger: self.label.clone(),
            detail: "it has no ledger id".into(),
        })
    }

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
                        is_test_column(batch.mode),
                        batch.input_sha256.as_str(),
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
        check_batch_known(&self.label, batch_id, changed as u64)
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
                let batch_id: String = row.get(2).map_err(self.db_err(action))?;
                state
                    .get_or_insert_with(ReceiptState::default)
                    .fold(issue_no, &status, || batch_id);
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
        f: &mut dyn FnMut(Issuance) -> ControlFlow<()>,
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
            count += 1;
            if f(issuance).is_break() {
                break;
            }
        }
        Ok(count)
    }

    fn record_printed(
        &mut self,
        batch_id: &str,
        printed: &mut dyn Iterator<Item = crate::ledger::PrintedLetter>,
    ) -> Result<u64, LedgerError> {
        let label = self.label.clone();
        let err = |e| classify(&label, "record what was printed", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let recorded = record_printed_in(&tx, &label, batch_id, printed)?;
        tx.commit().map_err(err)?;
        Ok(recorded)
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

impl CodeLife for SqliteLedger {
    fn gate_attempt(
        &mut self,
        receipt: &ReceiptNumber,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<Gate, LedgerError> {
        attempts::gate(&mut self.conn, &self.label, receipt, kind, now, limit)
    }

    fn attempt_summary(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        limit: AttemptLimit,
    ) -> Result<AttemptSummary, LedgerError> {
        attempts::summary(&self.conn, &self.label, receipt, now, limit)
    }

    fn gate_guess(
        &mut self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        kind: AttemptKind,
        now: DateTime<Utc>,
        limit: GuessLimit,
    ) -> Result<GuessGate, LedgerError> {
        let who = (receipt, guesser);
        guesses::gate_guess(&mut self.conn, &self.label, who, kind, now, limit)
    }

    fn history_for_guess(
        &self,
        receipt: &ReceiptNumber,
        guesser: &Guesser,
        since: DateTime<Utc>,
    ) -> Result<(Vec<Issuance>, Tallies), LedgerError> {
        let tallies = guesses::tallies(&self.conn, &self.label, guesser, since)?;
        Ok((self.history(receipt)?, tallies))
    }

    fn guess_sources(
        &self,
        receipt: &ReceiptNumber,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
    ) -> Result<u32, LedgerError> {
        guesses::sources(&self.conn, &self.label, receipt, now, window)
    }

    fn targeted(
        &self,
        now: DateTime<Utc>,
        window: chrono::TimeDelta,
        more_than: u32,
    ) -> Result<Vec<(ReceiptNumber, u32)>, LedgerError> {
        guesses::targeted(&self.conn, &self.label, (now, window), more_than)
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
        lifecycle::run(&mut self.conn, &self.label, receipt, change, now)?.into_redeem(&self.label)
    }

    fn revoke(
        &mut self,
        receipt: &ReceiptNumber,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Revocation, LedgerError> {
        let change = Change::Revoke { reason };
        lifecycle::run(&mut self.conn, &self.label, receipt, change, now)?.into_revoke(&self.label)
    }

    fn unlink(
        &mut self,
        receipt: &ReceiptNumber,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Unlinking, LedgerError> {
        let change = Change::Unlink { reason };
        lifecycle::run(&mut self.conn, &self.label, receipt, change, now)?.into_unlink(&self.label)
    }

    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<Option<u32>, LedgerError> {
        row.check()?;
        let now = (self.clock)();
        let change = Change::Reissue { row };
        lifecycle::run(&mut self.conn, &self.label, &row.receipt, change, now)?
            .into_superseded(&self.label)
    }
}

impl MailTrail for SqliteLedger {
    fn redeemed_then_returned(&self) -> Result<Vec<Issuance>, LedgerError> {
        mail::redeemed_then_returned(&self.conn, &self.label)
    }

    fn pieces(&self, ids: &[String]) -> Result<HashMap<String, PieceRef>, LedgerError> {
        mail::pieces(&self.conn, &self.label, ids)
    }

    fn pieces_by_serial(
        &self,
        serials: &[u64],
    ) -> Result<HashMap<u64, Vec<PieceRef>>, LedgerError> {
        mail::pieces_by_serial(&self.conn, &self.label, serials)
    }

    fn record_mail(
        &mut self,
        import: &MailImport,
        events: &[MailEvent],
        now: DateTime<Utc>,
    ) -> Result<MailRecorded, LedgerError> {
        let events = events.iter().map(Ok);
        mail::record_mail(&mut self.conn, &self.label, import, events, now)
    }

    fn record_mail_each(
        &mut self,
        import: &MailImport,
        events: &mut dyn Iterator<Item = Result<MailEvent, LedgerError>>,
        now: DateTime<Utc>,
    ) -> Result<MailRecorded, LedgerError> {
        mail::record_mail(&mut self.conn, &self.label, import, events, now)
    }

    fn mail_trail(&self, receipt: &ReceiptNumber) -> Result<Vec<MailEvent>, LedgerError> {
        mail::mail_trail(&self.conn, &self.label, receipt)
    }

    fn mail_counts(&self, batch_id: Option<&str>) -> Result<MailCounts, LedgerError> {
        mail::mail_counts(&self.conn, &self.label, batch_id)
    }

    fn returned_awaiting_reissue(&self) -> Result<Vec<Issuance>, LedgerError> {
        mail::returned_awaiting_reissue(&self.conn, &self.label)
    }

    fn unacknowledged(
        &self,
        delivered_before: DateTime<Utc>,
    ) -> Result<Vec<PieceRef>, LedgerError> {
        mail::unacknowledged(&self.conn, &self.label, delivered_before)
    }

    fn deliveries(&self, batch_id: &str) -> Result<Vec<Delivery>, LedgerError> {
        mail::deliveries(&self.conn, &self.label, batch_id)
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
        mail::begin_delivery(&mut self.conn, &self.label, head, control_sha256, now)
    }

    fn record_delivered_file(
        &mut self,
        delivery_id: i64,
        file: &DeliveredFile,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        mail::record_delivered_file(&self.conn, &self.label, delivery_id, file, now)
    }

    fn finish_delivery(&mut self, delivery_id: i64, now: DateTime<Utc>) -> Result<(), LedgerError> {
        mail::finish_delivery(&self.conn, &self.label, delivery_id, now)
    }
}
