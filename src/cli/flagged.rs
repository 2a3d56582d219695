//! Library errors name the thing ("the reason", "the issue"); the command
//! line puts the flag that gave it, or that changes the answer, before the
//! sentence: `error: --reason: the reason must say why ...`.

use access_letters::batch::BatchError;
use access_letters::ops::{DateError, PreviewError, ReprintError};
use access_letters::picture::PictureError;
use access_letters::rebuild::RebuildError;

/// The flag's name before a library sentence that names the thing.
pub fn flagged<E: std::error::Error + Send + Sync + 'static>(e: E, flag: &str) -> anyhow::Error {
    anyhow::Error::new(e).context(flag.to_string())
}

/// A refused date, with the flag that changes the answer.
pub fn date_flagged(e: DateError) -> anyhow::Error {
    let flag = match e {
        DateError::FarFromToday { .. } => "--allow-any-date",
        DateError::AheadOfToday { .. } => "--force",
        _ => "--date",
    };
    flagged(e, flag)
}

/// A letter that cannot be rebuilt, with the flag that names another one
/// or loads its key.
pub fn rebuild_flagged(e: RebuildError) -> anyhow::Error {
    match e {
        RebuildError::NoActive { .. } => flagged(e, "--issue"),
        RebuildError::MissingKey { .. } => flagged(e, "--key or --old-key"),
        e => e.into(),
    }
}

/// `reprint`'s refusals.
pub fn reprint_flagged(e: ReprintError) -> anyhow::Error {
    match e {
        ReprintError::Rebuild(e) => rebuild_flagged(e),
        e => e.into(),
    }
}

/// A picture's refusals (`proof`, `preview --png`).
pub fn picture_flagged(e: PictureError) -> anyhow::Error {
    match e {
        PictureError::ShowCodeRefused { .. } => flagged(e, "--show-code"),
        PictureError::Dpi(_) => flagged(e, "--dpi"),
        PictureError::Rebuild(e) => rebuild_flagged(e),
        e => e.into(),
    }
}

/// `preview`'s refusals.
pub fn preview_flagged(e: PreviewError) -> anyhow::Error {
    match e {
        PreviewError::Picture(e) => picture_flagged(e),
        e => e.into(),
    }
}

/// A batch's refusals, with the flag that changes the answer.
pub fn batch_flagged(e: anyhow::Error) -> anyhow::Error {
    use BatchError as B;
    let flag = match e.downcast_ref::<B>() {
        Some(B::InputNotAFile { .. }) => "--input",
        Some(B::LedgerMissing {
            new_ledger_helps, ..
        }) if *new_ledger_helps => "--new-ledger",
        Some(B::ForeignBatches { .. } | B::LedgerMissing { .. }) => "--ledger or --out",
        Some(B::PrintDiffers { .. } | B::LettersMissing { .. }) => {
            "--old-key, --templates or --config"
        }
        Some(B::OutputMismatch { .. }) => "--letters",
        Some(B::PiecesPerFileMismatch { .. }) => "--pieces-per-file",
        _ => return e,
    };
    e.context(flag)
}
