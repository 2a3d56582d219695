//! `println!` and `eprintln!` for every command (this module is declared
//! first with `#[macro_use]`, so the commands' are these): std's panic, exit
//! 101, when the reader has gone (`access-letters run ... | head -1` after a
//! complete batch), which would hide the batch's real exit status. A closed
//! stdout or stderr is the reader's choice not to read on; the work and its
//! exit status stand.

macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
