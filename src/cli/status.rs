//! `access-letters status RECEIPT`: the issuance history of a receipt.
//!
//! Shows what the ledger knows (issue numbers, batches, dates, status, piece
//! IDs, keys, reasons). The ledger never holds a code, so neither does this.

use anyhow::Result;
use clap::Args;

use access_letters::filing::IssuanceStatus;
use access_letters::ledger::{AttemptLimit, AttemptSummary};
use access_letters::ops::Clock;

use super::common::*;

/// Show the issuance history of a receipt (never the code).
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Receipt number.
    receipt: String,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    limit: LimitConfig,
}

pub fn execute(args: StatusArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let ledger = args.place.read_ledger()?;
    let history = ledger.history(&receipt)?;
    let limit = args.limit.limit()?;
    let tries = ledger.attempt_summary(&receipt, Clock::system().now, limit)?;
    if history.is_empty() {
        println!("{receipt}: no code has been issued");
        print_attempts(&tries, limit);
        return Ok(EXIT_OK);
    }
    let first = &history[0].issued.filing;
    println!(
        "{receipt}: Form {}, {} ({})",
        first.form,
        first.full_name(),
        count(history.len() as u64, "issuance", "issuances")
    );
    println!(
        "{:<5} {:<10} {:<11} {:<11} {:<17} {:<36} {:<18} reason",
        "issue", "status", "notice", "expires", "piece", "batch", "key"
    );
    for i in &history {
        let reason = match (&i.issued.reason, i.issued.forced) {
            (Some(r), true) => format!("{r} (forced)"),
            (Some(r), false) => r.clone(),
            (None, _) => String::new(),
        };
        println!(
            "{:<5} {:<10} {:<11} {:<11} {:<17} {:<36} {:<18} {}",
            i.issued.issue_no,
            i.status.as_str(),
            i.issued.notice_date,
            i.issued.expires_on,
            i.issued.piece_id,
            i.issued.batch_id,
            i.issued.key_id,
            reason
        );
    }
    for i in &history {
        if let Some(r) = &i.redemption {
            println!(
                "issue {} redeemed at {} UTC: linked to an online account (the account is not shown)",
                i.issued.issue_no,
                r.at.format("%Y-%m-%d %H:%M:%S")
            );
        }
        if i.status == IssuanceStatus::Revoked {
            let at = i
                .status_changed_at
                .map(|t| format!(" at {} UTC", t.format("%Y-%m-%d %H:%M:%S")))
                .unwrap_or_default();
            let why = i.status_reason.as_deref().unwrap_or("no reason recorded");
            println!("issue {} revoked{at}: {why}", i.issued.issue_no);
        }
    }
    print_attempts(&tries, limit);
    Ok(EXIT_OK)
}

/// The wrong-code line, when `verify` was ever wrong or refused.
fn print_attempts(t: &AttemptSummary, limit: AttemptLimit) {
    if t.wrong_total + t.refused_total > 0 {
        println!("{}", t.describe(limit));
    }
}
