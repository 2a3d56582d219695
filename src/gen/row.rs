//! One generated row, filled column by column. Every choice is drawn from
//! the generator in a fixed order, which is what makes a seed reproduce its
//! file byte for byte: reordering the draws below changes every file.

use chrono::{Days, NaiveDate};
use rand::{Rng, RngExt};
use serde::Serialize;

use super::pools::{
    CARE_OF, CITIES, DIRECTIONS, MILITARY, NAME_POOLS, PR_STREETS, PR_URBANIZATIONS,
    RECEIPT_PREFIXES, SPANISH_FAMILY, SPANISH_GIVEN, STREET_NAMES, STREET_SUFFIXES,
    TERRITORY_PLACES, UNITS, VIETNAMESE_MIDDLE,
};
use super::{pick, BadKind, ReceiptSequence, RECEIVED_WINDOW_DAYS};

/// One filings row. The fields serialise in the order and with the names of
/// [`crate::intake::COLUMNS`] (a test checks the header), so the struct is
/// the column list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(super) struct Row {
    pub(super) receipt_number: String,
    form_type: String,
    received_date: String,
    given_name: String,
    middle_name: String,
    family_name: String,
    a_number: String,
    in_care_of: String,
    address_line1: String,
    address_line2: String,
    city: String,
    state: String,
    zip: String,
    language: String,
}

/// Share of receipt numbers written with hyphens (`IOE-091-234-5678`).
const HYPHENATED_RECEIPT_RATE: f64 = 0.02;
/// Share of form types spelt the way intake must normalise (`i-765`).
const LOOSE_FORM_RATE: f64 = 0.05;
/// Share of Spanish-language rows (with Spanish names).
const SPANISH_RATE: f64 = 0.15;
/// Share of Spanish rows with a middle name.
const SPANISH_MIDDLE_RATE: f64 = 0.3;
/// Share of Spanish rows with two family names.
const SPANISH_TWO_FAMILY_RATE: f64 = 0.5;
/// Share of other rows with a middle name.
const MIDDLE_NAME_RATE: f64 = 0.4;
/// Share of single-name applicants (family name only).
const SINGLE_NAME_RATE: f64 = 0.005;
/// Share of rows with an A-number, and of those written with hyphens.
const A_NUMBER_RATE: f64 = 0.5;
const HYPHENATED_A_NUMBER_RATE: f64 = 0.2;
/// Share of rows with a c/o line.
const CARE_OF_RATE: f64 = 0.03;
/// Address kinds per thousand rows: territories below the first bound,
/// military below the second, mainland for the rest.
const TERRITORY_PER_MILLE: u32 = 25;
const MILITARY_PER_MILLE: u32 = 40;
/// Share of rows given a ZIP+4.
const ZIP_PLUS_4_RATE: f64 = 0.4;
/// Share of English rows that spell the language out (the rest leave it empty).
const EXPLICIT_ENGLISH_RATE: f64 = 0.5;
/// Mainland addresses: PO boxes, street directions, unit lines, lowercase states.
const PO_BOX_RATE: f64 = 0.03;
const DIRECTION_RATE: f64 = 0.2;
const UNIT_RATE: f64 = 0.35;
const UNIT_LETTER_RATE: f64 = 0.2;
const LOWERCASE_STATE_RATE: f64 = 0.03;
/// Puerto Rico addresses with an urbanization line.
const URBANIZATION_RATE: f64 = 0.4;

impl Row {
    /// A valid row for row `index`.
    pub(super) fn valid<R: Rng>(
        rng: &mut R,
        receipts: &ReceiptSequence,
        index: u64,
        batch_date: NaiveDate,
    ) -> Row {
        let mut row = Row {
            receipt_number: receipt_number(rng, receipts.digits(index)),
            ..Row::default()
        };
        row.form_type = form_type(rng).to_string();
        let back = rng.random_range(0..RECEIVED_WINDOW_DAYS);
        let received = batch_date
            .checked_sub_days(Days::new(back))
            .unwrap_or(batch_date);
        row.received_date = received.format("%Y-%m-%d").to_string();
        let spanish = row.names(rng);
        if rng.random_bool(A_NUMBER_RATE) {
            row.a_number = a_number(rng);
        }
        if rng.random_bool(CARE_OF_RATE) {
            row.in_care_of = pick(rng, &CARE_OF).to_string();
        }
        match rng.random_range(0..1000u32) {
            kind if kind < TERRITORY_PER_MILLE => row.territory_address(rng),
            kind if kind < MILITARY_PER_MILLE => row.military_address(rng),
            _ => row.mainland_address(rng),
        }
        if rng.random_bool(ZIP_PLUS_4_RATE) && !row.zip.contains('-') {
            let plus4: u32 = rng.random_range(1..10_000);
            row.zip = format!("{}-{plus4:04}", row.zip);
        }
        row.language = if spanish {
            "es"
        } else if rng.random_bool(EXPLICIT_ENGLISH_RATE) {
            "en"
        } else {
            ""
        }
        .to_string();
        row
    }

