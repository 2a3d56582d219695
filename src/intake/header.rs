//! The header row: which column is where. A header that does not name
//! every required column, names an unknown one, names one twice or leaves
//! one unnamed fails the whole file (see the module docs of [`super`]).

use super::{IntakeError, COLUMNS, COLUMN_COUNT, OPTIONAL_COLUMNS};
use crate::address::shown;

/// Header names (trimmed, lowercased) by position, and the position of
/// each of [`COLUMNS`] (`None` for an absent optional column).
pub(super) type Columns = (Vec<String>, [Option<usize>; COLUMN_COUNT]);

/// Checks the header's names; `line` is where the header starts.
pub(super) fn columns(names: &[&str], file: &str, line: u64) -> Result<Columns, IntakeError> {
    let header: Vec<String> = names
        .iter()
        .map(|n| {
            n.trim()
                .trim_start_matches('\u{FEFF}')
                .trim()
                .to_lowercase()
        })
        .collect();

    let mut index = [None; COLUMN_COUNT];
    for (position, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(IntakeError::UnnamedColumn {
                file: file.to_string(),
                line,
                position: position + 1,
            });
        }
        let Some(col) = COLUMNS.iter().position(|c| c == name) else {
            let typed = names[position].trim().trim_start_matches('\u{FEFF}');
            return Err(IntakeError::UnknownColumn {
                file: file.to_string(),
                line,
                name: shown(typed),
            });
        };
        if index[col].is_some() {
            return Err(IntakeError::DuplicateColumn {
                file: file.to_string(),
                line,
                name: name.clone(),
            });
        }
        index[col] = Some(position);
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .zip(index.iter())
        .filter(|(name, found)| found.is_none() && !OPTIONAL_COLUMNS.contains(name))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(IntakeError::MissingColumns {
            file: file.to_string(),
            line,
            missing: missing.join(", "),
        });
    }
    Ok((header, index))
}
