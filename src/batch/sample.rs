//! The pictures and times `report.html` shows beyond the batch's files: one
//! small picture of a letter per language (code masked, drawn from the
//! ledger like a reprint) and how long each stage of the run took.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use super::BatchError;
use crate::filing::Language;
use crate::issue::{IssueContext, Planned};
use crate::key::KeyRing;
use crate::ledger::{Issuance, Ledger};
use crate::picture::thumbnail_png;
use crate::render::Renderer;
use crate::report::{self, ReportExtras};

/// Every language a letter may be written in. The match makes a new
/// language a compile error here, so the walk in [`samples`] never stops
/// before the new language had its chance.
fn all_languages() -> [Language; 2] {
    match Language::En {
        Language::En | Language::Es => [Language::En, Language::Es],
    }
}

/// The walk found a sample of every language: it stops there.
struct EveryLanguage;

/// The first letter of each language in presort order. The walk stops as
/// soon as every language has one, instead of reading the whole batch again.
fn samples(ledger: &dyn Ledger, batch_id: &str) -> Result<Vec<Issuance>, BatchError> {
    let wanted = all_languages().len();
    let mut first: BTreeMap<String, Issuance> = BTreeMap::new();
    let walked = ledger.walk_batch(batch_id, |iss| {
        let language = iss.issued.filing.language.code().to_string();
        first.entry(language).or_insert(iss);
        if first.len() == wanted {
            return Err(EveryLanguage);
        }
        Ok(())
    })?;
    // Ended either way: at the batch's end, or with every language found.
    let (Ok(_) | Err(EveryLanguage)) = walked;
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
    // One picture per language, drawn on as many cores.
    let thumbnails = samples(ledger, batch_id)?
        .par_iter()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::manifest_rows::tests::{ledger_with_letters, BATCH};

    /// Stopping the walk once every language has its sample picks the
    /// letters a walk through the whole batch picks.
    #[test]
    fn samples_are_the_first_letter_of_each_language_in_the_whole_walk() {
        let ledger = ledger_with_letters();
        let ledger: &dyn Ledger = &ledger;
        let mut first: BTreeMap<String, String> = BTreeMap::new();
        let mut letters = 0;
        ledger
            .walk_batch(BATCH, |iss| {
                letters += 1;
                let language = iss.issued.filing.language.code().to_string();
                first
                    .entry(language)
                    .or_insert(iss.issued.piece_id.to_string());
                Ok::<_, BatchError>(())
            })
            .expect("walked")
            .expect("no error");
        assert_eq!(
            first.len(),
            all_languages().len(),
            "both languages in the ledger"
        );
        let picked: Vec<String> = samples(ledger, BATCH)
            .expect("samples")
            .iter()
            .map(|iss| iss.issued.piece_id.to_string())
            .collect();
        assert_eq!(picked, first.into_values().collect::<Vec<_>>());
        assert!(letters > 2, "the walk had more letters than samples");
    }
}
