//! What `deliver` and `ingest` bring up to date after the mail trail
//! changed: the reports of the batches concerned, and `--metrics`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use access_letters::ledger::Ledger;
use access_letters::report::{update_mail_trail, MailTrail};

use super::place::Place;

/// Where the mail trail is shown besides the ledger.
#[derive(Args, Debug)]
pub struct MailOutputs {
    /// Also write the ledger's mail trail here (Prometheus text format, for
    /// node_exporter; a file of its own, not run's).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    #[command(flatten)]
    pub place: Place,
}

/// Brings the reports of `batches` (folders under `--out`) up to date and
/// writes `--metrics`. A report that cannot be updated is said on stderr
/// and does not fail the command: the ledger holds the truth.
pub fn after_mail_change<'a>(
    ledger: &dyn Ledger,
    outputs: &MailOutputs,
    batches: impl IntoIterator<Item = &'a String>,
) -> Result<()> {
    for batch in batches {
        let trail = ledger.deliveries(batch).and_then(|deliveries| {
            let counts = ledger.mail_counts(Some(batch))?;
            Ok(MailTrail { deliveries, counts })
        });
        let dir = outputs.place.out.join(batch);
        let done = trail
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(update_mail_trail(&dir, &t)?));
        if let Err(e) = done {
            eprintln!("warning: the report of batch {batch} was not updated ({e:#}); the ledger has the mail trail");
        }
    }
    if let Some(path) = &outputs.metrics {
        let counts = ledger.mail_counts(None)?;
        access_letters::metrics::write(path, &[], Some(&counts))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
