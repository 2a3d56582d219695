//! `access-letters ingest acks|scans|returns FILE`: the vendor's
//! acknowledgements, USPS IV-MTR scans and returned mail into the ledger's
//! mail trail. The rules are in [`access_letters::ingest`].

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use access_letters::ingest::{ingest, stopped_receipts, IngestRequest};
use access_letters::ledger::Ledger;
use access_letters::ledger::{ImportKind, MailRecorded};
use access_letters::ops::Clock;
use access_letters::report::{update_mail_trail, MailTrail};

use super::common::*;
use super::look::agency_config;
use super::metrics_file::write_mail_metrics;

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
    /// Also write the ledger's mail trail here (Prometheus text format, for
    /// node_exporter; a file of its own, not run's).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    #[command(flatten)]
    place: Place,
}

pub fn execute(args: IngestArgs) -> Result<u8> {
    let config = agency_config(args.config.as_deref())?;
    let mut ledger = args.place.read_ledger_for_out()?;
    let kind = match args.kind {
        Kind::Acks => ImportKind::Acks,
        Kind::Scans => ImportKind::Scans,
        Kind::Returns => ImportKind::Returns,
    };
    let out_dir = args.place.out.join("ingest");
    let request = IngestRequest {
        kind,
        path: &args.file,
        out_dir: &out_dir,
        mailer_id: config.mail.mailer_id(),
        now: Clock::system().now,
    };
    let report = ingest(&request, ledger.as_mut())?;
    println!("{}: {report}", display(&args.file));
    if !report.add_up() {
        anyhow::bail!(
            "the counts do not add up: {} rows, {} events, {} rejected, {} unmatched",
            report.rows,
            report.events,
            report.rejected,
            report.unmatched
        );
    }
    for (receipt, issue_no) in stopped_receipts(&report) {
        println!(
            "  {receipt}: letter issue {issue_no} came back, its code was stopped; reissue to a corrected address (status --mail lists the returns)"
        );
    }
    if let Some(p) = &report.rejects_file {
        println!(
            "  rejected rows, with their lines and reasons: {}",
            display(p)
        );
    }
    if let Some(p) = &report.unmatched_file {
        println!("  rows that match no letter of ours: {}", display(p));
    }
    let fresh = matches!(report.outcome, MailRecorded::Recorded { .. });
    if fresh {
        refresh_reports(ledger.as_ref(), &args.place.out, &report.batches);
    }
    if let Some(path) = &args.metrics {
        write_mail_metrics(path, &ledger.mail_counts(None)?)?;
    }
    Ok(if fresh && report.rejected > 0 {
        EXIT_REJECTS
    } else {
        EXIT_OK
    })
}

/// Brings the reports of these batches (folders under `out`) up to date
/// with the ledger's mail trail. A report that cannot be updated is said on
/// stderr and does not fail the command: the ledger holds the truth.
pub(super) fn refresh_reports<'a>(
    ledger: &dyn Ledger,
    out: &std::path::Path,
    batches: impl IntoIterator<Item = &'a String>,
) {
    for batch in batches {
        let dir = out.join(batch);
        let trail = ledger.deliveries(batch).and_then(|deliveries| {
            Ok(MailTrail {
                deliveries,
                counts: ledger.mail_counts(Some(batch))?,
            })
        });
        let done = trail
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(update_mail_trail(&dir, &t)?));
        if let Err(e) = done {
            eprintln!(
                "warning: the report of batch {batch} was not updated ({e:#}); the ledger has the mail trail"
            );
        }
    }
}
