//! Fingerprints: what the ledger keeps instead of a code.

use super::symbols::AccessCode;
use crate::key::{hmac_sha256, Key};

/// A fingerprint is an HMAC-SHA256 output (32 bytes) in hex.
const FINGERPRINT_HEX_DIGITS: usize = 64;

const FINGERPRINT_DOMAIN: &[u8] = b"fingerprint/v1\0";

/// A keyed fingerprint of a code (64 lowercase hex digits): what the ledger
/// keeps instead of the code. It reveals nothing about the code without the
/// key's fingerprint subkey, so it may be shown and logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(String);

/// A stored fingerprint that is not 64 hexadecimal digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a code fingerprint must be 64 hexadecimal digits; this one has {chars} characters{}", if *.non_hex { " and non-hex characters" } else { "" })]
pub struct FingerprintError {
    pub chars: usize,
    pub non_hex: bool,
}

impl Fingerprint {
    /// Reads a fingerprint back from storage; uppercase hex is accepted and
    /// lowercased.
    pub fn from_hex(text: String) -> Result<Fingerprint, FingerprintError> {
        let chars = text.chars().count();
        let non_hex = !text.chars().all(|c| c.is_ascii_hexdigit());
        if chars != FINGERPRINT_HEX_DIGITS || non_hex {
            return Err(FingerprintError { chars, non_hex });
        }
        Ok(Fingerprint(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fingerprint of `code` under `key`'s fingerprint subkey.
pub fn fingerprint(key: &Key, code: &AccessCode) -> Fingerprint {
    let mac = hmac_sha256(
        key.fingerprint_subkey(),
        &[FINGERPRINT_DOMAIN, &code.ascii()],
    );
    Fingerprint(hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::derive;
    use crate::code::test_support::{fixture_key, receipt, text};

    #[test]
    fn fingerprint_is_keyed_and_round_trips() {
        let key = fixture_key();
        let other = Key::from_parts("test-other", [9; 32]).unwrap();
        let code = derive(&key, &receipt(1), 1);
        let fp = fingerprint(&key, &code);
        assert_eq!(fp.as_str().len(), 64);
        assert_ne!(fingerprint(&other, &code), fp);
        assert_ne!(fingerprint(&key, &derive(&key, &receipt(2), 1)), fp);
        assert_eq!(
            Fingerprint::from_hex(fp.as_str().to_uppercase()),
            Ok(fp.clone())
        );
        assert!(!fp.as_str().contains(&text(&code)));
        // The fingerprint is not the code seed: the subkeys differ.
        assert_ne!(key.fingerprint_subkey(), key.code_subkey());
        assert_eq!(
            Fingerprint::from_hex("abc".into()),
            Err(FingerprintError {
                chars: 3,
                non_hex: false
            })
        );
        assert!(Fingerprint::from_hex("g".repeat(64)).is_err());
    }

    #[test]
    fn a_clear_code_is_not_a_fingerprint_and_is_not_echoed() {
        let code = derive(&fixture_key(), &receipt(1), 1).reveal_for_letter();
        let err = Fingerprint::from_hex(code.clone()).unwrap_err();
        let said = err.to_string();
        assert_eq!(
            said,
            "a code fingerprint must be 64 hexadecimal digits; this one has 14 characters and non-hex characters"
        );
        assert!(!said.contains(&code[..4]), "{said}");
    }
}
