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
//! Serif): [`font_can_print`] lists the Latin, Greek and Cyrillic code points
//! all four text faces have a glyph for, so a name never prints as an empty
//! box.
//!
//! Military mail: the state is `AA`, `AE` or `AP` exactly when the city is
//! `APO`, `FPO` or `DPO`, and the ZIP must belong to that military "state".
//! Territories (PR, VI, GU and the Pacific freely associated states) are
//! checked against their ZIP prefixes, and those prefixes are checked not to
//! appear with any other state. Mainland state–ZIP pairs are not checked.

use unicode_normalization::UnicodeNormalization;

use crate::filing::Address;

/// Characters the envelope's recipient window shows on one line in the
/// address font, counted after normalisation (Unicode scalar values).
pub const MAX_LINE_CHARS: usize = 40;

/// The 50 states and the District of Columbia.
pub const STATE_CODES: [&str; 51] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
];

/// US territories and the freely associated states that the USPS serves
/// with domestic ZIP codes.
pub const TERRITORY_CODES: [&str; 8] = ["AS", "FM", "GU", "MH", "MP", "PR", "PW", "VI"];

/// Armed Forces Americas, Europe and Pacific.
pub const MILITARY_STATE_CODES: [&str; 3] = ["AA", "AE", "AP"];

/// The only "cities" military mail may carry.
pub const MILITARY_CITIES: [&str; 3] = ["APO", "FPO", "DPO"];

/// Pub 28 secondary unit designators (Appendix C2), plus `#`. A second
/// address line starting with one of these is a unit and may join line 1.
const SECONDARY_DESIGNATORS: [&str; 25] = [
    "#", "APT", "BSMT", "BLDG", "DEPT", "FL", "FRNT", "HNGR", "KEY", "LBBY", "LOT", "LOWR", "OFC",
    "PH", "PIER", "REAR", "RM", "SIDE", "SLIP", "SPC", "STOP", "STE", "TRLR", "UNIT", "UPPR",
];

/// Code points that DejaVu Sans, Sans Bold, Serif and Serif Bold all have a
/// glyph for, restricted to the Latin, Greek and Cyrillic blocks, combining
/// diacritics, general punctuation and the euro sign. Computed from the
/// fonts' cmap tables (dejavu 2.37); `tests::font_table_matches_dejavu`
/// re-checks it against the embedded font bytes.
pub(crate) const FONT_RANGES: [(char, char); 53] = [
    ('\u{0020}', '\u{007E}'),
    ('\u{00A0}', '\u{00AC}'),
    ('\u{00AE}', '\u{02CD}'),
    ('\u{02D0}', '\u{02D3}'),
    ('\u{02D6}', '\u{02DE}'),
    ('\u{02E0}', '\u{02E9}'),
    ('\u{02EC}', '\u{02EC}'),
    ('\u{02EE}', '\u{02EE}'),
    ('\u{02F3}', '\u{02F3}'),
    ('\u{02F7}', '\u{02F7}'),
    ('\u{0300}', '\u{033F}'),
    ('\u{0343}', '\u{0343}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0358}', '\u{0358}'),
    ('\u{0360}', '\u{0361}'),
    ('\u{0370}', '\u{0377}'),
    ('\u{037A}', '\u{037F}'),
    ('\u{0384}', '\u{038A}'),
    ('\u{038C}', '\u{038C}'),
    ('\u{038E}', '\u{03A1}'),
    ('\u{03A3}', '\u{03E1}'),
    ('\u{03F0}', '\u{045F}'),
    ('\u{0462}', '\u{0465}'),
    ('\u{046A}', '\u{046D}'),
    ('\u{0470}', '\u{0477}'),
    ('\u{048C}', '\u{048D}'),
    ('\u{0490}', '\u{049B}'),
    ('\u{049E}', '\u{04A7}'),
    ('\u{04AA}', '\u{04B7}'),
    ('\u{04BA}', '\u{04BB}'),
    ('\u{04C0}', '\u{04C4}'),
    ('\u{04C7}', '\u{04C8}'),
    ('\u{04CB}', '\u{04CC}'),
    ('\u{04CF}', '\u{04F9}'),
    ('\u{1E00}', '\u{1EFB}'),
    ('\u{1F00}', '\u{1F15}'),
    ('\u{1F18}', '\u{1F1D}'),
    ('\u{1F20}', '\u{1F45}'),
    ('\u{1F48}', '\u{1F4D}'),
    ('\u{1F50}', '\u{1F57}'),
    ('\u{1F59}', '\u{1F59}'),
    ('\u{1F5B}', '\u{1F5B}'),
    ('\u{1F5D}', '\u{1F5D}'),
    ('\u{1F5F}', '\u{1F7D}'),
    ('\u{1F80}', '\u{1FB4}'),
    ('\u{1FB6}', '\u{1FC4}'),
    ('\u{1FC6}', '\u{1FD3}'),
    ('\u{1FD6}', '\u{1FDB}'),
    ('\u{1FDD}', '\u{1FEF}'),
    ('\u{1FF2}', '\u{1FF4}'),
    ('\u{1FF6}', '\u{1FFE}'),
    ('\u{2010}', '\u{2026}'),
    ('\u{20AC}', '\u{20AC}'),
];

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

