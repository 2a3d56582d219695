//! Where the ledger lives, parsed once from what the user wrote after
//! `--ledger` (or in [`LEDGER_ENV`]) into a [`LedgerLocation`]:
//!
//! - `postgres://...` or `postgresql://...`: the shared [`PostgresLedger`]
//!   on a PostgreSQL server (several hosts at once);
//! - anything else: a path to a [`SqliteLedger`] file (one host).
//!
//! When `--ledger` is not given, the environment variable
//! [`LEDGER_ENV`] (`ACCESS_LETTERS_LEDGER`) is used, and failing that the
//! caller's default path. So a support desk can set
//! `ACCESS_LETTERS_LEDGER=postgres://desk@ledger-db/ledger` once and run
//! `access-letters status RECEIPT` with no flags.
//!
//! A PostgreSQL URL may hold a password: [`PostgresUrl`] shows it neither
//! in `Display` nor in `Debug`, so a location can be logged or put in an
//! error as it is.
//!
//! Creating is the caller's choice, never made here: [`LedgerLocation::open_existing`]
//! opens a ledger that is already there (no run lock, never a new file);
//! a new SQLite ledger is made with [`SqliteLedger::create`], because a
//! missing ledger quietly created would issue every filing again (the CLI's
//! `Place` does this, with the lock file).

use std::fmt;
use std::path::{Path, PathBuf};

use super::postgres::redact_url;
use super::{Ledger, LedgerError, PostgresLedger, SqliteLedger};

/// The environment variable that names the ledger when `--ledger` is not
/// given: a PostgreSQL URL or a SQLite file path.
pub const LEDGER_ENV: &str = "ACCESS_LETTERS_LEDGER";

/// Where a ledger lives: a SQLite file or a PostgreSQL server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerLocation {
    /// A SQLite file, on this host.
    Sqlite(PathBuf),
    /// A PostgreSQL server, shared by several hosts.
    Postgres(PostgresUrl),
}

/// A `postgres://` or `postgresql://` URL. It may hold a password, so it is
/// shown (`Display`, `Debug`) without it; [`PostgresUrl::expose`] gives the
/// whole URL to the one caller that connects.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The whole URL, password included: for connecting, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

impl LedgerLocation {
    /// A URL whose scheme is `postgres` or `postgresql` (any case) names a
    /// server; everything else is a file path.
    pub fn parse(spec: &str) -> LedgerLocation {
        let lower = spec.trim_start().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            LedgerLocation::Postgres(PostgresUrl(spec.trim().to_string()))
        } else {
            LedgerLocation::Sqlite(PathBuf::from(spec))
        }
    }

    /// The `--ledger` value if given, else [`LEDGER_ENV`] if set and not
    /// empty, else `None` (the caller's default path).
    pub fn from_flag_or_env(cli_value: Option<&str>) -> Option<LedgerLocation> {
        spec_from(cli_value, std::env::var(LEDGER_ENV).ok()).map(|s| LedgerLocation::parse(&s))
    }

    /// The SQLite file, if it is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            LedgerLocation::Sqlite(path) => Some(path),
            LedgerLocation::Postgres(_) => None,
        }
    }

    /// Opens the ledger that is there, as `verify` and `serve` do: no run
    /// lock, never a new SQLite file.
    pub fn open_existing(&self) -> Result<Box<dyn Ledger>, LedgerError> {
        Ok(match self {
            LedgerLocation::Sqlite(path) => Box::new(SqliteLedger::open_existing(path)?),
            LedgerLocation::Postgres(url) => Box::new(PostgresLedger::connect(url.expose())?),
        })
    }
}

impl fmt::Display for LedgerLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerLocation::Sqlite(path) => write!(f, "{}", path.display()),
            LedgerLocation::Postgres(url) => url.fmt(f),
        }
    }
}

fn spec_from(cli_value: Option<&str>, env_value: Option<String>) -> Option<String> {
    match cli_value {
        Some(v) => Some(v.to_string()),
        None => env_value.filter(|v| !v.trim().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_postgres(spec: &str) -> bool {
        matches!(LedgerLocation::parse(spec), LedgerLocation::Postgres(_))
    }

    #[test]
    fn both_url_schemes_pick_postgres_and_everything_else_is_a_file() {
        assert!(is_postgres("postgres://u@h/db"));
        assert!(is_postgres("postgresql://u@h/db"));
        assert!(is_postgres("PostgreSQL://u@h/db"));
        assert!(!is_postgres("output/ledger.sqlite"));
        assert!(!is_postgres("/var/lib/postgres/ledger.sqlite"));
        assert!(!is_postgres("postgres.sqlite"));
    }

    #[test]
    fn a_path_is_kept_as_written() {
        let at = LedgerLocation::parse("output/ledger.sqlite");
        assert_eq!(at.sqlite_path(), Some(Path::new("output/ledger.sqlite")));
        assert_eq!(at.to_string(), "output/ledger.sqlite");
    }

    #[test]
    fn a_password_is_never_shown_by_display_or_debug() {
        for url in [
            "postgres://issuer:s3cret@db/ledger",
            "postgresql://issuer@db/ledger?sslmode=require&password=s3cret",
        ] {
            let at = LedgerLocation::parse(url);
            let LedgerLocation::Postgres(pg) = &at else {
                panic!("{url} is a PostgreSQL URL");
            };
            assert_eq!(pg.expose(), url, "the connecting caller gets it whole");
            for shown in [at.to_string(), format!("{at:?}"), format!("{pg:#?}")] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(shown.contains("issuer@db/ledger"), "{shown}");
            }
            assert_eq!(at.sqlite_path(), None);
        }
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_an_empty_variable_is_unset() {
        let env = || Some("postgres://desk@db/ledger".to_string());
        assert_eq!(
            spec_from(Some("a.sqlite"), env()).as_deref(),
            Some("a.sqlite")
        );
        assert_eq!(
            spec_from(None, env()).as_deref(),
            Some("postgres://desk@db/ledger")
        );
        assert_eq!(spec_from(None, Some("  ".into())), None);
        assert_eq!(spec_from(None, None), None);
    }
}
