//! `access-letters reissue RECEIPT --reason TEXT`: a new code for a receipt;
//! the previous one stops working. The policy (how often, which dates) is
//! in [`access_letters::ops::reissue`].

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use access_letters::ops::{reissue, ReissueError, ReissueRequest};

use super::common::*;

/// Issue a new code for a receipt; the previous code stops working.
#[derive(Args, Debug)]
pub struct ReissueArgs {
    /// Receipt number.
    receipt: String,
    /// Why a new code is needed (recorded in the ledger).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Override the reissue policy and the date check (recorded with the reason).
    #[arg(long)]
    force: bool,
    /// Date printed on the new letter: today or tomorrow [default: today].
    #[arg(long = "date", alias = "batch-date", value_name = "YYYY-MM-DD", value_parser = date_arg)]
    date: Option<NaiveDate>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: NewKeys,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: ReissueArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let clock = args.look.clock()?;
    let (keys, renderer) = (args.keys.load()?, args.look.renderer()?);
    let mut opened = args.place.open_ledger_for_out()?;
    let request = ReissueRequest {
        receipt: &receipt,
        reason: &args.reason,
        force: args.force,
        batch_date: args.date.unwrap_or(clock.today),
        out_root: &args.place.out,
    };
    let done =
        reissue(&request, clock, &keys, &renderer, opened.ledger.as_mut()).map_err(with_flag)?;
    let previous = match done.superseded {
        Some(n) => format!("issue {n} is now superseded"),
        None => "no earlier code was active".into(),
    };
    println!(
        "reissued {receipt}: issue {}{}, letter {} ({}); {previous}",
        done.issue_no,
        if done.forced { " (forced)" } else { "" },
        done.piece_id,
        display(&done.batch_dir)
    );
    Ok(EXIT_OK)
}

/// The flag that changes the answer, before the library's sentence.
fn with_flag(e: ReissueError) -> anyhow::Error {
    match e {
        ReissueError::NoReason => flagged(e, "--reason"),
        ReissueError::TooSoon { .. } | ReissueError::TooMany { .. } => flagged(e, "--force"),
        ReissueError::Date(d) => date_flagged(d),
        e => e.into(),
    }
}
