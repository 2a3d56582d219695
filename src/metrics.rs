//! The numbers of a finished run, for monitoring: a Prometheus text-format
//! file (exposition format 0.0.4) that node_exporter's textfile collector
//! reads, written atomically at the end of `run` so the collector never sees
//! half a file.
//!
//! Only counts and timings: never a code, a name or an address. Rejects are
//! counted by the input field at fault (`state`, `zip`...), which is a small,
//! fixed set; the free-text reason stays in `rejects.csv`.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

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

/// A number as the file shows it: a count, or a measure rounded to the
/// places it is shown with.
#[derive(Clone, Copy, Debug)]
enum Num {
    Count(u64),
    Measure(f64),
}

impl Num {
    fn rounded(v: f64, places: i32) -> Num {
        let scale = 10f64.powi(places);
        Num::Measure((v * scale).round() / scale)
    }

    fn gauge(self, encoder: MetricEncoder<'_>) -> fmt::Result {
        match self {
            Num::Count(n) => ConstGauge::new(n).encode(encoder),
            Num::Measure(v) => ConstGauge::new(v).encode(encoder),
        }
    }
}

/// A metric family: name, help text, and its value for one batch.
type Family = (&'static str, &'static str, fn(&RunMetrics) -> Num);

const BATCH_FAMILIES: [Family; 8] = [
    ("rows_read", "Data rows read from the input.", |m| {
        Num::Count(m.read)
    }),
    ("issued", "Filings issued a code in this batch.", |m| {
        Num::Count(m.issued)
    }),
    (
        "already_issued",
        "Filings skipped: issued by an earlier batch.",
        |m| Num::Count(m.already_issued),
    ),
    ("pages", "Pages printed in this batch.", |m| {
        Num::Count(m.pages)
    }),
    ("sheets", "Sheets of paper in this batch.", |m| {
        Num::Count(m.sheets)
    }),
    ("duration_seconds", "Wall time of the run.", |m| {
        Num::rounded(m.duration_seconds, 3)
    }),
    (
        "letters_per_second",
        "Letters made per second of wall time.",
        |m| Num::rounded(m.letters_per_second(), 1),
    ),
    (
        "last_success_timestamp_seconds",
        "When the last run finished, Unix time.",
        |m| Num::Count(u64::try_from(m.finished_unix_seconds).unwrap_or(0)),
    ),
];

/// The labels every sample of a batch carries.
fn base(m: &RunMetrics) -> [(&'static str, String); 2] {
    [
        ("batch", m.batch_id.clone()),
        (
            "test",
            match m.mode {
                KeyMode::Test => "true",
                KeyMode::Production => "false",
            }
            .to_string(),
        ),
    ]
}

/// What one file holds, read by prometheus-client at encoding time (a
/// [`Collector`]), so each family's samples come in the order given: the
/// batches in run order, the reject fields and mail steps in theirs.
#[derive(Debug)]
struct Textfile {
    /// The batches' families, written (with their HELP and TYPE) even for
    /// no batch, as `deliver --metrics` and `ingest --metrics` do.
    batches: Option<Vec<RunMetrics>>,
    mail: Option<MailCounts>,
}

fn gauge<'e>(
    encoder: &'e mut DescriptorEncoder<'_>,
    name: &'e str,
    help: &str,
) -> Result<MetricEncoder<'e>, fmt::Error> {
    encoder.encode_descriptor(name, help, None, MetricType::Gauge)
}

