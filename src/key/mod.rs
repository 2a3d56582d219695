//! The secret key that access codes are derived from, and the ring of keys
//! that verification consults.
//!
//! # Model
//!
//! A [`Key`] is 32 random bytes plus a public key id. Codes are never stored:
//! each one is recomputed from the key, the receipt number and the issue
//! number (see [`crate::code`]). Whoever holds the key can therefore compute
//! every code ever mailed under it, so the key file is the one secret of the
//! system. The key is never used directly: two *subkeys* are derived from it
//! with HMAC-SHA256 under distinct labels,
//!
//! * `access-letters/v1/code` seeds the code derivation, and
//! * `access-letters/v1/fingerprint` keys the fingerprints the ledger keeps,
//!
//! so a fingerprint can never be mistaken for (or help compute) a code seed.
//!
//! A [`KeyRing`] holds several keys by id, one of them *current*. New letters
//! use the current key; every issuance records the id of the key that made
//! it, so codes mailed before a key rotation still verify as long as the old
//! key file is loaded alongside the new one.
//!
//! # Key file format
//!
//! A small TOML file, readable by a person:
//!
//! ```toml
//! # access-letters key file. Keep secret. Mode 0600.
//! key_id = "prod-2026-11-25-a1b2c3d4"
//! secret = "<64 hexadecimal digits = 32 bytes>"
//! ```
//!
//! * `key_id`: 1 to 64 ASCII letters, digits, `-`, `_` or `.`. It is printed
//!   in `batch.json` and the ledger, so it must not be secret.
//! * `secret`: exactly 64 hexadecimal digits (either case).
//! * Comments are allowed; any other field is refused so a typo cannot
//!   silently go unnoticed.
//!
//! # Guarantees
//!
//! * On Unix a key file with any group or other permission bit set is
//!   refused, with the `chmod` command that fixes it. The one exception is a
//!   key whose id starts with `test-`: the fixture key is committed to git,
//!   cannot keep mode 0600 through a clone, and protects nothing anyway. A
//!   test key is self-defeating as a way round the check: every letter made
//!   with it carries a SPECIMEN watermark.
//! * [`Key::write_new`] creates a file with mode 0600 and never overwrites
//!   an existing one.
//! * A key file must be a regular file of at most [`KEY_FILE_MAX_BYTES`]
//!   bytes: a FIFO, a device such as `/dev/zero` or a folder is refused
//!   before anything is read, and the read itself stops one byte past the
//!   limit, so even a file that grows while it is read cannot exhaust memory.
//! * Errors name the file and what is wrong, and never contain any part of
//!   the secret; `Debug` of a key shows its id only. The key's own copies of
//!   the secret and the subkeys are overwritten with zeros when it is dropped
//!   (with [`zeroize`]), and so are the file text and the parse buffers
//!   (best effort: the TOML parser's own copies are not scrubbed).

mod file;
mod mode;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use file::KEY_FILE_MAX_BYTES;
pub use mode::KeyMode;

/// Length of a key secret and of each derived subkey.
pub const SECRET_LEN_BYTES: usize = 32;

/// Longest accepted key id.
pub const KEY_ID_MAX_CHARS: usize = 64;

/// Key ids starting with this prefix mark published test keys.
pub const TEST_KEY_ID_PREFIX: &str = "test-";

const CODE_SUBKEY_LABEL: &[u8] = b"access-letters/v1/code";
const FINGERPRINT_SUBKEY_LABEL: &[u8] = b"access-letters/v1/fingerprint";

