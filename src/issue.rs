//! Issuing one access code: derive it, fingerprint it, print it.
//!
//! Shared by the nightly batch, `reissue` and `reprint`. Everything here is a
//! pure function of its arguments, so it can run on any rayon thread, and a
//! reprint recomputes exactly the bytes that were mailed. Nothing here reads
//! or writes the ledger: the caller plans (issue and serial numbers, see
//! [`crate::batch::next_serial`]) and records the returned row.

use crate::code::{derive, fingerprint, AccessCode};
use crate::config::Mail;
use crate::filing::{piece_id, Filing};
use crate::imb::serial_digits;
use crate::imb::{self, Barcode, ImbError, ImbFields};
use crate::key::Key;
use crate::layout::check_address_fits;
use crate::ledger::LetterProof;
use crate::ledger::{NewIssuance, NOT_YET_COUNTED};
use crate::letter::NoticeDates;
use crate::pdf::RenderedLetter;
use crate::print::{draw_letter, DrawnLetter};
use crate::render::{CodeDisplay, LetterJob, ProofPdf, RenderError, Renderer};

/// Where a piece stands before its letter is made.
#[derive(Clone, Debug)]
pub struct Planned {
    pub filing: Filing,
    pub issue_no: u32,
    /// Intelligent Mail serial number, when a mailer ID is configured.
    pub serial: Option<u64>,
}

impl Planned {
    /// The plan that makes a recorded issuance's letter again, as it was.
    pub fn recorded(issued: &NewIssuance) -> Planned {
        Planned {
            filing: issued.filing.clone(),
            issue_no: issued.issue_no,
            serial: issued.imb_serial,
        }
    }
}

/// The barcode of a piece, or `None` when no mailer ID is configured.
pub fn barcode(
    mail: &Mail,
    serial: Option<u64>,
    filing: &Filing,
) -> Result<Option<Barcode>, ImbError> {
    let (Some(mailer_id), Some(serial)) = (mail.mailer_id(), serial) else {
        return Ok(None);
    };
    let width = serial_digits(mailer_id);
    let a = &filing.address;
    let routing = format!("{}{}", a.zip5, a.zip4.as_deref().unwrap_or(""));
    imb::encode(&ImbFields {
        barcode_id: mail.barcode_id.clone(),
        service_type: mail.service_type.clone(),
        mailer_id: mailer_id.to_string(),
        serial: format!("{serial:0width$}"),
        routing,
    })
    .map(Some)
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("line {line}, receipt {receipt}: {source}")]
    Render {
        line: u64,
        receipt: String,
        source: RenderError,
    },
    #[error("receipt {receipt}: the Intelligent Mail barcode cannot be made: {source}")]
    Barcode { receipt: String, source: ImbError },
}

/// Everything one issuance needs besides the filing.
pub struct IssueContext<'a> {
    pub key: &'a Key,
    pub renderer: &'a Renderer,
    pub batch_id: &'a str,
    pub dates: NoticeDates,
}

impl<'a> IssueContext<'a> {
    /// The context a recorded issuance was made in: its batch and dates,
    /// with `key`, the key it was made with.
    pub fn recorded(issued: &'a NewIssuance, key: &'a Key, renderer: &'a Renderer) -> Self {
        IssueContext {
            key,
            renderer,
            batch_id: &issued.batch_id,
            dates: NoticeDates {
                notice: issued.notice_date,
                expires_on: issued.expires_on,
            },
        }
    }
}

