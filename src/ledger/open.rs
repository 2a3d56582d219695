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
//! Opening is the caller's choice, never made here: an existing SQLite
//! ledger is opened with [`SqliteLedger::open_existing`](super::SqliteLedger::open_existing)
//! and a new one made with [`SqliteLedger::create`](super::SqliteLedger::create),
//! because a missing ledger quietly created would issue every filing again
//! (the CLI's `Place` does this, with the lock file).

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
}
