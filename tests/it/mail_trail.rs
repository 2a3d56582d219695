//! After the envelope, through the real binary: the vendor's
//! acknowledgements, USPS IV-MTR scans and returned mail are read into the
//! ledger from files generated from a real batch's manifest (piece IDs and
//! IMb tracking codes), with bad rows, unmatched scans, a malformed file and
//! re-imports. A returned letter's code stops at once, the receipt goes on
//! the returns list, and a reissue to a corrected address works.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::support::*;

const RETURNED: &str = "IOE0912345602";

fn ingest(w: &Workdir, kind: &str, file: &Path, config: &Path) -> Output {
    w.cmd([
        OsStr::new("ingest"),
        OsStr::new(kind),
        file.as_os_str(),
        OsStr::new("--config"),
        config.as_os_str(),
    ])
}

/// A batch with barcodes, and its manifest rows.
fn batch_with_barcodes(w: &Workdir) -> (PathBuf, Batch, Vec<Row>) {
    let config = mailer_config(w);
    let (_, batch) = w.run_fixtures_with(&["--config", config.to_str().unwrap()]);
    let rows = batch.manifest();
    assert!(rows.len() > 10);
    assert!(
        rows.iter().all(|r| r["imb_tracking"].len() == 20),
        "barcodes"
    );
    (config, batch, rows)
}

fn line_of(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
        .to_string()
}

