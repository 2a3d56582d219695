//! The portal's wrong-code limit on the one guessing (`ledger/guesses.rs`),
//! held however many connections, processes or replicas the guesses come
//! through: the counts live in the ledger, and each counted guess is decided
//! and recorded in one transaction serialised per guesser.
//!
//! - from many connections at once (as replicas and hosts would), a
//!   guesser's guesses are counted exactly: never more answered than its
//!   limit, each count told once;
//! - over HTTP, two `serve` replicas on one PostgreSQL ledger share the
//!   limit: the guesser is answered five times in all, then told 429 by
//!   both, while the applicant's right code still works through either.
//!
//! The PostgreSQL runs need `ACCESS_LETTERS_TEST_PG` (skipped loudly
//! without it, a failure under CI).

use std::collections::BTreeMap;
use std::sync::Barrier;

use access_letters::filing::ReceiptNumber;
use access_letters::ledger::{
    AttemptKind, GuessGate, GuessLimit, Guesser, Ledger, PostgresLedger, SqliteLedger,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::serve::{
    assert_log_is_clean, batch_today_on, clients, post, receipts_and_codes, Server,
};
use crate::support::pg::PgSchema;
use crate::support::*;

const THREADS: usize = 8;
const GUESSES_PER_THREAD: usize = 4;

const LIMIT: GuessLimit = GuessLimit {
    per_account: 5,
    per_client: 20,
    window: TimeDelta::minutes(10),
    targeted_sources: 3,
};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .expect("a time")
        .with_timezone(&Utc)
}

/// Eight connections, each guessing wrong four times for one account (from
/// eight client addresses) and four times for one client address (with no
/// account), all released at once.
fn guesses_race(open: &(dyn Fn() -> Box<dyn Ledger> + Sync)) {
    let receipt = ReceiptNumber::parse("IOE0912345678").expect("a receipt");
    let start = Barrier::new(THREADS);
    let answers: Vec<(GuessGate, GuessGate)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (receipt, start) = (&receipt, &start);
                scope.spawn(move || {
                    let mut ledger = open();
                    let by_account = Guesser {
                        account: Some("acct-guesser".into()),
                        client: format!("198.51.100.{t}"),
                    };
                    let by_client = Guesser {
                        account: None,
                        client: "203.0.113.66".into(),
                    };
                    start.wait();
                    (0..GUESSES_PER_THREAD)
                        .map(|i| {
                            let at = now() + TimeDelta::seconds(i as i64);
                            let gate = |g: &Guesser, l: &mut dyn Ledger| {
                                l.gate_guess(receipt, g, AttemptKind::Wrong, at, LIMIT)
                                    .expect("a counted guess")
                            };
                            (
                                gate(&by_account, ledger.as_mut()),
                                gate(&by_client, ledger.as_mut()),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a guessing thread"))
            .collect()
    });
    let told = |pick: fn(&(GuessGate, GuessGate)) -> GuessGate| {
        let mut counts = BTreeMap::new();
        let mut refused = 0;
        for gate in answers.iter().map(pick) {
            match gate {
                GuessGate::Open { wrong_by_guesser } => {
                    *counts.entry(wrong_by_guesser).or_insert(0) += 1
                }
                GuessGate::TooMany { until } => {
                    assert!(until > now(), "{gate:?}");
                    refused += 1;
                }
            }
        }
        (counts, refused)
    };
    let total = THREADS * GUESSES_PER_THREAD;
    // The account's limit: exactly five answered, counts 1..=5 told once
    // each (a lost update would tell one count twice and answer a sixth).
    let (counts, refused) = told(|a| a.0);
    let once = |n: u32| (1..=n).map(|c| (c, 1)).collect::<BTreeMap<u32, usize>>();
    assert_eq!(counts, once(LIMIT.per_account), "by account");
    assert_eq!(refused, total - LIMIT.per_account as usize, "by account");
    // The client's limit, counted over the same race: twenty answered.
    let (counts, refused) = told(|a| a.1);
    assert_eq!(counts, once(LIMIT.per_client), "by client");
    assert_eq!(refused, total - LIMIT.per_client as usize, "by client");
    // What was recorded is what was answered: the five counted guesses of
    // the account came from at most five of its addresses, plus the one
    // client; a guess a minute later is still refused for both.
    let mut ledger = open();
    let later = now() + TimeDelta::minutes(1);
    let sources = ledger
        .guess_sources(&receipt, later, LIMIT.window)
        .expect("sources");
    assert!((2..=6).contains(&sources), "{sources} sources");
    for guesser in [
        Guesser {
            account: Some("acct-guesser".into()),
            client: "192.0.2.200".into(),
        },
        Guesser {
            account: None,
            client: "203.0.113.66".into(),
        },
    ] {
        let gate = ledger
            .gate_guess(&receipt, &guesser, AttemptKind::Wrong, later, LIMIT)
            .expect("a guess");
        assert!(matches!(gate, GuessGate::TooMany { .. }), "{gate:?}");
    }
}

#[test]
fn sqlite_guesses_from_many_connections_are_counted_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    drop(SqliteLedger::open(&path).expect("create the SQLite ledger"));
    guesses_race(&|| Box::new(SqliteLedger::open_existing(&path).expect("open")));
}

#[test]
fn postgres_guesses_from_many_connections_are_counted_exactly() {
    let Some(schema) = PgSchema::create("guesses_race") else {
        return;
    };
    drop(schema.connect());
    let url = schema.url();
    guesses_race(&|| Box::new(PostgresLedger::connect(&url).expect("connect")));
}

#[test]
fn two_replicas_on_one_postgresql_ledger_share_the_guessers_limit() {
    let Some(pg) = PgSchema::create("guess_replicas") else {
        return;
    };
    let url = pg.url();
    let wd = Workdir::new();
    let batch = batch_today_on(&wd, &["--ledger", &url]);
    let c = clients(&wd);
    let [(receipt, code)] = receipts_and_codes(&batch, 1).try_into().unwrap();
    let replicas = [
        Server::start(&wd, &c.tokens, &["--ledger", &url]),
        Server::start(&wd, &c.tokens, &["--ledger", &url]),
    ];
    let guess = |s: &Server, account: &str, client: &str, typed: &str| {
        post(
            s,
            &c.portal,
            "/v1/verify",
            json!({"receipt": receipt, "code": typed, "account": account, "client": client}),
        )
    };
    let bad = "0000-0000-0000";
    // Twelve wrong guesses by one account, alternating replicas and
    // addresses: five answered in all (counted 1..=5 across both), then
    // 429 from either.
    let mut statuses = Vec::new();
    for n in 0..12 {
        let s = &replicas[n % 2];
        let r = guess(s, "acct-guesser", &format!("198.51.100.{n}"), bad);
        if r.status == 200 {
            assert_eq!(r.body["wrong_in_window"], statuses.len() + 1, "{r:?}");
        } else {
            assert_eq!(r.status, 429, "{r:?}");
            assert!(r.header("retry-after").is_some(), "{r:?}");
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses, [[200; 5].as_slice(), &[429; 7]].concat());
    // The applicant's right code, through either replica.
    for s in &replicas {
        let r = guess(s, "acct-applicant", "203.0.113.9", &code);
        assert_eq!(
            (r.status, r.body["valid"].as_bool()),
            (200, Some(true)),
            "{r:?}"
        );
        assert_log_is_clean(&s.log(), &[&code, "acct-guesser", "acct-applicant"]);
    }
}