impl Textfile {
    /// One family per number, each sample labelled with its batch id and
    /// test/production; then the rejects by field.
    fn encode_batches(batches: &[RunMetrics], encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        for (name, help, value) in BATCH_FAMILIES {
            let mut family = gauge(encoder, name, help)?;
            for m in batches {
                value(m).gauge(family.encode_family(&base(m))?)?;
            }
        }
        let help = "Rows rejected, by the input field at fault.";
        let mut family = gauge(encoder, "rejected", help)?;
        for m in batches {
            let all = std::iter::once(("all", m.rejected));
            let fields = m.rejected_by_field.iter().map(|(f, n)| (f.as_str(), *n));
            for (field, n) in all.chain(fields) {
                let labels = (base(m), [("field", field)]);
                Num::Count(n).gauge(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    /// The mail trail of the whole ledger: hand-offs to the vendor, pieces
    /// per step (mailed, delivered, returned...), scans that matched no
    /// letter. Counts only.
    fn encode_mail(c: &MailCounts, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let help = "Batches handed to the print vendor (finished hand-offs, --again included).";
        Num::Count(c.deliveries).gauge(gauge(encoder, "mail_deliveries", help)?)?;
        let help = "Letters with at least one event of each step of the mail trail.";
        let mut family = gauge(encoder, "mail_pieces", help)?;
        for k in MailEventKind::ALL {
            let labels = [("event", k.as_str())];
            Num::Count(c.pieces(k)).gauge(family.encode_family(&labels)?)?;
        }
        let help = "USPS scans imported that matched no letter of this ledger.";
        Num::Count(c.unmatched_scans).gauge(gauge(encoder, "mail_unmatched_scans", help)?)?;
        let help =
            "Letters returned undelivered after their code was redeemed: check the linked account.";
        let family = gauge(encoder, "mail_redeemed_then_returned", help)?;
        Num::Count(c.redeemed_then_returned).gauge(family)
    }

    /// The text: Prometheus text format, as node_exporter's textfile
    /// collector reads it (no OpenMetrics `# EOF`: a file is not a scrape).
    fn text(self) -> String {
        let mut registry = Registry::with_prefix("access_letters");
        registry.register_collector(Box::new(self));
        let mut text = String::new();
        encode_registry(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

impl Collector for Textfile {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        if let Some(batches) = &self.batches {
            Textfile::encode_batches(batches, &mut encoder)?;
        }
        match &self.mail {
            Some(c) => Textfile::encode_mail(c, &mut encoder),
            None => Ok(()),
        }
    }
}

/// The metrics of the batches of one run as Prometheus text: one family per
/// number, each sample labelled with its batch id and test/production.
pub fn render(batches: &[RunMetrics]) -> String {
    Textfile {
        batches: Some(batches.to_vec()),
        mail: None,
    }
    .text()
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
    Textfile {
        batches: None,
        mail: Some(c.clone()),
    }
    .text()
}

/// Writes the metrics file under a temporary name and renames it into
/// place: the batches' families, then the mail trail's when known.
pub fn write(path: &Path, batches: &[RunMetrics], mail: Option<&MailCounts>) -> io::Result<()> {
    let text = Textfile {
        batches: Some(batches.to_vec()),
        mail: mail.cloned(),
    }
    .text();
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
        let mut m = sample();
        m.batch_id = "a\"b\\c\nd".into();
        let text = render(&[m]);
        assert!(
            text.contains("access_letters_issued{batch=\"a\\\"b\\\\c\\nd\",test=\"true\"} 7\n"),
            "{text}"
        );
    }

    /// The text node_exporter's textfile collector read before the file
    /// came from prometheus-client: names, HELP, TYPE, labels and values,
    /// every line in its place, and no OpenMetrics `# EOF`.
    #[test]
    fn the_textfile_keeps_its_names_help_type_and_order() {
        let mut c = MailCounts {
            deliveries: 2,
            ..MailCounts::default()
        };
        c.by_kind.insert(MailEventKind::Mailed, 40);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.prom");
        let mut m = sample();
        m.duration_seconds = 2.0004;
        write(&path, &[m], Some(&c)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let b = r#"batch="2026-11-25-fa82dc",test="true""#;
        let head = format!(
            "# HELP access_letters_rows_read Data rows read from the input.\n\
             # TYPE access_letters_rows_read gauge\n\
             access_letters_rows_read{{{b}}} 10\n\
             # HELP access_letters_issued Filings issued a code in this batch.\n\
             # TYPE access_letters_issued gauge\n\
             access_letters_issued{{{b}}} 7\n"
        );
        assert!(text.starts_with(&head), "{text}");
        for line in [
            format!("access_letters_duration_seconds{{{b}}} 2.0\n"),
            format!("access_letters_last_success_timestamp_seconds{{{b}}} 1795000000\n"),
            "# TYPE access_letters_rejected gauge\n".into(),
            format!("access_letters_rejected{{{b},field=\"all\"}} 2\naccess_letters_rejected{{{b},field=\"state\"}} 1\n"),
            "# HELP access_letters_mail_deliveries Batches handed to the print vendor (finished hand-offs, --again included).\n# TYPE access_letters_mail_deliveries gauge\naccess_letters_mail_deliveries 2\n".into(),
        ] {
            assert!(text.contains(&line), "{line} in {text}");
        }
        assert!(!text.contains("EOF") && !text.contains("_total"), "{text}");
        assert!(text.find("mail_deliveries") > text.find("access_letters_rejected"));
    }
}
