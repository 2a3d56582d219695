//! `ingest scans` at scale: `cargo bench --bench ingest` (or
//! `cargo bench --bench ingest -- ROWS`, or BENCH_INGEST_ROWS; default
//! 1,000,000 scan rows).
//!
//! 1. A ledger of letters with barcodes: one piece per five scans, recorded
//!    straight through the ledger API (rendering them would measure `run`,
//!    not `ingest`), dated ten days ago.
//! 2. An IV-MTR file as USPS sends it (`|`-delimited, header row): each
//!    piece accepted, processed twice, out for delivery and delivered,
//!    shuffled the way a day's feed interleaves pieces; one row in fifty
//!    another mailer's piece (unmatched), one in a thousand with a broken
//!    time (rejected).
//! 3. The `access-letters` binary imports it, in a child process: wall
//!    time, and the child's peak resident memory (`getrusage` of the
//!    children once it is waited for, so the setup above is not counted).
//!
//! Not a test: it asserts only that the counts add up and the run
//! succeeded; it measures.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use access_letters::filing::{Address, Filing, FormType, Language, ReceiptNumber};
use access_letters::ledger::{
    BatchKind, BatchRecord, IssuanceLedger, LetterProof, NewIssuance, Sha256Hex, SqliteLedger,
};
use chrono::{Days, NaiveDate, Utc};

const BIN: &str = env!("CARGO_BIN_EXE_access-letters");

/// Scans per piece: accepted, processed twice, out for delivery, delivered.
const SCANS_PER_PIECE: u64 = 5;

/// The mailer ID the ledger's barcodes carry (agency.toml's `mailer_id`).
const MAILER_ID: &str = "123456";

/// Issuances recorded per ledger transaction while setting up.
const RECORD_CHUNK: usize = 10_000;

fn main() {
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .or_else(|| {
            std::env::var("BENCH_INGEST_ROWS")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("output");
    std::fs::create_dir_all(&out).expect("output folder");
    let batch_date = Utc::now().date_naive() - Days::new(10);
    let pieces = rows.div_ceil(SCANS_PER_PIECE);

    let t = Instant::now();
    make_ledger(&out.join("ledger.sqlite"), pieces, batch_date);
    let scans = dir.path().join("ivmtr.txt");
    let bytes = write_scans(&scans, rows, pieces, batch_date);
    let config = dir.path().join("agency.toml");
    let toml = include_str!("../templates/agency.toml")
        .replace("mailer_id = \"\"", &format!("mailer_id = \"{MAILER_ID}\""));
    std::fs::write(&config, toml).expect("config");
    eprintln!(
        "setup: {pieces} letters in the ledger, {rows} scan rows ({:.0} MB) in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let run = Command::new(BIN)
        .args(["ingest", "scans"])
        .arg(&scans)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the binary runs");
    let secs = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.code() == Some(2) || run.status.success(),
        "ingest failed: {stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{}", stdout.lines().next().unwrap_or_default());
    println!(
        "ingest scans: {rows} rows in {secs:.1} s = {:.0} rows/s; peak RSS {:.0} MB",
        rows as f64 / secs,
        children_peak_rss_mb()
    );
}

/// The largest resident set of a child waited for so far, in MB.
fn children_peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage.ru_maxrss as f64 / 1024.0
}

/// Barcode serial of piece `n`.
fn serial(n: u64) -> u64 {
    n + 1
}

fn piece_id(n: u64) -> String {
    format!("IOE{:010}-01", n)
}

/// A ledger holding `pieces` letters with barcodes, dated `date`.
fn make_ledger(path: &Path, pieces: u64, date: NaiveDate) {
    let mut ledger = SqliteLedger::create(path).expect("ledger");
    let batch_id = format!("{date}-bench0");
    ledger
        .start_batch(&BatchRecord {
            batch_id: batch_id.clone(),
            batch_date: date,
            key_id: "test-bench".into(),
            mode: access_letters::key::KeyMode::Test,
            input_sha256: Sha256Hex::of(b"bench"),
            kind: BatchKind::Nightly,
        })
        .expect("batch");
    let all: Vec<u64> = (0..pieces).collect();
    for chunk in all.chunks(RECORD_CHUNK) {
        let rows: Vec<NewIssuance> = chunk
            .iter()
            .map(|&n| issuance(n, &batch_id, date))
            .collect();
        ledger.record(&rows).expect("record");
    }
    ledger.complete_batch(&batch_id, "{}").expect("complete");
}

fn issuance(n: u64, batch_id: &str, date: NaiveDate) -> NewIssuance {
    let receipt = ReceiptNumber::parse(&format!("IOE{n:010}")).expect("receipt");
    NewIssuance {
        receipt: receipt.clone(),
        issue_no: 1,
        form: FormType::I485,
        batch_id: batch_id.into(),
        piece_id: piece_id(n),
        key_id: "test-bench".into(),
        fingerprint: access_letters::code::Fingerprint::from_hex(format!("{:064x}", n + 1))
            .expect("hex"),
        notice_date: date,
        expires_on: date + Days::new(90),
        proof: LetterProof::File(Sha256Hex::parse(&format!("{:064x}", n + 7)).expect("hex")),
        pages: 1,
        imb_serial: Some(serial(n)),
        filing: Filing {
            line: n + 2,
            receipt,
            form: FormType::I485,
            received_date: date - Days::new(5),
            given_name: "María".into(),
            middle_name: None,
            family_name: "Nguyễn".into(),
            a_number: None,
            name_line: "MARIA NGUYEN".into(),
            address: Address {
                in_care_of: None,
                line1: "1200 E MAIN ST APT 4".into(),
                line2: None,
                city: "LOS ANGELES".into(),
                state: "CA".into(),
                zip5: "90012".into(),
                zip4: None,
            },
            language: Language::En,
        },
        reason: None,
        forced: false,
    }
}

/// Writes `rows` IV-MTR scan rows about `pieces` pieces; returns the bytes.
fn write_scans(path: &Path, rows: u64, pieces: u64, date: NaiveDate) -> u64 {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("scans file"));
    writeln!(
        w,
        "IMb|Scan Date Time|Operation Code|Scan Facility ZIP|Scan Facility Name|Handling Event Type|Machine Name"
    )
    .unwrap();
    let steps = [
        ("919", "90052", "LOS ANGELES P&DC", "A"),
        ("271", "90052", "LOS ANGELES P&DC", "P"),
        ("895", "90012", "LOS ANGELES CARRIER ANNEX", "P"),
        ("918", "90012", "LOS ANGELES CARRIER ANNEX", "O"),
        ("908", "90012", "LOS ANGELES CARRIER ANNEX", "D"),
    ];
    // A feed interleaves pieces: walk them with a stride prime to their number.
    let stride = (pieces / 2 + 1..)
        .find(|s| gcd(*s, pieces) == 1)
        .unwrap_or(1);
    for i in 0..rows {
        let step = (i / pieces) % SCANS_PER_PIECE;
        let n = (i % pieces) * stride % pieces;
        let (op, zip, facility, event) = steps[step as usize];
        let mailer = if i % 50 == 49 { "654321" } else { MAILER_ID };
        let day = date + Days::new(1 + step);
        let minute = (n * 7 + step * 13) % 60;
        let time = if i % 1000 == 999 {
            "soon".to_string()
        } else {
            format!("{day} {:02}:{minute:02}:00", 4 + step * 3)
        };
        writeln!(
            w,
            "00270{mailer}{:09}90012|{time}|{op}|{zip}|{facility}|{event}|DBCS-{}",
            serial(n),
            n % 40
        )
        .unwrap();
    }
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
