//! Print files, built in-process through the library: each letter's pages
//! in a print file carry the same content as its standalone PDF, and the
//! file is one a press accepts (qpdf, pdffonts, text in order).

use std::sync::OnceLock;

use access_letters::code::derive;
use access_letters::config::Config;
use access_letters::filing::Filing;
use access_letters::intake::{Intake, Outcome};
use access_letters::key::Key;
use access_letters::letter::{NoticeDates, Templates};
use access_letters::print::{
    build_print_file, digest_of_letter_pdf, digest_of_pages, draw_letter, DrawnLetter,
    PrintFileMeta, PrintLetter,
};
use access_letters::render::{LetterJob, Renderer};
use chrono::NaiveDate;
use lopdf::Document;
use rayon::prelude::*;

use crate::support::{fixtures_csv, test_key, BATCH_DATE};

struct Fixture {
    key: Key,
    dates: NoticeDates,
    filings: Vec<Filing>,
    renderer: Renderer,
}

fn batch_date() -> NaiveDate {
    NaiveDate::parse_from_str(BATCH_DATE, "%Y-%m-%d").unwrap()
}

fn fx() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = Config::default_config();
        let fit = access_letters::layout::window_fit(&config.envelope).unwrap();
        let filings = Intake::open(&fixtures_csv(), batch_date(), fit)
            .unwrap()
            .filter_map(|o| match o.unwrap() {
                Outcome::Valid(f) => Some(f),
                Outcome::Rejected(_) => None,
            })
            .collect();
        Fixture {
            key: Key::load(&test_key()).unwrap(),
            dates: NoticeDates::new(batch_date(), 90),
            filings,
            renderer: Renderer::new(Templates::builtin(), config),
        }
    })
}

/// The standalone PDF and the print drawing of a filing's letter.
fn both(filing: &Filing) -> (Vec<u8>, DrawnLetter) {
    let f = fx();
    let code = derive(&f.key, &filing.receipt, 1);
    let job = LetterJob {
        filing,
        issue_no: 1,
        code: &code,
        dates: f.dates,
        barcode: None,
        mode: access_letters::key::KeyMode::Test,
    };
    let standalone = f.renderer.render(&job).unwrap().bytes;
    let drawn = draw_letter(&f.renderer, &job).unwrap();
    (standalone, drawn)
}

fn fixture_letters() -> &'static [(Filing, Vec<u8>, DrawnLetter)] {
    static LETTERS: OnceLock<Vec<(Filing, Vec<u8>, DrawnLetter)>> = OnceLock::new();
    LETTERS.get_or_init(|| {
        fx().filings
            .par_iter()
            .map(|f| {
                let (s, p) = both(f);
                (f.clone(), s, p)
            })
            .collect()
    })
}

fn meta() -> PrintFileMeta {
    PrintFileMeta {
        name: "test-001.pdf".into(),
        author: "U.S. Citizenship and Immigration Services".into(),
        date: batch_date(),
    }
}

#[test]
fn drawn_pages_are_the_standalone_letters_content_byte_for_byte() {
    for (filing, standalone, printed) in fixture_letters() {
        let doc = Document::load_mem(standalone).unwrap();
        let pages: Vec<_> = doc.get_pages().into_values().collect();
        assert_eq!(pages.len(), printed.pages.len(), "{}", filing.receipt);
        for (i, id) in pages.iter().enumerate() {
            let mut content = doc.get_page_content(*id);
            assert_eq!(content.pop(), Some(b'\n'), "lopdf adds a newline");
            assert!(
                content == printed.pages[i],
                "{} page {}: content differs from the standalone letter",
                filing.receipt,
                i + 1
            );
        }
        assert_eq!(
            digest_of_letter_pdf(standalone).unwrap(),
            printed.digest,
            "{}",
            filing.receipt
        );
    }
}

#[test]
fn a_print_file_holds_every_letter_with_its_digest_in_order() {
    let letters = fixture_letters();
    let print = || {
        let printed: Vec<PrintLetter> = letters
            .iter()
            .map(|(f, _, _)| PrintLetter::new(both(f).1))
            .collect();
        build_print_file(printed, &meta())
    };
    let bytes = print();
    assert_eq!(bytes, print(), "deterministic");
    let doc = Document::load_mem(&bytes).unwrap();
    let pages: Vec<_> = doc.get_pages().into_values().collect();
    let mut at = 0;
    for (filing, _, p) in letters {
        let n = p.pages.len();
        let digest = digest_of_pages(&doc, &pages[at..at + n]).unwrap();
        assert_eq!(digest, p.digest, "{}", filing.receipt);
        let text = doc
            .extract_text(&((at as u32 + 1)..=(at + n) as u32).collect::<Vec<_>>())
            .unwrap();
        assert!(text.contains(filing.receipt.as_str()), "{}", filing.receipt);
        at += n;
    }
    assert_eq!(at, pages.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("print.pdf");
    std::fs::write(&path, &bytes).unwrap();
    crate::support::qpdf_and_pdffonts_accept(&path);
    let problems = crate::support::conformance::conformance_problems(&bytes);
    assert!(problems.is_empty(), "{problems:?}");
}