/// True for a USPS state, DC, territory, freely associated state or
/// military code, uppercase as printed (`CA`, `PR`, `AE`).
pub fn is_state_code(code: &str) -> bool {
    STATE_CODES.contains(&code)
        || TERRITORY_CODES.contains(&code)
        || MILITARY_STATE_CODES.contains(&code)
}

/// True for `AA`, `AE` and `AP`.
pub fn is_military_state(code: &str) -> bool {
    MILITARY_STATE_CODES.contains(&code)
}

/// True when every text face of the letter font has a glyph for `c`.
pub fn font_can_print(c: char) -> bool {
    // The table is sorted and disjoint: binary search by range start.
    let idx = FONT_RANGES.partition_point(|&(start, _)| start <= c);
    idx > 0 && c <= FONT_RANGES[idx - 1].1
}

/// Characters that copy and paste drags along invisibly; they carry no
/// meaning in a name or an address, so they are removed rather than rejected.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// The `U+00E9` spelling used in messages.
pub(crate) fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Checks the characters of one free-text cell before normalisation:
/// no control characters (a line break gets its own advice) and nothing the
/// letter font cannot print. `label` is the human name of the field.
pub(crate) fn check_printable(
    field: &'static str,
    label: &str,
    value: &str,
) -> Result<(), FieldProblem> {
    for c in value.chars() {
        // A tab pasted into a cell is only whitespace; normalisation collapses it.
        if c == '\t' {
            continue;
        }
        if c == '\n' || c == '\r' {
            return Err(FieldProblem::new(
                field,
                format!("{label} contains a line break; put each part in its own column"),
            ));
        }
        if c.is_control() {
            return Err(FieldProblem::new(
                field,
                format!(
                    "{label} contains the control character {}; retype the value",
                    code_point(c)
                ),
            ));
        }
        if is_invisible(c) {
            continue;
        }
        if !font_can_print(c) || !c.to_uppercase().all(font_can_print) {
            return Err(FieldProblem::new(
                field,
                format!(
                    "the font used for letters cannot print '{c}' ({}) in {field}",
                    code_point(c)
                ),
            ));
        }
    }
    Ok(())
}

/// NFC, invisible characters dropped, whitespace trimmed and collapsed.
/// Case is kept: this is the form names take in the letter body.
pub fn tidy_text(raw: &str) -> String {
    let nfc: String = raw.nfc().filter(|c| !is_invisible(*c)).collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || is_mark(c)
}

/// Normalises one address line to Pub 28 style (see the module docs).
/// The result may be empty and is not length-checked.
pub fn normalize_line(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len() + 8);
    for c in raw.nfc().filter(|c| !is_invisible(*c)) {
        match c {
            '½' => text.push_str(" 1/2 "),
            '¼' => text.push_str(" 1/4 "),
            '¾' => text.push_str(" 3/4 "),
            _ => text.push(c),
        }
    }
    let upper: Vec<char> = text.to_uppercase().nfc().collect();

    let mut spaced = String::with_capacity(upper.len() + 8);
    // Letters since the last separator: tells `P.O.` (join) from `ST.LOUIS` (split).
    let mut run_letters = 0usize;
    for (i, &c) in upper.iter().enumerate() {
        let prev = if i > 0 {
            upper.get(i - 1).copied()
        } else {
            None
        };
        let next = upper.get(i + 1).copied();
        let between = |test: fn(char) -> bool| prev.is_some_and(test) && next.is_some_and(test);
        if is_word_char(c) {
            spaced.push(c);
            if c.is_alphabetic() {
                run_letters += 1;
            }
            continue;
        }
        match c {
            '.' if between(|x| x.is_ascii_digit()) => spaced.push('.'),
            '.' if run_letters >= 2 && next.is_some_and(char::is_alphabetic) => {
                spaced.push(' ');
                run_letters = 0;
            }
            // Dropped without a space: `P.O.` and `O'HARE` stay one word.
            '.' | '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' => {}
            '-' | '/' if between(is_word_char) => {
                spaced.push(c);
                run_letters = 0;
            }
            '#' => {
                spaced.push_str(" # ");
                run_letters = 0;
            }
            _ => {
                spaced.push(' ');
                run_letters = 0;
            }
        }
    }

    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let rest = &words[i..];
        if rest.starts_with(&["POST", "OFFICE", "BOX"]) {
            out.extend(["PO", "BOX"]);
            i += 3;
            continue;
        }
        if rest.starts_with(&["P", "O", "BOX"]) {
            out.extend(["PO", "BOX"]);
            i += 3;
            continue;
        }
        match w {
            "POBOX" => out.extend(["PO", "BOX"]),
            "APARTMENT" => out.push("APT"),
            "SUITE" => out.push("STE"),
            "BUILDING" => out.push("BLDG"),
            "#" if out
                .last()
                .is_some_and(|p| *p != "#" && SECONDARY_DESIGNATORS.contains(p)) => {}
            _ => out.push(w),
        }
        i += 1;
    }
    out.join(" ")
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// A printed line fits the window: at most [`MAX_LINE_CHARS`] characters,
/// and no wider than the window at the smallest address print size (forty
/// W's are wider than forty average letters).
fn fits(line: &str) -> bool {
    char_len(line) <= MAX_LINE_CHARS && crate::layout::address_line_fits(line)
}

