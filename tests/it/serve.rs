//! `access-letters serve`: the same verify / redeem / revoke / status over
//! HTTP, tested with a real HTTP client against the real binary on an
//! ephemeral localhost port. Every request has a timeout and every server
//! is killed when its test ends, so nothing here can hang.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;
use serde_json::{json, Value};

/// Longest a server may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `serve` on 127.0.0.1:0 over the work folder's ledger (or
    /// `--ledger` in `extra`) with the test key.
    pub(crate) fn start(wd: &Workdir, tokens: &Path, extra: &[&str]) -> Server {
        Server::start_with(wd, tokens, extra, None)
    }

    /// As [`Server::start`], with at most `nofile` file descriptors
    /// (RLIMIT_NOFILE, soft and hard) when given.
    pub(crate) fn start_with(
        wd: &Workdir,
        tokens: &Path,
        extra: &[&str],
        nofile: Option<u64>,
    ) -> Server {
        let log = wd.path(format!("serve-{}.log", rand_suffix()));
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
            .arg(tokens)
            .arg("--out")
            .arg(wd.out())
            .arg("--key")
            .arg(test_key())
            .args(extra)
            .current_dir(wd.root())
            .env_remove("ACCESS_LETTERS_LOG")
            .env_remove("ACCESS_LETTERS_LEDGER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap());
        if let Some(n) = nofile {
            use rustix::process::{setrlimit, Resource, Rlimit};
            use std::os::unix::process::CommandExt;
            let limit = Rlimit {
                current: Some(n),
                maximum: Some(n),
            };
            // SAFETY: setrlimit is one system call, safe between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    setrlimit(Resource::Nofile, limit).map_err(std::io::Error::from)
                });
            }
        }
        let mut child = cmd.spawn().expect("serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let Ok(line) = rx.recv_timeout(START_TIMEOUT) else {
            let _ = child.kill();
            panic!(
                "serve did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        };
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve said {line:?}: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Server {
            base: base.to_string(),
            child,
            log,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let mut status = None;
        wait_until(Duration::from_secs(30), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.map(|s| s.code().unwrap_or(-1))
    }

    /// The request log so far (stderr).
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// An HTTP client that never treats a status as an error and never waits
/// long.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into()
}

/// A status and a JSON body (or the text as a JSON string).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    headers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}

pub(crate) fn post_raw(a: &ureq::Agent, url: &str, token: Option<&str>, body: &str) -> Reply {
    let mut req = a.post(url).header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.send(body).expect("the server answers"))
}

pub(crate) fn post(s: &Server, token: &str, path: &str, body: Value) -> Reply {
    post_raw(&agent(), &s.url(path), Some(token), &body.to_string())
}

pub(crate) fn get(s: &Server, token: Option<&str>, path: &str) -> Reply {
    let mut req = agent().get(s.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    reply(req.call().expect("the server answers"))
}

/// Adds a client with `token add` and returns its token.
pub(crate) fn add_client(
    wd: &Workdir,
    tokens: &Path,
    name: &str,
    allow: &str,
    per_minute: u32,
) -> String {
    let out = wd.output(&mut wd.command([
        "token",
        "add",
        "--tokens",
        tokens.to_str().unwrap(),
        "--client",
        name,
        "--allow",
        allow,
        "--per-minute",
        &per_minute.to_string(),
    ]));
    out.expect_code(EXIT_OK);
    let token = out.stdout.trim().to_string();
    assert!(token.len() > 60, "{out:?}");
    token
}

/// The portal (verify, redeem) and the desk (verify, revoke, status).
pub(crate) struct Clients {
    pub(crate) tokens: PathBuf,
    pub(crate) portal: String,
    pub(crate) desk: String,
}

pub(crate) fn clients(wd: &Workdir) -> Clients {
    let tokens = wd.path("tokens.toml");
    let portal = add_client(wd, &tokens, "portal", "verify,redeem", 100_000);
    let desk = add_client(wd, &tokens, "desk", "verify,revoke,status", 100_000);
    Clients {
        tokens,
        portal,
        desk,
    }
}

/// A batch of the fixtures dated today, so its codes are valid whatever
/// the day the tests run.
pub(crate) fn batch_today(wd: &Workdir) -> Batch {
    batch_today_on(wd, &[])
}

/// Today's batch of the fixtures, run with `extra` (a `--ledger`, say).
pub(crate) fn batch_today_on(wd: &Workdir, extra: &[&str]) -> Batch {
    let input = fixtures_csv();
    let today = today().to_string();
    let mut args = vec!["run", "--input", input.to_str().unwrap(), "--date", &today];
    args.extend_from_slice(extra);
    let out = wd.cmd(args);
    out.expect_code(EXIT_REJECTS);
    Batch::new(wd.path(out.batch_dir()))
}

/// Receipts of the batch with their codes, read from the letters.
pub(crate) fn receipts_and_codes(batch: &Batch, n: usize) -> Vec<(String, String)> {
    batch
        .manifest()
        .into_iter()
        .take(n)
        .map(|row| {
            let receipt = row["piece_id"].split('-').next().unwrap().to_string();
            let code = batch.code_for(&receipt);
            (receipt, code)
        })
        .collect()
}

/// An agency.toml that allows `max` wrong codes.
pub(crate) fn config_allowing(wd: &Workdir, max: u32) -> String {
    let text = fs::read_to_string(repo_file("templates/agency.toml")).unwrap();
    assert!(text.contains("max_wrong_codes = 5"));
    let text = text.replace("max_wrong_codes = 5", &format!("max_wrong_codes = {max}"));
    wd.write("agency.toml", text).to_str().unwrap().to_string()
}

/// The code of issue 1 of `receipt` under the fixture key (what its letter
/// carries), for tests that need many codes without reading many PDFs.
pub(crate) fn derived_code(receipt: &str) -> String {
    let key = access_letters::key::Key::load(&test_key()).unwrap();
    let receipt = access_letters::filing::ReceiptNumber::parse(receipt).unwrap();
    access_letters::code::derive(&key, &receipt, 1).reveal_for_letter()
}

/// Every receipt of the batch with its derived code.
pub(crate) fn all_codes(batch: &Batch) -> Vec<(String, String)> {
    batch
        .manifest()
        .into_iter()
        .map(|row| {
            let receipt = row["piece_id"].split('-').next().unwrap().to_string();
            let code = derived_code(&receipt);
            (receipt, code)
        })
        .collect()
}

/// The ledger status of issue 1 of `receipt` (SQLite).
fn ledger_status(ledger: &Path, receipt: &str) -> String {
    let conn = rusqlite::Connection::open(ledger).unwrap();
    conn.query_row(
        "SELECT status FROM issuances WHERE receipt = ?1 AND issue_no = 1",
        [receipt],
        |r| r.get(0),
    )
    .unwrap()
}

/// No code, token or account reference in the server's log.
pub(crate) fn assert_log_is_clean(log: &str, secrets: &[&str]) {
    for s in secrets {
        for form in code_forms(s) {
            assert!(
                !log.contains(&form),
                "the log holds a secret ({form}):\n{log}"
            );
        }
    }
}

#[test]
fn verify_over_http_answers_like_the_cli_and_logs_one_clean_line_per_request() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();

    let r = post(
        &s,
        &c.portal,
        "/v1/verify",
        json!({"receipt": receipt, "code": code}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["outcome"], "valid", "{r:?}");
    assert_eq!(r.body["valid"], true);
    assert!(r.body["message"].as_str().unwrap().starts_with("valid"));
    // Case, spaces and hyphens do not matter, as on the CLI.
    let typed = code.to_lowercase().replace('-', " ");
    let r = post(
        &s,
        &c.desk,
        "/v1/verify",
        json!({"receipt": receipt, "code": typed}),
    );
    assert_eq!(r.body["outcome"], "valid", "{r:?}");

    let r = post(
        &s,
        &c.portal,
        "/v1/verify",
        json!({"receipt": receipt, "code": "12"}),
    );
    assert_eq!(
        (r.status, r.body["outcome"].as_str()),
        (200, Some("mistyped")),
        "{r:?}"
    );
    assert_eq!(r.body["wrong_in_window"], 1);
    assert_eq!(r.body["valid"], false);

    let health = get(&s, None, "/healthz");
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body["ledger"], "reachable");
    assert!(
        health.body["keys"][0]
            .as_str()
            .unwrap()
            .starts_with("test-"),
        "{health:?}"
    );

    let metrics = get(&s, None, "/metrics");
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"access_letters_http_requests_total{route="verify",outcome="valid"} 2"#),
        "{text}"
    );
    assert!(text.contains("access_letters_http_request_duration_seconds_bucket"));

    let log = s.log();
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request")
        .collect();
    assert_eq!(lines.len(), 5, "{log}");
    let first = &lines[0]["fields"];
    assert_eq!(first["client"], "portal");
    assert_eq!(first["route"], "verify");
    assert_eq!(first["outcome"], "valid");
    assert!(first["duration_ms"].as_f64().is_some(), "{first}");
    assert_log_is_clean(&log, &[&code, &c.portal, &c.desk]);
}

