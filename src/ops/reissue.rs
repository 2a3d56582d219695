//! Reissue: a new code for a receipt; the previous one stops working.
//!
//! The next issue number gets a new code and letter; the previous issuance
//! is marked superseded in the same ledger transaction, so its code stops
//! working. The letter goes into a batch folder of its own
//! (`DATE-reissue-RECEIPT-NN`) with a one-row manifest and batch.json, ready
//! for the mail vendor.
//!
//! Policy, so a receipt cannot be flooded with letters: at most
//! [`MAX_LETTERS_PER_WINDOW`] letters in [`POLICY_WINDOW_DAYS`] days and none
//! within [`MIN_HOURS_BETWEEN_LETTERS`] hours of the previous one, unless
//! forced, which is recorded with the reason. The policy counts real time,
//! from the ledger's audit timestamps and the clock, never from a date the
//! operator types; and the notice dates of one receipt never go backwards,
//! forced or not.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::batch::next_serial;
use crate::batch::{complete, write_letter, write_plain_report, BatchError, Written};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::issue::{issue, IssueContext, IssueError, Planned};
use crate::key::KeyRing;
use crate::ledger::{BatchKind, BatchRecord, Issuance, Ledger, LedgerError, Sha256Hex};
use crate::letter::NoticeDates;
use crate::manifest::{letter_file, Counts};
use crate::render::Renderer;

use super::dates::{check_reissue_date, Clock, DateError};

pub const MAX_LETTERS_PER_WINDOW: usize = 4;
pub const POLICY_WINDOW_DAYS: i64 = 30;
pub const MIN_HOURS_BETWEEN_LETTERS: i64 = 24;

/// What the operator asked for.
#[derive(Clone, Copy, Debug)]
pub struct ReissueRequest<'a> {
    pub receipt: &'a ReceiptNumber,
    /// Why a new code is needed (recorded in the ledger).
    pub reason: &'a str,
    /// Override the policy (recorded with the reason).
    pub force: bool,
    /// The date printed on the new letter.
    pub batch_date: NaiveDate,
    /// Folder for batch folders.
    pub out_root: &'a Path,
}

