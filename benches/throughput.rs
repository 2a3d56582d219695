//! Throughput and memory benchmark: `cargo bench` (or `cargo bench -- ROWS`).
//!
//! 1. Stages: renders every fixture letter many times on one thread and
//!    reports the time per letter of each stage of a printed letter
//!    (template, layout, drawing with forms, compression), the time of its
//!    standalone PDF (pieces mode, reprint) and that PDF's size.
//! 2. The same letters drawn for a print file (content streams drawn
//!    directly, compression) and the size per letter in one print file.
//! 3. End to end: generates a filings file (100,000 rows by default; pass a
//!    number, or set BENCH_ROWS) and runs the whole batch on all cores
//!    against a fresh ledger, once with `--letters print` and once with
//!    `--letters pieces`, each in a child process of its own (so the peak
//!    resident memory is that mode's, and the disk is flushed before the
//!    clock starts), BENCH_RUNS times each (default 1;
//!    the table shows the median run): letters per second, bytes per
//!    letter written, peak RSS and CPU time (user + system) per letter.
//!    BENCH_MODES=print runs print mode alone (for a million rows).
//! 4. With BENCH_PEERS set to a copy of `shared/peers` (its recipients.csv
//!    made, see its README), Typst is timed by that harness right after, and
//!    print mode's CPU time per letter is given as a fraction of Typst's
//!    time per letter: the ratio issue 29 asks for, from one run, as this
//!    machine's speed varies from day to day.
//!
//! Not a test: it asserts nothing about speed, it measures.

use std::path::Path;
use std::time::{Duration, Instant};

use access_letters::batch::{run, NoProgress, OutputChoice, OutputMode, RunInputs};
use access_letters::code::derive;
use access_letters::config::Config;
use access_letters::filing::{piece_id, Filing};
use access_letters::intake::{Intake, Outcome};
use access_letters::key::{Key, KeyRing};
use access_letters::layout::{layout, LetterParts};
use access_letters::ledger::SqliteLedger;
use access_letters::letter::{long_date, NoticeDates, Templates};
use access_letters::pdf::{render, PdfMeta};
use access_letters::print::{build_print_file, draw_pages, PrintFileMeta, PrintLetter};
use access_letters::render::{CodeDisplay, LetterJob, Renderer};
use chrono::NaiveDate;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User and system CPU time of this process so far, in seconds, from
/// `/proc/self/stat` (clock ticks of 1/100 s, as Linux reports them).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15: 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
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
    let literals = [
        access_letters::filing::Language::En,
        access_letters::filing::Language::Es,
    ]
    .map(|l| templates.literal_runs(l, &config));
    let rounds = 20;
    let (mut t_words, mut t_layout, mut t_tree, mut t_deflate, mut t_save) = Default::default();
    let mut bytes = 0usize;
    let mut n = 0usize;
    for _ in 0..rounds {
        for f in &filings {
            let code = derive(&key, &f.receipt, 1);
            let t0 = Instant::now();
            // Marked as the batch marks it: fixed blocks drawn as forms.
            let literal = &literals[f.language as usize];
            let text = templates
                .render_marked(f, dates, &config, Some(literal))
                .expect("template");
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
                mode: access_letters::key::KeyMode::Test,
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
            let drawn = draw_pages(&pages);
            let t3 = Instant::now();
            let printed = PrintLetter::new(drawn);
            let t4 = Instant::now();
            // The letter's own PDF, as pieces mode and reprint make it.
            let letter = render(&pages, &meta);
            let t5 = Instant::now();
            std::hint::black_box(printed);
            t_words += t1 - t0;
            t_layout += t2 - t1;
            t_tree += t3 - t2;
            t_deflate += t4 - t3;
            t_save += t5 - t4;
            bytes += letter.bytes.len();
            n += 1;
        }
    }
    // A printed letter's cost: the standalone PDF is timed apart.
    let total: Duration = t_words + t_layout + t_tree + t_deflate;
    println!(
        "stages, one thread, {n} letters ({} fixture filings x {rounds}):",
        filings.len()
    );
    println!("  template (tera + markup)     {}", per_letter(t_words, n));
    println!("  layout (wrap, place)         {}", per_letter(t_layout, n));
    println!("  draw (forms, content, digest){}", per_letter(t_tree, n));
    println!(
        "  deflate page content         {}",
        per_letter(t_deflate, n)
    );
    println!("  standalone PDF (all again)   {}", per_letter(t_save, n));
    println!(
        "  total, printed letter        {}  ({:.0} letters/s/core)",
        per_letter(total, n),
        n as f64 / total.as_secs_f64()
    );
    println!(
        "  standalone PDF size          {:>8.1} KB",
        bytes as f64 / n as f64 / 1024.0
    );
    print_stages(&filings, &key, &renderer_for(config), dates, rounds);
}

