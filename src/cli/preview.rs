//! `access-letters preview`: one letter for template authors, no ledger.
//!
//! Renders the letter a filing row would get, with the test key only, so a
//! preview can never reveal a code that will really be mailed.

use std::path::PathBuf;

use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args;

use access_letters::code::derive;
use access_letters::intake::{Intake, Outcome};
use access_letters::issue::barcode;
use access_letters::key::Key;
use access_letters::letter::NoticeDates;
use access_letters::proof::{letter_png, ProofOptions};
use access_letters::render::LetterJob;

use super::{display, parse_receipt, today, Look};

/// Render one filing's letter to a file, without touching the ledger (test key only).
#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// Filings CSV holding the row.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Receipt number of the row to render.
    #[arg(long, value_name = "RECEIPT")]
    receipt: String,
    /// Where to write the PDF.
    #[arg(long, value_name = "FILE", required_unless_present = "png")]
    out: Option<PathBuf>,
    /// Also (or instead) write page 1 as a PNG picture, the code masked.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Resolution of the PNG in dots per inch (20 to 600) [default: 100].
    #[arg(long, value_name = "N", requires = "png")]
    dpi: Option<u32>,
    /// Show the test code in the PNG instead of XXXX-XXXX-XXXX.
    #[arg(long, requires = "png")]
    show_code: bool,
    /// Date printed on the letter [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    batch_date: Option<NaiveDate>,
    /// Test key file (a production key is refused).
    #[arg(long, value_name = "FILE", default_value = "fixtures/test.key")]
    key: PathBuf,
    /// Intelligent Mail serial number to print (needs a mailer ID in the configuration).
    #[arg(long, value_name = "N")]
    serial: Option<u64>,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: PreviewArgs) -> Result<u8> {
    let key = Key::load(&args.key)?;
    if !key.is_test() {
        bail!(
            "preview renders with a test key only, so it never shows a code that will be mailed; {} holds key {}",
            display(&args.key),
            key.id()
        );
    }
    let receipt = parse_receipt(&args.receipt)?;
    let batch_date = args.batch_date.unwrap_or_else(today);
    let renderer = args.look.renderer()?;
    let mut found = None;
    for outcome in Intake::open(&args.input, batch_date)? {
        match outcome? {
            Outcome::Valid(f) if f.receipt == receipt => {
                found = Some(f);
                break;
            }
            Outcome::Rejected(r)
                if r.receipt_number
                    .as_deref()
                    .map(parse_receipt)
                    .and_then(Result::ok)
                    == Some(receipt.clone()) =>
            {
                bail!(
                    "line {}: the row for {} is rejected: {}: {}",
                    r.line,
                    receipt,
                    r.field,
                    r.reason
                );
            }
            _ => {}
        }
    }
    let Some(filing) = found else {
        bail!("receipt {} is not in {}", receipt, display(&args.input));
    };
    let code = derive(&key, &filing.receipt, 1);
    let serial = args
        .serial
        .or(Some(0))
        .filter(|_| renderer.config.mail.mailer_id().is_some());
    let barcode = barcode(&renderer.config.mail, serial, &filing)?;
    let job = LetterJob {
        filing: &filing,
        issue_no: 1,
        code: &code,
        dates: NoticeDates::new(batch_date, renderer.config.codes.valid_days),
        barcode: barcode.as_ref(),
        specimen: true,
    };
    if let Some(png) = &args.png {
        let options = ProofOptions::new(args.dpi, args.show_code);
        let bytes = letter_png(&renderer, &key, &job, &options)?;
        access_letters::output::write_atomic(png, &bytes, true)?;
        println!("wrote {} (page 1, {} dpi)", display(png), options.dpi);
    }
    let Some(out) = &args.out else {
        return Ok(0);
    };
    let letter = renderer.render(&job)?;
    // Private like every letter, although a preview only ever holds a test code.
    access_letters::output::write_atomic(out, &letter.bytes, true)?;
    println!(
        "wrote {} ({} page{}, {} bytes, sha256 {})",
        display(out),
        letter.pages,
        if letter.pages == 1 { "" } else { "s" },
        letter.bytes.len(),
        letter.sha256
    );
    Ok(0)
}