#[test]
fn tokens_routes_and_limits_401_403_429() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let slow = add_client(&wd, &c.tokens, "slow", "verify", 3);
    let s = Server::start(&wd, &c.tokens, &[]);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let body = json!({"receipt": receipt, "code": code}).to_string();
    let a = agent();

    let none = post_raw(&a, &s.url("/v1/verify"), None, &body);
    assert_eq!(none.status, 401, "{none:?}");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    // Refused before its body was read: the connection is not kept, and
    // the client is told so (the next request on `a` opens a new one).
    assert_eq!(none.header("connection"), Some("close"), "{none:?}");
    assert!(none.body["error"].as_str().unwrap().contains("Bearer"));
    let wrong = post_raw(&a, &s.url("/v1/verify"), Some("alt_0000"), &body);
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let forged = c.portal.replace(&c.portal[10..12], "zz");
    assert_eq!(
        post_raw(&a, &s.url("/v1/verify"), Some(&forged), &body).status,
        401
    );

    // The portal may not read histories, nor revoke.
    let r = get(&s, Some(&c.portal), &format!("/v1/receipts/{receipt}"));
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        r.body["error"].as_str().unwrap().contains("portal"),
        "{r:?}"
    );
    let r = post(
        &s,
        &c.portal,
        "/v1/revoke",
        json!({"receipt": receipt, "reason": "x"}),
    );
    assert_eq!(r.status, 403, "{r:?}");
    let r = post(
        &s,
        &slow,
        "/v1/redeem",
        json!({"receipt": receipt, "code": code, "account": "a"}),
    );
    assert_eq!(r.status, 403, "{r:?}");

    // Three a minute, then 429 with Retry-After; other clients are not charged.
    for _ in 0..3 {
        assert_eq!(
            post_raw(&a, &s.url("/v1/verify"), Some(&slow), &body).status,
            200
        );
    }
    let r = post_raw(&a, &s.url("/v1/verify"), Some(&slow), &body);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    assert_eq!(
        post_raw(&a, &s.url("/v1/verify"), Some(&c.portal), &body).status,
        200
    );

    let text = get(&s, None, "/metrics").body.as_str().unwrap().to_string();
    for outcome in ["unauthorized", "forbidden", "rate_limited"] {
        assert!(
            text.contains(&format!("outcome=\"{outcome}\"")),
            "{outcome}: {text}"
        );
    }
}

