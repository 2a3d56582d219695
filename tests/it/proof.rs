//! Picture proofs: `access-letters proof RECEIPT --png FILE`, `preview
//! --png FILE` and the library's [`access_letters::picture`].
//!
//! The reference picture `tests/golden/proof-<piece-id>.png` is the masked
//! proof of a golden letter; rewrite it with
//! `UPDATE_GOLDEN=1 cargo test --test it proof::` and look at it before
//! committing. Pictures are compared with a small tolerance, since a
//! rasterizer may round a few edge pixels differently on another CPU.

use std::ffi::OsString;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use access_letters::code::derive;
use access_letters::config::Config;
use access_letters::filing::{piece_id, Filing};
use access_letters::intake::{Intake, Outcome};
use access_letters::issue::{IssueContext, Planned};
use access_letters::key::Key;
use access_letters::layout::CODE_SIZE_PT;
use access_letters::letter::{NoticeDates, Templates};
use access_letters::picture::{
    letter_png, png_of_page1, thumbnail_png, PictureError, PictureOptions, DEFAULT_DPI,
    THUMBNAIL_DPI,
};
use access_letters::render::{LetterJob, Renderer};
use chrono::NaiveDate;

use crate::support::pdf::{read_pdf, BoxPt};
use crate::support::*;

/// The golden letter whose proof is the reference picture (Spanish, I-485).
const RECEIPT: &str = "IOE0912345601";
/// A pixel "differs" when its gray level moves by more than this.
const PIXEL_TOLERANCE_LEVELS: u8 = 32;
/// At most this share of pixels may differ from the reference picture.
const MAX_DIFFERING_SHARE: f64 = 0.005;
/// Page height in points: PDF y runs up from the bottom.
const PAGE_HEIGHT_PT: f64 = 792.0;
/// Points per inch.
const PT_PER_IN: f64 = 72.0;

/// A decoded 8-bit grayscale PNG.
struct Gray {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Gray {
    fn at(&self, x: u32, y: u32) -> u8 {
        self.pixels[(y * self.width + x) as usize]
    }
}

#[track_caller]
fn decode(bytes: &[u8]) -> Gray {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    pixels.truncate(info.buffer_size());
    Gray {
        width: info.width,
        height: info.height,
        pixels,
    }
}

/// Pixels (of `inside` or of all) whose gray levels differ by more than the tolerance.
fn differing(a: &Gray, b: &Gray, inside: impl Fn(u32, u32) -> bool) -> (usize, usize) {
    assert_eq!((a.width, a.height), (b.width, b.height), "picture sizes");
    let (mut seen, mut differ) = (0, 0);
    for y in 0..a.height {
        for x in 0..a.width {
            if inside(x, y) {
                seen += 1;
                differ += usize::from(a.at(x, y).abs_diff(b.at(x, y)) > PIXEL_TOLERANCE_LEVELS);
            }
        }
    }
    (differ, seen)
}

fn reference_path() -> PathBuf {
    repo_file(&format!("tests/golden/proof-{RECEIPT}-01.png"))
}

/// Compares a proof with the reference picture, or rewrites the reference
/// when `UPDATE_GOLDEN=1` and `may_update`.
#[track_caller]
fn assert_like_reference(png_bytes: &[u8], may_update: bool) {
    let path = reference_path();
    if may_update && std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::write(&path, png_bytes).unwrap();
        eprintln!("rewrote {}", path.display());
    }
    let reference = decode(&fs::read(&path).expect("the reference picture exists"));
    let proof = decode(png_bytes);
    assert_eq!(
        (proof.width, proof.height),
        (850, 1100),
        "US Letter at 100 dpi"
    );
    let (differ, seen) = differing(&proof, &reference, |_, _| true);
    let share = differ as f64 / seen as f64;
    assert!(
        share < MAX_DIFFERING_SHARE,
        "{differ} of {seen} pixels ({:.3}%) differ from {} by more than {PIXEL_TOLERANCE_LEVELS} levels",
        share * 100.0,
        path.display()
    );
    // The code box is a small part of the page: it must match on its own,
    // so a proof that showed the code would not pass for the reference.
    let (x0, y0, x1, y1) = code_box_px(&golden_pdf(), DEFAULT_DPI);
    let (differ, seen) = differing(&proof, &reference, |x, y| {
        (x0..x1).contains(&x) && (y0..y1).contains(&y)
    });
    assert!(
        (differ as f64) < seen as f64 * MAX_DIFFERING_SHARE,
        "{differ} of the code box's {seen} pixels differ from {}",
        path.display()
    );
}

