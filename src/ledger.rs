//! The issuance ledger: what has been issued to whom, and which code is live.
//!
//! Codes are derived from (key, receipt, issue number), so the ledger never
//! needs a code and never stores one: each issuance keeps only a keyed
//! fingerprint of its code, the key id that made it, and what the letter
//! looked like (its sha256, pages, and the [`Filing`] it was rendered from, so
//! `reprint` can re-render the same bytes). There is no column that could hold
//! a code, and [`Ledger::record`] refuses a "fingerprint" that is not a long
//! hex digest, so a clear code cannot land here by mistake.
//!
//! # Exactly once
//!
//! "Every filing gets exactly one letter" is kept by ordering, not by luck:
//!
//! 1. A batch first looks up every receipt in the ledger
//!    ([`Ledger::receipt_states`]) and plans issue 1 only for receipts the
//!    ledger has never seen; the others are skipped and counted.
//! 2. The caller writes each letter file to disk *before* recording it. A row
//!    is committed only for a letter that exists, and [`Ledger::record`]
//!    commits a chunk in one transaction: all of its rows or none.
//! 3. After a crash, re-running the same input continues the same batch: the
//!    committed rows are found and skipped, and only the rest are issued. A
//!    letter file written but not yet recorded is simply rendered again, with
//!    identical bytes, because a letter is a pure function of its inputs.
//!
//! The database enforces the invariants whatever the caller does: (receipt,
//! issue number) is unique, piece IDs are unique, and a partial unique index
//! (`WHERE status = 'active'`) allows at most one active issuance per
//! receipt. A reissue supersedes the active issuance and inserts the next
//! issue number in a single transaction ([`Ledger::supersede_and_record`]),
//! so there is never a moment with two live codes or none.
//!
//! # Storage
//!
//! [`SqliteLedger`] is one SQLite file (no server). It holds names and
//! addresses, so a new file is created with mode 0600 (SQLite gives its
//! `-wal` and `-shm` companions the same mode). It runs in WAL mode with
//! `synchronous=FULL`: a commit is on disk when `record` returns, at a
//! measured cost small next to rendering a PDF. The schema is versioned with
//! `PRAGMA user_version`; migrations are applied in order inside one
//! transaction, and a file written by a newer program is refused rather than
//! misread. The [`Ledger`] trait is object-safe so a shared database can stand
//! behind it when several machines issue at once.
//!
//! Only one run may use a ledger file at a time: take a [`LedgerLock`] first.
//! The only wall-clock values in the ledger are the audit timestamps
//! (`recorded_at`, `status_changed_at`, `started_at`, `completed_at`); they
//! never reach a letter.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::filing::{Filing, FormType, IssuanceStatus, IssuanceView, ReceiptNumber};

/// How long a statement waits for another connection's lock before failing.
/// The lock file keeps runs apart; this only covers short overlaps such as
/// an operator's `status` reading while a batch commits.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Fingerprints are hex HMAC digests; anything shorter than this cannot be
/// one, and a 12-symbol access code (14 with hyphens) is always shorter.
const MIN_FINGERPRINT_HEX_CHARS: usize = 32;

/// Dates are stored as ISO text so the file reads well in any SQLite tool.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// Ordered schema migrations; `MIGRATIONS[i]` takes `user_version` from `i`
/// to `i + 1`. Append only: a released entry is never edited.
const MIGRATIONS: &[&str] = &[
    // Version 1: the initial schema.
    r#"
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
];

/// The issuance columns in the order [`issuance_from_row`] reads them.
const ISSUANCE_COLUMNS: &str = "receipt, issue_no, form, batch_id, piece_id, key_id, fingerprint, \
     notice_date, expires_on, letter_sha256, pages, imb_serial, filing_json, reason, forced, \
     status, recorded_at, status_changed_at";

/// Why a batch exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchKind {
    /// The scheduled run over a filings file.
    Nightly,
    /// An operator's `reissue` of one receipt.
    Reissue,
}

impl BatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::Nightly => "nightly",
            BatchKind::Reissue => "reissue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nightly" => Some(BatchKind::Nightly),
            "reissue" => Some(BatchKind::Reissue),
            _ => None,
        }
    }
}

/// One batch as the ledger knows it: enough to tell a continued run of the
/// same input from a different input that happens to share an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    pub batch_id: String,
    pub batch_date: NaiveDate,
    pub key_id: String,
    pub is_test: bool,
    /// Hex sha256 of the input file (for a reissue, of its request).
    pub input_sha256: String,
    pub kind: BatchKind,
}

/// An issuance about to be recorded; its letter file already exists on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIssuance {
    pub receipt: ReceiptNumber,
    pub issue_no: u32,
    pub form: FormType,
    pub batch_id: String,
    pub piece_id: String,
    pub key_id: String,
    /// Hex keyed fingerprint of the code; never the code.
    pub fingerprint: String,
    pub notice_date: NaiveDate,
    pub expires_on: NaiveDate,
    pub letter_sha256: String,
    pub pages: u32,
    pub imb_serial: Option<u64>,
    /// The filing the letter was rendered from, so a reprint can re-render it.
    pub filing: Filing,
    /// The operator's reason, for a reissue.
    pub reason: Option<String>,
    /// The operator overrode the reissue policy.
    pub forced: bool,
}

/// A recorded issuance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuance {
    pub receipt: ReceiptNumber,
    pub issue_no: u32,
    pub form: FormType,
    pub batch_id: String,
    pub piece_id: String,
    pub key_id: String,
    pub fingerprint: String,
    pub notice_date: NaiveDate,
    pub expires_on: NaiveDate,
    pub letter_sha256: String,
    pub pages: u32,
    pub imb_serial: Option<u64>,
    pub filing: Filing,
    pub reason: Option<String>,
    pub forced: bool,
    pub status: IssuanceStatus,
    /// When the row was committed, UTC RFC 3339: an audit value only.
    pub recorded_at: String,
    /// When the status last changed (superseded, revoked), UTC RFC 3339.
    pub status_changed_at: Option<String>,
}