#[test]
fn acks_scans_and_returns_make_the_trail_and_a_returned_code_stops() {
    let w = Workdir::new();
    let (config, batch, rows) = batch_with_barcodes(&w);

    // --- the vendor's acknowledgements, with two bad rows.
    let mut acks = String::from("piece_id,status,date\n");
    for r in &rows[..10] {
        acks.push_str(&format!("{},printed,2026-11-26\n", r["piece_id"]));
    }
    for r in &rows[..5] {
        acks.push_str(&format!("{},mailed,2026-11-27\n", r["piece_id"]));
    }
    acks.push_str(&format!("{},shredded,2026-11-27\n", rows[6]["piece_id"]));
    acks.push_str("IOE0000000000-01,mailed,2026-11-27\n");
    let acks_file = w.write("acks-2026-11-27.csv", &acks);
    let out = ingest(&w, "acks", &acks_file, &config);
    out.expect_code(EXIT_REJECTS);
    assert!(
        out.stdout
            .contains("17 rows: 15 events (15 new, 0 already recorded), 2 rejected, 0 unmatched"),
        "{out:?}"
    );
    let rejects = read_csv(
        &w.out().join("ingest").join(
            std::fs::read_dir(w.out().join("ingest"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .find(|n| n.starts_with("acks-") && n.ends_with(".rejects.csv"))
                .expect("a rejects file"),
        ),
    );
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], "17");
    assert!(rejects[0]["reason"].contains("neither printed nor mailed"));
    assert_eq!(rejects[1]["line"], "18");
    assert!(rejects[1]["reason"].contains("no letter with piece ID IOE0000000000-01"));

    // The same file again records nothing.
    let again = ingest(&w, "acks", &acks_file, &config);
    again.expect_code(EXIT_OK);
    assert!(again.stdout.contains("already imported"), "{again:?}");

    // --- USPS scans (IV-MTR, pipe-delimited), built from the manifest's
    // barcodes: ours, another mailer's, a serial of ours never used, and a
    // row with a broken time.
    let imb = |r: &Row| format!("{}{}", r["imb_tracking"], r["imb_routing"]);
    let mut scans = String::from(
        "IMb|Scan Date Time|Operation Code|Scan Facility ZIP|Scan Facility Name|Handling Event Type\n",
    );
    for r in &rows[..3] {
        scans.push_str(&format!(
            "{}|2026-11-28 04:12:00|919|90052|LOS ANGELES P&DC|A\n",
            imb(r)
        ));
        scans.push_str(&format!(
            "{}|2026-11-29 09:40:00|918|{}|CARRIER|O\n",
            imb(r),
            r["zip5"]
        ));
    }
    scans.push_str(&format!(
        "{}|2026-11-29 15:02:00|908|{}|CARRIER|D\n",
        imb(&rows[0]),
        rows[0]["zip5"]
    ));
    let other = format!("00040654321{}", &rows[0]["imb_tracking"][11..]);
    scans.push_str(&format!(
        "{other}|2026-11-28 04:12:00|919|90052|LOS ANGELES P&DC|A\n"
    ));
    scans.push_str("00040123456999999999|2026-11-28 04:12:00|919|90052|LOS ANGELES P&DC|A\n");
    scans.push_str(&format!(
        "{}|soon|919|90052|LOS ANGELES P&DC|A\n",
        imb(&rows[1])
    ));
    let scans_file = w.write("ivmtr-2026-11-29.txt", &scans);
    let out = ingest(&w, "scans", &scans_file, &config);
    out.expect_code(EXIT_REJECTS);
    assert!(
        out.stdout
            .contains("10 rows: 7 events (7 new, 0 already recorded), 1 rejected, 2 unmatched"),
        "{out:?}"
    );
    let unmatched = out
        .stdout
        .lines()
        .find(|l| l.contains("match no letter"))
        .expect("named");
    let unmatched = read_csv(&w.path(unmatched.rsplit(": ").next().unwrap()));
    assert_eq!(unmatched.len(), 2);
    assert!(
        unmatched[0]["reason"].contains("mailer ID 654321 is not ours"),
        "{unmatched:?}"
    );
    assert!(
        unmatched[1]["reason"].contains("no letter of ours carries serial"),
        "{unmatched:?}"
    );
    // The same scans again: nothing recorded twice.
    let again = ingest(&w, "scans", &scans_file, &config);
    again.expect_code(EXIT_OK);
    assert!(again.stdout.contains("already imported"), "{again:?}");

    // --- a return by piece ID and one by barcode; one of them for a piece
    // already returned in the same file (recorded once).
    let returned = batch.row_for(RETURNED);
    let by_imb = &rows[8];
    let returns = format!(
        "piece_id,reason,date\n{},\"Attempted, Not Known\",2026-12-01\n",
        returned["piece_id"]
    );
    let returns_file = w.write("returns-2026-12-01.csv", &returns);
    let out = ingest(&w, "returns", &returns_file, &config);
    out.expect_code(EXIT_OK);
    assert!(
        out.stdout
            .contains(&format!("{RETURNED}: letter issue 1 came back")),
        "{out:?}"
    );
    let returns_imb = format!(
        "imb,reason,date\n{},no such number,2026-12-01\n",
        imb(by_imb)
    );
    let metrics = w.path("mail.prom");
    let out = w.cmd([
        OsStr::new("ingest"),
        OsStr::new("returns"),
        w.write("returns-imb.csv", returns_imb).as_os_str(),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--metrics"),
        metrics.as_os_str(),
    ]);
    out.expect_code(EXIT_OK);
    assert!(out.stdout.contains("1 code stopped"), "{out:?}");
    // Monitoring sees the trail: counts only.
    let prom = std::fs::read_to_string(&metrics).unwrap();
    for line in [
        "access_letters_mail_pieces{event=\"returned\"} 2",
        "access_letters_mail_pieces{event=\"mailed\"} 5",
        "access_letters_mail_pieces{event=\"delivered\"} 1",
        "access_letters_mail_unmatched_scans 2",
    ] {
        assert!(prom.lines().any(|l| l == line), "{line} in:\n{prom}");
    }

    // verify: the letter came back, so its code is refused.
    let code = batch.code_for(RETURNED);
    let verify = w.cmd(["verify", RETURNED, &code, "--date", "2026-12-02"]);
    verify.expect_code(EXIT_NOT_VALID);
    assert!(
        verify.stdout.contains("returned: letter issue 1 came back"),
        "{verify:?}"
    );

    // status: the trail, never the code.
    let status = w.cmd(["status", RETURNED]);
    status.expect_code(EXIT_OK);
    assert!(status.stdout.contains("returned"), "{status:?}");
    let trail = &status.stdout;
    assert!(
        line_of(trail, "RETURNED").contains("attempted, not known"),
        "{trail}"
    );
    assert!(!trail.contains(&code), "no code in status");
    let first = w.cmd(["status", &rows[0]["piece_id"][..13]]);
    for step in [
        "printed by the vendor",
        "mailed by the vendor",
        "accepted by USPS",
        "out for delivery",
        "delivered (",
    ] {
        assert!(first.stdout.contains(step), "{step}: {first:?}");
    }

    // status --mail: the returns list and the totals.
    let mail = w.cmd(["status", "--mail", "--config", config.to_str().unwrap()]);
    mail.expect_code(EXIT_OK);
    assert!(
        mail.stdout
            .contains("returned, awaiting a new letter to a corrected address: 2"),
        "{mail:?}"
    );
    assert!(line_of(&mail.stdout, RETURNED).contains("attempted, not known"));
    assert!(mail.stdout.contains("pieces printed 10, mailed 5, accepted by USPS 3, delivered 1, returned 2; 2 scans matched no letter of ours"), "{mail:?}");

    // A new letter to a corrected address goes at once (no 24-hour wait)
    // and takes the receipt off the returns list.
    let reissue = w.cmd([
        "reissue",
        RETURNED,
        "--reason",
        "returned: attempted, not known; address corrected",
        "--batch-date",
        "2026-12-02",
        "--config",
        config.to_str().unwrap(),
    ]);
    reissue.expect_code(EXIT_OK);
    let mail = w.cmd(["status", "--mail", "--config", config.to_str().unwrap()]);
    assert!(
        mail.stdout
            .contains("returned, awaiting a new letter to a corrected address: 1"),
        "{mail:?}"
    );
    assert!(!mail.stdout.contains(RETURNED), "{mail:?}");
}

