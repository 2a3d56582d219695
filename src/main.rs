//! `access-letters`: see `access-letters --help` and README.md.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
