//! Choosing the ledger backend from what the user wrote after `--ledger`.
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
//! For the CLI:
//!
//! ```text
//! let spec = ledger::ledger_spec(args.ledger.as_deref())
//!     .unwrap_or_else(|| default_path.display().to_string());
//! // A file ledger is still held by one run through its LedgerLock:
//! let _lock = if ledger::is_postgres_url(&spec) { None }
//!             else { Some(LedgerLock::acquire(Path::new(&spec))?) };
//! let mut ledger = ledger::open_any(&spec)?;
//! ledger.lock_batch(&batch_id)?;   // a no-op on SQLite
//! ```

use std::path::Path;

use super::{Ledger, LedgerError, PostgresLedger, SqliteLedger};

/// The environment variable that names the ledger when `--ledger` is not
/// given: a PostgreSQL URL or a SQLite file path.
pub const LEDGER_ENV: &str = "ACCESS_LETTERS_LEDGER";

/// True when `spec` names a PostgreSQL ledger rather than a file.
pub fn is_postgres_url(spec: &str) -> bool {
    let lower = spec.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The ledger the user asked for: the `--ledger` value if given, else
/// [`LEDGER_ENV`] if set and not empty, else `None` (use the default path).
pub fn ledger_spec(cli_value: Option<&str>) -> Option<String> {
    ledger_spec_from(cli_value, std::env::var(LEDGER_ENV).ok())
}

fn ledger_spec_from(cli_value: Option<&str>, env_value: Option<String>) -> Option<String> {
    match cli_value {
        Some(v) => Some(v.to_string()),
        None => env_value.filter(|v| !v.trim().is_empty()),
    }
}

/// Opens the ledger named by `spec`: PostgreSQL for a `postgres://` or
/// `postgresql://` URL, otherwise the SQLite file at that path (created
/// when new). A file ledger must still be locked by the caller with
/// [`LedgerLock`](super::LedgerLock) before it is opened; a PostgreSQL
/// ledger is shared, and a run claims its batch with
/// [`Ledger::lock_batch`].
pub fn open_any(spec: &str) -> Result<Box<dyn Ledger>, LedgerError> {
    if is_postgres_url(spec) {
        Ok(Box::new(PostgresLedger::connect(spec.trim())?))
    } else {
        Ok(Box::new(SqliteLedger::open(Path::new(spec))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_postgres_and_everything_else_is_a_file() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!is_postgres_url("output/ledger.sqlite"));
        assert!(!is_postgres_url("/var/lib/postgres/ledger.sqlite"));
        assert!(!is_postgres_url("postgres.sqlite"));
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_an_empty_variable_is_unset() {
        let env = || Some("postgres://desk@db/ledger".to_string());
        assert_eq!(
            ledger_spec_from(Some("a.sqlite"), env()).as_deref(),
            Some("a.sqlite")
        );
        assert_eq!(
            ledger_spec_from(None, env()).as_deref(),
            Some("postgres://desk@db/ledger")
        );
        assert_eq!(ledger_spec_from(None, Some("  ".into())), None);
        assert_eq!(ledger_spec_from(None, None), None);
    }

    #[test]
    fn open_any_opens_a_sqlite_file_for_a_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.sqlite");
        let ledger = open_any(path.to_str().expect("utf-8 path")).expect("opens");
        assert_eq!(ledger.count_in_batch("none").expect("counts"), 0);
        assert!(path.exists());
    }

    #[test]
    fn open_any_sends_a_url_to_postgres() {
        let err = open_any("postgresql://issuer:pw-not-shown@127.0.0.1:1/ledger")
            .err()
            .expect("nothing listens on port 1");
        assert!(matches!(err, LedgerError::Connect { .. }), "{err}");
        assert!(!err.to_string().contains("pw-not-shown"));
    }
}
