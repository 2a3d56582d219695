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
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use serde::Serialize;

use crate::ledger::{Delivery, MailCounts, MailEventKind};
use crate::manifest::{read_summary, BatchSummary, SummaryError};
use crate::output::{write_atomic, Flush};

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
    #[error("report.html cannot be made from templates/report.html.tera: {0}")]
    Template(String),
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

/// The page's template: words and layout, editable like the letters'.
const TEMPLATE: &str = include_str!("../templates/report.html.tera");

/// One bar of a chart, its geometry worked out here.
#[derive(Serialize)]
struct Bar {
    label: String,
    count: u64,
    y: u32,
    text_y: u32,
    width: String,
    value_x: String,
}

/// A horizontal bar chart, one bar per (label, count).
#[derive(Serialize)]
struct Chart {
    id: &'static str,
    height: u32,
    bar_height: u32,
    bars: Vec<Bar>,
}

fn chart(id: &'static str, rows: &[(String, u64)]) -> Chart {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, n))| {
            let y = BAR_ROW_PX * i as u32;
            let w = (*n as f64 / max * BAR_MAX_PX).max(1.0);
            Bar {
                label: label.clone(),
                count: *n,
                y,
                text_y: y + 15,
                width: format!("{w:.1}"),
                value_x: format!("{:.1}", 206.0 + w),
            }
        })
        .collect();
    Chart {
        id,
        height: BAR_ROW_PX * rows.len().max(1) as u32,
        bar_height: BAR_ROW_PX - 6,
        bars,
    }
}

#[derive(Serialize)]
struct RejectSample<'a> {
    line: &'a str,
    receipt: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct RejectRows<'a> {
    field: &'a str,
    count: u64,
    samples: Vec<RejectSample<'a>>,
}

