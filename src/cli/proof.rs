//! `access-letters proof RECEIPT --png FILE`: a picture of an issued letter.
//!
//! Page 1 of the letter, rebuilt from the ledger as `reprint` rebuilds it and
//! drawn as a PNG with the code masked (`--show-code` shows it for letters
//! made with a test key only). See [`access_letters::picture`].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use access_letters::output::{write_atomic, Flush};
use access_letters::picture::{issued_picture, LedgerSource, PictureOptions};

use super::common::{display, parse_receipt, picture_flagged, EXIT_OK};
use super::inputs::CheckKeys;
use super::look::Look;
use super::place::Place;

/// Draw page 1 of an issued letter as a PNG picture, with the code masked.
#[derive(Args, Debug)]
pub struct ProofArgs {
    /// Receipt number.
    receipt: String,
    /// Issue number to draw [default: the active issuance].
    #[arg(long, value_name = "N")]
    issue: Option<u32>,
    /// Where to write the PNG.
    #[arg(long, value_name = "FILE")]
    png: PathBuf,
    /// Resolution in dots per inch (20 to 600) [default: 100].
    #[arg(long, value_name = "N")]
    dpi: Option<u32>,
    /// Show the access code instead of XXXX-XXXX-XXXX (letters made with a test key only).
    #[arg(long)]
    show_code: bool,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: CheckKeys,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: ProofArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let ledger = args.place.read_ledger_for_out()?;
    let keys = args.keys.load()?;
    let renderer = args.look.renderer()?;
    let options = PictureOptions::new(args.dpi, args.show_code);
    let source = LedgerSource {
        ledger: ledger.as_ref(),
        keys: &keys,
        renderer: &renderer,
    };
    let proof = issued_picture(&source, &receipt, args.issue, &options).map_err(picture_flagged)?;
    // Private like every letter: a proof with the code shown holds a code.
    write_atomic(&args.png, &proof.png, Flush::BeforeRename)
        .with_context(|| format!("writing the proof to {}", display(&args.png)))?;
    println!(
        "wrote {} (page 1 of {}, issue {} of {}, {}, {} dpi, code {})",
        display(&args.png),
        proof.piece_id,
        proof.issue_no,
        receipt,
        proof.status.as_str(),
        options.dpi,
        if options.show_code() {
            "shown"
        } else {
            "masked"
        }
    );
    Ok(EXIT_OK)
}
