//! The conformance keys of a PDF (PDF/X claims), checked for consistency.

use lopdf::{Document, Object};

/// Problems with the conformance keys of `bytes`; empty when consistent.
pub fn conformance_problems(bytes: &[u8]) -> Vec<String> {
    let doc = Document::load_mem(bytes).expect("the PDF parses");
    let mut problems = Vec::new();
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .and_then(|id| doc.get_dictionary(id));
    let pdfx = info
        .ok()
        .and_then(|d| d.get(b"GTS_PDFXVersion").ok())
        .map(|v| match v {
            Object::String(s, _) => String::from_utf8_lossy(s).into_owned(),
            other => format!("{other:?}"),
        });
    let catalog = doc.catalog().expect("a catalog");
    let intents = catalog.get(b"OutputIntents").ok();
    let xmp_claims = catalog
        .get(b"Metadata")
        .and_then(Object::as_reference)
        .and_then(|id| doc.get_object(id))
        .and_then(Object::as_stream)
        .map(|s| {
            let text = String::from_utf8_lossy(&s.content).into_owned();
            text.contains("pdfxid") || text.contains("GTS_PDFX")
        })
        .unwrap_or(false);
    match (&pdfx, intents) {
        (Some(v), _) if v.is_empty() => {
            problems.push("an empty /GTS_PDFXVersion is a claim with no version".into())
        }
        (Some(v), None) => problems.push(format!("claims {v} without an OutputIntent")),
        (Some(v), Some(_)) => {
            for (n, page_id) in doc.get_pages() {
                let page = doc.get_dictionary(page_id).unwrap();
                for key in ["TrimBox", "BleedBox"] {
                    if page.get(key.as_bytes()).is_err() {
                        problems.push(format!("claims {v} but page {n} has no /{key}"));
                    }
                }
            }
        }
        (None, _) => {}
    }
    if xmp_claims && pdfx.is_none() {
        problems.push("XMP metadata claims PDF/X, the document information does not".into());
    }
    if pdfx.is_none() && intents.is_some() {
        problems.push("an OutputIntent with no PDF/X claim".into());
    }
    problems
}
