//! The clients of the service and their bearer tokens.
//!
//! A tokens file (TOML, mode 0600) lists each client: its name, the SHA-256
//! of its token, the routes it may call, which door it is and how many
//! requests a minute it may make. The token itself is shown once, by
//! `token add`, and never written anywhere: a token is 256 random bits, so
//! a plain SHA-256 of it cannot be searched back, and a stolen tokens file
//! lets nobody in. A presented token is hashed and compared with every
//! client's hash in constant time.
//!
//! The door decides how much a client may learn: the account portal (the
//! public's door) is told an unknown receipt exactly as a wrong code, and
//! it is counted as one, so the API cannot be used to find which receipts
//! have codes; the support desk may see "unknown".

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ops::Door;
use crate::output::{write_atomic, Flush};

/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;
/// What every token starts with, so a leaked one is easy to recognise.
const TOKEN_PREFIX: &str = "alt_";
/// The per-minute limit `token add` gives when none is named.
pub const DEFAULT_PER_MINUTE: u32 = 600;
/// Longest client name.
const MAX_NAME_CHARS: usize = 64;

/// A route a client may be allowed to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Verify,
    Redeem,
    Revoke,
    Unlink,
    Status,
}

impl Route {
    pub const ALL: [Route; 5] = [
        Route::Verify,
        Route::Redeem,
        Route::Revoke,
        Route::Unlink,
        Route::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Verify => "verify",
            Route::Redeem => "redeem",
            Route::Revoke => "revoke",
            Route::Unlink => "unlink",
            Route::Status => "status",
        }
    }

    pub fn parse(s: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

/// Which door a client is (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientDoor {
    /// The account portal: unknown receipts look like wrong codes.
    Portal,
    /// The support desk: may see that a receipt is unknown.
    Desk,
}

impl ClientDoor {
    /// A client that may revoke, unlink or read histories is the desk; any other
    /// is the portal.
    pub fn for_routes(allow: &[Route]) -> ClientDoor {
        if allow
            .iter()
            .any(|r| matches!(r, Route::Revoke | Route::Unlink | Route::Status))
        {
            ClientDoor::Desk
        } else {
            ClientDoor::Portal
        }
    }
}

impl From<ClientDoor> for Door {
    fn from(door: ClientDoor) -> Door {
        match door {
            ClientDoor::Portal => Door::Portal,
            ClientDoor::Desk => Door::Desk,
        }
    }
}

/// One client as the tokens file holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub name: String,
    /// Hex SHA-256 of the token; never the token.
    pub token_sha256: String,
    pub allow: Vec<Route>,
    pub door: ClientDoor,
    /// Requests a minute, all routes together.
    pub per_minute: u32,
}

impl Client {
    pub fn may(&self, route: Route) -> bool {
        self.allow.contains(&route)
    }
}

/// The tokens file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    #[serde(default, rename = "client")]
    pub clients: Vec<Client>,
}

/// A token in clear: shown once, never logged.
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read the tokens file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("the tokens file {} is not valid: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write the tokens file {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "the tokens file {} is in a folder other users may write ({} is mode {mode:o}): \
         they could replace the file with one naming a client of their own; keep it in a \
         folder only its owner may write (chmod go-w {}, or move the file)",
        file.display(), folder.display(), folder.display()
    )]
    OpenFolder {
        file: PathBuf,
        folder: PathBuf,
        mode: u32,
    },
    #[error("{0}")]
    BadClient(String),
    #[error("cannot draw a random token: {0}")]
    Entropy(String),
}

fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Tokens {
    /// Reads and checks a tokens file.
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        check_folder(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| TokensError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        #[cfg(unix)]
        {
            // Whoever can write the file can add a client of their own.
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode());
            if mode & 0o022 != 0 {
                return Err(invalid(format!(
                    "it may be written by other users (mode {:o}); make it 0600 (chmod 600)",
                    mode & 0o777
                )));
            }
        }
        let tokens: Tokens = toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        tokens.check().map_err(invalid)?;
        Ok(tokens)
    }

    /// As [`Tokens::load`], and an empty list when the file does not exist
    /// yet (the first `token add`).
    pub fn load_or_new(path: &Path) -> Result<Tokens, TokensError> {
        check_folder(path)?;
        if path.symlink_metadata().is_err() {
            return Ok(Tokens::default());
        }
        Tokens::load(path)
    }

    fn check(&self) -> Result<(), String> {
        for (i, c) in self.clients.iter().enumerate() {
            check_name(&c.name)?;
            if self.clients[..i].iter().any(|o| o.name == c.name) {
                return Err(format!("client '{}' is listed twice", c.name));
            }
            let hex_ok =
                c.token_sha256.len() == 64 && c.token_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex_ok {
                return Err(format!(
                    "client '{}': token_sha256 must be 64 hex digits (a SHA-256), never the token",
                    c.name
                ));
            }
            if c.allow.is_empty() {
                return Err(format!("client '{}' is allowed no route", c.name));
            }
            if c.per_minute == 0 {
                return Err(format!(
                    "client '{}': per_minute must be at least 1",
                    c.name
                ));
            }
        }
        Ok(())
    }

    /// Adds a client with a new random token, which is returned (the file
    /// keeps only its hash).
    pub fn add(
        &mut self,
        name: &str,
        allow: &[Route],
        per_minute: u32,
    ) -> Result<Token, TokensError> {
        check_name(name).map_err(TokensError::BadClient)?;
        if self.clients.iter().any(|c| c.name == name) {
            return Err(TokensError::BadClient(format!(
                "client '{name}' already has a token; pick another name (or remove its entry from the file first)"
            )));
        }
        if allow.is_empty() || per_minute == 0 {
            return Err(TokensError::BadClient(
                "a client needs at least one allowed route and a limit of at least 1 a minute"
                    .into(),
            ));
        }
        let token = new_token()?;
        let mut allow = allow.to_vec();
        allow.dedup();
        self.clients.push(Client {
            name: name.to_string(),
            token_sha256: sha256_hex(token.expose()),
            door: ClientDoor::for_routes(&allow),
            allow,
            per_minute,
        });
        Ok(token)
    }

    /// Writes the file atomically, mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), TokensError> {
        let text = format!(
            "# Clients of `access-letters serve`: hashes of their tokens, never a token.\n\
             # Add one with `access-letters token add`.\n\n{}",
            toml::to_string(self).expect("the tokens file serialises")
        );
        write_atomic(path, text.as_bytes(), Flush::BeforeRename).map_err(|source| {
            TokensError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// The client whose token this is. Every client's hash is compared, in
    /// constant time, whichever matches.
    pub fn authenticate(&self, presented: &str) -> Option<&Client> {
        let digest = sha256_hex(presented);
        let mut found = None;
        for c in &self.clients {
            if bool::from(c.token_sha256.as_bytes().ct_eq(digest.as_bytes())) {
                found = Some(c);
            }
        }
        found
    }
}

/// Refuses a tokens file in a folder others may write: whoever may write
/// the folder may replace the file (a rename needs no right on the file),
/// however private the file itself is.
fn check_folder(path: &Path) -> Result<(), TokensError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let Ok(meta) = std::fs::metadata(folder) else {
            // A missing folder is reported by the read or the write.
            return Ok(());
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(TokensError::OpenFolder {
                file: path.to_path_buf(),
                folder: folder.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "client name '{name}' must be 1 to {MAX_NAME_CHARS} letters, digits, '-', '_' or '.'"
        ))
    }
}

fn new_token() -> Result<Token, TokensError> {
    use rand::TryRng;
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| TokensError::Entropy(e.to_string()))?;
    let token = Token(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)));
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_only_as_its_hash_and_authenticates() {
        let mut t = Tokens::default();
        let portal = t
            .add("portal", &[Route::Verify, Route::Redeem], 100)
            .unwrap();
        let desk = t.add("desk", &[Route::Verify, Route::Status], 10).unwrap();
        let text = toml::to_string(&t).unwrap();
        assert!(!text.contains(portal.expose()) && !text.contains(desk.expose()));
        assert_eq!(t.authenticate(portal.expose()).unwrap().name, "portal");
        assert_eq!(
            t.authenticate(desk.expose()).unwrap().door,
            ClientDoor::Desk
        );
        assert_eq!(t.clients[0].door, ClientDoor::Portal);
        assert!(t.authenticate("alt_00").is_none());
        assert!(t.add("portal", &[Route::Verify], 1).is_err());
        assert!(t.add("bad name", &[Route::Verify], 1).is_err());
        assert!(!format!("{portal:?}").contains(&portal.expose()[4..]));
        let back: Tokens = toml::from_str(&text).unwrap();
        assert_eq!(back, t);
        back.check().unwrap();
    }

    #[test]
    fn a_file_holding_a_clear_token_or_unknown_fields_is_refused() {
        let text = "[[client]]\nname = \"p\"\ntoken_sha256 = \"alt_123\"\nallow = [\"verify\"]\ndoor = \"portal\"\nper_minute = 5\n";
        let t: Tokens = toml::from_str(text).unwrap();
        assert!(t.check().unwrap_err().contains("64 hex"));
        let extra = text.replace("per_minute", "token = \"x\"\nper_minute");
        assert!(toml::from_str::<Tokens>(&extra).is_err());
    }
}
