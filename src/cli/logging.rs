//! Diagnostics on stderr: the tracing filter and the final error line.

use std::process::ExitCode;

use super::common::EXIT_FAILED;

/// Set when errors go out as JSON events rather than an `error:` line.
static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// How diagnostics are written: lines for people, or one JSON object per
/// event for a log collector (events carry batch ids, stages, counts and
/// times; never a code or a name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(verbose: u8, format: LogFormat) {
    let level = match (verbose, format) {
        (0, LogFormat::Text) => "warn",
        (0 | 1, _) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACCESS_LETTERS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    if format == LogFormat::Json {
        JSON.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// The error's sentence with each cause once: library errors often repeat
/// their cause in their own sentence. No error carries a code or a secret.
pub fn error_message(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}

/// The process's exit status; a failure is one line on stderr.
pub fn exit_status(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let message = error_message(&e);
            if JSON.load(std::sync::atomic::Ordering::Relaxed) {
                tracing::error!(stage = "exit", "{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(EXIT_FAILED)
        }
    }
}