#[test]
fn bad_requests_get_400_with_a_json_error_and_never_a_panic() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let mut s = Server::start(&wd, &c.tokens, &[]);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let a = agent();
    let url = s.url("/v1/verify");
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "not valid"),
        ("".into(), "not valid"),
        (
            json!({"receipt": receipt}).to_string(),
            "missing field `code`",
        ),
        (
            json!({"receipt": receipt, "code": code, "extra": 1}).to_string(),
            "unknown field `extra`",
        ),
        (
            json!({"receipt": "IOE12", "code": code}).to_string(),
            "receipt",
        ),
        (
            json!({"receipt": receipt, "code": ["x"]}).to_string(),
            "not valid",
        ),
        ("[]".into(), "not valid"),
        ("\u{0}".into(), "not valid"),
    ];
    for (body, says) in cases {
        let r = post_raw(&a, &url, Some(&c.portal), &body);
        assert_eq!(r.status, 400, "{body:.80}: {r:?}");
        assert_eq!(r.body["outcome"], "bad_request", "{r:?}");
        let error = r.body["error"].as_str().unwrap();
        assert!(error.contains(says), "{body:.80}: {error}");
        assert!(!error.contains(&code), "{error}");
    }
    // A body over the limit is 413, still with the JSON error.
    let big = json!({"receipt": receipt, "code": "x".repeat(5000)}).to_string();
    let r = post_raw(&a, &url, Some(&c.portal), &big);
    assert_eq!(
        (r.status, r.body["outcome"].as_str()),
        (413, Some("too_large")),
        "{r:?}"
    );
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("over 4096 bytes"));
    let r = get(&s, Some(&c.desk), "/v1/receipts/not-a-receipt");
    assert_eq!(r.status, 400, "{r:?}");
    let r = get(&s, Some(&c.desk), "/v1/nothing");
    assert_eq!(r.status, 404, "{r:?}");
    assert!(r.body["error"].is_string(), "{r:?}");
    assert!(s.is_running(), "{}", s.log());
    assert!(!s.log().contains("panicked"), "{}", s.log());
}