    /// Given, middle and family names; true for a Spanish-language row.
    fn names<R: Rng>(&mut self, rng: &mut R) -> bool {
        let spanish = rng.random_bool(SPANISH_RATE);
        if spanish {
            self.given_name = pick(rng, &SPANISH_GIVEN).to_string();
            if rng.random_bool(SPANISH_MIDDLE_RATE) {
                self.middle_name = pick(rng, &SPANISH_GIVEN).to_string();
            }
            self.family_name = if rng.random_bool(SPANISH_TWO_FAMILY_RATE) {
                let first = pick(rng, &SPANISH_FAMILY);
                format!("{first} {}", pick(rng, &SPANISH_FAMILY))
            } else {
                pick(rng, &SPANISH_FAMILY).to_string()
            };
        } else {
            let pool = rng.random_range(0..NAME_POOLS.len());
            let (given, family) = NAME_POOLS[pool];
            self.given_name = pick(rng, given).to_string();
            if rng.random_bool(MIDDLE_NAME_RATE) {
                // Pool 0 is Vietnamese, whose middle names are their own list.
                let middles = if pool == 0 {
                    &VIETNAMESE_MIDDLE[..]
                } else {
                    given
                };
                self.middle_name = pick(rng, middles).to_string();
            }
            self.family_name = pick(rng, family).to_string();
        }
        if rng.random_bool(SINGLE_NAME_RATE) {
            self.given_name.clear();
            self.middle_name.clear();
        }
        spanish
    }

    fn mainland_address<R: Rng>(&mut self, rng: &mut R) {
        let (city, state, zip3) = CITIES[rng.random_range(0..CITIES.len())];
        if rng.random_bool(PO_BOX_RATE) {
            let boxno: u32 = rng.random_range(1..20_000);
            let label = pick(rng, &["PO Box", "P.O. Box", "Post Office Box"]);
            self.address_line1 = format!("{label} {boxno}");
        } else {
            let number: u32 = rng.random_range(1..20_000);
            let direction = if rng.random_bool(DIRECTION_RATE) {
                format!("{} ", pick(rng, &DIRECTIONS))
            } else {
                String::new()
            };
            let street = pick(rng, &STREET_NAMES);
            let suffix = pick(rng, &STREET_SUFFIXES);
            self.address_line1 = format!("{number} {direction}{street} {suffix}");
            if rng.random_bool(UNIT_RATE) {
                let unit: u32 = rng.random_range(1..2000);
                let letter = if rng.random_bool(UNIT_LETTER_RATE) {
                    "B"
                } else {
                    ""
                };
                self.address_line2 = format!("{} {unit}{letter}", pick(rng, &UNITS));
            }
        }
        self.city = city.to_string();
        self.state = if rng.random_bool(LOWERCASE_STATE_RATE) {
            state.to_ascii_lowercase()
        } else {
            state.to_string()
        };
        let tail: u32 = rng.random_range(1..100);
        self.zip = format!("{zip3}{tail:02}");
    }

    fn territory_address<R: Rng>(&mut self, rng: &mut R) {
        let (city, state, zips) = TERRITORY_PLACES[rng.random_range(0..TERRITORY_PLACES.len())];
        let number: u32 = rng.random_range(1..400);
        self.address_line1 = match state {
            "PR" if rng.random_bool(URBANIZATION_RATE) => {
                self.address_line2 = format!("{number} Calle {}", pick(rng, &PR_STREETS));
                format!("Urb {}", pick(rng, &PR_URBANIZATIONS))
            }
            "PR" => format!("Calle {} {number}", pick(rng, &PR_STREETS)),
            "VI" => format!(
                "{number} Estate {}",
                pick(rng, &["Enighed", "Tutu", "Bovoni"])
            ),
            _ => format!("{number} Marine Corps Dr"),
        };
        self.city = city.to_string();
        self.state = state.to_string();
        self.zip = pick(rng, zips).to_string();
    }