/// What was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reissued {
    pub issue_no: u32,
    pub piece_id: String,
    pub batch_dir: PathBuf,
    pub forced: bool,
    /// The issue number that was active and is now superseded.
    pub superseded: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReissueError {
    #[error("the reason must say why a new code is needed")]
    NoReason,
    #[error(
        "receipt {receipt} has never been issued a code; the nightly run issues the first one"
    )]
    NeverIssued { receipt: ReceiptNumber },
    #[error(transparent)]
    Date(#[from] DateError),
    #[error(
        "receipt {receipt} already has a letter dated {latest}; a new letter cannot carry the \
earlier date {requested} (notice dates never go backwards)"
    )]
    NoticeGoesBack {
        receipt: ReceiptNumber,
        latest: NaiveDate,
        requested: NaiveDate,
    },
    #[error(
        "receipt {receipt} had a letter recorded at {}, less than {MIN_HOURS_BETWEEN_LETTERS} \
hours ago; wait at least a day between letters, or force it (recorded as forced)",
        at.format("%Y-%m-%d %H:%M UTC")
    )]
    TooSoon {
        receipt: ReceiptNumber,
        at: DateTime<Utc>,
    },
    #[error(
        "receipt {receipt} already had {recent} letters in the last {POLICY_WINDOW_DAYS} days \
(at most {MAX_LETTERS_PER_WINDOW}); force it if it must go out (recorded as forced)"
    )]
    TooMany {
        receipt: ReceiptNumber,
        recent: usize,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    Batch(#[from] BatchError),
}

/// Issues the next code for `req.receipt` under the ring's current key,
/// writes its letter and one-row batch, and supersedes the active code.
/// The caller holds the ledger lock.
pub fn reissue(
    req: &ReissueRequest<'_>,
    clock: Clock,
    keys: &KeyRing,
    renderer: &Renderer,
    ledger: &mut dyn Ledger,
) -> Result<Reissued, ReissueError> {
    let receipt = req.receipt;
    let reason = req.reason.trim();
    let history = ledger.history(receipt)?;
    let latest = check_request(req, clock, &history)?;
    let issue_no = latest.issued.issue_no + 1;
    let serial = next_serial(&renderer.config.mail, &*ledger)?;
    let key = keys.current();
    let record = batch_record(req, issue_no, reason, key);
    let batch_dir = req.out_root.join(&record.batch_id);
    ledger.start_batch(&record)?;
    let ctx = IssueContext {
        key,
        renderer,
        batch_id: &record.batch_id,
        dates: NoticeDates::new(req.batch_date, renderer.config.codes.valid_days),
    };
    let planned = Planned {
        filing: latest.issued.filing.clone(),
        issue_no,
        serial,
    };
    let (mut row, letter) = issue(&ctx, &planned)?;
    row.reason = Some(reason.to_string());
    row.forced = req.force;
    let letter_path = batch_dir.join(letter_file(&row.piece_id));
    write_letter(&letter_path, &letter)?;
    // What the operator is told is what this transaction decided: never a
    // supersession read before it.
    let superseded = match ledger.supersede_and_record(&row) {
        Ok(superseded) => superseded,
        // Refused by a rule, so certainly not recorded: the letter drawn
        // for it must not lie about. After any other failure the ledger may
        // hold it (a commit whose answer was lost), so its letter stays for
        // the re-run to find.
        Err(e) if e.refused_by_a_rule() => {
            let _ = std::fs::remove_file(&letter_path);
            let _ = std::fs::remove_dir(&batch_dir);
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let counts = Counts {
        read: 1,
        issued: 1,
        already_issued: 0,
        rejected: 0,
    };
    complete(
        &record,
        ("", counts),
        &batch_dir,
        ledger,
        renderer,
        Written::pieces(),
    )?;
    // The page for people comes last: it is made from the files above.
    write_plain_report(&batch_dir)?;
    Ok(Reissued {
        issue_no,
        piece_id: row.piece_id,
        batch_dir,
        forced: req.force,
        superseded,
    })
}

/// The issuance that links the receipt to an account, if one does.
fn linked(history: &[Issuance]) -> Option<(u32, &crate::ledger::Redemption)> {
    history.iter().find_map(|i| {
        i.redemption
            .as_ref()
            .filter(|r| r.unlinked.is_none())
            .map(|r| (i.issued.issue_no, r))
    })
}

/// The checks made before a letter is drawn: a reason, the date, a
/// receipt issued before and not linked, the notice order, the policy.
/// Returns the latest issuance. The ledger decides the link again inside
/// the transaction that records the reissue.
fn check_request<'h>(
    req: &ReissueRequest<'_>,
    clock: Clock,
    history: &'h [Issuance],
) -> Result<&'h Issuance, ReissueError> {
    let receipt = req.receipt;
    if req.reason.trim().is_empty() {
        return Err(ReissueError::NoReason);
    }
    check_reissue_date(req.batch_date, clock.today, req.force)?;
    let Some(latest) = history.last() else {
        return Err(ReissueError::NeverIssued {
            receipt: receipt.clone(),
        });
    };
    check_notice_order(receipt, history, req.batch_date)?;
    if let Some((issue_no, r)) = linked(history) {
        return Err(LedgerError::Linked {
            receipt: receipt.clone(),
            issue_no,
            at: r.at,
        }
        .into());
    }
    if !req.force {
        check_policy(receipt, history, clock.now)?;
    }
    Ok(latest)
}

/// The batch of one reissue: its id names the date, receipt and issue; its
/// input hash is a hash of the request, so the same request continues the
/// same batch after a crash and a different one is refused.
fn batch_record(
    req: &ReissueRequest<'_>,
    issue_no: u32,
    reason: &str,
    key: &crate::key::Key,
) -> BatchRecord {
    let receipt = req.receipt;
    let batch_id = format!(
        "{}-reissue-{}-{:02}",
        req.batch_date.format("%Y-%m-%d"),
        receipt,
        issue_no
    );
    let request = format!("reissue\0{receipt}\0{issue_no}\0{reason}\0{}", req.force);
    BatchRecord {
        batch_id,
        batch_date: req.batch_date,
        key_id: key.id().to_string(),
        mode: key.mode(),
        input_sha256: Sha256Hex::of(request.as_bytes()),
        kind: BatchKind::Reissue,
    }
}

/// The new letter's date is not before any earlier letter of the receipt,
/// so the active letter always carries the latest notice date.
fn check_notice_order(
    receipt: &ReceiptNumber,
    history: &[Issuance],
    date: NaiveDate,
) -> Result<(), ReissueError> {
    match history.iter().map(|i| i.issued.notice_date).max() {
        Some(latest) if latest > date => Err(ReissueError::NoticeGoesBack {
            receipt: receipt.clone(),
            latest,
            requested: date,
        }),
        _ => Ok(()),
    }
}

/// The flood policy, in real time: when each letter was recorded. A
/// revoked or returned last letter lifts the wait between letters: it no
/// longer works, so the new one is the only live code.
fn check_policy(
    receipt: &ReceiptNumber,
    history: &[Issuance],
    now: DateTime<Utc>,
) -> Result<(), ReissueError> {
    let last_revoked = history
        .last()
        .is_some_and(|i| matches!(i.status, IssuanceStatus::Revoked | IssuanceStatus::Returned));
    let too_soon = history
        .iter()
        .map(|i| i.recorded_at)
        .filter(|t| now - *t < Duration::hours(MIN_HOURS_BETWEEN_LETTERS))
        .max();
    if let (Some(at), false) = (too_soon, last_revoked) {
        return Err(ReissueError::TooSoon {
            receipt: receipt.clone(),
            at,
        });
    }
    let window_start = now - Duration::days(POLICY_WINDOW_DAYS);
    let recent = history
        .iter()
        .filter(|i| i.recorded_at > window_start)
        .count();
    if recent >= MAX_LETTERS_PER_WINDOW {
        return Err(ReissueError::TooMany {
            receipt: receipt.clone(),
            recent,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::filing::Filing;
    use crate::intake::{Intake, Outcome};
    use crate::ledger::prelude::*;
    use crate::ledger::SqliteLedger;
    use crate::letter::Templates;
    use crate::ops::builtin_test_key;

    /// When the ledger records the nightly letter.
    fn recorded() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T03:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    fn fixture_filing() -> Filing {
        let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/filings.csv");
        Intake::open(&csv, date("2026-11-25"), crate::address::DEFAULT_WINDOW_FIT)
            .expect("the fixtures open")
            .find_map(|o| match o.expect("a row") {
                Outcome::Valid(f) => Some(f),
                Outcome::Rejected(_) => None,
            })
            .expect("a valid row")
    }

    /// A ledger holding issue 1 of one receipt, recorded at [`recorded`].
    fn nightly(keys: &KeyRing, renderer: &Renderer) -> (SqliteLedger, ReceiptNumber) {
        let mut ledger = SqliteLedger::open_in_memory()
            .expect("a ledger")
            .with_clock(recorded);
        let record = BatchRecord {
            batch_id: "2026-11-25-000000".into(),
            batch_date: date("2026-11-25"),
            key_id: keys.current().id().into(),
            mode: crate::key::KeyMode::Test,
            input_sha256: crate::ledger::Sha256Hex::of(b"nightly"),
            kind: BatchKind::Nightly,
        };
        ledger.start_batch(&record).expect("a batch");
        let ctx = IssueContext {
            key: keys.current(),
            renderer,
            batch_id: &record.batch_id,
            dates: NoticeDates::new(record.batch_date, 90),
        };
        let filing = fixture_filing();
        let receipt = filing.receipt.clone();
        let planned = Planned {
            filing,
            issue_no: 1,
            serial: None,
        };
        let (row, _) = issue(&ctx, &planned).expect("issued");
        ledger.record(&[row]).expect("recorded");
        (ledger, receipt)
    }

    fn clock(hours_after_recorded: i64) -> Clock {
        let now = recorded() + Duration::hours(hours_after_recorded);
        Clock {
            now,
            today: now.date_naive(),
        }
    }

    #[test]
    fn the_policy_counts_real_time_not_the_date_typed() {
        let keys = KeyRing::single(builtin_test_key());
        let renderer = Renderer::new(Templates::builtin(), Config::default_config());
        let (mut ledger, receipt) = nightly(&keys, &renderer);
        let out = tempfile::tempdir().expect("a folder");
        let request = |batch_date, force| ReissueRequest {
            receipt: &receipt,
            reason: "lost",
            force,
            batch_date,
            out_root: out.path(),
        };
        // An hour later, dated tomorrow: too soon whatever the date says.
        let soon = reissue(
            &request(date("2026-11-26"), false),
            clock(1),
            &keys,
            &renderer,
            &mut ledger,
        );
        assert!(
            matches!(soon, Err(ReissueError::TooSoon { .. })),
            "{soon:?}"
        );
        // Dated ten days ahead: refused for the date.
        let ahead = reissue(
            &request(date("2026-12-05"), false),
            clock(25),
            &keys,
            &renderer,
            &mut ledger,
        );
        assert!(matches!(ahead, Err(ReissueError::Date(_))), "{ahead:?}");
        // A day later, dated today: it goes out and supersedes issue 1.
        let done = reissue(
            &request(date("2026-11-26"), false),
            clock(25),
            &keys,
            &renderer,
            &mut ledger,
        )
        .expect("reissued");
        assert_eq!(
            (done.issue_no, done.superseded, done.forced),
            (2, Some(1), false)
        );
        assert!(done
            .batch_dir
            .ends_with(format!("2026-11-26-reissue-{receipt}-02")));
        // Dated before the active letter: refused even when forced.
        let back = reissue(
            &request(date("2026-11-25"), true),
            clock(60),
            &keys,
            &renderer,
            &mut ledger,
        );
        assert!(
            matches!(back, Err(ReissueError::NoticeGoesBack { .. })),
            "{back:?}"
        );
    }
}
