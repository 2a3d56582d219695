//! Deterministic generator of realistic filings files, for benchmarks and
//! end-to-end tests (`access-letters gen-fixtures --rows N --seed S`).
//!
//! The same `(rows, seed, batch_date)` always gives the same bytes: a
//! ChaCha8 generator seeded from `seed` drives every choice, and rows are
//! written one at a time through `csv::Writer`, so memory stays constant
//! however many rows are asked for.
//!
//! What the rows look like:
//! - the three forms (I-765 40%, I-485 35%, I-131 25%), Spanish letters for
//!   about 15% of rows (with Spanish names), English for the rest;
//! - names with the diacritics real filings carry (Spanish, Vietnamese,
//!   Polish, Czech, Portuguese, French, German and others written in Latin
//!   letters), middle names on about 40% of rows, a few single-name
//!   applicants, `c/o` lines on about 3%;
//! - US street addresses with apartments and suites, PO boxes, ZIP+4 on
//!   about 40%; about 2.5% in Puerto Rico, Guam and the US Virgin Islands,
//!   about 1.5% military (APO/FPO/DPO with AA/AE/AP);
//! - received dates within the 30 days before the batch date;
//! - spelling variety intake must normalise (`i-765`, hyphenated receipts,
//!   lowercase states, `P.O. Box`).
//!
//! About [`BAD_ROW_RATE`] of rows carry exactly one problem of a varied
//! kind (bad receipt, unknown form, future date, missing family name, bad
//! state, bad ZIP, address line too long, duplicate receipt, unsupported
//! language); [`GenStats::bad`] counts them, and intake rejects exactly
//! those rows.
//!
//! Receipt numbers never repeat (except in the deliberate duplicate rows):
//! their ten digits are the row index sent through a bijection of
//! `0..10^10` (affine map, swap of the five-digit halves, affine map), so
//! they look random but are unique for up to [`MAX_ROWS`] rows.

mod pools;
mod row;

use std::io::{self, Write};

use chrono::NaiveDate;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::intake::COLUMNS;
use row::Row;

/// Share of generated rows that carry one deliberate problem.
pub const BAD_ROW_RATE: f64 = 0.03;

/// Receipt digits are a bijection of the row index on `0..10^10`.
pub const MAX_ROWS: u64 = RECEIPT_DIGIT_SPACE;

/// Received dates fall within this many days before the batch date.
const RECEIVED_WINDOW_DAYS: u64 = 30;

const RECEIPT_DIGIT_SPACE: u64 = 10_000_000_000;
const HALF_DIGIT_SPACE: u64 = 100_000;

/// What [`generate`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenStats {
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Rows written with one deliberate problem; intake rejects exactly these.
    pub bad: u64,
}

/// Writes a header and `rows` filing rows to `out`.
pub fn generate<W: Write>(
    out: W,
    rows: u64,
    seed: u64,
    batch_date: NaiveDate,
) -> io::Result<GenStats> {
    if rows > MAX_ROWS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_ROWS} rows can be generated with unique receipt numbers"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let receipts = ReceiptSequence::new(&mut rng);
    // The header is written from the intake's column list; rows are
    // serialised without one (their field names are the same columns).
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    writer.write_record(COLUMNS).map_err(io::Error::other)?;

    let mut last_claimed: Option<String> = None;
    let mut bad = 0u64;
    for index in 0..rows {
        let mut row = Row::valid(&mut rng, &receipts, index, batch_date);
        if rng.random_bool(BAD_ROW_RATE) {
            let mut kind = BadKind::ALL[rng.random_range(0..BadKind::ALL.len())];
            if kind == BadKind::Duplicate && last_claimed.is_none() {
                kind = BadKind::Form;
            }
            row.spoil(&mut rng, kind, last_claimed.as_deref(), batch_date);
            bad += 1;
            if !matches!(kind, BadKind::Receipt | BadKind::Duplicate) {
                last_claimed = Some(row.receipt_number.clone());
            }
        } else {
            last_claimed = Some(row.receipt_number.clone());
        }
        writer.serialize(&row).map_err(io::Error::other)?;
    }
    writer.flush()?;
    Ok(GenStats { rows, bad })
}