#[test]
fn a_malformed_file_is_refused_whole_and_records_nothing() {
    let w = Workdir::new();
    let (config, _batch, rows) = batch_with_barcodes(&w);
    let mut bytes = format!(
        "piece_id,status,date\n{},mailed,2026-11-27\n",
        rows[0]["piece_id"]
    )
    .into_bytes();
    bytes.extend_from_slice(b"\xff\xfe,mailed,2026-11-27\n");
    let bad = w.write("acks-bad.csv", &bytes);
    let out = ingest(&w, "acks", &bad, &config);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr
            .contains("refused as a whole, nothing was recorded: line 3: the file is not UTF-8"),
        "{out:?}"
    );
    let header = w.write("acks-header.csv", "piece,when\nP,2026-11-27\n");
    let out = ingest(&w, "acks", &header, &config);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr
            .contains("line 1: the header has no piece_id column"),
        "{out:?}"
    );
    // Nothing reached the ledger: the first row's piece has no trail.
    let status = w.cmd(["status", &rows[0]["piece_id"][..13]]);
    assert!(!status.stdout.contains("mail trail"), "{status:?}");
    // An overlapping good file later records its rows once.
    let good = w.write(
        "acks-good.csv",
        format!(
            "piece_id,status,date\n{},mailed,2026-11-27\n",
            rows[0]["piece_id"]
        ),
    );
    ingest(&w, "acks", &good, &config).expect_code(EXIT_OK);
    let overlap = w.write(
        "acks-overlap.csv",
        format!(
            "piece_id,status,date\n{0},mailed,2026-11-27\n{0},printed,2026-11-26\n",
            rows[0]["piece_id"]
        ),
    );
    let out = ingest(&w, "acks", &overlap, &config);
    assert!(
        out.stdout.contains("2 events (1 new, 1 already recorded)"),
        "{out:?}"
    );
}

/// The rejects file an import of `kind` wrote.
fn rejects_of(w: &Workdir, kind: &str) -> Vec<Row> {
    let dir = w.out().join("ingest");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with(&format!("{kind}-")) && n.ends_with(".rejects.csv"))
        .expect("a rejects file");
    read_csv(&dir.join(name))
}

#[test]
fn a_vendor_file_with_bad_rows_is_imported_row_by_row() {
    let w = Workdir::new();
    let (config, _batch, rows) = batch_with_barcodes(&w);
    let piece = |i: usize| rows[i]["piece_id"].clone();
    let acks = [
        "piece_id,status,date".to_string(),
        format!("{},printed,2026-11-26", piece(0)),
        // line 3: a short row, as a vendor's export cut it.
        format!("{},printed", piece(1)),
        format!("{},printed,2026-11-26", piece(2)),
        // line 5: an extra column.
        format!("{},mailed,2026-11-27,tray 4", piece(3)),
        // line 6: a quote never closed (it costs this row only).
        format!("{},\"mailed,2026-11-27", piece(4)),
        format!("{},mailed,2026-11-27", piece(5)),
        // line 8: a real piece, dated before its letter was made.
        format!("{},printed,1999-01-01", piece(6)),
        // line 9: a date years ahead.
        format!("{},mailed,2030-01-02", piece(7)),
        // line 10: a piece this ledger never issued.
        "IOE0000000000-01,mailed,2026-11-27".to_string(),
        format!("{},mailed,2026-11-27", piece(8)),
    ]
    .join("\n")
        + "\n";
    let file = w.write("acks-2026-11-27.csv", acks);
    let out = ingest(&w, "acks", &file, &config);
    out.expect_code(EXIT_REJECTS);
    assert!(
        out.stdout
            .contains("10 rows: 4 events (4 new, 0 already recorded), 6 rejected, 0 unmatched"),
        "{out:?}"
    );
    let rejects = rejects_of(&w, "acks");
    let got: Vec<(&str, &str)> = rejects
        .iter()
        .map(|r| (r["line"].as_str(), r["reason"].as_str()))
        .collect();
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(
        got[0],
        ("3", "the row is short: it has 2 fields, the header has 3")
    );
    assert_eq!(
        got[1],
        ("5", "the row is long: it has 4 fields, the header has 3")
    );
    assert_eq!(
        got[2],
        (
            "6",
            "a quote (\") opened on line 6 is not closed before the line ends"
        )
    );
    assert_eq!(got[3].0, "8");
    assert!(
        got[3].1.starts_with(&format!(
            "dated 1999-01-01, before its letter {} was issued (2026-11-25)",
            piece(6)
        )),
        "not an unknown piece: {got:?}"
    );
    assert_eq!(got[4].0, "9");
    assert!(
        got[4]
            .1
            .starts_with("dated 2030-01-02, more than a day after today ("),
        "{got:?}"
    );
    assert_eq!(
        got[5],
        (
            "10",
            "no letter with piece ID IOE0000000000-01 in this ledger"
        )
    );
    // The events of the good rows are there.
    let status = w.cmd(["status", &piece(8)[..13]]);
    assert!(status.stdout.contains("mailed by the vendor"), "{status:?}");
}