/// What can go wrong loading, creating or combining keys. Every message
/// names the file (when there is one) and never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {} is not a regular file (a key file cannot be a folder, a device or a pipe)", path.display())]
    NotAFile { path: PathBuf },
    #[error("key file {} is {bytes} bytes; a key file is at most {KEY_FILE_MAX_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf, bytes: u64 },
    #[error("key file {} is not valid TOML (near line {line}); expected `key_id = \"...\"` and `secret = \"...\"`", path.display())]
    Syntax { path: PathBuf, line: usize },
    #[error("key file {} is not usable: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    #[error("key file {} is open to other users (mode {mode:04o}); run `chmod 600 {}` so only its owner can read it", path.display(), path.display())]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key file {} already exists; refusing to overwrite it (choose another path, or move the old file away first)", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("cannot write key file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid key id '{id}': {problem}")]
    InvalidId { id: String, problem: String },
    #[error("key id '{id}' is loaded twice; each key in the key ring needs its own id")]
    DuplicateId { id: String },
    #[error("the operating system could not supply random bytes for a new key: {reason}")]
    Entropy { reason: String },
}

/// A secret key and its public id. See the module documentation.
#[derive(Clone)]
pub struct Key {
    id: String,
    secret: [u8; SECRET_LEN_BYTES],
    code_subkey: [u8; SECRET_LEN_BYTES],
    fingerprint_subkey: [u8; SECRET_LEN_BYTES],
}

impl Key {
    /// Builds a key from its parts (tests, and the loaders below). Fails only
    /// when the id is not a valid key id.
    pub fn from_parts(id: &str, secret: [u8; SECRET_LEN_BYTES]) -> Result<Key, KeyError> {
        validate_id(id).map_err(|problem| KeyError::InvalidId {
            id: id.to_string(),
            problem,
        })?;
        Ok(Key {
            id: id.to_string(),
            code_subkey: hmac_sha256(&secret, &[CODE_SUBKEY_LABEL]),
            fingerprint_subkey: hmac_sha256(&secret, &[FINGERPRINT_SUBKEY_LABEL]),
            secret,
        })
    }

    /// A new key with a secret drawn straight from the operating system's
    /// random source.
    pub fn generate(id: &str) -> Result<Key, KeyError> {
        use rand::TryRng;
        let mut secret = [0u8; SECRET_LEN_BYTES];
        rand::rngs::SysRng
            .try_fill_bytes(&mut secret)
            .map_err(|e| KeyError::Entropy {
                reason: e.to_string(),
            })?;
        let key = Key::from_parts(id, secret);
        secret.zeroize();
        key
    }

    /// The public key id, recorded with every issuance.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// [`KeyMode::Test`] for a published test key (id starts with `test-`):
    /// its letters carry a SPECIMEN watermark and its batches are marked
    /// test.
    pub fn mode(&self) -> KeyMode {
        KeyMode::of_key_id(&self.id)
    }

    /// Subkey that seeds code derivation.
    pub(crate) fn code_subkey(&self) -> &[u8; SECRET_LEN_BYTES] {
        &self.code_subkey
    }

    /// Subkey that keys code fingerprints.
    pub(crate) fn fingerprint_subkey(&self) -> &[u8; SECRET_LEN_BYTES] {
        &self.fingerprint_subkey
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.secret.zeroize();
        self.code_subkey.zeroize();
        self.fingerprint_subkey.zeroize();
    }
}

impl ZeroizeOnDrop for Key {}

/// A fresh production key id: `prod-<date>-<8 random hex digits>`. The random
/// part keeps two keys made on the same day apart; it need not be secret.
pub fn new_key_id(date: NaiveDate) -> String {
    format!(
        "prod-{}-{:08x}",
        date.format("%Y-%m-%d"),
        rand::random::<u32>()
    )
}

/// Several keys by id, one of them current (used for new issuances).
#[derive(Clone)]
pub struct KeyRing {
    /// The current key is always `keys[0]`; ids are unique.
    keys: Vec<Key>,
}

impl KeyRing {
    /// A ring with just one key, which is current.
    pub fn single(key: Key) -> KeyRing {
        KeyRing { keys: vec![key] }
    }

    /// A ring of `current` plus older keys kept for verification.
    pub fn new(current: Key, others: Vec<Key>) -> Result<KeyRing, KeyError> {
        let mut keys = Vec::with_capacity(1 + others.len());
        keys.push(current);
        for key in others {
            if keys.iter().any(|k| k.id == key.id) {
                return Err(KeyError::DuplicateId { id: key.id.clone() });
            }
            keys.push(key);
        }
        Ok(KeyRing { keys })
    }

