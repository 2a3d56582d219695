//! `report.html`: how a night went, for the operator, in one self-contained
//! page (inline CSS and SVG, no script, nothing fetched from the network).
//!
//! It is made from the batch's own files after `batch.json` is written:
//! `batch.json` for the counts and control totals, `manifest.csv` for letters
//! by form and language, `rejects.csv` for rejects grouped by the field at
//! fault. The files are read as a stream, so a million-row night takes the
//! same memory as a small one. No code is on the page: the sample letters
//! the caller adds are pictures with the code masked. Those pictures show
//! one applicant's name and address per language, like the letters beside
//! them, so the page is written private (mode 0600) like every letter.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use base64::prelude::{Engine as _, BASE64_STANDARD};

use crate::manifest::{read_summary, BatchSummary, KeyMode, SummaryError};
use crate::output::write_atomic;

/// Rejected lines shown under each reason group.
const SAMPLE_LINES_PER_GROUP: usize = 3;
/// Width of the longest bar of a bar chart, in CSS pixels.
const BAR_MAX_PX: f64 = 360.0;
/// Height of one bar and the gap under it, in CSS pixels.
const BAR_ROW_PX: u32 = 22;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Summary(#[from] SummaryError),
    #[error("cannot read {path}: {source}")]
    Csv { path: String, source: csv::Error },
}

/// Rejects of one field: how many, and the first few lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RejectGroup {
    pub count: u64,
    /// (line, receipt as typed, reason)
    pub samples: Vec<(String, String, String)>,
}

/// Everything the page shows, gathered from the batch folder.
#[derive(Debug)]
pub struct ReportData {
    pub summary: BatchSummary,
    pub by_form: BTreeMap<String, u64>,
    pub by_language: BTreeMap<String, u64>,
    pub rejects: BTreeMap<String, RejectGroup>,
    /// What the caller adds: stage times and sample pictures.
    pub extras: ReportExtras,
}

/// What a report shows beyond the batch's own files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportExtras {
    /// Seconds per stage, when the caller measured them.
    pub timings: Vec<(String, f64)>,
    /// One PNG picture of a letter per language (code masked).
    pub thumbnails: Vec<(String, Vec<u8>)>,
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>, ReportError> {
    let file = File::open(path).map_err(|source| ReportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(csv::Reader::from_reader(BufReader::new(file)))
}

fn column(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers.iter().position(|h| h == name)
}

impl ReportData {
    /// Reads `batch.json`, `manifest.csv` and `rejects.csv` of a batch folder.
    pub fn load(batch_dir: &Path) -> Result<ReportData, ReportError> {
        let mut data = ReportData {
            summary: read_summary(batch_dir)?,
            by_form: BTreeMap::new(),
            by_language: BTreeMap::new(),
            rejects: BTreeMap::new(),
            extras: ReportExtras::default(),
        };
        data.read_manifest(&batch_dir.join("manifest.csv"))?;
        // A reissue batch has no input file, so no rejects.csv.
        let rejects = batch_dir.join("rejects.csv");
        if rejects.exists() {
            data.read_rejects(&rejects)?;
        }
        Ok(data)
    }

    fn read_manifest(&mut self, path: &Path) -> Result<(), ReportError> {
        let csv_err = |source| ReportError::Csv {
            path: path.display().to_string(),
            source,
        };
        let mut reader = csv_reader(path)?;
        let headers = reader.headers().map_err(csv_err)?.clone();
        let (form, lang) = (column(&headers, "form"), column(&headers, "language"));
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("?").to_string();
            *self.by_form.entry(cell(form)).or_default() += 1;
            *self.by_language.entry(cell(lang)).or_default() += 1;
        }
        Ok(())
    }

    fn read_rejects(&mut self, path: &Path) -> Result<(), ReportError> {
        let csv_err = |source| ReportError::Csv {
            path: path.display().to_string(),
            source,
        };
        let mut reader = csv_reader(path)?;
        let headers = reader.headers().map_err(csv_err)?.clone();
        let idx = ["line", "receipt_number", "field", "reason"].map(|n| column(&headers, n));
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_string();
            let group = self.rejects.entry(cell(idx[2])).or_default();
            group.count += 1;
            if group.samples.len() < SAMPLE_LINES_PER_GROUP {
                group
                    .samples
                    .push((cell(idx[0]), cell(idx[1]), cell(idx[3])));
            }
        }
        Ok(())
    }
}

