//! A SHA-256 digest as a value: what proves a letter, a file, a page range.

use std::fmt;

use sha2::{Digest, Sha256};

/// Text that should have been a SHA-256 digest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a SHA-256 digest (64 hex digits)")]
pub struct NotADigest {
    pub text: String,
}

/// A SHA-256 digest as 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Hex digits in a SHA-256 digest.
    pub const HEX_LEN: usize = 64;

    /// Accepts exactly 64 hex digits (either case, kept lowercase).
    pub fn parse(text: &str) -> Result<Self, NotADigest> {
        let ok = text.len() == Self::HEX_LEN && text.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Sha256Hex(text.to_ascii_lowercase()))
        } else {
            Err(NotADigest {
                text: text.chars().take(80).collect(),
            })
        }
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest a hasher has taken so far.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Sha256Hex(hex::encode(hasher.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hex({})", self.0)
    }
}
