//! `access-letters unlink RECEIPT --reason TEXT`: the desk removes a
//! receipt's account link, so that a new code may link the right account.
//! The rule is in [`access_letters::ops::unlink`].

use anyhow::Result;
use clap::Args;

use access_letters::ops::{unlink, Clock, UnlinkError, UnlinkRequest};

use super::common::*;

/// Remove a receipt's online-account link (exit 0 unlinked, 3 not linked).
#[derive(Args, Debug)]
pub struct UnlinkArgs {
    /// Receipt number.
    receipt: String,
    /// Why the link is removed (recorded in the ledger, shown by status).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    #[command(flatten)]
    place: Place,
}

pub fn execute(args: UnlinkArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let mut ledger = args.place.read_ledger_for_out()?;
    let request = UnlinkRequest {
        receipt: &receipt,
        reason: &args.reason,
        now: Clock::system().now,
    };
    match unlink(&request, ledger.as_mut()) {
        Ok(done) => {
            println!(
                "unlinked {receipt}: the account that redeemed letter issue {} is no longer linked (as of {} UTC); its code stays used; a new code may be sent with reissue",
                done.issue_no,
                done.at.format("%Y-%m-%d %H:%M:%S")
            );
            Ok(EXIT_OK)
        }
        Err(e @ UnlinkError::NotLinked { .. }) => {
            println!("{e}");
            Ok(EXIT_NOT_VALID)
        }
        Err(e @ (UnlinkError::NoReason | UnlinkError::ReasonTooLong { .. })) => {
            Err(flagged(e, "--reason"))
        }
        Err(e) => Err(e.into()),
    }
}
