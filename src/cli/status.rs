//! `access-letters status RECEIPT`: the issuance history of a receipt.
//!
//! Shows what the ledger knows (issue numbers, batches, dates, status, piece
//! IDs, keys, reasons). The ledger never holds a code, so neither does this.

use anyhow::Result;
use clap::Args;

use access_letters::ledger::{AttemptLimit, AttemptSummary};
use access_letters::ops::{audit::unfinished_issuances, history_table, Clock};

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
    print_attempts(&tries, limit);
    Ok(EXIT_OK)
}

/// The wrong-code line, when `verify` was ever wrong or refused.
fn print_attempts(t: &AttemptSummary, limit: AttemptLimit) {
    if t.wrong_total + t.refused_total > 0 {
        println!("{}", t.describe(limit));
    }
}
