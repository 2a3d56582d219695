//! `access-letters token add --tokens FILE --client NAME --allow ROUTES`:
//! a new client of `serve`. Prints its token once; the file (mode 0600,
//! written atomically) keeps only the token's SHA-256.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use access_letters::serve::tokens::{ClientDoor, DEFAULT_PER_MINUTE};
use access_letters::serve::{Route, Tokens};

use super::common::*;

/// Manage the clients of `serve` and their tokens.
#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: TokenAction,
}

#[derive(Subcommand, Debug)]
enum TokenAction {
    /// Add a client and print its new token (shown once, never stored).
    Add(AddArgs),
}

#[derive(Args, Debug)]
struct AddArgs {
    /// The tokens file (made if missing).
    #[arg(long, value_name = "FILE")]
    tokens: PathBuf,
    /// The client's name, as it appears in logs (letters, digits, - _ .).
    #[arg(long, value_name = "NAME")]
    client: String,
    /// Routes the client may call: verify, redeem, revoke, status. A client
    /// allowed revoke or status is the desk; any other is the portal.
    #[arg(long, value_name = "ROUTES", value_delimiter = ',', required = true, value_parser = route_arg)]
    allow: Vec<Route>,
    /// Requests a minute the client may make, all routes together. Each
    /// `serve` counts them on its own: behind a load balancer over N
    /// replicas, the client gets up to N times this; give the total / N.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PER_MINUTE)]
    per_minute: u32,
}

fn route_arg(s: &str) -> Result<Route, String> {
    Route::parse(s).ok_or_else(|| format!("'{s}' is not a route (verify, redeem, revoke, status)"))
}

pub fn execute(args: TokenArgs) -> Result<u8> {
    let TokenAction::Add(a) = args.action;
    let mut tokens = Tokens::load_or_new(&a.tokens)?;
    let token = tokens.add(&a.client, &a.allow, a.per_minute)?;
    tokens.save(&a.tokens)?;
    let door = match ClientDoor::for_routes(&a.allow) {
        ClientDoor::Desk => "desk",
        ClientDoor::Portal => "portal",
    };
    eprintln!(
        "added client '{}' ({door}) to {}; its token is below, shown only this once",
        a.client,
        display(&a.tokens)
    );
    println!("{}", token.expose());
    Ok(EXIT_OK)
}