fn batch_date() -> NaiveDate {
    NaiveDate::parse_from_str(BATCH_DATE, "%Y-%m-%d").unwrap()
}

fn fixture_filing(receipt: &str) -> Filing {
    let fit = access_letters::layout::window_fit(&Config::default_config().envelope).unwrap();
    Intake::open(&fixtures_csv(), batch_date(), fit)
        .unwrap()
        .filter_map(|o| match o.unwrap() {
            Outcome::Valid(f) if f.receipt.as_str() == receipt => Some(f),
            _ => None,
        })
        .next()
        .unwrap_or_else(|| panic!("{receipt} is a valid fixture row"))
}

fn renderer() -> Renderer {
    Renderer::new(Templates::builtin(), Config::default_config())
}

fn golden_pdf() -> Vec<u8> {
    fs::read(repo_file(&format!("tests/golden/{RECEIPT}-01.pdf"))).unwrap()
}

/// `proof` with `--out` and `--key` (the test key unless `extra` names one).
fn proof(wd: &Workdir, png: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<OsString> = ["proof", RECEIPT, "--png"].map(OsString::from).to_vec();
    args.push(png.into());
    args.extend(["--out".into(), wd.out().into()]);
    if !extra.contains(&"--key") {
        args.extend(["--key".into(), test_key().into()]);
    }
    args.extend(extra.iter().map(OsString::from));
    wd.cmd(args)
}

/// The box the access code's glyphs occupy on page 1, in pixels at `dpi`.
fn code_box_px(pdf: &[u8], dpi: u32) -> (u32, u32, u32, u32) {
    let page = &read_pdf(pdf)[0];
    let runs: Vec<BoxPt> = page
        .runs
        .iter()
        .filter(|r| (r.size - f64::from(CODE_SIZE_PT)).abs() < 0.01)
        .map(|r| r.bbox)
        .collect();
    assert!(!runs.is_empty(), "the code is drawn at {CODE_SIZE_PT} pt");
    let corners: Vec<(f64, f64)> = runs
        .iter()
        .flat_map(|b| [(b.x0, b.y0), (b.x1, b.y1)])
        .collect();
    let b = BoxPt::of_points(&corners);
    let px = |pt: f64| (pt * f64::from(dpi) / PT_PER_IN) as u32;
    (
        px(b.x0),
        px(PAGE_HEIGHT_PT - b.y1),
        px(b.x1) + 1,
        px(PAGE_HEIGHT_PT - b.y0) + 1,
    )
}

/// The chunk types of a PNG file, in order.
fn chunk_types(png: &[u8]) -> Vec<String> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let mut types = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        types.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
        at += 12 + len;
    }
    assert_eq!(at, png.len(), "chunks fill the file");
    types
}

#[test]
fn proof_of_a_golden_letter_matches_the_reference_picture() {
    let key = Key::load(&test_key()).unwrap();
    let renderer = renderer();
    let filing = fixture_filing(RECEIPT);
    let code = derive(&key, &filing.receipt, 1);
    let job = LetterJob {
        filing: &filing,
        issue_no: 1,
        code: &code,
        dates: NoticeDates::new(batch_date(), renderer.config.codes.valid_days),
        barcode: None,
        mode: access_letters::key::KeyMode::Test,
    };
    // The job is the golden letter's: the picture is of that very letter.
    assert_eq!(renderer.render(&job).unwrap().bytes, golden_pdf());
    let png = letter_png(&renderer, &key, &job, &PictureOptions::default()).unwrap();
    assert_like_reference(&png, true);
}

