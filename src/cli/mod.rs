//! The `access-letters` command line: one file per command, each parsing flags, calling one
//! library function, printing, choosing the exit status (README.md's Commands section).

use std::process::ExitCode;
#[macro_use]
mod say;

mod args;
mod audit;
mod backup;
mod common;
mod deliver;
mod flagged;
mod gen_fixtures;
mod ingest;
mod inputs;
mod keygen;
mod logging;
mod look;
mod mail_reports;
mod metrics_file;
mod night;
mod open_ledger;
mod out_folder;
mod place;
mod preview;
mod progress;
mod proof;
mod redeem;
mod reissue;
mod reprint;
mod revoke;
mod run;
mod run_batch;
mod serve;
mod serve_edge;
mod status;
mod stop;
mod summary;
mod token;
mod typed_code;
mod unlink;
mod verify;
mod written;

use args::Command;
use common::{EXIT_FAILED, EXIT_OK};

pub fn main() -> ExitCode {
    let cli = match args::parse() {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    // The service logs one JSON line per request, whatever --log-format says.
    match cli.command {
        Command::Serve(_) => logging::init(cli.verbose.max(1), logging::LogFormat::Json),
        _ => logging::init(cli.verbose, cli.log_format),
    }
    let result = match cli.command {
        Command::Run(a) => run::execute(a),
        Command::Reprint(a) => reprint::execute(a),
        Command::Reissue(a) => reissue::execute(a),
        Command::Verify(a) => verify::execute(a),
        Command::Redeem(a) => redeem::execute(a),
        Command::Revoke(a) => revoke::execute(a),
        Command::Unlink(a) => unlink::execute(a),
        Command::Status(a) => status::execute(a),
        Command::Keygen(a) => keygen::execute(a),
        Command::Preview(a) => preview::execute(a),
        Command::Proof(a) => proof::execute(a),
        Command::GenFixtures(a) => gen_fixtures::execute(a),
        Command::Backup(a) => backup::execute(a),
        Command::Audit(a) => audit::execute(a),
        Command::Serve(a) => serve::execute(a),
        Command::Token(a) => token::execute(a),
        Command::Ingest(a) => ingest::execute(a),
        Command::Deliver(a) => deliver::execute(a),
    };
    logging::exit_status(result)
}
