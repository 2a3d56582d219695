//! `access-letters deliver BATCH`: hands a finished batch to the print
//! vendor over SFTP, exactly once. The rules are in
//! [`access_letters::deliver`]; the server is `[vendor]` of `--config`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::deliver::{deliver, vendor_of, DeliverError, DeliverRequest, SftpSession};

use super::common::*;
use super::look::agency_config;
use super::mail_reports::{after_mail_change, MailOutputs};

/// Hand a finished batch to the print vendor over SFTP (exit 0 delivered,
/// 3 already delivered: nothing sent; 1 refused or failed).
#[derive(Args, Debug)]
pub struct DeliverArgs {
    /// The batch id (a folder under --out), or the batch folder itself.
    batch: String,
    /// Send a batch that was already delivered once more (recorded).
    #[arg(long)]
    again: bool,
    /// Limit the upload to this many kilobytes per second.
    #[arg(long, value_name = "KB/S", value_parser = clap::value_parser!(u64).range(1..))]
    limit_kbps: Option<u64>,
    /// Agency configuration (TOML) with the [vendor] section [default: the built-in templates/agency.toml, which has none].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    outputs: MailOutputs,
}

pub fn execute(args: DeliverArgs) -> Result<u8> {
    let config = agency_config(args.config.as_deref())?;
    let Some(v) = &config.vendor else {
        anyhow::bail!("no [vendor] section in the configuration: deliver needs the vendor's SFTP server (see templates/agency.toml)");
    };
    let (target, vendor) = vendor_of(v);
    let place = &args.outputs.place;
    let given = PathBuf::from(&args.batch);
    let batch_dir = if given.is_dir() {
        given
    } else {
        place.out.join(&args.batch)
    };
    let mut ledger = place.read_ledger_for_out()?;
    let request = DeliverRequest {
        batch_dir: &batch_dir,
        vendor: &vendor,
        again: args.again,
        rate: args.limit_kbps.map(|k| k * 1024),
        clock: chrono::Utc::now,
    };
    match deliver(&request, ledger.as_mut(), || SftpSession::connect(&target)) {
        Ok(d) => {
            println!("{d}");
            after_mail_change(ledger.as_ref(), &args.outputs, [&d.batch_id])?;
            Ok(EXIT_OK)
        }
        Err(e @ DeliverError::AlreadyDelivered { .. }) => {
            eprintln!("{:#}", deliver_flagged(e));
            Ok(EXIT_NOT_VALID)
        }
        Err(e) => Err(deliver_flagged(e)),
    }
}

/// `deliver`'s refusals, with the flag that changes the answer.
pub fn deliver_flagged(e: DeliverError) -> anyhow::Error {
    match e {
        DeliverError::OtherLedger { .. } => flagged(e, "--ledger"),
        DeliverError::AlreadyDelivered { .. } => flagged(e, "--again"),
        e => e.into(),
    }
}
