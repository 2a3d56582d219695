//! Render: a chunk's planned letters made in parallel (rayon), each written
//! under a temporary name and renamed into place; nothing in the ledger yet.

use std::path::Path;

use rayon::prelude::*;

use super::error::io_err;
use super::{BatchError, OutputMode};
use crate::filing::Reject;
use crate::issue::{issue, issue_for_print, IssueContext, IssueError, Planned};
use crate::layout::LayoutError;
use crate::ledger::NewIssuance;
use crate::output::{write_atomic, Flush};
use crate::render::RenderError;

/// One planned filing after rendering.
// `Letter` is the common case; boxing it would cost an allocation per letter.
#[allow(clippy::large_enum_variant)]
pub enum Rendered {
    /// The letter is on disk; the row still has to be committed.
    Letter(NewIssuance),
    /// The filing's address does not fit the configured envelope window: the
    /// row is rejected like any other bad row instead of stopping the night.
    Rejected(Reject),
}

/// Turns a row-specific rendering failure into a reject; anything else
/// (templates, disk) stays an error that stops the run.
fn reject_for(error: &IssueError) -> Option<Reject> {
    match error {
        IssueError::Render {
            line,
            receipt,
            source: RenderError::Layout(LayoutError::AddressTooBig(why)),
        } => Some(Reject {
            line: *line,
            receipt_number: Some(receipt.clone()),
            field: "address".into(),
            reason: format!("the address does not fit the envelope window: {why}"),
        }),
        _ => None,
    }
}

/// The file of a piece inside the batch's `letters/` folder.
pub fn letter_path(letters_dir: &Path, piece_id: &str) -> std::path::PathBuf {
    letters_dir.join(format!("{piece_id}.pdf"))
}

/// Renders and writes a chunk's letters in parallel; results come back in
/// input order, not yet in the ledger. In print mode the letters are only
/// laid out: print files are drawn from the ledger afterwards (see
/// [`super::print_files`]).
pub fn render_chunk(
    ctx: &IssueContext<'_>,
    letters_dir: &Path,
    planned: &[Planned],
    mode: OutputMode,
) -> Result<Vec<Rendered>, BatchError> {
    planned
        .par_iter()
        .map(|p| {
            if !mode.pieces() {
                return match issue_for_print(ctx, p) {
                    Ok(row) => Ok(Rendered::Letter(row)),
                    Err(e) => reject_for(&e).map(Rendered::Rejected).ok_or(e.into()),
                };
            }
            let (row, letter) = match issue(ctx, p) {
                Ok(done) => done,
                Err(e) => return reject_for(&e).map(Rendered::Rejected).ok_or(e.into()),
            };
            let path = letter_path(letters_dir, &row.piece_id);
            write_atomic(&path, &letter.bytes, Flush::Later)
                .map_err(io_err("cannot write", &path))?;
            Ok(Rendered::Letter(row))
        })
        .collect()
}