#[test]
fn the_guesser_is_stopped_not_the_applicant_and_the_cli_door_keeps_the_receipt_limit() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let bad = "0000-0000-0000";
    let guess = |account: &str, client: &str, code: &str| {
        post(
            &s,
            &c.portal,
            "/v1/verify",
            json!({"receipt": receipt, "code": code, "account": account, "client": client}),
        )
    };
    // Five wrong codes from one account are answered and counted...
    for n in 1..=5 {
        let r = guess("acct-guesser", "198.51.100.7", bad);
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["wrong_in_window"], n, "{r:?}");
    }
    // ...the sixth, and even the right code from that account, get 429.
    for typed in [bad, code.as_str()] {
        let r = guess("acct-guesser", "198.51.100.7", typed);
        assert_eq!(r.status, 429, "{r:?}");
        assert_eq!(r.body["outcome"], "too_many_wrong_codes", "{r:?}");
        let wait = r.header("retry-after").and_then(|v| v.parse::<u64>().ok());
        assert!(wait.is_some_and(|s| s > 0), "{r:?}");
    }
    // The applicant, from another account and address: the right code works.
    let r = guess("acct-applicant", "203.0.113.9", &code);
    assert_eq!(
        (r.status, r.body["valid"].as_bool()),
        (200, Some(true)),
        "{r:?}"
    );
    // Guesses from more sources than the limit flag the receipt.
    for i in 0..4 {
        let r = guess(&format!("acct-other-{i}"), &format!("192.0.2.{i}"), bad);
        assert_eq!(r.status, 200, "{r:?}");
    }
    let history = get(&s, Some(&c.desk), &format!("/v1/receipts/{receipt}"));
    assert_eq!(history.body["guess_sources"], 5, "{history:?}");
    assert_eq!(history.body["targeted"], true, "{history:?}");
    let status = wd.cmd(["status", &receipt]);
    assert!(status.stdout.contains("TARGETED"), "{status:?}");
    let mail = wd.cmd(["status", "--mail"]);
    assert!(
        mail.stdout
            .contains(&format!("  {receipt}: wrong codes from 5 sources")),
        "{mail:?}"
    );
    let text = get(&s, None, "/metrics").body.as_str().unwrap().to_string();
    assert!(
        text.contains("access_letters_http_targeted_receipts 1"),
        "{text}"
    );
    // The CLI desk door keeps the per-receipt limit of its own.
    for _ in 0..5 {
        wd.cmd(["verify", &receipt, bad])
            .expect_code(EXIT_NOT_VALID);
    }
    wd.cmd(["verify", &receipt, &code]).expect_code(5);
    // ...which never refuses the applicant at the portal.
    let r = guess("acct-applicant", "203.0.113.9", &code);
    assert_eq!(r.status, 200, "{r:?}");
    assert_log_is_clean(
        &s.log(),
        &[&code, "acct-guesser", "acct-applicant", &c.portal],
    );
}

#[test]
fn the_desk_reads_a_history_without_codes_or_fingerprints() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let r = get(&s, Some(&c.desk), &format!("/v1/receipts/{receipt}"));
    assert_eq!(r.status, 200, "{r:?}");
    let issue = &r.body["issuances"][0];
    assert_eq!(issue["issue_no"], 1);
    assert_eq!(issue["status"], "active");
    assert_eq!(issue["batch_id"], batch.id().as_str());
    let text = r.body.to_string();
    assert!(!text.contains("fingerprint"), "{text}");
    assert_log_is_clean(&text, &[&code]);
    let fingerprints = ledger_fingerprints(&wd.ledger());
    assert!(fingerprints.iter().all(|f| !text.contains(f.as_str())));
    // The desk may see that a receipt is unknown.
    let r = get(&s, Some(&c.desk), "/v1/receipts/IOE0000000001");
    assert_eq!(
        (r.status, r.body["outcome"].as_str()),
        (404, Some("unknown")),
        "{r:?}"
    );
}

/// The desk's receipt answer is the history `status RECEIPT` prints, mail
/// trail included, step for step.
#[test]
fn the_desk_reads_the_mail_trail_that_status_shows() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let piece = batch.row_for(&receipt)["piece_id"].clone();
    let day = today().to_string();
    let acks = wd.write(
        "acks.csv",
        format!("piece_id,status,date\n{piece},printed,{day}\n{piece},mailed,{day}\n"),
    );
    wd.cmd(["ingest", "acks", acks.to_str().unwrap()])
        .expect_code(EXIT_OK);
    let s = Server::start(&wd, &c.tokens, &[]);
    let r = get(&s, Some(&c.desk), &format!("/v1/receipts/{receipt}"));
    assert_eq!(r.status, 200, "{r:?}");
    let step =
        |kind: &str| json!({"issue_no": 1, "step": "event", "kind": kind, "at": day, "detail": ""});
    assert_eq!(
        r.body["mail_trail"],
        json!([step("printed"), step("mailed")]),
        "{r:?}"
    );
    let status = wd.cmd(["status", &receipt]);
    status.expect_code(EXIT_OK);
    for what in ["printed by the vendor", "mailed by the vendor"] {
        let line = format!("  issue 1: {day} {what}");
        assert!(
            status.stdout.lines().any(|l| l == line),
            "{line}: {status:?}"
        );
    }
    let text = r.body.to_string();
    assert_log_is_clean(&text, &[&code]);
    assert!(!text.contains("fingerprint"), "{text}");
}

