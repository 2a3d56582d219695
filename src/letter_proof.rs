//! What proves a letter: the value the ledger records and `reprint`,
//! `proof` and the batch check compare a letter made again against; and
//! the SHA-256 digest it is made of.
//!
//! A letter is proven in one of three ways, and the kind is part of the
//! value, never guessed from the text:
//!
//! - [`LetterProof::File`]: the SHA-256 of a letter file of its own
//!   (`--letters pieces`, a reissue);
//! - [`LetterProof::Printed`]: the content digest of a letter's page range
//!   in a print file (the default print mode), which a standalone PDF of the
//!   same letter shares (see `crate::print`);
//! - [`LetterProof::NotYetPrinted`]: a letter of a print run between its
//!   issue and the writing of its print file.
//!
//! Storage keeps it as a kind and a digest, with a CHECK constraint on both
//! backends; [`LetterProof::from_parts`] reads them back, and anything else
//! is a damaged ledger, refused as such.

use std::fmt;

use sha2::{Digest, Sha256};

/// Text that should have been a SHA-256 digest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a SHA-256 digest (64 hex digits)")]
pub struct NotADigest {
    pub text: String,
}

/// A SHA-256 digest as 64 lowercase hex digits. In JSON it is that text,
/// read back through [`Sha256Hex::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl TryFrom<String> for Sha256Hex {
    type Error = NotADigest;

    fn try_from(text: String) -> Result<Self, NotADigest> {
        Sha256Hex::parse(&text)
    }
}

impl From<Sha256Hex> for String {
    fn from(digest: Sha256Hex) -> String {
        digest.0
    }
}

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

/// How a stored proof's kind is spelled in the ledger (the CHECK
/// constraint's values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofKind {
    File,
    Printed,
    NotYetPrinted,
}

impl ProofKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ProofKind::File => "file-sha256",
            ProofKind::Printed => "content-sha256",
            ProofKind::NotYetPrinted => "not-yet-printed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            ProofKind::File,
            ProofKind::Printed,
            ProofKind::NotYetPrinted,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The proof of one letter; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LetterProof {
    /// The SHA-256 of the letter's own PDF file.
    File(Sha256Hex),
    /// The content digest of the letter's pages in a print file.
    Printed(Sha256Hex),
    /// Issued in a print run whose print file is not written yet.
    NotYetPrinted,
}

/// A stored proof that is not one: the ledger is damaged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error(transparent)]
    NotADigest(#[from] NotADigest),
    #[error("'{kind}' is not a kind of letter proof")]
    UnknownKind { kind: String },
    #[error("a letter proof of kind {kind} must have a digest")]
    MissingDigest { kind: &'static str },
    #[error("a letter not printed yet has no digest")]
    UnexpectedDigest,
}

impl LetterProof {
    pub fn kind(&self) -> ProofKind {
        match self {
            LetterProof::File(_) => ProofKind::File,
            LetterProof::Printed(_) => ProofKind::Printed,
            LetterProof::NotYetPrinted => ProofKind::NotYetPrinted,
        }
    }

    /// The digest, when the letter was made.
    pub fn digest(&self) -> Option<&Sha256Hex> {
        match self {
            LetterProof::File(d) | LetterProof::Printed(d) => Some(d),
            LetterProof::NotYetPrinted => None,
        }
    }

    /// Reads a proof back from its stored kind and digest.
    pub fn from_parts(kind: &str, digest: Option<&str>) -> Result<Self, ProofError> {
        let kind = ProofKind::parse(kind).ok_or_else(|| ProofError::UnknownKind {
            kind: kind.chars().take(40).collect(),
        })?;
        let digest = digest.map(Sha256Hex::parse).transpose()?;
        match (kind, digest) {
            (ProofKind::NotYetPrinted, None) => Ok(LetterProof::NotYetPrinted),
            (ProofKind::NotYetPrinted, Some(_)) => Err(ProofError::UnexpectedDigest),
            (ProofKind::File, Some(d)) => Ok(LetterProof::File(d)),
            (ProofKind::Printed, Some(d)) => Ok(LetterProof::Printed(d)),
            (k, None) => Err(ProofError::MissingDigest { kind: k.as_str() }),
        }
    }

    /// The letter went (or goes) into a print file, not a file of its own.
    pub fn in_print_file(&self) -> bool {
        !matches!(self, LetterProof::File(_))
    }
}

/// The one text form of a proof, as the manifest and batch.json have always
/// shown it: a file's hex SHA-256, `content-sha256:<hex>`, or
/// `not-yet-printed`.
impl fmt::Display for LetterProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LetterProof::File(d) => write!(f, "{d}"),
            LetterProof::Printed(d) => write!(f, "{}:{d}", ProofKind::Printed.as_str()),
            LetterProof::NotYetPrinted => f.write_str(ProofKind::NotYetPrinted.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn each_kind_reads_back_from_its_parts() {
        for proof in [
            LetterProof::File(Sha256Hex::parse(HEX).unwrap()),
            LetterProof::Printed(Sha256Hex::parse(HEX).unwrap()),
            LetterProof::NotYetPrinted,
        ] {
            let digest = proof.digest().map(Sha256Hex::as_str);
            assert_eq!(
                LetterProof::from_parts(proof.kind().as_str(), digest),
                Ok(proof.clone())
            );
        }
    }

    #[test]
    fn an_unknown_or_malformed_proof_is_refused_not_read_as_a_file_hash() {
        let bad = [
            ("sha256", Some(HEX)),
            ("file-sha256", Some("(the rebuilt PDF cannot be read back)")),
            ("file-sha256", Some(&HEX[..63])),
            ("file-sha256", None),
            ("content-sha256", None),
            ("not-yet-printed", Some(HEX)),
        ];
        for (kind, digest) in bad {
            assert!(
                LetterProof::from_parts(kind, digest).is_err(),
                "{kind} {digest:?} was accepted"
            );
        }
    }

    #[test]
    fn a_digest_is_its_text_in_json_and_nothing_else_reads_as_one() {
        let d = Sha256Hex::parse(HEX).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{HEX}\""));
        assert_eq!(serde_json::from_str::<Sha256Hex>(&json).unwrap(), d);
        let err = serde_json::from_str::<Sha256Hex>("\"ab\"").unwrap_err();
        assert!(err.to_string().contains("not a SHA-256 digest"), "{err}");
    }

    #[test]
    fn the_text_form_is_the_one_the_manifest_always_carried() {
        let d = Sha256Hex::parse(&HEX.to_uppercase()).unwrap();
        assert_eq!(LetterProof::File(d.clone()).to_string(), HEX);
        assert_eq!(
            LetterProof::Printed(d).to_string(),
            format!("content-sha256:{HEX}")
        );
        assert_eq!(LetterProof::NotYetPrinted.to_string(), "not-yet-printed");
    }
}
