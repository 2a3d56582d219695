//! Letters, rendered in-process through the library and read back from the PDF.
//!
//! Nothing here trusts the layout code's own numbers: window rectangles come
//! from the envelope card in DESIGN.md, and every position, width and bar is
//! read back out of the PDF's content stream (fonts' `/W` widths, their
//! `FontDescriptor` ascent and descent, their `ToUnicode` maps). The reader
//! and the card's window rectangles are in `tests/it/support/pdf.rs`.
//!
//! Golden letters live in `tests/golden/<piece-id>.pdf`; rewrite them with
//! `UPDATE_GOLDEN=1 cargo test --test it letters::` and review the diff.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use access_letters::code::derive;
use access_letters::config::{Config, DEFAULT_CONFIG_TOML};
use access_letters::filing::{piece_id, Address, Filing, FormType, Language, ReceiptNumber};
use access_letters::imb::Barcode;
use access_letters::intake::{Intake, Outcome};
use access_letters::issue;
use access_letters::key::Key;
use access_letters::letter::{Block, NoticeDates, Templates};
use access_letters::render::{LetterJob, Renderer};
use chrono::NaiveDate;
use lopdf::Document;
use rayon::prelude::*;

use crate::support::pdf::{
    deref, dict_get, name, read_pdf, recipient_window, return_window, BoxPt, PageRead, Run,
    CLEARANCE_IN, EPS, PT_PER_IN,
};
use crate::support::{codes_in, fixtures_csv, repo_file, test_key, BATCH_DATE};

// ---------------------------------------------------------------------------
// Fixtures: intake of fixtures/filings.csv, the test key, the renderers.
// ---------------------------------------------------------------------------

const BARCODE_MAILER_ID: &str = "123456";
const BARCODE_SERIAL: u64 = 1234;
const EXPIRES_EN: &str = "February 23, 2027";
const EXPIRES_ES: &str = "23 de febrero de 2027";

struct Fixture {
    key: Key,
    dates: NoticeDates,
    filings: Vec<Filing>,
    renderer: Renderer,
    barcode_renderer: Renderer,
}

fn batch_date() -> NaiveDate {
    NaiveDate::parse_from_str(BATCH_DATE, "%Y-%m-%d").unwrap()
}

/// The shipped configuration with a mailer ID, edited as an operator would.
fn barcode_config() -> Config {
    let text = DEFAULT_CONFIG_TOML.replace(
        "mailer_id = \"\"",
        &format!("mailer_id = \"{BARCODE_MAILER_ID}\""),
    );
    assert_ne!(
        text, DEFAULT_CONFIG_TOML,
        "agency.toml has no empty mailer_id"
    );
    let config = Config::parse(&text, "agency.toml with a mailer ID").unwrap();
    assert_eq!(config.mail.mailer_id(), Some(BARCODE_MAILER_ID));
    config
}

fn default_fit() -> access_letters::intake::WindowFit {
    access_letters::layout::window_fit(&Config::default_config().envelope)
        .expect("the default envelope is valid")
}

fn fx() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let date = batch_date();
        let filings: Vec<Filing> = Intake::open(&fixtures_csv(), date, default_fit())
            .expect("fixtures/filings.csv opens")
            .filter_map(|o| match o.expect("fixtures/filings.csv reads") {
                Outcome::Valid(f) => Some(f),
                Outcome::Rejected(_) => None,
            })
            .collect();
        assert_eq!(filings.len(), 46, "valid rows in fixtures/filings.csv");
        let dates = access_letters::letter::NoticeDates::new(date, 90);
        assert_eq!(
            dates.expires_on,
            NaiveDate::from_ymd_opt(2027, 2, 23).unwrap()
        );
        let key = Key::load(&test_key()).expect("fixtures/test.key loads");
        assert_eq!(key.mode(), access_letters::key::KeyMode::Test);
        Fixture {
            key,
            dates,
            filings,
            renderer: Renderer::new(Templates::builtin(), Config::default_config()),
            barcode_renderer: Renderer::new(Templates::builtin(), barcode_config()),
        }
    })
}

#[track_caller]
fn fixture_filing(receipt: &str) -> &'static Filing {
    fx().filings
        .iter()
        .find(|f| f.receipt.as_str() == receipt)
        .unwrap_or_else(|| panic!("{receipt} is not a valid fixture filing"))
}

fn code_for(key: &Key, filing: &Filing) -> String {
    derive(key, &filing.receipt, 1).reveal_for_letter()
}

fn barcode_for(config: &Config, filing: &Filing) -> Barcode {
    issue::barcode(&config.mail, Some(BARCODE_SERIAL), filing)
        .expect("the barcode encodes")
        .expect("a mailer ID is configured")
}

/// Renders issue 1 of `filing`; the SPECIMEN mark follows the key, as in a run.
fn render_letter(
    renderer: &Renderer,
    key: &Key,
    filing: &Filing,
    barcode: Option<&Barcode>,
) -> Vec<u8> {
    let code = derive(key, &filing.receipt, 1);
    let letter = renderer
        .render(&LetterJob {
            filing,
            issue_no: 1,
            code: &code,
            dates: fx().dates,
            barcode,
            mode: key.mode(),
        })
        .unwrap_or_else(|e| panic!("{}: {e}", filing.receipt));
    assert_eq!(
        letter.sha256.as_str(),
        crate::support::sha256_hex(&letter.bytes)
    );
    letter.bytes
}

/// Every valid fixture filing's letter, default configuration, test key.
fn fixture_letters() -> &'static [(Filing, Vec<u8>)] {
    static LETTERS: OnceLock<Vec<(Filing, Vec<u8>)>> = OnceLock::new();
    LETTERS.get_or_init(|| {
        let f = fx();
        f.filings
            .par_iter()
            .map(|filing| {
                (
                    filing.clone(),
                    render_letter(&f.renderer, &f.key, filing, None),
                )
            })
            .collect()
    })
}

fn expiry_text(language: Language) -> &'static str {
    match language {
        Language::En => EXPIRES_EN,
        Language::Es => EXPIRES_ES,
    }
}

fn page_label(language: Language, page: usize, pages: usize) -> String {
    match language {
        Language::En => format!("Page {page} of {pages}"),
        Language::Es => format!("Página {page} de {pages}"),
    }
}

// ---------------------------------------------------------------------------
// Checks shared by several tests.
// ---------------------------------------------------------------------------

