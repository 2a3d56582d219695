//! The `access-letters` command line: one file per command, each parsing
//! flags, calling one library function, printing, choosing the exit status.
//! One flag, one meaning: see README.md's Commands section.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backup;
mod common;
mod gen_fixtures;
mod inputs;
mod keygen;
mod logging;
mod look;
mod place;
mod preview;
mod progress;
mod proof;
mod reissue;
mod reprint;
mod run;
mod status;
mod summary;
mod verify;

use common::{EXIT_FAILED, EXIT_OK};

#[derive(Parser)]
#[command(
    name = "access-letters",
    version,
    about = "Print-and-mail batch for one-time online access code letters",
    long_about = "Reads the day's receipted filings (Forms I-485, I-131, I-765), issues one \
online access code per filing, renders each letter as a print-ready PDF, and writes a \
manifest for the mail vendor and a ledger of every issuance.\n\n\
Exit status: 0 done; 2 done, but some rows were rejected (see rejects.csv); \
1 failed; 3 (verify only) the code is not valid; 4 (run only) no filings in the input."
)]
pub struct Cli {
    /// Show more detail on stderr (-v progress details, -vv debugging).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Diagnostics on stderr as text lines or one JSON object per event.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(run::RunArgs),
    Reprint(reprint::ReprintArgs),
    Reissue(reissue::ReissueArgs),
    Verify(verify::VerifyArgs),
    Status(status::StatusArgs),
    Keygen(keygen::KeygenArgs),
    Preview(preview::PreviewArgs),
    Proof(proof::ProofArgs),
    GenFixtures(gen_fixtures::GenArgs),
    Backup(backup::BackupArgs),
}

pub fn main() -> ExitCode {
    // clap exits 2 on a usage error, which here means "finished with rejects":
    // a usage error is a failure (1); help and version are not.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_FAILED } else { EXIT_OK });
        }
    };
    logging::init(cli.verbose, cli.log_format);
    let result = match cli.command {
        Command::Run(a) => run::execute(a),
        Command::Reprint(a) => reprint::execute(a),
        Command::Reissue(a) => reissue::execute(a),
        Command::Verify(a) => verify::execute(a),
        Command::Status(a) => status::execute(a),
        Command::Keygen(a) => keygen::execute(a),
        Command::Preview(a) => preview::execute(a),
        Command::Proof(a) => proof::execute(a),
        Command::GenFixtures(a) => gen_fixtures::execute(a),
        Command::Backup(a) => backup::execute(a),
    };
    logging::exit_status(result)
}
