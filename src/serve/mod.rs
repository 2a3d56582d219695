//! `serve`: verify, redeem, revoke and status over HTTP, for the account
//! portal and the support desk.
//!
//! The HTTP layer is as thin as the command line: each route parses and
//! authenticates the request, calls the same library function the CLI
//! calls ([`crate::ops`]), and maps its typed answer to a status and JSON.
//! The wrong-code limit, the per-receipt serialisation and the one-time
//! rule all live in the library and the ledger, so the two doors (CLI and
//! HTTP) share one counter and one truth.
//!
//! - [`tokens`]: the clients, their token hashes, routes and limits;
//! - [`auth`]: the 401 / 403 / 429 guards;
//! - [`handlers`]: the routes; [`api`]: errors and the body extractor;
//!   [`answers`]: the JSON answers as types; [`openapi`]: the document
//!   generated from them (`/openapi.json`, docs/openapi.yaml);
//! - [`pool`]: a few ledger connections used off the async threads;
//! - [`writer`]: on SQLite, the write half of every redeem, committed in
//!   groups (one sync to disk for all the redemptions waiting);
//! - [`metrics`], [`limits`]: Prometheus text and the per-client rate
//!   (counted by each running service on its own: per replica);
//! - [`mod@router`]: every layer, named where the router is built;
//! - [`listen`]: the socket, the cap on open connections, the stop;
//!   [`conn`]: one connection and its clocks (header, keep-alive);
//! - [`client_addr`]: the client's address, behind trusted proxies too;
//! - [`hyper_errors`]: hyper's own refusals of unreadable requests, as JSON.
//!
//! Nothing secret is logged: one JSON line per request names the client,
//! its address, route, outcome, status and duration, never a code, a token
//! or an account reference.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::key::KeyRing;
use crate::ledger::{AttemptLimit, GuessLimit};

pub mod answers;
pub mod api;
pub mod auth;
pub mod client_addr;
pub mod conn;
pub mod guessing;
pub mod handlers;
pub mod hyper_errors;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod pool;
pub mod router;
pub mod tokens;
pub mod writer;

pub use client_addr::{Cidr, TrustedProxies};
pub use conn::Clocks;
pub use pool::{opener, LedgerPool};
pub use router::router;
pub use tokens::{Route, Tokens};
pub use writer::RedeemWriter;

/// Largest request body accepted (JSON of a receipt, a code and an account
/// reference is well under this).
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// A request that takes longer is answered 408 (the ledger work it started
/// still finishes, so a retried redeem is answered "redeemed" again).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SIGTERM waits for requests in flight before closing anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Default time a client has to send a request's headers (and the longest
/// pause in its body).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an idle keep-alive connection is kept open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(60);

/// How the service meets its clients: the clocks of a connection and the
/// proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug)]
pub struct Edge {
    pub clocks: Clocks,
    pub proxies: TrustedProxies,
}

impl Default for Edge {
    fn default() -> Edge {
        Edge {
            clocks: Clocks {
                header: HEADER_TIMEOUT,
                keep_alive: KEEP_ALIVE,
            },
            proxies: TrustedProxies::default(),
        }
    }
}

/// What every request handler shares.
pub struct App {
    pub tokens: Tokens,
    pub ring: KeyRing,
    pub limit: AttemptLimit,
    /// The limit on the one guessing: at the service, wrong codes count
    /// against the account and client, not the receipt.
    pub guess: GuessLimit,
    /// The agency's time zone: "today" for a code's validity is its date.
    pub zone: chrono_tz::Tz,
    pub pool: LedgerPool,
    pub metrics: metrics::Metrics,
    pub rate: limits::RateLimiter,
    /// Group commit of redemptions, on a SQLite ledger.
    pub redeem_writer: Option<RedeemWriter>,
    pub edge: Edge,
}

impl App {
    pub fn new(
        tokens: Tokens,
        ring: KeyRing,
        (limit, zone): (AttemptLimit, chrono_tz::Tz),
        pool: LedgerPool,
    ) -> App {
        App {
            tokens,
            ring,
            limit,
            guess: crate::ops::guess_limit(&crate::config::Config::default_config().codes),
            zone,
            pool,
            metrics: metrics::Metrics::default(),
            rate: limits::RateLimiter::default(),
            redeem_writer: None,
            edge: Edge::default(),
        }
    }
}

/// A certificate chain and its private key, PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot load the TLS certificate {} and key {}: {source}", files.cert.display(), files.key.display())]
    Tls {
        files: TlsFiles,
        source: std::io::Error,
    },
    #[error("the service stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the TLS files (if any), binds `addr` (port 0 picks a free port),
/// calls `ready` with the address it listens on, and serves (at most
/// `max_connections` open at once) until SIGTERM or Ctrl-C; then closes the
/// idle connections, lets the requests in flight finish (up to
/// [`SHUTDOWN_GRACE`]) and returns. Builds its own runtime.
///
/// The ledger connections are closed after the runtime has stopped: the
/// synchronous PostgreSQL client runs a runtime of its own to close, which
/// may not start on the service's threads.
pub fn serve_blocking(
    app: App,
    addr: &str,
    (tls, max_connections): (Option<TlsFiles>, usize),
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let tls = tls.map(tls_acceptor).transpose()?;
    let bind_err = |source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    let app = Arc::new(app);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()?;
    let served = runtime.block_on(async {
        let stop = stop_signal()?;
        ready(local);
        listen::run(listener, Arc::clone(&app), (tls, max_connections), stop).await
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(app);
    Ok(served?)
}

/// The TLS acceptor of the certificate chain and key: HTTP/1.1 only.
fn tls_acceptor(files: TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match tls_config(&files) {
        Ok(config) => Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        Err(source) => Err(ServeError::Tls { files, source }),
    }
}

fn tls_config(files: &TlsFiles) -> std::io::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad(&e))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&e))?;
    // Only HTTP/1.1 is served.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Listens for SIGTERM (systemd's stop) and Ctrl-C from now on (so a stop
/// that comes early is not lost); the future resolves on either. Called
/// inside the runtime.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
