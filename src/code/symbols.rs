//! The code alphabet, the check symbol over GF(32) and the [`AccessCode`]
//! type; see the [module documentation](super) for why the check symbol
//! catches what it claims.

use std::fmt;

/// Crockford base32: the value of a symbol is its index here.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Symbols in a code, check symbol included.
pub const CODE_SYMBOLS: usize = 12;

/// Randomly drawn symbols; the last symbol is the check symbol.
pub(super) const RANDOM_SYMBOLS: usize = CODE_SYMBOLS - 1;

/// Symbols between hyphens in the printed form.
const GROUP_SYMBOLS: usize = 4;

/// Number of distinct symbol values.
pub(super) const SYMBOL_VALUES: u8 = 32;

/// Bits per symbol: 32 values.
pub(super) const SYMBOL_BITS: usize = 5;

/// x⁵ + x² + 1, the primitive polynomial defining GF(32).
const GF32_MODULUS: u8 = 0b10_0101;

/// The multiplier `a` of the check-symbol recurrence: the element x. It must
/// be neither 0 (substitutions) nor 1 (transpositions).
const CHECK_MULTIPLIER: u8 = 0b10;

/// Value of each ASCII byte as a typed symbol: lowercase accepted, `O` as 0,
/// `I` and `L` as 1; `INVALID` for everything else (including `U`).
pub(super) const TYPED_VALUE: [u8; 128] = typed_value_table();
pub(super) const INVALID: u8 = 0xFF;

const fn typed_value_table() -> [u8; 128] {
    let mut table = [INVALID; 128];
    let mut v = 0;
    while v < ALPHABET.len() {
        let upper = ALPHABET[v];
        table[upper as usize] = v as u8;
        table[upper.to_ascii_lowercase() as usize] = v as u8;
        v += 1;
    }
    table[b'O' as usize] = 0;
    table[b'o' as usize] = 0;
    table[b'I' as usize] = 1;
    table[b'i' as usize] = 1;
    table[b'L' as usize] = 1;
    table[b'l' as usize] = 1;
    table
}

/// Multiplication in GF(32) modulo x⁵ + x² + 1 (shift-and-add).
const fn gf32_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        a <<= 1;
        if a & 0b10_0000 != 0 {
            a ^= GF32_MODULUS;
        }
        b >>= 1;
    }
    product
}

/// The check symbol for eleven random symbols: a·s₁₁, so that S = 0.
pub(super) fn check_symbol(random: &[u8; RANDOM_SYMBOLS]) -> u8 {
    let s = random
        .iter()
        .fold(0, |s, &d| gf32_mul(CHECK_MULTIPLIER, s) ^ d);
    gf32_mul(CHECK_MULTIPLIER, s)
}

/// S(d) of the module documentation; zero for every valid code.
pub(super) fn syndrome(symbols: &[u8; CODE_SYMBOLS]) -> u8 {
    symbols
        .iter()
        .fold(0, |s, &d| gf32_mul(CHECK_MULTIPLIER, s) ^ d)
}

/// A one-time access code: twelve symbol values, the last one the check
/// symbol. It has no `Display`; see [`AccessCode::reveal_for_letter`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccessCode {
    pub(super) symbols: [u8; CODE_SYMBOLS],
}

impl AccessCode {
    /// The code in clear, grouped `XXXX-XXXX-XXXX`. Only letter rendering
    /// may call this: the clear code must never reach a log, an error
    /// message, the ledger or the manifest.
    pub fn reveal_for_letter(&self) -> String {
        let text = self.ascii();
        let mut out = String::with_capacity(CODE_SYMBOLS + CODE_SYMBOLS / GROUP_SYMBOLS);
        for (i, group) in text.chunks(GROUP_SYMBOLS).enumerate() {
            if i > 0 {
                out.push('-');
            }
            out.extend(group.iter().map(|&b| char::from(b)));
        }
        out
    }

    /// The twelve symbol values in one integer, first symbol highest.
    pub(super) fn packed(&self) -> u64 {
        self.symbols
            .iter()
            .fold(0, |acc, &v| (acc << SYMBOL_BITS) | u64::from(v))
    }

    /// The twelve symbols as uppercase ASCII, no hyphens.
    pub(super) fn ascii(&self) -> [u8; CODE_SYMBOLS] {
        self.symbols.map(|v| ALPHABET[usize::from(v)])
    }
}

