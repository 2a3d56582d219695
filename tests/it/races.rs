//! Interleavings, not paths: every change to a receipt, run at once from
//! many threads (each with its own ledger connection, as separate processes
//! and hosts would), on both backends. After each run the invariants are
//! checked from the ledger alone, and every answer given is checked against
//! what the ledger holds afterwards (see `ledger/life.rs`):
//!
//! - a receipt has at most one live code;
//! - a receipt is linked to at most one account (a redeemed issuance not
//!   unlinked), and nothing was issued after the issuance that links it;
//! - whoever was told "redeemed" holds that issuance in the ledger, whoever
//!   was told "superseded", "revoked", "returned" or "unlinked" too.
//!
//! The PostgreSQL runs need `ACCESS_LETTERS_TEST_PG` (skipped loudly
//! without it, a failure under CI).

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use access_letters::filing::IssuanceStatus;
use access_letters::ledger::{
    AttemptLimit, BatchKind, ImportKind, Issuance, Ledger, LedgerError, MailEvent, MailEventKind,
    MailImport, MailRecorded, MailTime, Revocation, Sha256Hex, Unlinking,
};
use access_letters::ops::{redeem, AccountRef, Door, RedeemAnswer, RedeemRequest};
use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support::ledger_case::*;

const REISSUES: &str = "2026-11-26-reissues";
const THREADS: usize = 8;
const RECEIPTS: u64 = 4;
const OPS_PER_THREAD: usize = 30;
const SEEDS: [u64; 4] = [7, 1_204, 90_210, 31_337];
const ACCOUNTS: [&str; 3] = ["acct-ana", "acct-bao", "acct-chloe"];

fn base_time() -> DateTime<Utc> {
    at("2026-12-01T10:00:00Z")
}

fn limit() -> AttemptLimit {
    // High enough that guesses rarely lock a receipt: the point here is
    // the interleaving of changes, the limit has tests of its own.
    AttemptLimit {
        max_wrong: 40,
        window: TimeDelta::minutes(10),
    }
}

/// Issue 1 of receipts 1..=n, and a batch for the reissues.
fn issued_with_reissues(ledger: &mut dyn Ledger, n: u64) {
    issued(ledger, n);
    start(ledger, REISSUES, BatchKind::Reissue);
}

/// What a caller was told, to check against the ledger afterwards.
#[derive(Clone, Debug)]
enum Told {
    Redeemed {
        n: u64,
        issue_no: u32,
        account: String,
    },
    Reissued {
        n: u64,
        issue_no: u32,
        superseded: Option<u32>,
    },
    Revoked {
        n: u64,
        issue_no: u32,
    },
    Returned {
        n: u64,
        issue_no: u32,
    },
    Unlinked {
        n: u64,
        issue_no: u32,
    },
}

fn latest_issue(ledger: &dyn Ledger, n: u64) -> u32 {
    let history = ledger.history(&receipt(n)).expect("history");
    history.last().map_or(1, |i| i.issued.issue_no)
}

fn try_redeem(
    ledger: &mut dyn Ledger,
    rng: &mut ChaCha8Rng,
    n: u64,
    now: DateTime<Utc>,
) -> Option<Told> {
    let latest = latest_issue(ledger, n);
    // The newest code, an older (superseded) one, or another receipt's.
    let (typed, issue_no) = match rng.random_range(0..4u32) {
        0 | 1 => (code(n, latest), latest),
        2 => {
            let k = rng.random_range(1..=latest);
            (code(n, k), k)
        }
        _ => (code(n + 50, 1), 0),
    };
    let account = ACCOUNTS[rng.random_range(0..ACCOUNTS.len())];
    let account_ref = AccountRef::parse(account).expect("an account reference");
    let req = RedeemRequest {
        receipt: &receipt(n),
        typed: &typed,
        account: &account_ref,
        as_of: date("2026-12-01"),
        now,
        limit: limit(),
        door: Door::Portal,
        guessing: None,
    };
    match redeem(&req, &ring(), ledger).expect("redeem") {
        RedeemAnswer::Redeemed { issue_no: got, .. } => {
            assert_eq!(got, issue_no, "redeemed another issue than the code's");
            Some(Told::Redeemed {
                n,
                issue_no,
                account: account.into(),
            })
        }
        _ => None,
    }
}

fn try_reissue(ledger: &mut dyn Ledger, n: u64) -> Option<Told> {
    let next = latest_issue(ledger, n) + 1;
    match ledger.supersede_and_record(&row(n, next, REISSUES)) {
        Ok(superseded) => Some(Told::Reissued {
            n,
            issue_no: next,
            superseded,
        }),
        // Refused honestly: linked, or another reissue took the number.
        Err(
            LedgerError::Linked { .. }
            | LedgerError::IssueOutOfOrder { .. }
            | LedgerError::DuplicateIssuance { .. }
            | LedgerError::AlreadyActive { .. },
        ) => None,
        Err(e) => panic!("reissue of {n} failed: {e}"),
    }
}

