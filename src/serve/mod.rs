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
//! - [`pool`]: a few ledger connections used off the async threads;
//! - [`writer`]: on SQLite, the write half of every redeem, committed in
//!   groups (one sync to disk for all the redemptions waiting);
//! - [`metrics`], [`limits`]: Prometheus text and the per-client rate;
//! - [`mod@router`]: every layer, named where the router is built.
//!
//! Nothing secret is logged: one JSON line per request names the client,
//! route, outcome, status and duration, never a code, a token or an
//! account reference.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;

use crate::key::KeyRing;
use crate::ledger::AttemptLimit;

pub mod api;
pub mod auth;
pub mod handlers;
pub mod limits;
pub mod metrics;
pub mod pool;
pub mod router;
pub mod tokens;
pub mod writer;

pub use pool::{LedgerPlace, LedgerPool};
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

/// What every request handler shares.
pub struct App {
    pub tokens: Tokens,
    pub ring: KeyRing,
    pub limit: AttemptLimit,
    /// The agency's time zone: "today" for a code's validity is its date.
    pub zone: chrono_tz::Tz,
    pub pool: LedgerPool,
    pub metrics: metrics::Metrics,
    pub rate: limits::RateLimiter,
    /// Group commit of redemptions, on a SQLite ledger.
    pub redeem_writer: Option<RedeemWriter>,
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
            zone,
            pool,
            metrics: metrics::Metrics::default(),
            rate: limits::RateLimiter::default(),
            redeem_writer: None,
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
/// calls `ready` with the address it listens on, and serves until SIGTERM
/// or Ctrl-C; then lets the requests in flight finish (up to
/// [`SHUTDOWN_GRACE`]) and returns. Builds its own runtime.
pub fn serve_blocking(
    app: App,
    addr: &str,
    tls: Option<TlsFiles>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()?;
    runtime.block_on(async move {
        let config = match tls {
            Some(files) => Some(tls_config(files).await?),
            None => None,
        };
        let bind_err = |source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(bind_err)?;
        ready(listener.local_addr().map_err(bind_err)?);
        serve(Arc::new(app), listener, config).await
    })
}

async fn tls_config(files: TlsFiles) -> Result<RustlsConfig, ServeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map_err(|source| ServeError::Tls { files, source })
}

async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<RustlsConfig>,
) -> Result<(), ServeError> {
    let handle = Handle::new();
    tokio::spawn(stop_on_signal(handle.clone()));
    let service = router(app).into_make_service();
    match tls {
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(service)
                .await?
        }
        Some(config) => {
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(service)
                .await?
        }
    }
    tracing::info!("stopped: every request in flight was answered");
    Ok(())
}

/// Waits for SIGTERM (systemd's stop) or Ctrl-C, then starts a graceful
/// shutdown: no new connections, the requests in flight finish.
async fn stop_on_signal(handle: Handle<SocketAddr>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("stopping: finishing the requests in flight");
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}
