//! `access-letters revoke RECEIPT --reason TEXT`: the live code stops
//! working at once (letter stolen, sent to a wrong address). The rule is in
//! [`access_letters::ops::revoke`].

use anyhow::Result;
use clap::Args;

use access_letters::ops::{revoke, Clock, RevokeError, RevokeRequest};

use super::common::*;

/// Cancel a receipt's live code at once (exit 0 revoked, 3 no live code to revoke).
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// Receipt number.
    receipt: String,
    /// Why the code is cancelled (recorded in the ledger).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    #[command(flatten)]
    place: Place,
}

pub fn execute(args: RevokeArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    // A stale ACCESS_LETTERS_LEDGER must not revoke in another ledger.
    let mut ledger = args.place.read_ledger_for_out()?;
    let request = RevokeRequest {
        receipt: &receipt,
        reason: &args.reason,
        now: Clock::system().now,
    };
    match revoke(&request, ledger.as_mut()) {
        Ok(done) => {
            println!(
                "revoked {receipt}: the code from letter issue {} stopped working at {} UTC; a new letter may be sent with reissue at once",
                done.issue_no,
                done.at.format("%Y-%m-%d %H:%M:%S")
            );
            Ok(EXIT_OK)
        }
        Err(e @ (RevokeError::NothingLive { .. } | RevokeError::NeverIssued { .. })) => {
            println!("{e}");
            Ok(EXIT_NOT_VALID)
        }
        Err(e @ (RevokeError::NoReason | RevokeError::ReasonTooLong { .. })) => {
            Err(flagged(e, "--reason"))
        }
        Err(e) => Err(e.into()),
    }
}
