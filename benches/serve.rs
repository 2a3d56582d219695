//! Load benchmark of `access-letters serve`: `cargo bench --bench serve`.
//!
//! Issues a batch of generated filings (BENCH_SERVE_ROWS, default 200,000:
//! half of them are redeemed fresh, enough for 30 s of redeems on SQLite's
//! group commit; issuing them takes a few minutes)
//! into a fresh SQLite ledger, starts the service on a free localhost port,
//! and drives it with BENCH_SERVE_CONNECTIONS (default 50) keep-alive
//! connections for BENCH_SERVE_SECONDS (default 30) in two phases:
//!
//! 1. verify: 90% the right code of a random receipt, 10% a wrong code;
//! 2. redeem: each request redeems a fresh receipt's code for an account.
//!
//! The service runs as in production (one JSON log line per request, to a
//! file), with `max_wrong_codes = 100` so that the 10% of wrong codes do
//! not lock the receipts they land on. It prints requests per second, p50 and p99 latency, the answers by
//! status, and the server's resident memory at the start and end. With
//! BENCH_SERVE_PG set to a PostgreSQL URL (an empty database or schema),
//! it does the same on PostgreSQL.
//!
//! On PostgreSQL the loaded tables are analysed and a checkpoint is taken
//! before the phases (the portal's morning, not the batch's night).
//!
//! BENCH_SERVE_LEDGER_CONNECTIONS (default: the service's own, 8) is its
//! `--connections`; BENCH_SERVE_PG_ONLY skips the SQLite run.
//!
//! Not a test: it asserts nothing about speed, it measures. The client
//! runs on the same machine and takes its share of the cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use access_letters::code::derive;
use access_letters::filing::ReceiptNumber;
use access_letters::key::Key;

const BIN: &str = env!("CARGO_BIN_EXE_access-letters");

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().expect("the binary runs");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 2,
        "{cmd:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Generated filings issued into `ledger`; returns the receipts issued.
fn issue(dir: &Path, rows: u64, ledger: &str) -> Vec<String> {
    let input = dir.join("filings.csv");
    // The agency's date (the service judges validity in its time zone): a
    // machine clock already past midnight UTC would date every letter
    // tomorrow, and every code would be "not valid yet".
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
        .to_string();
    run(Command::new(BIN)
        .args([
            "gen-fixtures",
            "--rows",
            &rows.to_string(),
            "--seed",
            "7",
            "--date",
            &today,
            "--to",
        ])
        .arg(&input));
    let out_dir = dir.join("output");
    // A named SQLite ledger is made only in a folder that exists.
    std::fs::create_dir_all(&out_dir).unwrap();
    let stdout = run(Command::new(BIN)
        .args(["run", "--input"])
        .arg(&input)
        .args([
            "--date",
            &today,
            "--allow-any-date",
            "--letters",
            "print",
            "--ledger",
            ledger,
            "--out",
        ])
        .arg(&out_dir));
    let batch = stdout
        .lines()
        .find_map(|l| l.strip_prefix("output: "))
        .expect("run names its batch folder");
    let mut manifest = csv::Reader::from_path(Path::new(batch.trim()).join("manifest.csv"))
        .or_else(|_| csv::Reader::from_path(dir.join(batch.trim()).join("manifest.csv")))
        .expect("manifest.csv");
    let headers = manifest.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "piece_id").unwrap();
    manifest
        .records()
        .map(|r| r.unwrap()[col].split('-').next().unwrap().to_string())
        .collect()
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// agency.toml with room for the mix's wrong codes: at 10% wrong over a
/// few thousand receipts for 30 s, the default 5 in 10 minutes would lock
/// many receipts and measure the lock instead of the check.
fn roomy_config(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("templates/agency.toml")).unwrap();
    let path = dir.join("agency.toml");
    std::fs::write(
        &path,
        text.replace("max_wrong_codes = 5", "max_wrong_codes = 100"),
    )
    .unwrap();
    path
}

fn start(dir: &Path, ledger: &str, tokens: &Path) -> Server {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ledger",
            ledger,
            "--tokens",
        ])
        .arg(tokens)
        .args(
            std::env::var("BENCH_SERVE_LEDGER_CONNECTIONS")
                .map(|n| vec!["--connections".to_string(), n])
                .unwrap_or_default(),
        )
        .arg("--key")
        .arg(repo().join("fixtures/test.key"))
        .arg("--config")
        .arg(roomy_config(dir))
        .env_remove("ACCESS_LETTERS_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("serve listens")
        .to_string();
    Server { child, base }
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// What one phase measured.
#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    by_status: std::collections::BTreeMap<u16, u64>,
}

/// `connections` threads, each with its own keep-alive connection, send
/// `request(i)` until `seconds` pass or `request` says there is no more.
fn drive(
    base: &str,
    token: &str,
    connections: usize,
    seconds: u64,
    request: Arc<dyn Fn(usize) -> Option<(&'static str, String)> + Send + Sync>,
) -> (Tally, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (base, token) = (base.to_string(), format!("Bearer {token}"));
            let (next, request) = (Arc::clone(&next), Arc::clone(&request));
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let mut t = Tally::default();
                while Instant::now() < deadline {
                    let Some((path, body)) = request(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let sent = Instant::now();
                    let status = match agent
                        .post(format!("{base}{path}"))
                        .header("Authorization", &token)
                        .header("Content-Type", "application/json")
                        .send(&body)
                    {
                        Ok(mut r) => {
                            let _ = r.body_mut().read_to_vec();
                            r.status().as_u16()
                        }
                        Err(_) => 0,
                    };
                    t.micros
                        .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    *t.by_status.entry(status).or_default() += 1;
                }
                t
            })
        })
        .collect();
    let mut all = Tally::default();
    for th in threads {
        let t = th.join().unwrap();
        all.micros.extend(t.micros);
        for (s, n) in t.by_status {
            *all.by_status.entry(s).or_default() += n;
        }
    }
    (all, started.elapsed())
}

