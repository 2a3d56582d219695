//! `access-letters reprint RECEIPT`: the mailed letter again, byte for byte,
//! or nothing (see [`access_letters::ops::reprint`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::ops::{reprint, ReprintRequest};

use super::common::*;

/// Write the letter of an issuance again, identical to the one mailed.
#[derive(Args, Debug)]
pub struct ReprintArgs {
    /// Receipt number.
    receipt: String,
    /// Issue number to reprint [default: the active issuance].
    #[arg(long, value_name = "N")]
    issue: Option<u32>,
    /// Where to write the PDF [default: OUT/reprints/PIECE-ID.pdf].
    #[arg(long, value_name = "FILE")]
    to: Option<PathBuf>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: CheckKeys,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: ReprintArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let ledger = args.place.read_ledger_for_out()?;
    let (keys, renderer) = (args.keys.load()?, args.look.renderer()?);
    let request = ReprintRequest {
        receipt: &receipt,
        issue: args.issue,
        to: args.to.as_deref(),
        out_root: &args.place.out,
    };
    let done = reprint(&request, &keys, &renderer, ledger.as_ref()).map_err(reprint_flagged)?;
    let proof = match &done.printed_digest {
        Some(d) => format!("the letter printed: same page content, digest {d}"),
        None => format!("identical to the letter mailed, sha256 {}", done.sha256),
    };
    let (path, issue, status) = (display(&done.path), done.issue_no, done.status.as_str());
    println!("reprinted {path} (issue {issue} of {receipt}, {status}): {proof}");
    Ok(EXIT_OK)
}