fn ledger_fingerprints(ledger: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(ledger).unwrap();
    let mut stmt = conn.prepare("SELECT fingerprint FROM issuances").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn token_add_keeps_only_a_hash_in_a_private_file() {
    let wd = Workdir::new();
    let tokens = wd.path("tokens.toml");
    let token = add_client(&wd, &tokens, "portal", "verify,redeem", 600);
    assert_eq!(mode(&tokens), 0o600);
    let text = fs::read_to_string(&tokens).unwrap();
    assert!(
        !text.contains(&token) && !text.contains(&token[4..]),
        "{text}"
    );
    assert!(text.contains(&sha256_hex(token.as_bytes())), "{text}");
    assert!(text.contains("door = \"portal\""), "{text}");
    let desk = add_client(&wd, &tokens, "desk", "status,revoke", 60);
    assert_ne!(desk, token);
    assert!(fs::read_to_string(&tokens)
        .unwrap()
        .contains("door = \"desk\""));
    let again = wd.cmd([
        "token",
        "add",
        "--tokens",
        tokens.to_str().unwrap(),
        "--client",
        "portal",
        "--allow",
        "verify",
    ]);
    again.expect_code(EXIT_FAILED);
    assert!(again.stderr.contains("already"), "{again:?}");
    let bad = wd.cmd([
        "token",
        "add",
        "--tokens",
        tokens.to_str().unwrap(),
        "--client",
        "x",
        "--allow",
        "delete",
    ]);
    bad.expect_code(EXIT_FAILED);
    // A tokens file others may write is refused at start.
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tokens, fs::Permissions::from_mode(0o666)).unwrap();
    }
    let out = wd.cmd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        tokens.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("chmod 600"), "{out:?}");
    // A tokens file holding something else than hashes is refused at start.
    let broken = wd.write("broken.toml", "[[client]]\nname = \"p\"\ntoken_sha256 = \"secret\"\nallow = [\"verify\"]\ndoor = \"portal\"\nper_minute = 1\n");
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&broken, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = wd.cmd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        broken.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("64 hex"), "{out:?}");
}

#[test]
fn sigterm_stops_the_service_cleanly() {
    let wd = Workdir::new();
    batch_today(&wd);
    let c = clients(&wd);
    let mut s = Server::start(&wd, &c.tokens, &[]);
    assert_eq!(get(&s, None, "/healthz").status, 200);
    assert_eq!(s.terminate(), Some(0), "{}", s.log());
    assert!(s.log().contains("stopped"), "{}", s.log());
}

#[test]
fn a_missing_ledger_or_a_busy_port_is_a_clear_failure() {
    let wd = Workdir::new();
    let tokens = wd.path("tokens.toml");
    add_client(&wd, &tokens, "portal", "verify", 10);
    let out = wd.cmd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        tokens.to_str().unwrap(),
        "--out",
        wd.out().to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("ledger"), "{out:?}");
}