fn pairs(map: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    map.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// The whole page, from the template.
pub fn render(data: &ReportData) -> Result<String, ReportError> {
    let s = &data.summary;
    let mut groups: Vec<(&String, &RejectGroup)> = data.rejects.iter().collect();
    groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let reject_bars: Vec<(String, u64)> = groups
        .iter()
        .map(|(f, g)| ((*f).clone(), g.count))
        .collect();
    let rejects: Vec<RejectRows<'_>> = groups
        .iter()
        .map(|(field, g)| RejectRows {
            field,
            count: g.count,
            samples: (g.samples.iter())
                .map(|(line, receipt, reason)| RejectSample {
                    line,
                    receipt,
                    reason,
                })
                .collect(),
        })
        .collect();
    let thumbnails: Vec<BTreeMap<&str, String>> = (data.extras.thumbnails.iter())
        .map(|(language, png)| {
            BTreeMap::from([
                ("language", language.clone()),
                ("png_base64", BASE64_STANDARD.encode(png)),
            ])
        })
        .collect();
    let timings: Vec<BTreeMap<&str, String>> = (data.extras.timings.iter())
        .map(|(stage, secs)| {
            BTreeMap::from([("stage", stage.clone()), ("seconds", format!("{secs:.2}"))])
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("batch_id", &s.batch_id);
    ctx.insert("batch_date", &s.batch_date.to_string());
    ctx.insert("input_file", &s.input_file);
    ctx.insert("key_id", &s.key_id);
    ctx.insert("mode", s.mode.as_str());
    ctx.insert("program_version", &s.program_version);
    ctx.insert("counts", &s.counts);
    ctx.insert("adds_up", &s.counts.add_up());
    ctx.insert("letters", &s.letters);
    ctx.insert("pages", &s.pages);
    ctx.insert("sheets", &s.sheets);
    ctx.insert("rejects", &rejects);
    ctx.insert("rejects_chart", &chart("rejects-chart", &reject_bars));
    ctx.insert("form_chart", &chart("form-chart", &pairs(&data.by_form)));
    ctx.insert(
        "language_chart",
        &chart("language-chart", &pairs(&data.by_language)),
    );
    ctx.insert("zip3_chart", &chart("zip3-chart", &pairs(&s.presort.zip3)));
    ctx.insert(
        "mail_section",
        &render_mail_section(&MailTrail::default(), s.letters)?,
    );
    ctx.insert("thumbnails", &thumbnails);
    ctx.insert("timings", &timings);
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .and_then(|()| tera.render("report.html", &ctx))
        .map_err(|e| ReportError::Template(template_error(&e)))
}

/// Tera's error and its causes in one line.
fn template_error(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// What is known of a batch after the envelope, for its report: its
/// hand-offs to the vendor and its pieces per step of the mail trail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailTrail {
    pub deliveries: Vec<Delivery>,
    pub counts: MailCounts,
}

const MAIL_TEMPLATE: &str = include_str!("../templates/report_mail.html.tera");
const MAIL_START: &str = "<!--mail-trail-->";
const MAIL_END: &str = "<!--/mail-trail-->";

/// The report's "After the envelope" section.
fn render_mail_section(trail: &MailTrail, letters: u64) -> Result<String, ReportError> {
    let handoffs: Vec<String> = trail
        .deliveries
        .iter()
        .filter_map(|d| {
            d.completed_at.map(|t| {
                format!(
                    "{} UTC to {}{}",
                    t.format("%Y-%m-%d %H:%M"),
                    d.vendor,
                    if d.again { " (sent again)" } else { "" }
                )
            })
        })
        .collect();
    let pieces: Vec<(&str, u64)> = MailEventKind::ALL
        .into_iter()
        .map(|k| (k.describe(), trail.counts.pieces(k)))
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("handoffs", &handoffs);
    ctx.insert("known", &!trail.counts.by_kind.is_empty());
    ctx.insert("pieces", &pieces);
    ctx.insert("letters", &letters);
    ctx.insert(
        "redeemed_then_returned",
        &trail.counts.redeemed_then_returned,
    );
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report_mail.html", MAIL_TEMPLATE)
        .and_then(|()| tera.render("report_mail.html", &ctx))
        .map_err(|e| ReportError::Template(template_error(&e)))
}

/// Brings a finished batch's `report.html` up to date with what is known
/// after the envelope (after `deliver` and `ingest`), keeping the rest of
/// the page as the run wrote it. A batch without a report is left alone.
pub fn update_mail_trail(batch_dir: &Path, trail: &MailTrail) -> Result<bool, ReportError> {
    let path = batch_dir.join("report.html");
    let io_err = |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    let page = match std::fs::read_to_string(&path) {
        Ok(page) => page,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(e)),
    };
    let letters = read_summary(batch_dir)?.letters;
    let section = render_mail_section(trail, letters)?;
    let (Some(start), Some(end)) = (page.find(MAIL_START), page.find(MAIL_END)) else {
        // A report from before the section existed: written again whole.
        let mut data = ReportData::load(batch_dir)?;
        data.extras = ReportExtras::default();
        let html = render(&data)?.replace(
            &render_mail_section(&MailTrail::default(), letters)?,
            &section,
        );
        write_atomic(&path, html.as_bytes(), Flush::Later).map_err(io_err)?;
        return Ok(true);
    };
    let updated = format!(
        "{}{}{}",
        &page[..start],
        section.trim_end(),
        &page[end + MAIL_END.len()..]
    );
    write_atomic(&path, updated.as_bytes(), Flush::Later).map_err(io_err)?;
    Ok(true)
}

/// Makes `report.html` in a finished batch folder.
pub fn write(batch_dir: &Path, extras: &ReportExtras) -> Result<(), ReportError> {
    let mut data = ReportData::load(batch_dir)?;
    data.extras = extras.clone();
    let path = batch_dir.join("report.html");
    let html = render(&data)?;
    write_atomic(&path, html.as_bytes(), Flush::Later).map_err(|source| ReportError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(read: u64, label: &str) -> ReportData {
        let summary: BatchSummary = serde_json::from_value(serde_json::json!({
            "batch_id": "2026-11-25-abcdef", "batch_date": "2026-11-25",
            "kind": "nightly", "key_id": "test-1", "mode": "test",
            "program_version": "0.1.0", "input_file": "<b>filings</b>.csv",
            "input_sha256": "ab".repeat(32),
            "counts": {"read": read, "issued": 2, "already_issued": 0, "rejected": 1},
            "letters": 2, "pages": 2, "sheets": 2, "presort": {"zip3": {}, "zip5": {}}
        }))
        .expect("a summary");
        ReportData {
            summary,
            by_form: BTreeMap::from([(label.to_string(), 2), ("I-765".to_string(), 4)]),
            by_language: BTreeMap::new(),
            rejects: BTreeMap::from([(
                "state".to_string(),
                RejectGroup {
                    count: 1,
                    samples: vec![(
                        "7".into(),
                        "IOE<script>".into(),
                        "state 'XX' is not a USPS code".into(),
                    )],
                },
            )]),
            extras: ReportExtras::default(),
        }
    }

    #[test]
    fn control_total_line_says_when_counts_do_not_add_up() {
        let good = render(&data(3, "I-485")).expect("a page");
        assert!(good.contains("the control totals add up"), "{good}");
        assert!(good.contains("read 3 = issued 2 + already issued 0 + rejected 1"));
        let bad = render(&data(4, "I-485")).expect("a page");
        assert!(bad.contains("DO NOT ADD UP"), "{bad}");
    }

    #[test]
    fn only_a_test_batch_carries_the_specimen_banner() {
        let banner = "TEST batch: letters carry SPECIMEN";
        let mut d = data(3, "I-485");
        assert!(render(&d).expect("a page").contains(banner));
        d.summary.mode = crate::key::KeyMode::Production;
        assert!(!render(&d).expect("a page").contains(banner));
    }

    #[test]
    fn every_value_is_escaped_by_the_template() {
        let page = render(&data(3, "<b>")).expect("a page");
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("IOE&lt;script&gt;"), "{page}");
        assert!(page.contains("&lt;b&gt;filings&lt;"), "{page}");
        assert!(page.contains("class=\"lbl\">&lt;b&gt;</text>"), "{page}");
    }

    #[test]
    fn bar_chart_has_one_bar_per_row_and_the_largest_is_full_width() {
        let page = render(&data(3, "I-485")).expect("a page");
        let form = page
            .split("id=\"form-chart\"")
            .nth(1)
            .and_then(|rest| rest.split("</svg>").next())
            .expect("the form chart");
        assert_eq!(form.matches("<rect").count(), 2, "{form}");
        assert!(
            form.contains("width=\"360.0\""),
            "the largest bar is full width: {form}"
        );
        assert!(
            form.contains("width=\"180.0\""),
            "half as many, half as wide: {form}"
        );
    }
}
