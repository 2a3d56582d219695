//! The printed lines that must fit the envelope window whole: the
//! recipient name line and the `C/O` line. A line that does not fit is a
//! problem to report, never a line to cut.

use unicode_normalization::UnicodeNormalization;

use super::text::{check_marks, check_printable, is_mark, normalize_line, shown_up_to};

/// A line that is too long is quoted up to this many characters.
const QUOTED_LINE_MAX_CHARS: usize = 2 * MAX_LINE_CHARS;

fn shown(line: &str) -> String {
    shown_up_to(line, QUOTED_LINE_MAX_CHARS)
}
use super::{FieldProblem, WindowFit, MAX_LINE_CHARS};

fn char_len(s: &str) -> usize {
    s.chars().count()
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

pub(super) fn too_long(field: &'static str, label: &str, line: &str, advice: &str) -> FieldProblem {
    let note = length_note(line).replacen("characters", "characters after normalisation", 1);
    FieldProblem::new(field, format!("{label} '{}' {note}{advice}", shown(line)))
}

/// A part of a name as the address block prints it: upper case, NFC, no
/// periods, typographic apostrophes straightened, spaces collapsed.
fn name_part_upper(s: &str) -> String {
    upper_without_periods(s)
        .replace(['\u{2019}', '\u{02BC}'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Upper case, NFC, no periods.
fn upper_without_periods(s: &str) -> String {
    if s.is_ascii() {
        // ASCII is its own NFC and its upper case is ASCII's: no tables.
        return s
            .bytes()
            .filter(|&b| b != b'.')
            .map(|b| char::from(b.to_ascii_uppercase()))
            .collect();
    }
    upper_nfc_without_periods(s)
}

/// [`upper_without_periods`] for any text, through the Unicode tables.
fn upper_nfc_without_periods(s: &str) -> String {
    s.to_uppercase().nfc().filter(|c| *c != '.').collect()
}

/// The recipient name line: `GIVEN MIDDLE FAMILY` in uppercase. When it is
/// longer than [`MAX_LINE_CHARS`], the middle name becomes its initials,
/// then is left out; a name still too long is a problem reported on
/// `family_name` (the one name every row has). Inputs are already tidied.
pub fn name_line(
    given: &str,
    middle: Option<&str>,
    family: &str,
    fit: &WindowFit,
) -> Result<String, FieldProblem> {
    let up = name_part_upper;
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
    if fit.fits(&full) {
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
        if fit.fits(&with_initials) {
            return Ok(with_initials);
        }
        let without = join(None);
        if fit.fits(&without) {
            return Ok(without);
        }
        if char_len(&without) > MAX_LINE_CHARS {
            return Err(FieldProblem::new(
                "family_name",
                format!(
                    "the name '{}' is {} characters, and {} even without the middle name; the envelope window shows at most {MAX_LINE_CHARS}",
                    shown(&full),
                    char_len(&full),
                    char_len(&without)
                ),
            ));
        }
        return Err(FieldProblem::new(
            "family_name",
            format!(
                "the name '{}' (without the middle name) {}",
                shown(&without),
                length_note(&without)
            ),
        ));
    }
    Err(FieldProblem::new(
        "family_name",
        format!("the name '{}' {}", shown(&full), length_note(&full)),
    ))
}

/// The `C/O` line for an in-care-of name, or `None` when the cell is empty.
/// A `c/o` or `care of` typed in the cell is not doubled.
pub fn care_of_line(raw: &str, fit: &WindowFit) -> Result<Option<String>, FieldProblem> {
    const FIELD: &str = "in_care_of";
    check_printable(FIELD, "the in-care-of name", raw)?;
    let norm = normalize_line(raw);
    check_marks(FIELD, "the in-care-of name", &norm)?;
    let name = ["C/O ", "C O ", "CARE OF ", "IN CARE OF "]
        .iter()
        .find_map(|p| norm.strip_prefix(p))
        .unwrap_or(&norm)
        .trim();
    if name.is_empty() || name == "C/O" {
        return Ok(None);
    }
    let line = format!("C/O {name}");
    if !fit.fits(&line) {
        return Err(too_long(FIELD, "the in-care-of line", &line, ""));
    }
    Ok(Some(line))
}

#[cfg(test)]
mod ascii_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The ASCII shortcut gives what the Unicode path gives.
        #[test]
        fn an_ascii_name_part_is_upper_cased_as_unicode_does(s in "[ -~\t]{0,40}") {
            prop_assert_eq!(upper_without_periods(&s), upper_nfc_without_periods(&s));
        }
    }
}
