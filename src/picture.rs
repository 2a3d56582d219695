//! Pictures of letters (picture proofs): page 1 as a PNG, with the access
//! code masked. Not [`crate::letter_proof`], the digest a mailed letter is
//! proven by.
//!
//! Operators and template authors look at a letter as a picture instead of
//! opening PDFs one at a time: `access-letters proof RECEIPT --png FILE` draws
//! an issued letter again from the ledger, rebuilt and proven as `reprint`
//! rebuilds it ([`crate::rebuild`]), `preview --png FILE` draws a template
//! author's test letter, and the batch report embeds small
//! [`thumbnail_png`]s.
//!
//! # How a proof is drawn
//!
//! The letter is rendered again through the same path that made it
//! ([`crate::issue`] and [`crate::render`]), but with [`CodeDisplay::Masked`]:
//! the code box then holds [`MASKED_CODE`] (`XXXX-XXXX-XXXX`) instead of the
//! code, so the real code never reaches the picture, not even as pixels. That
//! masked PDF is a [`ProofPdf`], a type no batch, ledger or reprint accepts,
//! so it can never be written as a letter. The code is shown only when asked
//! for ([`PictureOptions::show_code`]) and only for letters made with a test
//! key; a production key's code is refused with a sentence saying why.
//!
//! The PDF is then rasterized in-process by [`hayro`], a pure-Rust PDF
//! rasterizer (maintained, on crates.io, drawing with `vello_cpu`). The choice
//! over the alternatives:
//! - no external program (pdftoppm, Ghostscript, a browser) to install,
//!   configure or keep patched on the batch host, and no child process;
//! - it draws the very PDF that is mailed, with the subset fonts embedded in
//!   it, so the picture cannot drift from the letter the way a second drawing
//!   of the layout (with tiny-skia or resvg) could;
//! - it needs no system fonts: our letters embed every glyph they use, so the
//!   crate's built-in standard fonts are left out (`default-features = false`)
//!   and a font it could not load is an error, not a silently blank line.
//!
//! The PNG is 8-bit grayscale (letters are printed in black and grays), at
//! [`DEFAULT_DPI`] unless asked otherwise, with the resolution recorded in
//! its `pHYs` chunk and no text chunks (`tEXt`, `zTXt`, `iTXt`) at all: the
//! file holds pixels and nothing a code could hide in.

use std::sync::{Arc, Mutex};

use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::{InterpreterSettings, InterpreterWarning};
use hayro::hayro_syntax::page::Page;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{render_into, RenderCache, RenderSettings};

use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::issue::{proof_pdf, IssueContext, IssueError, Planned};
use crate::key::{Key, KeyRing};
use crate::ledger::Ledger;
use crate::rebuild::{self, RebuildError};
use crate::render::{LetterJob, RenderError, Renderer};

pub use crate::render::{CodeDisplay, ProofPdf, MASKED_CODE};

/// Resolution of a proof unless asked otherwise: a page is 850 x 1100 pixels.
pub const DEFAULT_DPI: u32 = 100;
/// Resolution of a batch report's thumbnails: a page is 340 x 440 pixels.
pub const THUMBNAIL_DPI: u32 = 40;
/// Lowest resolution a proof is drawn at; below it nothing is legible.
pub const MIN_DPI: u32 = 20;
/// Highest resolution a proof is drawn at: 5100 x 6600 pixels, about 34 MB
/// of pixels while drawing, far more than a screen needs.
pub const MAX_DPI: u32 = 600;
/// Points per inch, the PDF's unit of length.
const PT_PER_IN: f32 = 72.0;
/// Inches per metre, for the PNG's `pHYs` chunk (pixels per metre).
const IN_PER_M: f64 = 1.0 / 0.0254;

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("a proof is drawn at {MIN_DPI} to {MAX_DPI} dots per inch, not {0}")]
    Dpi(u32),
    #[error(
        "showing the code is refused: {letter} was made with the production key {key_id}, and a \
picture shows the code only for letters made with a test key; draw it with the code masked"
    )]
    ShowCodeRefused { letter: String, key_id: String },
    #[error("the letter's PDF cannot be drawn as a picture: {0}")]
    Unreadable(String),
    #[error("the picture cannot be encoded as PNG: {0}")]
    Png(#[from] png::EncodingError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
}

/// How a proof is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PictureOptions {
    /// Resolution, [`MIN_DPI`] to [`MAX_DPI`].
    pub dpi: u32,
    /// Masked unless the code is asked for (test keys only).
    pub code: CodeDisplay,
}

impl Default for PictureOptions {
    fn default() -> PictureOptions {
        PictureOptions {
            dpi: DEFAULT_DPI,
            code: CodeDisplay::Masked,
        }
    }
}

