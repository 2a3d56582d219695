//! What the night leaves for operations: `report.html` in every batch folder
//! (checked in headless Chromium when it is installed), a Prometheus metrics
//! file, and JSON log lines; their numbers equal batch.json's, and none of
//! them holds a code or a name.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::*;

/// A minimal parser of the Prometheus text format: `name{labels} value`
/// lines, `#` lines skipped; fails on anything else.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let kind = rest.split_whitespace().nth(1).unwrap_or("");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "line {}: bad TYPE: {line}",
                    i + 1
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("line {}: no value: {line}", i + 1));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("line {}: value is not a number: {line}", i + 1));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "line {}: bad metric name: {line}",
            i + 1
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "line {}: unclosed labels", i + 1);
        }
        // Key by name plus the field label when there is one.
        let key = match series.find("field=\"") {
            Some(at) => {
                let rest = &series[at + 7..];
                format!("{name}/{}", &rest[..rest.find('"').unwrap()])
            }
            None => name.to_string(),
        };
        samples.insert(key, value);
    }
    samples
}

#[test]
fn metrics_file_parses_and_its_numbers_equal_batch_json() {
    let wd = Workdir::new();
    let metrics = wd.path("metrics/access_letters.prom");
    fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    let out = wd.cmd([
        "run",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_REJECTS);
    let batch = Batch::new(out.batch_dir());
    let summary = batch.summary();
    let text = fs::read_to_string(&metrics).unwrap();
    let m = parse_prometheus(&text);
    let counts = &summary["counts"];
    for (metric, key) in [
        ("access_letters_rows_read", "read"),
        ("access_letters_issued", "issued"),
        ("access_letters_already_issued", "already_issued"),
    ] {
        assert_eq!(m[metric], counts[key].as_u64().unwrap() as f64, "{metric}");
    }
    assert_eq!(
        m["access_letters_rejected/all"],
        counts["rejected"].as_u64().unwrap() as f64
    );
    let by_field: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("access_letters_rejected/") && !k.ends_with("/all"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(by_field, counts["rejected"].as_u64().unwrap() as f64);
    assert_eq!(
        m["access_letters_pages"],
        summary["pages"].as_u64().unwrap() as f64
    );
    assert_eq!(
        m["access_letters_sheets"],
        summary["sheets"].as_u64().unwrap() as f64
    );
    assert!(m["access_letters_last_success_timestamp_seconds"] > 1.7e9);
    assert!(!metrics.with_extension("prom.tmp").exists());
    assert_no_code_in(&batch.all_codes(), text.as_bytes(), "the metrics file");
}

#[test]
fn json_logs_parse_line_by_line_and_hold_no_code_or_name() {
    let wd = Workdir::new();
    let out = wd.cmd([
        "run",
        "--log-format",
        "json",
        "--input",
        fixtures_csv().to_str().unwrap(),
        "--batch-date",
        BATCH_DATE,
    ]);
    out.expect_code(EXIT_REJECTS);
    let batch = Batch::new(out.batch_dir());
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!lines.is_empty(), "some events are logged: {out:?}");
    let mut saw_complete = false;
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object per line ({e}): {line}"));
        assert!(event.is_object());
        if line.contains("batch complete") {
            saw_complete = true;
            assert!(line.contains(&batch.id()), "{line}");
        }
    }
    assert!(saw_complete, "the batch's end is an event: {out:?}");
    let finished: serde_json::Value = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["fields"]["message"] == "run finished")
        .expect("a run-finished event");
    let f = &finished["fields"];
    assert_eq!(f["stage"], "run");
    assert_eq!(f["batch"], batch.id());
    let counts = &batch.summary()["counts"];
    for key in ["read", "issued", "already_issued", "rejected"] {
        assert_eq!(f[key], counts[key], "{key} in the event equals batch.json");
    }
    assert!(f["elapsed_s"].as_f64().unwrap() > 0.0);
    let names: Vec<String> = batch
        .manifest()
        .iter()
        .map(|r| r["recipient_name"].clone())
        .collect();
    assert_no_code_in(&batch.all_codes(), out.stderr.as_bytes(), "the logs");
    let manifest = batch.read("manifest.csv");
    for name in names {
        // Control: the search finds the name where it belongs.
        assert!(
            contains_bytes(&manifest, name.as_bytes()),
            "{name} not in the manifest"
        );
        assert!(!out.stderr.contains(&name), "a name in the logs: {name}");
    }
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// Loads a page in headless Chromium; returns (DOM after load, stderr).
fn chromium_dump(
    browser: &str,
    page: &Path,
    profile: &Path,
    screenshot: Option<&Path>,
) -> (String, String) {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1000,1600",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_html_renders_in_chromium_and_shows_the_counts_of_batch_json() {
    let wd = Workdir::new();
    let (out, batch) = wd.run_fixtures();
    out.expect_code(EXIT_REJECTS);
    let report = batch.path("report.html");
    let html = fs::read_to_string(&report).expect("every batch folder has report.html");
    let offline = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !offline.contains("http://") && !offline.contains("https://"),
        "the report fetches nothing from the network"
    );
    assert!(!html.contains("<script"), "no script in the report");
    // One masked sample letter per language of the batch, and stage times.
    let languages: std::collections::BTreeSet<String> = batch
        .manifest()
        .iter()
        .map(|r| r["language"].clone())
        .collect();
    assert_eq!(
        html.matches("src=\"data:image/png;base64,").count(),
        languages.len(),
        "one picture per language {languages:?}"
    );
    for language in &languages {
        assert!(html.contains(&format!("<figcaption>{language}</figcaption>")));
    }
    assert!(html.contains("Time per stage"), "stage times are shown");
    let summary = batch.summary();
    let c = &summary["counts"];
    let expected = format!(
        "read {} = issued {} + already issued {} + rejected {}",
        c["read"], c["issued"], c["already_issued"], c["rejected"]
    );
    assert!(html.contains(&expected), "{expected}");
    assert_no_code_in(&batch.all_codes(), html.as_bytes(), "the report");
    let Some(browser) = chromium() else {
        skip(
            "the Chromium half of the report test",
            "chromium is not installed (apt-get install chromium; .ci/run installs it)",
            InCi::Fails,
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let (dom, stderr) = chromium_dump(browser, &report, profile.path(), None);
    assert!(
        dom.contains(&expected),
        "Chromium shows the control totals: {dom}"
    );
    assert!(dom.contains("<svg"), "charts are drawn inline");
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let shot = wd.path("report.png");
    chromium_dump(browser, &report, profile.path(), Some(&shot));
    let png = fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        fs::copy(&shot, repo_file("docs/report.png")).unwrap();
    }
}

