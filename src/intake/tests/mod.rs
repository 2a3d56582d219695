use super::*;
use crate::address::{self, DEFAULT_WINDOW_FIT as FIT};
use crate::filing::{FormType, Language, ReceiptNumber};
use chrono::Datelike;
use proptest::prelude::*;
use std::io::Write;

fn batch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid date")
}

/// A valid row as (column, value) pairs in documented order.
fn base_row() -> Vec<(&'static str, String)> {
    [
        ("receipt_number", "IOE0912345678"),
        ("form_type", "I-485"),
        ("received_date", "2026-11-20"),
        ("given_name", "José"),
        ("middle_name", "Luis"),
        ("family_name", "Ramírez Núñez"),
        ("a_number", "A012345678"),
        ("in_care_of", ""),
        ("address_line1", "1234 Elm St."),
        ("address_line2", "Apt 4B"),
        ("city", "Los Angeles"),
        ("state", "CA"),
        ("zip", "90012-3456"),
        ("language", "es"),
    ]
    .iter()
    .map(|(k, v)| (*k, v.to_string()))
    .collect()
}

fn with(changes: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut row = base_row();
    for (k, v) in changes {
        let slot = row.iter_mut().find(|(c, _)| c == k).expect("known column");
        slot.1 = v.to_string();
    }
    row
}