impl PictureOptions {
    /// Options from the command line: `--dpi N` (or the default) and
    /// `--show-code`.
    pub fn new(dpi: Option<u32>, show_code: bool) -> PictureOptions {
        PictureOptions {
            dpi: dpi.unwrap_or(DEFAULT_DPI),
            code: if show_code {
                CodeDisplay::Shown
            } else {
                CodeDisplay::Masked
            },
        }
    }

    /// Whether the code is asked for.
    pub fn show_code(&self) -> bool {
        self.code == CodeDisplay::Shown
    }

    /// Refuses to show a code made with a production key; `letter` names the
    /// letter in the refusal.
    pub fn check_key(&self, key: &Key, letter: &str) -> Result<(), PictureError> {
        if self.show_code() && key.mode() == crate::key::KeyMode::Production {
            return Err(PictureError::ShowCodeRefused {
                letter: letter.to_string(),
                key_id: key.id().to_string(),
            });
        }
        Ok(())
    }

    pub fn check_dpi(&self) -> Result<(), PictureError> {
        if (MIN_DPI..=MAX_DPI).contains(&self.dpi) {
            Ok(())
        } else {
            Err(PictureError::Dpi(self.dpi))
        }
    }
}

/// A proof of an issued letter, drawn from the ledger.
#[derive(Debug)]
pub struct IssuedPicture {
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    pub piece_id: String,
    pub issue_no: u32,
    pub status: IssuanceStatus,
}

/// Where an issued letter is rebuilt from: the ledger, the keys that made
/// its codes, and the templates and configuration.
pub struct LedgerSource<'a> {
    pub ledger: &'a dyn Ledger,
    pub keys: &'a KeyRing,
    pub renderer: &'a Renderer,
}

/// Draws page 1 of the letter issued to `receipt` (issue `issue_no`, or the
/// active issuance), rebuilt and proven as `reprint` rebuilds it
/// ([`crate::rebuild`]), then drawn with the code masked unless `options`
/// ask for it.
pub fn issued_picture(
    source: &LedgerSource<'_>,
    receipt: &ReceiptNumber,
    issue_no: Option<u32>,
    options: &PictureOptions,
) -> Result<IssuedPicture, PictureError> {
    options.check_dpi()?;
    let recorded = rebuild::find(source.ledger, source.keys, receipt, issue_no)?;
    let issued = &recorded.issuance.issued;
    options.check_key(recorded.key, &issued.piece_id)?;
    recorded.rebuild(source.renderer)?;
    let ctx = recorded.context(source.renderer);
    let pdf = proof_pdf(&ctx, &recorded.planned(), options.code)?;
    Ok(IssuedPicture {
        png: png_of_page1(pdf.bytes(), options.dpi)?,
        piece_id: issued.piece_id.clone(),
        issue_no: issued.issue_no,
        status: recorded.issuance.status,
    })
}

/// Draws page 1 of the letter `job` describes (for `preview --png`); `key`
/// is the key that derived `job.code`.
pub fn letter_png(
    renderer: &Renderer,
    key: &Key,
    job: &LetterJob<'_>,
    options: &PictureOptions,
) -> Result<Vec<u8>, PictureError> {
    options.check_dpi()?;
    options.check_key(key, &format!("the letter for {}", job.filing.receipt))?;
    let pdf = renderer.render_proof(job, options.code)?;
    png_of_page1(pdf.bytes(), options.dpi)
}

/// A small picture ([`THUMBNAIL_DPI`]) of `planned`'s letter with its code
/// masked, whatever the key: for the batch report, which embeds one per
/// language as a `data:image/png;base64,...` URI.
pub fn thumbnail_png(ctx: &IssueContext<'_>, planned: &Planned) -> Result<Vec<u8>, PictureError> {
    let pdf = proof_pdf(ctx, planned, CodeDisplay::Masked)?;
    png_of_page1(pdf.bytes(), THUMBNAIL_DPI)
}

/// Rasterizes page 1 of a PDF to a grayscale PNG at `dpi`.
pub fn png_of_page1(pdf: &[u8], dpi: u32) -> Result<Vec<u8>, PictureError> {
    PictureOptions::new(Some(dpi), false).check_dpi()?;
    let pdf = Pdf::new(pdf.to_vec()).map_err(|e| {
        PictureError::Unreadable(
            match e {
                LoadPdfError::Decryption(_) => "it is encrypted",
                _ => "it is not a PDF the rasterizer can read",
            }
            .to_string(),
        )
    })?;
    let Some(page) = pdf.pages().first() else {
        return Err(PictureError::Unreadable("it has no page".to_string()));
    };
    let warnings: Arc<Mutex<Vec<InterpreterWarning>>> = Arc::default();
    let sink = Arc::clone(&warnings);
    let settings = InterpreterSettings {
        warning_sink: Arc::new(move |w| sink.lock().unwrap_or_else(|p| p.into_inner()).push(w)),
        ..InterpreterSettings::default()
    };
    let pixmap = draw_page(page, &settings, dpi);
    let warnings = warnings.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(w) = warnings.first() {
        // A font that cannot be loaded draws nothing: a proof missing lines
        // would mislead whoever reads it.
        return Err(PictureError::Unreadable(format!(
            "the rasterizer reports {w:?}"
        )));
    }
    encode_gray(&pixmap, dpi)
}

