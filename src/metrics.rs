//! The numbers of a finished run, for monitoring: a Prometheus text-format
//! file (exposition format 0.0.4) that node_exporter's textfile collector
//! reads, written atomically at the end of `run` so the collector never sees
//! half a file.
//!
//! Only counts and timings: never a code, a name or an address. Rejects are
//! counted by the input field at fault (`state`, `zip`...), which is a small,
//! fixed set; the free-text reason stays in `rejects.csv`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::key::KeyMode;
use crate::ledger::{MailCounts, MailEventKind};
use crate::output::{write_atomic, Flush};
use crate::report::{ReportData, ReportError};

/// What one run did, in plain numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMetrics {
    pub batch_id: String,
    /// The kind of key the letters were made with (a test key's carry
    /// SPECIMEN).
    pub mode: KeyMode,
    pub read: u64,
    pub issued: u64,
    pub already_issued: u64,
    pub rejected: u64,
    /// Rejected rows by the field at fault.
    pub rejected_by_field: BTreeMap<String, u64>,
    pub pages: u64,
    pub sheets: u64,
    pub duration_seconds: f64,
    /// When the run finished, in seconds since the Unix epoch (the clock of
    /// the host: this file is monitoring, not a batch output).
    pub finished_unix_seconds: i64,
}

impl RunMetrics {
    /// Letters made per second of wall time (0 for an instant run).
    pub fn letters_per_second(&self) -> f64 {
        if self.duration_seconds > 0.0 {
            self.issued as f64 / self.duration_seconds
        } else {
            0.0
        }
    }
}

/// A label value escaped as the exposition format asks (`\`, `"`, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP access_letters_{name} {help}");
    let _ = writeln!(out, "# TYPE access_letters_{name} {kind}");
}

/// A metric family: name, help text, and its value for one batch.
type Family = (&'static str, &'static str, fn(&RunMetrics) -> String);

/// The metrics of the batches of one run as Prometheus text: one family per
/// number, each sample labelled with its batch id and test/production.
pub fn render(batches: &[RunMetrics]) -> String {
    let mut out = String::new();
    let families: [Family; 8] = [
        ("rows_read", "Data rows read from the input.", |m| {
            m.read.to_string()
        }),
        ("issued", "Filings issued a code in this batch.", |m| {
            m.issued.to_string()
        }),
        (
            "already_issued",
            "Filings skipped: issued by an earlier batch.",
            |m| m.already_issued.to_string(),
        ),
        ("pages", "Pages printed in this batch.", |m| {
            m.pages.to_string()
        }),
        ("sheets", "Sheets of paper in this batch.", |m| {
            m.sheets.to_string()
        }),
        ("duration_seconds", "Wall time of the run.", |m| {
            format!("{:.3}", m.duration_seconds)
        }),
        (
            "letters_per_second",
            "Letters made per second of wall time.",
            |m| format!("{:.1}", m.letters_per_second()),
        ),
        (
            "last_success_timestamp_seconds",
            "When the last run finished, Unix time.",
            |m| m.finished_unix_seconds.to_string(),
        ),
    ];
    for (name, help, value) in families {
        family(&mut out, name, "gauge", help);
        for m in batches {
            let _ = writeln!(out, "access_letters_{name}{{{}}} {}", base(m), value(m));
        }
    }
    family(
        &mut out,
        "rejected",
        "gauge",
        "Rows rejected, by the input field at fault.",
    );
    for m in batches {
        let base = base(m);
        let _ = writeln!(
            out,
            "access_letters_rejected{{{base},field=\"all\"}} {}",
            m.rejected
        );
        for (field, n) in &m.rejected_by_field {
            let _ = writeln!(
                out,
                "access_letters_rejected{{{base},field=\"{}\"}} {n}",
                label(field)
            );
        }
    }
    out
}

fn base(m: &RunMetrics) -> String {
    format!(
        "batch=\"{}\",test=\"{}\"",
        label(&m.batch_id),
        match m.mode {
            KeyMode::Test => "true",
            KeyMode::Production => "false",
        }
    )
}

