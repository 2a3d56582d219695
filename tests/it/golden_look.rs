//! The golden letters read and look as they did, whatever their bytes.
//!
//! `letters::golden_letters_match_byte_for_byte` and
//! `print_run::golden_print_file_matches_byte_for_byte` hold the bytes; a
//! change to how a letter is drawn (Form XObjects, shared font subsets)
//! rightly changes the bytes, and then only this test says the letters are
//! still the same to a reader. For every golden letter and the golden print
//! file, rendered afresh, it compares:
//!
//! * the text, as `pdftotext -layout` reads it: identical, every page;
//! * page 1, as `pdftoppm` draws it at [`LOOK_DPI`] in gray: pixel by pixel,
//!   allowing only what anti-aliasing moves (see [`PictureTolerance`]);
//! * and Ghostscript reads it without an error or a warning.
//!
//! The references in `tests/golden/look/` were made from the golden PDFs as
//! they stood before the Form XObject work (issue 29), not from fresh
//! renders. `UPDATE_GOLDEN=1` does not touch them; rewrite them from the
//! stored golden PDFs with `UPDATE_GOLDEN_LOOK=1 cargo test --test it
//! golden_look::` only when a letter is meant to read or look different,
//! and review the pictures like code.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use access_letters::filing::{piece_id, ReceiptNumber};
use rayon::prelude::*;

use crate::support::{repo_file, tool};

/// Resolution of the page pictures: enough for every glyph to leave ink.
const LOOK_DPI: &str = "60";

/// How far a fresh picture may differ from its reference: anti-aliasing of
/// an edge moved by a fraction of a pixel, never a mark added or lost.
struct PictureTolerance {
    /// A difference up to this many gray levels is rounding, not counted.
    noise_levels: u8,
    /// No pixel may move more than this: a glyph stroke gained or lost
    /// moves its pixels further, even at this resolution.
    max_levels: u8,
    /// At most this share of pixels may differ beyond the noise.
    max_differing_share: f64,
}

const TOLERANCE: PictureTolerance = PictureTolerance {
    noise_levels: 8,
    max_levels: 40,
    max_differing_share: 0.005,
};

fn look_dir() -> PathBuf {
    repo_file("tests/golden/look")
}

/// What a reader sees of a PDF: its text and a picture of page 1.
struct Look {
    text: String,
    page1_png: Vec<u8>,
}

const PART: &str = "the text and picture comparison of the golden letters";
const INSTALL: &str = "apt-get install poppler-utils";

/// The look of the PDF at `pdf` (its picture drawn as `<picture>.png`), or
/// `None` (a loud skip; a failure under CI) where poppler-utils is not
/// installed.
fn look_of(pdf: &Path, picture: &Path) -> Option<Look> {
    let out = tool(
        "pdftotext",
        &["-layout".as_ref(), pdf.as_os_str(), "-".as_ref()],
        PART,
        INSTALL,
    )?;
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    let text = String::from_utf8(out.stdout).expect("pdftotext writes UTF-8");
    let args = [
        "-r",
        LOOK_DPI,
        "-f",
        "1",
        "-l",
        "1",
        "-gray",
        "-png",
        "-singlefile",
    ];
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.extend([pdf.as_os_str(), picture.as_os_str()]);
    let out = tool("pdftoppm", &all, PART, INSTALL)?;
    assert!(out.status.success(), "pdftoppm {}", pdf.display());
    let page1_png = fs::read(picture.with_extension("png")).expect("pdftoppm wrote the picture");
    Some(Look { text, page1_png })
}