impl Issuance {
    /// What verification needs: the fingerprint, key, status and expiry.
    pub fn view(&self) -> IssuanceView {
        IssuanceView {
            issue_no: self.issue_no,
            key_id: self.key_id.clone(),
            fingerprint: self.fingerprint.clone(),
            status: self.status,
            notice_date: self.notice_date,
            expires_on: self.expires_on,
        }
    }
}

/// What planning needs to know about one receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptState {
    /// The highest issue number recorded for the receipt.
    pub max_issue_no: u32,
    /// The live issuance, if any (none when the last one was revoked).
    pub active: Option<ActiveRef>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveRef {
    pub issue_no: u32,
    pub batch_id: String,
}

/// Everything that can go wrong with the ledger, as sentences for the
/// operator. `ledger` is the ledger's path as shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("could not create the folder {} for the issuance ledger: {source}; check that the path is right and writable", path.display())]
    CreateDir { path: PathBuf, source: io::Error },

    #[error("could not create the issuance ledger {}: {source}; check that the folder is writable", path.display())]
    CreateFile { path: PathBuf, source: io::Error },

    #[error("could not open the issuance ledger {ledger}: {source}; check that the file is a ledger written by access-letters and that this user may read and write it")]
    Open {
        ledger: String,
        source: rusqlite::Error,
    },

    #[error("the issuance ledger {ledger} has schema version {found}, but this program knows only versions up to {known}; it was written by a newer access-letters, so run that version (this one will not touch the file)")]
    TooNew {
        ledger: String,
        found: i64,
        known: i64,
    },

    #[error("could not upgrade the issuance ledger {ledger} to schema version {version}: {source}; the file was left as it was, restore it from backup if this persists")]
    Migrate {
        ledger: String,
        version: usize,
        source: rusqlite::Error,
    },

    #[error("the issuance ledger {ledger} stayed locked by another program for more than {} s; close any tool that has it open and run again", BUSY_TIMEOUT_MS / 1000)]
    Busy { ledger: String },

    #[error("the issuance ledger {ledger} holds a value this program cannot read ({detail}); the file may have been edited by hand or damaged, restore it from backup")]
    Corrupt { ledger: String, detail: String },

    #[error("the issuance ledger {ledger}: could not {action}: {source}; nothing from this step was saved, check free disk space and file permissions and run again")]
    Sqlite {
        ledger: String,
        action: &'static str,
        source: rusqlite::Error,
    },

    #[error("batch {batch_id} is already in the issuance ledger {ledger} with a different {differences}; a batch id names one input file, so check that the right file and key are used, or move the earlier batch's output aside and use a new batch date")]
    BatchConflict {
        ledger: String,
        batch_id: String,
        differences: String,
    },

    #[error("batch {batch_id} is not in the issuance ledger {ledger}; start the batch before recording letters for it")]
    UnknownBatch { ledger: String, batch_id: String },

    #[error("receipt {receipt} issue {issue_no} is already in the issuance ledger {ledger}; nothing from this group was recorded, re-run the batch and it will skip what is already issued")]
    DuplicateIssuance {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
    },

    #[error("piece ID {piece_id} (receipt {receipt} issue {issue_no}) is already used in the issuance ledger {ledger}; piece IDs must be unique, nothing from this group was recorded")]
    DuplicatePiece {
        ledger: String,
        piece_id: String,
        receipt: ReceiptNumber,
        issue_no: u32,
    },

    #[error("receipt {receipt} already has an active issuance (issue {active_issue_no}) in the issuance ledger {ledger}, so issue {issue_no} cannot also be active; use reissue to replace a code, nothing from this group was recorded")]
    AlreadyActive {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
        active_issue_no: u32,
    },

    #[error("cannot record receipt {receipt} issue {issue_no}: the issuance ledger {ledger} says the next issue number is {expected}; another reissue may have happened meanwhile, check `status {receipt}` and try again")]
    IssueOutOfOrder {
        ledger: String,
        receipt: ReceiptNumber,
        issue_no: u32,
        expected: u32,
    },

    /// The value is deliberately not shown: it might be a clear code.
    #[error("the fingerprint given for receipt {receipt} issue {issue_no} is not a hex digest of at least {MIN_FINGERPRINT_HEX_CHARS} characters (not shown, in case it is a code); this is a program error, nothing was recorded")]
    NotAFingerprint {
        receipt: ReceiptNumber,
        issue_no: u32,
    },

    #[error("the issuance for receipt {receipt} issue {issue_no} carries the filing of receipt {filing_receipt}; this is a program error, nothing was recorded")]
    FilingMismatch {
        receipt: ReceiptNumber,
        issue_no: u32,
        filing_receipt: ReceiptNumber,
    },

    #[error("another access-letters run is using the ledger {} (lock file {}); wait for it to finish", ledger.display(), lock.display())]
    Locked { ledger: PathBuf, lock: PathBuf },

    #[error("could not take the lock file {} for the ledger {}: {source}; check that the folder is writable", lock.display(), ledger.display())]
    Lock {
        ledger: PathBuf,
        lock: PathBuf,
        source: io::Error,
    },

    /// An error raised by a [`Ledger::for_each_in_batch`] callback, passed
    /// through unchanged.
    #[error(transparent)]
    Consumer(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// The ledger as the pipeline sees it. Object-safe and `Send`, so a shared
/// database can replace [`SqliteLedger`] without touching callers.
pub trait Ledger: Send {
    /// Records a batch, or confirms that a re-run matches the batch already
    /// recorded under the same id (same key, input hash, date, kind).
    fn start_batch(&mut self, batch: &BatchRecord) -> Result<(), LedgerError>;

    /// The batch and, once completed, its summary JSON.
    fn batch(&self, batch_id: &str) -> Result<Option<(BatchRecord, Option<String>)>, LedgerError>;

    /// Marks the batch complete with its control totals.
    fn complete_batch(&mut self, batch_id: &str, summary_json: &str) -> Result<(), LedgerError>;

    /// The state of each given receipt; receipts the ledger has never seen
    /// are absent from the map.
    fn receipt_states(
        &self,
        receipts: &[ReceiptNumber],
    ) -> Result<HashMap<ReceiptNumber, ReceiptState>, LedgerError>;

    /// The barcode serial of the most recently recorded issuance that has
    /// one (most recent, not largest: serials may wrap).
    fn last_serial(&self) -> Result<Option<u64>, LedgerError>;

    /// Records a chunk of issuances, all active, in one transaction: all of
    /// them or none. Each letter file must already exist on disk.
    fn record(&mut self, rows: &[NewIssuance]) -> Result<(), LedgerError>;

    /// In one transaction, supersedes the receipt's active issuance (if any)
    /// and records `row` as active; `row.issue_no` must be the next number.
    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<(), LedgerError>;

    /// Every issuance of a receipt, by issue number.
    fn history(&self, receipt: &ReceiptNumber) -> Result<Vec<Issuance>, LedgerError>;

    /// One issuance, if recorded.
    fn issuance(
        &self,
        receipt: &ReceiptNumber,
        issue_no: u32,
    ) -> Result<Option<Issuance>, LedgerError>;

    /// Calls `f` for each issuance of the batch in presort order (ZIP5,
    /// ZIP+4 with plain ZIPs first, receipt, issue number), one row at a
    /// time; an error from `f` stops the walk and is returned. Returns the
    /// number of rows passed to `f`.
    fn for_each_in_batch(
        &self,
        batch_id: &str,
        f: &mut dyn FnMut(Issuance) -> Result<(), LedgerError>,
    ) -> Result<u64, LedgerError>;

    /// How many issuances the batch has recorded.
    fn count_in_batch(&self, batch_id: &str) -> Result<u64, LedgerError>;
}

/// Exclusive use of a ledger file by one run, held through an OS file lock on
/// `<ledger>.lock`. The lock is released when this value is dropped, and by
/// the operating system when the process dies, so a crashed run never leaves
/// a stale lock behind. The lock file itself stays; deleting it would let two
/// runs lock two different files.
#[derive(Debug)]
pub struct LedgerLock {
    // Held only for its lock; closing the file releases it.
    _file: File,
    lock_path: PathBuf,
}

impl LedgerLock {
    /// Takes the lock without waiting; fails at once if another run holds it.
    pub fn acquire(ledger_path: &Path) -> Result<LedgerLock, LedgerError> {
        let lock_path = lock_path_for(ledger_path);
        let lock_err = |source| LedgerError::Lock {
            ledger: ledger_path.to_path_buf(),
            lock: lock_path.clone(),
            source,
        };
        create_parent_dir(ledger_path)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        restrict_to_owner(&mut options);
        let file = options.open(&lock_path).map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => Ok(LedgerLock {
                _file: file,
                lock_path,
            }),
            Err(TryLockError::WouldBlock) => Err(LedgerError::Locked {
                ledger: ledger_path.to_path_buf(),
                lock: lock_path,
            }),
            Err(TryLockError::Error(source)) => Err(lock_err(source)),
        }
    }

    /// The lock file's path, `<ledger>.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

fn lock_path_for(ledger_path: &Path) -> PathBuf {
    let mut name = ledger_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn create_parent_dir(path: &Path) -> Result<(), LedgerError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|source| LedgerError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(unix)]
fn restrict_to_owner(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    // The ledger holds names and addresses: owner only.
    options.mode(0o600);
}

#[cfg(not(unix))]
fn restrict_to_owner(_options: &mut OpenOptions) {}

/// The SQLite ledger: one file, no server.
pub struct SqliteLedger {
    conn: Connection,
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
    /// brings its schema up to date. Take a [`LedgerLock`] first.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        Self::open_with_synchronous(path, "FULL")
    }

    fn open_with_synchronous(path: &Path, synchronous: &str) -> Result<Self, LedgerError> {
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
                return Err(LedgerError::CreateFile {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let label = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| LedgerError::Open {
            ledger: label.clone(),
            source,
        })?;
        Self::configure(conn, label, synchronous)
    }

    /// A fresh ledger in memory, for tests.
    pub fn open_in_memory() -> Result<Self, LedgerError> {
        let label = "(in-memory ledger)".to_string();
        let conn = Connection::open_in_memory().map_err(|source| LedgerError::Open {
            ledger: label.clone(),
            source,
        })?;
        Self::configure(conn, label, "FULL")
    }

    /// Replaces the clock used for audit timestamps (tests use a fixed one).
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Self {
        self.clock = clock;
        self
    }

    fn configure(conn: Connection, label: String, synchronous: &str) -> Result<Self, LedgerError> {
        let open_err = |source| LedgerError::Open {
            ledger: label.clone(),
            source,
        };
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
        let mut ledger = SqliteLedger {
            conn,
            label,
            clock: Utc::now,
        };
        ledger.migrate()?;
        Ok(ledger)
    }

    fn user_version(&self) -> Result<i64, LedgerError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| LedgerError::Open {
                ledger: self.label.clone(),
                source,
            })
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let known = MIGRATIONS.len() as i64;
        let found = self.user_version()?;
        if found > known {
            return Err(LedgerError::TooNew {
                ledger: self.label.clone(),
                found,
                known,
            });
        }
        if found == known {
            return Ok(());
        }
        let label = self.label.clone();
        let migrate_err = |version| {
            let ledger = label.clone();
            move |source| LedgerError::Migrate {
                ledger,
                version,
                source,
            }
        };
        let first = usize::try_from(found).unwrap_or(0);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(migrate_err(first + 1))?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(first) {
            let version = index + 1;
            tx.execute_batch(sql).map_err(migrate_err(version))?;
            // user_version lives in the database header, so setting it is
            // part of the transaction: a failed upgrade leaves no trace.
            tx.pragma_update(None, "user_version", version as i64)
                .map_err(migrate_err(version))?;
        }
        tx.commit().map_err(migrate_err(MIGRATIONS.len()))
    }

    fn now(&self) -> String {
        (self.clock)().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Turns a SQLite error into a sentence about this ledger.
    fn db_err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |source| classify(&self.label, action, source)
    }

    fn check_row(row: &NewIssuance) -> Result<(), LedgerError> {
        let hex_ok = row.fingerprint.len() >= MIN_FINGERPRINT_HEX_CHARS
            && row.fingerprint.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok {
            return Err(LedgerError::NotAFingerprint {
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
            });
        }
        if row.filing.receipt != row.receipt {
            return Err(LedgerError::FilingMismatch {
                receipt: row.receipt.clone(),
                issue_no: row.issue_no,
                filing_receipt: row.filing.receipt.clone(),
            });
        }
        Ok(())
    }

    /// Inserts one active row inside the caller's transaction; a constraint
    /// failure is diagnosed into the error that says which rule was broken.
    fn insert_active(
        label: &str,
        conn: &Connection,
        row: &NewIssuance,
        recorded_at: &str,
    ) -> Result<(), LedgerError> {
        let filing_json = serde_json::to_string(&row.filing).map_err(|e| LedgerError::Corrupt {
            ledger: label.to_string(),
            detail: format!(
                "the filing of receipt {} could not be encoded: {e}",
                row.receipt
            ),
        })?;
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO issuances (receipt, issue_no, form, batch_id, piece_id, key_id, \
                 fingerprint, notice_date, expires_on, letter_sha256, pages, imb_serial, zip5, \
                 zip4, filing_json, reason, forced, status, recorded_at, status_changed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17, 'active', ?18, NULL)",
            )
            .map_err(|e| classify(label, "prepare to record issuances", e))?;
        let result = stmt.execute(params![
            row.receipt.as_str(),
            row.issue_no,
            row.form.code(),
            row.batch_id,
            row.piece_id,
            row.key_id,
            row.fingerprint,
            date_text(row.notice_date),
            date_text(row.expires_on),
            row.letter_sha256,
            row.pages,
            row.imb_serial,
            row.filing.address.zip5,
            row.filing.address.zip4,
            filing_json,
            row.reason,
            row.forced,
            recorded_at,
        ]);
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(diagnose_constraint(label, conn, row, e))
            }
            Err(e) => Err(classify(label, "record issuances", e)),
        }
    }
}

