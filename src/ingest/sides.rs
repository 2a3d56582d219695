//! The rejects and unmatched files, written as rows are set aside: each
//! row with its line and reason, every cell cut to [`SIDE_CELL_CHARS`]
//! characters and neutralised for spreadsheets. A file is made only when a
//! row goes to it, under a temporary name, and takes its name when the
//! import is done.

use std::path::{Path, PathBuf};

use super::{IngestError, SetAside, SIDE_CELL_CHARS};
use crate::manifest::neutralise;
use crate::output::{create_private_dir, AtomicFile};

pub(super) struct SideFile {
    path: PathBuf,
    writer: Option<csv::Writer<AtomicFile>>,
    rows: u64,
}

impl SideFile {
    pub(super) fn new(dir: &Path, name: &str) -> SideFile {
        SideFile {
            path: dir.join(name),
            writer: None,
            rows: 0,
        }
    }

    /// Rows written so far.
    pub(super) fn rows(&self) -> u64 {
        self.rows
    }

    fn write_err(&self, e: impl Into<std::io::Error>) -> IngestError {
        IngestError::Write {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    /// Writes one row set aside (the header first, on the first row).
    pub(super) fn push(&mut self, header: &[String], row: &SetAside) -> Result<(), IngestError> {
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                create_private_dir(dir).map_err(|e| self.write_err(e))?;
            }
            let file = AtomicFile::create(&self.path).map_err(|e| self.write_err(e))?;
            // A short row is padded to the header; a long one keeps its
            // extra cells.
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(file);
            let head = ["line", "reason"]
                .into_iter()
                .chain(header.iter().map(String::as_str))
                .map(cut);
            w.write_record(head).map_err(|e| self.write_err(e))?;
            self.writer = Some(w);
        }
        let padding = header.len().saturating_sub(row.fields.len());
        let cells = [row.line.to_string(), row.reason.clone()]
            .into_iter()
            .chain(row.fields.iter().cloned())
            .chain(std::iter::repeat_n(String::new(), padding));
        let w = self.writer.as_mut().expect("made above");
        let written = w.write_record(cells.map(|c| cut(&c)));
        written.map_err(|e| self.write_err(e))?;
        self.rows += 1;
        Ok(())
    }

    /// Puts the file in place; `None` when no row went to it.
    pub(super) fn finish(mut self) -> Result<Option<PathBuf>, IngestError> {
        let Some(w) = self.writer.take() else {
            return Ok(None);
        };
        let file = w.into_inner().map_err(|e| self.write_err(e.into_error()))?;
        file.commit().map_err(|e| self.write_err(e))?;
        Ok(Some(self.path))
    }
}

/// A cell as the side files keep it: at most [`SIDE_CELL_CHARS`]
/// characters, never read as a formula.
fn cut(cell: &str) -> String {
    match cell.char_indices().nth(SIDE_CELL_CHARS) {
        None => neutralise(cell),
        Some((at, _)) => neutralise(&cell[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_to_200_characters_and_neutralised() {
        assert_eq!(cut("P-1"), "P-1");
        assert_eq!(cut(&"é".repeat(500)).chars().count(), SIDE_CELL_CHARS);
        assert_eq!(cut("=HYPERLINK(x)"), "'=HYPERLINK(x)");
    }
}
