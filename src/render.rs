//! One letter, start to finish: words from the template, placement from the
//! layout, bytes from the PDF stage.
//!
//! A letter is a pure function of (filing, access code, issue number, batch
//! date, templates, configuration). That single property is what gives golden
//! tests, byte-identical reprints and crash recovery by re-rendering, and it
//! lets a run render letters on any thread in any order.
//!
//! The same path also draws the PDF behind a picture proof
//! ([`crate::picture`]): [`Renderer::render_proof`] can put [`MASKED_CODE`] in
//! place of the code. Its output is a [`ProofPdf`], not a [`RenderedLetter`],
//! so a masked render cannot be written, mailed or recorded as a letter.

use crate::code::AccessCode;
use crate::config::Config;
use crate::filing::{piece_id, Filing, Language};
use crate::imb::Barcode;
use crate::key::KeyMode;
use crate::layout::{layout, LayoutError, LetterParts, Page};
use crate::letter::{long_date, LetterError, LiteralRuns, NoticeDates, Templates};
use crate::pdf::{render as render_pdf, PdfMeta, RenderedLetter};

/// What a letter says besides the filing itself.
pub struct LetterJob<'a> {
    pub filing: &'a Filing,
    pub issue_no: u32,
    pub code: &'a AccessCode,
    pub dates: NoticeDates,
    pub barcode: Option<&'a Barcode>,
    /// The key's kind: a test key's letter carries a SPECIMEN watermark.
    pub mode: KeyMode,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Letter(#[from] LetterError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// What a masked proof shows in place of the access code.
pub const MASKED_CODE: &str = "XXXX-XXXX-XXXX";

/// How the access code appears on the page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CodeDisplay {
    /// The code itself, as on every letter that is mailed or reprinted.
    #[default]
    Shown,
    /// [`MASKED_CODE`] in its place, for picture proofs only.
    Masked,
}

/// The PDF of a letter drawn for a picture proof, never a letter itself:
/// it has no place in a batch, the ledger or a reprint.
pub struct ProofPdf {
    bytes: Vec<u8>,
    display: CodeDisplay,
}

impl ProofPdf {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn display(&self) -> CodeDisplay {
        self.display
    }
}

/// Its bytes may hold a code (when shown): only their length is printed.
impl std::fmt::Debug for ProofPdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofPdf")
            .field("bytes", &self.bytes.len())
            .field("display", &self.display)
            .finish()
    }
}

/// Templates and configuration, loaded once and shared by every thread.
pub struct Renderer {
    pub templates: Templates,
    pub config: Config,
    /// The literal runs of each language's template (English, Spanish),
    /// with this configuration's run-wide values: what is fixed.
    literals: [LiteralRuns; 2],
}

impl Renderer {
    pub fn new(templates: Templates, config: Config) -> Renderer {
        let literals = [Language::En, Language::Es].map(|l| templates.literal_runs(l, &config));
        Renderer {
            templates,
            config,
            literals,
        }
    }

    fn literal_runs(&self, language: Language) -> &LiteralRuns {
        match language {
            Language::En => &self.literals[0],
            Language::Es => &self.literals[1],
        }
    }

    /// Renders one letter to PDF bytes.
    pub fn render(&self, job: &LetterJob<'_>) -> Result<RenderedLetter, RenderError> {
        self.draw(job, CodeDisplay::Shown)
    }

    /// Renders the PDF behind a picture proof: the letter of `job`, its code
    /// shown or masked.
    pub fn render_proof(
        &self,
        job: &LetterJob<'_>,
        display: CodeDisplay,
    ) -> Result<ProofPdf, RenderError> {
        let letter = self.draw(job, display)?;
        Ok(ProofPdf {
            bytes: letter.bytes,
            display,
        })
    }

    /// Renders one letter as versions before print forms did (see
    /// `pdf::render_legacy`): only to prove a letter they recorded.
    pub fn render_legacy(&self, job: &LetterJob<'_>) -> Result<RenderedLetter, RenderError> {
        let (pages, meta) = self.lay_out(job, CodeDisplay::Shown)?;
        Ok(crate::pdf::render_legacy(&pages, &meta))
    }

    fn draw(
        &self,
        job: &LetterJob<'_>,
        display: CodeDisplay,
    ) -> Result<RenderedLetter, RenderError> {
        let (pages, meta) = self.lay_out(job, display)?;
        Ok(render_pdf(&pages, &meta))
    }

    /// The letter of `job` laid out in pages, with its document information:
    /// everything but the PDF bytes (a print file draws these pages itself).
    pub fn lay_out(
        &self,
        job: &LetterJob<'_>,
        display: CodeDisplay,
    ) -> Result<(Vec<Page>, PdfMeta), RenderError> {
        let filing = job.filing;
        let literal = self.literal_runs(filing.language);
        let text = self
            .templates
            .render_marked(filing, job.dates, &self.config, Some(literal))?;
        let piece = piece_id(&filing.receipt, job.issue_no);
        let notice_date = long_date(job.dates.notice, filing.language);
        let expires_on = long_date(job.dates.expires_on, filing.language);
        // The only place a code is revealed: it goes onto the page, nowhere else.
        let code = match display {
            CodeDisplay::Shown => job.code.reveal_for_letter(),
            CodeDisplay::Masked => MASKED_CODE.to_string(),
        };
        let pages = layout(&LetterParts {
            text: &text,
            filing,
            code: &code,
            notice_date: &notice_date,
            expires_on: &expires_on,
            piece_id: &piece,
            barcode: job.barcode,
            mode: job.mode,
            config: &self.config,
        })?;
        let meta = PdfMeta {
            title: format!("{} {}", text.slot("title"), filing.receipt),
            subject: format!("{} {}", filing.form, piece),
            author: self.config.agency.name.clone(),
            identifier: piece,
            date: job.dates.notice,
        };
        Ok((pages, meta))
    }
}
