//! Where a typed access code comes from: a prompt with echo off when a
//! person is at the terminal, else one line of standard input. Never the
//! command line, where `ps` and the shell's history would keep it; the
//! positional argument remains for tests and is hidden from `--help`.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};
use zeroize::Zeroizing;

/// Bytes read from standard input at most: a code is 14 characters with its
/// hyphens, and an endless stream must not fill memory.
const MAX_CODE_LINE_BYTES: u64 = 256;

/// The code as typed: `given` (tests), else the prompt or standard input.
pub fn read_code(given: Option<String>) -> Result<Zeroizing<String>> {
    if let Some(code) = given {
        return Ok(Zeroizing::new(code));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let code = rpassword::prompt_password("Access code (not shown): ")
            .context("cannot read the access code from the terminal")?;
        return Ok(Zeroizing::new(code));
    }
    read_line_bounded(stdin.lock())
}

/// One line of `input`, without its line ending, at most
/// [`MAX_CODE_LINE_BYTES`] long.
fn read_line_bounded(input: impl BufRead) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(Vec::new());
    input
        .take(MAX_CODE_LINE_BYTES + 1)
        .read_until(b'\n', &mut line)
        .context("cannot read the access code from standard input")?;
    if line.len() as u64 > MAX_CODE_LINE_BYTES {
        bail!("the line read from standard input is longer than {MAX_CODE_LINE_BYTES} bytes; an access code is 12 characters (14 with hyphens)");
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    match std::str::from_utf8(&line) {
        Ok(text) => Ok(Zeroizing::new(text.to_string())),
        Err(_) => bail!("the access code read from standard input is not text (UTF-8)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_read_and_its_ending_dropped() {
        let code = read_line_bounded(&b"7KQ2-M9XD-4HTW\r\nmore"[..]).unwrap();
        assert_eq!(code.as_str(), "7KQ2-M9XD-4HTW");
        assert_eq!(read_line_bounded(&b""[..]).unwrap().as_str(), "");
    }

    #[test]
    fn an_endless_line_is_refused_after_a_bounded_read() {
        let endless = std::io::repeat(b'A');
        let e = read_line_bounded(std::io::BufReader::new(endless)).unwrap_err();
        assert!(e.to_string().contains("longer than 256 bytes"), "{e}");
    }
}