    /// Loads the current key file and the older ones.
    pub fn load(current: &Path, others: &[PathBuf]) -> Result<KeyRing, KeyError> {
        let current = Key::load(current)?;
        let others = others
            .iter()
            .map(|p| Key::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        KeyRing::new(current, others)
    }

    /// The key new codes are issued under.
    pub fn current(&self) -> &Key {
        &self.keys[0]
    }

    /// The key with this id, if loaded.
    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Ids of all loaded keys, current first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current().id)
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC is defined for keys of every length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC-SHA256 accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("a key id cannot be empty".into());
    }
    if id.chars().count() > KEY_ID_MAX_CHARS {
        return Err(format!(
            "a key id has at most {KEY_ID_MAX_CHARS} characters"
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("a key id may contain only ASCII letters, digits, '-', '_' and '.'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [0xA5; 32];

    #[test]
    fn hmac_helper_matches_rfc4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn subkeys_differ_from_each_other_and_from_the_secret() {
        let key = Key::from_parts("test-a", SECRET).unwrap();
        assert_ne!(key.code_subkey(), key.fingerprint_subkey());
        assert_ne!(key.code_subkey(), &SECRET);
        assert_eq!(
            key.code_subkey(),
            &hmac_sha256(&SECRET, &[b"access-letters/v1/code"])
        );
        assert_eq!(
            key.fingerprint_subkey(),
            &hmac_sha256(&SECRET, &[b"access-letters/v1/fingerprint"])
        );
        let other = Key::from_parts("test-a", [0x5A; 32]).unwrap();
        assert_ne!(key.code_subkey(), other.code_subkey());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let key = Key::from_parts("test-dbg", SECRET).unwrap();
        let secret_hex = hex::encode(SECRET);
        let ring = KeyRing::single(key.clone());
        for shown in [format!("{key:?}"), format!("{key:#?}"), format!("{ring:?}")] {
            assert!(shown.contains("test-dbg"), "{shown}");
            assert!(!shown.contains(&secret_hex[..8]), "{shown}");
            assert!(!shown.contains("165"), "{shown}"); // 0xA5 in decimal
        }
        assert_eq!(
            format!("{key:?}"),
            "Key { id: \"test-dbg\", secret: \"<redacted>\" }"
        );
    }

    #[test]
    fn generate_draws_distinct_secrets_and_checks_the_id() {
        let a = Key::generate("prod-a").unwrap();
        let b = Key::generate("prod-a").unwrap();
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.secret, [0u8; 32]);
        assert!(matches!(
            Key::generate("no spaces"),
            Err(KeyError::InvalidId { .. })
        ));
        assert!(matches!(
            Key::from_parts(&"x".repeat(65), SECRET),
            Err(KeyError::InvalidId { .. })
        ));
    }

    #[test]
    fn new_key_id_has_date_and_random_suffix() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let a = new_key_id(date);
        let b = new_key_id(date);
        assert!(a.starts_with("prod-2026-11-25-"), "{a}");
        let suffix = &a["prod-2026-11-25-".len()..];
        assert_eq!(suffix.len(), 8);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(validate_id(&a).is_ok());
    }

    #[test]
    fn key_ring_finds_keys_and_refuses_duplicate_ids() {
        let current = Key::from_parts("prod-new", SECRET).unwrap();
        let old = Key::from_parts("prod-old", [1; 32]).unwrap();
        let ring = KeyRing::new(current, vec![old]).unwrap();
        assert_eq!(ring.current().id(), "prod-new");
        assert_eq!(ring.get("prod-old").unwrap().secret, [1; 32]);
        assert!(ring.get("prod-other").is_none());
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["prod-new", "prod-old"]);

        let err = KeyRing::new(
            Key::from_parts("prod-a", SECRET).unwrap(),
            vec![Key::from_parts("prod-a", [2; 32]).unwrap()],
        )
        .unwrap_err();
        assert!(matches!(&err, KeyError::DuplicateId { id } if id == "prod-a"));
    }
}
