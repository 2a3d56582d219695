//! `access-letters serve --listen ADDR --tokens FILE`: verify, redeem,
//! revoke and status over HTTP for the account portal and the support desk
//! (see README "The account portal" and docs/openapi.yaml).
//!
//! Prints `listening on http://ADDR` once it accepts connections; logs one
//! JSON line per request on stderr; on SIGTERM closes the idle connections
//! and answers the requests in flight (exit 0). Exit 1: it could not start.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use access_letters::serve::{
    opener, serve_blocking, App, LedgerPool, RedeemWriter, TlsFiles, Tokens,
};

use super::common::*;
use super::serve_edge::EdgeFlags;

/// Serve verify, redeem, revoke and status over HTTP (stops on SIGTERM).
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, such as 127.0.0.1:8080 (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// The clients and their token hashes (see `token add`).
    #[arg(long, value_name = "FILE")]
    tokens: PathBuf,
    /// Ledger connections kept open for requests.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    connections: u16,
    /// TLS certificate chain (PEM); serves HTTPS with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    keys: CheckKeys,
    #[command(flatten)]
    limit: LimitConfig,
    #[command(flatten)]
    edge: EdgeFlags,
}

pub fn execute(args: ServeArgs) -> Result<u8> {
    let tokens = Tokens::load(&args.tokens)?;
    let cap = args.edge.cap()?;
    let ring = args.keys.load()?;
    let limit = args.limit.limit()?;
    let (place, _) = args.place.ledger_location();
    let writer = RedeemWriter::for_location(&place)?;
    let pool = LedgerPool::new(usize::from(args.connections), opener(place))?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut app = App::new(tokens, ring, (limit, args.limit.zone()?), pool);
    app.redeem_writer = writer;
    app.guess = args.limit.guess_limit()?;
    app.edge = args.edge.edge();
    serve_blocking(app, &args.listen, (tls, cap), |addr| {
        use std::io::Write;
        println!("listening on {scheme}://{addr}");
        let _ = std::io::stdout().flush();
    })?;
    Ok(EXIT_OK)
}