/// Works out which rule an insert broke by asking the database, inside the
/// still-open transaction (SQLite undoes only the failed statement), rather
/// than parsing SQLite's message text.
fn diagnose_constraint(
    label: &str,
    conn: &Connection,
    row: &NewIssuance,
    original: rusqlite::Error,
) -> LedgerError {
    let ledger = label.to_string();
    let exists = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Option<Option<i64>> {
        conn.query_row(sql, p, |r| r.get::<_, i64>(0))
            .optional()
            .ok()
    };
    let receipt = row.receipt.as_str();
    if let Some(Some(_)) = exists(
        "SELECT 1 FROM issuances WHERE receipt = ?1 AND issue_no = ?2",
        &[&receipt, &row.issue_no],
    ) {
        return LedgerError::DuplicateIssuance {
            ledger,
            receipt: row.receipt.clone(),
            issue_no: row.issue_no,
        };
    }
    if let Some(Some(_)) = exists(
        "SELECT 1 FROM issuances WHERE piece_id = ?1",
        &[&row.piece_id],
    ) {
        return LedgerError::DuplicatePiece {
            ledger,
            piece_id: row.piece_id.clone(),
            receipt: row.receipt.clone(),
            issue_no: row.issue_no,
        };
    }
    if let Some(Some(active)) = exists(
        "SELECT issue_no FROM issuances WHERE receipt = ?1 AND status = 'active'",
        &[&receipt],
    ) {
        return LedgerError::AlreadyActive {
            ledger,
            receipt: row.receipt.clone(),
            issue_no: row.issue_no,
            active_issue_no: u32::try_from(active).unwrap_or(0),
        };
    }
    if let Some(None) = exists(
        "SELECT 1 FROM batches WHERE batch_id = ?1",
        &[&row.batch_id],
    ) {
        return LedgerError::UnknownBatch {
            ledger,
            batch_id: row.batch_id.clone(),
        };
    }
    classify(label, "record issuances", original)
}

