//! Key files: reading one safely (bounded, never blocking, permissions
//! checked) and writing a new one with mode 0600.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use zeroize::{Zeroize, Zeroizing};

use super::{validate_id, Key, KeyError, KeyMode, SECRET_LEN_BYTES};

/// A key file is a few lines; anything larger is not a key file and is
/// refused before it is read into memory.
pub const KEY_FILE_MAX_BYTES: u64 = 4096;

/// Mode given to new key files, and the only permission bits a production
/// key file may have (owner read/write).
#[cfg(unix)]
const KEY_FILE_MODE: u32 = 0o600;

/// Permission bits for group and other users.
#[cfg(unix)]
const GROUP_OTHER_MODE_BITS: u32 = 0o077;

impl Key {
    /// Reads and checks a key file. See the module documentation for the
    /// format and the permission rule.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        let (text, meta) = read_key_file(path)?;
        let key = parse_key_file(&text).map_err(|e| match e {
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
            if mode & GROUP_OTHER_MODE_BITS != 0 && key.mode() == KeyMode::Production {
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
        let text = self.file_text();
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        drop(text);
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

    fn file_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# access-letters key file. Keep secret. Mode 0600.\nkey_id = \"{}\"\nsecret = \"{}\"\n",
            self.id,
            hex::encode(self.secret)
        ))
    }
}

/// Opens a key file without blocking (a FIFO would otherwise wait for a
/// writer), checks on the open handle that it is a regular file of at most
/// [`KEY_FILE_MAX_BYTES`], and reads at most one byte more than that, so a
/// file that lies about its size is caught too.
fn read_key_file(path: &Path) -> Result<(Zeroizing<String>, fs::Metadata), KeyError> {
    let read_err = |source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(
            (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32,
        );
    }
    let file = options.open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let too_large = |bytes| KeyError::TooLarge {
        path: path.to_path_buf(),
        bytes,
    };
    if meta.len() > KEY_FILE_MAX_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_FILE_MAX_BYTES as usize + 1));
    file.take(KEY_FILE_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > KEY_FILE_MAX_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        // Scrub the rejected bytes; the error names no byte of them.
        e.into_bytes().zeroize();
        KeyError::Invalid {
            path: path.to_path_buf(),
            problem: "it is not UTF-8 text".into(),
        }
    })?;
    Ok((Zeroizing::new(text), meta))
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
    let mut secret = Zeroizing::new([0u8; SECRET_LEN_BYTES]);
    // The error is not shown: it would quote the offending character.
    hex::decode_to_slice(secret_hex, &mut *secret).map_err(|_| {
        ParseError::Invalid(
            "`secret` contains a character that is not a hexadecimal digit (0-9, a-f)".into(),
        )
    })?;
    if secret.iter().all(|b| *b == secret[0]) {
        // Which byte it is stays unsaid, like every byte of a secret.
        return Err(ParseError::Invalid(
            "`secret` has no randomness (its 32 bytes are all the same, as in a placeholder of zeros); make a new key with `access-letters keygen`".into(),
        ));
    }
    Key::from_parts(id, *secret).map_err(|e| ParseError::Invalid(e.to_string()))
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
    use std::path::PathBuf;

    use chrono::NaiveDate;

    use super::*;
    use crate::key::{new_key_id, KeyRing};

    const FIXTURE_KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/test.key");
    const SECRET: [u8; 32] = varied(0xA5);

    /// A secret whose bytes differ (a key file refuses all-equal bytes).
    const fn varied(seed: u8) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = seed.wrapping_add(i as u8 * 7);
            i += 1;
        }
        out
    }

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
    fn fixture_key_loads_and_is_a_test_key() {
        let key = Key::load(Path::new(FIXTURE_KEY_PATH)).unwrap();
        assert_eq!(key.id(), "test-fixture-0001");
        assert_eq!(key.mode(), KeyMode::Test);
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
        assert_eq!(loaded.mode(), KeyMode::Production);
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
        assert_eq!(key.mode(), KeyMode::Test);
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

    /// Runs `Key::load` on another thread and gives up after a few seconds,
    /// so a read that blocks or never ends fails the test instead of
    /// hanging it.
    fn load_within_seconds(path: &Path) -> Result<Key, KeyError> {
        const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(Key::load(&path));
        });
        rx.recv_timeout(LOAD_TIMEOUT)
            .expect("Key::load returns within the timeout")
    }

    /// Issue 12, finding 5: `--key /dev/zero` read until the machine ran out
    /// of memory.
    #[cfg(unix)]
    #[test]
    fn unbounded_key_read_dev_zero_is_refused_fast() {
        let err = load_within_seconds(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, KeyError::NotAFile { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("key file /dev/zero is not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn unbounded_key_read_one_megabyte_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = write_file(dir.path(), "big.key", &"#".repeat(1 << 20), 0o600);
        let err = load_within_seconds(&big).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::TooLarge {
                    bytes: 1_048_576,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "key file {} is 1048576 bytes; a key file is at most 4096 bytes",
                big.display()
            )
        );
        // One byte over the limit is refused, the limit itself is not a
        // size error.
        let over = write_file(dir.path(), "over.key", &"#".repeat(4097), 0o600);
        assert!(matches!(
            Key::load(&over),
            Err(KeyError::TooLarge { bytes: 4097, .. })
        ));
        let at = write_file(dir.path(), "at.key", &"#".repeat(4096), 0o600);
        assert!(matches!(Key::load(&at), Err(KeyError::Invalid { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn unbounded_key_read_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        // No writer ever opens the FIFO: a plain open would wait forever.
        let err = load_within_seconds(&fifo).unwrap_err();
        assert!(matches!(err, KeyError::NotAFile { .. }), "{err:?}");
    }

    #[test]
    fn unbounded_key_read_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_within_seconds(dir.path()).unwrap_err();
        // Some platforms refuse to open a folder at all; either way it is
        // not taken as a key.
        assert!(
            matches!(err, KeyError::NotAFile { .. } | KeyError::Read { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn key_file_that_is_not_utf8_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin.key");
        fs::write(&path, [0xA5u8; 64]).unwrap();
        let err = Key::load(&path).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        assert!(!format!("{err:?}").contains("165"), "{err:?}");
    }
    #[test]
    fn secret_with_all_bytes_equal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for byte in [0u8, 0xFF, 0x41] {
            let path = write_file(
                dir.path(),
                "flat.key",
                &key_text("prod-flat", &hex::encode([byte; 32])),
                0o600,
            );
            let err = Key::load(&path).unwrap_err().to_string();
            assert!(err.contains("no randomness"), "{err}");
            assert!(err.contains("keygen"), "{err}");
        }
        // One differing byte is enough to be a key (entropy is keygen's job).
        let mut almost = [0u8; 32];
        almost[31] = 1;
        let path = write_file(
            dir.path(),
            "ok.key",
            &key_text("prod-ok", &hex::encode(almost)),
            0o600,
        );
        assert!(Key::load(&path).is_ok());
    }

    #[test]
    fn key_ring_load_reads_all_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = write_file(
            dir.path(),
            "old.key",
            &key_text("prod-old", &hex::encode(varied(3))),
            0o600,
        );
        let fixture = Path::new(FIXTURE_KEY_PATH);
        let ring = KeyRing::load(fixture, std::slice::from_ref(&old)).unwrap();
        assert_eq!(ring.current().id(), "test-fixture-0001");
        assert_eq!(ring.get("prod-old").unwrap().secret, varied(3));
        let err = KeyRing::load(fixture, &[fixture.to_path_buf()]).unwrap_err();
        assert!(matches!(err, KeyError::DuplicateId { .. }));
    }
}
