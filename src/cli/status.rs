//! `access-letters status RECEIPT`: the issuance history of a receipt and
//! its mail trail; `status --mail`: the returns list and the pieces the
//! vendor has not acknowledged.
//!
//! Shows what the ledger knows (issue numbers, batches, dates, status, piece
//! IDs, keys, reasons, hand-offs, scans). The ledger never holds a code, so
//! neither does this.

use anyhow::Result;
use chrono::Duration;
use clap::{ArgGroup, Args};

use access_letters::ledger::{AttemptLimit, AttemptSummary, Ledger, MailEventKind};
use access_letters::ops::{audit::unfinished_issuances, history_table, mail_trail_lines, Clock};

use super::common::*;

/// How many unacknowledged pieces `status --mail` names one by one.
const UNACKNOWLEDGED_SHOWN: usize = 50;

/// Show a receipt's history and mail trail (never the code), or with
/// --mail the returns list and the pieces the vendor has not acknowledged.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("what").required(true).args(["receipt", "mail"])))]
pub struct StatusArgs {
    /// Receipt number.
    receipt: Option<String>,
    /// Instead of one receipt: letters returned and awaiting a new letter,
    /// pieces the vendor has not acknowledged within [vendor]
    /// ack_within_days, and the mail trail's totals.
    #[arg(long)]
    mail: bool,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    limit: LimitConfig,
}

pub fn execute(args: StatusArgs) -> Result<u8> {
    let ledger = args.place.read_ledger()?;
    let Some(receipt) = &args.receipt else {
        return mail_report(ledger.as_ref(), &args.limit);
    };
    let receipt = parse_receipt(receipt)?;
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
    for line in history_table(&history) {
        println!("{line}");
    }
    for line in history.iter().filter_map(|i| i.after_the_envelope()) {
        println!("{line}");
    }
    // Interrupted batches: codes live, letters not printed (nor mailed).
    for (n, batch) in unfinished_issuances(ledger.as_ref(), &history)? {
        println!("issue {n}: issued, not printed yet: batch {batch} was interrupted; run the batch again");
    }
    let trail = mail_trail_lines(ledger.as_ref(), &history)?;
    if !trail.is_empty() {
        println!("mail trail:");
        for line in trail {
            println!("  {line}");
        }
    }
    print_attempts(&tries, limit);
    Ok(EXIT_OK)
}

/// `status --mail`.
fn mail_report(ledger: &dyn Ledger, config: &LimitConfig) -> Result<u8> {
    let config = config.agency()?;
    let ack_days = config.vendor.as_ref().map_or(5, |v| v.ack_within_days);
    let now = Clock::system().now;
    let totals = ledger.mail_counts(None)?;
    println!(
        "mail trail: {} hand-offs to the vendor; pieces printed {}, mailed {}, accepted by USPS {}, delivered {}, returned {}; {} scans matched no letter of ours",
        totals.deliveries,
        totals.pieces(MailEventKind::Printed),
        totals.pieces(MailEventKind::Mailed),
        totals.pieces(MailEventKind::Accepted),
        totals.pieces(MailEventKind::Delivered),
        totals.pieces(MailEventKind::Returned),
        totals.unmatched_scans
    );
    let returns = ledger.returned_awaiting_reissue()?;
    println!(
        "returned, awaiting a new letter to a corrected address: {}",
        returns.len()
    );
    for i in &returns {
        let f = &i.issued.filing;
        println!(
            "  {} issue {} (piece {}): {}; was mailed to {}",
            i.issued.receipt,
            i.issued.issue_no,
            i.issued.piece_id,
            i.status_reason.as_deref().unwrap_or("returned"),
            f.address_lines().join(", ")
        );
    }
    let cutoff = now - Duration::days(i64::from(ack_days));
    let silent = ledger.unacknowledged(cutoff)?;
    println!(
        "delivered to the vendor over {ack_days} days ago and never acknowledged: {}",
        count(silent.len() as u64, "piece", "pieces")
    );
    for p in silent.iter().take(UNACKNOWLEDGED_SHOWN) {
        println!(
            "  {} ({} issue {}, batch {})",
            p.piece_id, p.receipt, p.issue_no, p.batch_id
        );
    }
    if silent.len() > UNACKNOWLEDGED_SHOWN {
        println!("  ... and {} more", silent.len() - UNACKNOWLEDGED_SHOWN);
    }
    Ok(EXIT_OK)
}

/// The wrong-code line, when `verify` was ever wrong or refused.
fn print_attempts(t: &AttemptSummary, limit: AttemptLimit) {
    if t.wrong_total + t.refused_total > 0 {
        println!("{}", t.describe(limit));
    }
}