/// Derives the code for `planned`, makes its barcode and hands the letter's
/// job to `draw` (the letter or the proof path of the [`Renderer`]). Both
/// paths share it, so a proof shows the letter that was issued.
fn draw_job<T>(
    ctx: &IssueContext<'_>,
    planned: &Planned,
    draw: impl FnOnce(&LetterJob<'_>) -> Result<T, RenderError>,
) -> Result<(AccessCode, T), IssueError> {
    let filing = &planned.filing;
    let code = derive(ctx.key, &filing.receipt, planned.issue_no);
    let barcode = barcode(&ctx.renderer.config.mail, planned.serial, filing).map_err(|source| {
        IssueError::Barcode {
            receipt: filing.receipt.to_string(),
            source,
        }
    })?;
    let drawn = draw(&LetterJob {
        filing,
        issue_no: planned.issue_no,
        code: &code,
        dates: ctx.dates,
        barcode: barcode.as_ref(),
        mode: ctx.key.mode(),
    })
    .map_err(|source| IssueError::Render {
        line: filing.line,
        receipt: filing.receipt.to_string(),
        source,
    })?;
    Ok((code, drawn))
}

/// The PDF behind a picture proof of `planned`'s letter, its code shown or
/// masked (see [`crate::picture`]).
pub fn proof_pdf(
    ctx: &IssueContext<'_>,
    planned: &Planned,
    display: CodeDisplay,
) -> Result<ProofPdf, IssueError> {
    draw_job(ctx, planned, |job| ctx.renderer.render_proof(job, display)).map(|(_, pdf)| pdf)
}

/// Derives the code for `planned`, renders its letter and builds the ledger
/// row. The code leaves this function only inside the letter's bytes.
pub fn issue(
    ctx: &IssueContext<'_>,
    planned: &Planned,
) -> Result<(NewIssuance, RenderedLetter), IssueError> {
    let (code, letter) = draw_job(ctx, planned, |job| ctx.renderer.render(job))?;
    let row = issuance_row(
        ctx,
        planned,
        &code,
        LetterProof::File(letter.sha256.clone()),
        letter.pages,
    );
    Ok((row, letter))
}

/// Derives the code for `planned` for a print run, and refuses an address
/// that does not fit the window; nothing is laid out or drawn yet. The row
/// records [`LetterProof::NotYetPrinted`] and no page count
/// ([`NOT_YET_COUNTED`]): the letter is laid out and drawn once, in presort
/// order, into its print file, and what was printed (digest and pages) is
/// recorded then.
pub fn issue_for_print(
    ctx: &IssueContext<'_>,
    planned: &Planned,
) -> Result<NewIssuance, IssueError> {
    let envelope = &ctx.renderer.config.envelope;
    let (code, ()) = draw_job(ctx, planned, |job| {
        check_address_fits(job.filing, job.barcode.is_some(), envelope).map_err(Into::into)
    })?;
    Ok(issuance_row(
        ctx,
        planned,
        &code,
        LetterProof::NotYetPrinted,
        NOT_YET_COUNTED,
    ))
}

/// Draws `planned`'s letter for a print file, as it was issued (no ledger
/// row: the row is already recorded).
/// The letter of `planned` made as versions before print forms made it
/// (see `pdf::render_legacy`), to prove a letter they recorded.
pub fn issue_as_before(
    ctx: &IssueContext<'_>,
    planned: &Planned,
) -> Result<RenderedLetter, IssueError> {
    draw_job(ctx, planned, |job| ctx.renderer.render_legacy(job)).map(|(_, letter)| letter)
}

pub fn draw_for_print(
    ctx: &IssueContext<'_>,
    planned: &Planned,
) -> Result<DrawnLetter, IssueError> {
    draw_job(ctx, planned, |job| draw_letter(ctx.renderer, job)).map(|(_, drawn)| drawn)
}

/// The ledger row of an issuance whose letter is proven by `proof`.
fn issuance_row(
    ctx: &IssueContext<'_>,
    planned: &Planned,
    code: &AccessCode,
    proof: LetterProof,
    pages: u32,
) -> NewIssuance {
    let filing = &planned.filing;
    NewIssuance {
        receipt: filing.receipt.clone(),
        issue_no: planned.issue_no,
        form: filing.form,
        batch_id: ctx.batch_id.to_string(),
        piece_id: piece_id(&filing.receipt, planned.issue_no),
        key_id: ctx.key.id().to_string(),
        fingerprint: fingerprint(ctx.key, code),
        notice_date: ctx.dates.notice,
        expires_on: ctx.dates.expires_on,
        proof,
        pages,
        imb_serial: planned.serial,
        filing: filing.clone(),
        reason: None,
        forced: false,
    }
}
