//! One line of text: characters the letter can print, Unicode tidying and
//! USPS Publication 28 punctuation and abbreviations (see the parent
//! module's docs for the rules, in order).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::{font_can_print, FieldProblem, WindowFit, MAX_LINE_CHARS};

/// Pub 28 secondary unit designators (Appendix C2), plus `#`. A second
/// address line starting with one of these is a unit and may join line 1.
const SECONDARY_DESIGNATORS: [&str; 25] = [
    "#", "APT", "BSMT", "BLDG", "DEPT", "FL", "FRNT", "HNGR", "KEY", "LBBY", "LOT", "LOWR", "OFC",
    "PH", "PIER", "REAR", "RM", "SIDE", "SLIP", "SPC", "STOP", "STE", "TRLR", "UNIT", "UPPR",
];

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
    // Most cells are printable ASCII, which the font prints (a test holds
    // it to `font_can_print`): nothing to look up character by character.
    if value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Ok(());
    }
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
    // ASCII is its own NFC and holds no invisible character.
    let visible = if raw.is_ascii() {
        std::borrow::Cow::Borrowed(raw)
    } else {
        std::borrow::Cow::Owned(nfc_visible(raw))
    };
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// NFC with invisible characters dropped, through the Unicode tables.
fn nfc_visible(raw: &str) -> String {
    raw.nfc().filter(|c| !is_invisible(*c)).collect()
}

pub(super) fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || is_mark(c)
}

/// Normalises one address line to Pub 28 style (see the module docs).
/// The result may be empty and is not length-checked.
pub fn normalize_line(raw: &str) -> String {
    let upper = upper_nfc(raw);

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

    rewrite_words(&spaced)
}

/// Steps 1 and 2 of [`normalize_line`]: NFC, invisible characters dropped,
/// fractions spelled out, upper case, NFC again.
fn upper_nfc(raw: &str) -> Vec<char> {
    if raw.is_ascii() {
        // ASCII is its own NFC, holds no invisible character nor fraction,
        // and its upper case is ASCII's: the same characters, no tables.
        return raw
            .bytes()
            .map(|b| char::from(b.to_ascii_uppercase()))
            .collect();
    }
    upper_nfc_any(raw)
}

/// [`upper_nfc`] for any text, through the Unicode tables.
fn upper_nfc_any(raw: &str) -> Vec<char> {
    let mut text = String::with_capacity(raw.len() + 8);
    for c in raw.nfc().filter(|c| !is_invisible(*c)) {
        match c {
            '½' => text.push_str(" 1/2 "),
            '¼' => text.push_str(" 1/4 "),
            '¾' => text.push_str(" 3/4 "),
            _ => text.push(c),
        }
    }
    text.to_uppercase().nfc().collect()
}

/// Step 5: whitespace collapsed and the few Pub 28 words rewritten.
fn rewrite_words(spaced: &str) -> String {
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

pub(super) fn is_secondary_unit(line: &str) -> bool {
    line.split(' ')
        .next()
        .is_some_and(|w| SECONDARY_DESIGNATORS.contains(&w))
}

/// Longest value quoted back in a message; a runaway cell (a binary file,
/// an unclosed quote) must not produce a megabyte-long reason.
pub(crate) const SHOWN_VALUE_MAX_CHARS: usize = 40;

/// A value quoted back in a message: control characters escaped, long
/// values shortened.
pub(crate) fn shown(s: &str) -> String {
    shown_up_to(s, SHOWN_VALUE_MAX_CHARS)
}

/// Like [`shown`] with another length: a printed line that is too long is
/// quoted up to twice the window's width, so the clerk sees what to shorten.
pub(crate) fn shown_up_to(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max_chars)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// A field must not hold a combining mark with no letter before it: alone
/// (a field of marks only) it prints as accents floating over nothing.
pub(crate) fn check_marks(
    field: &'static str,
    label: &str,
    text: &str,
) -> Result<(), FieldProblem> {
    if text.is_ascii() {
        return Ok(()); // no combining mark is ASCII
    }
    let mut prev: Option<char> = None;
    for c in text.chars() {
        let carried = prev.is_some_and(|p| p.is_alphanumeric() || is_combining_mark(p));
        if is_combining_mark(c) && !carried {
            let what = if text.chars().all(is_combining_mark) {
                "is made only of combining marks".to_string()
            } else {
                format!(
                    "has a combining mark ({}) with no letter before it",
                    code_point(c)
                )
            };
            return Err(FieldProblem::new(
                field,
                format!("{label} {what}; retype it"),
            ));
        }
        prev = Some(c);
    }
    Ok(())
}

/// A field that is printed on a line of its own (or as part of one) must
/// fit that line by itself.
pub(crate) fn check_fits_alone(
    field: &'static str,
    label: &str,
    printed: &str,
    fit: &WindowFit,
) -> Result<(), FieldProblem> {
    let n = printed.chars().count();
    if n > MAX_LINE_CHARS {
        return Err(FieldProblem::new(
            field,
            format!("{label} is {n} characters; at most {MAX_LINE_CHARS} fit on the address line"),
        ));
    }
    if !fit.width_fits(printed) {
        return Err(FieldProblem::new(
            field,
            format!(
                "{label} '{printed}' is too wide for the address line even at the smallest print size"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod ascii_tests {
    use super::*;
    use proptest::prelude::*;

    /// The ASCII shortcut of `check_printable` rests on this.
    #[test]
    fn the_font_prints_every_printable_ascii_character_and_its_upper_case() {
        for c in ' '..='~' {
            assert!(font_can_print(c), "{}", code_point(c));
            assert!(c.to_uppercase().all(font_can_print), "{}", code_point(c));
        }
    }

    proptest! {
        /// The ASCII shortcuts give what the Unicode path gives.
        #[test]
        fn ascii_shortcuts_agree_with_the_unicode_path(s in "[ -~\t\n\r\x00-\x1f\x7f]{0,60}") {
            prop_assert_eq!(upper_nfc(&s), upper_nfc_any(&s));
            prop_assert_eq!(nfc_visible(&s), s.clone());
            prop_assert!(check_marks("f", "f", &s).is_ok());
            let printable = s.chars().all(|c| c == '\t' || !c.is_control());
            prop_assert_eq!(check_printable("f", "f", &s).is_ok(), printable, "{:?}", s);
        }
    }
}