fn classify(label: &str, action: &'static str, source: rusqlite::Error) -> LedgerError {
    use rusqlite::Error as E;
    match &source {
        E::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            LedgerError::Busy {
                ledger: label.to_string(),
            }
        }
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..) => LedgerError::Corrupt {
            ledger: label.to_string(),
            detail: source.to_string(),
        },
        _ => LedgerError::Sqlite {
            ledger: label.to_string(),
            action,
            source,
        },
    }
}

fn date_text(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

/// A conversion failure for column `idx`, reported as a corrupt ledger.
fn bad_column(idx: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        Box::<dyn std::error::Error + Send + Sync>::from(what),
    )
}

fn date_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<NaiveDate> {
    let text: String = row.get(idx)?;
    NaiveDate::parse_from_str(&text, DATE_FORMAT)
        .map_err(|_| bad_column(idx, format!("'{text}' is not a YYYY-MM-DD date")))
}

fn parse_form(code: &str) -> Option<FormType> {
    [FormType::I485, FormType::I131, FormType::I765]
        .into_iter()
        .find(|f| f.code() == code)
}

fn issuance_from_row(row: &Row<'_>) -> rusqlite::Result<Issuance> {
    let receipt_text: String = row.get(0)?;
    let receipt = ReceiptNumber::parse(&receipt_text).map_err(|e| bad_column(0, e))?;
    let form_text: String = row.get(2)?;
    let form = parse_form(&form_text)
        .ok_or_else(|| bad_column(2, format!("unknown form '{form_text}'")))?;
    let filing_json: String = row.get(12)?;
    let filing: Filing = serde_json::from_str(&filing_json).map_err(|e| {
        bad_column(
            12,
            format!("the stored filing of receipt {receipt} is not readable: {e}"),
        )
    })?;
    let status_text: String = row.get(15)?;
    let status = IssuanceStatus::parse(&status_text)
        .ok_or_else(|| bad_column(15, format!("unknown status '{status_text}'")))?;
    Ok(Issuance {
        receipt,
        issue_no: row.get(1)?,
        form,
        batch_id: row.get(3)?,
        piece_id: row.get(4)?,
        key_id: row.get(5)?,
        fingerprint: row.get(6)?,
        notice_date: date_column(row, 7)?,
        expires_on: date_column(row, 8)?,
        letter_sha256: row.get(9)?,
        pages: row.get(10)?,
        imb_serial: row.get(11)?,
        filing,
        reason: row.get(13)?,
        forced: row.get(14)?,
        status,
        recorded_at: row.get(16)?,
        status_changed_at: row.get(17)?,
    })
}

