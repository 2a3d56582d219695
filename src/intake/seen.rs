//! Receipts already claimed in this file, for the first-row-wins rule.

use std::collections::HashMap;

use crate::filing::ReceiptNumber;

/// How many receipts are tracked in memory before the index moves to a
/// temporary file (about 2 MB of hash table).
pub const RECEIPTS_IN_MEMORY: usize = 1 << 16;

/// Receipts already claimed in this file: packed receipt → first line, with
/// the low bit set when that row was rejected. Small files stay in a hash
/// table; large ones spill to a private temporary SQLite database (deleted
/// when closed) whose page cache is bounded.
pub(super) struct ReceiptIndex {
    pub(super) memory: HashMap<u64, u64>,
    pub(super) disk: Option<rusqlite::Connection>,
    pub(super) memory_limit: usize,
}

impl Default for ReceiptIndex {
    fn default() -> Self {
        ReceiptIndex {
            memory: HashMap::new(),
            disk: None,
            memory_limit: RECEIPTS_IN_MEMORY,
        }
    }
}

impl ReceiptIndex {
    /// Three letters and ten digits fit in 48 bits.
    pub(super) fn pack(r: &ReceiptNumber) -> u64 {
        r.as_str().bytes().fold(0u64, |acc, b| {
            if b.is_ascii_uppercase() {
                acc * 26 + u64::from(b - b'A')
            } else {
                acc * 10 + u64::from(b - b'0')
            }
        })
    }

    pub(super) fn get(&self, key: u64) -> rusqlite::Result<Option<u64>> {
        use rusqlite::OptionalExtension;
        match &self.disk {
            None => Ok(self.memory.get(&key).copied()),
            Some(db) => db
                .prepare_cached("SELECT first FROM seen WHERE key = ?1")?
                .query_row([key as i64], |row| row.get::<_, i64>(0))
                .optional()
                .map(|v| v.map(|v| v as u64)),
        }
    }

    pub(super) fn insert(&mut self, key: u64, first: u64) -> rusqlite::Result<()> {
        if self.disk.is_none() && self.memory.len() >= self.memory_limit {
            self.spill()?;
        }
        match &self.disk {
            None => {
                self.memory.insert(key, first);
                Ok(())
            }
            Some(db) => db
                .prepare_cached("INSERT INTO seen (key, first) VALUES (?1, ?2)")?
                .execute([key as i64, first as i64])
                .map(drop),
        }
    }

    fn spill(&mut self) -> rusqlite::Result<()> {
        // An empty path is a private temporary database on disk.
        let db = rusqlite::Connection::open("")?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2048;
             CREATE TABLE seen (key INTEGER PRIMARY KEY, first INTEGER NOT NULL);
             BEGIN;",
        )?;
        {
            let mut insert = db.prepare("INSERT INTO seen (key, first) VALUES (?1, ?2)")?;
            for (k, v) in self.memory.drain() {
                insert.execute([k as i64, v as i64])?;
            }
        }
        self.memory = HashMap::new();
        self.disk = Some(db);
        Ok(())
    }
}
