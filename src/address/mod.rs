//! Mailing addresses in USPS Publication 28 style, fitted to the envelope window.
//!
//! Every line of the recipient block (name, `C/O` line, delivery line,
//! secondary line, `CITY ST ZIP`) must show in full through the #10
//! envelope's recipient window, which holds [`MAX_LINE_CHARS`] characters of
//! the address font. A line that does not fit after normalisation is
//! *rejected*, never cut: a truncated street or apartment number sends a
//! one-time code to the wrong door.
//!
//! Normalisation of one line ([`normalize_line`]), in this order:
//! 1. Unicode NFC; invisible characters pasted from other programs (zero-width
//!    space, soft hyphen, byte-order mark, direction marks) are dropped;
//!    `½ ¼ ¾` become `1/2 1/4 3/4`.
//! 2. Unicode uppercase (so `Nguyễn` becomes `NGUYỄN`, `ß` becomes `SS`),
//!    then NFC again.
//! 3. Punctuation: periods and apostrophes are dropped without a space
//!    (`P.O.` → `PO`, `O'Hare` → `OHARE`), except a period between a word of
//!    two or more letters and the next word, which becomes a space
//!    (`St.Louis` → `ST LOUIS`) and a period between digits, which stays
//!    (`12.5 MILE RD`: dropping it would change the address). `-` and `/`
//!    stay only between letters or digits (`123-45 QUEENS BLVD`,
//!    `12 1/2 MAIN ST`, `WILKES-BARRE`). `#` stays as its own word
//!    (Pub 28 allows it when the unit designator is unknown) but is dropped
//!    after a designator (`APT #4B` → `APT 4B`). Every other character that
//!    is not a letter or digit separates words.
//! 4. Whitespace trimmed and collapsed to single spaces.
//! 5. Only these words are rewritten: `APARTMENT` → `APT`, `SUITE` → `STE`,
//!    `BUILDING` → `BLDG`, and `P O BOX` / `POBOX` / `POST OFFICE BOX` →
//!    `PO BOX`. Street suffixes are left as typed: rewriting street names
//!    from a table mangles too many real names (`PARK AVENUE` vs `AVENUE
//!    OF THE AMERICAS`) to be worth it here.
//!
//! A secondary line that starts with a Pub 28 unit designator (`APT 4B`,
//! `STE 200`, `# 3`) is moved onto the delivery line when the joined line
//! fits, as Pub 28 prefers; any other second line (an urbanization, a
//! building name) stays on its own line.
//!
//! Characters are also checked against the letter font (DejaVu Sans and
//! Serif): [`font_can_print`] (from [`crate::fonts`]) accepts only the Latin,
//! Greek and Cyrillic code points all four text faces have a glyph for, so a
//! name never prints as an empty box.
//!
//! How wide a line may be is not looked up here: the caller builds a
//! [`WindowFit`] from the configured envelope (see
//! `crate::layout::window_fit`) and hands it in, so this module depends only
//! on the font's metrics and plain data.
//!
//! Where things are: `text` normalises one line of text, `lines` builds
//! the printed lines that must fit the window (name, `C/O`), `state` holds
//! the USPS state codes and the military rules, `zip` the ZIP shapes and
//! the territory and military ZIP prefixes.
//!
//! Military mail: the state is `AA`, `AE` or `AP` exactly when the city is
//! `APO`, `FPO` or `DPO`, and the ZIP must belong to that military "state".
//! Territories (PR, VI, GU and the Pacific freely associated states) are
//! checked against their ZIP prefixes, and those prefixes are checked not to
//! appear with any other state. Mainland state–ZIP pairs are not checked.

mod lines;
mod state;
mod text;
mod zip;

#[cfg(test)]
mod tests;

use crate::filing::Address;
use crate::fonts::{fonts, Face};

pub use crate::fonts::font_can_print;
pub use lines::{care_of_line, name_line};
pub use state::{
    is_military_state, is_state_code, MILITARY_CITIES, MILITARY_STATE_CODES, STATE_CODES,
    TERRITORY_CODES,
};
pub use text::{normalize_line, tidy_text};
pub use zip::parse_zip;

#[cfg(test)]
use text::code_point;
pub(crate) use text::{
    check_fits_alone, check_marks, check_printable, shown, SHOWN_VALUE_MAX_CHARS,
};

use lines::too_long;
use state::check_state;
use text::is_secondary_unit;
use zip::check_state_zip;

/// Characters the envelope's recipient window shows on one line in the
/// address font, counted after normalisation (Unicode scalar values).
pub const MAX_LINE_CHARS: usize = 40;

/// How much of a printed line the envelope's recipient window shows: its
/// text width and the smallest size the address block is set at. A plain
/// value built by the caller from the configured envelope (see
/// `crate::layout::window_fit`), so intake checks exactly the window the
/// letters are laid out for and never reaches into layout itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowFit {
    /// Width of the text area inside the recipient window, in points.
    pub max_line_width_pt: f32,
    /// The smallest size the address block may be set at, in points.
    pub font_size_pt: f32,
    /// The face the address block is set in.
    pub face: Face,
}

