//! Typed codes: what a person types, forgiven its case, separators and
//! look-alike letters, then checked with the check symbol.

use super::symbols::{syndrome, AccessCode, CODE_SYMBOLS, INVALID, TYPED_VALUE};

/// Why a typed code was not accepted. The messages never repeat the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TypedCodeError {
    #[error("no access code was entered; type the 12 letters and digits from the letter")]
    Empty,
    #[error("an access code has 12 letters and digits; this one has {symbols}")]
    WrongLength { symbols: usize },
    /// `position` is 1-based and counts only letters and digits, not the
    /// spaces or hyphens, so it matches the printed code.
    #[error(
        "character {position} of the code is not used in access codes (they use digits and the letters A-Z without U); check the code and try again"
    )]
    InvalidCharacter { position: usize },
    /// Says only what the check symbol proves: no issued code has this
    /// text. Never how close it is to the receipt's code (that would tell a
    /// guesser when one symbol is wrong).
    #[error(
        "the code does not check out: its check character does not match, so it is not a code that was issued; often a character was misread: re-read the letter and type the code again"
    )]
    CheckFailed,
}

/// Characters people put between groups when typing or pasting a code:
/// any whitespace, the ASCII hyphen and the Unicode dashes.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Normalises and checks a code as typed by a person: case folded, spaces,
/// tabs and hyphens dropped, `O` read as `0`, `I` and `L` as `1`.
pub fn parse_typed(input: &str) -> Result<AccessCode, TypedCodeError> {
    let mut symbols = [0u8; CODE_SYMBOLS];
    let mut count = 0usize;
    for c in input.chars().filter(|&c| !is_separator(c)) {
        count += 1;
        let value = u8::try_from(c)
            .ok()
            .and_then(|b| TYPED_VALUE.get(usize::from(b)).copied())
            .unwrap_or(INVALID);
        if value == INVALID {
            return Err(TypedCodeError::InvalidCharacter { position: count });
        }
        if let Some(slot) = symbols.get_mut(count - 1) {
            *slot = value;
        }
    }
    match count {
        0 => Err(TypedCodeError::Empty),
        CODE_SYMBOLS if syndrome(&symbols) == 0 => Ok(AccessCode { symbols }),
        CODE_SYMBOLS => Err(TypedCodeError::CheckFailed),
        symbols => Err(TypedCodeError::WrongLength { symbols }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::code::derive;
    use crate::code::symbols::{ALPHABET, RANDOM_SYMBOLS};
    use crate::code::test_support::{code_from_random, fixture_key, receipt, text};

    /// The same claims tried on real codes through the typed-code path:
    /// every position, every replacement symbol, every adjacent swap.
    #[test]
    fn substitutions_and_swaps_fail_on_real_codes() {
        let key = fixture_key();
        let mut bases: Vec<AccessCode> = (0..300).map(|i| derive(&key, &receipt(i), 1)).collect();
        bases.push(code_from_random([0; RANDOM_SYMBOLS]));
        bases.push(code_from_random([31; RANDOM_SYMBOLS]));
        bases.push(code_from_random([0, 31, 0, 31, 0, 31, 0, 31, 0, 31, 0]));
        let mut substitutions = 0;
        let mut swaps = 0;
        for base in &bases {
            let good = base.ascii();
            assert_eq!(parse_typed(&base.reveal_for_letter()), Ok(base.clone()));
            for i in 0..CODE_SYMBOLS {
                for &replacement in ALPHABET.iter().filter(|&&c| c != good[i]) {
                    let mut typed = good;
                    typed[i] = replacement;
                    let typed = std::str::from_utf8(&typed).unwrap();
                    assert_eq!(parse_typed(typed), Err(TypedCodeError::CheckFailed));
                    substitutions += 1;
                }
            }
            for i in 0..CODE_SYMBOLS - 1 {
                if good[i] == good[i + 1] {
                    continue;
                }
                let mut typed = good;
                typed.swap(i, i + 1);
                let typed = std::str::from_utf8(&typed).unwrap();
                assert_eq!(parse_typed(typed), Err(TypedCodeError::CheckFailed));
                swaps += 1;
            }
        }
        assert_eq!(substitutions, bases.len() * 12 * 31);
        assert!(swaps > 300 * 10, "{swaps}");
    }

    // ---- typed codes ------------------------------------------------------

    /// The first derived code whose text contains `symbol`.
    fn code_containing(symbol: char) -> (AccessCode, String) {
        let key = fixture_key();
        (0..)
            .map(|i| derive(&key, &receipt(i), 1))
            .map(|c| {
                let t = c.reveal_for_letter();
                (c, t)
            })
            .find(|(_, t)| t.contains(symbol))
            .unwrap()
    }

    #[test]
    fn check_failure_says_what_is_known_and_nothing_of_closeness() {
        let message = TypedCodeError::CheckFailed.to_string();
        assert!(
            message.contains("check character does not match"),
            "{message}"
        );
        assert!(message.contains("not a code that was issued"), "{message}");
        assert!(message.contains("re-read the letter"), "{message}");
        assert!(!message.contains("probably"), "{message}");
        assert!(!message.contains("one character"), "{message}");
    }

    #[test]
    fn typed_case_is_folded() {
        let (code, shown) = code_containing('A');
        assert_eq!(parse_typed(&shown.to_lowercase()), Ok(code.clone()));
        assert_eq!(parse_typed(&shown), Ok(code));
    }

    #[test]
    fn typed_spaces_tabs_and_hyphens_are_dropped() {
        let (code, shown) = code_containing('0');
        let bare = shown.replace('-', "");
        for typed in [
            bare.clone(),
            shown.replace('-', " "),
            format!(" {}\t-\t{} - {} ", &bare[..4], &bare[4..8], &bare[8..]),
            bare.chars().flat_map(|c| [c, '-']).collect(),
            format!(
                "{}\u{2013}{}\u{00a0}{}",
                &bare[..4],
                &bare[4..8],
                &bare[8..]
            ),
        ] {
            assert_eq!(parse_typed(&typed), Ok(code.clone()), "{typed:?}");
        }
    }

    #[test]
    fn typed_letter_o_reads_as_zero() {
        let (code, shown) = code_containing('0');
        assert_eq!(parse_typed(&shown.replace('0', "O")), Ok(code.clone()));
        assert_eq!(parse_typed(&shown.replace('0', "o")), Ok(code));
    }

    #[test]
    fn typed_letters_i_and_l_read_as_one() {
        let (code, shown) = code_containing('1');
        for look_alike in ["I", "i", "L", "l"] {
            assert_eq!(
                parse_typed(&shown.replace('1', look_alike)),
                Ok(code.clone()),
                "{look_alike}"
            );
        }
    }

    #[test]
    fn typed_u_and_other_characters_are_refused_by_position() {
        let (_, shown) = code_containing('V');
        let bare = shown.replace('-', "");
        let at = bare.find('V').unwrap();
        // The position counts symbols only, not the hyphens of `shown`.
        assert_eq!(
            parse_typed(&shown.replacen('V', "U", 1)),
            Err(TypedCodeError::InvalidCharacter { position: at + 1 })
        );
        assert_eq!(
            parse_typed("ABCD-EFGH-J*KM"),
            Err(TypedCodeError::InvalidCharacter { position: 10 })
        );
        assert_eq!(
            parse_typed("é"),
            Err(TypedCodeError::InvalidCharacter { position: 1 })
        );
    }

    #[test]
    fn typed_wrong_length_and_empty_are_reported() {
        let (_, shown) = code_containing('A');
        assert_eq!(
            parse_typed(&shown[..shown.len() - 1]),
            Err(TypedCodeError::WrongLength { symbols: 11 })
        );
        assert_eq!(
            parse_typed(&format!("{shown}0")),
            Err(TypedCodeError::WrongLength { symbols: 13 })
        );
        assert_eq!(parse_typed(""), Err(TypedCodeError::Empty));
        assert_eq!(parse_typed(" - \t "), Err(TypedCodeError::Empty));
        assert_eq!(
            TypedCodeError::WrongLength { symbols: 11 }.to_string(),
            "an access code has 12 letters and digits; this one has 11"
        );
    }

    #[test]
    fn typed_check_failure_is_reported() {
        let (_, shown) = code_containing('A');
        let typo = shown.replacen('A', "B", 1);
        assert_eq!(parse_typed(&typo), Err(TypedCodeError::CheckFailed));
        assert!(TypedCodeError::CheckFailed
            .to_string()
            .starts_with("the code does not check out"));
    }

    proptest! {
        #[test]
        fn any_case_and_separators_parse_back(
            n in 0u64..10_000_000_000,
            issue in 1u32..100,
            upper in proptest::collection::vec(any::<bool>(), 12),
            seps in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just("\t"), Just(" - ")], 13),
        ) {
            let code = derive(&fixture_key(), &receipt(n), issue);
            let bare = text(&code);
            let mut typed = String::from(seps[0]);
            for (i, c) in bare.chars().enumerate() {
                typed.push(if upper[i] { c } else { c.to_ascii_lowercase() });
                typed.push_str(seps[i + 1]);
            }
            prop_assert_eq!(parse_typed(&typed), Ok(code));
        }

        #[test]
        fn parse_never_panics_and_errors_never_echo_input(input in "\\PC{0,40}") {
            if let Err(e) = parse_typed(&input) {
                let shown = format!("{e} {e:?}");
                let trimmed = input.trim();
                if trimmed.chars().count() >= 3 {
                    prop_assert!(!shown.contains(trimmed));
                }
            }
        }
    }
}
