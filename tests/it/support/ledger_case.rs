//! A ledger with receipts issued, on either backend, for the tests that run
//! the library's code-life functions directly (`lifecycle`, `races`): the
//! receipts, filings and issuance rows they record, with real codes derived
//! with the built-in test key, and the two backends to run a case on.

use std::sync::Arc;

use access_letters::code::{derive, fingerprint};
use access_letters::filing::{Address, Filing, FormType, Language, ReceiptNumber};
use access_letters::key::KeyRing;
use access_letters::ledger::{
    BatchKind, BatchRecord, Ledger, LetterProof, NewIssuance, PostgresLedger, SqliteLedger,
};
use access_letters::ops::builtin_test_key;
use chrono::{DateTime, NaiveDate, Utc};

use super::pg::PgSchema;

/// The nightly batch [`issued`] records issue 1 of each receipt in.
pub const BATCH: &str = "2026-11-25-abc123";

/// Receipt number `n`: `IOE` and `n` in ten digits.
pub fn receipt(n: u64) -> ReceiptNumber {
    ReceiptNumber::parse(&format!("IOE{n:010}")).expect("valid receipt")
}

/// A day written `YYYY-MM-DD`.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

/// A time written in RFC 3339.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a time")
        .with_timezone(&Utc)
}

/// The built-in test key, alone in a ring.
pub fn ring() -> KeyRing {
    KeyRing::single(builtin_test_key())
}

/// The filing of receipt `n`.
pub fn filing(n: u64) -> Filing {
    Filing {
        line: n + 1,
        receipt: receipt(n),
        form: FormType::I765,
        received_date: date("2026-11-20"),
        given_name: "Łukasz".into(),
        middle_name: None,
        family_name: "Dvořák".into(),
        a_number: None,
        name_line: "LUKASZ DVORAK".into(),
        address: Address {
            in_care_of: None,
            line1: "UNIT 2050 BOX 4190".into(),
            line2: None,
            city: "APO".into(),
            state: "AP".into(),
            zip5: "96278".into(),
            zip4: Some("2050".into()),
        },
        language: Language::En,
    }
}

/// Issue `issue_no` of receipt `n`, fingerprinted with its real code.
pub fn row(n: u64, issue_no: u32, batch_id: &str) -> NewIssuance {
    let key = builtin_test_key();
    let code = derive(&key, &receipt(n), issue_no);
    NewIssuance {
        receipt: receipt(n),
        issue_no,
        form: FormType::I765,
        batch_id: batch_id.into(),
        piece_id: format!("IOE{n:010}-{issue_no:02}"),
        key_id: key.id().into(),
        fingerprint: fingerprint(&key, &code),
        notice_date: date("2026-11-25"),
        expires_on: date("2027-02-23"),
        proof: LetterProof::NotYetPrinted,
        pages: 1,
        imb_serial: None,
        filing: filing(n),
        reason: None,
        forced: false,
    }
}

/// The code of issue `issue_no` of receipt `n`, as its letter shows it.
pub fn code(n: u64, issue_no: u32) -> String {
    derive(&builtin_test_key(), &receipt(n), issue_no).reveal_for_letter()
}

/// Starts a batch of the built-in test key.
pub fn start(ledger: &mut dyn Ledger, batch_id: &str, kind: BatchKind) {
    ledger
        .start_batch(&BatchRecord {
            batch_id: batch_id.into(),
            batch_date: date("2026-11-25"),
            key_id: builtin_test_key().id().into(),
            mode: access_letters::key::KeyMode::Test,
            input_sha256: access_letters::ledger::Sha256Hex::of(b"ledger cases"),
            kind,
        })
        .expect("start the batch");
}

/// A ledger holding issue 1 of receipts 1..=n, in [`BATCH`].
pub fn issued(ledger: &mut dyn Ledger, n: u64) {
    start(ledger, BATCH, BatchKind::Nightly);
    let rows: Vec<_> = (1..=n).map(|i| row(i, 1, BATCH)).collect();
    ledger.record(&rows).expect("record");
}

/// A ledger the case may open more connections to (for concurrency).
pub type Opener = Arc<dyn Fn() -> Box<dyn Ledger> + Send + Sync>;

/// Runs `case` on a new SQLite ledger in a temporary folder.
pub fn with_sqlite(case: impl FnOnce(&mut dyn Ledger, Opener)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    let mut ledger = SqliteLedger::open(&path).expect("open the SQLite ledger");
    let opener: Opener = Arc::new(move || {
        Box::new(SqliteLedger::open_existing(&path).expect("open again")) as Box<dyn Ledger>
    });
    case(&mut ledger, opener);
}

/// Runs `case` on a new PostgreSQL schema of its own (named after `test`),
/// or says it was skipped when no test server is configured.
pub fn with_postgres(test: &str, case: impl FnOnce(&mut dyn Ledger, Opener)) {
    let Some(schema) = PgSchema::create(test) else {
        return;
    };
    let mut ledger = schema.connect();
    let url = schema.url();
    let opener: Opener = Arc::new(move || {
        Box::new(PostgresLedger::connect(&url).expect("connect")) as Box<dyn Ledger>
    });
    case(&mut ledger, opener);
}
