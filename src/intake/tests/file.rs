//! Whole-file behaviour: header, encodings, line numbers, the fixture, and
//! the receipt index spilling to disk.

use super::*;

fn header_error(text: &str) -> String {
    match Intake::new(text.as_bytes(), "filings.csv", batch(), FIT) {
        Ok(_) => panic!("expected a header error for {text:?}"),
        Err(e) => e.to_string(),
    }
}

const REQUIRED_HEADER: &str =
    "receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state,zip";

#[test]
fn header_rules() {
    // Optional columns may be absent; order and case do not matter.
    let text = "Zip, STATE ,city,address_line1,family_name,given_name,received_date,form_type,receipt_number\n\
                10001,NY,New York,1 Main St,Doe,Jane,2026-11-01,I-765,SRC2190000003\n";
    let (outcomes, ..) = run_bytes(text.as_bytes()).expect("header is fine");
    match &outcomes[..] {
        [Outcome::Valid(f)] => {
            assert_eq!(f.name_line, "JANE DOE");
            assert_eq!(
                (f.language, f.a_number.clone(), f.address.line2.clone()),
                (Language::En, None, None)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        header_error("receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state\n"),
        "filings.csv line 1: the header has no column zip; the required columns are receipt_number, form_type, received_date, given_name, family_name, address_line1, city, state, zip"
    );
    assert!(header_error(&format!("{REQUIRED_HEADER},zip_code\n"))
        .starts_with("filings.csv line 1: unknown column 'zip_code' in the header; the columns are receipt_number,"));
    assert_eq!(
        header_error(&format!("{REQUIRED_HEADER},City\n")),
        "filings.csv line 1: column 'city' appears twice in the header; keep one"
    );
    assert_eq!(
        header_error(&format!("{REQUIRED_HEADER},\n")),
        "filings.csv line 1: column 10 of the header has no name; name it or delete the empty column"
    );
    assert!(header_error("").starts_with("filings.csv is empty; it needs a header row"));
    assert!(header_error("\n\n").starts_with("filings.csv is empty"));
    // Garbage that happens to be UTF-8 fails on its first "column".
    assert!(header_error("%PDF-1.7\n%âãÏÓ\n").contains("unknown column '%PDF-1.7'"));
}

#[test]
fn byte_order_mark_is_tolerated() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(csv_of(&[base_row()]));
    let (outcomes, ..) = run_bytes(&bytes).expect("BOM is fine");
    assert!(matches!(&outcomes[..], [Outcome::Valid(f)] if f.line == 2));
}

#[test]
fn not_utf8_fails_the_file_naming_line_and_column() {
    let mut bytes = csv_of(&[base_row(), with(&[("receipt_number", "MSC2190000001")])]);
    // Latin-1 "é" in the third line's family name.
    let text = String::from_utf8(bytes.clone()).expect("utf8");
    let at = text.rfind("Ramírez").expect("name present") + "Ram".len();
    bytes.splice(at..at + 2, [0xE9]);
    let mut intake = Intake::new(&bytes[..], "filings.csv", batch(), FIT).expect("header ok");
    assert!(matches!(intake.next(), Some(Ok(Outcome::Valid(_)))));
    match intake.next() {
        Some(Err(e)) => assert_eq!(
            e.to_string(),
            "filings.csv line 3: not valid UTF-8 text (byte 0xE9 in column family_name); save the file as UTF-8"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        intake.next().is_none(),
        "the iterator stops after a file error"
    );
    let e = header_error_bytes(b"receipt_number,\xFFform\n");
    assert_eq!(e, "filings.csv line 1: not valid UTF-8 text (byte 0xFF in header field 2); save the file as UTF-8");
}

fn header_error_bytes(bytes: &[u8]) -> String {
    match Intake::new(bytes, "filings.csv", batch(), FIT) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn wrong_field_count_is_a_row_reject_and_reading_goes_on() {
    let mut bytes = csv_of(&[base_row()]);
    bytes.extend_from_slice(b"MSC2190000001,I-765,2026-11-20\n");
    bytes.extend(
        csv_of(&[with(&[("receipt_number", "EAC2190000002")])])
            .split(|&b| b == b'\n')
            .nth(1)
            .expect("row"),
    );
    bytes.push(b'\n');
    let (outcomes, read, valid, rejected) = run_bytes(&bytes).expect("file is fine");
    assert_eq!((read, valid, rejected), (3, 2, 1));
    match &outcomes[1] {
        Outcome::Rejected(r) => {
            assert_eq!((r.line, r.field.as_str()), (3, "row"));
            assert_eq!(r.reason, "the row has 3 fields; the header has 14");
            assert_eq!(r.receipt_number.as_deref(), Some("MSC2190000001"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&outcomes[2], Outcome::Valid(f) if f.line == 4));
}

#[test]
fn line_numbers_count_quoted_line_breaks_and_blank_rows_are_skipped() {
    let rows = vec![
        with(&[("address_line1", "1234 Elm St\nApt 4B\nRear")]),
        with(&[("receipt_number", "MSC2190000001")]),
    ];
    let mut bytes = csv_of(&rows);
    bytes.extend_from_slice(b",,,,,,,,,,,,,\n\n");
    bytes.extend(
        csv_of(&[with(&[("receipt_number", "EAC2190000002")])])
            .split(|&b| b == b'\n')
            .nth(1)
            .expect("row"),
    );
    bytes.push(b'\n');
    let mut intake = Intake::new(&bytes[..], "filings.csv", batch(), FIT).expect("header ok");
    let outcomes: Vec<Outcome> = intake.by_ref().map(|o| o.expect("no file error")).collect();
    match &outcomes[..] {
        [Outcome::Rejected(r), Outcome::Valid(b), Outcome::Valid(c)] => {
            assert_eq!((r.line, r.field.as_str()), (2, "address_line1"));
            assert!(r.reason.contains("line break"), "{}", r.reason);
            assert_eq!(b.line, 5);
            assert_eq!(c.line, 8);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (
            intake.read(),
            intake.valid(),
            intake.rejected(),
            intake.blank_rows()
        ),
        (3, 2, 1, 1)
    );
}

#[test]
fn cr_only_line_ends_are_named_whatever_the_file_size() {
    let text = String::from_utf8(csv_of(&[
        base_row(),
        with(&[("receipt_number", "MSC2190000001")]),
    ]))
    .expect("utf8");
    let small = text.replace('\n', "\r");
    let e = header_error(&small);
    assert!(e.contains("carriage return alone"), "{e}");
    // Long enough that the header record passes the 64 KB bound.
    let big = text.repeat(2000).replace('\n', "\r");
    let e = header_error(&big);
    assert!(e.contains("carriage return alone"), "{e}");
    assert!(!e.contains("64 KB"), "{e}");
}

#[test]
fn crlf_line_ends_leading_blank_lines_and_no_final_newline() {
    let text = String::from_utf8(csv_of(&[
        base_row(),
        with(&[("receipt_number", "MSC2190000001")]),
    ]))
    .expect("utf8");
    let crlf = format!("\r\n\r\n{}", text.trim_end().replace('\n', "\r\n"));
    let (outcomes, ..) = run_bytes(crlf.as_bytes()).expect("file is fine");
    let lines: Vec<u64> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Valid(f) => f.line,
            Outcome::Rejected(r) => panic!("{r:?}"),
        })
        .collect();
    assert_eq!(lines, [4, 5]);
    // The CR must not count as a line break in a free-text last column.
    let text = "receipt_number,form_type,received_date,given_name,family_name,city,state,zip,address_line1\r\n\
                IOE0912345678,I-131,2026-11-02,Ana,Ruiz,Miami,FL,33101,\"1 Main St\"\r\n\
                \r\n\
                IOE0912345679,I-131,2026-11-02,Ana,Ruiz,Miami,FL,33101,\"2 Main St\r\nRear\"\r\n\
                IOE0912345680,I-131,2026-11-02,Ana,Ruiz,Miami,FL,33101,3 Main St";
    let (outcomes, ..) = run_bytes(text.as_bytes()).expect("file is fine");
    match &outcomes[..] {
        [Outcome::Valid(a), Outcome::Rejected(b), Outcome::Valid(c)] => {
            assert_eq!((a.line, a.address.line1.as_str()), (2, "1 MAIN ST"));
            assert_eq!((b.line, b.field.as_str()), (4, "address_line1"));
            assert_eq!((c.line, c.address.line1.as_str()), (6, "3 MAIN ST"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn open_reads_a_file_and_names_a_missing_one() {
    let mut tmp = tempfile::NamedTempFile::new().expect("temp file");
    tmp.write_all(&csv_of(&[base_row()])).expect("write");
    let intake = Intake::open(tmp.path(), batch(), FIT).expect("opens");
    assert_eq!(
        intake
            .filter(|o| matches!(o, Ok(Outcome::Valid(_))))
            .count(),
        1
    );
    let missing = Path::new("/nonexistent/filings.csv");
    match Intake::open(missing, batch(), FIT) {
        Err(e @ IntakeError::Open { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("cannot open the filings file /nonexistent/filings.csv: "),
                "{e}"
            )
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a missing file"),
    }
}

/// Expected rejects in fixtures/filings.csv: (line, field).
const FIXTURE_REJECTS: [(u64, &str); 14] = [
    (48, "receipt_number"),
    (49, "form_type"),
    (50, "received_date"),
    (51, "family_name"),
    (52, "state"),
    (53, "zip"),
    (54, "state"),
    (55, "address_line1"),
    (56, "receipt_number"),
    (57, "language"),
    (58, "family_name"),
    (59, "given_name"),
    (60, "a_number"),
    (61, "zip"),
];
const FIXTURE_VALID: u64 = 46;

#[test]
fn fixture_file_counts_and_rejects() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/filings.csv");
    let mut intake = Intake::open(Path::new(path), batch(), FIT).expect("fixture opens");
    let mut rejects = Vec::new();
    let mut filings = Vec::new();
    for item in intake.by_ref() {
        match item.expect("fixture is a well-formed file") {
            Outcome::Valid(f) => filings.push(f),
            Outcome::Rejected(r) => rejects.push(r),
        }
    }
    let got: Vec<(u64, &str)> = rejects.iter().map(|r| (r.line, r.field.as_str())).collect();
    assert_eq!(got, FIXTURE_REJECTS, "{rejects:#?}");
    assert_eq!(intake.valid(), FIXTURE_VALID);
    assert_eq!(intake.rejected(), FIXTURE_REJECTS.len() as u64);
    // Spot checks the letters rely on.
    let by = |receipt: &str| {
        filings
            .iter()
            .find(|f| f.receipt.as_str() == receipt)
            .expect("receipt present")
    };
    assert!(filings.iter().all(|f| f
        .address_lines()
        .iter()
        .all(|l| l.chars().count() <= address::MAX_LINE_CHARS)));
    assert!(filings.iter().any(|f| f.language == Language::Es));
    assert!(filings
        .iter()
        .any(|f| f.address.state == "AE" && f.address.city == "APO"));
    assert_eq!(
        by("WAC2190000119").address.line2.as_deref(),
        Some("APT 1204")
    );
    assert_eq!(by("IOE0912345643").name_line, "SUKARNO");
    assert_eq!(by("IOE0912345601").address.line1, "1234 ELM ST APT 4B");
    assert_eq!(by("IOE0912345624").address.last_line(), "SAN JUAN PR 00926");
    let long = by("IOE0912345690");
    assert!(long.name_line.contains(" T "), "{}", long.name_line);
    assert!(long.full_name().chars().count() > address::MAX_LINE_CHARS);
}

#[test]
fn receipt_index_spills_to_disk_and_keeps_every_first_line() {
    let mut idx = ReceiptIndex {
        memory_limit: 4,
        ..ReceiptIndex::default()
    };
    for k in 0..10u64 {
        assert_eq!(idx.get(k * 7).unwrap(), None);
        idx.insert(k * 7, (k + 2) << 1 | (k % 2)).unwrap();
    }
    assert!(idx.disk.is_some(), "more than the limit must move to disk");
    assert!(idx.memory.is_empty());
    for k in 0..10u64 {
        assert_eq!(idx.get(k * 7).unwrap(), Some((k + 2) << 1 | (k % 2)));
    }
    assert_eq!(idx.get(3).unwrap(), None);
}

#[test]
fn duplicates_are_found_after_the_index_spills() {
    let mut csv = String::from(
        "receipt_number,form_type,received_date,given_name,family_name,address_line1,city,state,zip\n",
    );
    for i in 0..12 {
        csv.push_str(&format!(
            "IOE09000000{i:02},I-485,2026-11-01,Ana,Diaz,1 Main St,Austin,TX,78701\n"
        ));
    }
    csv.push_str("IOE0900000003,I-485,2026-11-01,Ana,Diaz,1 Main St,Austin,TX,78701\n");
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let mut intake = Intake::new(csv.as_bytes(), "t.csv", date, FIT).unwrap();
    intake.seen.memory_limit = 5;
    let outcomes: Vec<Outcome> = intake.by_ref().map(|o| o.unwrap()).collect();
    assert!(intake.seen.disk.is_some());
    assert_eq!(intake.valid(), 12);
    match outcomes.last().unwrap() {
        Outcome::Rejected(r) => {
            assert_eq!(r.line, 14);
            assert!(
                r.reason.contains("already appears on line 5"),
                "{}",
                r.reason
            );
        }
        other => panic!("expected a duplicate reject, got {other:?}"),
    }
}
