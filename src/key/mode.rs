//! Whether letters are made with a test key or a production key: the one
//! kind every stage asks about (the watermark, the ledger, `batch.json`,
//! the hand-off to a vendor), decided once, by the key.

use serde::{Deserialize, Serialize};

/// The kind of key a letter or a batch was made with. A test key's letters
/// carry a SPECIMEN watermark and must never be mailed; a production key's
/// letters are the real thing.
///
/// Stored as `test` / `production` in `batch.json` (this serde form), and
/// as the ledger's `is_test` column (converted there, at the edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// A published test key (its id starts with `test-`): SPECIMEN letters.
    Test,
    /// A production key: letters that are mailed.
    Production,
}

impl KeyMode {
    /// The mode of the key with this id: the `test-` prefix marks a test key.
    pub fn of_key_id(id: &str) -> Self {
        if id.starts_with(super::TEST_KEY_ID_PREFIX) {
            KeyMode::Test
        } else {
            KeyMode::Production
        }
    }

    /// The word `batch.json` and the operator's messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Test => "test",
            KeyMode::Production => "production",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_prefix_alone_makes_a_test_key() {
        assert_eq!(KeyMode::of_key_id("test-2026"), KeyMode::Test);
        assert_eq!(
            KeyMode::of_key_id("prod-2026-11-25-a1b2c3d4"),
            KeyMode::Production
        );
        assert_eq!(KeyMode::of_key_id("tester"), KeyMode::Production);
    }

    #[test]
    fn the_stored_words_are_those_of_batch_json() {
        for mode in [KeyMode::Test, KeyMode::Production] {
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{}\"", mode.as_str()));
            assert_eq!(serde_json::from_str::<KeyMode>(&json).unwrap(), mode);
        }
    }
}