/// An 8-bit gray picture.
struct Gray {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

#[track_caller]
fn decode(bytes: &[u8]) -> Gray {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    pixels.truncate(info.buffer_size());
    // pdftoppm 22 writes `-gray -png` pictures as RGB with three equal
    // channels: keep one.
    match info.color_type {
        png::ColorType::Grayscale => {}
        png::ColorType::Rgb => pixels = pixels.chunks(3).map(|rgb| rgb[1]).collect(),
        other => panic!("a gray picture, not {other:?}"),
    }
    Gray {
        width: info.width,
        height: info.height,
        pixels,
    }
}

/// Why `fresh` does not look like `reference`, if it does not.
fn picture_problem(fresh: &Gray, reference: &Gray) -> Option<String> {
    if (fresh.width, fresh.height) != (reference.width, reference.height) {
        return Some(format!(
            "picture is {}x{}, the reference {}x{}",
            fresh.width, fresh.height, reference.width, reference.height
        ));
    }
    let mut differing = 0usize;
    let mut worst = (0u8, 0usize);
    for (i, (a, b)) in fresh.pixels.iter().zip(&reference.pixels).enumerate() {
        let d = a.abs_diff(*b);
        if d > TOLERANCE.noise_levels {
            differing += 1;
        }
        if d > worst.0 {
            worst = (d, i);
        }
    }
    let share = differing as f64 / fresh.pixels.len() as f64;
    let (x, y) = (worst.1 as u32 % fresh.width, worst.1 as u32 / fresh.width);
    if worst.0 > TOLERANCE.max_levels || share > TOLERANCE.max_differing_share {
        return Some(format!(
            "{differing} pixels ({:.3}%) differ by more than {} levels; the worst by {} at \
             ({x}, {y}) of {}x{} (allowed: {} levels, {:.3}%)",
            share * 100.0,
            TOLERANCE.noise_levels,
            worst.0,
            fresh.width,
            fresh.height,
            TOLERANCE.max_levels,
            TOLERANCE.max_differing_share * 100.0
        ));
    }
    None
}

/// Compares the look of `fresh` (a PDF just rendered, written under
/// `work`) with the reference `name` in [`look_dir`]; with
/// `UPDATE_GOLDEN_LOOK=1`, rewrites the reference from `stored` (the golden
/// PDF in the repository) first. Returns what differs, or `None` when the
/// tools are missing (skipped loudly).
fn compare(name: &str, fresh: &[u8], stored: &Path, work: &Path) -> Option<Vec<String>> {
    let text_ref = look_dir().join(format!("{name}.txt"));
    let png_ref = look_dir().join(format!("{name}-page1.png"));
    if std::env::var_os("UPDATE_GOLDEN_LOOK").is_some_and(|v| v == "1") {
        let look = look_of(stored, &work.join(format!("{name}-stored")))?;
        fs::create_dir_all(look_dir()).unwrap();
        fs::write(&text_ref, &look.text).unwrap();
        fs::write(&png_ref, &look.page1_png).unwrap();
        eprintln!("rewrote {} and {}", text_ref.display(), png_ref.display());
    }
    let path = work.join(format!("{name}.pdf"));
    fs::write(&path, fresh).unwrap();
    let look = look_of(&path, &work.join(format!("{name}-fresh")))?;
    let mut problems = Vec::new();
    if let Some(complaint) = ghostscript_complaint(&path) {
        problems.push(format!("{name}: Ghostscript: {complaint}"));
    }
    let missing = |p: &Path| format!("{} is missing (see this module's docs)", p.display());
    match fs::read_to_string(&text_ref) {
        Ok(expected) if expected == look.text => {}
        Ok(expected) => problems.push(format!(
            "{name}: the text differs from {}:\n{}",
            text_ref.display(),
            first_text_difference(&expected, &look.text)
        )),
        Err(_) => problems.push(missing(&text_ref)),
    }
    match fs::read(&png_ref) {
        Ok(expected) => {
            if let Some(why) = picture_problem(&decode(&look.page1_png), &decode(&expected)) {
                problems.push(format!(
                    "{name}: page 1 does not look like {}: {why} (fresh render: {})",
                    png_ref.display(),
                    path.display()
                ));
            }
        }
        Err(_) => problems.push(missing(&png_ref)),
    }
    Some(problems)
}

/// What Ghostscript says of the PDF at `path` when told to stop at any
/// error or warning, if it says anything (a loud skip where it is not
/// installed).
fn ghostscript_complaint(path: &Path) -> Option<String> {
    let args = [
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dPDFSTOPONERROR",
        "-dPDFSTOPONWARNING",
        "-sDEVICE=nullpage",
    ];
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.push(path.as_os_str());
    let out = tool(
        "gs",
        &all,
        "the Ghostscript check of the golden letters",
        "apt-get install ghostscript",
    )?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (!out.status.success() || !said.trim().is_empty()).then_some(said)
}

/// The first line that differs, both ways, for the failure message.
fn first_text_difference(expected: &str, actual: &str) -> String {
    let mut lines = expected.lines().zip(actual.lines()).enumerate();
    match lines.find(|(_, (a, b))| a != b) {
        Some((n, (a, b))) => format!("line {}:\n  was: {a:?}\n  now: {b:?}", n + 1),
        None => format!(
            "{} lines before, {} now",
            expected.lines().count(),
            actual.lines().count()
        ),
    }
}

#[test]
fn golden_letters_read_and_look_as_before() {
    let work = tempfile::tempdir().unwrap();
    let results: Vec<Option<Vec<String>>> = crate::letters::GOLDEN
        .par_iter()
        .map(|&(receipt, barcode, _)| {
            let piece = piece_id(&ReceiptNumber::parse(receipt).unwrap(), 1);
            let fresh = crate::letters::golden_letter(receipt, barcode);
            let stored = repo_file(&format!("tests/golden/{piece}.pdf"));
            compare(&piece, &fresh, &stored, work.path())
        })
        .collect();
    let problems: Vec<String> = results.into_iter().flatten().flatten().collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn golden_print_file_reads_and_looks_as_before() {
    let wd = crate::support::Workdir::new();
    let (_, batch) = crate::print_run::print_fixtures(&wd, &[]);
    let first = crate::support::walk(&batch.path("print"))
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("-001.pdf"))
        .expect("the first print file");
    let fresh = fs::read(first).unwrap();
    let stored = repo_file("tests/golden/print/fixtures-001.pdf");
    let work = tempfile::tempdir().unwrap();
    if let Some(problems) = compare("print-fixtures-001", &fresh, &stored, work.path()) {
        assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    }
}