#[test]
fn redeem_every_outcome_and_an_idempotent_retry() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let codes = all_codes(&batch);
    let (receipt, code) = &codes[0];
    assert_eq!(
        code,
        &batch.code_for(receipt),
        "derived codes are the letters' codes"
    );
    let redeem = |account: &str, receipt: &str, code: &str| {
        post(
            &s,
            &c.portal,
            "/v1/redeem",
            json!({"receipt": receipt, "code": code, "account": account}),
        )
    };

    let first = redeem("acct-1", receipt, code);
    assert_eq!(
        (first.status, first.body["outcome"].as_str()),
        (200, Some("redeemed")),
        "{first:?}"
    );
    assert_eq!(first.body["again"], false);
    assert_eq!(first.body["issue_no"], 1);
    // A retry by the same account: the same answer, the first time.
    let retry = redeem("acct-1", receipt, code);
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(retry.body["again"], true);
    assert_eq!(retry.body["redeemed_at"], first.body["redeemed_at"]);
    // Another account: 409, counted as a wrong code, nothing changed.
    let other = redeem("acct-2", receipt, code);
    assert_eq!(
        (other.status, other.body["outcome"].as_str()),
        (409, Some("used")),
        "{other:?}"
    );
    assert_eq!(other.body["wrong_in_window"], 1);
    assert!(other.body["used_on"].is_string());
    let v = post(
        &s,
        &c.portal,
        "/v1/verify",
        json!({"receipt": receipt, "code": code}),
    );
    assert_eq!(
        (
            v.status,
            v.body["outcome"].as_str(),
            v.body["valid"].as_bool()
        ),
        (200, Some("used"), Some(false)),
        "{v:?}"
    );
    assert_eq!(ledger_status(&wd.ledger(), receipt), "redeemed");

    // Not valid: 422 with verify's verdict.
    let (r2, c2) = &codes[1];
    let wrong = redeem("acct-3", r2, &codes[2].1);
    assert_eq!(
        (wrong.status, wrong.body["outcome"].as_str()),
        (422, Some("wrong_code")),
        "{wrong:?}"
    );
    let typo = redeem("acct-3", r2, "12");
    assert_eq!(
        (typo.status, typo.body["outcome"].as_str()),
        (422, Some("mistyped")),
        "{typo:?}"
    );
    for account in ["", "has space", &"a".repeat(65), "caf\u{e9}"] {
        let bad = redeem(account, r2, c2);
        assert_eq!(bad.status, 400, "{account:?}: {bad:?}");
        assert!(
            bad.body["error"].as_str().unwrap().starts_with("account"),
            "{bad:?}"
        );
    }

    // Revoke (the desk): then redeem answers revoked.
    let (r3, c3) = &codes[3];
    let rv = post(
        &s,
        &c.desk,
        "/v1/revoke",
        json!({"receipt": r3, "reason": "letter reported stolen"}),
    );
    assert_eq!(
        (rv.status, rv.body["outcome"].as_str()),
        (200, Some("revoked")),
        "{rv:?}"
    );
    assert_eq!(rv.body["issue_no"], 1);
    let dead = redeem("acct-4", r3, c3);
    assert_eq!(
        (dead.status, dead.body["outcome"].as_str()),
        (422, Some("revoked")),
        "{dead:?}"
    );
    let again = post(
        &s,
        &c.desk,
        "/v1/revoke",
        json!({"receipt": r3, "reason": "again"}),
    );
    assert_eq!(
        (again.status, again.body["outcome"].as_str()),
        (409, Some("nothing_live")),
        "{again:?}"
    );
    let unknown = post(
        &s,
        &c.desk,
        "/v1/revoke",
        json!({"receipt": "IOE0000000001", "reason": "x"}),
    );
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let empty = post(
        &s,
        &c.desk,
        "/v1/revoke",
        json!({"receipt": r2, "reason": "  "}),
    );
    assert_eq!(empty.status, 400, "{empty:?}");
    let history = get(&s, Some(&c.desk), &format!("/v1/receipts/{r3}"));
    assert_eq!(
        history.body["issuances"][0]["status"], "revoked",
        "{history:?}"
    );
    assert_eq!(
        history.body["issuances"][0]["status_reason"],
        "letter reported stolen"
    );
    let history = get(&s, Some(&c.desk), &format!("/v1/receipts/{receipt}"));
    assert!(
        history.body["issuances"][0]["redeemed_at"].is_string(),
        "{history:?}"
    );
    assert!(!history.body.to_string().contains("acct-1"), "{history:?}");

    // The guesser is stopped, not the receipt: after 5 wrong codes the
    // guessing account is 429 even with the right code, and the applicant's
    // own account redeems it.
    let (r5, c5) = &codes[5];
    for _ in 0..5 {
        redeem("acct-5", r5, &codes[6].1);
    }
    let stopped = redeem("acct-5", r5, c5);
    assert_eq!(
        (stopped.status, stopped.body["outcome"].as_str()),
        (429, Some("too_many_wrong_codes")),
        "{stopped:?}"
    );
    assert!(
        stopped.body["retry_after_s"].as_i64().unwrap() > 0,
        "{stopped:?}"
    );
    let applicant = redeem("acct-applicant", r5, c5);
    assert_eq!(applicant.status, 200, "{applicant:?}");
    assert_log_is_clean(
        &s.log(),
        &[code, c2, c3, c5, "acct-1", "acct-2", &c.portal, &c.desk],
    );
}

#[test]
fn to_the_portal_an_unknown_receipt_is_a_wrong_code_and_counted() {
    let wd = Workdir::new();
    batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let unknown = "IOE0000000001";
    let code = derived_code("IOE0912345602");
    let portal = post(
        &s,
        &c.portal,
        "/v1/verify",
        json!({"receipt": unknown, "code": code}),
    );
    assert_eq!(portal.body["outcome"], "wrong_code", "{portal:?}");
    assert_eq!(portal.body["wrong_in_window"], 1, "{portal:?}");
    let redeem = post(
        &s,
        &c.portal,
        "/v1/redeem",
        json!({"receipt": unknown, "code": code, "account": "a"}),
    );
    assert_eq!(
        (redeem.status, redeem.body["outcome"].as_str()),
        (422, Some("wrong_code")),
        "{redeem:?}"
    );
    assert_eq!(redeem.body["wrong_in_window"], 2, "{redeem:?}");
    let desk = post(
        &s,
        &c.desk,
        "/v1/verify",
        json!({"receipt": unknown, "code": code}),
    );
    assert_eq!(desk.body["outcome"], "unknown", "{desk:?}");
}