/// Draws `page` on white at `dpi`. The pixel size is rounded, not truncated
/// (hayro's own `render` truncates, making US Letter 849 pixels wide at 100
/// dpi), and the scale is exactly `dpi` / 72.
fn draw_page(page: &Page<'_>, settings: &InterpreterSettings, dpi: u32) -> Pixmap {
    let scale = f64::from(dpi) / f64::from(PT_PER_IN);
    let (width_pt, height_pt) = page.render_dimensions();
    // At most MAX_DPI: a US Letter page is 6600 pixels high, well inside u16.
    let px = |pt: f32| (f64::from(pt) * scale).round() as u16;
    let mut ctx = RenderContext::new(px(width_pt), px(height_pt));
    let transform = Affine::scale(scale) * page.initial_transform(true).to_kurbo();
    render_into(
        page,
        &RenderCache::new(),
        settings,
        &RenderSettings::default(),
        &mut ctx,
        transform,
    );
    ctx.flush();
    let mut pixmap = Pixmap::new(ctx.width(), ctx.height());
    ctx.render_with(
        &mut pixmap,
        &mut Resources::default(),
        RasterizerSettings {
            target_init: TargetInit::Clear(WHITE),
            ..RasterizerSettings::default()
        },
    );
    pixmap
}

/// Encodes an opaque pixmap as 8-bit grayscale PNG with its resolution and
/// no other metadata.
fn encode_gray(pixmap: &Pixmap, dpi: u32) -> Result<Vec<u8>, PictureError> {
    // ITU-R BT.601 luma in 8.8 fixed point; the weights add up to 256, so
    // white stays 255. The background is opaque white, so premultiplied
    // values are the colour itself.
    let gray: Vec<u8> = pixmap
        .data()
        .iter()
        .map(|p| {
            ((77 * u32::from(p.r) + 150 * u32::from(p.g) + 29 * u32::from(p.b) + 128) >> 8) as u8
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(
        &mut out,
        u32::from(pixmap.width()),
        u32::from(pixmap.height()),
    );
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let per_metre = (f64::from(dpi) * IN_PER_M).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: per_metre,
        yppu: per_metre,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&gray)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_masked_at_100_dpi_unless_asked_otherwise() {
        let default = PictureOptions::default();
        assert_eq!(default, PictureOptions::new(None, false));
        assert_eq!(default.dpi, DEFAULT_DPI);
        assert!(!default.show_code());
        let asked = PictureOptions::new(Some(300), true);
        assert_eq!((asked.dpi, asked.code), (300, CodeDisplay::Shown));
    }

    #[test]
    fn dpi_is_checked_at_both_ends() {
        for (dpi, ok) in [
            (MIN_DPI - 1, false),
            (MIN_DPI, true),
            (MAX_DPI, true),
            (MAX_DPI + 1, false),
        ] {
            assert_eq!(
                PictureOptions::new(Some(dpi), false).check_dpi().is_ok(),
                ok,
                "{dpi}"
            );
        }
        assert!(matches!(
            png_of_page1(b"%PDF-1.7", 0),
            Err(PictureError::Dpi(0))
        ));
    }

    #[test]
    fn something_that_is_not_a_pdf_is_refused_with_a_sentence() {
        let err = png_of_page1(b"not a pdf at all", DEFAULT_DPI).unwrap_err();
        assert!(matches!(err, PictureError::Unreadable(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("the letter's PDF cannot be drawn"),
            "{err}"
        );
    }

    #[test]
    fn show_code_is_refused_for_a_production_key_only() {
        let show = PictureOptions::new(None, true);
        let prod = Key::generate("prod-2026-11-25").unwrap();
        let test = Key::from_parts("test-proof", [7; crate::key::SECRET_LEN_BYTES]).unwrap();
        assert_eq!(test.mode(), crate::key::KeyMode::Test);
        assert!(show.check_key(&test, "a letter").is_ok());
        let err = show.check_key(&prod, "IOE0912345601-01").unwrap_err();
        assert!(err.to_string().contains("IOE0912345601-01"), "{err}");
        assert!(err.to_string().contains("prod-2026-11-25"), "{err}");
        assert!(PictureOptions::default()
            .check_key(&prod, "a letter")
            .is_ok());
    }
}
