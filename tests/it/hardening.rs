//! `serve` at the internet's edge, probed as an attacker would: slow and
//! idle connections under a small descriptor limit, stalled headers and
//! bodies, a full cap, wrong content types, a stop with idle connections,
//! forged `X-Forwarded-For`, an open tokens folder, and a stop on
//! PostgreSQL. Each probe runs the real binary on a localhost port, every
//! socket has a timeout, and the counts are modest so a test takes seconds.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::serve::{
    agent, batch_today, batch_today_on, clients, get, post, post_raw, receipts_and_codes, Clients,
    Server,
};
use crate::support::*;

/// Longest any raw socket waits for the server.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

fn addr(s: &Server) -> SocketAddr {
    s.base
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address")
}

/// A raw connection to the server, every read and write bounded.
fn connect(s: &Server) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr(s), SOCKET_TIMEOUT).expect("connects");
    stream.set_read_timeout(Some(SOCKET_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(SOCKET_TIMEOUT)).unwrap();
    stream
}

/// Everything the server sends until it closes (or the read timeout), and
/// how long that took.
fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

/// The JSON body of a raw HTTP response.
fn json_body(response: &str) -> Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// The value of one counter or gauge line of `/metrics`.
fn metric(s: &Server, line_start: &str) -> Option<f64> {
    let text = get(s, None, "/metrics").body.as_str()?.to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
}

/// A workdir with today's batch, the two clients and the server started
/// with `extra` (and a descriptor limit when given).
fn served(extra: &[&str], nofile: Option<u64>) -> (Workdir, Batch, Clients, Server) {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let s = Server::start_with(&wd, &c.tokens, extra, nofile);
    (wd, batch, c, s)
}

#[test]
fn slow_and_idle_connections_past_the_descriptor_limit_do_not_keep_a_verify_waiting() {
    // 256 descriptors: 144 connections at most (three quarters of 256 - 64).
    let (_wd, batch, c, s) = served(&[], Some(256));
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let mut held = Vec::new();
    for _ in 0..60 {
        let mut slow = connect(&s);
        slow.write_all(b"POST /v1/ver").unwrap();
        held.push(slow);
    }
    std::thread::sleep(Duration::from_millis(300));
    // More idle connections than the process has descriptors.
    for _ in 0..250 {
        if let Ok(idle) = TcpStream::connect_timeout(&addr(&s), Duration::from_secs(1)) {
            held.push(idle);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // Three verifies, each on a new connection: every one is answered, the
    // quickest in under 1 s (the best of three, so that a test machine
    // busy with other tests does not decide).
    let body = json!({"receipt": receipt, "code": code}).to_string();
    let mut took = Vec::new();
    for _ in 0..3 {
        let quick = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(SOCKET_TIMEOUT))
            .build();
        let a: ureq::Agent = quick.into();
        let started = Instant::now();
        let r = a
            .post(s.url("/v1/verify"))
            .header("Authorization", &format!("Bearer {}", c.portal))
            .header("Content-Type", "application/json")
            .send(&body);
        took.push(started.elapsed());
        let status = r.map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(200), "{}", s.log());
    }
    let best = took.iter().min().unwrap();
    assert!(*best < Duration::from_secs(1), "verifies took {took:?}");
    let evicted = metric(
        &s,
        r#"access_letters_http_connections_closed_total{reason="evicted"} "#,
    );
    assert!(evicted.unwrap_or(0.0) > 100.0, "{evicted:?}");
    let open = metric(&s, "access_letters_http_connections_open ").unwrap();
    assert!(open <= 144.0, "{open}");
    assert!(s.log().contains("at the cap"), "{}", s.log());
    drop(held);
}