fn batch_from_row(row: &Row<'_>) -> rusqlite::Result<(BatchRecord, Option<String>)> {
    let kind_text: String = row.get(5)?;
    let kind = BatchKind::parse(&kind_text)
        .ok_or_else(|| bad_column(5, format!("unknown batch kind '{kind_text}'")))?;
    Ok((
        BatchRecord {
            batch_id: row.get(0)?,
            batch_date: date_column(row, 1)?,
            key_id: row.get(2)?,
            is_test: row.get(3)?,
            input_sha256: row.get(4)?,
            kind,
        },
        row.get(6)?,
    ))
}

/// Names the fields in which a recorded batch differs from a new request.
fn batch_differences(old: &BatchRecord, new: &BatchRecord) -> Vec<String> {
    let mut diffs = Vec::new();
    if old.key_id != new.key_id {
        diffs.push(format!("key (recorded {}, now {})", old.key_id, new.key_id));
    }
    if old.input_sha256 != new.input_sha256 {
        diffs.push(format!(
            "input file (recorded sha256 {}, now {})",
            old.input_sha256, new.input_sha256
        ));
    }
    if old.batch_date != new.batch_date {
        diffs.push(format!(
            "batch date (recorded {}, now {})",
            old.batch_date, new.batch_date
        ));
    }
    if old.is_test != new.is_test {
        diffs.push(format!(
            "test marking (recorded {}, now {})",
            old.is_test, new.is_test
        ));
    }
    if old.kind != new.kind {
        diffs.push(format!(
            "kind (recorded {}, now {})",
            old.kind.as_str(),
            new.kind.as_str()
        ));
    }
    diffs
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
            Self::check_row(row)?;
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
            Self::insert_active(&label, &tx, row, &now)?;
        }
        tx.commit()
            .map_err(|e| classify(&label, "record issuances", e))
    }

    fn supersede_and_record(&mut self, row: &NewIssuance) -> Result<(), LedgerError> {
        Self::check_row(row)?;
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
        Self::insert_active(&label, &tx, row, &now)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::{Address, Language};

    fn fixed_clock() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T03:04:05Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn receipt(n: u64) -> ReceiptNumber {
        ReceiptNumber::parse(&format!("IOE{n:010}")).expect("valid receipt")
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
    }

    fn filing(n: u64, zip5: &str, zip4: Option<&str>) -> Filing {
        Filing {
            line: n + 1,
            receipt: receipt(n),
            form: FormType::I485,
            received_date: date("2026-11-20"),
            given_name: "José".into(),
            middle_name: None,
            family_name: "Nguyễn".into(),
            a_number: Some("A123456789".into()),
            name_line: "JOSE NGUYEN".into(),
            address: Address {
                in_care_of: None,
                line1: "123 MAIN ST APT 4".into(),
                line2: None,
                city: "WASHINGTON".into(),
                state: "DC".into(),
                zip5: zip5.into(),
                zip4: zip4.map(str::to_string),
            },
            language: Language::En,
        }
    }

    fn fingerprint(n: u64, issue_no: u32) -> String {
        format!("{:064x}", n * 1000 + u64::from(issue_no))
    }

    fn new_row(n: u64, issue_no: u32, batch_id: &str) -> NewIssuance {
        new_row_zip(n, issue_no, batch_id, "20001", None)
    }

    fn new_row_zip(
        n: u64,
        issue_no: u32,
        batch_id: &str,
        zip5: &str,
        zip4: Option<&str>,
    ) -> NewIssuance {
        NewIssuance {
            receipt: receipt(n),
            issue_no,
            form: FormType::I485,
            batch_id: batch_id.into(),
            piece_id: format!("P{n:08}-{issue_no}"),
            key_id: "test-2026".into(),
            fingerprint: fingerprint(n, issue_no),
            notice_date: date("2026-11-25"),
            expires_on: date("2027-02-23"),
            letter_sha256: format!("{:064x}", n),
            pages: 1,
            imb_serial: None,
            filing: filing(n, zip5, zip4),
            reason: None,
            forced: false,
        }
    }

    fn batch(id: &str, kind: BatchKind) -> BatchRecord {
        BatchRecord {
            batch_id: id.into(),
            batch_date: date("2026-11-25"),
            key_id: "test-2026".into(),
            is_test: true,
            input_sha256: "ab".repeat(32),
            kind,
        }
    }

    fn ledger_with_batch(id: &str) -> SqliteLedger {
        let mut ledger = SqliteLedger::open_in_memory()
            .expect("open")
            .with_clock(fixed_clock);
        ledger
            .start_batch(&batch(id, BatchKind::Nightly))
            .expect("start batch");
        ledger
    }

    fn statuses(ledger: &SqliteLedger, r: &ReceiptNumber) -> Vec<(u32, IssuanceStatus)> {
        ledger
            .history(r)
            .expect("history")
            .iter()
            .map(|i| (i.issue_no, i.status))
            .collect()
    }

    #[test]
    fn migrations_apply_to_an_empty_database() {
        let ledger = SqliteLedger::open_in_memory().expect("open");
        assert_eq!(ledger.user_version().expect("version"), 1);
        let mut names: Vec<String> = ledger
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        names.sort();
        assert_eq!(
            names,
            [
                "batches",
                "issuances",
                "issuances_one_active",
                "issuances_presort"
            ]
        );
        let fk: i64 = ledger
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .expect("pragma");
        assert_eq!(fk, 1);
    }

    #[test]
    fn no_column_can_hold_a_code() {
        let ledger = SqliteLedger::open_in_memory().expect("open");
        for table in ["batches", "issuances"] {
            let columns: Vec<String> = ledger
                .conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .expect("prepare")
                .query_map([], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert!(!columns.is_empty());
            assert!(
                columns.iter().all(|c| !c.contains("code")),
                "{table}: {columns:?}"
            );
        }
    }

    #[test]
    fn a_clear_code_is_refused_as_a_fingerprint_and_not_echoed() {
        let mut ledger = ledger_with_batch("b1");
        let mut row = new_row(1, 1, "b1");
        row.fingerprint = "7K2M-9QXD-4RT8".into();
        let err = ledger.record(&[row]).expect_err("must refuse");
        assert!(matches!(
            err,
            LedgerError::NotAFingerprint { issue_no: 1, .. }
        ));
        let text = err.to_string();
        assert!(!text.contains("7K2M"), "{text}");
        assert!(ledger.history(&receipt(1)).expect("history").is_empty());
    }

    #[test]
    fn a_row_whose_filing_is_another_receipt_is_refused() {
        let mut ledger = ledger_with_batch("b1");
        let mut row = new_row(1, 1, "b1");
        row.filing = filing(2, "20001", None);
        let err = ledger.record(&[row]).expect_err("must refuse");
        assert!(matches!(err, LedgerError::FilingMismatch { .. }), "{err}");
    }

    #[test]
    fn reopening_a_file_keeps_its_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.sqlite");
        {
            let mut ledger = SqliteLedger::open(&path)
                .expect("open")
                .with_clock(fixed_clock);
            ledger
                .start_batch(&batch("b1", BatchKind::Nightly))
                .expect("start");
            ledger.record(&[new_row(1, 1, "b1")]).expect("record");
        }
        let ledger = SqliteLedger::open(&path).expect("reopen");
        let history = ledger.history(&receipt(1)).expect("history");
        assert_eq!(history.len(), 1);
        let got = &history[0];
        let want = new_row(1, 1, "b1");
        assert_eq!(got.filing, want.filing);
        assert_eq!(got.fingerprint, want.fingerprint);
        assert_eq!(got.expires_on, date("2027-02-23"));
        assert_eq!(got.status, IssuanceStatus::Active);
        assert_eq!(got.recorded_at, "2026-11-26T03:04:05.000Z");
        assert_eq!(got.status_changed_at, None);
        assert_eq!(
            got.view(),
            IssuanceView {
                issue_no: 1,
                key_id: "test-2026".into(),
                fingerprint: want.fingerprint.clone(),
                status: IssuanceStatus::Active,
                notice_date: got.notice_date,
                expires_on: date("2027-02-23"),
            }
        );
        assert_eq!(ledger.user_version().expect("version"), 1);
    }

    #[test]
    fn a_ledger_from_a_newer_program_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.sqlite");
        {
            let ledger = SqliteLedger::open(&path).expect("open");
            ledger
                .conn
                .pragma_update(None, "user_version", 99)
                .expect("set version");
        }
        let err = SqliteLedger::open(&path).expect_err("must refuse");
        assert!(
            matches!(
                err,
                LedgerError::TooNew {
                    found: 99,
                    known: 1,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("schema version 99"), "{text}");
        assert!(text.contains("newer access-letters"), "{text}");
    }

    #[test]
    fn record_then_receipt_states() {
        let mut ledger = ledger_with_batch("b1");
        ledger
            .start_batch(&batch("r1", BatchKind::Reissue))
            .expect("reissue batch");
        ledger
            .record(&[new_row(1, 1, "b1"), new_row(2, 1, "b1")])
            .expect("record");
        ledger
            .supersede_and_record(&new_row(2, 2, "r1"))
            .expect("reissue");
        let states = ledger
            .receipt_states(&[receipt(1), receipt(2), receipt(3), receipt(1)])
            .expect("states");
        assert_eq!(states.len(), 2);
        assert_eq!(
            states[&receipt(1)],
            ReceiptState {
                max_issue_no: 1,
                active: Some(ActiveRef {
                    issue_no: 1,
                    batch_id: "b1".into()
                })
            }
        );
        assert_eq!(
            states[&receipt(2)],
            ReceiptState {
                max_issue_no: 2,
                active: Some(ActiveRef {
                    issue_no: 2,
                    batch_id: "r1".into()
                })
            }
        );
        assert!(!states.contains_key(&receipt(3)));
        assert_eq!(ledger.count_in_batch("b1").expect("count"), 2);
        assert_eq!(ledger.count_in_batch("r1").expect("count"), 1);
        assert_eq!(ledger.count_in_batch("nope").expect("count"), 0);
    }

    #[test]
    fn a_duplicate_issue_rolls_back_the_whole_chunk() {
        let mut ledger = ledger_with_batch("b1");
        ledger.record(&[new_row(1, 1, "b1")]).expect("first");
        let mut dup = new_row(1, 1, "b1");
        dup.piece_id = "P-other".into();
        let err = ledger
            .record(&[new_row(3, 1, "b1"), dup])
            .expect_err("duplicate must fail");
        match &err {
            LedgerError::DuplicateIssuance {
                receipt: r,
                issue_no: 1,
                ..
            } => assert_eq!(r, &receipt(1)),
            other => panic!("wrong error: {other}"),
        }
        assert!(err
            .to_string()
            .starts_with("receipt IOE0000000001 issue 1 is already in the issuance ledger"));
        // Receipt 3 came first in the chunk and must not survive.
        assert!(ledger
            .receipt_states(&[receipt(3)])
            .expect("states")
            .is_empty());
        assert_eq!(ledger.count_in_batch("b1").expect("count"), 1);
    }

    #[test]
    fn a_duplicate_piece_id_is_named() {
        let mut ledger = ledger_with_batch("b1");
        ledger.record(&[new_row(1, 1, "b1")]).expect("first");
        let mut row = new_row(2, 1, "b1");
        row.piece_id = new_row(1, 1, "b1").piece_id;
        let err = ledger.record(&[row]).expect_err("must fail");
        assert!(matches!(err, LedgerError::DuplicatePiece { .. }), "{err}");
    }

    #[test]
    fn recording_for_an_unknown_batch_is_refused() {
        let mut ledger = ledger_with_batch("b1");
        let err = ledger
            .record(&[new_row(1, 1, "missing")])
            .expect_err("must fail");
        assert!(
            matches!(&err, LedgerError::UnknownBatch { batch_id, .. } if batch_id == "missing"),
            "{err}"
        );
    }

    #[test]
    fn at_most_one_active_issuance_per_receipt() {
        let mut ledger = ledger_with_batch("b1");
        ledger.record(&[new_row(1, 1, "b1")]).expect("first");
        let err = ledger
            .record(&[new_row(1, 2, "b1")])
            .expect_err("second active must fail");
        assert!(
            matches!(
                err,
                LedgerError::AlreadyActive {
                    issue_no: 2,
                    active_issue_no: 1,
                    ..
                }
            ),
            "{err}"
        );
        // Also within one chunk.
        let err = ledger
            .record(&[new_row(5, 1, "b1"), new_row(5, 2, "b1")])
            .expect_err("two active in one chunk must fail");
        assert!(matches!(err, LedgerError::AlreadyActive { .. }), "{err}");
        assert_eq!(
            statuses(&ledger, &receipt(1)),
            [(1, IssuanceStatus::Active)]
        );
        assert!(ledger.history(&receipt(5)).expect("history").is_empty());
    }

    #[test]
    fn supersede_and_record_flips_statuses() {
        let mut ledger = ledger_with_batch("b1");
        ledger
            .start_batch(&batch("r1", BatchKind::Reissue))
            .expect("reissue batch");
        ledger.record(&[new_row(1, 1, "b1")]).expect("first");
        let mut second = new_row(1, 2, "r1");
        second.reason = Some("letter returned undeliverable".into());
        second.forced = true;
        ledger.supersede_and_record(&second).expect("reissue");
        let history = ledger.history(&receipt(1)).expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].status, IssuanceStatus::Superseded);
        assert_eq!(
            history[0].status_changed_at.as_deref(),
            Some("2026-11-26T03:04:05.000Z")
        );
        assert_eq!(history[1].status, IssuanceStatus::Active);
        assert_eq!(
            history[1].reason.as_deref(),
            Some("letter returned undeliverable")
        );
        assert!(history[1].forced);
        assert_eq!(history[1].batch_id, "r1");

        // Wrong next number: refused, and nothing changes.
        for wrong in [2, 4] {
            let err = ledger
                .supersede_and_record(&new_row(1, wrong, "r1"))
                .expect_err("out of order");
            assert!(
                matches!(err, LedgerError::IssueOutOfOrder { expected: 3, .. }),
                "{err}"
            );
        }
        assert_eq!(
            statuses(&ledger, &receipt(1)),
            [(1, IssuanceStatus::Superseded), (2, IssuanceStatus::Active)]
        );
        assert_eq!(
            ledger
                .issuance(&receipt(1), 2)
                .expect("issuance")
                .map(|i| i.piece_id),
            Some(new_row(1, 2, "r1").piece_id)
        );
        assert_eq!(ledger.issuance(&receipt(1), 3).expect("issuance"), None);
    }

    #[test]
    fn history_is_ordered_by_issue_number() {
        let mut ledger = ledger_with_batch("b1");
        ledger.record(&[new_row(1, 3, "b1")]).expect("issue 3");
        // Older issues inserted later, as a migration from another system
        // might: history must still come back by issue number.
        for issue_no in [1u32, 2] {
            ledger
                .conn
                .execute(
                    &format!(
                        "INSERT INTO issuances ({ISSUANCE_COLUMNS}, zip5) \
                         SELECT receipt, ?1, form, batch_id, piece_id || '-' || ?1, key_id, \
                         fingerprint, notice_date, expires_on, letter_sha256, pages, imb_serial, \
                         filing_json, reason, forced, 'superseded', recorded_at, \
                         status_changed_at, zip5 FROM issuances WHERE issue_no = 3"
                    ),
                    [issue_no],
                )
                .expect("insert old issue");
        }
        assert_eq!(
            statuses(&ledger, &receipt(1)),
            [
                (1, IssuanceStatus::Superseded),
                (2, IssuanceStatus::Superseded),
                (3, IssuanceStatus::Active)
            ]
        );
    }

    #[test]
    fn for_each_in_batch_streams_in_presort_order() {
        let mut ledger = ledger_with_batch("b1");
        ledger
            .start_batch(&batch("b2", BatchKind::Nightly))
            .expect("other batch");
        ledger
            .record(&[
                new_row_zip(1, 1, "b1", "20001", Some("1234")),
                new_row_zip(2, 1, "b1", "20001", None),
                new_row_zip(3, 1, "b1", "10001", Some("0001")),
                new_row_zip(4, 1, "b1", "99501", None),
                new_row_zip(5, 1, "b1", "20001", Some("0002")),
                new_row_zip(6, 1, "b1", "20001", None),
                new_row_zip(7, 1, "b2", "00601", None),
            ])
            .expect("record");
        let mut seen = Vec::new();
        let count = ledger
            .for_each_in_batch("b1", &mut |i| {
                seen.push((i.filing.address.zip(), i.receipt.clone()));
                Ok(())
            })
            .expect("walk");
        assert_eq!(count, 6);
        let want = [
            ("10001-0001", 3),
            ("20001", 2),
            ("20001", 6),
            ("20001-0002", 5),
            ("20001-1234", 1),
            ("99501", 4),
        ];
        let want: Vec<(String, ReceiptNumber)> = want
            .iter()
            .map(|(z, n)| (z.to_string(), receipt(*n)))
            .collect();
        assert_eq!(seen, want);

        // A callback error stops the walk at once and comes back unchanged.
        let mut calls = 0;
        let err = ledger
            .for_each_in_batch("b1", &mut |_| {
                calls += 1;
                if calls == 2 {
                    Err(LedgerError::Consumer("manifest disk full".into()))
                } else {
                    Ok(())
                }
            })
            .expect_err("aborted");
        assert_eq!(calls, 2);
        assert_eq!(err.to_string(), "manifest disk full");
    }

    #[test]
    fn presort_order_is_served_by_the_index_without_a_sort() {
        let ledger = ledger_with_batch("b1");
        let plan: Vec<String> = ledger
            .conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT {ISSUANCE_COLUMNS} FROM issuances \
                 WHERE batch_id = ?1 ORDER BY zip5, zip4, receipt, issue_no"
            ))
            .expect("prepare")
            .query_map(["b1"], |r| r.get(3))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let plan = plan.join("; ");
        assert!(plan.contains("issuances_presort"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn last_serial_is_the_most_recent_not_the_largest() {
        let mut ledger = ledger_with_batch("b1");
        assert_eq!(ledger.last_serial().expect("serial"), None);
        let with_serial = |n: u64, serial: Option<u64>| {
            let mut row = new_row(n, 1, "b1");
            row.imb_serial = serial;
            row
        };
        ledger
            .record(&[
                with_serial(1, Some(5)),
                with_serial(2, None),
                with_serial(3, Some(7)),
            ])
            .expect("record");
        assert_eq!(ledger.last_serial().expect("serial"), Some(7));
        ledger.record(&[with_serial(4, Some(3))]).expect("record");
        assert_eq!(ledger.last_serial().expect("serial"), Some(3));
        ledger.record(&[with_serial(5, None)]).expect("record");
        assert_eq!(ledger.last_serial().expect("serial"), Some(3));
    }

    #[test]
    fn start_batch_is_idempotent_and_refuses_a_different_input() {
        let mut ledger = ledger_with_batch("b1");
        ledger
            .start_batch(&batch("b1", BatchKind::Nightly))
            .expect("same batch again");
        let n: i64 = ledger
            .conn
            .query_row("SELECT COUNT(*) FROM batches", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
        assert_eq!(
            ledger.batch("b1").expect("batch"),
            Some((batch("b1", BatchKind::Nightly), None))
        );
        assert_eq!(ledger.batch("b9").expect("batch"), None);

        let mut other = batch("b1", BatchKind::Nightly);
        other.input_sha256 = "cd".repeat(32);
        let err = ledger.start_batch(&other).expect_err("conflict");
        assert!(matches!(err, LedgerError::BatchConflict { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("input file (recorded sha256 abab"), "{text}");

        let mut other_key = batch("b1", BatchKind::Nightly);
        other_key.key_id = "prod-2027".into();
        let text = ledger
            .start_batch(&other_key)
            .expect_err("conflict")
            .to_string();
        assert!(
            text.contains("key (recorded test-2026, now prod-2027)"),
            "{text}"
        );

        ledger
            .complete_batch("b1", r#"{"issued":0}"#)
            .expect("complete");
        assert_eq!(
            ledger.batch("b1").expect("batch").and_then(|(_, s)| s),
            Some(r#"{"issued":0}"#.to_string())
        );
        let err = ledger.complete_batch("b9", "{}").expect_err("unknown");
        assert!(matches!(err, LedgerError::UnknownBatch { .. }), "{err}");
    }

    #[test]
    fn the_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out").join("ledger.sqlite");
        let first = LedgerLock::acquire(&path).expect("first lock");
        assert_eq!(
            first.lock_path(),
            dir.path().join("out").join("ledger.sqlite.lock")
        );
        let err = LedgerLock::acquire(&path).expect_err("second must fail");
        assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "another access-letters run is using the ledger {} (lock file {}.lock); wait for it to finish",
                path.display(),
                path.display()
            )
        );
        drop(first);
        LedgerLock::acquire(&path).expect("free again after drop");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_ledger_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("ledger.sqlite");
        let mut ledger = SqliteLedger::open(&path).expect("open");
        ledger
            .start_batch(&batch("b1", BatchKind::Nightly))
            .expect("start");
        ledger.record(&[new_row(1, 1, "b1")]).expect("record");
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let _lock = LedgerLock::acquire(&path).expect("lock");
        for file in [path.clone(), PathBuf::from(wal), lock_path_for(&path)] {
            let mode = std::fs::metadata(&file)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }

    /// Measures the price of `synchronous=FULL` over `NORMAL` for 1000
    /// transactions of 256 rows. Run with
    /// `cargo test --release ledger::tests::measure -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_synchronous_full_vs_normal() {
        const TRANSACTIONS: u64 = 1000;
        const ROWS_PER_TRANSACTION: u64 = 256;
        for mode in ["NORMAL", "FULL"] {
            let dir = tempfile::tempdir_in(".").expect("tempdir");
            let path = dir.path().join("ledger.sqlite");
            let mut ledger = SqliteLedger::open_with_synchronous(&path, mode).expect("open");
            ledger
                .start_batch(&batch("b1", BatchKind::Nightly))
                .expect("start");
            let mut elapsed = Duration::ZERO;
            for t in 0..TRANSACTIONS {
                let rows: Vec<NewIssuance> = (0..ROWS_PER_TRANSACTION)
                    .map(|i| new_row(t * ROWS_PER_TRANSACTION + i, 1, "b1"))
                    .collect();
                let start = std::time::Instant::now();
                ledger.record(&rows).expect("record");
                elapsed += start.elapsed();
            }
            println!(
                "synchronous={mode}: {TRANSACTIONS} transactions x {ROWS_PER_TRANSACTION} rows in {:.2} s ({:.2} ms per transaction)",
                elapsed.as_secs_f64(),
                elapsed.as_secs_f64() * 1000.0 / TRANSACTIONS as f64
            );
        }
    }
}
