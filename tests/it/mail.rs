//! Mail readiness as the vendor sees it: with a mailer ID configured, every
//! manifest row carries a 20-digit tracking code, the routing ZIP and the
//! 65-bar string; serial numbers never repeat, within a batch or across
//! batches; batch.json counts pieces per ZIP3 and ZIP5 for trays.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;

use crate::support::*;

fn run_with(w: &Workdir, input: &std::path::Path, config: &std::path::Path, date: &str) -> Output {
    w.cmd([
        OsStr::new("run"),
        OsStr::new("--input"),
        input.as_os_str(),
        OsStr::new("--batch-date"),
        OsStr::new(date),
        OsStr::new("--config"),
        config.as_os_str(),
    ])
}

#[test]
fn manifest_carries_barcode_columns_and_serials_never_repeat() {
    let w = Workdir::new();
    let config = mailer_config(&w);
    let first = run_with(&w, &fixtures_csv(), &config, "2026-11-25");
    first.expect_code(2);
    let batch1 = Batch::new(w.path(first.batch_dir()));
    let rows1 = batch1.manifest();
    assert_eq!(rows1.len(), 46);

    let mut tracking = HashSet::new();
    for row in &rows1 {
        let t = &row["imb_tracking"];
        assert_eq!(t.len(), 20, "{row:?}");
        assert!(t.bytes().all(|b| b.is_ascii_digit()), "{row:?}");
        // Barcode ID 00, service type 040, mailer ID 123456, then the serial.
        assert!(t.starts_with("00040123456"), "{row:?}");
        assert!(tracking.insert(t.clone()), "tracking code {t} repeats");
        let routing = format!("{}{}", row["zip5"], row["zip4"]);
        assert_eq!(row["imb_routing"], routing, "{row:?}");
        let bars = &row["imb_bars"];
        assert_eq!(bars.len(), 65, "{row:?}");
        assert!(bars.bytes().all(|b| b"FADT".contains(&b)), "{row:?}");
        // The manifest agrees with the encoder for the same fields.
        let expected = access_letters::imb::encode_raw(t, &routing).unwrap();
        assert_eq!(bars, &expected, "{row:?}");
    }

    // A second file the next night continues the serials instead of
    // starting again.
    let second_input = w.generate(30, 11);
    // The generated file holds one deliberately bad row (gen-fixtures says
    // "30 rows (1 deliberately bad)"): by the exit contract (README, "Exit
    // status") a batch that finished with rejected rows exits 2, not 0.
    let second = run_with(&w, &second_input, &config, "2026-11-26");
    second.expect_code(EXIT_REJECTS);
    let batch2 = Batch::new(w.path(second.batch_dir()));
    let counts2 = batch2.counts();
    assert_eq!((counts2.read, counts2.rejected), (30, 1), "{counts2:?}");
    assert_eq!(batch2.rejects().len(), 1);
    let rows2 = batch2.manifest();
    assert!(!rows2.is_empty());
    for row in &rows2 {
        assert!(
            tracking.insert(row["imb_tracking"].clone()),
            "tracking code {} of the second batch was used by the first",
            row["imb_tracking"]
        );
    }

    // Presort counts in batch.json match the manifest.
    let summary = batch1.summary();
    let mut zip5: BTreeMap<String, u64> = BTreeMap::new();
    let mut zip3: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows1 {
        *zip5.entry(row["zip5"].clone()).or_default() += 1;
        *zip3.entry(row["zip5"][..3].to_string()).or_default() += 1;
    }
    let as_map = |v: &serde_json::Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    };
    assert_eq!(as_map(&summary["presort"]["zip5"]), zip5);
    assert_eq!(as_map(&summary["presort"]["zip3"]), zip3);
}

#[test]
fn without_a_mailer_id_the_barcode_columns_are_empty() {
    let w = Workdir::new();
    let (_, batch) = w.run_fixtures();
    for row in batch.manifest() {
        assert_eq!(row["imb_tracking"], "", "{row:?}");
        assert_eq!(row["imb_bars"], "", "{row:?}");
    }
}

#[test]
fn a_bad_mailer_id_fails_before_anything_is_written() {
    let w = Workdir::new();
    let text = std::fs::read_to_string(repo_file("templates/agency.toml"))
        .unwrap()
        .replace("mailer_id = \"\"", "mailer_id = \"12345\"");
    let config = w.write("agency.toml", text);
    let out = run_with(&w, &fixtures_csv(), &config, "2026-11-25");
    out.expect_code(1);
    assert!(out.stderr.contains("mailer ID"), "{out:?}");
    assert!(w.batch_dirs().is_empty(), "a batch folder was made");
}

#[test]
fn an_address_too_wide_for_a_configured_window_is_rejected_not_fatal() {
    let w = Workdir::new();
    // A narrower recipient window than the default #10 envelope's 4 in:
    // 2.5 in leaves 2.25 in of text, too narrow for line 20's street.
    let text = std::fs::read_to_string(repo_file("templates/agency.toml"))
        .unwrap()
        .replace(
            "recipient_window = { left_in = 0.625, bottom_in = 1.0, width_in = 4.0,",
            "recipient_window = { left_in = 0.625, bottom_in = 1.0, width_in = 2.5,",
        );
    assert!(text.contains("width_in = 2.5"));
    let config = w.write("agency.toml", text);
    let out = run_with(&w, &fixtures_csv(), &config, "2026-11-25");
    out.expect_code(2);
    let batch = Batch::new(w.path(out.batch_dir()));
    assert!(batch.is_complete(), "the night must finish:{out:?}");
    // Intake checks the configured window (not the default one), so a line
    // too wide for it is a reject on its own column; the fixture's own 14
    // rejects are lines 48 to 61.
    let late: Vec<Row> = batch
        .rejects()
        .into_iter()
        .filter(|r| r["line"].parse::<u64>().unwrap() < 48)
        .collect();
    assert!(
        !late.is_empty(),
        "some fixture address must be too wide for 2.5 in: {:?}",
        batch.rejects()
    );
    let manifest = batch.manifest();
    for r in &late {
        assert!(
            [
                "family_name",
                "in_care_of",
                "address_line1",
                "address_line2",
                "city"
            ]
            .contains(&r["field"].as_str()),
            "{r:?}"
        );
        assert!(r["reason"].contains("envelope window"), "{r:?}");
        assert!(r["line"].parse::<u64>().unwrap() >= 2, "{r:?}");
        assert!(
            manifest
                .iter()
                .all(|m| !m["piece_id"].starts_with(&r["receipt_number"])),
            "a rejected row was mailed: {r:?}"
        );
    }
    let c = out.counts();
    assert_eq!(c.read, c.issued + c.already_issued + c.rejected, "{out:?}");
    assert_eq!(c.rejected, 14 + late.len() as u64, "{out:?}");
    assert_eq!(manifest.len() as u64, c.issued);
}
