//! What a PDF says about the standards it meets must be true: a PDF/X
//! claim (`/GTS_PDFXVersion` in the document information, a `pdfxid` in
//! the XMP metadata) needs an OutputIntent with an embedded ICC profile and
//! trim and bleed boxes on every page. Letters and print files make no
//! claim; these checks hold for any PDF the project writes.

mod common;

use lopdf::{Dictionary, Document, Object};

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

#[test]
fn golden_letters_make_no_pdfx_claim_they_do_not_meet() {
    let dir = common::repo_file("tests/golden");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pdf") {
            let bytes = std::fs::read(&path).unwrap();
            let problems = conformance_problems(&bytes);
            assert!(problems.is_empty(), "{}: {problems:?}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 9, "{seen} golden PDFs");
}

#[test]
fn the_check_catches_an_empty_claim() {
    // A letter as printpdf writes it by default: an empty GTS_PDFXVersion.
    let mut doc = Document::with_version("1.3");
    let info = doc.add_object(Dictionary::from_iter(vec![(
        "GTS_PDFXVersion",
        Object::string_literal(""),
    )]));
    let pages = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Pages".to_vec())),
        ("Kids", Object::Array(vec![])),
        ("Count", Object::Integer(0)),
    ]));
    let catalog = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Catalog".to_vec())),
        ("Pages", Object::Reference(pages)),
    ]));
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    assert_eq!(conformance_problems(&bytes).len(), 1);
}