#[test]
fn a_hundred_accounts_redeem_one_code_at_once_and_exactly_one_wins() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let config = config_allowing(&wd, 100);
    let s = Server::start(&wd, &c.tokens, &["--config", &config, "--connections", "8"]);
    let (receipt, code) = all_codes(&batch).swap_remove(0);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(100));
    let url = s.url("/v1/redeem");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let (barrier, url, token) = (barrier.clone(), &url, &c.portal);
                let body =
                    json!({"receipt": receipt, "code": code, "account": format!("acct-{i}"), "client": format!("signin-{i}")})
                        .to_string();
                scope.spawn(move || {
                    let a = agent();
                    barrier.wait();
                    post_raw(&a, url, Some(token), &body).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        99,
        "{statuses:?}"
    );
    assert_eq!(ledger_status(&wd.ledger(), &receipt), "redeemed");
}

#[test]
fn sigterm_under_load_loses_no_answered_redemption() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let mut s = Server::start(&wd, &c.tokens, &[]);
    let codes = all_codes(&batch);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let url = s.url("/v1/redeem");
    let answered = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let a = agent();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((receipt, code)) = codes.get(i) else {
                        break;
                    };
                    let body =
                        json!({"receipt": receipt, "code": code, "account": format!("acct-{i}")});
                    let Ok(r) = a
                        .post(&url)
                        .header("Authorization", &format!("Bearer {}", c.portal))
                        .header("Content-Type", "application/json")
                        .send(&body.to_string())
                    else {
                        continue;
                    };
                    let r = reply(r);
                    if r.status == 200 {
                        answered.lock().unwrap().push(receipt.clone());
                    }
                }
            });
        }
        // Stop the service while the clients are redeeming.
        assert!(wait_until(Duration::from_secs(30), || answered
            .lock()
            .unwrap()
            .len()
            >= 5));
        assert_eq!(s.terminate(), Some(0), "{}", s.log());
    });
    let answered = answered.into_inner().unwrap();
    assert!(answered.len() >= 5, "{answered:?}");
    for receipt in &answered {
        assert_eq!(
            ledger_status(&wd.ledger(), receipt),
            "redeemed",
            "{receipt}"
        );
    }
}