impl WindowFit {
    /// A printed line fits the window: at most [`MAX_LINE_CHARS`]
    /// characters, and no wider than the window at the smallest address
    /// size (forty W's are wider than forty average letters).
    pub fn fits(&self, line: &str) -> bool {
        line.chars().count() <= MAX_LINE_CHARS && self.width_fits(line)
    }

    /// No wider than the window, whatever the number of characters.
    pub fn width_fits(&self, line: &str) -> bool {
        fonts().get(self.face).width_pt(line, self.font_size_pt) <= self.max_line_width_pt
    }
}

/// The default #10 envelope's window (4 in wide less 1/8 in clearance on
/// each side, at the smallest address size of 8 pt), for the unit tests of
/// address and intake, which must not call into layout; a test next to
/// `crate::layout::window_fit` checks that layout agrees.
#[cfg(test)]
pub(crate) const DEFAULT_WINDOW_FIT: WindowFit = WindowFit {
    max_line_width_pt: 3.75 * 72.0,
    font_size_pt: 8.0,
    face: Face::Sans,
};

/// One input field that failed a check: the column at fault and a sentence
/// a clerk can act on. Intake turns it into a [`crate::filing::Reject`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldProblem {
    /// The input column (`address_line1`, `zip`, ...).
    pub field: &'static str,
    pub reason: String,
}

impl FieldProblem {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        FieldProblem {
            field,
            reason: reason.into(),
        }
    }
}

/// The address cells of one input row, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawAddress<'a> {
    pub in_care_of: &'a str,
    pub line1: &'a str,
    pub line2: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip: &'a str,
}

/// Validates and normalises the address cells of one row, checking them in
/// column order (`in_care_of`, `address_line1`, `address_line2`, `city`,
/// `state`, `zip`) and returning the first problem. `fit` is the window
/// every printed line must fit.
pub fn normalize_address(raw: &RawAddress<'_>, fit: &WindowFit) -> Result<Address, FieldProblem> {
    let in_care_of = care_of_line(raw.in_care_of, fit)?;
    let (line1, line2) = delivery_lines(raw, fit)?;
    let city = city(raw.city)?;
    let state = check_state(raw.state, &city)?;
    let (zip5, zip4) = parse_zip(raw.zip)?;
    check_state_zip(&state, &zip5)?;

    let mut address = Address {
        in_care_of,
        line1,
        line2: (!line2.is_empty()).then_some(line2),
        city,
        state,
        zip5,
        zip4,
    };
    let last = address.last_line();
    if !fit.fits(&last) {
        return Err(too_long("city", "the city-state-ZIP line", &last, ""));
    }
    if let Some(l2) = &address.line2 {
        if is_secondary_unit(l2) && fit.fits(&format!("{} {}", address.line1, l2)) {
            address.line1 = format!("{} {}", address.line1, l2);
            address.line2 = None;
        }
    }
    Ok(address)
}

/// Address lines 1 and 2, normalised; line 1 is required, line 2 may be empty.
fn delivery_lines(raw: &RawAddress<'_>, fit: &WindowFit) -> Result<(String, String), FieldProblem> {
    check_printable("address_line1", "address line 1", raw.line1)?;
    let line1 = normalize_line(raw.line1);
    check_marks("address_line1", "address line 1", &line1)?;
    if line1.is_empty() {
        return Err(FieldProblem::new(
            "address_line1",
            "address line 1 is missing",
        ));
    }
    if !fit.fits(&line1) {
        return Err(too_long(
            "address_line1",
            "address line 1",
            &line1,
            "; shorten it (STREET to ST, AVENUE to AVE) or move the unit to address_line2",
        ));
    }

    check_printable("address_line2", "address line 2", raw.line2)?;
    let line2 = normalize_line(raw.line2);
    check_marks("address_line2", "address line 2", &line2)?;
    if !fit.fits(&line2) {
        return Err(too_long("address_line2", "address line 2", &line2, ""));
    }
    Ok((line1, line2))
}

/// The city, normalised; short enough to leave room for state and ZIP.
fn city(raw: &str) -> Result<String, FieldProblem> {
    check_printable("city", "the city", raw)?;
    let city = normalize_line(raw);
    check_marks("city", "the city", &city)?;
    if city.is_empty() {
        return Err(FieldProblem::new("city", "city is missing"));
    }
    // The shortest last line adds " ST 12345"; a longer city can never fit.
    const SHORTEST_STATE_ZIP_CHARS: usize = 9;
    let n = city.chars().count();
    if n + SHORTEST_STATE_ZIP_CHARS > MAX_LINE_CHARS {
        return Err(FieldProblem::new(
            "city",
            format!(
                "city '{}' is {n} characters; with state and ZIP the last line would pass the {MAX_LINE_CHARS} characters the envelope window shows",
                shown(&city)
            ),
        ));
    }
    Ok(city)
}