/// "is 47 characters" or, for a line of 40 or fewer unusually wide letters,
/// why it still does not fit.
fn length_note(line: &str) -> String {
    let n = char_len(line);
    if n > MAX_LINE_CHARS {
        format!("is {n} characters; the envelope window shows at most {MAX_LINE_CHARS}")
    } else {
        format!("is {n} characters but its letters are too wide for the envelope window even at the smallest print size")
    }
}

fn too_long(field: &'static str, label: &str, line: &str, advice: &str) -> FieldProblem {
    let note = length_note(line).replacen("characters", "characters after normalisation", 1);
    FieldProblem::new(field, format!("{label} '{line}' {note}{advice}"))
}

/// The recipient name line: `GIVEN MIDDLE FAMILY` in uppercase. When it is
/// longer than [`MAX_LINE_CHARS`], the middle name becomes its initials,
/// then is left out; a name still too long is a problem reported on
/// `family_name` (the one name every row has). Inputs are already tidied.
pub fn name_line(given: &str, middle: Option<&str>, family: &str) -> Result<String, FieldProblem> {
    let up = |s: &str| -> String {
        let u: String = s.to_uppercase().nfc().filter(|c| *c != '.').collect();
        u.replace(['\u{2019}', '\u{02BC}'], "'")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let given = up(given);
    let family = up(family);
    let middle = middle.map(up).filter(|m| !m.is_empty());
    let join = |m: Option<&str>| -> String {
        [given.as_str(), m.unwrap_or(""), family.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let full = join(middle.as_deref());
    if fits(&full) {
        return Ok(full);
    }
    if let Some(m) = &middle {
        let initials = m
            .split([' ', '-'])
            .filter_map(|word| {
                let mut chars = word.chars();
                let first = chars.next()?;
                // Keep any combining marks that belong to the initial.
                let marks: String = chars.take_while(|c| is_mark(*c)).collect();
                Some(format!("{first}{marks}"))
            })
            .collect::<Vec<_>>()
            .join(" ");
        let with_initials = join(Some(&initials));
        if fits(&with_initials) {
            return Ok(with_initials);
        }
        let without = join(None);
        if fits(&without) {
            return Ok(without);
        }
        if char_len(&without) > MAX_LINE_CHARS {
            return Err(FieldProblem::new(
                "family_name",
                format!(
                    "the name '{full}' is {} characters, and {} even without the middle name; the envelope window shows at most {MAX_LINE_CHARS}",
                    char_len(&full),
                    char_len(&without)
                ),
            ));
        }
        return Err(FieldProblem::new(
            "family_name",
            format!(
                "the name '{without}' (without the middle name) {}",
                length_note(&without)
            ),
        ));
    }
    Err(FieldProblem::new(
        "family_name",
        format!("the name '{full}' {}", length_note(&full)),
    ))
}

/// The `C/O` line for an in-care-of name, or `None` when the cell is empty.
/// A `c/o` or `care of` typed in the cell is not doubled.
pub fn care_of_line(raw: &str) -> Result<Option<String>, FieldProblem> {
    const FIELD: &str = "in_care_of";
    check_printable(FIELD, "the in-care-of name", raw)?;
    let norm = normalize_line(raw);
    let name = ["C/O ", "C O ", "CARE OF ", "IN CARE OF "]
        .iter()
        .find_map(|p| norm.strip_prefix(p))
        .unwrap_or(&norm)
        .trim();
    if name.is_empty() || name == "C/O" {
        return Ok(None);
    }
    let line = format!("C/O {name}");
    if !fits(&line) {
        return Err(too_long(FIELD, "the in-care-of line", &line, ""));
    }
    Ok(Some(line))
}

/// Splits and checks a ZIP code: `12345`, `12345-6789` or `123456789`.
pub fn parse_zip(raw: &str) -> Result<(String, Option<String>), FieldProblem> {
    const FIELD: &str = "zip";
    let z = raw.trim();
    if z.is_empty() {
        return Err(FieldProblem::new(FIELD, "ZIP code is missing"));
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (zip5, zip4) = if digits(z, 5) {
        (z, None)
    } else if digits(z, 9) {
        (&z[..5], Some(&z[5..]))
    } else if let Some((a, b)) = z
        .split_once('-')
        .filter(|(a, b)| digits(a, 5) && digits(b, 4))
    {
        (a, Some(b))
    } else {
        let hint = if z.bytes().all(|b| b.is_ascii_digit()) && z.len() < 5 {
            "; a spreadsheet may have dropped a leading zero"
        } else {
            ""
        };
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP '{z}' is not 5 digits or ZIP+4 (like 12345-6789){hint}"),
        ));
    };
    if zip5 == "00000" {
        return Err(FieldProblem::new(FIELD, "ZIP 00000 is not a real ZIP code"));
    }
    if zip4 == Some("0000") {
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP+4 add-on 0000 in '{z}' is not assigned; leave the +4 out"),
        ));
    }
    Ok((zip5.to_string(), zip4.map(str::to_string)))
}

