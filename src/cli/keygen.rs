//! `access-letters keygen --to FILE`: a new production key.
//!
//! 32 bytes from the operating system's random source, written with mode
//! 0600 to a file that must not exist yet. The secret is never printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::key::{new_key_id, Key};

use access_letters::ops::Clock;

use super::common::*;

/// Write a new secret key file (mode 0600; refuses to overwrite).
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the key.
    #[arg(long, alias = "out", value_name = "FILE")]
    to: PathBuf,
    /// Key id [default: prod-DATE-RANDOM].
    #[arg(long, value_name = "ID")]
    id: Option<String>,
}

pub fn execute(args: KeygenArgs) -> Result<u8> {
    let id = args.id.unwrap_or_else(|| new_key_id(Clock::system().today));
    let key = Key::generate(&id)?;
    key.write_new(&args.to)?;
    println!(
        "wrote key {} to {} (readable by its owner only)",
        key.id(),
        display(&args.to)
    );
    Ok(EXIT_OK)
}
