//! Keys, configuration and templates: what commands read besides the input.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use access_letters::key::{Key, KeyRing};
use access_letters::ops::builtin_test_key;

/// Keys of commands that make new codes (run, reissue).
#[derive(Args, Clone, Debug)]
pub struct NewKeys {
    /// Key file for new codes [default: the built-in test key, whose letters
    /// carry a SPECIMEN watermark and cannot pass as real].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// An older key file, so codes it made can still be checked (repeatable).
    #[arg(long = "old-key", value_name = "FILE")]
    pub old_keys: Vec<PathBuf>,
}

impl NewKeys {
    pub fn load(&self) -> Result<KeyRing> {
        load_ring(self.key.as_deref(), &self.old_keys)
    }
}

/// Keys of commands that check or rebuild existing codes (verify, reprint).
#[derive(Args, Clone, Debug)]
pub struct CheckKeys {
    /// Key file the codes were made with [default: the built-in test key].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Another key file codes were made with, such as a retired key (repeatable).
    #[arg(long = "old-key", value_name = "FILE")]
    pub old_keys: Vec<PathBuf>,
}

impl CheckKeys {
    pub fn load(&self) -> Result<KeyRing> {
        load_ring(self.key.as_deref(), &self.old_keys)
    }
}

/// A key file, or the built-in test key when none is named.
pub fn load_key(path: Option<&Path>) -> Result<Key> {
    Ok(match path {
        Some(p) => Key::load(p)?,
        None => builtin_test_key(),
    })
}

fn load_ring(current: Option<&Path>, old: &[PathBuf]) -> Result<KeyRing> {
    let current = load_key(current)?;
    let others = old
        .iter()
        .map(|p| Key::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KeyRing::new(current, others)?)
}