/// Row index → ten unique, random-looking digits.
struct ReceiptSequence {
    mul1: u64,
    add1: u64,
    mul2: u64,
    add2: u64,
}

impl ReceiptSequence {
    fn new<R: Rng>(rng: &mut R) -> Self {
        // A multiplier is invertible modulo 10^10 when it is odd and not a
        // multiple of 5; that makes each affine step a bijection.
        let mut unit = || {
            let mut m = rng.random_range(1..RECEIPT_DIGIT_SPACE) | 1;
            if m % 5 == 0 {
                m += 2;
            }
            m % RECEIPT_DIGIT_SPACE
        };
        let (mul1, mul2) = (unit(), unit());
        ReceiptSequence {
            mul1,
            add1: rng.random_range(0..RECEIPT_DIGIT_SPACE),
            mul2,
            add2: rng.random_range(0..RECEIPT_DIGIT_SPACE),
        }
    }

    fn digits(&self, index: u64) -> u64 {
        let affine = |x: u64, m: u64, a: u64| {
            ((u128::from(x) * u128::from(m) + u128::from(a)) % u128::from(RECEIPT_DIGIT_SPACE))
                as u64
        };
        let first = affine(index, self.mul1, self.add1);
        let swapped = (first % HALF_DIGIT_SPACE) * HALF_DIGIT_SPACE + first / HALF_DIGIT_SPACE;
        affine(swapped, self.mul2, self.add2)
    }
}

/// The one problem a bad row carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BadKind {
    Receipt,
    Form,
    FutureDate,
    MissingFamily,
    State,
    Zip,
    LongLine,
    Duplicate,
    Language,
}

impl BadKind {
    const ALL: [BadKind; 9] = [
        BadKind::Receipt,
        BadKind::Form,
        BadKind::FutureDate,
        BadKind::MissingFamily,
        BadKind::State,
        BadKind::Zip,
        BadKind::LongLine,
        BadKind::Duplicate,
        BadKind::Language,
    ];
}

