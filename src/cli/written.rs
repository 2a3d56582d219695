//! `run`'s flags for how letters are written: print files, one PDF per
//! letter, or both (recorded in batch.json).

use access_letters::batch::{
    parse_chunk_size, parse_pieces_per_file, OutputChoice, OutputMode, DEFAULT_PIECES_PER_FILE,
};
use clap::Args;

#[derive(Args, Debug)]
pub struct WrittenArgs {
    /// How letters are written. print: print files in presort order
    /// (print/<batch>-NNN.pdf); pieces: one PDF per letter
    /// (letters/<piece>.pdf); both. (The folder is --out.)
    #[arg(
        long = "letters",
        alias = "output",
        value_name = "print|pieces|both",
        default_value = "print",
        value_parser = mode_arg
    )]
    output: OutputMode,
    /// Letters per print file at most, 1 to 50000 (a file never splits a letter).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PIECES_PER_FILE, value_parser = pieces_arg)]
    pieces_per_file: usize,
    /// Filings per chunk (one ledger transaction each) [default: 4096 for
    /// print, 512 otherwise].
    #[arg(long, value_name = "N", hide = true, value_parser = chunk_arg)]
    chunk_size: Option<usize>,
}

fn mode_arg(text: &str) -> Result<OutputMode, String> {
    OutputMode::parse(text).ok_or_else(|| {
        format!(
            "'{text}' is not print, pieces or both: --letters says how letters are written; the folder they go to is --out"
        )
    })
}

fn pieces_arg(text: &str) -> Result<usize, String> {
    parse_pieces_per_file(text)
}

fn chunk_arg(text: &str) -> Result<usize, String> {
    parse_chunk_size(text)
}

impl WrittenArgs {
    pub fn chunk_size(&self) -> usize {
        self.chunk_size.unwrap_or(self.output.default_chunk_size())
    }

    pub fn choice(&self) -> OutputChoice {
        OutputChoice {
            mode: self.output,
            pieces_per_file: self.pieces_per_file,
        }
    }
}