fn report(name: &str, t: &mut Tally, took: Duration) {
    t.micros.sort_unstable();
    let pct = |p: f64| {
        let i = ((t.micros.len() as f64 * p) as usize).min(t.micros.len().saturating_sub(1));
        f64::from(t.micros.get(i).copied().unwrap_or(0)) / 1000.0
    };
    println!(
        "  {name:<8} {:>7} requests in {:>5.1} s = {:>7.0}/s   p50 {:>6.2} ms   p99 {:>6.2} ms   by status {:?}",
        t.micros.len(),
        took.as_secs_f64(),
        t.micros.len() as f64 / took.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        t.by_status
    );
}

/// After the bulk load, the state a portal meets in the morning: on
/// PostgreSQL the new rows analysed and a checkpoint taken, so the phases
/// measure the service and not the server catching up with the night's
/// batch (autovacuum, a checkpoint in the middle of the redeems). SQLite
/// needs nothing: its WAL is checkpointed as it goes.
fn settle(label: &str, ledger: &str) {
    if !ledger.starts_with("postgres") {
        return;
    }
    let done = postgres::Client::connect(ledger, postgres::NoTls)
        .and_then(|mut c| c.batch_execute("ANALYZE; CHECKPOINT;"));
    if let Err(e) = done {
        println!(
            "{label}: could not analyse and checkpoint after the load ({e}); measuring as it is"
        );
    }
}

fn bench(label: &str, dir: &Path, ledger: &str) {
    let rows = env_num("BENCH_SERVE_ROWS", 200_000);
    let seconds = env_num("BENCH_SERVE_SECONDS", 30);
    let connections = env_num("BENCH_SERVE_CONNECTIONS", 50) as usize;
    println!("{label}: issuing {rows} generated filings...");
    let receipts = issue(dir, rows, ledger);
    settle(label, ledger);
    let key = Key::load(&repo().join("fixtures/test.key")).unwrap();
    let codes: Vec<String> = receipts
        .iter()
        .map(|r| derive(&key, &ReceiptNumber::parse(r).unwrap(), 1).reveal_for_letter())
        .collect();
    let tokens = dir.join("tokens.toml");
    let token = run(Command::new(BIN)
        .args([
            "token",
            "add",
            "--client",
            "bench",
            "--allow",
            "verify,redeem",
            "--per-minute",
            "4000000000",
            "--tokens",
        ])
        .arg(&tokens))
    .trim()
    .to_string();
    let server = start(dir, ledger, &tokens);
    let pid = server.child.id();
    println!("{label}: {} receipts, {connections} connections, {seconds} s a phase; server RSS at start {:.1} MB", receipts.len(), rss_mb(pid));

    let (r, c) = (Arc::new(receipts), Arc::new(codes));
    let (rv, cv) = (Arc::clone(&r), Arc::clone(&c));
    // Half the receipts for verify, the other half kept fresh for redeem.
    let half = r.len() / 2;
    let verify = Arc::new(move |i: usize| {
        let pick = (i.wrapping_mul(2_654_435_761)) % half;
        let code = if i % 10 == 9 {
            &cv[(pick + 1) % half]
        } else {
            &cv[pick]
        };
        Some((
            "/v1/verify",
            // Each receipt's applicant from a sign-in of its own, as the
            // portal sends it: the limit on the one guessing then counts
            // one applicant's slips, not the whole bench's.
            format!(
                r#"{{"receipt":"{}","code":"{code}","client":"applicant-{pick}"}}"#,
                rv[pick]
            ),
        ))
    });
    let (mut t, took) = drive(&server.base, &token, connections, seconds, verify);
    report("verify", &mut t, took);
    println!("{label}: server RSS after verify {:.1} MB", rss_mb(pid));
    let redeem = Arc::new(move |i: usize| {
        let k = half + i;
        (k < r.len()).then(|| {
            (
                "/v1/redeem",
                format!(
                    r#"{{"receipt":"{}","code":"{}","account":"bench-{k}"}}"#,
                    r[k], c[k]
                ),
            )
        })
    });
    let (mut t, took) = drive(&server.base, &token, connections, seconds, redeem);
    report("redeem", &mut t, took);
    println!("{label}: server RSS at end {:.1} MB", rss_mb(pid));
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    let dir = tempfile::Builder::new()
        .prefix("access-letters-bench-serve-")
        .tempdir()
        .unwrap();
    let sqlite = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite).unwrap();
    let ledger = sqlite.join("output/ledger.sqlite");
    if std::env::var_os("BENCH_SERVE_PG_ONLY").is_none() {
        bench("SQLite", &sqlite, ledger.to_str().unwrap());
    }
    if let Ok(url) = std::env::var("BENCH_SERVE_PG") {
        let pg = dir.path().join("pg");
        std::fs::create_dir_all(&pg).unwrap();
        bench("PostgreSQL", &pg, &url);
    }
}