impl fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::code::derive::draw_code;
    use crate::code::parse_typed;

    // ---- the check symbol: exhaustive proof -------------------------------

    #[test]
    fn gf32_has_no_zero_divisors_and_every_element_has_an_inverse() {
        for a in 1..SYMBOL_VALUES {
            let mut inverses = 0;
            for b in 1..SYMBOL_VALUES {
                let p = gf32_mul(a, b);
                assert!(p != 0 && p < SYMBOL_VALUES, "{a} * {b} = {p}");
                if p == 1 {
                    inverses += 1;
                }
            }
            assert_eq!(inverses, 1, "element {a}");
        }
        // x is primitive: its powers run through all 31 non-zero elements.
        let mut seen = HashSet::new();
        let mut p = 1;
        for _ in 0..31 {
            seen.insert(p);
            p = gf32_mul(CHECK_MULTIPLIER, p);
        }
        assert_eq!(p, 1);
        assert_eq!(seen.len(), 31);
    }

    #[test]
    fn multiplying_by_a_is_linear_so_the_syndrome_is_linear() {
        for s in 0..SYMBOL_VALUES {
            for t in 0..SYMBOL_VALUES {
                assert_eq!(
                    gf32_mul(CHECK_MULTIPLIER, s ^ t),
                    gf32_mul(CHECK_MULTIPLIER, s) ^ gf32_mul(CHECK_MULTIPLIER, t)
                );
            }
        }
        assert_ne!(CHECK_MULTIPLIER, 0);
        assert_ne!(CHECK_MULTIPLIER, 1);
        // And the Horner form equals the weighted sum of the documentation.
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        for _ in 0..1000 {
            let u = draw_code(&mut rng, &[]).symbols;
            let v = draw_code(&mut rng, &[]).symbols;
            let mut w = [0u8; CODE_SYMBOLS];
            for i in 0..CODE_SYMBOLS {
                w[i] = u[i] ^ v[i];
            }
            assert_eq!(syndrome(&w), syndrome(&u) ^ syndrome(&v));
        }
    }

    /// Full proof for single substitutions. For any valid code v with
    /// vᵢ = x, changing vᵢ to y gives S(v') = S(v) + S(x·eᵢ) + S(y·eᵢ) by
    /// linearity, which is 0 only if S(x·eᵢ) = S(y·eᵢ). So checking every
    /// position and every x ≠ y on the zero word covers all 32¹¹ codes.
    #[test]
    fn every_single_substitution_is_caught_exhaustive() {
        let mut pairs = 0;
        for i in 0..CODE_SYMBOLS {
            for x in 0..SYMBOL_VALUES {
                for y in (0..SYMBOL_VALUES).filter(|&y| y != x) {
                    let mut wx = [0u8; CODE_SYMBOLS];
                    let mut wy = [0u8; CODE_SYMBOLS];
                    wx[i] = x;
                    wy[i] = y;
                    assert_ne!(syndrome(&wx), syndrome(&wy), "position {i}: {x} vs {y}");
                    pairs += 1;
                }
            }
        }
        assert_eq!(pairs, 12 * 32 * 31);
    }

    /// Full proof for adjacent transpositions, by the same linearity
    /// argument: (x, y) and (y, x) at positions i, i+1 must never have the
    /// same syndrome. Positions 10 and 11 swap the check symbol itself.
    #[test]
    fn every_adjacent_transposition_is_caught_exhaustive() {
        let mut pairs = 0;
        for i in 0..CODE_SYMBOLS - 1 {
            for x in 0..SYMBOL_VALUES {
                for y in (0..SYMBOL_VALUES).filter(|&y| y != x) {
                    let mut wxy = [0u8; CODE_SYMBOLS];
                    let mut wyx = [0u8; CODE_SYMBOLS];
                    (wxy[i], wxy[i + 1]) = (x, y);
                    (wyx[i], wyx[i + 1]) = (y, x);
                    assert_ne!(syndrome(&wxy), syndrome(&wyx), "positions {i},{}", i + 1);
                    pairs += 1;
                }
            }
        }
        assert_eq!(pairs, 11 * 32 * 31);
    }
    #[test]
    fn all_zero_code_is_valid() {
        assert_eq!(check_symbol(&[0; RANDOM_SYMBOLS]), 0);
        assert_eq!(parse_typed("0000-0000-0000").map(|c| c.packed()), Ok(0));
    }
}