/// Text made safe for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart as inline SVG, one bar per (label, count).
fn bar_chart(id: &str, rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let height = BAR_ROW_PX * rows.len().max(1) as u32;
    let mut svg = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" width=\"620\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = BAR_ROW_PX * i as u32;
        let w = (*n as f64 / max * BAR_MAX_PX).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\" class=\"lbl\">{l}</text><rect x=\"200\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\"/><text x=\"{tx:.1}\" y=\"{ty}\" class=\"val\">{n}</text>",
            ty = y + 15,
            l = escape(label),
            bh = BAR_ROW_PX - 6,
            tx = 206.0 + w,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table(rows: &[(String, String)]) -> String {
    let mut t = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(t, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    t.push_str("</table>");
    t
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1b1b}\
h1{font-size:22px}h2{font-size:17px;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}\
td.n,th.n{text-align:right;white-space:nowrap}.test{background:#fde2e1;padding:4px 8px;display:inline-block}\
.ok{color:#0a6b2d}.bad{color:#b50909;font-weight:bold}.chart rect{fill:#1a4480}\
.chart text{font-size:12px}.lbl{fill:#1b1b1b}.val{fill:#555}\
.samples{display:flex;gap:16px}figure{margin:0}img{border:1px solid #bbb}";

fn counts_section(s: &BatchSummary) -> String {
    let counts = s.counts;
    let c = |k: &str| match k {
        "read" => counts.read,
        "issued" => counts.issued,
        "already_issued" => counts.already_issued,
        _ => counts.rejected,
    };
    let adds_up = counts.add_up();
    let mut out = String::from("<h2>Counts</h2>");
    out.push_str(&table(&[
        ("Rows read".into(), c("read").to_string()),
        ("Issued".into(), c("issued").to_string()),
        ("Already issued".into(), c("already_issued").to_string()),
        ("Rejected".into(), c("rejected").to_string()),
        ("Letters".into(), s.letters.to_string()),
        ("Pages".into(), s.pages.to_string()),
        ("Sheets".into(), s.sheets.to_string()),
    ]));
    let _ = write!(
        out,
        "<p id=\"control-total\" class=\"{}\">read {} = issued {} + already issued {} + rejected {}: {}</p>",
        if adds_up { "ok" } else { "bad" },
        c("read"),
        c("issued"),
        c("already_issued"),
        c("rejected"),
        if adds_up { "the control totals add up" } else { "THE CONTROL TOTALS DO NOT ADD UP" }
    );
    out
}

fn rejects_section(data: &ReportData) -> String {
    let mut out = String::from("<h2>Rejects by field</h2>");
    if data.rejects.is_empty() {
        out.push_str("<p>No rows were rejected.</p>");
        return out;
    }
    let mut groups: Vec<(&String, &RejectGroup)> = data.rejects.iter().collect();
    groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let bars: Vec<(String, u64)> = groups
        .iter()
        .map(|(f, g)| ((*f).clone(), g.count))
        .collect();
    out.push_str(&bar_chart("rejects-chart", &bars));
    for (field, group) in groups {
        let _ = write!(out, "<h3>{} ({})</h3><table>", escape(field), group.count);
        for (line, receipt, reason) in &group.samples {
            let _ = write!(
                out,
                "<tr><td class=\"n\">line {}</td><td>{}</td><td>{}</td></tr>",
                escape(line),
                escape(receipt),
                escape(reason)
            );
        }
        out.push_str("</table>");
    }
    out
}

fn breakdown_section(data: &ReportData) -> String {
    let s = &data.summary;
    let mut out = String::from("<h2>Letters by form</h2>");
    let forms: Vec<(String, u64)> = data.by_form.iter().map(|(k, v)| (k.clone(), *v)).collect();
    out.push_str(&bar_chart("form-chart", &forms));
    out.push_str("<h2>Letters by language</h2>");
    let langs: Vec<(String, u64)> = data
        .by_language
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    out.push_str(&bar_chart("language-chart", &langs));
    out.push_str("<h2>Presort by 3-digit ZIP</h2>");
    let zip3: Vec<(String, u64)> = (s.presort.zip3.iter())
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    out.push_str(&bar_chart("zip3-chart", &zip3));
    out.push_str(&extras_section(&data.extras));
    out
}

/// Sample letters and stage times. The times sit between two comments, so
/// a comparison of two runs' reports can leave them out.
fn extras_section(extras: &ReportExtras) -> String {
    let mut out = String::new();
    if !extras.thumbnails.is_empty() {
        out.push_str("<h2>Sample letters (code masked)</h2><div class=\"samples\">");
        for (language, png) in &extras.thumbnails {
            let _ = write!(
                out,
                "<figure><img alt=\"page 1 of a letter in {l}\" src=\"data:image/png;base64,{}\"><figcaption>{l}</figcaption></figure>",
                BASE64_STANDARD.encode(png),
                l = escape(language)
            );
        }
        out.push_str("</div>");
    }
    if !extras.timings.is_empty() {
        out.push_str("<!--timings--><h2>Time per stage</h2>");
        let rows: Vec<(String, String)> = extras
            .timings
            .iter()
            .map(|(stage, secs)| (stage.clone(), format!("{secs:.2} s")))
            .collect();
        out.push_str(&table(&rows));
        out.push_str("<!--/timings-->");
    }
    out
}

/// The whole page.
pub fn render(data: &ReportData) -> String {
    let s = &data.summary;
    let batch_id = s.batch_id.as_str();
    let test = s.mode == KeyMode::Test;
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Batch {id}</title><style>{STYLE}</style></head><body><h1>Batch {id}</h1>",
        id = escape(batch_id)
    );
    if test {
        html.push_str(
            "<p class=\"test\">TEST batch: letters carry SPECIMEN and must not be mailed.</p>",
        );
    }
    html.push_str(&table(&[
        ("Batch date".into(), s.batch_date.to_string()),
        ("Input file".into(), s.input_file.clone()),
        ("Key id".into(), s.key_id.clone()),
        ("Mode".into(), s.mode.as_str().into()),
        ("Program version".into(), s.program_version.clone()),
    ]));
    html.push_str(&counts_section(s));
    html.push_str(&rejects_section(data));
    html.push_str(&breakdown_section(data));
    html.push_str("</body></html>\n");
    html
}

/// Makes `report.html` in a finished batch folder.
pub fn write(batch_dir: &Path, extras: &ReportExtras) -> Result<(), ReportError> {
    let mut data = ReportData::load(batch_dir)?;
    data.extras = extras.clone();
    let path = batch_dir.join("report.html");
    write_atomic(&path, render(&data).as_bytes(), false).map_err(|source| ReportError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape("<a href=\"x\">O'Brien & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;"
        );
    }

    #[test]
    fn control_total_line_says_when_counts_do_not_add_up() {
        let summary = |read: u64| -> BatchSummary {
            serde_json::from_value(serde_json::json!({
                "batch_id": "2026-11-25-abcdef", "batch_date": "2026-11-25",
                "kind": "nightly", "key_id": "test-1", "mode": "test",
                "program_version": "0.1.0", "input_file": "f.csv", "input_sha256": "ab",
                "counts": {"read": read, "issued": 2, "already_issued": 0, "rejected": 1},
                "letters": 2, "pages": 2, "sheets": 2, "presort": {"zip3": {}, "zip5": {}}
            }))
            .expect("a summary")
        };
        assert!(counts_section(&summary(3)).contains("the control totals add up"));
        assert!(counts_section(&summary(4)).contains("DO NOT ADD UP"));
    }

    #[test]
    fn bar_chart_has_one_bar_per_row_and_escapes_labels() {
        let svg = bar_chart("c", &[("<b>".into(), 2), ("zip".into(), 4)]);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("&lt;b&gt;"));
        assert!(
            svg.contains("width=\"360.0\""),
            "the largest bar is full width: {svg}"
        );
    }
}
