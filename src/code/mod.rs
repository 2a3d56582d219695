//! One-time access codes: derivation, the check symbol, typed-code
//! normalisation, fingerprints and verification.
//!
//! # Why codes are derived, not stored
//!
//! A code is a pure function of (key, receipt number, issue number):
//! HMAC-SHA256 under the key's code subkey of
//! `"access-code/v1\0" || receipt || "\0" || issue_no (u32, big-endian)`
//! gives a 32-byte seed for a ChaCha20 generator, from which the symbols are
//! drawn. So a reprint shows exactly the code that was mailed, a crashed
//! batch re-renders the same letters, letters can be made on any thread in
//! any order, and no table of live codes exists to be stolen. The ledger
//! keeps only a [`Fingerprint`]: an HMAC of the code under a *separate*
//! subkey, which lets [`verify`] recognise a typed code without the ledger
//! ever being able to show one.
//!
//! # Shape of a code
//!
//! Twelve symbols of Crockford base32 (`0-9`, `A-Z` without `I L O U`),
//! printed `XXXX-XXXX-XXXX`: eleven random symbols (55 bits) and one check
//! symbol. The eleven are drawn with `random_range(0..32)`; because 32 is a
//! power of two every value is exactly equally likely (the sampler keeps the
//! top five bits of a uniform `u32` and never needs its bias correction), so
//! there is no modulo bias.
//!
//! Codes containing a word from [`BLOCKLIST`] anywhere in the twelve symbols
//! (so also across the hyphens) are thrown away and eleven fresh symbols are
//! drawn from the *same* generator, which keeps derivation deterministic.
//! About 0.35% of draws are rejected, costing 0.005 of the 55 bits.
//!
//! # The check symbol, and why it catches what it claims
//!
//! Read each symbol as an element of the field GF(32) = GF(2)\[x\] / (x⁵ + x² + 1)
//! (five-bit values; addition is XOR; x⁵ + x² + 1 is irreducible, indeed
//! primitive, so this is a field). Let `a` = x (the value 2). For symbols
//! d₁ … d₁₂ define
//!
//! ```text
//! S(d) = a¹¹·d₁ + a¹⁰·d₂ + … + a·d₁₁ + d₁₂
//! ```
//!
//! computed by Horner's rule (s₀ = 0, sᵢ = a·sᵢ₋₁ + dᵢ, S = s₁₂). The check
//! symbol is d₁₂ = a·s₁₁, which makes S = 0; a typed code passes only if
//! S = 0. S is linear over GF(2) (multiplying by `a` distributes over XOR),
//! so a valid code `v` changed by an error pattern `e` passes exactly when
//! S(e) = 0. Then:
//!
//! * **Every single-symbol substitution** at position i (x → y, x ≠ y) is the
//!   pattern e = (x + y) at i, and S(e) = a^(12−i)·(x + y). Both factors are
//!   non-zero and a field has no zero divisors, so S(e) ≠ 0.
//! * **Every adjacent transposition** at positions i, i+1 (…x y… → …y x…,
//!   x ≠ y) is the pattern (x + y) at both positions, and
//!   S(e) = a^(11−i)·(a + 1)·(x + y). Since a ≠ 1, a + 1 ≠ 0, so S(e) ≠ 0.
//!   This includes swapping the last random symbol with the check symbol
//!   (weights a and 1).
//! * As a bonus, because x has order 31, a transposition of symbols k < 31
//!   apart is caught too (a^k ≠ 1): every transposition within a code, and
//!   every adjacent twin error (xx → yy).
//!
//! A plain weighted sum modulo 32 would not do: 32 is not prime, so a weight
//! of 2 misses substitutions that differ by 16. What is *not* caught: two
//! independent substitutions (one in 32 pass the check, and then fail the
//! fingerprint comparison as a wrong code).
//!
//! The tests prove the claims exhaustively: the field has no zero divisors
//! (all 31 × 31 products), multiplication by `a` is linear (all 32 × 32
//! pairs), and for every position and every pair of distinct symbols the
//! substitution and the adjacent swap change S. By linearity that covers all
//! 32¹¹ codes; a second test also tries every substitution and every
//! adjacent swap on a few hundred real codes through [`parse_typed`].
//!
//! # Typed codes
//!
//! [`parse_typed`] forgives what people do when copying a code: any case,
//! spaces, tabs and hyphens anywhere, `O` read as `0`, `I` and `L` read as
//! `1`. `U` is not a code symbol and is refused. Errors give a position or a
//! count, never the typed text, so they can be logged.
//!
//! # Keeping the code secret in the program
//!
//! [`AccessCode`] has no `Display`, and its `Debug` prints
//! `AccessCode(<redacted>)`. The clear text comes only from
//! [`AccessCode::reveal_for_letter`], which only letter rendering calls.
//!
//! # Where the pieces are
//!
//! * `symbols`: the alphabet, GF(32), the check symbol and [`AccessCode`],
//!   with the exhaustive proofs above as tests;
//! * `derive`: [`derive()`] and the [`BLOCKLIST`];
//! * `typed`: [`parse_typed`];
//! * `fingerprint`: [`Fingerprint`], what the ledger keeps;
//! * `verify`: [`verify`] and its [`Verdict`]s: valid, mistyped, wrong,
//!   superseded, revoked, not valid yet (before the letter's date), expired,
//!   unknown receipt, unknown key.

mod derive;
mod fingerprint;
mod symbols;
mod typed;
mod verify;

pub use derive::{derive, BLOCKLIST};
pub use fingerprint::{fingerprint, Fingerprint, FingerprintError};
pub use symbols::{AccessCode, ALPHABET, CODE_SYMBOLS};
pub use typed::{parse_typed, TypedCodeError};
pub use verify::{verify, IssuanceView, Verdict};

/// Helpers shared by the tests of the submodules.
#[cfg(test)]
mod test_support {
    use std::path::Path;

    use chrono::NaiveDate;

    use super::symbols::{check_symbol, AccessCode, CODE_SYMBOLS, RANDOM_SYMBOLS};
    use crate::filing::ReceiptNumber;
    use crate::key::Key;

    const FIXTURE_KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/test.key");

    pub(crate) fn fixture_key() -> Key {
        Key::load(Path::new(FIXTURE_KEY_PATH)).expect("fixture key loads")
    }

    pub(crate) fn receipt(i: u64) -> ReceiptNumber {
        ReceiptNumber::parse(&format!("IOE{i:010}")).unwrap()
    }

    pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    pub(crate) fn text(code: &AccessCode) -> String {
        code.ascii().iter().map(|&b| char::from(b)).collect()
    }

    /// A valid code from eleven chosen symbols.
    pub(crate) fn code_from_random(random: [u8; RANDOM_SYMBOLS]) -> AccessCode {
        let mut symbols = [0u8; CODE_SYMBOLS];
        symbols[..RANDOM_SYMBOLS].copy_from_slice(&random);
        symbols[RANDOM_SYMBOLS] = check_symbol(&random);
        AccessCode { symbols }
    }
}