#[test]
fn the_letter_promise_end_to_end() {
    // Run a batch, read the code from the letter, redeem it over HTTP; a
    // second account is refused, and `verify` on the command line says used.
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let row = &batch.manifest()[0];
    let receipt = row["piece_id"].split('-').next().unwrap().to_string();
    let code = batch.code_for(&receipt);
    let r = post(
        &s,
        &c.portal,
        "/v1/redeem",
        json!({"receipt": receipt, "code": code, "account": "applicant-1"}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = post(
        &s,
        &c.portal,
        "/v1/redeem",
        json!({"receipt": receipt, "code": code, "account": "someone-else"}),
    );
    assert_eq!(r.status, 409, "{r:?}");
    let out = wd.cmd(["verify", &receipt, &code]);
    out.expect_code(EXIT_NOT_VALID);
    assert!(out.stdout.contains("used on"), "{out:?}");
    let out = wd.cmd(["redeem", &receipt, &code, "--account", "applicant-1"]);
    out.expect_code(EXIT_OK);
    assert!(
        out.stdout.contains("already redeemed by this same account"),
        "{out:?}"
    );
}

#[test]
fn on_postgresql_too() {
    let Some(pg) = crate::support::pg::PgSchema::create("serve") else {
        return;
    };
    let url = pg.url();
    let wd = Workdir::new();
    let batch = batch_today_on(&wd, &["--ledger", &url]);
    let c = clients(&wd);
    let config = config_allowing(&wd, 100);
    let s = Server::start(&wd, &c.tokens, &["--ledger", &url, "--config", &config]);
    let codes = all_codes(&batch);
    let (receipt, code) = &codes[0];
    let h = get(&s, None, "/healthz");
    assert_eq!(h.status, 200, "{h:?}");
    let v = post(
        &s,
        &c.portal,
        "/v1/verify",
        json!({"receipt": receipt, "code": code}),
    );
    assert_eq!(v.body["outcome"], "valid", "{v:?}");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..30)
            .map(|i| {
                let (s, token) = (&s, &c.portal);
                scope.spawn(move || {
                    post(
                        s,
                        token,
                        "/v1/redeem",
                        json!({"receipt": receipt, "code": code, "account": format!("a{i}"), "client": format!("signin-{i}")}),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        29,
        "{statuses:?}"
    );
    let v = post(
        &s,
        &c.portal,
        "/v1/verify",
        json!({"receipt": receipt, "code": code}),
    );
    assert_eq!(v.body["outcome"], "used", "{v:?}");
    let rv = post(
        &s,
        &c.desk,
        "/v1/revoke",
        json!({"receipt": codes[1].0, "reason": "stolen"}),
    );
    assert_eq!(rv.status, 200, "{rv:?}");
    // The guesser's count lives in the ledger on PostgreSQL too; the CLI
    // door's per-receipt count is its own.
    wd.cmd([
        "verify",
        &codes[2].0,
        "0000-0000-0000",
        "--ledger",
        &url,
        "--config",
        &config,
    ])
    .expect_code(EXIT_NOT_VALID);
    for n in 1..=2 {
        let v = post(
            &s,
            &c.portal,
            "/v1/verify",
            json!({"receipt": codes[2].0, "code": "0000-0000-0000", "account": "acct-pg-guess"}),
        );
        assert_eq!(v.body["wrong_in_window"], n, "{v:?}");
    }
    let history = get(&s, Some(&c.desk), &format!("/v1/receipts/{}", codes[2].0));
    assert_eq!(history.body["guess_sources"], 1, "{history:?}");
    assert_eq!(history.body["wrong_codes"]["in_window"], 1, "{history:?}");
}

#[test]
fn the_systemd_unit_verifies() {
    let Some(probe) = tool(
        "systemd-analyze",
        &["--version".as_ref()],
        "the serve systemd unit check",
        "apt-get install systemd",
    ) else {
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo_file("deploy/access-letters-serve.service")).unwrap();
    assert!(text.contains("KillSignal=SIGTERM"));
    let text = text.replace("/usr/local/bin/access-letters", BIN);
    let unit = dir.path().join("access-letters-serve.service");
    fs::write(&unit, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
}

#[test]
fn tls_serves_https_with_the_given_certificate() {
    let wd = Workdir::new();
    batch_today(&wd);
    let c = clients(&wd);
    let (cert, key) = (wd.path("cert.pem"), wd.path("key.pem"));
    let args: Vec<std::ffi::OsString> = [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ]
    .iter()
    .map(Into::into)
    .chain([
        "-keyout".into(),
        key.clone().into_os_string(),
        "-out".into(),
        cert.clone().into_os_string(),
    ])
    .collect();
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let Some(made) = tool("openssl", &args, "the TLS test", "apt-get install openssl") else {
        return;
    };
    assert!(made.status.success(), "{made:?}");
    // Unreadable TLS files stop the service before it listens.
    let out = wd.cmd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        c.tokens.to_str().unwrap(),
        "--out",
        wd.out().to_str().unwrap(),
        "--tls-cert",
        "missing.pem",
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("TLS"), "{out:?}");
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let s = Server::start(&wd, &c.tokens, &["--tls-cert", cert_s, "--tls-key", key_s]);
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let url = s.url("/healthz");
    let curl_args = ["-sS", "--max-time", "20", "--cacert", cert_s, &url];
    let curl_args: Vec<&std::ffi::OsStr> = curl_args.iter().map(|a| a.as_ref()).collect();
    let Some(curl) = tool("curl", &curl_args, "the TLS test", "apt-get install curl") else {
        return;
    };
    let body = String::from_utf8_lossy(&curl.stdout);
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert!(body.contains("\"ledger\":\"reachable\""), "{body}");
    // Plain HTTP to the TLS port gets no answer.
    let plain = agent()
        .get(s.url("/healthz").replace("https://", "http://"))
        .call();
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

/// `GET /openapi.json` needs no token and is the document the types make,
/// which `docs/openapi.yaml` holds (the library's test
/// `serve::openapi::tests::docs_openapi_yaml_is_the_generated_document`).
#[test]
fn openapi_json_is_served_without_a_token_and_is_the_generated_document() {
    let wd = Workdir::new();
    batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start(&wd, &c.tokens, &[]);
    let doc = get(&s, None, "/openapi.json");
    assert_eq!(doc.status, 200, "{doc:?}");
    assert_eq!(doc.header("content-type"), Some("application/json"));
    let generated = serde_json::to_value(access_letters::serve::openapi::document()).unwrap();
    assert_eq!(doc.body, generated);
    let receipt = &doc.body["components"]["schemas"]["Receipt"];
    assert!(receipt["pattern"].as_str().is_some(), "{receipt}");
    let verify = &doc.body["paths"]["/v1/verify"]["post"]["responses"];
    for status in [
        "200", "400", "401", "403", "408", "413", "415", "423", "429", "503",
    ] {
        assert!(verify.get(status).is_some(), "{status} in {verify}");
    }
}
