//! `access-letters verify RECEIPT`: is a typed code good for a receipt? The
//! code is read from a prompt (echo off) or one line of stdin.
//!
//! Answers valid, mistyped, wrong code, superseded, revoked, expired or
//! unknown, in words a support agent can read to the caller; or "locked
//! until HH:MM UTC" once too many wrong codes were tried (exit 5). The typed
//! code is never printed back, nor stored.

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use access_letters::ops::{verify_code, Answer, Door, VerifyRequest};

use super::common::*;
use super::typed_code::read_code;

/// Check a typed access code against the ledger (exit 0 only when valid).
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Receipt number.
    receipt: String,
    /// The code, for tests only: normally it is read from a prompt (echo
    /// off) or one line of stdin, so it never shows in `ps` or history.
    #[arg(hide = true)]
    code: Option<String>,
    /// Check as of this date [default: today].
    #[arg(long = "date", alias = "batch-date", value_name = "YYYY-MM-DD", value_parser = date_arg)]
    date: Option<NaiveDate>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: CheckKeys,
    #[command(flatten)]
    limit: LimitConfig,
}

pub fn execute(args: VerifyArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let limit = args.limit.limit()?;
    let mut ledger = args.place.read_ledger()?;
    let ring = args.keys.load()?;
    let typed = read_code(args.code)?;
    let clock = args.limit.clock()?;
    let request = VerifyRequest {
        receipt: &receipt,
        typed: &typed,
        as_of: args.date.unwrap_or(clock.today),
        now: clock.now,
        limit,
        door: Door::Desk,
        guessing: None,
    };
    let answer = verify_code(&request, &ring, ledger.as_mut())?;
    let (max, minutes) = (limit.max_wrong, limit.window.num_minutes());
    match &answer {
        Answer::Locked { until } => println!(
            "{receipt}: locked until {} UTC: too many wrong codes were tried for this receipt, so no code is checked until then (the limit is {max} in {minutes} minutes)",
            until.format("%H:%M")
        ),
        Answer::Checked { verdict, locked_until: Some(until), .. } => println!(
            "{receipt}: {}; that was wrong code {max} of {max} in {minutes} minutes, so the receipt is now locked until {} UTC",
            verdict.message(),
            until.format("%H:%M")
        ),
        Answer::Checked { verdict, .. } => println!("{receipt}: {}", verdict.message()),
        // The service's answer only (this door keeps the receipt's limit).
        Answer::TooMany { until } => println!(
            "{receipt}: too many wrong codes from this asker; try again after {} UTC",
            until.format("%H:%M")
        ),
    }
    Ok(match answer {
        Answer::Locked { .. } | Answer::TooMany { .. } => EXIT_LOCKED,
        a if a.is_valid() => EXIT_OK,
        _ => EXIT_NOT_VALID,
    })
}