fn try_return(
    ledger: &mut dyn Ledger,
    rng: &mut ChaCha8Rng,
    n: u64,
    tag: &str,
    now: DateTime<Utc>,
) -> Option<Told> {
    let k = rng.random_range(1..=latest_issue(ledger, n));
    let import = MailImport {
        kind: ImportKind::Returns,
        file_sha256: Sha256Hex::of(tag.as_bytes()),
        file_name: format!("returns-{tag}.csv"),
        rows: 1,
        unmatched: 0,
        rejected: 0,
    };
    let event = MailEvent {
        piece_id: format!("IOE{n:010}-{k:02}"),
        kind: MailEventKind::Returned,
        at: MailTime::parse_text("2026-11-30").expect("a mail time"),
        detail: format!("attempted, not known ({tag})"),
    };
    match ledger
        .record_mail(&import, &[event], now)
        .expect("record a return")
    {
        MailRecorded::Recorded { stopped, .. } => {
            stopped.first().map(|(_, issue_no)| Told::Returned {
                n,
                issue_no: *issue_no,
            })
        }
        MailRecorded::AlreadyImported { .. } => None,
    }
}

/// One random change of one receipt.
fn one_op(
    ledger: &mut dyn Ledger,
    rng: &mut ChaCha8Rng,
    tag: &str,
    now: DateTime<Utc>,
) -> Option<Told> {
    let n = rng.random_range(1..=RECEIPTS);
    match rng.random_range(0..10u32) {
        0..=3 => try_redeem(ledger, rng, n, now),
        4 | 5 => try_reissue(ledger, n),
        6 => match ledger
            .revoke(&receipt(n), "letter reported stolen", now)
            .expect("revoke")
        {
            Revocation::Revoked { issue_no, .. } => Some(Told::Revoked { n, issue_no }),
            _ => None,
        },
        7 => try_return(ledger, rng, n, tag, now),
        8 => match ledger
            .unlink(&receipt(n), "account opened by someone else", now)
            .expect("unlink")
        {
            Unlinking::Unlinked { issue_no, .. } => Some(Told::Unlinked { n, issue_no }),
            Unlinking::NotLinked => None,
        },
        _ => {
            ledger
                .gate_attempt(
                    &receipt(n),
                    access_letters::ledger::AttemptKind::NotCounted,
                    now,
                    limit(),
                )
                .expect("a verify attempt");
            None
        }
    }
}

/// The invariants of one receipt, from its history alone.
fn check_invariants(n: u64, history: &[Issuance]) {
    let active = history
        .iter()
        .filter(|i| i.status == IssuanceStatus::Active)
        .count();
    assert!(
        active <= 1,
        "receipt {n} has {active} live codes: {history:#?}"
    );
    let links: Vec<&Issuance> = history
        .iter()
        .filter(|i| i.redemption.as_ref().is_some_and(|r| r.unlinked.is_none()))
        .collect();
    assert!(
        links.len() <= 1,
        "receipt {n} is linked to {} accounts",
        links.len()
    );
    if let Some(link) = links.first() {
        let max = history.iter().map(|i| i.issued.issue_no).max().unwrap_or(0);
        assert_eq!(
            max, link.issued.issue_no,
            "receipt {n}: a code was issued after issue {} linked the case",
            link.issued.issue_no
        );
    }
    for i in history {
        let redeemed = i.status == IssuanceStatus::Redeemed;
        assert_eq!(
            redeemed,
            i.redemption.is_some(),
            "receipt {n} issue {}",
            i.issued.issue_no
        );
    }
}

/// Every answer agrees with the final ledger.
fn check_told(told: &[Told], final_state: &BTreeMap<u64, Vec<Issuance>>) {
    let issue = |n: u64, k: u32| {
        final_state[&n]
            .iter()
            .find(|i| i.issued.issue_no == k)
            .unwrap_or_else(|| panic!("receipt {n} has no issue {k}, yet a caller was told of it"))
    };
    for t in told {
        match t {
            Told::Redeemed {
                n,
                issue_no,
                account,
            } => {
                let i = issue(*n, *issue_no);
                let by = i.redemption.as_ref().map(|r| r.account.as_str());
                assert_eq!(
                    by,
                    Some(account.as_str()),
                    "told redeemed: {t:?}, ledger: {i:?}"
                );
            }
            Told::Reissued {
                n,
                issue_no,
                superseded,
            } => {
                issue(*n, *issue_no);
                if let Some(k) = superseded {
                    assert_eq!(issue(*n, *k).status, IssuanceStatus::Superseded, "{t:?}");
                }
            }
            Told::Revoked { n, issue_no } => {
                assert_eq!(
                    issue(*n, *issue_no).status,
                    IssuanceStatus::Revoked,
                    "{t:?}"
                )
            }
            Told::Returned { n, issue_no } => {
                assert_eq!(
                    issue(*n, *issue_no).status,
                    IssuanceStatus::Returned,
                    "{t:?}"
                )
            }
            Told::Unlinked { n, issue_no } => {
                let i = issue(*n, *issue_no);
                assert!(
                    i.redemption.as_ref().is_some_and(|r| r.unlinked.is_some()),
                    "{t:?}"
                );
            }
        }
    }
}

