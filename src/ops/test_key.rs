//! The published fixture key, built into the program.
//!
//! `fixtures/test.key` is in git, so its secret protects nothing; every
//! letter made with it carries a SPECIMEN watermark. Built in, it is the
//! default key from any working folder, not only from the repository root.

use crate::key::{Key, SECRET_LEN_BYTES};

/// The text of `fixtures/test.key`.
pub const TEST_KEY_FILE: &str = include_str!("../../fixtures/test.key");

/// The fixture key (id `test-fixture-0001`).
pub fn builtin_test_key() -> Key {
    let table: toml::Table =
        toml::from_str(TEST_KEY_FILE).expect("fixtures/test.key is valid TOML");
    let text = |name: &str| {
        table
            .get(name)
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("fixtures/test.key has a `{name}` string"))
    };
    let bytes = hex::decode(text("secret")).expect("the fixture secret is hex");
    let secret: [u8; SECRET_LEN_BYTES] = bytes.try_into().expect("the fixture secret is 32 bytes");
    Key::from_parts(text("key_id"), secret).expect("the fixture key id is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_builtin_key_is_the_fixture_file() {
        let builtin = builtin_test_key();
        assert_eq!(builtin.mode(), crate::key::KeyMode::Test);
        assert_eq!(builtin.id(), "test-fixture-0001");
        let file =
            Key::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/test.key")).unwrap();
        assert_eq!(builtin.id(), file.id());
        let receipt = crate::filing::ReceiptNumber::parse("IOE0912345601").unwrap();
        let a = crate::code::derive(&builtin, &receipt, 1);
        let b = crate::code::derive(&file, &receipt, 1);
        assert_eq!(
            crate::code::fingerprint(&builtin, &a).as_str(),
            crate::code::fingerprint(&file, &b).as_str()
        );
    }
}
