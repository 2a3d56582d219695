//! Issue 12, findings 5, 6 and 8: bounded records, fields that must fit
//! their line, and the counts that tell an empty night from a good one.

use super::*;

fn header_line() -> Vec<u8> {
    csv_of(&[])
}

/// The data line of one row (no header, with its `\n`).
fn row_line(changes: &[(&str, &str)]) -> Vec<u8> {
    let bytes = csv_of(&[with(changes)]);
    let at = bytes.iter().position(|&b| b == b'\n').expect("header line") + 1;
    bytes[at..].to_vec()
}

fn rejects_of(bytes: &[u8]) -> (Vec<Outcome>, IntakeCounts) {
    let mut intake = Intake::new(bytes, "filings.csv", batch(), FIT).expect("header ok");
    let outcomes: Vec<Outcome> = intake.by_ref().map(|o| o.expect("no file error")).collect();
    (outcomes, intake.counts())
}

#[test]
fn finding_5_unterminated_quote_is_one_clipped_reject_at_its_starting_line() {
    let mut bytes = header_line();
    bytes.extend(row_line(&[]));
    // Line 3 opens a quote it never closes; 5 MB of rows follow.
    bytes.extend_from_slice(b"MSC2190000001,\"I-485,2026-11-20,Ana,,Ruiz\n");
    let filler = row_line(&[("receipt_number", "EAC2190000002")]);
    let rows_after = 5 * 1024 * 1024 / filler.len() + 1;
    for _ in 0..rows_after {
        bytes.extend_from_slice(&filler);
    }
    let (outcomes, counts) = rejects_of(&bytes);
    match &outcomes[..] {
        [Outcome::Valid(f), Outcome::Rejected(r)] => {
            assert_eq!(f.line, 2);
            assert_eq!((r.line, r.field.as_str()), (3, "row"));
            assert_eq!(r.receipt_number.as_deref(), Some("MSC2190000001"));
            assert!(r.reason.contains("more than the 64 KB"), "{}", r.reason);
            let last = 3 + rows_after as u64;
            assert!(
                r.reason
                    .contains(&format!("runs from line 3 to line {last}")),
                "{}",
                r.reason
            );
            assert!(r.reason.len() < 300, "{}", r.reason);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        counts,
        IntakeCounts {
            records: 2,
            valid: 1,
            rejected: 1,
            blank: 0
        }
    );
}

#[test]
fn finding_5_short_unterminated_quote_names_its_first_line_and_the_rows_after_count() {
    let mut bytes = header_line();
    bytes.extend(row_line(&[]));
    bytes.extend_from_slice(b"MSC2190000001,\"I-485,2026-11-20\n");
    bytes.extend(row_line(&[("receipt_number", "EAC2190000002")]));
    bytes.extend(row_line(&[("receipt_number", "EAC2190000003")]));
    let (outcomes, counts) = rejects_of(&bytes);
    match &outcomes[..] {
        [Outcome::Valid(f), Outcome::Rejected(r)] => {
            assert_eq!(f.line, 2);
            assert_eq!(r.line, 3, "the reject is where the row starts");
            assert!(r.reason.starts_with("the row has 2 fields; the header has 14 (it runs from line 3 to line 5: a quote"), "{}", r.reason);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        counts.records,
        counts.valid + counts.rejected + counts.blank
    );
}

#[test]
fn finding_5_a_runaway_receipt_cell_is_clipped_in_the_reject() {
    let long = "X".repeat(10_000);
    let r = rejected(with(&[("receipt_number", &long)]));
    let kept = r.receipt_number.expect("receipt column");
    assert_eq!(kept.chars().count(), 41, "40 characters and an ellipsis");
    assert!(kept.ends_with('…'));
    assert!(r.reason.len() < 300, "{}", r.reason);
}

#[test]
fn finding_5_a_header_that_never_ends_fails_the_file() {
    let mut bytes = b"receipt_number,\"form_type\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', MAX_RECORD_BYTES + 1));
    match Intake::new(&bytes[..], "filings.csv", batch(), FIT) {
        Err(e @ IntakeError::HeaderTooLong { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("filings.csv line 1: the header row is longer than 64 KB"),
                "{e}"
            )
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted a runaway header"),
    }
}

#[test]
fn finding_5_too_many_fields_is_one_reject() {
    let mut bytes = header_line();
    bytes.extend_from_slice(b"MSC2190000001");
    bytes.extend(std::iter::repeat_n(b',', 10_000));
    bytes.push(b'\n');
    bytes.extend(row_line(&[]));
    let (outcomes, _) = rejects_of(&bytes);
    match &outcomes[..] {
        [Outcome::Rejected(r), Outcome::Valid(f)] => {
            assert_eq!((r.line, f.line), (2, 3));
            assert!(
                r.reason
                    .starts_with("the row has 10001 fields, more than the 256 read"),
                "{}",
                r.reason
            );
            assert_eq!(r.receipt_number.as_deref(), Some("MSC2190000001"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn finding_6_a_70000_character_middle_name_is_rejected_naming_the_field() {
    // 70,000 characters pass the 64 KB a row may hold: the row is rejected whole.
    let r = rejected(with(&[("middle_name", &"a".repeat(70_000))]));
    assert_eq!((r.field.as_str(), r.line), ("row", 2));
    assert!(r.reason.contains("more than the 64 KB"), "{}", r.reason);
    // Under the row limit, the field's own limit names it.
    let r = rejected(with(&[("middle_name", &"a".repeat(60_000))]));
    assert_eq!(r.field, "middle_name");
    assert_eq!(
        r.reason,
        "middle name is 60000 characters; at most 40 fit on the address line"
    );
}

#[test]
fn finding_6_every_name_and_address_field_has_a_bounded_length() {
    let long = "Wide".repeat(5_000);
    for column in [
        "given_name",
        "middle_name",
        "family_name",
        "in_care_of",
        "address_line1",
        "address_line2",
        "city",
    ] {
        let r = rejected(with(&[(column, &long)]));
        assert_eq!(r.field, column, "{}", r.reason);
        assert!(
            r.reason.len() < 300,
            "{column}: the reason copies the value"
        );
    }
    // 40 characters, but 40 capital W's are wider than the window.
    let r = rejected(with(&[("middle_name", &"W".repeat(40))]));
    assert_eq!(r.field, "middle_name");
    assert!(
        r.reason.contains("too wide for the address line"),
        "{}",
        r.reason
    );
}

#[test]
fn finding_6_a_care_of_line_of_combining_marks_only_is_rejected() {
    let r = rejected(with(&[("in_care_of", "\u{0301}\u{0301}\u{0308}")]));
    assert_eq!(r.field, "in_care_of");
    assert_eq!(
        r.reason,
        "the in-care-of name is made only of combining marks; retype it"
    );
    for column in ["address_line1", "address_line2", "city", "given_name"] {
        let r = rejected(with(&[(column, "Ana \u{0301}\u{0301}")]));
        assert_eq!(r.field, column, "{}", r.reason);
        assert!(r.reason.contains("U+0301"), "{}", r.reason);
    }
    // Marks on a letter are what accents are made of.
    let f = valid(with(&[("in_care_of", "Jose\u{0301}")]));
    assert_eq!(f.address.in_care_of.as_deref(), Some("C/O JOSÉ"));
}

#[test]
fn finding_8_a_header_with_no_rows_has_no_data_rows() {
    let mut bytes = header_line();
    bytes.extend_from_slice(b",,,,,,,,,,,,,\n\n\r\n");
    let (outcomes, counts) = rejects_of(&bytes);
    assert!(outcomes.is_empty());
    assert_eq!(counts.records, 2, "the empty-cell row and the lone CR");
    assert_eq!(counts.blank, 2);
    assert!(counts.has_no_data_rows());
    let (_, counts) = rejects_of(&header_line());
    assert_eq!(counts, IntakeCounts::default());
    assert!(counts.has_no_data_rows());
    // One rejected row is a row: the night is not empty, just bad.
    let mut bytes = header_line();
    bytes.extend(row_line(&[("zip", "1")]));
    let (_, counts) = rejects_of(&bytes);
    assert!(!counts.has_no_data_rows());
    assert_eq!(counts.data_rows(), 1);
}
