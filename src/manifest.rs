//! What the batch tells the mail vendor and the clerks: `manifest.csv`,
//! `rejects.csv` and `batch.json`.
//!
//! None of these files ever holds an access code: the manifest carries the
//! letter's file name and SHA-256, never its content. Every text cell that a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab
//! or carriage return) is prefixed with an apostrophe, because clerks open
//! these files in spreadsheets and input names come from the public.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::filing::Reject;
use crate::imb::Barcode;
use crate::key::KeyMode;
use crate::ledger::{BatchKind, Issuance, Sha256Hex};

/// Makes a cell safe to open in a spreadsheet.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Column names of `manifest.csv`, in order.
pub const MANIFEST_HEADER: &[&str] = &[
    "sequence",
    "piece_id",
    "file",
    "sha256",
    "pages",
    "sheets",
    "mail_class",
    "form",
    "language",
    "recipient_name",
    "in_care_of",
    "delivery_line",
    "secondary_line",
    "city",
    "state",
    "zip5",
    "zip4",
    "imb_tracking",
    "imb_routing",
    "imb_bars",
    "print_file",
    "first_page",
];

/// One mail piece, as the vendor needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRow {
    pub sequence: u64,
    pub piece_id: String,
    pub file: String,
    pub sha256: String,
    pub pages: u32,
    pub sheets: u32,
    pub mail_class: String,
    pub form: String,
    pub language: String,
    pub recipient_name: String,
    pub in_care_of: String,
    pub delivery_line: String,
    pub secondary_line: String,
    pub city: String,
    pub state: String,
    pub zip5: String,
    pub zip4: String,
    pub imb_tracking: String,
    pub imb_routing: String,
    pub imb_bars: String,
    /// The print file the piece is in (`print/<batch>-NNN.pdf`), if any.
    pub print_file: String,
    /// Its first page in that file (from 1); its pages follow it.
    pub first_page: Option<u64>,
}

/// The intelligent-mail columns of a piece, when a barcode was printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BarcodeColumns {
    pub tracking: String,
    pub routing: String,
    pub bars: String,
}

impl BarcodeColumns {
    /// The columns of a printed barcode; empty when none was printed.
    pub fn of(barcode: Option<&Barcode>) -> BarcodeColumns {
        barcode
            .map(|b| BarcodeColumns {
                tracking: b.tracking.clone(),
                routing: b.routing.clone(),
                bars: b.bars.clone(),
            })
            .unwrap_or_default()
    }
}

impl ManifestRow {
    pub fn from_issuance(
        sequence: u64,
        iss: &Issuance,
        mail_class: &str,
        barcode: BarcodeColumns,
    ) -> ManifestRow {
        let f = &iss.issued.filing;
        let a = &f.address;
        ManifestRow {
            sequence,
            piece_id: iss.issued.piece_id.clone(),
            file: letter_file(&iss.issued.piece_id),
            sha256: iss.issued.proof.to_string(),
            pages: iss.issued.pages,
            sheets: sheets_for(iss.issued.pages),
            mail_class: mail_class.to_string(),
            form: f.form.code().to_string(),
            language: f.language.code().to_string(),
            recipient_name: f.name_line.clone(),
            in_care_of: a.in_care_of.clone().unwrap_or_default(),
            delivery_line: a.line1.clone(),
            secondary_line: a.line2.clone().unwrap_or_default(),
            city: a.city.clone(),
            state: a.state.clone(),
            zip5: a.zip5.clone(),
            zip4: a.zip4.clone().unwrap_or_default(),
            imb_tracking: barcode.tracking,
            imb_routing: barcode.routing,
            imb_bars: barcode.bars,
            print_file: String::new(),
            first_page: None,
        }
    }

    fn cells(&self) -> Vec<String> {
        let n = |v: &str| neutralise(v);
        vec![
            self.sequence.to_string(),
            n(&self.piece_id),
            n(&self.file),
            self.sha256.clone(),
            self.pages.to_string(),
            self.sheets.to_string(),
            n(&self.mail_class),
            n(&self.form),
            n(&self.language),
            n(&self.recipient_name),
            n(&self.in_care_of),
            n(&self.delivery_line),
            n(&self.secondary_line),
            n(&self.city),
            n(&self.state),
            n(&self.zip5),
            n(&self.zip4),
            n(&self.imb_tracking),
            n(&self.imb_routing),
            n(&self.imb_bars),
            n(&self.print_file),
            self.first_page.map(|p| p.to_string()).unwrap_or_default(),
        ]
    }
}

/// Letters are printed one side per sheet.
pub fn sheets_for(pages: u32) -> u32 {
    pages
}

/// Path of a letter inside its batch folder.
pub fn letter_file(piece_id: &str) -> String {
    format!("letters/{piece_id}.pdf")
}

/// Streams manifest rows to CSV.
pub struct ManifestWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> ManifestWriter<W> {
    pub fn new(out: W) -> csv::Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(MANIFEST_HEADER)?;
        Ok(ManifestWriter { csv })
    }

    pub fn write(&mut self, row: &ManifestRow) -> csv::Result<()> {
        self.csv.write_record(row.cells())
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }
}

/// Streams rejected rows to CSV: line, receipt as typed, field, reason.
pub struct RejectsWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> RejectsWriter<W> {
    pub fn new(out: W) -> csv::Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(["line", "receipt_number", "field", "reason"])?;
        Ok(RejectsWriter { csv })
    }

    pub fn write(&mut self, r: &Reject) -> csv::Result<()> {
        self.csv.write_record([
            r.line.to_string(),
            neutralise(r.receipt_number.as_deref().unwrap_or("")),
            neutralise(&r.field),
            neutralise(&r.reason),
        ])
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }
}