/// The metrics of a finished batch folder, from its `batch.json` and
/// `rejects.csv`; the duration and finishing time come from the caller.
pub fn from_batch(
    batch_dir: &Path,
    duration_seconds: f64,
    finished_unix_seconds: i64,
) -> Result<RunMetrics, ReportError> {
    let data = ReportData::load(batch_dir)?;
    let s = &data.summary;
    Ok(RunMetrics {
        batch_id: s.batch_id.clone(),
        mode: s.mode,
        read: s.counts.read,
        issued: s.counts.issued,
        already_issued: s.counts.already_issued,
        rejected: s.counts.rejected,
        rejected_by_field: data
            .rejects
            .iter()
            .map(|(f, g)| (f.clone(), g.count))
            .collect(),
        pages: s.pages,
        sheets: s.sheets,
        duration_seconds,
        finished_unix_seconds,
    })
}

/// The mail trail of the whole ledger as Prometheus text: hand-offs to the
/// vendor, pieces per step (mailed, delivered, returned...), scans that
/// matched no letter. Counts only.
pub fn render_mail(c: &MailCounts) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "mail_deliveries",
        "gauge",
        "Batches handed to the print vendor (finished hand-offs, --again included).",
    );
    let _ = writeln!(out, "access_letters_mail_deliveries {}", c.deliveries);
    family(
        &mut out,
        "mail_pieces",
        "gauge",
        "Letters with at least one event of each step of the mail trail.",
    );
    for k in MailEventKind::ALL {
        let _ = writeln!(
            out,
            "access_letters_mail_pieces{{event=\"{}\"}} {}",
            k.as_str(),
            c.pieces(k)
        );
    }
    family(
        &mut out,
        "mail_unmatched_scans",
        "gauge",
        "USPS scans imported that matched no letter of this ledger.",
    );
    let _ = writeln!(
        out,
        "access_letters_mail_unmatched_scans {}",
        c.unmatched_scans
    );
    family(
        &mut out,
        "mail_redeemed_then_returned",
        "gauge",
        "Letters returned undelivered after their code was redeemed: check the linked account.",
    );
    let _ = writeln!(
        out,
        "access_letters_mail_redeemed_then_returned {}",
        c.redeemed_then_returned
    );
    out
}

/// Writes the metrics file under a temporary name and renames it into
/// place: the batches' families, then the mail trail's when known.
pub fn write(path: &Path, batches: &[RunMetrics], mail: Option<&MailCounts>) -> io::Result<()> {
    let mut text = render(batches);
    if let Some(m) = mail {
        text.push_str(&render_mail(m));
    }
    write_atomic(path, text.as_bytes(), Flush::Later)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunMetrics {
        RunMetrics {
            batch_id: "2026-11-25-fa82dc".into(),
            mode: KeyMode::Test,
            read: 10,
            issued: 7,
            already_issued: 1,
            rejected: 2,
            rejected_by_field: BTreeMap::from([("state".into(), 1), ("zip".into(), 1)]),
            pages: 9,
            sheets: 8,
            duration_seconds: 2.0,
            finished_unix_seconds: 1_795_000_000,
        }
    }

    #[test]
    fn every_sample_line_is_name_labels_value() {
        let text = render(&[sample()]);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(
                series.starts_with("access_letters_") && series.ends_with('}'),
                "{line}"
            );
        }
        assert!(text.contains(
            "access_letters_letters_per_second{batch=\"2026-11-25-fa82dc\",test=\"true\"} 3.5"
        ));
        assert!(text.contains("field=\"zip\"} 1"));
    }

    #[test]
    fn the_mail_trail_is_counted_by_step() {
        let mut c = MailCounts {
            deliveries: 2,
            unmatched_scans: 3,
            redeemed_then_returned: 1,
            ..MailCounts::default()
        };
        c.by_kind.insert(MailEventKind::Mailed, 40);
        c.by_kind.insert(MailEventKind::Returned, 1);
        let text = render_mail(&c);
        assert!(text.contains("access_letters_mail_deliveries 2\n"));
        assert!(text.contains("access_letters_mail_pieces{event=\"mailed\"} 40\n"));
        assert!(text.contains("access_letters_mail_pieces{event=\"returned\"} 1\n"));
        assert!(text.contains("access_letters_mail_pieces{event=\"delivered\"} 0\n"));
        assert!(text.contains("access_letters_mail_redeemed_then_returned 1\n"));
        assert!(text.contains("access_letters_mail_unmatched_scans 3\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
