//! Reprint: the mailed letter again, byte for byte.
//!
//! The letter is rebuilt from the ledger (the filing as it was, the issue
//! number, notice date, key and barcode serial) and its SHA-256 compared with
//! the one recorded when it was mailed. Only an identical letter is written:
//! if templates or configuration have changed since, the reprint is refused
//! rather than mailing something that differs from the record.
//!
//! A letter printed in a print file has no file of its own to match: the
//! ledger holds the digest of its page content instead (see
//! [`crate::print`]), and the rebuilt PDF must have that same content.

use std::path::{Path, PathBuf};

use crate::batch::{write_letter, BatchError};
use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::issue::{issue, IssueContext, IssueError, Planned};
use crate::key::KeyRing;
use crate::ledger::{Issuance, Ledger, LedgerError, LetterProof};
use crate::letter_proof::Sha256Hex;
use crate::print::{compare_rebuilt, Rebuilt};
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
    #[error("receipt {receipt} has no issue {issue_no} in the ledger")]
    NoSuchIssue {
        receipt: ReceiptNumber,
        issue_no: u32,
    },
    #[error("receipt {receipt} has never been issued a code")]
    NeverIssued { receipt: ReceiptNumber },
    #[error("receipt {receipt} has no active code; name one with --issue")]
    NoActive { receipt: ReceiptNumber },
    #[error(
        "issue {issue_no} of {receipt} was made with key {key_id}; pass that key file with --key or --old-key"
    )]
    MissingKey {
        receipt: ReceiptNumber,
        issue_no: u32,
        key_id: String,
    },
    #[error(
        "the letter rebuilt for {piece_id} differs from the one mailed (sha256 {recorded} recorded, \
{now} now): the templates, configuration or program changed since; nothing was written"
    )]
    Differs {
        piece_id: String,
        recorded: LetterProof,
        now: LetterProof,
    },
    #[error("the letter rebuilt for {piece_id} cannot be read back to prove it ({detail}); nothing was written")]
    Unreadable { piece_id: String, detail: String },
    #[error(
        "the letter {piece_id} is not printed yet: batch {batch_id} stopped before its print files were written; run that batch again to finish it, then reprint"
    )]
    NotPrinted { piece_id: String, batch_id: String },
    #[error("writing the reprint to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: Box<BatchError>,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Rebuilds the letter of one issuance and writes it only if it is
/// byte-identical to the one recorded in the ledger.
pub fn reprint(
    req: &ReprintRequest<'_>,
    keys: &KeyRing,
    renderer: &Renderer,
    ledger: &dyn Ledger,
) -> Result<Reprinted, ReprintError> {
    let history = ledger.history(req.receipt)?;
    let iss = choose(req, &history)?;
    let Some(key) = keys.get(&iss.issued.key_id) else {
        return Err(ReprintError::MissingKey {
            receipt: req.receipt.clone(),
            issue_no: iss.issued.issue_no,
            key_id: iss.issued.key_id.clone(),
        });
    };
    let not_printed = || ReprintError::NotPrinted {
        piece_id: iss.issued.piece_id.clone(),
        batch_id: iss.issued.batch_id.clone(),
    };
    if iss.issued.proof == LetterProof::NotYetPrinted {
        return Err(not_printed());
    }
    let ctx = IssueContext::recorded(&iss.issued, key, renderer);
    let planned = Planned::recorded(&iss.issued);
    let (_, letter) = issue(&ctx, &planned)?;
    // A letter file's SHA-256, or for a letter printed in a print file the
    // digest of its page content, which the standalone PDF shares.
    match compare_rebuilt(&iss.issued.proof, &letter) {
        Rebuilt::Same => {}
        Rebuilt::NotPrinted => return Err(not_printed()),
        Rebuilt::Differs(now) => {
            return Err(ReprintError::Differs {
                piece_id: iss.issued.piece_id.clone(),
                recorded: iss.issued.proof.clone(),
                now,
            })
        }
        Rebuilt::Unreadable(detail) => {
            return Err(ReprintError::Unreadable {
                piece_id: iss.issued.piece_id.clone(),
                detail,
            })
        }
    }
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

fn choose<'h>(
    req: &ReprintRequest<'_>,
    history: &'h [Issuance],
) -> Result<&'h Issuance, ReprintError> {
    let receipt = req.receipt.clone();
    match req.issue {
        Some(issue_no) => history
            .iter()
            .find(|i| i.issued.issue_no == issue_no)
            .ok_or(ReprintError::NoSuchIssue { receipt, issue_no }),
        None if history.is_empty() => Err(ReprintError::NeverIssued { receipt }),
        None => history
            .iter()
            .find(|i| i.status == IssuanceStatus::Active)
            .ok_or(ReprintError::NoActive { receipt }),
    }
}