fn csv_of(rows: &[Vec<(&'static str, String)>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = base_row().iter().map(|(k, _)| *k).collect();
    w.write_record(&header).expect("write header");
    for r in rows {
        w.write_record(r.iter().map(|(_, v)| v.as_str()))
            .expect("write row");
    }
    w.into_inner().expect("flush")
}

fn run_bytes(bytes: &[u8]) -> Result<(Vec<Outcome>, u64, u64, u64), IntakeError> {
    let mut intake = Intake::new(bytes, "filings.csv", batch(), FIT)?;
    let mut outcomes = Vec::new();
    for item in intake.by_ref() {
        outcomes.push(item?);
    }
    Ok((outcomes, intake.read(), intake.valid(), intake.rejected()))
}

fn one(row: Vec<(&'static str, String)>) -> Outcome {
    let (mut outcomes, ..) = run_bytes(&csv_of(&[row])).expect("file is fine");
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

fn valid(row: Vec<(&'static str, String)>) -> Filing {
    match one(row) {
        Outcome::Valid(f) => f,
        Outcome::Rejected(r) => panic!("expected valid, got {r:?}"),
    }
}

fn rejected(row: Vec<(&'static str, String)>) -> Reject {
    match one(row) {
        Outcome::Rejected(r) => r,
        Outcome::Valid(f) => panic!("expected reject, got {f:?}"),
    }
}

/// How a reject's reason is checked: the whole sentence, or a part of it.
enum Why {
    Is(&'static str),
    Has(&'static str),
}
use Why::{Has, Is};

/// Cells changed from the base row, the column at fault, the reason.
type RejectCase = (&'static [(&'static str, &'static str)], &'static str, Why);

/// Every way a cell of the valid base row can be wrong: (cells changed,
/// the column the reject must name, its reason). Each row is read on its
/// own, so each must be exactly one reject on line 2.
const REJECTS: &[RejectCase] = &[
    (&[("receipt_number", "IOE09123")], "receipt_number", Is("receipt number 'IOE09123' is not three letters followed by ten digits (like IOE0912345678)")),
    (&[("receipt_number", "")], "receipt_number", Is("receipt number is missing")),
    (&[("receipt_number", "IOE\u{7}0912345678")], "receipt_number", Has("control character")),
    (&[("form_type", "I-130")], "form_type", Is("form type 'I-130' is not one of I-485, I-131, I-765")),
    (&[("form_type", " ")], "form_type", Is("form type is missing")),
    (&[("received_date", "2026-12-01")], "received_date", Is("received date 2026-12-01 is after the batch date 2026-11-25")),
    (&[("received_date", "11/20/2026")], "received_date", Is("received date '11/20/2026' is not a date in the form YYYY-MM-DD (like 2026-11-20)")),
    (&[("received_date", "2026-02-30")], "received_date", Is("received date '2026-02-30' is not a real calendar date")),
    (&[("received_date", "1989-12-31")], "received_date", Is("received date 1989-12-31 is before 1990; check the year")),
    (&[("received_date", "")], "received_date", Is("received date is missing")),
    (&[("family_name", "")], "family_name", Is("family name is missing")),
    (&[("family_name", "  ")], "family_name", Is("family name is missing")),
    (&[("family_name", "Sm1th")], "family_name", Is("family name 'Sm1th' contains the digit '1'; names may hold only letters, spaces, hyphens, apostrophes and periods")),
    (&[("given_name", "Ana@home")], "given_name", Has("contains '@'")),
    (&[("family_name", "Li 😀")], "family_name", Is("the font used for letters cannot print '😀' (U+1F600) in family_name")),
    (&[("given_name", "李")], "given_name", Is("the font used for letters cannot print '李' (U+674E) in given_name")),
    (&[("middle_name", "A\u{1}B")], "middle_name", Has("U+0001")),
    (&[("family_name", "--")], "family_name", Is("family name '--' has no letters")),
    (&[("given_name", "Wolfeschlegelsteinhausen"), ("middle_name", ""), ("family_name", "Bergerdorffvoralternwaren")], "family_name", Has("is 50 characters; the envelope window shows at most 40")),
    (&[("a_number", "12345678")], "a_number", Is("A-number '12345678' is not A followed by 8 or 9 digits (like A012345678)")),
    (&[("a_number", "A1234")], "a_number", Has("'A1234'")),
    (&[("a_number", "A1234567890")], "a_number", Has("8 or 9 digits")),
    (&[("a_number", "Ä12345678")], "a_number", Has("8 or 9 digits")),
    (&[("in_care_of", "Immigrant Legal Resource Center Attn Intake")], "in_care_of", Has("47 characters")),
    (&[( "address_line1", "12345 North Martin Luther King Junior Boulevard", )], "address_line1", Has("is 47 characters")),
    (&[("address_line1", "")], "address_line1", Is("address line 1 is missing")),
    (&[( "address_line2", "Building C Suite 300 Attention Receiving Dock North", )], "address_line2", Has("characters")),
    (&[("city", "")], "city", Is("city is missing")),
    (&[("state", "XX")], "state", Is("state 'XX' is not a USPS state, territory or military code")),
    (&[("city", "APO"), ("state", "TX")], "state", Is("city APO is military mail and needs state AA, AE or AP, not TX")),
    (&[("state", "AE")], "state", Is("military state code AE needs city APO, FPO or DPO, not 'LOS ANGELES'")),
    (&[("zip", "9001")], "zip", Has("is not 5 digits or ZIP+4")),
    (&[("zip", "00926")], "zip", Is("ZIP 00926 belongs to PR, but the state is CA")),
    (&[("language", "fr")], "language", Is("language 'fr' has no letter template; use en or es")),
    (&[("form_type", "I-130"), ("zip", "1"), ("language", "fr")], "form_type", Has("I-130")),
    (&[("family_name", ""), ("zip", "1")], "family_name", Has("missing")),
    (&[("zip", "1"), ("language", "fr")], "zip", Has("'1'")),
];

#[test]
fn every_bad_cell_is_one_reject_naming_its_column() {
    for (changes, field, why) in REJECTS {
        let r = rejected(with(changes));
        assert_eq!(r.field, *field, "{changes:?}: {}", r.reason);
        match why {
            Is(reason) => assert_eq!(r.reason, *reason, "{changes:?}"),
            Has(part) => assert!(r.reason.contains(part), "{changes:?}: {}", r.reason),
        }
        assert_eq!(r.line, 2, "{changes:?}");
        let typed = changes
            .iter()
            .find(|(c, _)| *c == "receipt_number")
            .map_or("IOE0912345678", |(_, v)| v);
        assert_eq!(r.receipt_number.as_deref(), non_empty(typed).as_deref());
    }
}

#[test]
fn valid_row_becomes_filing() {
    let f = valid(base_row());
    assert_eq!(f.line, 2);
    assert_eq!(f.receipt.as_str(), "IOE0912345678");
    assert_eq!(f.form, FormType::I485);
    assert_eq!(
        f.received_date,
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("date")
    );
    assert_eq!(f.given_name, "José");
    assert_eq!(f.middle_name.as_deref(), Some("Luis"));
    assert_eq!(f.family_name, "Ramírez Núñez");
    assert_eq!(f.a_number.as_deref(), Some("A012345678"));
    assert_eq!(f.name_line, "JOSÉ LUIS RAMÍREZ NÚÑEZ");
    assert_eq!(f.address.line1, "1234 ELM ST APT 4B");
    assert_eq!(f.address.line2, None);
    assert_eq!(f.address.last_line(), "LOS ANGELES CA 90012-3456");
    assert_eq!(f.language, Language::Es);
    assert_eq!(
        f.address_lines(),
        [
            "JOSÉ LUIS RAMÍREZ NÚÑEZ",
            "1234 ELM ST APT 4B",
            "LOS ANGELES CA 90012-3456"
        ]
    );
}

#[test]
fn receipt_numbers() {
    assert_eq!(
        valid(with(&[("receipt_number", " ioe-091-234-5678 ")]))
            .receipt
            .as_str(),
        "IOE0912345678"
    );
    let r = rejected(with(&[("receipt_number", "XYZ")]));
    assert_eq!(r.receipt_number.as_deref(), Some("XYZ"));
}

#[test]
fn form_types() {
    for (typed, want) in [
        ("I-485", FormType::I485),
        ("I485", FormType::I485),
        ("i-765", FormType::I765),
        ("I 131", FormType::I131),
        ("i–131", FormType::I131),
    ] {
        assert_eq!(valid(with(&[("form_type", typed)])).form, want, "{typed}");
    }
}

#[test]
fn received_dates() {
    assert_eq!(
        valid(with(&[("received_date", "2026-11-25")])).received_date,
        batch()
    );
    assert_eq!(
        valid(with(&[("received_date", "1990-01-01")]))
            .received_date
            .year(),
        1990
    );
}

#[test]
fn names() {
    // Decomposed input (e + combining acute) is stored composed.
    let f = valid(with(&[
        ("given_name", "  Jose\u{0301}  "),
        ("family_name", "Nguye\u{0302}\u{0303}n  Văn"),
    ]));
    assert_eq!(f.given_name, "José");
    assert_eq!(f.family_name, "Nguyễn Văn");
    assert_eq!(f.name_line, "JOSÉ LUIS NGUYỄN VĂN");
    // Single-name applicant.
    let f = valid(with(&[
        ("given_name", ""),
        ("middle_name", ""),
        ("family_name", "Zoë"),
    ]));
    assert_eq!(
        (
            f.given_name.as_str(),
            f.middle_name.clone(),
            f.name_line.as_str()
        ),
        ("", None, "ZOË")
    );
    let f = valid(with(&[
        ("given_name", "Mary-Kate"),
        ("middle_name", "J."),
        ("family_name", "O’Brien"),
    ]));
    assert_eq!(f.name_line, "MARY-KATE J O'BRIEN");
    assert_eq!(
        valid(with(&[("family_name", "Ødegård"), ("given_name", "Σοφία")])).name_line,
        "ΣΟΦΊΑ LUIS ØDEGÅRD"
    );
}

#[test]
fn long_names_are_shortened_or_rejected() {
    let f = valid(with(&[
        ("given_name", "Khai"),
        ("middle_name", "Thị Minh Hoàng Phương"),
        ("family_name", "Nguyễn Trần Phạm"),
    ]));
    assert_eq!(f.name_line, "KHAI T M H P NGUYỄN TRẦN PHẠM");
    assert_eq!(f.middle_name.as_deref(), Some("Thị Minh Hoàng Phương"));
}

#[test]
fn a_numbers() {
    assert_eq!(
        valid(with(&[("a_number", "A12345678")]))
            .a_number
            .as_deref(),
        Some("A012345678")
    );
    assert_eq!(
        valid(with(&[("a_number", "a-123-456-789")]))
            .a_number
            .as_deref(),
        Some("A123456789")
    );
    assert_eq!(
        valid(with(&[("a_number", "A 123 456 789")]))
            .a_number
            .as_deref(),
        Some("A123456789")
    );
    assert_eq!(valid(with(&[("a_number", "")])).a_number, None);
}

#[test]
fn address_fields_map_to_columns() {
    let f = valid(with(&[
        ("in_care_of", "c/o María López"),
        ("address_line2", ""),
    ]));
    assert_eq!(f.address.in_care_of.as_deref(), Some("C/O MARÍA LÓPEZ"));
    assert_eq!(f.address_lines()[1], "C/O MARÍA LÓPEZ");
    let f = valid(with(&[
        ("address_line1", "PSC 3 Box 4120"),
        ("address_line2", ""),
        ("city", "APO"),
        ("state", "AE"),
        ("zip", "09021"),
    ]));
    assert_eq!(f.address.last_line(), "APO AE 09021");
}

#[test]
fn languages() {
    assert_eq!(valid(with(&[("language", "EN")])).language, Language::En);
    assert_eq!(valid(with(&[("language", " Es ")])).language, Language::Es);
    assert_eq!(valid(with(&[("language", "")])).language, Language::En);
}

#[test]
fn duplicates_first_row_wins() {
    let rows = vec![
        base_row(),
        with(&[("receipt_number", "MSC2190000001")]),
        with(&[
            ("receipt_number", "IOE-0912345678"),
            ("given_name", "Other"),
        ]),
        with(&[("receipt_number", "EAC2190000002"), ("zip", "1")]),
        with(&[("receipt_number", "EAC2190000002")]),
    ];
    let (outcomes, read, valid, rejected) = run_bytes(&csv_of(&rows)).expect("file is fine");
    assert_eq!((read, valid, rejected), (5, 2, 3));
    match &outcomes[2] {
        Outcome::Rejected(r) => {
            assert_eq!(r.line, 4);
            assert_eq!(r.field, "receipt_number");
            assert_eq!(
                r.reason,
                "receipt IOE0912345678 already appears on line 2; only the first row is used"
            );
            assert_eq!(r.receipt_number.as_deref(), Some("IOE-0912345678"));
        }
        other => panic!("{other:?}"),
    }
    match &outcomes[4] {
        Outcome::Rejected(r) => assert_eq!(
            r.reason,
            "receipt EAC2190000002 already appears on line 5 (that row was rejected); only the first row is used"
        ),
        other => panic!("{other:?}"),
    }
    // Packing is injective on the receipt shape.
    let a = ReceiptIndex::pack(&ReceiptNumber::parse("ZZZ9999999999").expect("ok"));
    let b = ReceiptIndex::pack(&ReceiptNumber::parse("AAA0000000000").expect("ok"));
    assert_eq!((a, b), (17_575 * 10_000_000_000 + 9_999_999_999, 0));
}

mod file;
mod limits;
mod props;
