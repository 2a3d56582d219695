//! Rebuild a mailed letter from the ledger, and prove it is the one mailed.
//!
//! A letter is a pure function of its filing, key, batch date, issue number
//! and templates, so the ledger holds all it takes to draw it again: the
//! filing as it was, the issue number, the notice dates, the key id and
//! the barcode serial. The letter rebuilt is then proven against the one
//! the ledger recorded when it was mailed: the SHA-256 of its file, or for a
//! letter printed in a print file the digest of its page content (see
//! [`crate::print`]). Only a proven letter goes further: `reprint` writes
//! it, the picture proof ([`crate::picture`]) draws it. If templates,
//! configuration or the program changed since, both refuse the same way,
//! with the same sentence.
//!
//! Two steps, so a caller can refuse early what it would refuse anyway
//! (the picture proof refuses to show a production key's code before any
//! rendering): [`find`] chooses the issuance and its key, then
//! [`Recorded::rebuild`] renders and proves.

use crate::filing::{IssuanceStatus, ReceiptNumber};
use crate::issue::{issue, issue_as_before, IssueContext, IssueError, Planned};
use crate::key::{Key, KeyRing};
use crate::ledger::{Issuance, Ledger, LedgerError, LetterProof};
use crate::pdf::RenderedLetter;
use crate::print::{compare_rebuilt, Rebuilt};
use crate::render::Renderer;

/// Why a mailed letter cannot be rebuilt and proven. Sentences name the
/// thing (the issue, the key); the command line adds its flags.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("receipt {receipt} has no issue {issue_no} in the ledger")]
    NoSuchIssue {
        receipt: ReceiptNumber,
        issue_no: u32,
    },
    #[error("receipt {receipt} has never been issued a code")]
    NeverIssued { receipt: ReceiptNumber },
    #[error("receipt {receipt} has no active code; name the issue to rebuild")]
    NoActive { receipt: ReceiptNumber },
    #[error(
        "issue {issue_no} of {receipt} was made with key {key_id}, which is not loaded; load that \
key file"
    )]
    MissingKey {
        receipt: ReceiptNumber,
        issue_no: u32,
        key_id: String,
    },
    #[error(
        "the letter {piece_id} is not printed yet: batch {batch_id} stopped before its print files \
were written; run that batch again to finish it first"
    )]
    NotPrinted { piece_id: String, batch_id: String },
    #[error(
        "the letter rebuilt for {piece_id} differs from the one mailed (sha256 {recorded} \
recorded, {now} now): the templates, configuration or program changed since; nothing was written"
    )]
    Differs {
        piece_id: String,
        recorded: LetterProof,
        now: LetterProof,
    },
    #[error("the letter rebuilt for {piece_id} cannot be read back to prove it ({detail}); nothing was written")]
    Unreadable { piece_id: String, detail: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// The issuance to rebuild, with the key that made its code.
#[derive(Debug)]
pub struct Recorded<'k> {
    pub issuance: Issuance,
    pub key: &'k Key,
}

/// The issuance `issue_no` names (the active one when `None`) and its key,
/// or why there is none to rebuild.
pub fn find<'k>(
    ledger: &dyn Ledger,
    keys: &'k KeyRing,
    receipt: &ReceiptNumber,
    issue_no: Option<u32>,
) -> Result<Recorded<'k>, RebuildError> {
    let history = ledger.history(receipt)?;
    let receipt = receipt.clone();
    let issuance = match issue_no {
        Some(issue_no) => history
            .into_iter()
            .find(|i| i.issued.issue_no == issue_no)
            .ok_or(RebuildError::NoSuchIssue { receipt, issue_no })?,
        None if history.is_empty() => return Err(RebuildError::NeverIssued { receipt }),
        None => history
            .into_iter()
            .find(|i| i.status == IssuanceStatus::Active)
            .ok_or(RebuildError::NoActive { receipt })?,
    };
    let issued = &issuance.issued;
    let Some(key) = keys.get(&issued.key_id) else {
        return Err(RebuildError::MissingKey {
            receipt: issued.receipt.clone(),
            issue_no: issued.issue_no,
            key_id: issued.key_id.clone(),
        });
    };
    Ok(Recorded { issuance, key })
}

impl Recorded<'_> {
    /// The context the letter was made in: its batch, dates and key.
    pub fn context<'a>(&'a self, renderer: &'a Renderer) -> IssueContext<'a> {
        IssueContext::recorded(&self.issuance.issued, self.key, renderer)
    }

    /// The plan that makes the letter again, as it was.
    pub fn planned(&self) -> Planned {
        Planned::recorded(&self.issuance.issued)
    }

    /// Renders the letter again and proves it against the one recorded:
    /// the letter, or why it is not the one mailed.
    pub fn rebuild(&self, renderer: &Renderer) -> Result<RenderedLetter, RebuildError> {
        let issued = &self.issuance.issued;
        let not_printed = || RebuildError::NotPrinted {
            piece_id: issued.piece_id.clone(),
            batch_id: issued.batch_id.clone(),
        };
        // Nothing to prove against: refused before any rendering.
        if issued.proof == LetterProof::NotYetPrinted {
            return Err(not_printed());
        }
        let (ctx, planned) = (self.context(renderer), self.planned());
        let (_, letter) = issue(&ctx, &planned)?;
        let earlier = || issue_as_before(&ctx, &planned).ok();
        match compare_rebuilt(&issued.proof, &letter, earlier) {
            Rebuilt::Same => Ok(letter),
            Rebuilt::SameAsEarlier(before) => Ok(before),
            Rebuilt::NotPrinted => Err(not_printed()),
            Rebuilt::Differs(now) => Err(RebuildError::Differs {
                piece_id: issued.piece_id.clone(),
                recorded: issued.proof.clone(),
                now,
            }),
            Rebuilt::Unreadable(detail) => Err(RebuildError::Unreadable {
                piece_id: issued.piece_id.clone(),
                detail,
            }),
        }
    }
}
