//! `run`'s flags for how letters are written: print files, one PDF per
//! letter, or both (recorded in batch.json).

use access_letters::batch::{
    OutputChoice, OutputMode, DEFAULT_PIECES_PER_FILE, MAX_CHUNK_SIZE, MAX_PIECES_PER_FILE,
};
use clap::Args;

#[derive(Args, Debug)]
pub struct WrittenArgs {
    /// print: print files in presort order (print/<batch>-NNN.pdf); pieces:
    /// one PDF per letter (letters/<piece>.pdf); both.
    #[arg(long, value_name = "print|pieces|both", default_value = "print", value_parser = mode_arg)]
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
    OutputMode::parse(text).ok_or_else(|| format!("'{text}' is not print, pieces or both"))
}

fn pieces_arg(text: &str) -> Result<usize, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_PIECES_PER_FILE as u64).contains(&n) => Ok(n as usize),
        Ok(n) if n > 0 => Err(format!(
            "{n} letters in one print file is more than the {MAX_PIECES_PER_FILE} allowed: \
             mail vendors take files of a few thousand pieces, and a print file's letters \
             are held in memory while it is written"
        )),
        _ => Err(format!(
            "'{text}' is not a number of letters (1 to {MAX_PIECES_PER_FILE})"
        )),
    }
}

fn chunk_arg(text: &str) -> Result<usize, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_CHUNK_SIZE as u64).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "'{text}' is not a number of filings per chunk (1 to {MAX_CHUNK_SIZE})"
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_per_file_is_bounded_and_says_why() {
        assert_eq!(pieces_arg("1"), Ok(1));
        assert_eq!(pieces_arg("50000"), Ok(50_000));
        let too_many = pieces_arg("1000000000").unwrap_err();
        assert!(
            too_many.contains("50000") && too_many.contains("vendors"),
            "{too_many}"
        );
        assert!(pieces_arg("0").is_err());
        assert!(pieces_arg("99999999999999999999999").is_err());
        assert!(chunk_arg("100000000").is_err());
        assert_eq!(chunk_arg("512"), Ok(512));
    }
}
