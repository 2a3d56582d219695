//! Throughput and memory benchmark: `cargo bench` (or `cargo bench -- ROWS`).
//!
//! 1. Stages: renders every fixture letter many times on one thread and
//!    reports the time per letter of each stage (template, layout, PDF
//!    object tree with font subsetting, compression, serialisation) and the
//!    size per letter.
//! 2. End to end: generates a filings file (100,000 rows by default; pass a
//!    number, or set BENCH_ROWS) and runs the whole batch in-process on all
//!    cores against a fresh ledger, reporting letters per second and the
//!    process's peak resident memory.
//!
//! Not a test: it asserts nothing about speed, it measures.

use std::path::Path;
use std::time::{Duration, Instant};

use access_letters::batch::{run, NoProgress, RunInputs, DEFAULT_CHUNK_SIZE};
use access_letters::code::derive;
use access_letters::config::Config;
use access_letters::filing::{piece_id, Filing};
use access_letters::intake::{Intake, Outcome};
use access_letters::key::{Key, KeyRing};
use access_letters::layout::{layout, LetterParts};
use access_letters::ledger::SqliteLedger;
use access_letters::letter::{long_date, NoticeDates, Templates};
use access_letters::pdf::{build_document, compress_streams, save, PdfMeta};
use access_letters::render::Renderer;
use chrono::NaiveDate;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn per_letter(d: Duration, n: usize) -> String {
    format!("{:>8.3} ms", d.as_secs_f64() * 1000.0 / n as f64)
}

fn stages(root: &Path, date: NaiveDate) {
    let key = Key::load(&root.join("fixtures/test.key")).expect("fixture key");
    let config = Config::default_config();
    let templates = Templates::builtin();
    let filings: Vec<Filing> = Intake::open(
        &root.join("fixtures/filings.csv"),
        date,
        access_letters::layout::window_fit(&config.envelope).expect("default envelope"),
    )
    .expect("fixtures")
    .filter_map(|o| match o.expect("fixtures read") {
        Outcome::Valid(f) => Some(f),
        Outcome::Rejected(_) => None,
    })
    .collect();
    let dates = NoticeDates::new(date, config.codes.valid_days);
    let rounds = 20;
    let (mut t_words, mut t_layout, mut t_tree, mut t_deflate, mut t_save) = Default::default();
    let mut bytes = 0usize;
    let mut n = 0usize;
    for _ in 0..rounds {
        for f in &filings {
            let code = derive(&key, &f.receipt, 1);
            let t0 = Instant::now();
            let text = templates.render(f, dates, &config).expect("template");
            let t1 = Instant::now();
            let piece = piece_id(&f.receipt, 1);
            let notice = long_date(dates.notice, f.language);
            let expires = long_date(dates.expires_on, f.language);
            let revealed = code.reveal_for_letter();
            let pages = layout(&LetterParts {
                text: &text,
                filing: f,
                code: &revealed,
                notice_date: &notice,
                expires_on: &expires,
                piece_id: &piece,
                barcode: None,
                specimen: true,
                config: &config,
            })
            .expect("layout");
            let t2 = Instant::now();
            let meta = PdfMeta {
                title: "t".into(),
                subject: "s".into(),
                author: "a".into(),
                identifier: piece.clone(),
                date,
            };
            let mut doc = build_document(&pages, &meta);
            let t3 = Instant::now();
            compress_streams(&mut doc);
            let t4 = Instant::now();
            let letter = save(doc, pages.len());
            let t5 = Instant::now();
            t_words += t1 - t0;
            t_layout += t2 - t1;
            t_tree += t3 - t2;
            t_deflate += t4 - t3;
            t_save += t5 - t4;
            bytes += letter.bytes.len();
            n += 1;
        }
    }
    let total: Duration = t_words + t_layout + t_tree + t_deflate + t_save;
    println!(
        "stages, one thread, {n} letters ({} fixture filings x {rounds}):",
        filings.len()
    );
    println!("  template (tera + markup)     {}", per_letter(t_words, n));
    println!("  layout (wrap, place)         {}", per_letter(t_layout, n));
    println!("  PDF tree (printpdf, subset)  {}", per_letter(t_tree, n));
    println!(
        "  deflate streams              {}",
        per_letter(t_deflate, n)
    );
    println!("  serialise + sha256           {}", per_letter(t_save, n));
    println!(
        "  total                        {}  ({:.0} letters/s/core)",
        per_letter(total, n),
        n as f64 / total.as_secs_f64()
    );
    println!(
        "  size per letter              {:>8.1} KB",
        bytes as f64 / n as f64 / 1024.0
    );
}

fn codes(root: &Path) {
    let key = Key::load(&root.join("fixtures/test.key")).expect("fixture key");
    let receipts: Vec<access_letters::filing::ReceiptNumber> = (0..1000u64)
        .map(|i| {
            access_letters::filing::ReceiptNumber::parse(&format!("IOE{:010}", i)).expect("receipt")
        })
        .collect();
    let rounds = 500;
    let t = Instant::now();
    let mut checksum = 0usize;
    for issue in 0..rounds {
        for r in &receipts {
            let code = derive(&key, r, issue + 1);
            checksum += access_letters::code::fingerprint(&key, &code)
                .as_str()
                .len();
        }
    }
    let n = rounds as usize * receipts.len();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "codes, one thread: {n} derived and fingerprinted in {secs:.2} s = {:.0} codes/s ({checksum} fingerprint chars)",
        n as f64 / secs
    );
}

fn end_to_end(root: &Path, date: NaiveDate, rows: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("filings.csv");
    let file = std::io::BufWriter::new(std::fs::File::create(&input).expect("create input"));
    let stats = access_letters::gen::generate(file, rows, 42, date).expect("generate");
    let keys = KeyRing::single(Key::load(&root.join("fixtures/test.key")).expect("fixture key"));
    let renderer = Renderer::new(Templates::builtin(), Config::default_config());
    let out = dir.path().join("output");
    std::fs::create_dir_all(&out).expect("output folder");
    let mut ledger = SqliteLedger::create(&out.join("ledger.sqlite")).expect("ledger");
    let inputs = RunInputs {
        input: &input,
        batch_date: date,
        out_root: &out,
        keys: &keys,
        renderer: &renderer,
        chunk_size: DEFAULT_CHUNK_SIZE,
        output: Default::default(),
    };
    let rss_before = peak_rss_mb();
    let t = Instant::now();
    let report = run(&inputs, &mut ledger, &NoProgress).expect("run");
    let secs = t.elapsed().as_secs_f64();
    let c = report.counts;
    println!(
        "end to end, {} threads: {rows} rows ({} bad) -> {} letters in {secs:.1} s = {:.0} letters/s; peak RSS {:.0} MB (before the run {:.0} MB)",
        rayon::current_num_threads(),
        stats.bad,
        c.issued,
        c.issued as f64 / secs,
        peak_rss_mb(),
        rss_before
    );
    let (hits, misses) = access_letters::fonts::fonts().cache_stats();
    println!("  letter font subsets: {hits} reused, {misses} cut");
    assert!(c.add_up(), "counts must add up");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .or_else(|| {
            std::env::var("BENCH_ROWS")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(100_000);
    codes(root);
    stages(root, date);
    if rows > 0 {
        end_to_end(root, date, rows);
    }
}