/// Row counts of a batch. `read == issued + already_issued + rejected`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub read: u64,
    pub issued: u64,
    pub already_issued: u64,
    pub rejected: u64,
}

impl Counts {
    pub fn add_up(&self) -> bool {
        self.read == self.issued + self.already_issued + self.rejected
    }
}

/// Letter counts per ZIP prefix, for the vendor's trays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presort {
    pub zip3: BTreeMap<String, u64>,
    pub zip5: BTreeMap<String, u64>,
}

impl Presort {
    pub fn add(&mut self, zip5: &str) {
        *self.zip5.entry(zip5.to_string()).or_default() += 1;
        *self.zip3.entry(zip5.chars().take(3).collect()).or_default() += 1;
    }
}

/// One file of the batch and its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
}

/// One print file of the batch (see [`crate::print`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintFileEntry {
    /// Inside the batch folder: `print/<batch>-NNN.pdf`.
    pub path: String,
    pub pages: u64,
    pub pieces: u64,
    /// ZIP of the first and the last piece (presort order).
    pub first_zip: String,
    pub last_zip: String,
    pub sha256: String,
}

/// How a batch writes its letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputMode {
    /// Print files in presort order (`print/<batch>-NNN.pdf`), no letter files.
    #[default]
    Print,
    /// One PDF per letter (`letters/<piece>.pdf`).
    Pieces,
    /// Both.
    Both,
}

impl OutputMode {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputMode::Print => "print",
            OutputMode::Pieces => "pieces",
            OutputMode::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [OutputMode::Print, OutputMode::Pieces, OutputMode::Both]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    /// Writes one PDF per letter.
    pub fn pieces(self) -> bool {
        self != OutputMode::Print
    }

    /// Writes print files.
    pub fn print(self) -> bool {
        self != OutputMode::Pieces
    }
}

/// A `batch.json` that cannot be read as one.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a batch summary: {message}")]
    Parse { path: String, message: String },
}

/// Reads a batch folder's `batch.json` as the one type that writes it.
pub fn read_summary(batch_dir: &std::path::Path) -> Result<BatchSummary, SummaryError> {
    read_json(&batch_dir.join("batch.json"))
}

/// The list of files `batch.json` holds (which [`BatchSummary`] leaves to
/// the stream it is written from).
pub fn read_file_list(batch_dir: &std::path::Path) -> Result<Vec<FileEntry>, SummaryError> {
    #[derive(Deserialize)]
    struct Listed {
        #[serde(default)]
        files: Vec<FileEntry>,
    }
    read_json::<Listed>(&batch_dir.join("batch.json")).map(|l| l.files)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, SummaryError> {
    let shown = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| SummaryError::Io {
        path: shown(),
        source,
    })?;
    serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| SummaryError::Parse {
        path: shown(),
        message: e.to_string(),
    })
}

/// `batch.json`: written last; its presence means the batch is complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    pub batch_id: String,
    pub batch_date: NaiveDate,
    pub kind: BatchKind,
    pub key_id: String,
    /// The identity of the ledger that recorded this batch: a run refuses
    /// an output folder holding batches of another ledger.
    #[serde(default)]
    pub ledger_id: String,
    /// `test` when made with a test key (letters carry SPECIMEN), else `production`.
    pub mode: KeyMode,
    pub program_version: String,
    pub input_file: String,
    pub input_sha256: Sha256Hex,
    pub counts: Counts,
    pub letters: u64,
    pub pages: u64,
    pub sheets: u64,
    pub presort: Presort,
    /// How letters were written (`print`, `pieces`, `both`); nightly batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputMode>,
    /// Letters per print file at most, when print files were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces_per_file: Option<u64>,
    /// The print files, in order; their pages and pieces add up to the
    /// batch's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub print_files: Vec<PrintFileEntry>,
    /// Every file of the batch with its SHA-256, letters in manifest order.
    /// Not held here: `batch::write_summary` streams the list into
    /// `batch.json` from the ledger, so memory does not grow with the batch.
    #[serde(skip)]
    pub files: Vec<FileEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("@SUM"), "'@SUM");
        assert_eq!(neutralise("JOSÉ"), "JOSÉ");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn rejects_csv_has_header_and_rows() {
        let mut w = RejectsWriter::new(Vec::new()).unwrap();
        w.write(&Reject {
            line: 7,
            receipt_number: Some("=cmd".into()),
            field: "state".into(),
            reason: "state 'XX' is not a USPS state or territory code".into(),
        })
        .unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "line,receipt_number,field,reason\n7,'=cmd,state,state 'XX' is not a USPS state or territory code\n"
        );
    }

    #[test]
    fn counts_add_up_and_presort_groups() {
        let c = Counts {
            read: 10,
            issued: 6,
            already_issued: 1,
            rejected: 3,
        };
        assert!(c.add_up());
        // One row more or less on either side breaks the sum.
        assert!(!Counts { read: 11, ..c }.add_up());
        assert!(!Counts { read: 9, ..c }.add_up());
        assert!(!Counts { issued: 5, ..c }.add_up());
        assert!(!Counts {
            already_issued: 2,
            ..c
        }
        .add_up());
        assert!(!Counts { rejected: 2, ..c }.add_up());
        let mut p = Presort::default();
        for z in ["20001", "20002", "20001", "96205"] {
            p.add(z);
        }
        assert_eq!(p.zip3.get("200"), Some(&3));
        assert_eq!(p.zip5.get("20001"), Some(&2));
        assert_eq!(p.zip3.get("962"), Some(&1));
    }
}
