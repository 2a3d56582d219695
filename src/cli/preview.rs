//! `access-letters preview`: one letter for template authors, no ledger,
//! test key only (see [`access_letters::ops::preview`]).

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;

use access_letters::ops::{preview, Clock, PreviewRequest};
use access_letters::picture::PictureOptions;

use super::common::*;

/// Render one filing's letter to a file, without touching the ledger (test key only). Needs --to FILE (the PDF), --png FILE (page 1 as a picture), or both.
#[derive(Args, Debug)]
#[command(group(
    clap::ArgGroup::new("written").required(true).multiple(true).args(["to", "png"])
))]
pub struct PreviewArgs {
    /// Filings CSV holding the row.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Receipt number of the row to render.
    #[arg(long, value_name = "RECEIPT")]
    receipt: String,
    /// Where to write the PDF (this, --png, or both).
    #[arg(long, alias = "out", value_name = "FILE")]
    to: Option<PathBuf>,
    /// Write page 1 as a PNG picture, the code masked as XXXX-XXXX-XXXX (this, --to, or both).
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Resolution of the PNG in dots per inch (20 to 600) [default: 100].
    #[arg(long, value_name = "N", requires = "png")]
    dpi: Option<u32>,
    /// Show the test code in the PNG.
    #[arg(long, requires = "png")]
    show_code: bool,
    /// Date printed on the letter [default: today].
    #[arg(long = "date", alias = "batch-date", value_name = "YYYY-MM-DD", value_parser = date_arg)]
    date: Option<NaiveDate>,
    /// Test key file (a production key is refused) [default: the built-in test key].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Intelligent Mail serial number to print (needs a mailer ID in the configuration).
    #[arg(long, value_name = "N")]
    serial: Option<u64>,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: PreviewArgs) -> Result<u8> {
    let key = load_key(args.key.as_deref())?;
    let receipt = parse_receipt(&args.receipt)?;
    let renderer = args.look.renderer()?;
    let request = PreviewRequest {
        input: &args.input,
        receipt: &receipt,
        batch_date: (args.date).unwrap_or(Clock::in_zone(renderer.config.agency.time_zone).today),
        serial: args.serial,
        to: args.to.as_deref(),
        png: (args.png.as_deref()).map(|p| (p, PictureOptions::new(args.dpi, args.show_code))),
    };
    let done = preview(&request, &key, &renderer).map_err(preview_flagged)?;
    if let Some(png) = &args.png {
        println!("wrote {} (page 1)", display(png));
    }
    if let Some(to) = &args.to {
        let (pages, bytes) = (done.pages.into(), done.bytes as u64);
        let (pages, bytes) = (count(pages, "page", "pages"), count(bytes, "byte", "bytes"));
        println!(
            "wrote {} ({pages}, {bytes}, sha256 {})",
            display(to),
            done.sha256
        );
    }
    Ok(EXIT_OK)
}
