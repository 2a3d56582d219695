//! The files of `--input`: a file, or a folder's filings files. A folder is
//! the day's drop: every `*.csv` in it (the extension in any case) is
//! taken, in name order, and every other file is named as not taken, so
//! that no file is passed over in silence.

use std::path::{Path, PathBuf};

use super::error::io_err;
use super::BatchError;

/// The files of `--input`: those a run takes, and those of a folder it
/// does not take, each with the reason (so no file is passed over in
/// silence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFiles {
    pub taken: Vec<PathBuf>,
    pub not_taken: Vec<(PathBuf, String)>,
}

/// The filings files of `--input`: the file itself, or a folder's `*.csv`
/// files (the extension in any case: `B.CSV` too) in name order. Every
/// other entry of the folder but its sub-folders is not taken and named.
pub fn input_files(input: &Path) -> Result<InputFiles, BatchError> {
    if !input.is_dir() {
        let taken = vec![input.to_path_buf()];
        return Ok(InputFiles {
            taken,
            not_taken: Vec::new(),
        });
    }
    let (mut taken, mut not_taken) = (Vec::new(), Vec::new());
    let entries = std::fs::read_dir(input).map_err(io_err("cannot read the folder", input))?;
    for entry in entries {
        let entry = entry.map_err(io_err("cannot read the folder", input))?;
        let path = entry.path();
        match why_not_taken(&path) {
            None => taken.push(path),
            Some(Skip::Folder) => {}
            Some(Skip::Because(why)) => not_taken.push((path, why)),
        }
    }
    taken.sort();
    not_taken.sort();
    if taken.is_empty() {
        let named: Vec<String> = not_taken
            .iter()
            .map(|(p, why)| format!("{} ({why})", p.display()))
            .collect();
        return Err(BatchError::NoCsvFiles {
            dir: input.display().to_string(),
            not_taken: if named.is_empty() {
                String::new()
            } else {
                format!("; not taken: {}", named.join(", "))
            },
        });
    }
    Ok(InputFiles { taken, not_taken })
}

enum Skip {
    Folder,
    Because(String),
}

/// Why a folder entry is not a filings file to take, or `None` to take it.
fn why_not_taken(path: &Path) -> Option<Skip> {
    let is_csv = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("csv"));
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Some(Skip::Because(format!("cannot be read: {e}"))),
    };
    if meta.is_dir() {
        return Some(Skip::Folder);
    }
    if !is_csv {
        return Some(Skip::Because("not a .csv file".into()));
    }
    if !meta.is_file() {
        return Some(Skip::Because(
            "not a regular file (a pipe, a device or a socket)".into(),
        ));
    }
    // Opened, not only looked at: permissions and ACLs are the kernel's to judge.
    match std::fs::File::open(path) {
        Ok(_) => None,
        Err(e) => Some(Skip::Because(format!("cannot be read: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_takes_csv_in_any_case_and_names_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.CSV", "a.csv", "notes.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("done")).unwrap();
        let files = input_files(dir.path()).unwrap();
        let names: Vec<_> = files.taken.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["a.csv", "b.CSV"]);
        assert_eq!(files.not_taken.len(), 1);
        assert_eq!(files.not_taken[0].1, "not a .csv file");
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("x.txt"), "x").unwrap();
        let err = input_files(empty.path()).unwrap_err().to_string();
        assert!(err.contains("x.txt (not a .csv file)"), "{err}");
    }
}
