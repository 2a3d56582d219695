//! `access-letters ingest acks|scans|returns FILE`: the vendor's
//! acknowledgements, USPS IV-MTR scans and returned mail into the ledger's
//! mail trail. The rules are in [`access_letters::ingest`].

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use access_letters::ingest::{ingest, IngestRequest};
use access_letters::ledger::{ImportKind, MailRecorded};
use access_letters::ops::Clock;

use super::common::*;
use super::look::agency_config;
use super::mail_reports::{after_mail_change, MailOutputs};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    /// The vendor's acknowledgements: piece_id,status,date (printed or mailed).
    Acks,
    /// USPS Informed Visibility (IV-MTR) piece scans, delimited with a header.
    Scans,
    /// Mail returned as undeliverable: piece_id (or imb),reason,date; stops the codes.
    Returns,
}

/// Record the mail trail from a vendor or USPS file (exit 0 recorded or
/// already imported, 2 recorded with some rows rejected).
#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Which file it is.
    #[arg(value_enum)]
    kind: Kind,
    /// The file.
    file: PathBuf,
    /// Agency configuration (TOML), for the mailer ID barcodes are matched by [default: the built-in templates/agency.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    outputs: MailOutputs,
}

pub fn execute(args: IngestArgs) -> Result<u8> {
    let config = agency_config(args.config.as_deref())?;
    let mut ledger = args.outputs.place.read_ledger_for_out()?;
    let kind = match args.kind {
        Kind::Acks => ImportKind::Acks,
        Kind::Scans => ImportKind::Scans,
        Kind::Returns => ImportKind::Returns,
    };
    let out_dir = args.outputs.place.out.join("ingest");
    let clock = Clock::in_zone(config.agency.time_zone);
    let request = IngestRequest {
        kind,
        path: &args.file,
        out_dir: &out_dir,
        mailer_id: config.mail.mailer_id(),
        now: clock.now,
        today: clock.today,
    };
    let report = ingest(&request, ledger.as_mut())?;
    println!("{}: {report}", display(&args.file));
    anyhow::ensure!(report.add_up(), "the counts do not add up: {report:?}");
    for line in report.details() {
        println!("  {line}");
    }
    let fresh = matches!(report.outcome, MailRecorded::Recorded { .. });
    after_mail_change(ledger.as_ref(), &args.outputs, &report.batches)?;
    Ok(if fresh && report.rejected > 0 {
        EXIT_REJECTS
    } else {
        EXIT_OK
    })
}
