//! Library errors name the thing ("the reason", "the issue"); the command
//! line puts the flag that gave it, or that changes the answer, before the
//! sentence: `error: --reason: the reason must say why ...`.

use access_letters::ops::DateError;

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
