//! `access-letters verify RECEIPT CODE`: is a typed code good for a receipt?
//!
//! Answers valid, mistyped, wrong code, superseded, revoked, expired or
//! unknown, in words a support agent can read to the caller. The typed code
//! is never printed back.

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use access_letters::code::verify;
use access_letters::ledger::Ledger;
use access_letters::ops::Clock;

use super::common::*;

/// Check a typed access code against the ledger (exit 0 only when valid).
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Receipt number.
    receipt: String,
    /// The code as typed (case, spaces and hyphens do not matter).
    code: String,
    /// Check as of this date [default: today].
    #[arg(long = "date", alias = "batch-date", value_name = "YYYY-MM-DD", value_parser = date_arg)]
    date: Option<NaiveDate>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: CheckKeys,
}

pub fn execute(args: VerifyArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let ledger = args.place.read_ledger()?;
    let ring = args.keys.load()?;
    let views: Vec<_> = ledger.history(&receipt)?.iter().map(|i| i.view()).collect();
    let as_of = args.date.unwrap_or_else(|| Clock::system().today);
    let verdict = verify(&ring, &receipt, &args.code, &views, as_of);
    println!("{receipt}: {}", verdict.message());
    Ok(if verdict.is_valid() {
        EXIT_OK
    } else {
        EXIT_NOT_VALID
    })
}
