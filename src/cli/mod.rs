//! The `access-letters` command line: one file per command, each a thin
//! layer that parses flags, calls the library and chooses the exit status.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use access_letters::config::Config;
use access_letters::key::KeyRing;
use access_letters::ledger::{LedgerLock, SqliteLedger};
use access_letters::letter::Templates;
use access_letters::output::create_private_dir;
use access_letters::render::Renderer;

mod gen_fixtures;
mod keygen;
mod preview;
mod proof;
mod reissue;
mod reprint;
mod run;
mod status;
mod verify;

/// Exit status: every row issued or already issued; the code is valid.
pub const EXIT_OK: u8 = 0;
/// Exit status: the command failed; nothing was left half-written as if complete.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the batch finished, and some rows were rejected (see rejects.csv).
pub const EXIT_REJECTS: u8 = 2;
/// Exit status of `verify`: the code is not valid for the receipt.
pub const EXIT_NOT_VALID: u8 = 3;

#[derive(Parser)]
#[command(
    name = "access-letters",
    version,
    about = "Print-and-mail batch for one-time online access code letters",
    long_about = "Reads the day's receipted filings (Forms I-485, I-131, I-765), issues one \
online access code per filing, renders each letter as a print-ready PDF, and writes a \
manifest for the mail vendor and a ledger of every issuance.\n\n\
Exit status: 0 done; 2 done, but some rows were rejected (see rejects.csv); \
1 failed; 3 (verify only) the code is not valid."
)]
pub struct Cli {
    /// Show more detail on stderr (-v progress details, -vv debugging).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
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
}

/// Where things live; every command that touches a batch shares these.
#[derive(Args, Clone, Debug)]
pub struct Place {
    /// Folder for batch folders.
    #[arg(long, value_name = "DIR", default_value = "output")]
    pub out: PathBuf,
    /// Issuance ledger (SQLite file) [default: OUT/ledger.sqlite].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

impl Place {
    pub fn ledger_path(&self) -> PathBuf {
        self.ledger
            .clone()
            .unwrap_or_else(|| self.out.join("ledger.sqlite"))
    }

    /// Opens the ledger for writing, refusing if another run holds it.
    pub fn open_ledger(&self) -> Result<(LedgerLock, SqliteLedger)> {
        let path = self.ledger_path();
        // The ledger's folder (by default OUT) is made private like every
        // other folder we create; the ledger would create it world-readable.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
        let lock = LedgerLock::acquire(&path)?;
        let ledger = SqliteLedger::open(&path)?;
        Ok((lock, ledger))
    }

    /// Opens an existing ledger to read it.
    pub fn read_ledger(&self) -> Result<SqliteLedger> {
        let path = self.ledger_path();
        if !path.exists() {
            anyhow::bail!(
                "no ledger at {}: nothing has been issued there yet (use --ledger to name another)",
                path.display()
            );
        }
        Ok(SqliteLedger::open(&path)?)
    }
}

/// Keys: the current one for new codes, older ones to check old codes.
#[derive(Args, Clone, Debug)]
pub struct Keys {
    /// Key file for new codes. The default is the published test key: its
    /// letters carry a SPECIMEN watermark and cannot pass as real.
    #[arg(long, value_name = "FILE", default_value = "fixtures/test.key")]
    pub key: PathBuf,
    /// An older key file, so codes it made can still be checked and reprinted (repeatable).
    #[arg(long = "old-key", value_name = "FILE")]
    pub old_keys: Vec<PathBuf>,
}

impl Keys {
    pub fn load(&self) -> Result<KeyRing> {
        Ok(KeyRing::load(&self.key, &self.old_keys)?)
    }
}

/// Wording and agency settings.
#[derive(Args, Clone, Debug)]
pub struct Look {
    /// Agency configuration (TOML) [default: the built-in templates/agency.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder with letter.en.tera and letter.es.tera [default: the built-in templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

impl Look {
    pub fn renderer(&self) -> Result<Renderer> {
        let config = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default_config(),
        };
        let templates = match &self.templates {
            Some(d) => Templates::from_dir(d)?,
            None => Templates::builtin(),
        };
        Ok(Renderer::new(templates, config))
    }
}

/// Today's date in local time: the default batch date.
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn parse_receipt(s: &str) -> Result<access_letters::filing::ReceiptNumber> {
    access_letters::filing::ReceiptNumber::parse(s).map_err(anyhow::Error::msg)
}

pub fn display(p: &Path) -> String {
    p.display().to_string()
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACCESS_LETTERS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

pub fn main() -> ExitCode {
    // clap exits with 2 on a usage error, which here means "finished with
    // rejected rows": a scheduler would take a mistyped flag for a batch
    // that ran. A usage error is a failure (1); help and version are not.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_FAILED } else { EXIT_OK });
        }
    };
    init_logging(cli.verbose);
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
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // No error carries a code or a secret. Library errors often repeat
            // their cause in their own sentence; print each cause only once.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message.push_str(": ");
                    message.push_str(&cause);
                }
            }
            eprintln!("error: {message}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