/// Finds each of `needles` in `hay`, each after the previous one.
fn find_in_order(hay: &str, needles: &[String]) -> Result<(), String> {
    let mut from = 0;
    for n in needles {
        match hay[from..].find(n.as_str()) {
            Some(at) => from += at + n.len(),
            None => {
                return Err(if hay.contains(n.as_str()) {
                    format!("'{n}' is out of order")
                } else {
                    format!("'{n}' is missing")
                })
            }
        }
    }
    Ok(())
}

/// The return-address lines, from the configuration.
fn return_lines(config: &Config) -> Vec<String> {
    let mut lines = vec![config.agency.name.clone()];
    lines.extend(config.agency.return_address.iter().cloned());
    lines
}

/// Problems with page 1's windows: the address lines (and only they) in the
/// recipient window's text area, the return lines (and only they) in the
/// return window's text area, no painted shape in the recipient window other
/// than barcode bars (filled rectangles) when `barcode` is set.
fn window_problems(label: &str, page: &PageRead, address: &[String], barcode: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for (window, area, expected, what) in [
        (
            recipient_window(),
            recipient_window().shrink(CLEARANCE_IN * PT_PER_IN),
            address.to_vec(),
            "recipient",
        ),
        (
            return_window(),
            return_window().shrink(CLEARANCE_IN * PT_PER_IN),
            return_lines(&fx().renderer.config),
            "return",
        ),
    ] {
        let seen: Vec<&Run> = page.runs.iter().filter(|r| r.overlaps(&window)).collect();
        let texts: Vec<&str> = seen.iter().map(|r| r.text.as_str()).collect();
        if texts != expected {
            problems.push(format!(
                "{label}: text in the {what} window is {texts:?}, expected {expected:?}"
            ));
        }
        for r in seen {
            if !r.inside(&area) || !r.upright {
                problems.push(format!(
                    "{label}: '{}' ({} {:.1} pt) spans {}; the {what} window's text area is {}",
                    r.text,
                    r.font,
                    r.size,
                    r.bbox.describe(),
                    area.describe()
                ));
            }
        }
    }
    let window = recipient_window();
    for p in page.painted.iter().filter(|p| p.bbox.overlaps(&window)) {
        if !(barcode && p.is_rect && p.fill && !p.stroke) {
            problems.push(format!(
                "{label}: a painted shape spans {} inside the recipient window",
                p.bbox.describe()
            ));
        }
    }
    problems
}

/// The footer of page `n` of `pages`: a run with the piece ID and one with
/// "Page X of Y", both in the bottom inch of the page.
fn footer_problems(
    label: &str,
    page: &PageRead,
    language: Language,
    piece: &str,
    n: usize,
    pages: usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    let want_page = page_label(language, n, pages);
    for (what, found) in [
        (
            format!("piece ID {piece}"),
            page.runs.iter().find(|r| r.text.contains(piece)),
        ),
        (
            format!("'{want_page}'"),
            page.runs.iter().find(|r| r.text == want_page),
        ),
    ] {
        match found {
            None => problems.push(format!("{label} page {n}: no footer run with {what}")),
            Some(r) if !(r.upright && r.bbox.y1 < PT_PER_IN && r.bbox.y0 > 0.0) => {
                problems.push(format!(
                    "{label} page {n}: {what} is at {}, not in the footer",
                    r.bbox.describe()
                ))
            }
            Some(_) => {}
        }
    }
    if !page.text.contains(piece) || !page.text.contains(&want_page) {
        problems.push(format!(
            "{label} page {n}: extracted text lacks the piece ID or '{want_page}'"
        ));
    }
    problems
}