#[test]
fn proof_from_the_ledger_is_the_reference_picture_and_private() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    // The letter printed is the golden letter, page content for page content.
    assert_eq!(
        batch.printed_digest_for(RECEIPT),
        letter_digest(&golden_pdf())
    );
    let png = wd.path("proof.png");
    let out = proof(&wd, &png, &[]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("proof.png"), "{out:?}");
    assert!(out.stdout.contains("masked"), "{out:?}");
    assert_eq!(mode(&png), 0o600);
    assert_like_reference(&fs::read(&png).unwrap(), false);
}

#[test]
fn preview_png_is_the_reference_picture() {
    let wd = Workdir::new();
    let png = wd.path("preview.png");
    let input = fixtures_csv();
    let out = wd.cmd([
        "preview",
        "--input",
        input.to_str().unwrap(),
        "--receipt",
        RECEIPT,
        "--png",
        png.to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
    ]);
    out.expect_code(EXIT_OK);
    assert_like_reference(&fs::read(&png).unwrap(), false);
    assert!(!wd.out().exists(), "preview touches no ledger or batch");
}

#[test]
fn masked_code_box_differs_from_the_shown_code_and_nothing_else_does() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let (masked, shown) = (wd.path("masked.png"), wd.path("shown.png"));
    proof(&wd, &masked, &[]).expect_code(EXIT_OK);
    proof(&wd, &shown, &["--show-code"]).expect_code(EXIT_OK);
    let (masked, shown) = (
        decode(&fs::read(masked).unwrap()),
        decode(&fs::read(shown).unwrap()),
    );
    let (x0, y0, x1, y1) = code_box_px(&golden_pdf(), DEFAULT_DPI);
    let in_box = |x, y| (x0..x1).contains(&x) && (y0..y1).contains(&y);
    let (differ, seen) = differing(&masked, &shown, in_box);
    assert!(
        differ * 10 > seen,
        "only {differ} of the code box's {seen} pixels differ between masked and shown"
    );
    let (differ, _) = differing(&masked, &shown, |x, y| !in_box(x, y));
    assert_eq!(differ, 0, "pixels outside the code box differ");
}

#[test]
fn no_png_chunk_holds_the_code() {
    let wd = Workdir::new();
    let (_, batch) = wd.run_fixtures();
    let code = batch.code_for(RECEIPT);
    for (name, extra) in [("masked.png", &[][..]), ("shown.png", &["--show-code"][..])] {
        let path = wd.path(name);
        proof(&wd, &path, extra).expect_code(EXIT_OK);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(
            chunk_types(&bytes),
            ["IHDR", "pHYs", "IDAT", "IEND"],
            "{name}"
        );
        assert_no_code_in(std::slice::from_ref(&code), &bytes, name);
    }
    for out in wd.transcript() {
        let what = format!("the output of{out:?}");
        assert_no_code_in(std::slice::from_ref(&code), out.all().as_bytes(), &what);
    }
}

#[test]
fn show_code_with_a_production_key_is_refused() {
    let wd = Workdir::new();
    let key = wd.production_key("prod.key");
    wd.run_fixtures_with_key(&key).expect_code(EXIT_REJECTS);
    let key = key.to_str().unwrap();
    let png = wd.path("proof.png");
    let out = proof(&wd, &png, &["--key", key, "--show-code"]);
    out.expect_code(EXIT_FAILED);
    // The library names the thing, the command line its flag.
    assert!(
        out.stderr
            .contains("--show-code: showing the code is refused"),
        "{out:?}"
    );
    assert!(out.stderr.contains("production key"), "{out:?}");
    assert!(!png.exists(), "nothing written");
    // Masked, a production letter's proof is drawn.
    proof(&wd, &png, &["--key", key]).expect_code(EXIT_OK);
    assert_eq!(decode(&fs::read(&png).unwrap()).width, 850);
}

#[test]
fn show_code_refusal_in_the_library_names_the_key() {
    let key = Key::generate("prod-2026-11-25").unwrap();
    let renderer = renderer();
    let filing = fixture_filing(RECEIPT);
    let code = derive(&key, &filing.receipt, 1);
    let job = LetterJob {
        filing: &filing,
        issue_no: 1,
        code: &code,
        dates: NoticeDates::new(batch_date(), 90),
        barcode: None,
        mode: access_letters::key::KeyMode::Production,
    };
    let err = letter_png(&renderer, &key, &job, &PictureOptions::new(None, true)).unwrap_err();
    assert!(matches!(err, PictureError::ShowCodeRefused { .. }), "{err}");
    assert!(err.to_string().contains("prod-2026-11-25"), "{err}");
    assert!(
        !err.to_string().contains("--"),
        "no flag in the library: {err}"
    );
}

