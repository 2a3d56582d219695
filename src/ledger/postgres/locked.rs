//! A transaction that begins holding its advisory locks: `BEGIN` and the
//! locks reach the server as one simple query, so a change of a receipt or
//! a counted guess costs one round trip less than `BEGIN`, then the locks.
//!
//! Each statement of a simple query takes its own snapshot, and the reads
//! that follow are statements of their own, so what they read is what was
//! committed once the locks were granted, as before.

use std::ops::{Deref, DerefMut};

use ::postgres::{Client, Error};

/// An open transaction holding advisory locks; rolled back when dropped
/// without [`LockedTx::commit`].
pub(super) struct LockedTx<'a> {
    client: &'a mut Client,
    open: bool,
}

impl<'a> LockedTx<'a> {
    /// Begins a transaction and takes `keys`' transaction-level advisory
    /// locks in that order (one statement, whose select list is evaluated
    /// in order), waiting for each as `pg_advisory_xact_lock` does.
    pub(super) fn begin(client: &'a mut Client, keys: &[i64]) -> Result<Self, Error> {
        // The keys are integers this program computed: no text from a
        // request reaches the query.
        let locks: Vec<String> = keys
            .iter()
            .map(|k| format!("pg_advisory_xact_lock({k})"))
            .collect();
        let sql = if locks.is_empty() {
            "BEGIN".to_string()
        } else {
            format!("BEGIN; SELECT {}", locks.join(", "))
        };
        match client.batch_execute(&sql) {
            Ok(()) => Ok(LockedTx { client, open: true }),
            Err(e) => {
                // BEGIN may have run before the lock failed (a lock
                // timeout): end that transaction, and report the failure.
                let _ = client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Commits. A failed commit ends the transaction too (the server rolls
    /// it back), so it is not rolled back again on drop.
    pub(super) fn commit(mut self) -> Result<(), Error> {
        self.open = false;
        self.client.batch_execute("COMMIT")
    }
}

impl Deref for LockedTx<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
    }
}

impl DerefMut for LockedTx<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
    }
}

impl Drop for LockedTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // A broken connection cannot roll back, and needs not: the
            // server ends the transaction when the session ends.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sessions on a fresh schema of the test server (named after
    /// `name`) holding table `t`; `None` (said) without a server.
    fn sessions(name: &str) -> Option<(Client, Client)> {
        let what = "the locked-transaction test";
        let (url, mut a) = crate::ledger::tests_pg::fresh_schema(&format!("locked_{name}"), what)?;
        a.batch_execute("CREATE TABLE t (n INTEGER)")
            .expect("table");
        let b = Client::connect(&url, ::postgres::NoTls).expect("connect");
        Some((a, b))
    }

    fn free(b: &mut Client, key: i64) -> bool {
        let got: bool = b
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .expect("try")
            .get(0);
        if got {
            b.execute("SELECT pg_advisory_unlock($1)", &[&key])
                .expect("unlock");
        }
        got
    }

    fn rows(b: &mut Client) -> i64 {
        b.query_one("SELECT COUNT(*) FROM t", &[])
            .expect("count")
            .get(0)
    }

    #[test]
    fn a_locked_transaction_holds_its_locks_until_it_ends_and_rolls_back_unless_committed() {
        let Some((mut a, mut b)) = sessions("ends") else {
            return;
        };
        let (k1, k2) = (-7_001_i64, 7_002_i64);
        {
            let mut tx = LockedTx::begin(&mut a, &[k1, k2]).expect("begin");
            assert!(!free(&mut b, k1) && !free(&mut b, k2), "both locks held");
            tx.execute("INSERT INTO t VALUES (1)", &[]).expect("insert");
            assert_eq!(rows(&mut b), 0, "not visible before the commit");
            // Dropped without a commit.
        }
        assert!(free(&mut b, k1) && free(&mut b, k2), "released on rollback");
        assert_eq!(rows(&mut b), 0, "rolled back");

        let mut tx = LockedTx::begin(&mut a, &[k1]).expect("begin");
        tx.execute("INSERT INTO t VALUES (2)", &[]).expect("insert");
        tx.commit().expect("commit");
        assert!(free(&mut b, k1), "released on commit");
        assert_eq!(rows(&mut b), 1, "committed");
    }

    #[test]
    fn a_lock_that_times_out_leaves_no_transaction_open() {
        let Some((mut a, mut b)) = sessions("timeout") else {
            return;
        };
        let key = 7_003_i64;
        b.execute("SELECT pg_advisory_lock($1)", &[&key])
            .expect("b holds the lock");
        a.batch_execute("SET lock_timeout = '100ms'").expect("set");
        let refused = LockedTx::begin(&mut a, &[key]);
        assert!(refused.is_err(), "the lock is held by another session");
        drop(refused);
        // a is back in autocommit: its insert is seen at once.
        a.execute("INSERT INTO t VALUES (3)", &[]).expect("insert");
        assert_eq!(rows(&mut b), 1);
    }
}
