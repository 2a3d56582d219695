//! The pictures and times `report.html` shows beyond the batch's files: one
//! small picture of a letter per language (code masked, drawn from the
//! ledger like a reprint) and how long each stage of the run took.

use std::collections::BTreeMap;
use std::path::Path;

use super::BatchError;
use crate::issue::{IssueContext, Planned};
use crate::key::KeyRing;
use crate::ledger::{Issuance, Ledger};
use crate::picture::thumbnail_png;
use crate::render::Renderer;
use crate::report::{self, ReportExtras};

/// The first letter of each language in presort order.
fn samples(ledger: &dyn Ledger, batch_id: &str) -> Result<Vec<Issuance>, BatchError> {
    let mut first: BTreeMap<String, Issuance> = BTreeMap::new();
    ledger.walk_batch(batch_id, |iss| {
        let language = iss.issued.filing.language.code().to_string();
        first.entry(language).or_insert(iss);
        Ok::<_, BatchError>(())
    })??;
    Ok(first.into_values().collect())
}

/// A masked thumbnail of one issued letter, or `None` when its key is not
/// loaded (the report then simply has no picture for that language).
fn thumbnail(iss: &Issuance, keys: &KeyRing, renderer: &Renderer) -> Option<Vec<u8>> {
    let key = keys.get(&iss.issued.key_id)?;
    let ctx = IssueContext::recorded(&iss.issued, key, renderer);
    let planned = Planned::recorded(&iss.issued);
    match thumbnail_png(&ctx, &planned) {
        Ok(png) => Some(png),
        Err(e) => {
            tracing::warn!(piece = %iss.issued.piece_id, "no thumbnail for the report: {e}");
            None
        }
    }
}

/// Writes `report.html` again with the sample pictures and stage times.
pub fn write_report(
    batch_dir: &Path,
    batch_id: &str,
    ledger: &dyn Ledger,
    keys: &KeyRing,
    renderer: &Renderer,
    timings: Vec<(String, f64)>,
) -> Result<(), BatchError> {
    let thumbnails = samples(ledger, batch_id)?
        .iter()
        .filter_map(|iss| {
            let language = iss.issued.filing.language.code().to_string();
            thumbnail(iss, keys, renderer).map(|png| (language, png))
        })
        .collect();
    let extras = ReportExtras {
        timings,
        thumbnails,
    };
    report::write(batch_dir, &extras).map_err(|e| BatchError::Write {
        what: "report.html".into(),
        message: e.to_string(),
    })
}