fn pick<'a, R: Rng>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{Intake, Outcome};
    use std::collections::{HashMap, HashSet};

    fn batch() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid date")
    }

    fn gen_bytes(rows: u64, seed: u64) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate(&mut out, rows, seed, batch()).expect("writes to memory");
        (out, stats)
    }

    #[test]
    fn intake_rejects_exactly_the_bad_rows() {
        let (bytes, stats) = gen_bytes(2_000, 7);
        assert_eq!(stats.rows, 2_000);
        assert!((20..=100).contains(&stats.bad), "bad rows: {}", stats.bad);
        let mut intake = Intake::new(
            &bytes[..],
            "generated.csv",
            batch(),
            crate::address::DEFAULT_WINDOW_FIT,
        )
        .expect("header ok");
        let mut fields: HashMap<String, u64> = HashMap::new();
        let mut languages = HashSet::new();
        let mut states = HashSet::new();
        let mut forms = HashSet::new();
        let mut duplicates = 0u64;
        for item in intake.by_ref() {
            match item.expect("a generated file is well-formed") {
                Outcome::Valid(f) => {
                    languages.insert(f.language);
                    states.insert(f.address.state.clone());
                    forms.insert(f.form);
                }
                Outcome::Rejected(r) => {
                    duplicates += u64::from(r.reason.contains("already appears on line"));
                    *fields.entry(r.field).or_default() += 1;
                }
            }
        }
        assert_eq!(intake.read(), stats.rows);
        assert_eq!(intake.rejected(), stats.bad, "rejects by field: {fields:?}");
        assert_eq!(intake.valid(), stats.rows - stats.bad);
        // Every kind of problem shows up, reported on its own column.
        let mut seen: Vec<&str> = fields.keys().map(String::as_str).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            [
                "address_line1",
                "family_name",
                "form_type",
                "language",
                "receipt_number",
                "received_date",
                "state",
                "zip"
            ]
        );
        assert!(duplicates > 0, "no duplicate receipt among the bad rows");
        assert_eq!(languages.len(), 2);
        assert_eq!(forms.len(), 3);
        for s in ["PR", "GU", "VI", "AE", "AP"] {
            assert!(states.contains(s), "no valid row in {s}");
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let (a, sa) = gen_bytes(300, 42);
        let (b, sb) = gen_bytes(300, 42);
        let (c, _) = gen_bytes(300, 43);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_ne!(a, c);
        let text = String::from_utf8(a).expect("utf8");
        assert!(text.starts_with("receipt_number,form_type,received_date,"));
        assert_eq!(text.lines().count(), 301);
    }

    /// The bytes of a seed are a contract: benchmarks and scale tests name
    /// a file by its seed. These hashes were taken from the generator before
    /// rows became named columns, and must never change.
    #[test]
    fn generated_files_are_pinned_by_seed() {
        use sha2::{Digest, Sha256};
        let pinned = [
            (
                1,
                "81c96469967ca7570ad7bd36bbad807df6e20ec94dd14d3dd451de942f322891",
            ),
            (
                42,
                "9384b09decd5e3b2ef2e15c1fa7890b6dfdeb3381b7b4e7cce526f982f9c1438",
            ),
            (
                7,
                "6081bb4b519ec9e08ce1edf73ca40bd98e98cc36da318cddc3ee109a4559aad8",
            ),
        ];
        for (seed, sha256) in pinned {
            let (bytes, _) = gen_bytes(2_000, seed);
            assert_eq!(hex::encode(Sha256::digest(&bytes)), sha256, "seed {seed}");
        }
        let (empty, stats) = gen_bytes(0, 5);
        assert_eq!(stats, GenStats { rows: 0, bad: 0 });
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            format!("{}\n", COLUMNS.join(","))
        );
    }

    /// A row's field names are the intake's columns, in order.
    #[test]
    fn row_fields_are_the_intake_columns() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(Row::default()).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next(), Some(COLUMNS.join(",").as_str()));
    }

    #[test]
    fn receipt_digits_never_repeat() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let seq = ReceiptSequence::new(&mut rng);
        let mut seen = HashSet::new();
        for i in 0..200_000 {
            let d = seq.digits(i);
            assert!(d < RECEIPT_DIGIT_SPACE);
            assert!(seen.insert(d), "digits {d} repeated at row {i}");
        }
        // The top of the range is reachable and still unique.
        let top = seq.digits(MAX_ROWS - 1);
        assert!(!seen.contains(&top));
        // Bijection on a small modulus shows the construction is sound:
        // multipliers are units mod 10^10.
        assert_eq!(seq.mul1 % 2, 1);
        assert_ne!(seq.mul1 % 5, 0);
        assert_eq!(seq.mul2 % 2, 1);
        assert_ne!(seq.mul2 % 5, 0);
    }

    #[test]
    fn received_dates_fall_in_the_window() {
        let (bytes, _) = gen_bytes(500, 3);
        let mut intake = Intake::new(
            &bytes[..],
            "generated.csv",
            batch(),
            crate::address::DEFAULT_WINDOW_FIT,
        )
        .expect("header ok");
        let earliest = batch() - chrono::Duration::days(RECEIVED_WINDOW_DAYS as i64);
        for item in intake.by_ref() {
            if let Outcome::Valid(f) = item.expect("well-formed") {
                assert!(
                    f.received_date > earliest && f.received_date <= batch(),
                    "{}",
                    f.received_date
                );
            }
        }
    }

    #[test]
    fn too_many_rows_is_refused() {
        let err = generate(Vec::new(), MAX_ROWS + 1, 1, batch()).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
