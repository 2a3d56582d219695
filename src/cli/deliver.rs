//! `access-letters deliver BATCH`: hands a finished batch to the print
//! vendor over SFTP, exactly once. The rules are in
//! [`access_letters::deliver`]; the server is `[vendor]` of `--config`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use access_letters::deliver::{
    deliver, DeliverError, DeliverRequest, SftpSession, SftpTarget, Vendor,
};

use super::common::*;
use super::look::agency_config;
use super::metrics_file::write_mail_metrics;

/// Hand a finished batch to the print vendor over SFTP (exit 0 delivered,
/// 3 refused: already delivered, incomplete, or a test batch for a
/// production vendor).
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
    /// Also write the ledger's mail trail here (Prometheus text format, for
    /// node_exporter; a file of its own, not run's).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    #[command(flatten)]
    place: Place,
}

pub fn execute(args: DeliverArgs) -> Result<u8> {
    let config = agency_config(args.config.as_deref())?;
    let Some(v) = config.vendor.clone() else {
        anyhow::bail!(
            "no [vendor] section in the configuration{}: deliver needs the vendor's SFTP server (see templates/agency.toml)",
            args.config.as_deref().map(|p| format!(" {}", display(p))).unwrap_or_default()
        );
    };
    let target = SftpTarget {
        host: v.host.clone(),
        port: v.port,
        user: v.user.clone(),
        key_file: v.key_file.clone(),
        known_hosts: v.known_hosts.clone(),
        remote_dir: v.remote_dir.clone(),
        timeout: Duration::from_secs(v.timeout_seconds.max(1)),
    };
    let vendor = Vendor {
        label: format!(
            "{}@{}:{}{}",
            v.user,
            v.host,
            v.port,
            with_slash(&v.remote_dir)
        ),
        production: v.production,
    };
    let given = PathBuf::from(&args.batch);
    let batch_dir = if given.is_dir() {
        given
    } else {
        args.place.out.join(&args.batch)
    };
    let mut ledger = args.place.read_ledger_for_out()?;
    let request = DeliverRequest {
        batch_dir: &batch_dir,
        vendor: &vendor,
        again: args.again,
        rate: args.limit_kbps.map(|k| k * 1024),
        clock: chrono::Utc::now,
    };
    match deliver(&request, ledger.as_mut(), || SftpSession::connect(&target)) {
        Ok(d) => {
            super::ingest::refresh_reports(ledger.as_ref(), &args.place.out, [&d.batch_id]);
            if let Some(path) = &args.metrics {
                write_mail_metrics(path, &ledger.mail_counts(None)?)?;
            }
            let sent = d.files.len() - d.already_there;
            println!(
                "delivered {} to {}: {} files in place ({} sent now, {} KiB; {} already there from an interrupted run), then {}{}",
                d.batch_id,
                vendor.label,
                d.files.len(),
                sent,
                d.bytes_sent / 1024,
                d.already_there,
                access_letters::deliver::ready_name(&d.batch_id),
                if d.again { "; sent again as asked (--again), recorded" } else { "" }
            );
            Ok(EXIT_OK)
        }
        Err(
            e @ (DeliverError::AlreadyDelivered { .. }
            | DeliverError::TestBatch { .. }
            | DeliverError::Incomplete { .. }),
        ) => {
            eprintln!("refused: {e}");
            Ok(EXIT_NOT_VALID)
        }
        Err(e) => Err(e).context("deliver"),
    }
}

fn with_slash(dir: &str) -> String {
    if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("/{dir}")
    }
}