/// ZIP prefixes reserved for territories and military mail: (state, what
/// the prefix covers, 3-digit prefixes). American Samoa shares Hawaii's 967
/// and is matched on its single ZIP 96799 instead.
const RESERVED_PREFIXES: [(&str, &str, &[&str]); 10] = [
    (
        "PR",
        "Puerto Rico ZIPs start with 006, 007 or 009",
        &["006", "007", "009"],
    ),
    ("VI", "US Virgin Islands ZIPs start with 008", &["008"]),
    ("GU", "Guam ZIPs start with 969", &["969"]),
    (
        "MP",
        "Northern Mariana Islands ZIPs start with 969",
        &["969"],
    ),
    ("FM", "Micronesia ZIPs start with 969", &["969"]),
    ("MH", "Marshall Islands ZIPs start with 969", &["969"]),
    ("PW", "Palau ZIPs start with 969", &["969"]),
    ("AA", "military AA ZIPs start with 340", &["340"]),
    (
        "AE",
        "military AE ZIPs start with 090 to 098",
        &[
            "090", "091", "092", "093", "094", "095", "096", "097", "098",
        ],
    ),
    (
        "AP",
        "military AP ZIPs start with 962 to 966",
        &["962", "963", "964", "965", "966"],
    ),
];

const AMERICAN_SAMOA_ZIP: &str = "96799";

/// Territory and military ZIPs must match their state, both ways.
fn check_state_zip(state: &str, zip5: &str) -> Result<(), FieldProblem> {
    const FIELD: &str = "zip";
    let prefix = &zip5[..3];
    if state == "AS" {
        if zip5 == AMERICAN_SAMOA_ZIP {
            return Ok(());
        }
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP {zip5} does not belong to AS (American Samoa's ZIP is 96799)"),
        ));
    }
    if zip5 == AMERICAN_SAMOA_ZIP {
        return Err(FieldProblem::new(
            FIELD,
            format!("ZIP 96799 is American Samoa's, but the state is {state}"),
        ));
    }
    if let Some((_, rule, prefixes)) = RESERVED_PREFIXES.iter().find(|(s, _, _)| *s == state) {
        if !prefixes.contains(&prefix) {
            return Err(FieldProblem::new(
                FIELD,
                format!("ZIP {zip5} does not belong to {state} ({rule})"),
            ));
        }
        return Ok(());
    }
    let owners: Vec<&str> = RESERVED_PREFIXES
        .iter()
        .filter(|(_, _, prefixes)| prefixes.contains(&prefix))
        .map(|(s, _, _)| *s)
        .collect();
    if !owners.is_empty() {
        return Err(FieldProblem::new(
            FIELD,
            format!(
                "ZIP {zip5} belongs to {}, but the state is {state}",
                owners.join(" or ")
            ),
        ));
    }
    Ok(())
}

fn is_secondary_unit(line: &str) -> bool {
    line.split(' ')
        .next()
        .is_some_and(|w| SECONDARY_DESIGNATORS.contains(&w))
}

