//! Preview: one letter for template authors, with no ledger.
//!
//! Renders the letter a filing row would get as issue 1, through the same
//! issue path as the nightly run, with a test key only, so a preview can
//! never reveal a code that will really be mailed.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::filing::{Filing, ReceiptNumber};
use crate::intake::{Intake, IntakeError, Outcome, WindowFit};
use crate::issue::{issue, proof_pdf, IssueContext, IssueError, Planned};
use crate::key::Key;
use crate::layout::{window_fit, LayoutError};
use crate::letter::NoticeDates;
use crate::output::{write_atomic, Flush};
use crate::picture::{png_of_page1, PictureError, PictureOptions};
use crate::render::Renderer;

/// The batch id a preview's letter is made under (it is printed nowhere).
const PREVIEW_BATCH_ID: &str = "preview";

/// What the template author asked for.
#[derive(Clone, Copy, Debug)]
pub struct PreviewRequest<'a> {
    /// Filings CSV holding the row.
    pub input: &'a Path,
    pub receipt: &'a ReceiptNumber,
    /// The date printed on the letter.
    pub batch_date: NaiveDate,
    /// Intelligent Mail serial to print (when a mailer ID is configured).
    pub serial: Option<u64>,
    /// Where to write the PDF, if anywhere.
    pub to: Option<&'a Path>,
    /// Where to write a picture of page 1, and how to draw it.
    pub png: Option<(&'a Path, PictureOptions)>,
}

/// The preview written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Previewed {
    pub pages: u32,
    pub bytes: usize,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(
        "preview renders with a test key only, so it never shows a code that will be mailed; \
key {key_id} is not a test key"
    )]
    NotATestKey { key_id: String },
    #[error("line {line}: the row for {receipt} is rejected: {field}: {reason}")]
    Rejected {
        line: u64,
        receipt: ReceiptNumber,
        field: String,
        reason: String,
    },
    #[error("receipt {receipt} is not in {}", input.display())]
    NotInFile {
        receipt: ReceiptNumber,
        input: PathBuf,
    },
    #[error("cannot write the preview to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    Envelope(#[from] LayoutError),
    #[error(transparent)]
    Picture(#[from] PictureError),
}

/// Renders the letter of one row of `req.input` with a test key and writes
/// it atomically, private like every letter.
pub fn preview(
    req: &PreviewRequest<'_>,
    key: &Key,
    renderer: &Renderer,
) -> Result<Previewed, PreviewError> {
    if key.mode() != crate::key::KeyMode::Test {
        return Err(PreviewError::NotATestKey {
            key_id: key.id().to_string(),
        });
    }
    let fit = window_fit(&renderer.config.envelope)?;
    let filing = find_filing(req.input, req.receipt, req.batch_date, fit)?;
    let ctx = IssueContext {
        key,
        renderer,
        batch_id: PREVIEW_BATCH_ID,
        dates: NoticeDates::new(req.batch_date, renderer.config.codes.valid_days),
    };
    let planned = Planned {
        filing,
        issue_no: 1,
        serial: Some(req.serial.unwrap_or(0)),
    };
    if let Some((path, options)) = &req.png {
        options.check_dpi()?;
        options.check_key(key, &format!("the preview of {}", req.receipt))?;
        let pdf = proof_pdf(&ctx, &planned, options.code)?;
        let png = png_of_page1(pdf.bytes(), options.dpi)?;
        write_private(path, &png)?;
    }
    let (_, letter) = issue(&ctx, &planned)?;
    if let Some(to) = req.to {
        write_private(to, &letter.bytes)?;
    }
    Ok(Previewed {
        pages: letter.pages,
        bytes: letter.bytes.len(),
        sha256: letter.sha256.to_string(),
    })
}

/// Writes a file atomically with mode 0600, like every letter.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PreviewError> {
    write_atomic(path, bytes, Flush::BeforeRename).map_err(|source| PreviewError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The valid filing of `receipt` in `input`, or why there is none.
fn find_filing(
    input: &Path,
    receipt: &ReceiptNumber,
    batch_date: NaiveDate,
    fit: WindowFit,
) -> Result<Filing, PreviewError> {
    for outcome in Intake::open(input, batch_date, fit)? {
        match outcome? {
            Outcome::Valid(f) if &f.receipt == receipt => return Ok(f),
            Outcome::Rejected(r)
                if r.receipt_number
                    .as_deref()
                    .and_then(|s| ReceiptNumber::parse(s).ok())
                    .as_ref()
                    == Some(receipt) =>
            {
                return Err(PreviewError::Rejected {
                    line: r.line,
                    receipt: receipt.clone(),
                    field: r.field,
                    reason: r.reason,
                });
            }
            _ => {}
        }
    }
    Err(PreviewError::NotInFile {
        receipt: receipt.clone(),
        input: input.to_path_buf(),
    })
}