#[test]
fn run_input_folder_makes_one_batch_per_file_in_name_order() {
    let wd = Workdir::new();
    let drop = wd.path("drop");
    fs::create_dir(&drop).unwrap();
    fs::copy(fixtures_csv(), drop.join("b-filings.csv")).unwrap();
    let generated = wd.generate(30, 7);
    fs::copy(&generated, drop.join("a-generated.csv")).unwrap();
    fs::write(drop.join("notes.txt"), "not a filings file").unwrap();
    let out = wd.cmd([
        "run",
        "--input",
        drop.to_str().unwrap(),
        "--date",
        BATCH_DATE,
    ]);
    // notes.txt is named as not taken (issue 20, item 2): exit 8.
    out.expect_code(8);
    assert!(out.stderr.contains("notes.txt: not a .csv file"), "{out:?}");
    let dirs = wd.batch_dirs();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for d in &dirs {
        assert!(d.join("batch.json").is_file(), "{d:?} is complete");
    }
    // Name order: the generated file's batch is reported first.
    let first = out
        .stdout
        .find(&expected_batch_id(&generated, BATCH_DATE))
        .unwrap();
    let second = out
        .stdout
        .find(&expected_batch_id(&fixtures_csv(), BATCH_DATE))
        .unwrap();
    assert!(first < second, "{out:?}");

    let empty = wd.path("empty-drop");
    fs::create_dir(&empty).unwrap();
    let none = wd.cmd([
        "run",
        "--input",
        empty.to_str().unwrap(),
        "--date",
        BATCH_DATE,
    ]);
    none.expect_code(EXIT_FAILED);
    assert!(none.stderr.contains("no .csv files"), "{none:?}");
}
