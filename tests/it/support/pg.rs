//! A schema of its own on the PostgreSQL test server named by
//! `ACCESS_LETTERS_TEST_PG` (`.ci/pg-cluster start` prints one), so tests run
//! in parallel on one server; without the variable a test says it was
//! skipped and passes (fails under CI, see [`super::skip`]).

use access_letters::ledger::PostgresLedger;

/// The variable that names the test server (a connection URL).
pub const PG_ENV: &str = "ACCESS_LETTERS_TEST_PG";

/// A schema of its own on the test server, dropped when the test ends.
pub struct PgSchema {
    pub base: String,
    pub name: String,
}

impl PgSchema {
    /// `None` (after saying so) when no test server is configured.
    pub fn create(test: &str) -> Option<PgSchema> {
        let Ok(base) = std::env::var(PG_ENV) else {
            super::skip(
                "the PostgreSQL tests",
                &format!("{PG_ENV} is not set (.ci/run starts a throwaway cluster and sets it)"),
                super::InCi::Fails,
            );
            return None;
        };
        // All tests share one process, so the process id alone does not
        // keep two tests apart: each must name a schema of its own.
        static TAKEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            !taken.iter().any(|t| t == test),
            "two tests use the PostgreSQL schema name {test:?}"
        );
        taken.push(test.to_string());
        drop(taken);
        let name = format!("t_{}_{}", test, std::process::id());
        let mut admin = ::postgres::Client::connect(&base, ::postgres::NoTls)
            .unwrap_or_else(|e| panic!("{PG_ENV} is set but the server refused: {e}"));
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .expect("create the test schema");
        Some(PgSchema { base, name })
    }

    /// The server URL with this schema first on the search path.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }

    pub fn connect(&self) -> PostgresLedger {
        PostgresLedger::connect(&self.url()).expect("connect to the test schema")
    }

    pub fn admin(&self) -> ::postgres::Client {
        let mut c = ::postgres::Client::connect(&self.url(), ::postgres::NoTls).expect("connect");
        c.batch_execute("SET lock_timeout = '5s'").expect("set");
        c
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = ::postgres::Client::connect(&self.base, ::postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
