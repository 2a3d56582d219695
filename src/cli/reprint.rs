//! `access-letters reprint RECEIPT`: the mailed letter again, byte for byte.
//!
//! The letter is rebuilt from the ledger (the filing as it was, the issue
//! number, notice date, key and barcode serial) and its SHA-256 compared with
//! the one recorded when it was mailed. Only an identical letter is written:
//! if templates or configuration have changed since, the reprint is refused
//! rather than mailing something that differs from the record.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use access_letters::batch::write_letter;
use access_letters::issue::{issue, IssueContext, Planned};
use access_letters::ledger::Ledger;
use access_letters::letter::NoticeDates;

use super::{display, parse_receipt, Keys, Look, Place, EXIT_OK};

/// Write the letter of an issuance again, identical to the one mailed.
#[derive(Args, Debug)]
pub struct ReprintArgs {
    /// Receipt number.
    receipt: String,
    /// Issue number to reprint [default: the active issuance].
    #[arg(long, value_name = "N")]
    issue: Option<u32>,
    /// Where to write the PDF [default: OUT/reprints/PIECE-ID.pdf].
    #[arg(long = "to", value_name = "FILE")]
    to: Option<PathBuf>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: Keys,
    #[command(flatten)]
    look: Look,
}

pub fn execute(args: ReprintArgs) -> Result<u8> {
    let receipt = parse_receipt(&args.receipt)?;
    let ledger = args.place.read_ledger()?;
    let ring = args.keys.load()?;
    let renderer = args.look.renderer()?;
    let history = ledger.history(&receipt)?;
    let chosen = match args.issue {
        Some(n) => history.iter().find(|i| i.issued.issue_no == n),
        None => history
            .iter()
            .find(|i| i.status == access_letters::filing::IssuanceStatus::Active),
    };
    let Some(iss) = chosen else {
        match args.issue {
            Some(n) => bail!("receipt {receipt} has no issue {n} in the ledger"),
            None if history.is_empty() => bail!("receipt {receipt} has never been issued a code"),
            None => bail!("receipt {receipt} has no active code; name one with --issue"),
        }
    };
    let Some(key) = ring.get(&iss.issued.key_id) else {
        bail!(
            "issue {} of {receipt} was made with key {}; pass that key file with --key or --old-key",
            iss.issued.issue_no,
            iss.issued.key_id
        );
    };
    let ctx = IssueContext {
        key,
        renderer: &renderer,
        batch_id: &iss.issued.batch_id,
        dates: NoticeDates {
            notice: iss.issued.notice_date,
            expires_on: iss.issued.expires_on,
        },
    };
    let (_, letter) = issue(
        &ctx,
        &Planned {
            filing: iss.issued.filing.clone(),
            issue_no: iss.issued.issue_no,
            serial: iss.issued.imb_serial,
        },
    )?;
    if letter.sha256 != iss.issued.letter_sha256 {
        bail!(
            "the letter rebuilt for {} differs from the one mailed (sha256 {} recorded, {} now): \
the templates, configuration or program changed since; nothing was written",
            iss.issued.piece_id,
            iss.issued.letter_sha256,
            letter.sha256
        );
    }
    let to = args.to.unwrap_or_else(|| {
        args.place
            .out
            .join("reprints")
            .join(format!("{}.pdf", iss.issued.piece_id))
    });
    write_letter(&to, &letter)
        .with_context(|| format!("writing the reprint to {}", display(&to)))?;
    println!(
        "reprinted {} (issue {} of {}, {}): identical to the letter mailed, sha256 {}",
        display(&to),
        iss.issued.issue_no,
        receipt,
        iss.status.as_str(),
        letter.sha256
    );
    Ok(EXIT_OK)
}
