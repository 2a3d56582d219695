//! Reprint: the mailed letter again, byte for byte.
//!
//! The letter is rebuilt from the ledger and proven against the one recorded
//! when it was mailed ([`crate::rebuild`], the same path the picture proof
//! takes). Only a proven letter is written: if templates or configuration
//! have changed since, the reprint is refused rather than mailing something
//! that differs from the record.

use std::path::{Path, PathBuf};

use crate::batch::{write_letter, BatchError};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::key::KeyRing;
use crate::ledger::{Ledger, LetterProof};
use crate::letter_proof::Sha256Hex;
use crate::rebuild::{self, RebuildError};
use crate::render::Renderer;

/// What the operator asked for.
#[derive(Clone, Copy, Debug)]
pub struct ReprintRequest<'a> {
    pub receipt: &'a ReceiptNumber,
    /// The issue to reprint; `None` for the active one.
    pub issue: Option<u32>,
    /// Where to write the PDF; `None` for `OUT/reprints/PIECE-ID.pdf`.
    pub to: Option<&'a Path>,
    /// Folder for batch folders (and `reprints/`).
    pub out_root: &'a Path,
}

/// A reprint written, identical to the letter mailed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reprinted {
    pub path: PathBuf,
    pub issue_no: u32,
    pub piece_id: String,
    pub status: IssuanceStatus,
    pub sha256: Sha256Hex,
    /// For a letter printed in a print file: the content digest it was
    /// proven by (the standalone PDF's own bytes never went to the press).
    pub printed_digest: Option<Sha256Hex>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReprintError {
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
    #[error("writing the reprint to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: Box<BatchError>,
    },
}

/// Rebuilds the letter of one issuance and writes it only if it is proven
/// the one recorded in the ledger ([`crate::rebuild`]).
pub fn reprint(
    req: &ReprintRequest<'_>,
    keys: &KeyRing,
    renderer: &Renderer,
    ledger: &dyn Ledger,
) -> Result<Reprinted, ReprintError> {
    let recorded = rebuild::find(ledger, keys, req.receipt, req.issue)?;
    let letter = recorded.rebuild(renderer)?;
    let iss = &recorded.issuance;
    let printed_digest = match &iss.issued.proof {
        LetterProof::Printed(d) => Some(d.clone()),
        LetterProof::File(_) | LetterProof::NotYetPrinted => None,
    };
    let path = req.to.map_or_else(
        || default_path(req.out_root, &iss.issued.piece_id),
        Path::to_path_buf,
    );
    write_letter(&path, &letter).map_err(|source| ReprintError::Write {
        path: path.clone(),
        source: Box::new(source),
    })?;
    Ok(Reprinted {
        path,
        issue_no: iss.issued.issue_no,
        piece_id: iss.issued.piece_id.clone(),
        status: iss.status,
        sha256: letter.sha256,
        printed_digest,
    })
}

/// Where a reprint goes by default: `OUT/reprints/PIECE-ID.pdf`.
pub fn default_path(out_root: &Path, piece_id: &str) -> PathBuf {
    out_root.join("reprints").join(format!("{piece_id}.pdf"))
}
