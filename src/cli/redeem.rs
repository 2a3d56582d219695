//! `access-letters redeem RECEIPT --account REF`: the one use of a code.
//!
//! The code is read from a prompt (echo off) or from standard input, never
//! from the command line. The rule is in [`access_letters::ops::redeem`].

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use access_letters::ops::{redeem, AccountRef, Door, RedeemAnswer, RedeemRequest};

use super::common::*;
use super::typed_code::read_code;

/// Use a code once: link the case to one account (exit 0 redeemed, 3 not valid, 5 locked, 6 used by another account).
#[derive(Args, Debug)]
pub struct RedeemArgs {
    /// Receipt number.
    receipt: String,
    /// The portal's id of the account (1-64 printable ASCII characters); never logged.
    #[arg(long, value_name = "REF")]
    account: String,
    /// The code, for tests only: normally it is read from a prompt or stdin.
    #[arg(hide = true)]
    code: Option<String>,
    /// Check as of this date [default: today].
    #[arg(long = "date", value_name = "YYYY-MM-DD", value_parser = date_arg)]
    date: Option<NaiveDate>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: CheckKeys,
    #[command(flatten)]
    limit: LimitConfig,
}

pub fn execute(args: RedeemArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let account = AccountRef::parse(&args.account)?;
    let limit = args.limit.limit()?;
    let mut ledger = args.place.read_ledger()?;
    let ring = args.keys.load()?;
    let typed = read_code(args.code)?;
    let clock = args.limit.clock()?;
    let request = RedeemRequest {
        receipt: &receipt,
        typed: &typed,
        account: &account,
        as_of: args.date.unwrap_or(clock.today),
        now: clock.now,
        limit,
        door: Door::Desk,
        guessing: None,
    };
    let answer = redeem(&request, &ring, ledger.as_mut())?;
    let locked = match &answer {
        RedeemAnswer::UsedByAnother {
            locked_until: Some(until),
            ..
        }
        | RedeemAnswer::NotValid {
            locked_until: Some(until),
            ..
        } => format!(
            "; that was wrong code {max} of {max} in {minutes} minutes, so the receipt is now locked until {} UTC",
            until.format("%H:%M"),
            max = limit.max_wrong,
            minutes = limit.window.num_minutes()
        ),
        _ => String::new(),
    };
    println!("{receipt}: {}{locked}", answer.message());
    Ok(match answer {
        RedeemAnswer::Redeemed { .. } => EXIT_OK,
        RedeemAnswer::UsedByAnother { .. } => EXIT_USED,
        RedeemAnswer::NotValid { .. } => EXIT_NOT_VALID,
        RedeemAnswer::Locked { .. } | RedeemAnswer::TooMany { .. } => EXIT_LOCKED,
    })
}