/// Validates and normalises the address cells of one row, checking them in
/// column order (`in_care_of`, `address_line1`, `address_line2`, `city`,
/// `state`, `zip`) and returning the first problem.
pub fn normalize_address(raw: &RawAddress<'_>) -> Result<Address, FieldProblem> {
    let in_care_of = care_of_line(raw.in_care_of)?;

    check_printable("address_line1", "address line 1", raw.line1)?;
    let line1 = normalize_line(raw.line1);
    if line1.is_empty() {
        return Err(FieldProblem::new(
            "address_line1",
            "address line 1 is missing",
        ));
    }
    if !fits(&line1) {
        return Err(too_long(
            "address_line1",
            "address line 1",
            &line1,
            "; shorten it (STREET to ST, AVENUE to AVE) or move the unit to address_line2",
        ));
    }

    check_printable("address_line2", "address line 2", raw.line2)?;
    let line2 = normalize_line(raw.line2);
    if !fits(&line2) {
        return Err(too_long("address_line2", "address line 2", &line2, ""));
    }

    check_printable("city", "the city", raw.city)?;
    let city = normalize_line(raw.city);
    if city.is_empty() {
        return Err(FieldProblem::new("city", "city is missing"));
    }
    // The shortest last line adds " ST 12345"; a longer city can never fit.
    const SHORTEST_STATE_ZIP_CHARS: usize = 9;
    if char_len(&city) + SHORTEST_STATE_ZIP_CHARS > MAX_LINE_CHARS {
        return Err(FieldProblem::new(
            "city",
            format!(
                "city '{city}' is {} characters; with state and ZIP the last line would pass the {MAX_LINE_CHARS} characters the envelope window shows",
                char_len(&city)
            ),
        ));
    }

    let state = raw.state.trim().to_ascii_uppercase();
    if state.is_empty() {
        return Err(FieldProblem::new("state", "state is missing"));
    }
    if !is_state_code(&state) {
        let shown = raw.state.trim();
        let reason = if shown.chars().count() > 2 {
            format!("state '{shown}' is not a two-letter USPS code (like CA, PR or AE)")
        } else {
            format!("state '{shown}' is not a USPS state, territory or military code")
        };
        return Err(FieldProblem::new("state", reason));
    }
    let military_city = MILITARY_CITIES.contains(&city.as_str());
    if is_military_state(&state) && !military_city {
        return Err(FieldProblem::new(
            "state",
            format!("military state code {state} needs city APO, FPO or DPO, not '{city}'"),
        ));
    }
    if military_city && !is_military_state(&state) {
        return Err(FieldProblem::new(
            "state",
            format!("city {city} is military mail and needs state AA, AE or AP, not {state}"),
        ));
    }

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
    if !fits(&last) {
        return Err(too_long("city", "the city-state-ZIP line", &last, ""));
    }
    if let Some(l2) = &address.line2 {
        if is_secondary_unit(l2) && fits(&format!("{} {}", address.line1, l2)) {
            address.line1 = format!("{} {}", address.line1, l2);
            address.line2 = None;
        }
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw<'a>(
        line1: &'a str,
        line2: &'a str,
        city: &'a str,
        state: &'a str,
        zip: &'a str,
    ) -> RawAddress<'a> {
        RawAddress {
            in_care_of: "",
            line1,
            line2,
            city,
            state,
            zip,
        }
    }

    fn ok(r: RawAddress<'_>) -> Address {
        match normalize_address(&r) {
            Ok(a) => a,
            Err(p) => panic!("expected {r:?} to be accepted, got {p}"),
        }
    }

    fn problem(r: RawAddress<'_>) -> FieldProblem {
        match normalize_address(&r) {
            Ok(a) => panic!("expected {r:?} to be rejected, got {a:?}"),
            Err(p) => p,
        }
    }

    #[test]
    fn line_normalisation_before_and_after() {
        let pairs = [
            ("123 Main St.", "123 MAIN ST"),
            ("  45   Elm   Street ", "45 ELM STREET"),
            ("Apt. 4B,", "APT 4B"),
            ("Apartment 12", "APT 12"),
            ("Suite 300", "STE 300"),
            ("Building C", "BLDG C"),
            ("Unit 5", "UNIT 5"),
            ("P.O. Box 1234", "PO BOX 1234"),
            ("p o box 77", "PO BOX 77"),
            ("Post Office Box 9", "PO BOX 9"),
            ("POBox 12", "PO BOX 12"),
            ("123-45 Queens Blvd", "123-45 QUEENS BLVD"),
            ("12 1/2 Oak St", "12 1/2 OAK ST"),
            ("12½ Oak St", "12 1/2 OAK ST"),
            ("700 Wilkes-Barre Blvd", "700 WILKES-BARRE BLVD"),
            ("10 Main St - Rear", "10 MAIN ST REAR"),
            ("1 Main St #4", "1 MAIN ST # 4"),
            ("1 Main St Apt #4", "1 MAIN ST APT 4"),
            ("2 O'Hare Way", "2 OHARE WAY"),
            ("St.Louis", "ST LOUIS"),
            ("12.5 Mile Rd", "12.5 MILE RD"),
            ("1600 Pennsylvania Ave., N.W.", "1600 PENNSYLVANIA AVE NW"),
            ("Calle Nuñez 5", "CALLE NUÑEZ 5"),
            ("ul. Wróblewskiego 3", "UL WRÓBLEWSKIEGO 3"),
            ("Straße 1", "STRASSE 1"),
            ("Zero\u{200B}width", "ZEROWIDTH"),
            ("USS Nimitz (CVN 68)", "USS NIMITZ CVN 68"),
            ("PSC 3 Box 4120", "PSC 3 BOX 4120"),
            ("", ""),
            ("...", ""),
        ];
        for (input, want) in pairs {
            assert_eq!(normalize_line(input), want, "input {input:?}");
        }
    }

    #[test]
    fn decomposed_input_becomes_nfc() {
        // "Nguyễn" typed with combining marks: e + circumflex + tilde.
        let decomposed = "Nguye\u{0302}\u{0303}n";
        assert_eq!(normalize_line(decomposed), "NGUY\u{1EC4}N");
    }

    #[test]
    fn state_codes() {
        for code in [
            "CA", "DC", "NY", "PR", "GU", "VI", "AS", "MP", "FM", "MH", "PW", "AA", "AE", "AP",
        ] {
            assert!(is_state_code(code), "{code}");
        }
        for code in ["XX", "ca", "", "USA", "UK", "PI"] {
            assert!(!is_state_code(code), "{code}");
        }
        assert_eq!(STATE_CODES.len(), 51);
    }

    #[test]
    fn domestic_address_with_zip4_and_merged_unit() {
        let a = ok(raw(
            "1234 Elm Street",
            "Apt. 4B",
            "Springfield",
            "il",
            "62704-1234",
        ));
        assert_eq!(a.line1, "1234 ELM STREET APT 4B");
        assert_eq!(a.line2, None);
        assert_eq!(a.city, "SPRINGFIELD");
        assert_eq!(a.state, "IL");
        assert_eq!(a.zip5, "62704");
        assert_eq!(a.zip4.as_deref(), Some("1234"));
        assert_eq!(a.last_line(), "SPRINGFIELD IL 62704-1234");
    }

    #[test]
    fn nine_digit_zip_is_split() {
        let a = ok(raw("1 Main St", "", "Boston", "MA", "021081234"));
        assert_eq!(a.zip(), "02108-1234");
    }

    #[test]
    fn unit_that_does_not_fit_stays_on_line2() {
        let a = ok(raw(
            "12345 North Martin Luther King Jr Blvd",
            "Apt 1204",
            "Las Vegas",
            "NV",
            "89106",
        ));
        assert_eq!(a.line1, "12345 NORTH MARTIN LUTHER KING JR BLVD");
        assert_eq!(a.line2.as_deref(), Some("APT 1204"));
    }

    #[test]
    fn non_unit_second_line_is_not_merged() {
        let a = ok(raw(
            "Urb Las Gladiolas",
            "150 Calle A",
            "San Juan",
            "PR",
            "00926-3232",
        ));
        assert_eq!(a.line1, "URB LAS GLADIOLAS");
        assert_eq!(a.line2.as_deref(), Some("150 CALLE A"));
    }

    #[test]
    fn puerto_rico_urbanization_on_one_line() {
        let a = ok(raw(
            "Urb Las Gladiolas 150 Calle A",
            "",
            "San Juan",
            "PR",
            "00926",
        ));
        assert_eq!(a.line1, "URB LAS GLADIOLAS 150 CALLE A");
        assert_eq!(a.last_line(), "SAN JUAN PR 00926");
    }

    #[test]
    fn guam_and_virgin_islands() {
        let gu = ok(raw(
            "167 Marine Corps Dr",
            "Ste 201",
            "Hagåtña",
            "GU",
            "96910",
        ));
        assert_eq!(gu.line1, "167 MARINE CORPS DR STE 201");
        assert_eq!(gu.last_line(), "HAGÅTÑA GU 96910");
        let vi = ok(raw(
            "5000 Estate Enighed",
            "",
            "St. Thomas",
            "VI",
            "00802-1234",
        ));
        assert_eq!(vi.last_line(), "ST THOMAS VI 00802-1234");
        let as_ = ok(raw("PO Box 997", "", "Pago Pago", "AS", "96799"));
        assert_eq!(as_.state, "AS");
    }

    #[test]
    fn territory_zip_mismatches() {
        let p = problem(raw("1 Calle Sol", "", "San Juan", "PR", "10001"));
        assert_eq!(p.field, "zip");
        assert!(p.reason.contains("does not belong to PR"), "{}", p.reason);
        let p = problem(raw("1 Main St", "", "New York", "NY", "00926"));
        assert_eq!(p.field, "zip");
        assert_eq!(p.reason, "ZIP 00926 belongs to PR, but the state is NY");
        let p = problem(raw("1 Main St", "", "Honolulu", "HI", "96910"));
        assert!(
            p.reason.contains("GU or MP or FM or MH or PW"),
            "{}",
            p.reason
        );
        assert_eq!(
            problem(raw("1 Main St", "", "Christiansted", "VI", "00926")).field,
            "zip"
        );
        assert_eq!(
            problem(raw("1 Rd", "", "Tamuning", "GU", "96799")).field,
            "zip"
        );
        assert_eq!(
            problem(raw("1 Rd", "", "Pago Pago", "AS", "96910")).field,
            "zip"
        );
    }

    #[test]
    fn military_addresses() {
        let ae = ok(raw("PSC 3 Box 4120", "", "APO", "AE", "09021"));
        assert_eq!(ae.line1, "PSC 3 BOX 4120");
        assert_eq!(ae.last_line(), "APO AE 09021");
        let ap = ok(raw("USS Nimitz (CVN 68)", "", "fpo", "ap", "96620-2820"));
        assert_eq!(ap.last_line(), "FPO AP 96620-2820");
        let aa = ok(raw("Unit 2050 Box 4190", "", "DPO", "AA", "34025"));
        assert_eq!(aa.last_line(), "DPO AA 34025");
    }

    #[test]
    fn military_mismatches() {
        let p = problem(raw("PSC 3 Box 4120", "", "APO", "TX", "09021"));
        assert_eq!(p.field, "state");
        assert_eq!(
            p.reason,
            "city APO is military mail and needs state AA, AE or AP, not TX"
        );
        let p = problem(raw("1 Main St", "", "Houston", "AE", "09021"));
        assert_eq!(p.field, "state");
        assert_eq!(
            p.reason,
            "military state code AE needs city APO, FPO or DPO, not 'HOUSTON'"
        );
        let p = problem(raw("PSC 3 Box 4120", "", "APO", "AE", "96201"));
        assert_eq!(p.field, "zip");
        assert!(
            p.reason.contains("military AE ZIPs start with 090 to 098"),
            "{}",
            p.reason
        );
        assert_eq!(
            problem(raw("Unit 1 Box 2", "", "APO", "AP", "34001")).field,
            "zip"
        );
        assert_eq!(
            problem(raw("Unit 1 Box 2", "", "FPO", "AA", "09001")).field,
            "zip"
        );
        // A mainland state using a military prefix.
        assert_eq!(
            problem(raw("1 Main St", "", "Miami", "FL", "34001")).field,
            "zip"
        );
    }

    #[test]
    fn zip_forms() {
        assert_eq!(parse_zip("02108"), Ok(("02108".into(), None)));
        assert_eq!(
            parse_zip(" 02108-1234 "),
            Ok(("02108".into(), Some("1234".into())))
        );
        assert_eq!(
            parse_zip("021081234"),
            Ok(("02108".into(), Some("1234".into())))
        );
        let p = parse_zip("2108").unwrap_err();
        assert!(p.reason.contains("leading zero"), "{}", p.reason);
        for bad in [
            "1234",
            "123456",
            "12345-12",
            "ABCDE",
            "12345 6789",
            "00000",
            "12345-0000",
        ] {
            assert_eq!(parse_zip(bad).map_err(|p| p.field), Err("zip"), "{bad}");
        }
        assert_eq!(parse_zip("").unwrap_err().reason, "ZIP code is missing");
    }

    #[test]
    fn state_problems() {
        let p = problem(raw("1 Main St", "", "Springfield", "XX", "62704"));
        assert_eq!(p.field, "state");
        assert_eq!(
            p.reason,
            "state 'XX' is not a USPS state, territory or military code"
        );
        let p = problem(raw("1 Main St", "", "Springfield", "Illinois", "62704"));
        assert!(p.reason.contains("two-letter"), "{}", p.reason);
        assert_eq!(
            problem(raw("1 Main St", "", "Springfield", " ", "62704")).reason,
            "state is missing"
        );
    }

    #[test]
    fn long_lines_are_rejected_never_cut() {
        let long = "12345 North Martin Luther King Junior Boulevard";
        let p = problem(raw(long, "", "Las Vegas", "NV", "89106"));
        assert_eq!(p.field, "address_line1");
        assert!(p.reason.contains("is 47 characters"), "{}", p.reason);
        let p = problem(raw(
            "1 Main St",
            "Building C Suite 300 Attention Receiving Dock North",
            "X",
            "NV",
            "89106",
        ));
        assert_eq!(p.field, "address_line2");
        // Exactly 40 characters is accepted.
        let forty = "1234 ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHI";
        assert_eq!(forty.chars().count(), 40);
        assert_eq!(ok(raw(forty, "", "Reno", "NV", "89501")).line1, forty);
        let p = problem(raw(
            "1 Main St",
            "",
            "Llanfairpwllgwyngyllgogerychwyrndrob",
            "NV",
            "89501",
        ));
        assert_eq!(p.field, "city");
        // City fits alone but not with a ZIP+4.
        let city30 = "ABCDEFGHIJ ABCDEFGHIJ ABCDEFGH";
        assert_eq!(ok(raw("1 Main St", "", city30, "NV", "89501")).city, city30);
        let p = problem(raw("1 Main St", "", city30, "NV", "89501-1234"));
        assert_eq!(p.field, "city");
        assert_eq!(
            p.reason,
            "the city-state-ZIP line 'ABCDEFGHIJ ABCDEFGHIJ ABCDEFGH NV 89501-1234' is 44 characters after normalisation; the envelope window shows at most 40"
        );
    }

    #[test]
    fn missing_fields() {
        assert_eq!(
            problem(raw("", "", "Reno", "NV", "89501")).field,
            "address_line1"
        );
        assert_eq!(
            problem(raw("...", "", "Reno", "NV", "89501")).reason,
            "address line 1 is missing"
        );
        assert_eq!(
            problem(raw("1 Main St", "", "", "NV", "89501")).reason,
            "city is missing"
        );
    }

    #[test]
    fn unprintable_characters_in_address() {
        let p = problem(raw("1 Main St 🏠", "", "Reno", "NV", "89501"));
        assert_eq!(p.field, "address_line1");
        assert_eq!(
            p.reason,
            "the font used for letters cannot print '🏠' (U+1F3E0) in address_line1"
        );
        let p = problem(raw("1 Main St", "", "東京", "NV", "89501"));
        assert_eq!(p.field, "city");
        let p = problem(raw("1 Main St\nApt 2", "", "Reno", "NV", "89501"));
        assert!(p.reason.contains("line break"), "{}", p.reason);
        let p = problem(raw("1 Main\u{7}St", "", "Reno", "NV", "89501"));
        assert!(p.reason.contains("U+0007"), "{}", p.reason);
        assert_eq!(
            ok(raw("1\tMain St", "", "Reno", "NV", "89501")).line1,
            "1 MAIN ST"
        );
    }

    #[test]
    fn care_of_lines() {
        assert_eq!(care_of_line(""), Ok(None));
        assert_eq!(
            care_of_line("María López"),
            Ok(Some("C/O MARÍA LÓPEZ".into()))
        );
        assert_eq!(
            care_of_line("c/o Catholic Charities"),
            Ok(Some("C/O CATHOLIC CHARITIES".into()))
        );
        assert_eq!(
            care_of_line("Care of J. Smith"),
            Ok(Some("C/O J SMITH".into()))
        );
        let p = care_of_line("Immigrant Legal Resource Center Attn Intake").unwrap_err();
        assert_eq!(p.field, "in_care_of");
        assert!(p.reason.contains("is 47 characters"), "{}", p.reason);
        let mut r = raw("1 Main St", "", "Reno", "NV", "89501");
        r.in_care_of = "Ana Ruiz";
        assert_eq!(ok(r).in_care_of.as_deref(), Some("C/O ANA RUIZ"));
    }

    #[test]
    fn name_lines() {
        assert_eq!(
            name_line("José", Some("Luis"), "Ramírez Núñez"),
            Ok("JOSÉ LUIS RAMÍREZ NÚÑEZ".into())
        );
        assert_eq!(name_line("", None, "Nguyễn"), Ok("NGUYỄN".into()));
        assert_eq!(
            name_line("Mary", Some("J."), "O’Brien"),
            Ok("MARY J O'BRIEN".into())
        );
        assert_eq!(
            name_line("Łukasz", None, "Wróblewski"),
            Ok("ŁUKASZ WRÓBLEWSKI".into())
        );
        // 43 characters in full: the middle names become initials.
        let n = name_line("Khai", Some("Thị Minh Hoàng Phương"), "Nguyễn Trần Phạm");
        assert_eq!(n, Ok("KHAI T M H P NGUYỄN TRẦN PHẠM".into()));
        // Initials still too long: the middle name is left out.
        let n = name_line(
            "Maximiliano José",
            Some("De La Santísima Trinidad"),
            "Hernández Villalobos",
        );
        assert_eq!(n, Ok("MAXIMILIANO JOSÉ HERNÁNDEZ VILLALOBOS".into()));
        let p = name_line(
            "Maximiliano Alejandro",
            Some("José"),
            "Hernández Villalobos",
        )
        .unwrap_err();
        assert_eq!(p.field, "family_name");
        assert_eq!(
            p.reason,
            "the name 'MAXIMILIANO ALEJANDRO JOSÉ HERNÁNDEZ VILLALOBOS' is 47 characters, and 42 even without the middle name; the envelope window shows at most 40"
        );
        let p = name_line(
            "Wolfeschlegelsteinhausen",
            None,
            "Bergerdorffvoralternwaren",
        )
        .unwrap_err();
        assert_eq!(p.field, "family_name");
        assert_eq!(
            p.reason,
            "the name 'WOLFESCHLEGELSTEINHAUSEN BERGERDORFFVORALTERNWAREN' is 50 characters; the envelope window shows at most 40"
        );
    }

    #[test]
    fn font_table() {
        for c in ['A', 'é', 'ñ', 'Ł', 'ř', 'ễ', 'Ω', 'Ж', '\u{0301}', '’', '€'] {
            assert!(font_can_print(c), "{c}");
        }
        for c in [
            '\u{1F600}',
            '中',
            '\u{0378}',
            '\u{2027}',
            '\t',
            '\u{00AD}',
            'ᴀ',
        ] {
            assert!(!font_can_print(c), "{c:?}");
        }
        // Sorted, disjoint ranges: the binary search depends on it.
        for w in FONT_RANGES.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:?}");
        }
    }

    /// Glyph id of `c` from a TrueType font's format-4 (BMP) cmap, or 0.
    fn glyph_id(font: &[u8], c: char) -> u16 {
        let u16_at = |o: usize| u16::from_be_bytes([font[o], font[o + 1]]);
        let u32_at =
            |o: usize| u32::from_be_bytes([font[o], font[o + 1], font[o + 2], font[o + 3]]);
        let tables = u16_at(4) as usize;
        let cmap = (0..tables)
            .map(|i| 12 + 16 * i)
            .find(|&rec| &font[rec..rec + 4] == b"cmap")
            .map(|rec| u32_at(rec + 8) as usize)
            .expect("font has a cmap table");
        let sub = (0..u16_at(cmap + 2) as usize)
            .map(|i| cmap + 4 + 8 * i)
            .find(|&rec| u16_at(rec) == 3 && u16_at(rec + 2) == 1)
            .map(|rec| cmap + u32_at(rec + 4) as usize)
            .expect("font has a Windows Unicode BMP cmap");
        assert_eq!(u16_at(sub), 4);
        let seg_x2 = u16_at(sub + 6) as usize;
        let ends = sub + 14;
        let starts = ends + seg_x2 + 2;
        let deltas = starts + seg_x2;
        let range_offsets = deltas + seg_x2;
        let code = u32::from(c) as u16;
        for seg in 0..seg_x2 / 2 {
            if code > u16_at(ends + 2 * seg) {
                continue;
            }
            let start = u16_at(starts + 2 * seg);
            if code < start {
                return 0;
            }
            let delta = u16_at(deltas + 2 * seg);
            let ro_at = range_offsets + 2 * seg;
            let ro = u16_at(ro_at) as usize;
            if ro == 0 {
                return code.wrapping_add(delta);
            }
            let g = u16_at(ro_at + ro + 2 * (code - start) as usize);
            return if g == 0 { 0 } else { g.wrapping_add(delta) };
        }
        0
    }

    #[test]
    fn font_table_matches_dejavu() {
        let faces = [
            dejavu::sans::regular(),
            dejavu::sans::bold(),
            dejavu::serif::regular(),
            dejavu::serif::bold(),
        ];
        for &(start, end) in &FONT_RANGES {
            for c in start..=end {
                for face in faces {
                    assert_ne!(glyph_id(face, c), 0, "no glyph for {}", code_point(c));
                }
                // The uppercase form is what the address block prints.
                for u in c.to_uppercase() {
                    if !font_can_print(u) {
                        // check_printable rejects such characters; make sure it does.
                        let s = c.to_string();
                        assert!(check_printable("f", "f", &s).is_err(), "{}", code_point(c));
                    }
                }
            }
        }
        assert_eq!(glyph_id(faces[0], '\u{4E2D}'), 0);
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent_and_clean(s in "\\PC{0,60}") {
            let once = normalize_line(&s);
            prop_assert_eq!(normalize_line(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            prop_assert!(!once.contains([',', '\'', '(', ';']));
            prop_assert!(!once.contains('.') || once.contains(|c: char| c.is_ascii_digit()));
        }

        #[test]
        fn accepted_addresses_always_fit(l1 in "[A-Za-z0-9 .#/-]{0,60}", l2 in "[A-Za-z0-9 .#]{0,30}", city in "[A-Za-z .]{0,40}") {
            if let Ok(a) = normalize_address(&raw(&l1, &l2, &city, "CA", "94105-1234")) {
                let lines = [Some(a.line1.clone()), a.line2.clone(), Some(a.last_line())];
                for l in lines.iter().flatten() {
                    prop_assert!(l.chars().count() <= MAX_LINE_CHARS, "{l}");
                }
            }
        }
    }
}
