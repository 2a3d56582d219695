//! `access-letters status RECEIPT`: the issuance history of a receipt and
//! its mail trail; `status --mail`: the returns list and the pieces the
//! vendor has not acknowledged.
//!
//! Shows what the ledger knows (issue numbers, batches, dates, status, piece
//! IDs, keys, reasons, hand-offs, scans). The ledger never holds a code, so
//! neither does this.

use anyhow::Result;
use clap::{ArgGroup, Args};

use access_letters::config::DEFAULT_ACK_WITHIN_DAYS;
use access_letters::ledger::Ledger;
use access_letters::ops::status::mail_report_lines;
use access_letters::ops::{receipt_history, Clock};

use super::common::*;
use super::look::agency_config;

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
    let limits = (args.limit.limit()?, args.limit.guess_limit()?);
    let now = Clock::system().now;
    for line in receipt_history(ledger.as_ref(), &receipt, now, limits)?.lines() {
        println!("{line}");
    }
    Ok(EXIT_OK)
}

/// `status --mail`.
fn mail_report(ledger: &dyn Ledger, config: &LimitConfig) -> Result<u8> {
    let ack_days = agency_config(config.config.as_deref())?
        .vendor
        .map_or(DEFAULT_ACK_WITHIN_DAYS, |v| v.ack_within_days);
    let guess = config.guess_limit()?;
    for line in mail_report_lines(ledger, Clock::system().now, (ack_days, guess))? {
        println!("{line}");
    }
    Ok(EXIT_OK)
}
