//! What a PDF says about the standards it meets must be true: a PDF/X
//! claim (`/GTS_PDFXVersion` in the document information, a `pdfxid` in
//! the XMP metadata) needs an OutputIntent with an embedded ICC profile and
//! trim and bleed boxes on every page. Letters and print files make no
//! claim; these checks hold for any PDF the project writes.

use crate::support::conformance::conformance_problems;
use lopdf::{Dictionary, Document, Object};

#[test]
fn golden_letters_make_no_pdfx_claim_they_do_not_meet() {
    let dir = crate::support::repo_file("tests/golden");
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
    let print = crate::support::repo_file("tests/golden/print/fixtures-001.pdf");
    let problems = conformance_problems(&std::fs::read(&print).unwrap());
    assert!(problems.is_empty(), "{}: {problems:?}", print.display());
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
