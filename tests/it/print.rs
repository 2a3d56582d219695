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

/// The job of a filing's first letter with `code`.
fn job<'a>(filing: &'a Filing, code: &'a access_letters::code::AccessCode) -> LetterJob<'a> {
    LetterJob {
        filing,
        issue_no: 1,
        code,
        dates: fx().dates,
        barcode: None,
        mode: access_letters::key::KeyMode::Test,
    }
}

/// The standalone PDF and the print drawing of a filing's letter.
fn both(filing: &Filing) -> (Vec<u8>, DrawnLetter) {
    let f = fx();
    let code = derive(&f.key, &filing.receipt, 1);
    let job = job(filing, &code);
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

/// The content digest of the `index`th letter of a print file made of
/// `letters`, read back from the file.
fn digest_in_file(letters: &[&Filing], index: usize) -> (String, Vec<u8>) {
    let printed: Vec<PrintLetter> = letters
        .iter()
        .map(|f| PrintLetter::new(both(f).1))
        .collect();
    let at: usize = letters[..index].iter().map(|f| both(f).1.pages.len()).sum();
    let n = both(letters[index]).1.pages.len();
    let bytes = build_print_file(printed, &meta());
    let doc = Document::load_mem(&bytes).unwrap();
    let pages: Vec<_> = doc.get_pages().into_values().collect();
    let digest = digest_of_pages(&doc, &pages[at..at + n]).unwrap();
    (digest.to_string(), doc.get_page_content(pages[at]))
}

#[test]
fn a_letters_pages_and_digest_do_not_depend_on_its_neighbours() {
    let letters = fixture_letters();
    let filings: Vec<&Filing> = letters.iter().map(|(f, _, _)| f).collect();
    // The same letter beside an English neighbour, a Spanish one with
    // Vietnamese and Polish names, and alone: the fonts and forms of the
    // file differ, the letter's pages do not.
    let spanish = filings
        .iter()
        .position(|f| f.language == access_letters::filing::Language::Es)
        .expect("a Spanish fixture");
    let accented = filings
        .iter()
        .position(|f| f.full_name().chars().any(|c| !c.is_ascii() && c > 'ÿ'))
        .expect("a fixture with a name beyond Latin-1");
    let me = filings[0];
    let alone = digest_in_file(&[me], 0);
    let with_spanish = digest_in_file(&[filings[spanish], me], 1);
    let with_accents = digest_in_file(&[me, filings[accented], filings[spanish]], 0);
    assert_eq!(alone, with_spanish);
    assert_eq!(alone, with_accents);
    assert_eq!(alone.0, letters[0].2.digest.to_string());
}

#[test]
fn a_print_file_embeds_one_subset_per_face_and_draws_shared_parts_once() {
    let letters = fixture_letters();
    let printed: Vec<PrintLetter> = letters
        .iter()
        .map(|(f, _, _)| PrintLetter::new(both(f).1))
        .collect();
    let placements: usize = letters
        .iter()
        .flat_map(|(_, _, d)| &d.forms)
        .map(Vec::len)
        .sum();
    let bytes = build_print_file(printed, &meta());
    let doc = Document::load_mem(&bytes).unwrap();
    let count = |ty: &[u8], subtype: &[u8]| {
        doc.objects
            .values()
            .filter_map(|o| match o {
                lopdf::Object::Dictionary(d) => Some(d),
                lopdf::Object::Stream(s) => Some(&s.dict),
                _ => None,
            })
            .filter(|d| {
                d.get(b"Type").and_then(|t| t.as_name()).ok() == Some(ty)
                    && d.get(b"Subtype").and_then(|t| t.as_name()).ok() == Some(subtype)
            })
            .count()
    };
    // Serif, Serif Bold and Sans, each once, whatever the letters' names.
    assert_eq!(count(b"Font", b"Type0"), 3);
    let forms = count(b"XObject", b"Form");
    assert!(forms > 0, "no forms");
    assert!(
        forms * 5 < placements,
        "{forms} forms for {placements} placements: the letters share too little"
    );
    // Every letter's pages place forms, and every form is placed.
    assert!(letters
        .iter()
        .all(|(_, _, d)| d.forms.iter().all(|f| !f.is_empty())));
}

#[test]
fn fixed_parts_hold_nothing_of_the_filing_and_most_of_the_page() {
    let f = fx();
    for filing in &f.filings {
        let code = derive(&f.key, &filing.receipt, 1);
        let job = job(filing, &code);
        let (pages, _) = f
            .renderer
            .lay_out(&job, access_letters::render::CodeDisplay::Shown)
            .unwrap();
        let mut own: Vec<String> = vec![
            filing.receipt.to_string(),
            code.reveal_for_letter(),
            filing.full_name(),
            filing.address.line1.clone(),
            filing.address.last_line(),
        ];
        own.extend(filing.a_number.clone());
        let (mut fixed, mut all) = (0, 0);
        for page in &pages {
            for (i, item) in page.items.iter().enumerate() {
                let text = match item {
                    access_letters::layout::Item::Text { text, .. }
                    | access_letters::layout::Item::CellText { text, .. } => text,
                    _ => continue,
                };
                all += 1;
                if !page.is_fixed(i) {
                    continue;
                }
                fixed += 1;
                for value in &own {
                    assert!(
                        !text.contains(value.as_str()),
                        "{}: fixed text {text:?} holds {value:?}",
                        filing.receipt
                    );
                }
            }
        }
        assert!(
            fixed * 2 > all,
            "{}: only {fixed} of {all} text items are fixed",
            filing.receipt
        );
    }
}