#[test]
fn thumbnail_is_small_masked_and_carries_no_text() {
    let key = Key::load(&test_key()).unwrap();
    let renderer = renderer();
    let ctx = IssueContext {
        key: &key,
        renderer: &renderer,
        batch_id: "2026-11-25-000000",
        dates: NoticeDates::new(batch_date(), 90),
    };
    let planned = Planned {
        filing: fixture_filing(RECEIPT),
        issue_no: 1,
        serial: None,
    };
    let png = thumbnail_png(&ctx, &planned).unwrap();
    assert_eq!(chunk_types(&png), ["IHDR", "pHYs", "IDAT", "IEND"]);
    let thumb = decode(&png);
    assert_eq!((thumb.width, thumb.height), (340, 440));
    assert!(png.len() < 40_000, "{} bytes", png.len());
    // The same letter with the code shown differs at 40 dpi too.
    let shown = decode(&png_of_page1(&golden_pdf(), THUMBNAIL_DPI).unwrap());
    let (differ, _) = differing(&thumb, &shown, |_, _| true);
    assert!(differ > 0, "the thumbnail shows the code");
    let piece = piece_id(&planned.filing.receipt, 1);
    assert_eq!(piece, format!("{RECEIPT}-01"));
}

#[test]
fn dpi_outside_the_range_is_refused_before_drawing() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let png = wd.path("proof.png");
    for dpi in ["0", "5000"] {
        let out = proof(&wd, &png, &["--dpi", dpi]);
        out.expect_code(EXIT_FAILED);
        assert!(out.stderr.contains("dots per inch"), "{out:?}");
        assert!(!png.exists());
    }
    proof(&wd, &png, &["--dpi", "50"]).expect_code(EXIT_OK);
    assert_eq!(decode(&fs::read(&png).unwrap()).width, 425);
}

#[test]
fn proof_of_a_receipt_never_issued_fails_clearly() {
    let wd = Workdir::new();
    wd.run_fixtures();
    let png = wd.path("proof.png");
    let out = wd.cmd([
        OsString::from("proof"),
        "XYZ0000000000".into(),
        "--png".into(),
        png.clone().into(),
        "--out".into(),
        wd.out().into(),
        "--key".into(),
        test_key().into(),
    ]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("never been issued"), "{out:?}");
    assert!(!png.exists());
}

/// One rebuild-and-prove path: a letter whose templates changed since it
/// was mailed is refused by `proof` and `reprint` with the same sentence.
#[test]
fn proof_and_reprint_refuse_a_changed_letter_with_one_sentence() {
    let wd = Workdir::new();
    wd.run_fixtures();
    for name in ["letter.en.tera", "letter.es.tera"] {
        let text = fs::read_to_string(repo_file(&format!("templates/{name}"))).unwrap();
        let edited = text
            .replace("Estimado(a)", "Estimado/a")
            .replace("Dear", "Dear,");
        assert_ne!(edited, text, "{name} was edited");
        wd.write(&format!("edited/{name}"), edited);
    }
    let templates = wd.path("edited");
    let templates = templates.to_str().unwrap();
    let png = wd.path("proof.png");
    let pictured = proof(&wd, &png, &["--templates", templates]);
    pictured.expect_code(EXIT_FAILED);
    let to = wd.path("reprint.pdf");
    let reprinted = wd.cmd([
        "reprint",
        RECEIPT,
        "--templates",
        templates,
        "--to",
        to.to_str().unwrap(),
    ]);
    reprinted.expect_code(EXIT_FAILED);
    assert!(
        pictured.stderr.contains("differs from the one mailed"),
        "{pictured:?}"
    );
    assert_eq!(pictured.stderr, reprinted.stderr, "one path, one sentence");
    assert!(!png.exists() && !to.exists(), "nothing written");
}