#[test]
fn a_stalled_chunked_body_gets_the_json_408() {
    let (_wd, _batch, c, s) = served(&["--header-timeout", "1"], None);
    let mut stream = connect(&s);
    let head = format!(
        "POST /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"rec\r\n",
        c.portal
    );
    stream.write_all(head.as_bytes()).unwrap();
    let (response, took) = read_to_close(&mut stream);
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert_eq!(json_body(&response)["outcome"], "timeout", "{response}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn unfinished_headers_get_the_json_408_even_sent_a_byte_at_a_time() {
    let (_wd, _batch, _c, s) = served(&["--header-timeout", "1"], None);
    let mut stalled = connect(&s);
    stalled
        .write_all(b"POST /v1/verify HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let (response, took) = read_to_close(&mut stalled);
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    let body = json_body(&response);
    assert_eq!(body["outcome"], "timeout", "{response}");
    assert!(body["error"].is_string(), "{response}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // A drip of header bytes does not extend the clock.
    let mut drip = connect(&s);
    let mut writer = drip.try_clone().unwrap();
    let dripping = std::thread::spawn(move || {
        for b in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if writer.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (response, took) = read_to_close(&mut drip);
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    dripping.join().unwrap();
    let timeouts = metric(
        &s,
        r#"access_letters_http_connections_closed_total{reason="header_timeout"} "#,
    );
    assert_eq!(timeouts, Some(2.0));
}

#[test]
fn a_body_that_is_not_json_gets_415_and_a_wrong_method_405_both_as_json() {
    let (_wd, batch, c, s) = served(&[], None);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let body = json!({"receipt": receipt, "code": code}).to_string();
    let r = agent()
        .post(s.url("/v1/verify"))
        .header("Authorization", &format!("Bearer {}", c.portal))
        .header("Content-Type", "text/plain")
        .send(&body)
        .map(crate::serve::reply)
        .expect("the server answers");
    assert_eq!(r.status, 415, "{r:?}");
    assert_eq!(r.body["outcome"], "unsupported_media_type", "{r:?}");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    // No Content-Type at all is refused the same way.
    let mut raw = connect(&s);
    let request = format!(
        "POST /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        c.portal,
        body.len()
    );
    raw.write_all(request.as_bytes()).unwrap();
    let (response, _) = read_to_close(&mut raw);
    assert!(response.starts_with("HTTP/1.1 415"), "{response}");
    // application/json with parameters is JSON.
    let r = agent()
        .post(s.url("/v1/verify"))
        .header("Authorization", &format!("Bearer {}", c.portal))
        .header("Content-Type", "Application/JSON; charset=utf-8")
        .send(&body)
        .map(crate::serve::reply)
        .expect("the server answers");
    assert_eq!(r.body["outcome"], "valid", "{r:?}");
    let wrong = get(&s, Some(&c.portal), "/v1/verify");
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert_eq!(wrong.body["outcome"], "method_not_allowed", "{wrong:?}");
}

/// One response read off a kept connection: its head (lower-cased) and
/// its body, by its Content-Length.
fn read_one(stream: &mut TcpStream) -> (String, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => panic!("closed before a whole head: {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while got.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => panic!("closed before a whole body: {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&got[head_end..head_end + length]).into_owned();
    (head, body)
}

#[test]
fn an_answer_before_the_body_was_read_closes_the_connection_and_says_so() {
    let (_wd, batch, c, s) = served(&[], None);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let body = json!({"receipt": receipt, "code": code}).to_string();
    let request = |content_type: &str| {
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            c.portal,
            body.len()
        )
    };
    // A request read whole keeps its connection: two on one socket.
    let mut kept = connect(&s);
    for _ in 0..2 {
        kept.write_all(request("application/json").as_bytes())
            .unwrap();
        kept.write_all(body.as_bytes()).unwrap();
        let (head, answer) = read_one(&mut kept);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
        assert!(answer.contains("\"valid\""), "{answer}");
    }
    // Refused for its type (415) with the body still on its way: the answer
    // says the connection closes, and it does.
    let mut refused = connect(&s);
    refused.write_all(request("text/plain").as_bytes()).unwrap();
    let (head, answer) = read_one(&mut refused);
    assert!(head.starts_with("http/1.1 415"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(answer.contains("unsupported_media_type"), "{answer}");
    let _ = refused.write_all(body.as_bytes());
    let (rest, waited) = read_to_close(&mut refused);
    assert_eq!(rest, "", "nothing more is answered on it");
    assert!(waited < SOCKET_TIMEOUT, "closed, not left open: {waited:?}");
    // A guard's refusal (no token) with the body on its way: the same.
    let mut anonymous = connect(&s);
    let no_token =
        request("application/json").replace(&format!("Authorization: Bearer {}\r\n", c.portal), "");
    anonymous.write_all(no_token.as_bytes()).unwrap();
    let (head, _) = read_one(&mut anonymous);
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
}

#[test]
fn sigterm_with_idle_and_half_sent_connections_exits_at_once() {
    let (_wd, _batch, _c, mut s) = served(&[], None);
    let mut held = Vec::new();
    for i in 0..40 {
        let mut idle = connect(&s);
        if i % 4 == 0 {
            // A keep-alive connection that was used once.
            idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 2048];
            assert!(idle.read(&mut buf).unwrap() > 0);
        } else if i % 4 == 1 {
            // Half a request line, and nothing more: before, each of these
            // held the stop for its full 20 s.
            idle.write_all(b"GET /heal").unwrap();
        }
        held.push(idle);
    }
    // The server holds all forty (its own count, which includes the
    // probe's own connection), not merely the kernel's accept queue.
    let open = "access_letters_http_connections_open ";
    assert!(
        wait_until(Duration::from_secs(10), || metric(&s, open)
            .is_some_and(|n| n > held.len() as f64)),
        "the server never held the {} connections",
        held.len()
    );
    let started = Instant::now();
    assert_eq!(s.terminate(), Some(0), "{}", s.log());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "the stop took {took:?}");
    drop(held);
}

#[test]
fn at_the_cap_with_every_connection_mid_request_a_new_one_is_refused_and_counted() {
    let (_wd, _batch, _c, s) = served(&["--max-connections", "5", "--header-timeout", "1"], None);
    let mut slow: Vec<TcpStream> = (0..5).map(|_| connect(&s)).collect();
    for conn in &mut slow {
        conn.write_all(b"GET /heal").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = connect(&s);
    let (said, took) = read_to_close(&mut refused);
    assert!(said.starts_with("HTTP/1.1 503"), "{said:?}");
    assert_eq!(
        json_body(&said)["outcome"],
        "too_many_connections",
        "{said}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    // The slow ones are answered 408 at their clock; then there is room.
    for conn in &mut slow {
        let (response, _) = read_to_close(conn);
        assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    }
    let refusals = metric(&s, "access_letters_http_connections_refused_total ");
    assert_eq!(refusals, Some(1.0), "{}", s.log());
    assert!(s.log().contains("refusing new ones"), "{}", s.log());
}

#[test]
fn idle_connections_close_at_their_clock() {
    let (_wd, _batch, _c, s) = served(&["--keep-alive", "1", "--header-timeout", "2"], None);
    let mut used = connect(&s);
    used.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = used.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (more, took) = read_to_close(&mut used);
    assert_eq!(more, "");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // A connection that never sends a byte has the header clock, and is
    // closed without a word (there was no request to answer).
    let mut silent = connect(&s);
    let (said, took) = read_to_close(&mut silent);
    assert_eq!(said, "");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

/// The `addr` of the request log lines of `route`.
fn logged_addrs(log: &str, route: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request" && v["fields"]["route"] == route)
        .map(|v| v["fields"]["addr"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn the_client_address_is_logged_and_forwarded_for_only_behind_a_trusted_proxy() {
    let wd = Workdir::new();
    let batch = batch_today(&wd);
    let c = clients(&wd);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let forwarded = |s: &Server| {
        let r = agent()
            .post(s.url("/v1/verify"))
            .header("Authorization", &format!("Bearer {}", c.portal))
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
            .send(&json!({"receipt": receipt, "code": code}).to_string())
            .expect("the server answers");
        assert_eq!(r.status().as_u16(), 200);
    };
    let direct = Server::start(&wd, &c.tokens, &[]);
    forwarded(&direct);
    assert_eq!(logged_addrs(&direct.log(), "verify"), ["127.0.0.1"]);
    let behind = Server::start(&wd, &c.tokens, &["--trusted-proxy", "127.0.0.0/8"]);
    forwarded(&behind);
    let r = post(
        &behind,
        &c.portal,
        "/v1/verify",
        json!({"receipt": receipt, "code": code}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        logged_addrs(&behind.log(), "verify"),
        ["203.0.113.9", "127.0.0.1"]
    );
    crate::serve::assert_log_is_clean(&behind.log(), &[&code, &c.portal, &c.desk]);
    let out = wd.cmd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        c.tokens.to_str().unwrap(),
        "--trusted-proxy",
        "10.0.0/8",
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("not an address range"), "{out:?}");
}

#[test]
fn a_tokens_file_in_a_folder_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let wd = Workdir::new();
    batch_today(&wd);
    let open = wd.path("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let tokens = open.join("tokens.toml");
    let add = wd.cmd([
        "token",
        "add",
        "--tokens",
        tokens.to_str().unwrap(),
        "--client",
        "portal",
        "--allow",
        "verify",
    ]);
    add.expect_code(EXIT_FAILED);
    assert!(add.stderr.contains("other users may write"), "{add:?}");
    assert!(add.stderr.contains("chmod go-w"), "{add:?}");
    assert!(!tokens.exists());
    // A good file moved into the open folder is refused at start.
    let c = clients(&wd);
    fs::copy(&c.tokens, &tokens).unwrap();
    fs::set_permissions(&tokens, fs::Permissions::from_mode(0o600)).unwrap();
    let out = wd.cmd([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        tokens.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("replace the file"), "{out:?}");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    let s = Server::start(&wd, &tokens, &[]);
    assert_eq!(get(&s, None, "/healthz").status, 200);
}

#[test]
fn sigterm_on_postgresql_exits_0_idle_and_under_load() {
    let Some(pg) = crate::support::pg::PgSchema::create("serve_stop") else {
        return;
    };
    let url = pg.url();
    let wd = Workdir::new();
    let batch = batch_today_on(&wd, &["--ledger", &url]);
    let c = clients(&wd);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    // Idle, after the pool has opened its connections.
    let mut s = Server::start(&wd, &c.tokens, &["--ledger", &url]);
    let body = json!({"receipt": receipt, "code": code}).to_string();
    let r = post_raw(&agent(), &s.url("/v1/verify"), Some(&c.portal), &body);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(s.terminate(), Some(0), "{}", s.log());
    assert!(!s.log().contains("panicked"), "{}", s.log());
    // Under load: eight clients verifying as fast as they can.
    let mut s = Server::start(&wd, &c.tokens, &["--ledger", &url]);
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let url_ = s.url("/v1/verify");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let a = agent();
                while let Ok(r) = a
                    .post(&url_)
                    .header("Authorization", &format!("Bearer {}", c.portal))
                    .header("Content-Type", "application/json")
                    .send(&body)
                {
                    assert_eq!(r.status().as_u16(), 200);
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        assert!(wait_until(Duration::from_secs(20), || answered
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 50));
        assert_eq!(s.terminate(), Some(0), "{}", s.log());
    });
    assert!(!s.log().contains("panicked"), "{}", s.log());
}

#[test]
fn requests_hyper_cannot_read_get_the_json_error_too() {
    let (_wd, _batch, _c, s) = served(&[], None);
    let mut garbled = connect(&s);
    garbled.write_all(b"hello world\r\n\r\n").unwrap();
    let (response, _) = read_to_close(&mut garbled);
    assert!(response.starts_with("HTTP/1.1 400"), "{response:?}");
    assert_eq!(json_body(&response)["outcome"], "bad_request", "{response}");
    // More header fields than hyper reads (100).
    let mut crowded = connect(&s);
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: t\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-{i}: y\r\n"));
    }
    request.push_str("\r\n");
    crowded.write_all(request.as_bytes()).unwrap();
    let (response, _) = read_to_close(&mut crowded);
    assert!(response.starts_with("HTTP/1.1 431"), "{response:?}");
    assert_eq!(json_body(&response)["outcome"], "too_large", "{response}");
    // The service goes on.
    assert_eq!(get(&s, None, "/healthz").status, 200);
}
