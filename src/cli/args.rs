//! The command line's shape: global flags and one subcommand per file.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::*;

#[derive(Parser)]
#[command(
    name = "access-letters",
    version,
    about = "Print-and-mail batch for one-time online access code letters",
    long_about = "Reads the day's receipted filings (Forms I-485, I-131, I-765), issues one \
online access code per filing, renders each letter as a print-ready PDF, and writes a \
manifest for the mail vendor and a ledger of every issuance.\n\n\
Exit status: 0 done (verify: valid; redeem: redeemed; revoke: revoked; unlink: unlinked); 1 failed; \
2 (run) done, but some rows were rejected (see rejects.csv); 3 (verify, redeem) the code \
is not valid, (revoke) the receipt has no live code, (unlink) the receipt is not linked; 4 (run) no filings in the input; \
5 (verify, redeem) the receipt is locked after too many wrong codes; 6 (redeem) the code \
was already used by another account; 8 (run --input DIR) the batches finished, but files \
in the folder were not taken (named on stderr); 9 (run) every batch is complete, but \
writing the metrics file afterwards failed; 10 (run) stopped by SIGTERM or SIGINT at a \
safe point: run the same command again to finish. serve: 0 stopped by SIGTERM or \
Ctrl-C after answering the requests in flight; 1 could not start. token add: 0 added; \
1 refused. deliver: 0 delivered; 3 already delivered, nothing sent; 1 refused (not complete, a test \
batch for a production vendor) or failed: run it again to resume. ingest: 0 recorded (or the file was imported before); 2 recorded, but some rows \
were rejected (see the rejects file it names)."
)]
pub struct Cli {
    /// Show more detail on stderr (-v progress details, -vv debugging).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Diagnostics on stderr as text lines or one JSON object per event.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    Run(run::RunArgs),
    Reprint(reprint::ReprintArgs),
    Reissue(reissue::ReissueArgs),
    Verify(verify::VerifyArgs),
    Redeem(redeem::RedeemArgs),
    Revoke(revoke::RevokeArgs),
    Unlink(unlink::UnlinkArgs),
    Status(status::StatusArgs),
    Keygen(keygen::KeygenArgs),
    Preview(preview::PreviewArgs),
    Proof(proof::ProofArgs),
    GenFixtures(gen_fixtures::GenArgs),
    Backup(backup::BackupArgs),
    Audit(audit::AuditArgs),
    Serve(serve::ServeArgs),
    Token(token::TokenArgs),
    Deliver(deliver::DeliverArgs),
    Ingest(ingest::IngestArgs),
}

/// The command line, parsed; or the exit status after clap said why not.
/// clap exits 2 on a usage error, which here means "finished with
/// rejects": a usage error is a failure (1); help and version are not.
pub fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { EXIT_FAILED } else { EXIT_OK })
    })
}