    fn military_address<R: Rng>(&mut self, rng: &mut R) {
        let (pattern, city, state, zips) = MILITARY[rng.random_range(0..MILITARY.len())];
        let n: u32 = rng.random_range(1..9000);
        let m: u32 = rng.random_range(1..9000);
        self.address_line1 = pattern
            .replace("{n}", &n.to_string())
            .replace("{m}", &m.to_string());
        self.city = city.to_string();
        self.state = state.to_string();
        self.zip = pick(rng, zips).to_string();
    }

    /// Gives the row exactly one problem of `kind`.
    pub(super) fn spoil<R: Rng>(
        &mut self,
        rng: &mut R,
        kind: BadKind,
        last_claimed: Option<&str>,
        batch_date: NaiveDate,
    ) {
        let set = |cell: &mut String, value: &str| *cell = value.to_string();
        match kind {
            BadKind::Receipt => self.spoil_receipt(rng),
            BadKind::Form => set(
                &mut self.form_type,
                pick(rng, &["I-130", "I-140", "N-400", "I-90"]),
            ),
            BadKind::FutureDate => {
                let ahead = rng.random_range(1..=RECEIVED_WINDOW_DAYS);
                let date = batch_date
                    .checked_add_days(Days::new(ahead))
                    .unwrap_or(batch_date);
                self.received_date = date.format("%Y-%m-%d").to_string();
                if date == batch_date {
                    // Only at the end of the calendar: fall back to a bad form.
                    set(&mut self.form_type, "I-130");
                }
            }
            BadKind::MissingFamily => self.family_name.clear(),
            BadKind::State => set(&mut self.state, pick(rng, &["XX", "ZZ", "Calif", "UK"])),
            BadKind::Zip => set(
                &mut self.zip,
                pick(rng, &["1234", "ABCDE", "123456", "9021O"]),
            ),
            BadKind::LongLine => set(
                &mut self.address_line1,
                "12345 North Martin Luther King Junior Boulevard Building 7",
            ),
            BadKind::Duplicate => {
                if let Some(r) = last_claimed {
                    set(&mut self.receipt_number, r);
                }
            }
            BadKind::Language => set(&mut self.language, pick(rng, &["fr", "vi", "zh", "pt"])),
        }
    }

    fn spoil_receipt<R: Rng>(&mut self, rng: &mut R) {
        let receipt = &self.receipt_number;
        let spoilt = match rng.random_range(0..3u32) {
            // A letter O typed for a zero.
            0 => receipt.replacen('0', "O", 1),
            1 => receipt[..9].to_string(),
            _ => format!("{receipt}1"),
        };
        // `replacen` finds no zero in rare receipts: shorten instead.
        self.receipt_number = if spoilt == *receipt {
            receipt[..9].to_string()
        } else {
            spoilt
        };
    }
}

/// A receipt number for `digits`: usually `IOE0912345678`, sometimes with
/// hyphens that intake removes.
fn receipt_number<R: Rng>(rng: &mut R, digits: u64) -> String {
    let prefix = pick(rng, &RECEIPT_PREFIXES);
    if rng.random_bool(HYPHENATED_RECEIPT_RATE) {
        format!(
            "{prefix}-{:03}-{:03}-{:04}",
            digits / 10_000_000,
            digits / 10_000 % 1000,
            digits % 10_000
        )
    } else {
        format!("{prefix}{digits:010}")
    }
}

/// I-765 40%, I-485 35%, I-131 25%; a few spelt loosely.
fn form_type<R: Rng>(rng: &mut R) -> &'static str {
    let form = match rng.random_range(0..100u32) {
        0..40 => "I-765",
        40..75 => "I-485",
        _ => "I-131",
    };
    if !rng.random_bool(LOOSE_FORM_RATE) {
        return form;
    }
    match form {
        "I-765" => "i-765",
        "I-485" => "I485",
        _ => "I 131",
    }
}

/// An A-number, `A012345678` or now and then `A-012-345-678`.
fn a_number<R: Rng>(rng: &mut R) -> String {
    let a: u32 = rng.random_range(10_000_000..1_000_000_000);
    if rng.random_bool(HYPHENATED_A_NUMBER_RATE) {
        format!(
            "A-{:03}-{:03}-{:03}",
            a / 1_000_000,
            a / 1000 % 1000,
            a % 1000
        )
    } else {
        format!("A{a:09}")
    }
}