fn renderer_for(config: Config) -> Renderer {
    Renderer::new(Templates::builtin(), config)
}

/// The same letters drawn for a print file: template and layout, content
/// streams, compression; then the size per letter of one file of them.
fn print_stages(
    filings: &[Filing],
    key: &Key,
    renderer: &Renderer,
    dates: NoticeDates,
    rounds: usize,
) {
    let (mut t_lay, mut t_draw, mut t_deflate) = <(Duration, Duration, Duration)>::default();
    let mut letters = Vec::new();
    for round in 0..rounds {
        for f in filings {
            let code = derive(key, &f.receipt, 1);
            let job = LetterJob {
                filing: f,
                issue_no: 1,
                code: &code,
                dates,
                barcode: None,
                mode: access_letters::key::KeyMode::Test,
            };
            let t0 = Instant::now();
            let (pages, _) = renderer.lay_out(&job, CodeDisplay::Shown).expect("layout");
            let t1 = Instant::now();
            let drawn = draw_pages(&pages);
            let t2 = Instant::now();
            let letter = PrintLetter::new(drawn);
            let t3 = Instant::now();
            t_lay += t1 - t0;
            t_draw += t2 - t1;
            t_deflate += t3 - t2;
            if round == 0 {
                letters.push(letter);
            }
        }
    }
    let n = filings.len() * rounds;
    let meta = PrintFileMeta {
        name: "bench-001.pdf".into(),
        author: "bench".into(),
        date: dates.notice,
    };
    let count = letters.len();
    let t = Instant::now();
    let file = build_print_file(letters, &meta);
    let t_file = t.elapsed();
    println!("print file stages, one thread, {n} letters:");
    println!("  template + layout            {}", per_letter(t_lay, n));
    println!("  content streams (direct)     {}", per_letter(t_draw, n));
    println!(
        "  deflate content              {}",
        per_letter(t_deflate, n)
    );
    println!(
        "  file of {count} letters (fonts once, lopdf save) {}",
        per_letter(t_file, count)
    );
    println!(
        "  size per letter in the file  {:>8.1} KB (the fixtures use many font subsets; generated rows fewer)",
        file.len() as f64 / count as f64 / 1024.0
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

/// One end-to-end run of `mode` in this process; prints a `RESULT` line for
/// the parent.
fn end_to_end(root: &Path, date: NaiveDate, rows: u64, mode: OutputMode) {
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
        chunk_size: access_letters::batch::default_chunk_size(mode),
        output: OutputChoice {
            mode,
            ..Default::default()
        },
    };
    // Start on a quiet disk: what earlier runs (and the input just
    // generated) left to write back would otherwise be flushed by this run's
    // first folder flush and counted as its time.
    rustix::fs::sync();
    let rss_before = peak_rss_mb();
    // The run's own CPU time: generating the input is not the batch's.
    let cpu_before = cpu_seconds();
    let t = Instant::now();
    let report = run(&inputs, &mut ledger, &NoProgress).expect("run");
    let secs = t.elapsed().as_secs_f64();
    let c = report.counts;
    assert!(c.add_up(), "counts must add up");
    let folder = if mode == OutputMode::Print {
        "print"
    } else {
        "letters"
    };
    let bytes: u64 = std::fs::read_dir(report.batch_dir.join(folder))
        .expect("output folder")
        .map(|e| e.expect("entry").metadata().expect("size").len())
        .sum();
    let (hits, misses) = access_letters::fonts::fonts().cache_stats();
    eprintln!(
        "  {}: {rows} rows ({} bad) -> {} letters in {secs:.1} s; RSS before the run {rss_before:.0} MB; font subsets {hits} reused, {misses} cut",
        mode.as_str(),
        stats.bad,
        c.issued
    );
    println!(
        "RESULT {} {} {secs} {bytes} {} {}",
        mode.as_str(),
        c.issued,
        peak_rss_mb(),
        cpu_seconds() - cpu_before
    );
}

/// One mode's run in a child process: (letters, seconds, bytes, peak RSS
/// MB, CPU seconds).
fn child_run(rows: u64, mode: OutputMode) -> (f64, f64, f64, f64, f64) {
    let out = std::process::Command::new(std::env::current_exe().expect("bench binary"))
        .env("BENCH_CHILD", mode.as_str())
        .env("BENCH_ROWS", rows.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("the bench runs itself");
    assert!(out.status.success(), "the {} run failed", mode.as_str());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().expect("a number"))
        .collect();
    (v[0], v[1], v[2], v[3], v[4])
}

/// Prints the table; returns print mode's CPU time per letter in ms, when
/// print mode ran.
fn end_to_end_table(rows: u64, runs: usize) -> Option<f64> {
    println!(
        "end to end, {} threads, {rows} generated rows, median of {runs} run(s), each mode in its own process:",
        rayon::current_num_threads()
    );
    println!("  mode     letters/s   bytes/letter   peak RSS   CPU/letter (user+sys)");
    // BENCH_MODES=print measures print files alone (a million pieces
    // would be a million files).
    let modes = std::env::var("BENCH_MODES").unwrap_or_else(|_| "print,pieces".into());
    let mut print_cpu = None;
    for mode in [OutputMode::Print, OutputMode::Pieces] {
        if !modes.split(',').any(|m| m.trim() == mode.as_str()) {
            continue;
        }
        let mut results: Vec<(f64, f64, f64, f64, f64)> =
            (0..runs).map(|_| child_run(rows, mode)).collect();
        results.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
        let (letters, secs, bytes, rss, cpu) = results[results.len() / 2];
        println!(
            "  {:<7} {:>10.0}   {:>12.0}   {:>5.0} MB   {:>7.3} ms",
            mode.as_str(),
            letters / secs,
            bytes / letters,
            rss,
            cpu * 1000.0 / letters
        );
        if mode == OutputMode::Print {
            print_cpu = Some(cpu * 1000.0 / letters);
        }
    }
    print_cpu
}

/// Typst's figures from `shared/peers`, run right after this bench's own
/// runs (BENCH_PEERS: a copy of the peers folder with its recipients.csv
/// made; PEERS_PYTHON: the Python with typst installed, by default the
/// README's `~/.cache/peers-venv`). Returns (ms a letter, CPU ms a letter)
/// from its results line `| typst | version | N | per letter | CPU | ...`.
fn typst_peer(peers: &Path) -> Option<(f64, f64)> {
    let python = std::env::var("PEERS_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/peers-venv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let out = std::process::Command::new(&python)
        .args(["run_all.py", "--only", "typst"])
        .current_dir(peers)
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| eprintln!("  the peers harness did not start ({python}): {e}"))
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("| typst "))?;
    let ms = |cell: &str| cell.trim().strip_suffix(" ms")?.parse::<f64>().ok();
    let cells: Vec<&str> = line.split('|').collect();
    Some((ms(cells.get(4)?)?, ms(cells.get(5)?)?))
}

/// The same allocator as the `access-letters` binary (see src/main.rs), so
/// the memory and speed measured here are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    if let Some(mode) = std::env::var("BENCH_CHILD")
        .ok()
        .and_then(|m| OutputMode::parse(&m))
    {
        end_to_end(root, date, rows, mode);
        return;
    }
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    codes(root);
    stages(root, date);
    if rows > 0 {
        let print_cpu = end_to_end_table(rows, runs);
        let peers = std::env::var_os("BENCH_PEERS").map(std::path::PathBuf::from);
        if let (Some(ours), Some(peers)) = (print_cpu, peers) {
            match typst_peer(&peers) {
                Some((wall, cpu)) => println!(
                    "  against Typst in the same run: {wall:.1} ms a letter ({cpu:.1} ms CPU); \
                     print mode's CPU a letter is 1/{:.0} of it (1/{:.0} of its CPU)",
                    wall / ours,
                    cpu / ours
                ),
                None => println!("  against Typst: the peers harness gave no typst line"),
            }
        }
    }
}
