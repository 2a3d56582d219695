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

use std::io::{self, Write};

use chrono::{Days, NaiveDate};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::intake::COLUMNS;

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
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS).map_err(io::Error::other)?;

    let mut row = Row::default();
    let mut last_claimed: Option<String> = None;
    let mut bad = 0u64;
    for index in 0..rows {
        row.fill_valid(&mut rng, &receipts, index, batch_date);
        if rng.random_bool(BAD_ROW_RATE) {
            let mut kind = BadKind::ALL[rng.random_range(0..BadKind::ALL.len())];
            if kind == BadKind::Duplicate && last_claimed.is_none() {
                kind = BadKind::Form;
            }
            row.spoil(&mut rng, kind, last_claimed.as_deref(), batch_date);
            bad += 1;
            if !matches!(kind, BadKind::Receipt | BadKind::Duplicate) {
                last_claimed = Some(row.cells[0].clone());
            }
        } else {
            last_claimed = Some(row.cells[0].clone());
        }
        writer.write_record(&row.cells).map_err(io::Error::other)?;
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

/// Name pools by origin: (given names, family names). Middle names are
/// drawn from the given-name pool of the same origin.
const NAME_POOLS: [(&[&str], &[&str]); 8] = [
    (
        &[
            "Minh",
            "Khai",
            "Hương",
            "Thảo",
            "Dũng",
            "Phương",
            "Linh",
            "Tuấn",
            "Ngọc Ánh",
            "Bảo",
        ],
        &[
            "Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
        ],
    ),
    (
        &[
            "Łukasz",
            "Małgorzata",
            "Wojciech",
            "Agnieszka",
            "Paweł",
            "Elżbieta",
            "Krzysztof",
        ],
        &[
            "Wróblewski",
            "Kowalczyk",
            "Wiśniewska",
            "Zieliński",
            "Dąbrowska",
            "Grzegorczyk",
        ],
    ),
    (
        &["Jiří", "Antonín", "Zdeněk", "Markéta", "Tomáš", "Kateřina"],
        &[
            "Dvořák",
            "Novák",
            "Černý",
            "Procházková",
            "Kučera",
            "Svoboda",
        ],
    ),
    (
        &[
            "João",
            "Conceição",
            "Gonçalo",
            "Inês",
            "Sebastião",
            "Thiago",
        ],
        &[
            "Gonçalves",
            "Magalhães",
            "Araújo",
            "Simões",
            "Conceição",
            "Brandão",
        ],
    ),
    (
        &[
            "François",
            "Zoë",
            "Chloé",
            "Hélène",
            "Jérôme",
            "Renée",
            "Anaïs",
        ],
        &["Lefèvre", "Bélanger", "Côté", "Gagné", "Dubois", "Lévesque"],
    ),
    (
        &["Jürgen", "Björn", "Jörg", "Lena", "Günter", "Käthe"],
        &["Müller", "Schäfer", "Köhler", "Groß", "Weiß", "Bäcker"],
    ),
    (
        &[
            "James", "Emily", "Michael", "Aisha", "Priya", "Wei", "Kwame", "Fatima", "Siobhán",
        ],
        &[
            "Smith", "Johnson", "O'Connor", "Patel", "Chen", "Mensah", "Haddad", "Okafor",
        ],
    ),
    (
        &[
            "Mehmet",
            "Ayşe",
            "Oleksandr",
            "Nadia",
            "Dmitri",
            "Ingrid",
            "Søren",
        ],
        &[
            "Yılmaz",
            "Shevchenko",
            "Petrov",
            "Sørensen",
            "Åström",
            "Popescu",
        ],
    ),
];

const SPANISH_GIVEN: [&str; 20] = [
    "José",
    "María",
    "Juan Carlos",
    "Guadalupe",
    "Jesús",
    "Ana Sofía",
    "Luis",
    "Carmen",
    "Alejandro",
    "Lucía",
    "Fernando",
    "Valentina",
    "Andrés",
    "Camila",
    "Raúl",
    "Inés",
    "Sebastián",
    "Ximena",
    "Martín",
    "Begoña",
];

const SPANISH_FAMILY: [&str; 20] = [
    "Ramírez",
    "Núñez",
    "García",
    "Hernández",
    "López",
    "Martínez",
    "González",
    "Pérez",
    "Sánchez",
    "Rodríguez",
    "Muñoz",
    "Ibáñez",
    "Peña",
    "Castañeda",
    "Villaseñor",
    "Gómez",
    "Díaz",
    "Ortiz",
    "Chávez",
    "Jiménez",
];

const VIETNAMESE_MIDDLE: [&str; 6] = ["Văn", "Thị", "Ngọc", "Hoàng", "Thị Minh", "Đức"];

const RECEIPT_PREFIXES: [&str; 10] = [
    "IOE", "IOE", "IOE", "IOE", "MSC", "EAC", "WAC", "LIN", "SRC", "NBC",
];

/// Mainland cities: (city, state, first three ZIP digits).
const CITIES: [(&str, &str, &str); 30] = [
    ("Los Angeles", "CA", "900"),
    ("San Jose", "CA", "951"),
    ("Westminster", "CA", "926"),
    ("Houston", "TX", "770"),
    ("El Paso", "TX", "799"),
    ("Miami", "FL", "331"),
    ("Orlando", "FL", "328"),
    ("Chicago", "IL", "606"),
    ("New York", "NY", "100"),
    ("Brooklyn", "NY", "112"),
    ("Newark", "NJ", "071"),
    ("Boston", "MA", "021"),
    ("Seattle", "WA", "981"),
    ("Phoenix", "AZ", "850"),
    ("Denver", "CO", "802"),
    ("Atlanta", "GA", "303"),
    ("Charlotte", "NC", "282"),
    ("Minneapolis", "MN", "554"),
    ("Detroit", "MI", "482"),
    ("Philadelphia", "PA", "191"),
    ("Arlington", "VA", "222"),
    ("Silver Spring", "MD", "209"),
    ("Washington", "DC", "200"),
    ("Las Vegas", "NV", "891"),
    ("Salt Lake City", "UT", "841"),
    ("Portland", "OR", "972"),
    ("Honolulu", "HI", "968"),
    ("Anchorage", "AK", "995"),
    ("Omaha", "NE", "681"),
    ("Nashville", "TN", "372"),
];

const STREET_NAMES: [&str; 20] = [
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Martin Luther King Jr",
    "Cesar Chavez",
    "Broadway",
    "Park",
    "Lake",
    "Hill",
    "Sunset",
    "Bolsa",
    "Pulaski",
    "Milwaukee",
    "Commerce",
    "Story",
];

const STREET_SUFFIXES: [&str; 12] = [
    "St", "St.", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Ct", "Pl", "Street", "Avenue",
];

const DIRECTIONS: [&str; 6] = ["N", "S", "E", "W", "NW", "SE"];

const UNITS: [&str; 6] = ["Apt", "Apt.", "Unit", "Ste", "#", "Apartment"];

/// Territory places: (city, state, ZIPs).
const TERRITORY_PLACES: [(&str, &str, &[&str]); 8] = [
    ("San Juan", "PR", &["00926", "00907", "00917"]),
    ("Ponce", "PR", &["00730", "00716"]),
    ("Bayamón", "PR", &["00956", "00961"]),
    ("Mayagüez", "PR", &["00680", "00682"]),
    ("St. Thomas", "VI", &["00802"]),
    ("Christiansted", "VI", &["00820"]),
    ("Tamuning", "GU", &["96913"]),
    ("Dededo", "GU", &["96929"]),
];

const PR_STREETS: [&str; 6] = [
    "Luna",
    "Sol",
    "Loíza",
    "San Francisco",
    "Fortaleza",
    "Acacia",
];
const PR_URBANIZATIONS: [&str; 4] = [
    "Las Gladiolas",
    "Santa Juanita",
    "Villa Carolina",
    "Los Maestros",
];

/// Military: (line-1 pattern, city, state, ZIPs). `{n}` and `{m}` are
/// replaced by numbers.
const MILITARY: [(&str, &str, &str, &[&str]); 6] = [
    (
        "PSC {n} Box {m}",
        "APO",
        "AE",
        &["09021", "09096", "09107", "09136", "09180", "09630"],
    ),
    (
        "Unit {n} Box {m}",
        "APO",
        "AP",
        &["96205", "96218", "96267", "96319", "96362"],
    ),
    ("USS Nimitz (CVN 68)", "FPO", "AP", &["96620"]),
    ("PSC {n} Box {m}", "DPO", "AE", &["09498", "09777"]),
    ("Unit {n} Box {m}", "APO", "AA", &["34020", "34038"]),
    ("Unit {n} Box {m}", "FPO", "AA", &["34090"]),
];

const CARE_OF: [&str; 5] = [
    "c/o Catholic Charities",
    "c/o Refugee Services",
    "María López",
    "c/o Legal Aid Society",
    "James Okafor",
];

/// The 14 cells of one row, in [`COLUMNS`] order; reused between rows.
#[derive(Default)]
struct Row {
    cells: [String; 14],
}

impl Row {
    fn set(&mut self, col: usize, value: &str) {
        self.cells[col].clear();
        self.cells[col].push_str(value);
    }

    fn fill_valid<R: Rng>(
        &mut self,
        rng: &mut R,
        receipts: &ReceiptSequence,
        index: u64,
        batch_date: NaiveDate,
    ) {
        for c in &mut self.cells {
            c.clear();
        }
        let prefix = pick(rng, &RECEIPT_PREFIXES);
        let digits = receipts.digits(index);
        self.cells[0] = if rng.random_bool(0.02) {
            format!(
                "{prefix}-{:03}-{:03}-{:04}",
                digits / 10_000_000,
                digits / 10_000 % 1000,
                digits % 10_000
            )
        } else {
            format!("{prefix}{digits:010}")
        };

        let form_roll = rng.random_range(0..100u32);
        let form = match form_roll {
            0..40 => "I-765",
            40..75 => "I-485",
            _ => "I-131",
        };
        let form = if rng.random_bool(0.05) {
            match form {
                "I-765" => "i-765",
                "I-485" => "I485",
                _ => "I 131",
            }
        } else {
            form
        };
        self.set(1, form);

        let back = rng.random_range(0..RECEIVED_WINDOW_DAYS);
        let received = batch_date
            .checked_sub_days(Days::new(back))
            .unwrap_or(batch_date);
        self.cells[2] = received.format("%Y-%m-%d").to_string();

        let spanish = rng.random_bool(0.15);
        if spanish {
            self.set(3, pick(rng, &SPANISH_GIVEN));
            if rng.random_bool(0.3) {
                self.set(4, pick(rng, &SPANISH_GIVEN));
            }
            let family = if rng.random_bool(0.5) {
                format!(
                    "{} {}",
                    pick(rng, &SPANISH_FAMILY),
                    pick(rng, &SPANISH_FAMILY)
                )
            } else {
                pick(rng, &SPANISH_FAMILY).to_string()
            };
            self.cells[5] = family;
        } else {
            let pool = rng.random_range(0..NAME_POOLS.len());
            let (given, family) = NAME_POOLS[pool];
            self.set(3, pick(rng, given));
            if rng.random_bool(0.4) {
                let middle = if pool == 0 {
                    pick(rng, &VIETNAMESE_MIDDLE)
                } else {
                    pick(rng, given)
                };
                self.set(4, middle);
            }
            self.set(5, pick(rng, family));
        }
        if rng.random_bool(0.005) {
            // Single-name applicant.
            self.cells[3].clear();
            self.cells[4].clear();
        }

        if rng.random_bool(0.5) {
            let a: u32 = rng.random_range(10_000_000..1_000_000_000);
            self.cells[6] = if rng.random_bool(0.2) {
                format!(
                    "A-{:03}-{:03}-{:03}",
                    a / 1_000_000,
                    a / 1000 % 1000,
                    a % 1000
                )
            } else {
                format!("A{a:09}")
            };
        }
        if rng.random_bool(0.03) {
            self.set(7, pick(rng, &CARE_OF));
        }

        let kind = rng.random_range(0..1000u32);
        if kind < 25 {
            self.territory_address(rng);
        } else if kind < 40 {
            self.military_address(rng);
        } else {
            self.mainland_address(rng);
        }
        if rng.random_bool(0.4) && !self.cells[12].contains('-') {
            let plus4: u32 = rng.random_range(1..10_000);
            self.cells[12] = format!("{}-{plus4:04}", self.cells[12]);
        }

        self.set(
            13,
            if spanish {
                "es"
            } else if rng.random_bool(0.5) {
                "en"
            } else {
                ""
            },
        );
    }

    fn mainland_address<R: Rng>(&mut self, rng: &mut R) {
        let (city, state, zip3) = CITIES[rng.random_range(0..CITIES.len())];
        if rng.random_bool(0.03) {
            let boxno: u32 = rng.random_range(1..20_000);
            let label = pick(rng, &["PO Box", "P.O. Box", "Post Office Box"]);
            self.cells[8] = format!("{label} {boxno}");
        } else {
            let number: u32 = rng.random_range(1..20_000);
            let direction = if rng.random_bool(0.2) {
                format!("{} ", pick(rng, &DIRECTIONS))
            } else {
                String::new()
            };
            self.cells[8] = format!(
                "{number} {direction}{} {}",
                pick(rng, &STREET_NAMES),
                pick(rng, &STREET_SUFFIXES)
            );
            if rng.random_bool(0.35) {
                let unit: u32 = rng.random_range(1..2000);
                let letter = if rng.random_bool(0.2) { "B" } else { "" };
                self.cells[9] = format!("{} {unit}{letter}", pick(rng, &UNITS));
            }
        }
        self.set(10, city);
        let state = if rng.random_bool(0.03) {
            state.to_ascii_lowercase()
        } else {
            state.to_string()
        };
        self.cells[11] = state;
        let tail: u32 = rng.random_range(1..100);
        self.cells[12] = format!("{zip3}{tail:02}");
    }

    fn territory_address<R: Rng>(&mut self, rng: &mut R) {
        let (city, state, zips) = TERRITORY_PLACES[rng.random_range(0..TERRITORY_PLACES.len())];
        let number: u32 = rng.random_range(1..400);
        self.cells[8] = match state {
            "PR" if rng.random_bool(0.4) => {
                self.cells[9] = format!("{number} Calle {}", pick(rng, &PR_STREETS));
                format!("Urb {}", pick(rng, &PR_URBANIZATIONS))
            }
            "PR" => format!("Calle {} {number}", pick(rng, &PR_STREETS)),
            "VI" => format!(
                "{number} Estate {}",
                pick(rng, &["Enighed", "Tutu", "Bovoni"])
            ),
            _ => format!("{number} Marine Corps Dr"),
        };
        self.set(10, city);
        self.set(11, state);
        self.set(12, pick(rng, zips));
    }

    fn military_address<R: Rng>(&mut self, rng: &mut R) {
        let (pattern, city, state, zips) = MILITARY[rng.random_range(0..MILITARY.len())];
        let n: u32 = rng.random_range(1..9000);
        let m: u32 = rng.random_range(1..9000);
        self.cells[8] = pattern
            .replace("{n}", &n.to_string())
            .replace("{m}", &m.to_string());
        self.set(10, city);
        self.set(11, state);
        self.set(12, pick(rng, zips));
    }

    /// Gives the row exactly one problem of `kind`.
    fn spoil<R: Rng>(
        &mut self,
        rng: &mut R,
        kind: BadKind,
        last_claimed: Option<&str>,
        batch_date: NaiveDate,
    ) {
        match kind {
            BadKind::Receipt => {
                let spoilt = match rng.random_range(0..3u32) {
                    // A letter O typed for a zero.
                    0 => self.cells[0].replacen('0', "O", 1),
                    1 => self.cells[0][..9].to_string(),
                    _ => format!("{}1", self.cells[0]),
                };
                // `replacen` finds no zero in rare receipts: shorten instead.
                self.cells[0] = if spoilt == self.cells[0] {
                    self.cells[0][..9].to_string()
                } else {
                    spoilt
                };
            }
            BadKind::Form => self.set(1, pick(rng, &["I-130", "I-140", "N-400", "I-90"])),
            BadKind::FutureDate => {
                let ahead = rng.random_range(1..=RECEIVED_WINDOW_DAYS);
                let date = batch_date
                    .checked_add_days(Days::new(ahead))
                    .unwrap_or(batch_date);
                self.cells[2] = date.format("%Y-%m-%d").to_string();
                if date == batch_date {
                    // Only at the end of the calendar: fall back to a bad form.
                    self.set(1, "I-130");
                }
            }
            BadKind::MissingFamily => self.cells[5].clear(),
            BadKind::State => self.set(11, pick(rng, &["XX", "ZZ", "Calif", "UK"])),
            BadKind::Zip => self.set(12, pick(rng, &["1234", "ABCDE", "123456", "9021O"])),
            BadKind::LongLine => self.set(
                8,
                "12345 North Martin Luther King Junior Boulevard Building 7",
            ),
            BadKind::Duplicate => {
                if let Some(r) = last_claimed {
                    self.set(0, r);
                }
            }
            BadKind::Language => self.set(13, pick(rng, &["fr", "vi", "zh", "pt"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{Intake, Outcome};
    use std::collections::{HashMap, HashSet};

    fn batch() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid date")
    }

    fn fit() -> crate::intake::WindowFit {
        crate::layout::window_fit(&crate::config::Config::default_config().envelope)
            .expect("the default envelope is valid")
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
        let mut intake =
            Intake::new(&bytes[..], "generated.csv", batch(), fit()).expect("header ok");
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
        let mut intake =
            Intake::new(&bytes[..], "generated.csv", batch(), fit()).expect("header ok");
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
