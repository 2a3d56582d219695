//! `access-letters reissue RECEIPT --reason TEXT`: a new code for a receipt.
//!
//! The next issue number gets a new code and letter; the previous issuance
//! is marked superseded in the same ledger transaction, so its code stops
//! working. The letter goes into a batch folder of its own with a one-row
//! manifest and batch.json, ready for the mail vendor.
//!
//! Policy, so a receipt cannot be flooded with letters: at most
//! [`MAX_LETTERS_PER_WINDOW`] letters in [`POLICY_WINDOW_DAYS`] days and none
//! on the same day as the previous one, unless `--force`, which is recorded
//! with the reason.

use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args;
use sha2::{Digest, Sha256};

use access_letters::batch::{complete, next_serial, write_letter};
use access_letters::filing::IssuanceStatus;
use access_letters::issue::{issue, IssueContext, Planned};
use access_letters::ledger::{BatchKind, BatchRecord, Ledger};
use access_letters::letter::NoticeDates;
use access_letters::manifest::{letter_file, Counts};

use super::{display, parse_receipt, today, Keys, Look, Place, EXIT_OK};

pub const MAX_LETTERS_PER_WINDOW: usize = 4;
pub const POLICY_WINDOW_DAYS: u64 = 30;

/// Issue a new code for a receipt; the previous code stops working.
#[derive(Args, Debug)]
pub struct ReissueArgs {
    /// Receipt number.
    receipt: String,
    /// Why a new code is needed (recorded in the ledger).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Override the reissue policy (recorded with the reason).
    #[arg(long)]
    force: bool,
    /// Date printed on the new letter [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    batch_date: Option<NaiveDate>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: Keys,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: ReissueArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let reason = args.reason.trim();
    if reason.is_empty() {
        bail!("--reason must say why a new code is needed");
    }
    let date = args.batch_date.unwrap_or_else(today);
    let ring = args.keys.load()?;
    let key = ring.current();
    let renderer = args.look.renderer()?;
    let (_lock, mut ledger) = args.place.open_ledger()?;
    let history = ledger.history(&receipt)?;
    let Some(latest) = history.last() else {
        bail!(
            "receipt {receipt} has never been issued a code; the nightly run issues the first one"
        );
    };
    if !args.force {
        if let Some(last) = history.iter().map(|i| i.issued.notice_date).max() {
            if last >= date {
                bail!(
                    "receipt {receipt} already had a letter dated {last}; wait at least a day between letters, or use --force"
                );
            }
        }
        let window_start = date - chrono::Days::new(POLICY_WINDOW_DAYS);
        let recent = history
            .iter()
            .filter(|i| i.issued.notice_date > window_start)
            .count();
        if recent >= MAX_LETTERS_PER_WINDOW {
            bail!(
                "receipt {receipt} already had {recent} letters in the last {POLICY_WINDOW_DAYS} days (at most {MAX_LETTERS_PER_WINDOW}); use --force if it must go out"
            );
        }
    }
    let issue_no = latest.issued.issue_no + 1;
    let serial = next_serial(&renderer.config.mail, &ledger)?;
    let batch_id = format!(
        "{}-reissue-{}-{:02}",
        date.format("%Y-%m-%d"),
        receipt,
        issue_no
    );
    let batch_dir = args.place.out.join(&batch_id);
    let request = format!("reissue\0{receipt}\0{issue_no}\0{reason}\0{}", args.force);
    let record = BatchRecord {
        batch_id: batch_id.clone(),
        batch_date: date,
        key_id: key.id().to_string(),
        is_test: key.is_test(),
        input_sha256: hex::encode(Sha256::digest(request.as_bytes())),
        kind: BatchKind::Reissue,
    };
    ledger.start_batch(&record)?;
    let ctx = IssueContext {
        key,
        renderer: &renderer,
        batch_id: &batch_id,
        dates: NoticeDates::new(date, renderer.config.codes.valid_days),
    };
    let planned = Planned {
        filing: latest.issued.filing.clone(),
        issue_no,
        serial,
    };
    let (mut row, letter) = issue(&ctx, &planned)?;
    row.reason = Some(reason.to_string());
    row.forced = args.force;
    write_letter(&batch_dir.join(letter_file(&row.piece_id)), &letter)?;
    ledger.supersede_and_record(&row)?;
    let counts = Counts {
        read: 1,
        issued: 1,
        already_issued: 0,
        rejected: 0,
    };
    complete(&record, "", counts, &batch_dir, &mut ledger, &renderer)?;
    let previous = history
        .iter()
        .filter(|i| i.status == IssuanceStatus::Active)
        .map(|i| format!("issue {} is now superseded", i.issued.issue_no))
        .next()
        .unwrap_or_else(|| "no earlier code was active".into());
    println!(
        "reissued {receipt}: issue {issue_no}{}, letter {} ({}); {previous}",
        if args.force { " (forced)" } else { "" },
        row.piece_id,
        display(&batch_dir)
    );
    Ok(EXIT_OK)
}
