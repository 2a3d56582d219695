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
//! * Errors name the file and what is wrong, and never contain any part of
//!   the secret; `Debug` of a key shows its id only. The key's own copies of
//!   the secret and the subkeys are overwritten with zeros when it is dropped
//!   (best effort: transient parse buffers are not scrubbed).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of a key secret and of each derived subkey.
pub const SECRET_LEN_BYTES: usize = 32;

/// Longest accepted key id.
pub const KEY_ID_MAX_CHARS: usize = 64;

/// Key ids starting with this prefix mark published test keys.
pub const TEST_KEY_ID_PREFIX: &str = "test-";

/// A key file is a few lines; anything larger is not a key file and is
/// refused before it is read into memory.
const KEY_FILE_MAX_BYTES: u64 = 4096;

/// Mode given to new key files, and the only permission bits a production
/// key file may have (owner read/write).
#[cfg(unix)]
const KEY_FILE_MODE: u32 = 0o600;

/// Permission bits for group and other users.
#[cfg(unix)]
const GROUP_OTHER_MODE_BITS: u32 = 0o077;

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
    #[error("{} is not a key file: it is larger than {KEY_FILE_MAX_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
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
        zero(&mut secret);
        key
    }

    /// Reads and checks a key file. See the module documentation for the
    /// format and the permission rule.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        let read_err = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(read_err)?;
        if meta.len() > KEY_FILE_MAX_BYTES {
            return Err(KeyError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = fs::read_to_string(path).map_err(read_err)?;
        let parsed = parse_key_file(&text);
        zero_string(text);
        let key = parsed.map_err(|e| match e {
            ParseError::Syntax { line } => KeyError::Syntax {
                path: path.to_path_buf(),
                line,
            },
            ParseError::Invalid(problem) => KeyError::Invalid {
                path: path.to_path_buf(),
                problem,
            },
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & GROUP_OTHER_MODE_BITS != 0 && !key.is_test() {
                return Err(KeyError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        Ok(key)
    }

    /// Writes this key to a new file with mode 0600 and flushes it to disk.
    /// Refuses to replace an existing file. A partly written file is removed.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(KEY_FILE_MODE);
        }
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                KeyError::Write {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let mut text = self.file_text();
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        zero_string(std::mem::take(&mut text));
        if let Err(source) = written {
            drop(file);
            // Leave no half-written key file that a later run could trust.
            let _ = fs::remove_file(path);
            return Err(KeyError::Write {
                path: path.to_path_buf(),
                source,
            });
        }
        sync_parent_dir(path).map_err(|source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The public key id, recorded with every issuance.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A published test key (id starts with `test-`): its letters carry a
    /// SPECIMEN watermark and its batches are marked test.
    pub fn is_test(&self) -> bool {
        self.id.starts_with(TEST_KEY_ID_PREFIX)
    }

    /// Subkey that seeds code derivation.
    pub(crate) fn code_subkey(&self) -> &[u8; SECRET_LEN_BYTES] {
        &self.code_subkey
    }

    /// Subkey that keys code fingerprints.
    pub(crate) fn fingerprint_subkey(&self) -> &[u8; SECRET_LEN_BYTES] {
        &self.fingerprint_subkey
    }

    fn file_text(&self) -> String {
        format!(
            "# access-letters key file. Keep secret. Mode 0600.\nkey_id = \"{}\"\nsecret = \"{}\"\n",
            self.id,
            hex::encode(self.secret)
        )
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
        zero(&mut self.secret);
        zero(&mut self.code_subkey);
        zero(&mut self.fingerprint_subkey);
    }
}

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

enum ParseError {
    Syntax { line: usize },
    Invalid(String),
}

fn parse_key_file(text: &str) -> Result<Key, ParseError> {
    // Parsed as a generic table, not with serde into a struct: serde's type
    // errors quote the offending value, which could be the secret.
    let table: toml::Table = toml::from_str(text).map_err(|e| ParseError::Syntax {
        line: e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1),
    })?;
    if let Some(unknown) = table
        .keys()
        .find(|k| !matches!(k.as_str(), "key_id" | "secret"))
    {
        return Err(ParseError::Invalid(format!(
            "unknown field `{unknown}` (only `key_id` and `secret` are allowed)"
        )));
    }
    let id = match table.get("key_id") {
        None => return Err(ParseError::Invalid("the `key_id` line is missing".into())),
        Some(toml::Value::String(s)) => s,
        Some(_) => {
            return Err(ParseError::Invalid(
                "`key_id` must be a quoted string".into(),
            ))
        }
    };
    validate_id(id).map_err(|problem| ParseError::Invalid(format!("key_id '{id}': {problem}")))?;
    let secret_hex = match table.get("secret") {
        None => return Err(ParseError::Invalid("the `secret` line is missing".into())),
        Some(toml::Value::String(s)) => s,
        Some(_) => {
            return Err(ParseError::Invalid(
                "`secret` must be a quoted string of 64 hexadecimal digits".into(),
            ))
        }
    };
    let digits = secret_hex.chars().count();
    if digits != 2 * SECRET_LEN_BYTES {
        return Err(ParseError::Invalid(format!(
            "`secret` must be {} hexadecimal digits ({SECRET_LEN_BYTES} bytes); it has {digits}",
            2 * SECRET_LEN_BYTES
        )));
    }
    let mut secret = [0u8; SECRET_LEN_BYTES];
    // The error is not shown: it would quote the offending character.
    hex::decode_to_slice(secret_hex, &mut secret).map_err(|_| {
        ParseError::Invalid(
            "`secret` contains a character that is not a hexadecimal digit (0-9, a-f)".into(),
        )
    })?;
    let key = Key::from_parts(id, secret).map_err(|e| ParseError::Invalid(e.to_string()));
    zero(&mut secret);
    key
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

/// Overwrites secret bytes with zeros in a way the optimiser may not drop
/// as a dead store.
fn zero(bytes: &mut [u8; SECRET_LEN_BYTES]) {
    // SAFETY: `bytes` is a valid, aligned, exclusive reference to the array.
    unsafe { std::ptr::write_volatile(bytes, [0u8; SECRET_LEN_BYTES]) };
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Scrubs a string that held the secret in hex before freeing it.
fn zero_string(text: String) {
    let mut bytes = text.into_bytes();
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference to one byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Makes the new directory entry durable too, not only the file contents.
#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/test.key");
    const SECRET: [u8; 32] = [0xA5; 32];

    fn write_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    fn key_text(id: &str, secret_hex: &str) -> String {
        format!("# comment\nkey_id = \"{id}\"\nsecret = \"{secret_hex}\"\n")
    }

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
    fn fixture_key_loads_and_is_a_test_key() {
        let key = Key::load(Path::new(FIXTURE_KEY_PATH)).unwrap();
        assert_eq!(key.id(), "test-fixture-0001");
        assert!(key.is_test());
        assert_eq!(
            hex::encode(key.secret),
            "d9698b6bf16838f7df1ef021f4a37f12d30a93f8327989672b971f1bd8f3764d"
        );
    }

    #[test]
    fn write_new_then_load_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.key");
        let id = new_key_id(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let key = Key::generate(&id).unwrap();
        key.write_new(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o600);
        }
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# access-letters key file. Keep secret. Mode 0600.\n"));
        let loaded = Key::load(&path).unwrap();
        assert_eq!(loaded.id(), id);
        assert!(!loaded.is_test());
        assert_eq!(loaded.secret, key.secret);
        assert_eq!(loaded.code_subkey(), key.code_subkey());
    }

    #[test]
    fn write_new_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "prod.key", "precious", 0o600);
        let key = Key::generate("prod-x").unwrap();
        let err = key.write_new(&path).unwrap_err();
        assert!(matches!(err, KeyError::AlreadyExists { .. }), "{err:?}");
        assert!(err.to_string().contains("already exists"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
    }

    #[cfg(unix)]
    #[test]
    fn production_key_readable_by_others_is_refused_with_chmod_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            dir.path(),
            "prod.key",
            &key_text("prod-2026-11-25-a1b2", &hex::encode(SECRET)),
            0o644,
        );
        let err = Key::load(&path).unwrap_err();
        assert!(matches!(err, KeyError::Permissions { mode: 0o644, .. }));
        let msg = err.to_string();
        assert!(msg.contains("(mode 0644)"), "{msg}");
        assert!(
            msg.contains(&format!("chmod 600 {}", path.display())),
            "{msg}"
        );
        // Group-only bits are refused too.
        let path = write_file(
            dir.path(),
            "prod2.key",
            &key_text("prod-2", &hex::encode(SECRET)),
            0o640,
        );
        assert!(matches!(
            Key::load(&path),
            Err(KeyError::Permissions { mode: 0o640, .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn test_key_readable_by_others_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            dir.path(),
            "t.key",
            &key_text("test-abc", &hex::encode(SECRET)),
            0o644,
        );
        let key = Key::load(&path).unwrap();
        assert!(key.is_test());
    }

    #[test]
    fn malformed_key_files_are_refused_without_echoing_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let good_hex = hex::encode(SECRET);
        let bad_hex = format!("{}zz", &good_hex[..62]);
        let cases: Vec<(String, &str)> = vec![
            (
                format!("key_id = \"prod-a\"\nsecret = \"{good_hex}"),
                "not valid TOML (near line 2)",
            ),
            (
                "key_id = \"prod-a\"\n".to_string(),
                "`secret` line is missing",
            ),
            (
                format!("secret = \"{good_hex}\"\n"),
                "`key_id` line is missing",
            ),
            (
                format!("key_id = \"prod-a\"\nsecret = \"{}\"\n", &good_hex[..60]),
                "it has 60",
            ),
            (
                format!("key_id = \"prod-a\"\nsecret = \"{bad_hex}\"\n"),
                "not a hexadecimal digit",
            ),
            (
                "key_id = \"prod-a\"\nsecret = 12345\n".to_string(),
                "must be a quoted string",
            ),
            (
                format!("key_id = \"prod a\"\nsecret = \"{good_hex}\"\n"),
                "may contain only",
            ),
            (
                format!("key_id = \"\"\nsecret = \"{good_hex}\"\n"),
                "cannot be empty",
            ),
            (
                format!("key_id = \"prod-a\"\nsecret = \"{good_hex}\"\nsecrett = \"{good_hex}\"\n"),
                "unknown field `secrett`",
            ),
        ];
        for (i, (text, expected)) in cases.iter().enumerate() {
            let path = write_file(dir.path(), &format!("k{i}.key"), text, 0o600);
            let err = Key::load(&path).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(expected), "case {i}: {msg}");
            assert!(msg.contains(&path.display().to_string()), "case {i}: {msg}");
            for shown in [msg, format!("{err:?}")] {
                assert!(!shown.contains(&good_hex[..16]), "case {i}: {shown}");
                assert!(!shown.contains(&bad_hex[48..]), "case {i}: {shown}");
            }
        }
    }

    #[test]
    fn missing_and_oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.key");
        let err = Key::load(&missing).unwrap_err();
        assert!(matches!(err, KeyError::Read { .. }));
        assert!(err.to_string().contains("nope.key"));
        let big = write_file(dir.path(), "big.key", &"#".repeat(5000), 0o600);
        assert!(matches!(Key::load(&big), Err(KeyError::TooLarge { .. })));
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

    #[test]
    fn key_ring_load_reads_all_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = write_file(
            dir.path(),
            "old.key",
            &key_text("prod-old", &hex::encode([3u8; 32])),
            0o600,
        );
        let fixture = Path::new(FIXTURE_KEY_PATH);
        let ring = KeyRing::load(fixture, std::slice::from_ref(&old)).unwrap();
        assert_eq!(ring.current().id(), "test-fixture-0001");
        assert_eq!(ring.get("prod-old").unwrap().secret, [3; 32]);
        let err = KeyRing::load(fixture, &[fixture.to_path_buf()]).unwrap_err();
        assert!(matches!(err, KeyError::DuplicateId { .. }));
    }
}