#[track_caller]
fn assert_no_problems(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The barcode read back from page 1: the filled rectangles in the recipient
/// window, classified against the tracker band. Returns the F/A/D/T string
/// and the bars' bounding box.
fn read_barcode(page: &PageRead) -> (String, BoxPt) {
    let window = recipient_window();
    let mut bars: Vec<BoxPt> = page
        .painted
        .iter()
        .filter(|p| p.is_rect && p.fill && p.bbox.overlaps(&window))
        .map(|p| p.bbox)
        .collect();
    bars.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    assert_eq!(bars.len(), 65, "filled rectangles in the recipient window");
    for b in &bars {
        let w = (b.x1 - b.x0) / PT_PER_IN;
        assert!(
            (0.015..=0.025).contains(&w),
            "bar width {w:.4} in at {}",
            b.describe()
        );
    }
    let pitches: Vec<f64> = bars.windows(2).map(|w| w[1].x0 - w[0].x0).collect();
    let pitch = pitches.iter().sum::<f64>() / pitches.len() as f64;
    for p in &pitches {
        assert!(
            (p - pitch).abs() < 0.01,
            "bar pitch varies: {p} vs {pitch} pt"
        );
    }
    let per_inch = PT_PER_IN / pitch;
    assert!(
        (20.0..=24.0).contains(&per_inch),
        "{per_inch:.2} bars per inch"
    );
    // Every bar covers the tracker band, so the band is what all bars share.
    let band_lo = bars.iter().map(|b| b.y0).fold(f64::NEG_INFINITY, f64::max);
    let band_hi = bars.iter().map(|b| b.y1).fold(f64::INFINITY, f64::min);
    let tracker = (band_hi - band_lo) / PT_PER_IN;
    assert!(
        (0.039..=0.057).contains(&tracker),
        "tracker height {tracker:.4} in"
    );
    let all = BoxPt::of_points(
        &bars
            .iter()
            .flat_map(|b| [(b.x0, b.y0), (b.x1, b.y1)])
            .collect::<Vec<_>>(),
    );
    let full = (all.y1 - all.y0) / PT_PER_IN;
    assert!(
        (0.125..=0.165).contains(&full),
        "full bar height {full:.4} in"
    );
    let letters = bars
        .iter()
        .map(|b| match (b.y1 > band_hi + EPS, b.y0 < band_lo - EPS) {
            (true, true) => 'F',
            (true, false) => 'A',
            (false, true) => 'D',
            (false, false) => 'T',
        })
        .collect();
    (letters, all)
}

/// Checks a barcode letter's page 1: bars decode to `expected`, lie in the
/// recipient window with the USPS clear zones, and the address starts below.
fn barcode_problems(
    label: &str,
    page: &PageRead,
    expected: &str,
    address: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    let (bars, bbox) = read_barcode(page);
    if bars != expected {
        problems.push(format!(
            "{label}: bars read back as\n  {bars}\nexpected\n  {expected}"
        ));
    }
    // USPS-B-3200: 1/8 in clear left and right, 0.028 in above and below.
    let window = recipient_window();
    let clear = BoxPt {
        x0: window.x0 + 0.125 * PT_PER_IN,
        x1: window.x1 - 0.125 * PT_PER_IN,
        y0: window.y0 + 0.028 * PT_PER_IN,
        y1: window.y1 - 0.028 * PT_PER_IN,
    };
    if !clear.contains(&bbox) {
        problems.push(format!(
            "{label}: bars span {}; with the clear zones they must stay in {}",
            bbox.describe(),
            clear.describe()
        ));
    }
    let first = page.runs.iter().find(|r| r.text == address[0]);
    match first {
        Some(r) if r.bbox.y1 <= bbox.y0 + EPS => {}
        Some(r) => problems.push(format!(
            "{label}: the first address line spans {}, not below the bars at {}",
            r.bbox.describe(),
            bbox.describe()
        )),
        None => problems.push(format!("{label}: no run '{}'", address[0])),
    }
    problems
}

// ---------------------------------------------------------------------------
// 1. Golden letters.
// ---------------------------------------------------------------------------

/// Fixture letters kept byte for byte, and why each is there.
pub(crate) const GOLDEN: &[(&str, bool, &str)] = &[
    (
        "IOE0912345601",
        false,
        "I-485, Spanish, apartment merged onto line 1, ZIP+4",
    ),
    ("IOE0912345603", false, "I-131, Polish name"),
    ("IOE0912345602", false, "I-765, Vietnamese name"),
    (
        "IOE0912345690",
        false,
        "long Vietnamese name, middle names as initials",
    ),
    ("LIN2190000133", false, "military: FPO AP"),
    (
        "IOE0912345624",
        false,
        "territory: Puerto Rico urbanization, Spanish",
    ),
    (
        "EAC2190000139",
        false,
        "c/o line with a suite (merged onto line 1)",
    ),
    (
        "WAC2190000119",
        false,
        "second address line that does not merge",
    ),
    (
        "MSC2190000116",
        true,
        "Intelligent Mail barcode, mailer 123456, serial 1234",
    ),
];

pub(crate) fn golden_dir() -> PathBuf {
    repo_file("tests/golden")
}

/// A golden letter made as versions before print forms made it (see
/// `pdf::render_legacy`), with the job of [`golden_letter`].
pub(crate) fn golden_letter_as_before(receipt: &str, barcode: bool) -> Vec<u8> {
    let f = fx();
    let filing = fixture_filing(receipt);
    let b = barcode.then(|| barcode_for(&f.barcode_renderer.config, filing));
    let renderer = if barcode {
        &f.barcode_renderer
    } else {
        &f.renderer
    };
    let code = derive(&f.key, &filing.receipt, 1);
    let job = LetterJob {
        filing,
        issue_no: 1,
        code: &code,
        dates: fx().dates,
        barcode: b.as_ref(),
        mode: f.key.mode(),
    };
    renderer.render_legacy(&job).unwrap().bytes
}

pub(crate) fn golden_letter(receipt: &str, barcode: bool) -> Vec<u8> {
    let f = fx();
    let filing = fixture_filing(receipt);
    if barcode {
        let b = barcode_for(&f.barcode_renderer.config, filing);
        render_letter(&f.barcode_renderer, &f.key, filing, Some(&b))
    } else {
        render_letter(&f.renderer, &f.key, filing, None)
    }
}

#[test]
fn golden_selection_covers_the_cases_it_claims() {
    let chosen: Vec<&Filing> = GOLDEN.iter().map(|(r, ..)| fixture_filing(r)).collect();
    let any = |p: &dyn Fn(&Filing) -> bool| chosen.iter().any(|f| p(f));
    for form in [FormType::I485, FormType::I131, FormType::I765] {
        assert!(any(&|f| f.form == form), "{form}");
    }
    assert!(any(&|f| f.language == Language::Es), "Spanish");
    assert!(
        any(&|f| f.middle_name.is_some() && f.name_line.chars().count() > 30),
        "long Vietnamese name"
    );
    assert!(
        any(&|f| ["AA", "AE", "AP"].contains(&f.address.state.as_str())),
        "military"
    );
    assert!(
        any(&|f| ["PR", "GU", "VI"].contains(&f.address.state.as_str())),
        "territory"
    );
    assert!(any(&|f| f.address.in_care_of.is_some()), "c/o line");
    assert!(any(&|f| f.address.line2.is_some()), "unmerged line 2");
    assert_eq!(
        GOLDEN.iter().filter(|(_, b, _)| *b).count(),
        1,
        "one barcode letter"
    );
    // No fixture row has both a c/o line and a second line that stays
    // unmerged (see the five-line test below for that block); the nearest
    // is EAC2190000139, whose suite merges onto line 1.
    let nearest = fixture_filing("EAC2190000139");
    assert_eq!(
        nearest.address.in_care_of.as_deref(),
        Some("C/O REFUGEE SERVICES OF TEXAS")
    );
    assert_eq!(nearest.address_lines().len(), 4);
    assert_eq!(nearest.address.line1, "6009 RICHMOND AVE STE 300");
}

#[test]
fn golden_letters_match_byte_for_byte() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let dir = golden_dir();
    if update {
        fs::create_dir_all(&dir).unwrap();
    }
    let rendered: Vec<(String, Vec<u8>)> = GOLDEN
        .par_iter()
        .map(|&(receipt, barcode, _)| {
            let piece = piece_id(&ReceiptNumber::parse(receipt).unwrap(), 1);
            (piece, golden_letter(receipt, barcode))
        })
        .collect();
    let mut problems = Vec::new();
    let mut expected_files = BTreeSet::new();
    let actual_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-actual");
    for (piece, bytes) in &rendered {
        let file = format!("{piece}.pdf");
        expected_files.insert(file.clone());
        let path = dir.join(&file);
        let old = fs::read(&path).ok();
        if old.as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        if update {
            fs::write(&path, bytes).unwrap();
            eprintln!("rewrote {}", path.display());
            continue;
        }
        fs::create_dir_all(&actual_dir).unwrap();
        let actual = actual_dir.join(&file);
        fs::write(&actual, bytes).unwrap();
        problems.push(match old {
            None => format!("{} is missing (new render: {})", path.display(), actual.display()),
            Some(old) => {
                let at = old.iter().zip(bytes.iter()).position(|(a, b)| a != b).unwrap_or(old.len().min(bytes.len()));
                format!(
                    "{} differs: {} bytes stored, {} rendered, first difference at byte {at} (new render: {})",
                    path.display(),
                    old.len(),
                    bytes.len(),
                    actual.display()
                )
            }
        });
    }
    // Files left over from an earlier selection.
    for entry in fs::read_dir(&dir).into_iter().flatten() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".pdf") && !expected_files.contains(&name) {
            if update {
                fs::remove_file(dir.join(&name)).unwrap();
                eprintln!("removed {name}");
            } else {
                problems.push(format!("tests/golden/{name} belongs to no golden letter"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "golden letters differ from what the code renders now:\n{}\n\nIf the change is intended, \
         run `UPDATE_GOLDEN=1 cargo test --test it letters::` and review the diff of tests/golden \
         (for example with pdftotext and pdftoppm) like code.",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 2. Text extraction.
// ---------------------------------------------------------------------------

#[test]
fn every_fixture_letter_states_name_receipt_code_expiry_and_address() {
    let f = fx();
    let mut problems = Vec::new();
    let mut names_seen = BTreeSet::new();
    for (filing, bytes) in fixture_letters() {
        let label = filing.receipt.as_str();
        let pages = read_pdf(bytes);
        if pages.len() != 1 {
            problems.push(format!(
                "{label}: {} pages; every fixture letter fits one sheet",
                pages.len()
            ));
        }
        let text = &pages[0].text;
        let name = filing.full_name();
        assert!(
            unicode_normalization::is_nfc(&name),
            "{label}: name not NFC"
        );
        if text.contains(&name) {
            names_seen.insert(name.clone());
        }
        let code = code_for(&f.key, filing);
        let mut wanted = vec![
            name,
            filing.receipt.to_string(),
            code.clone(),
            expiry_text(filing.language).to_string(),
        ];
        for w in &wanted {
            if !text.contains(w.as_str()) {
                problems.push(format!("{label}: page 1 text lacks '{w}'"));
            }
        }
        let codes: BTreeSet<String> = codes_in(text).into_iter().collect();
        if codes != BTreeSet::from([code]) {
            problems.push(format!("{label}: code-shaped strings on page 1: {codes:?}"));
        }
        wanted = filing.address_lines();
        if let Err(e) = find_in_order(text, &wanted) {
            problems.push(format!("{label}: address lines {wanted:?}: {e}"));
        }
        let piece = piece_id(&filing.receipt, 1);
        for (i, page) in pages.iter().enumerate() {
            problems.extend(footer_problems(
                label,
                page,
                filing.language,
                &piece,
                i + 1,
                pages.len(),
            ));
        }
    }
    assert_no_problems(problems);
    // The scripts the design names come back exactly.
    for name in [
        "Khánh Linh Thị Hoàng Phương Nguyễn Trần Bảo",
        "Trần Văn Đức",
        "Małgorzata Zofia Kowalczyk-Wiśniewska",
        "Łukasz Wróblewski",
        "Antonín Josef Dvořák",
        "Jiří Novák",
        "José Luis Ramírez Núñez",
        "Jesús Ángel Ibáñez",
        "Σοφία Παπαδοπούλου",
    ] {
        assert!(unicode_normalization::is_nfc(name));
        assert!(
            names_seen.contains(name),
            "'{name}' was not found in its letter"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Fonts and page size.
// ---------------------------------------------------------------------------

fn is_subset_tag(base_font: &str) -> bool {
    let b = base_font.as_bytes();
    b.len() > 7 && b[..6].iter().all(u8::is_ascii_uppercase) && b[6] == b'+'
}

/// Letters whose fonts and structure are checked: the golden set and a
/// two-page letter.
fn structure_samples() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = GOLDEN
        .par_iter()
        .map(|&(r, b, _)| (r.to_string(), golden_letter(r, b)))
        .collect();
    out.push((
        "two-page letter".into(),
        long_letter(14, Language::En, &fx().key).0,
    ));
    out
}

#[test]
fn fonts_are_embedded_and_subset_and_pages_are_us_letter() {
    for (label, bytes) in structure_samples() {
        let doc = Document::load_mem(&bytes).unwrap();
        let mut type0 = 0;
        for object in doc.objects.values() {
            let Ok(dict) = object.as_dict() else { continue };
            if dict_get(&doc, dict, "Type").map(name).as_deref() != Some("Font") {
                continue;
            }
            let subtype = dict_get(&doc, dict, "Subtype")
                .map(name)
                .unwrap_or_default();
            if subtype == "CIDFontType2" {
                continue; // checked below, as a descendant
            }
            assert_eq!(subtype, "Type0", "{label}: a font that is not Type0");
            type0 += 1;
            let base = name(dict_get(&doc, dict, "BaseFont").unwrap());
            assert!(
                is_subset_tag(&base),
                "{label}: BaseFont {base} has no subset tag"
            );
            for d in dict_get(&doc, dict, "DescendantFonts")
                .unwrap()
                .as_array()
                .unwrap()
            {
                let cid = deref(&doc, d).as_dict().unwrap();
                let cid_base = name(dict_get(&doc, cid, "BaseFont").unwrap());
                assert_eq!(cid_base, base, "{label}");
                let fd = dict_get(&doc, cid, "FontDescriptor")
                    .unwrap()
                    .as_dict()
                    .unwrap();
                let file = dict_get(&doc, fd, "FontFile2")
                    .unwrap_or_else(|| panic!("{label}: {base} is not embedded (no FontFile2)"))
                    .as_stream()
                    .unwrap();
                let program = file.get_plain_content().unwrap();
                assert!(
                    program.len() > 1000,
                    "{label}: {base} font program is {} bytes",
                    program.len()
                );
                let font_name = name(dict_get(&doc, fd, "FontName").unwrap());
                assert_eq!(font_name, base, "{label}");
            }
        }
        assert!(type0 >= 2, "{label}: {type0} fonts");
        for (n, page) in read_pdf(&bytes).iter().enumerate() {
            assert_eq!(
                page.media_box,
                vec![0.0, 0.0, 612.0, 792.0],
                "{label} page {}",
                n + 1
            );
        }
    }
}

/// Runs an external checker, or skips its cross-check where it is not
/// installed (a failure under CI; see [`crate::support::skip`]); the
/// in-process checks above still run.
fn run_tool(tool: &str, args: &[&str], file: &Path) -> Option<std::process::Output> {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    if !file.as_os_str().is_empty() {
        all.push(file.as_os_str());
    }
    let install = match tool {
        "qpdf" => "apt-get install qpdf",
        _ => "apt-get install poppler-utils",
    };
    crate::support::tool(
        tool,
        &all,
        "the qpdf and pdffonts cross-checks of the letters",
        install,
    )
}

#[test]
fn qpdf_and_pdffonts_accept_the_letters() {
    // Skipped, with a word, where a tool is missing (fails under CI).
    if run_tool("qpdf", &["--version"], Path::new("")).is_none()
        || run_tool("pdffonts", &["-v"], Path::new("")).is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, (label, bytes)) in structure_samples().into_iter().enumerate() {
        let path = dir.path().join(format!("letter-{i}.pdf"));
        fs::write(&path, &bytes).unwrap();
        let out = run_tool("qpdf", &["--check"], &path).expect("qpdf is installed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("No syntax or stream encoding errors"),
            "{label}: qpdf --check:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run_tool("pdffonts", &[], &path).expect("pdffonts is installed");
        assert!(out.status.success(), "{label}: pdffonts failed");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let rows: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.starts_with("---"))
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(
            rows.len() >= 2,
            "{label}: pdffonts lists {} fonts:\n{stdout}",
            rows.len()
        );
        for row in rows {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // name type... encoding emb sub uni object-number generation
            let [emb, sub, uni] = [
                cols[cols.len() - 5],
                cols[cols.len() - 4],
                cols[cols.len() - 3],
            ];
            assert!(
                emb == "yes" && sub == "yes" && uni == "yes" && is_subset_tag(cols[0]),
                "{label}: pdffonts row '{row}' (want emb=yes sub=yes uni=yes):\n{stdout}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 4. Window placement, read back from the PDF.
// ---------------------------------------------------------------------------

#[test]
fn window_rectangles_follow_the_envelope_card() {
    // DESIGN.md states the page rectangles too; the computation agrees.
    let close = |a: f64, b: f64| (a / PT_PER_IN - b).abs() < 0.001;
    let r = recipient_window();
    assert!(close(r.x0, 0.125) && close(r.x1, 4.125), "{}", r.describe());
    assert!(
        close(792.0 - r.y1, 1.667) && close(792.0 - r.y0, 2.667),
        "{}",
        r.describe()
    );
    let r = return_window();
    assert!(close(r.x0, 0.125) && close(r.x1, 3.375), "{}", r.describe());
    assert!(
        close(792.0 - r.y1, 0.417) && close(792.0 - r.y0, 1.292),
        "{}",
        r.describe()
    );
}

#[test]
fn addresses_sit_inside_the_envelope_windows_for_every_fixture() {
    let mut problems = Vec::new();
    for (filing, bytes) in fixture_letters() {
        let pages = read_pdf(bytes);
        problems.extend(window_problems(
            filing.receipt.as_str(),
            &pages[0],
            &filing.address_lines(),
            false,
        ));
        // Later pages (none today) draw nothing in the windows' area.
        for page in &pages[1..] {
            if page.runs.iter().any(|r| r.overlaps(&recipient_window())) {
                problems.push(format!(
                    "{}: text in the window area of a later page",
                    filing.receipt
                ));
            }
        }
    }
    assert_no_problems(problems);
}

// ---------------------------------------------------------------------------
// 5. The Intelligent Mail barcode, read back.
// ---------------------------------------------------------------------------

#[test]
fn barcode_reads_back_as_the_encoded_bars() {
    let f = fx();
    let config = &f.barcode_renderer.config;
    let mut checked = 0;
    for receipt in [
        "MSC2190000116",
        "IOE0912345631",
        "IOE0912345690",
        "EAC2190000139",
    ] {
        let filing = fixture_filing(receipt);
        let barcode = barcode_for(config, filing);
        let expected = issue::barcode(&config.mail, Some(BARCODE_SERIAL), filing)
            .unwrap()
            .unwrap()
            .bars;
        assert_eq!(expected.len(), 65);
        let bytes = render_letter(&f.barcode_renderer, &f.key, filing, Some(&barcode));
        let pages = read_pdf(&bytes);
        let address = filing.address_lines();
        let mut problems = barcode_problems(receipt, &pages[0], &expected, &address);
        problems.extend(window_problems(receipt, &pages[0], &address, true));
        assert_no_problems(problems);
        checked += 1;
    }
    assert_eq!(checked, 4);
    // A letter without a mailer ID has no bars at all.
    let plain = &fixture_letters()[0].1;
    let page = &read_pdf(plain)[0];
    assert!(!page
        .painted
        .iter()
        .any(|p| p.bbox.overlaps(&recipient_window())));
}

// ---------------------------------------------------------------------------
// 6. Determinism in-process.
// ---------------------------------------------------------------------------

#[test]
fn rendering_is_deterministic_across_repeats_threads_and_orders() {
    let f = fx();
    let sample: Vec<&Filing> = [
        "IOE0912345601",
        "IOE0912345602",
        "IOE0912345690",
        "IOE0912345620",
        "NBC2190000113",
        "IOE0912345631",
        "MSC2190000104",
        "EAC2190000139",
    ]
    .iter()
    .map(|r| fixture_filing(r))
    .collect();
    let render = |filing: &Filing| render_letter(&f.renderer, &f.key, filing, None);
    let forward: Vec<Vec<u8>> = sample.iter().map(|filing| render(filing)).collect();
    // Twice in a row.
    assert!(
        render(sample[0]) == forward[0],
        "a second render of one letter differs"
    );
    // On four threads, in reverse order.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let reversed: Vec<Vec<u8>> = pool.install(|| {
        sample
            .par_iter()
            .rev()
            .map(|filing| render(filing))
            .collect()
    });
    for (i, bytes) in reversed.iter().rev().enumerate() {
        assert!(
            *bytes == forward[i],
            "{} differs on 4 threads in reverse",
            sample[i].receipt
        );
    }
    // A then B, and B then A, each on a fresh thread.
    let (a, b) = (sample[2], sample[4]);
    let ab = std::thread::scope(|s| s.spawn(|| (render(a), render(b))).join().unwrap());
    let ba = std::thread::scope(|s| s.spawn(|| (render(b), render(a))).join().unwrap());
    assert!(
        ab.0 == ba.1,
        "{}'s bytes depend on what was rendered before",
        a.receipt
    );
    assert!(
        ab.1 == ba.0,
        "{}'s bytes depend on what was rendered before",
        b.receipt
    );
    assert!(ab.0 != ab.1);
    // And the shared fixture renders (made on the test pool) agree.
    for (filing, bytes) in fixture_letters() {
        if let Some(i) = sample.iter().position(|s| s.receipt == filing.receipt) {
            assert!(*bytes == forward[i], "{}", filing.receipt);
        }
    }
}

// ---------------------------------------------------------------------------
// 7. Test-key safety.
// ---------------------------------------------------------------------------

#[test]
fn test_key_letters_say_specimen_on_every_page_and_production_letters_do_not() {
    let f = fx();
    for (filing, bytes) in fixture_letters() {
        for (n, page) in read_pdf(bytes).iter().enumerate() {
            assert!(
                page.text.contains("SPECIMEN"),
                "{} page {}",
                filing.receipt,
                n + 1
            );
        }
    }
    let (two_pages, ..) = long_letter(14, Language::En, &f.key);
    let pages = read_pdf(&two_pages);
    assert_eq!(pages.len(), 2);
    for (n, page) in pages.iter().enumerate() {
        assert!(
            page.text.contains("SPECIMEN"),
            "two-page test letter, page {}",
            n + 1
        );
    }

    let prod = Key::from_parts("prod-x", [7u8; 32]).unwrap();
    assert_eq!(prod.mode(), access_letters::key::KeyMode::Production);
    let filing = fixture_filing("IOE0912345602");
    let bytes = render_letter(&f.renderer, &prod, filing, None);
    let text = &read_pdf(&bytes)[0].text;
    assert!(
        !text.contains("SPECIMEN"),
        "a production letter says SPECIMEN"
    );
    assert!(text.contains(&code_for(&prod, filing)));
    assert_ne!(code_for(&prod, filing), code_for(&f.key, filing));
    let (prod_long, ..) = long_letter(14, Language::En, &prod);
    let pages = read_pdf(&prod_long);
    assert_eq!(pages.len(), 2);
    assert!(pages.iter().all(|p| !p.text.contains("SPECIMEN")));
}

// ---------------------------------------------------------------------------
// 8. Layout edge cases.
// ---------------------------------------------------------------------------

fn hand_built(
    receipt: &str,
    given: &str,
    family: &str,
    name_line: &str,
    address: Address,
) -> Filing {
    let filing = Filing {
        line: 2,
        receipt: ReceiptNumber::parse(receipt).unwrap(),
        form: FormType::I485,
        received_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        given_name: given.into(),
        middle_name: None,
        family_name: family.into(),
        a_number: None,
        name_line: name_line.into(),
        address,
        language: Language::En,
    };
    for line in filing.address_lines() {
        assert!(
            line.chars().count() <= 40,
            "'{line}' is longer than intake allows"
        );
    }
    filing
}

/// Renders with the barcode and checks windows and bars by read-back.
fn check_with_barcode(filing: &Filing) -> Vec<String> {
    let f = fx();
    let config = &f.barcode_renderer.config;
    let barcode = barcode_for(config, filing);
    let bytes = render_letter(&f.barcode_renderer, &f.key, filing, Some(&barcode));
    let pages = read_pdf(&bytes);
    let address = filing.address_lines();
    let label = filing.receipt.as_str();
    let mut problems = window_problems(label, &pages[0], &address, true);
    problems.extend(barcode_problems(label, &pages[0], &barcode.bars, &address));
    if let Err(e) = find_in_order(&pages[0].text, &address) {
        problems.push(format!("{label}: {e}"));
    }
    problems
}

#[test]
fn five_line_address_block_fits_the_window_with_the_barcode() {
    let filing = hand_built(
        "IOE0999000001",
        "Bartholomew",
        "Wojciechowski",
        "BARTHOLOMEW ALEXANDER WOJCIECHOWSKI",
        Address {
            in_care_of: Some("C/O INTERNATIONAL RESCUE COMMITTEE".into()),
            line1: "12345 NORTH MARTIN LUTHER KING JR BLVD".into(),
            line2: Some("BLDG C APT 2104".into()),
            city: "NORTH LAS VEGAS".into(),
            state: "NV".into(),
            zip5: "89106".into(),
            zip4: Some("2211".into()),
        },
    );
    assert_eq!(filing.address_lines().len(), 5);
    assert_no_problems(check_with_barcode(&filing));
}

#[test]
fn forty_character_name_line_fits_the_window_with_the_barcode() {
    let name_line = "MAXIMILIAN WOLFGANG MÜLLER-WAWRZYNIEWICZ";
    assert_eq!(name_line.chars().count(), 40);
    let filing = hand_built(
        "IOE0999000002",
        "Maximilian Wolfgang",
        "Müller-Wawrzyniewicz",
        name_line,
        Address {
            in_care_of: None,
            line1: "4500 WOODWARD WAY".into(),
            line2: None,
            city: "WILMINGTON".into(),
            state: "DE".into(),
            zip5: "19801".into(),
            zip4: Some("4411".into()),
        },
    );
    assert_no_problems(check_with_barcode(&filing));
    // A long Polish name, through intake.
    let filing = match intake_row(
        "Wawrzyniec Władysław",
        "Wąwóz-Wielowiejski",
        "1 Main St",
        "Austin",
        "TX",
        "78701",
    ) {
        Outcome::Valid(f) => f,
        Outcome::Rejected(r) => panic!("intake rejects the row: {r:?}"),
    };
    assert_eq!(filing.name_line, "WAWRZYNIEC WŁADYSŁAW WĄWÓZ-WIELOWIEJSKI");
    assert_no_problems(check_with_barcode(&filing));
}

/// English and Spanish templates with `k` one-line paragraphs added before
/// the code box, in a fresh directory.
fn long_templates(k: usize) -> (tempfile::TempDir, Templates) {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["en", "es"] {
        let name = format!("letter.{lang}.tera");
        let text = fs::read_to_string(repo_file(&format!("templates/{name}"))).unwrap();
        let filler: String = (1..=k)
            .map(|i| format!("Added paragraph {i}.\n\n"))
            .collect();
        let edited = text.replacen("\n@code-box\n", &format!("\n{filler}@code-box\n"), 1);
        assert!(
            text.contains("\n@code-box\n"),
            "templates/{name} has no @code-box line"
        );
        fs::write(dir.path().join(&name), edited).unwrap();
    }
    let templates = Templates::from_dir(dir.path()).unwrap();
    (dir, templates)
}

/// A fixture letter with `k` added paragraphs: its bytes, its code, and
/// the blocks its template produced.
fn long_letter(k: usize, language: Language, key: &Key) -> (Vec<u8>, String, Vec<Block>) {
    let receipt = match language {
        Language::En => "IOE0912345690",
        Language::Es => "IOE0912345601",
    };
    let filing = fixture_filing(receipt);
    assert_eq!(filing.language, language);
    let (_dir, templates) = long_templates(k);
    let renderer = Renderer::new(templates, Config::default_config());
    let blocks = renderer
        .templates
        .render(filing, fx().dates, &renderer.config)
        .unwrap()
        .blocks;
    (
        render_letter(&renderer, key, filing, None),
        code_for(key, filing),
        blocks,
    )
}

/// Heading texts of the shipped templates (lines starting `# `).
fn headings() -> Vec<String> {
    ["en", "es"]
        .iter()
        .flat_map(|lang| {
            fs::read_to_string(repo_file(&format!("templates/letter.{lang}.tera")))
                .unwrap()
                .lines()
                .filter_map(|l| l.trim().strip_prefix("# ").map(|h| h.trim().to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The lines of body text on a page, top to bottom, each as the texts of
/// its runs left to right: upright runs other than the footer's, and on
/// page 1 only those below the recipient window (the top panel is not body).
fn body_lines(
    page: &PageRead,
    first: bool,
    piece: &str,
    page_label: &str,
) -> Vec<(f64, Vec<String>)> {
    let window_bottom = recipient_window().y0;
    let mut runs: Vec<&Run> = page
        .runs
        .iter()
        .filter(|r| r.upright && !r.text.contains(piece) && r.text != page_label)
        .filter(|r| !first || r.origin.1 < window_bottom)
        .collect();
    runs.sort_by(|a, b| {
        b.origin
            .1
            .total_cmp(&a.origin.1)
            .then(a.origin.0.total_cmp(&b.origin.0))
    });
    let mut lines: Vec<(f64, Vec<String>)> = Vec::new();
    for r in runs {
        match lines.last_mut() {
            Some((y, texts)) if (*y - r.origin.1).abs() < 0.01 => texts.push(r.text.clone()),
            _ => lines.push((r.origin.1, vec![r.text.clone()])),
        }
    }
    lines
}

/// Problems with a paginated letter: the code box on one page (its text
/// inside its whole frame, above the footer), no heading as the last body
/// line of a page that is not the last, footers "Page i of n". Returns the
/// problems, the page count and the (0-based) page holding the code.
fn pagination_problems(
    label: &str,
    bytes: &[u8],
    code: &str,
    language: Language,
    piece: &str,
) -> (Vec<String>, usize, usize) {
    let mut problems = Vec::new();
    let pages = read_pdf(bytes);
    let headings = headings();
    let with_code: Vec<usize> = (0..pages.len())
        .filter(|&i| pages[i].text.contains(code))
        .collect();
    let code_page = match with_code.as_slice() {
        [one] => *one,
        other => {
            problems.push(format!("{label}: the code appears on pages {other:?}"));
            0
        }
    };
    let page = &pages[code_page];
    let footer_top = page
        .runs
        .iter()
        .filter(|r| r.text.contains(piece))
        .map(|r| r.bbox.y1)
        .fold(0.0, f64::max);
    match page.runs.iter().find(|r| r.text == code) {
        None => problems.push(format!("{label}: the code is not one run")),
        Some(run) => {
            let framed = page.painted.iter().any(|p| {
                p.stroke && !p.fill && p.bbox.contains(&run.bbox) && p.bbox.y0 > footer_top
            });
            if !framed {
                problems.push(format!(
                    "{label}: the code at {} on page {} has no whole frame around it above the footer",
                    run.bbox.describe(),
                    code_page + 1
                ));
            }
        }
    }
    for (i, page) in pages.iter().enumerate() {
        problems.extend(footer_problems(
            label,
            page,
            language,
            piece,
            i + 1,
            pages.len(),
        ));
        if i + 1 == pages.len() {
            continue;
        }
        let lines = body_lines(
            page,
            i == 0,
            piece,
            &page_label(language, i + 1, pages.len()),
        );
        let last = lines.last().map(|(_, t)| t.join(" ")).unwrap_or_default();
        if headings.contains(&last) {
            problems.push(format!(
                "{label}: page {} ends with the heading '{last}'",
                i + 1
            ));
        }
    }
    (problems, pages.len(), code_page)
}

/// What layout.rs promises beyond the brief: a heading keeps at least two
/// lines of what it heads (all of it when shorter) on its page, and no
/// paragraph, step or bullet leaves a single line alone at the foot or the
/// head of a page. The PDF's body lines are matched to the template's
/// blocks by their text (white space ignored).
fn keep_problems(
    label: &str,
    bytes: &[u8],
    blocks: &[Block],
    language: Language,
    piece: &str,
) -> Vec<String> {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let pages = read_pdf(bytes);
    // Body lines in reading order, with their page; lines inside the code
    // box frame stand for the code box block.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let frames: Vec<BoxPt> = page
            .painted
            .iter()
            .filter(|p| p.stroke && !p.fill)
            .map(|p| p.bbox)
            .collect();
        let mut in_box = false;
        for (y, texts) in body_lines(
            page,
            i == 0,
            piece,
            &page_label(language, i + 1, pages.len()),
        ) {
            let boxed = frames.iter().any(|f| y > f.y0 && y < f.y1);
            if boxed {
                if !in_box {
                    lines.push((i, "\u{0}code-box".into()));
                }
                in_box = true;
                continue;
            }
            in_box = false;
            lines.push((i, squash(&texts.concat())));
        }
    }
    let mut problems = Vec::new();
    let mut at = 0;
    // Pages of each block's lines.
    let mut placed: Vec<(bool, Vec<usize>)> = Vec::new();
    for block in blocks {
        let (target, heading) = match block {
            Block::CodeBox => ("\u{0}code-box".to_string(), false),
            Block::Heading(s) => (
                squash(&s.iter().map(|s| s.text.as_str()).collect::<String>()),
                true,
            ),
            Block::Paragraph(s) => (
                squash(&s.iter().map(|s| s.text.as_str()).collect::<String>()),
                false,
            ),
            Block::Step { marker, spans } => (
                squash(&format!(
                    "{marker}{}",
                    spans.iter().map(|s| s.text.as_str()).collect::<String>()
                )),
                false,
            ),
            Block::Bullet(s) => (
                squash(&format!(
                    "•{}",
                    s.iter().map(|s| s.text.as_str()).collect::<String>()
                )),
                false,
            ),
        };
        let mut acc = String::new();
        let mut on = Vec::new();
        while acc.len() < target.len() && at < lines.len() {
            acc.push_str(&lines[at].1);
            on.push(lines[at].0);
            at += 1;
        }
        if acc != target {
            problems.push(format!("{label}: the PDF's body text does not follow the template at '{target}': found '{acc}'"));
            return problems;
        }
        placed.push((heading, on));
    }
    if at != lines.len() {
        problems.push(format!(
            "{label}: {} body lines after the last block",
            lines.len() - at
        ));
    }
    for (b, (heading, on)) in placed.iter().enumerate() {
        if *heading {
            if let Some((_, next)) = placed.get(b + 1) {
                let page = *on.last().unwrap();
                let kept = next.iter().filter(|&&p| p == page).count();
                if kept < next.len().min(2) {
                    problems.push(format!(
                        "{label}: heading {b} ends page {} with {kept} of the {} lines it heads",
                        page + 1,
                        next.len()
                    ));
                }
            }
        } else if on.len() > 1 {
            let first = on.iter().filter(|&&p| p == on[0]).count();
            let rest = on.len() - first;
            if rest > 0 && (first < 2 || rest < 2) {
                problems.push(format!(
                    "{label}: block {b} of {} lines is split {first} + {rest} across pages {} and {}",
                    on.len(),
                    on[0] + 1,
                    on[0] + 2
                ));
            }
        }
    }
    problems
}

#[test]
fn long_letter_flows_onto_a_second_page_without_splitting_the_code_box_or_stranding_a_heading() {
    let f = fx();
    let en = fixture_filing("IOE0912345690");
    let piece = piece_id(&en.receipt, 1);
    // Sweep the added text so that the code box and then every heading
    // crosses the foot of page 1.
    let results: Vec<(usize, Vec<String>, usize, usize)> = (0..=40)
        .into_par_iter()
        .map(|k| {
            let (bytes, code, _) = long_letter(k, Language::En, &f.key);
            let (problems, pages, code_page) = pagination_problems(
                &format!("{k} added paragraphs"),
                &bytes,
                &code,
                Language::En,
                &piece,
            );
            (k, problems, pages, code_page)
        })
        .collect();
    let mut problems: Vec<String> = results.iter().flat_map(|r| r.1.clone()).collect();
    let two_pages: Vec<usize> = results.iter().filter(|r| r.2 == 2).map(|r| r.0).collect();
    assert!(!two_pages.is_empty(), "no variant took two pages");
    assert!(
        results.iter().any(|r| r.2 == 2 && r.3 == 1),
        "no two-page variant moved the code box to page 2; the sweep does not reach it"
    );
    assert!(
        results.iter().any(|r| r.2 == 2 && r.3 == 0),
        "no two-page variant kept the code box on page 1"
    );
    // The Spanish template too.
    let es = fixture_filing("IOE0912345601");
    let (bytes, code, _) = long_letter(14, Language::Es, &f.key);
    let (p, pages, _) = pagination_problems(
        "Spanish, 14 added",
        &bytes,
        &code,
        Language::Es,
        &piece_id(&es.receipt, 1),
    );
    assert_eq!(pages, 2, "the Spanish letter with 14 added paragraphs");
    problems.extend(p);
    assert_no_problems(problems);
}

#[test]
fn long_letters_keep_headings_with_their_text_and_leave_no_single_lines() {
    let f = fx();
    let piece = piece_id(&fixture_filing("IOE0912345690").receipt, 1);
    let problems: Vec<String> = (0..=40)
        .into_par_iter()
        .flat_map_iter(|k| {
            let (bytes, _, blocks) = long_letter(k, Language::En, &f.key);
            keep_problems(
                &format!("{k} added paragraphs"),
                &bytes,
                &blocks,
                Language::En,
                &piece,
            )
        })
        .collect();
    assert_no_problems(problems);
}

/// One row through intake, as the nightly run would read it.
fn intake_row(
    given: &str,
    family: &str,
    line1: &str,
    city: &str,
    state: &str,
    zip: &str,
) -> Outcome {
    let csv = format!(
        "receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state,zip\n\
         IOE0999000003,I-485,2026-11-20,{given},{family},{line1},{city},{state},{zip}\n"
    );
    let mut intake =
        Intake::new(csv.as_bytes(), "inline.csv", batch_date(), default_fit()).unwrap();
    intake.next().unwrap().unwrap()
}

#[test]
fn every_name_line_intake_accepts_fits_the_window() {
    // Forty average letters: accepted, and the letter fits with a barcode.
    match intake_row(
        "Maximiliano",
        "Wróblewski-Castellanos Ortiz",
        "1 Main St",
        "Austin",
        "TX",
        "78701",
    ) {
        Outcome::Valid(filing) => {
            assert_eq!(filing.name_line.chars().count(), 40);
            assert_no_problems(check_with_barcode(&filing));
        }
        Outcome::Rejected(r) => panic!("intake rejects a 40-character name: {r:?}"),
    }
    // Forty W's are 311 pt at 8 pt, wider than the window's 270 pt: intake
    // must reject the row (a clerk can fix it), never accept it and then
    // fail the whole run at layout.
    for (given, family, line1) in [
        ("WWWWWWWWWWWWWWWWWWWW", "WWWWWWWWWWWWWWWWWWW", "1 Main St"),
        ("Ana", "Diaz", "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW ST"),
    ] {
        match intake_row(given, family, line1, "Austin", "TX", "78701") {
            Outcome::Rejected(r) => assert!(
                r.reason.contains("too wide for the envelope window"),
                "{r:?}"
            ),
            Outcome::Valid(f) => panic!(
                "intake accepts a line too wide for the window: {:?}",
                f.address_lines()
            ),
        }
    }
}