fn random_mixes(ledger: &mut dyn Ledger, open: Opener, seed: u64) {
    issued_with_reissues(ledger, RECEIPTS);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (open, barrier) = (open.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut mine = open();
                let mut rng = ChaCha8Rng::seed_from_u64(seed * 1_000 + t as u64);
                barrier.wait();
                (0..OPS_PER_THREAD)
                    .filter_map(|op| {
                        let now = base_time() + TimeDelta::seconds(op as i64);
                        let tag = format!("{seed}-{t}-{op}");
                        one_op(mine.as_mut(), &mut rng, &tag, now)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let told: Vec<Told> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("a racing thread"))
        .collect();
    let final_state: BTreeMap<u64, Vec<Issuance>> = (1..=RECEIPTS)
        .map(|n| (n, ledger.history(&receipt(n)).expect("history")))
        .collect();
    for (n, history) in &final_state {
        check_invariants(*n, history);
    }
    check_told(&told, &final_state);
    // The run did race: changes were made, not all refused.
    assert!(
        told.len() >= THREADS,
        "seed {seed}: only {} changes",
        told.len()
    );
}

/// The race of the report: a reissue against a redemption of the code it
/// supersedes, 200 times. Never two accounts, never a false "superseded".
fn reissue_against_redeem(ledger: &mut dyn Ledger, open: Opener) {
    const TRIES: u64 = 200;
    issued_with_reissues(ledger, TRIES);
    let barrier = Arc::new(Barrier::new(2));
    let reissuer = {
        let (open, barrier) = (open.clone(), barrier.clone());
        std::thread::spawn(move || {
            let mut mine = open();
            (1..=TRIES)
                .map(|n| {
                    barrier.wait();
                    mine.supersede_and_record(&row(n, 2, REISSUES))
                        .map_err(|e| e.to_string())
                })
                .collect::<Vec<_>>()
        })
    };
    let redeemer = std::thread::spawn(move || {
        let mut mine = open();
        let account = AccountRef::parse("acct-first").expect("an account");
        (1..=TRIES)
            .map(|n| {
                let typed = code(n, 1);
                let req = RedeemRequest {
                    receipt: &receipt(n),
                    typed: &typed,
                    account: &account,
                    as_of: date("2026-12-01"),
                    now: base_time(),
                    limit: limit(),
                    door: Door::Portal,
                    guessing: None,
                };
                barrier.wait();
                redeem(&req, &ring(), mine.as_mut()).expect("redeem")
            })
            .collect::<Vec<_>>()
    });
    let reissued = reissuer.join().expect("the reissuing thread");
    let redeemed = redeemer.join().expect("the redeeming thread");
    let (mut won_redeem, mut won_reissue) = (0, 0);
    for n in 1..=TRIES {
        let (re, rd) = (&reissued[(n - 1) as usize], &redeemed[(n - 1) as usize]);
        let history = ledger.history(&receipt(n)).expect("history");
        check_invariants(n, &history);
        match (re, rd) {
            (Ok(Some(1)), RedeemAnswer::NotValid { .. }) => {
                won_reissue += 1;
                assert_eq!(history[0].status, IssuanceStatus::Superseded);
                assert_eq!(history[1].status, IssuanceStatus::Active);
            }
            (Err(e), RedeemAnswer::Redeemed { issue_no: 1, .. }) => {
                won_redeem += 1;
                assert!(e.contains("linked to an online account"), "{e}");
                assert!(e.contains("unlink"), "{e}");
                assert_eq!(history.len(), 1, "a code was issued to a linked case");
                assert_eq!(history[0].status, IssuanceStatus::Redeemed);
            }
            other => panic!("receipt {n}: an answer pair that cannot both be true: {other:?}"),
        }
    }
    assert_eq!(won_redeem + won_reissue, TRIES);
}

#[test]
fn sqlite_random_mixes_keep_the_invariants_and_every_answer_true() {
    for seed in SEEDS {
        with_sqlite(|l, o| random_mixes(l, o, seed));
    }
}

#[test]
fn postgres_random_mixes_keep_the_invariants_and_every_answer_true() {
    for seed in SEEDS {
        with_postgres(&format!("races_mix_{seed}"), |l, o| {
            random_mixes(l, o, seed)
        });
    }
}

#[test]
fn sqlite_a_reissue_racing_a_redemption_never_links_two_accounts() {
    with_sqlite(reissue_against_redeem);
}

#[test]
fn postgres_a_reissue_racing_a_redemption_never_links_two_accounts() {
    with_postgres("races_reissue_redeem", reissue_against_redeem);
}