#[test]
fn a_scan_dated_years_ahead_and_a_huge_field_are_rejected_rows() {
    let w = Workdir::new();
    let (config, _batch, rows) = batch_with_barcodes(&w);
    let imb = |r: &Row| format!("{}{}", r["imb_tracking"], r["imb_routing"]);
    let huge = "7".repeat(8 * 1024 * 1024);
    let scans = format!(
        "IMb|Scan Date Time|Operation Code|Scan Facility ZIP|Handling Event Type\n\
         {}|2026-11-28 04:12:00|919|90052|A\n\
         {}|2031-03-04 04:12:00|919|90052|A\n\
         {huge}|2026-11-28 04:12:00|919|90052|A\n\
         {}|2026-11-28 04:12:00|919|90052|A\n",
        imb(&rows[0]),
        imb(&rows[1]),
        imb(&rows[2]),
    );
    let file = w.write("ivmtr-2026-11-28.txt", scans);
    let t = std::time::Instant::now();
    let out = ingest(&w, "scans", &file, &config);
    out.expect_code(EXIT_REJECTS);
    assert!(t.elapsed() < std::time::Duration::from_secs(60));
    assert!(
        out.stdout
            .contains("4 rows: 2 events (2 new, 0 already recorded), 2 rejected, 0 unmatched"),
        "{out:?}"
    );
    let rejects = rejects_of(&w, "scans");
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], "3");
    assert!(
        rejects[0]["reason"].starts_with("dated 2031-03-04, more than a day after today"),
        "{rejects:?}"
    );
    assert_eq!(rejects[1]["line"], "4");
    assert!(
        rejects[1]["reason"]
            .contains("more than the 64 KB a row may hold: a field is over its bound"),
        "{}",
        rejects[1]["reason"]
    );
    // The rejects file keeps 200 characters of a cell, not 8 MB.
    assert_eq!(rejects[1]["IMb"].len(), 200);
    let dir = w.out().join("ingest");
    for e in std::fs::read_dir(&dir).unwrap() {
        let len = e.unwrap().metadata().unwrap().len();
        assert!(len < 4096, "a side file of {len} bytes");
    }
}

#[test]
fn a_fifo_a_device_and_a_folder_are_refused_at_once() {
    let w = Workdir::new();
    let (config, _, _) = batch_with_barcodes(&w);
    let fifo = w.path("acks.fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .unwrap();
    for (file, what) in [
        (fifo.clone(), "is a named pipe (FIFO), not a regular file"),
        (
            PathBuf::from("/dev/zero"),
            "is a device, not a regular file",
        ),
        (w.out(), "is a folder, not a regular file"),
    ] {
        let mut child = w
            .command([
                OsStr::new("ingest"),
                OsStr::new("acks"),
                file.as_os_str(),
                OsStr::new("--config"),
                config.as_os_str(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let ended = wait_until(std::time::Duration::from_secs(20), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !ended {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("ingest of {} did not end within 20 s", file.display());
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_FAILED), "{stderr}");
        assert!(stderr.contains(what), "{}: {stderr}", file.display());
    }
}
