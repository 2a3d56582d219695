//! The listening socket: accepting, the cap on open connections, TLS
//! handshakes, and the stop.
//!
//! Every open connection holds a file descriptor, and a process out of
//! descriptors accepts nobody (the kernel keeps the new connections
//! waiting, unanswered). So the service keeps at most `--max-connections`
//! open ([`connection_cap`]), by default a share of the descriptor limit it
//! finds at start ([`default_cap`]), the rest left for the ledger,
//! the logs and the runtime. A connection that arrives at the cap takes the
//! place of the connection idle the longest (closed at once: an idle
//! keep-alive connection costs its client one reconnect); when none is
//! idle, it is refused (answered 503 over plain HTTP, closed over TLS)
//! and counted in `/metrics`.
//!
//! On SIGTERM the socket is closed, idle connections are closed at once,
//! and the requests in flight are answered for up to [`SHUTDOWN_GRACE`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::conn::{serve_connection, Clocks, Ended, Phase};
use super::{App, SHUTDOWN_GRACE};

/// Descriptors kept out of the connections' share: the listening socket,
/// the ledger's files or sockets, the logs, the runtime's own.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The answer a connection refused at the cap is given (plain HTTP only:
/// over TLS it is closed without a word, there being no handshake yet).
const REFUSED: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
    content-length: 115\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
    {\"error\":\"the service is at its limit of open connections; try again in a moment\",\"outcome\":\"too_many_connections\"}";

/// How many connections may be open at once, by default: three quarters of
/// the descriptors left once the reserve is set aside.
pub fn default_cap(descriptor_limit: u64) -> usize {
    let share = descriptor_limit.saturating_sub(RESERVED_DESCRIPTORS) / 4 * 3;
    usize::try_from(share.max(1)).unwrap_or(usize::MAX)
}

/// The descriptor limit of this process (RLIMIT_NOFILE, the soft limit
/// that applies), if it has one.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The cap, checked against the descriptor limit: `asked`, or the default
/// share; an asked cap the limit cannot hold is refused with what to do.
pub fn connection_cap(asked: Option<usize>, limit: Option<u64>) -> Result<usize, String> {
    let Some(limit) = limit else {
        return Ok(asked.unwrap_or(default_cap(1 << 20)));
    };
    let room = limit.saturating_sub(RESERVED_DESCRIPTORS);
    match asked {
        None => Ok(default_cap(limit)),
        Some(n) if u64::try_from(n).unwrap_or(u64::MAX) <= room => Ok(n),
        Some(n) => Err(format!(
            "a cap of {n} open connections needs more file descriptors than this process may open \
             ({limit}, of which {RESERVED_DESCRIPTORS} are kept for the ledger and the logs): \
             raise the limit (LimitNOFILE= in the unit, ulimit -n) or ask for at most {room}"
        )),
    }
}

/// The open connections, each with its phase.
struct Connections {
    max: usize,
    origin: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Phase>>>,
    app: Arc<App>,
}

/// A place among the open connections, given back when dropped.
struct Ticket {
    id: u64,
    phase: Arc<Phase>,
    conns: Arc<Connections>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.conns.lock();
        open.remove(&self.id);
        self.conns.app.metrics.connections_open(open.len());
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Phase>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection: a free one, or the place of the
    /// connection idle the longest (told to close; then `.1` is true); none
    /// when every open connection is in the middle of a request.
    fn admit(self: &Arc<Self>) -> Option<(Ticket, bool)> {
        let mut open = self.lock();
        let full = open.len() >= self.max;
        if full {
            let oldest = open
                .iter()
                .filter_map(|(id, phase)| phase.idle_since().map(|since| (since, *id)))
                .min();
            let (_, id) = oldest?;
            if let Some(phase) = open.remove(&id) {
                phase.evict.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let phase = Arc::new(Phase::new(self.origin));
        open.insert(id, Arc::clone(&phase));
        self.app.metrics.connections_open(open.len());
        let ticket = Ticket {
            id,
            phase,
            conns: Arc::clone(self),
        };
        Some((ticket, full))
    }

    /// Waits (at most `grace`) until every connection has closed.
    async fn drained(&self, grace: Duration) -> Result<(), usize> {
        let until = Instant::now() + grace;
        loop {
            let left = self.lock().len();
            if left == 0 {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(left);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What each connection's task is given.
#[derive(Clone)]
struct Shared {
    router: Router,
    tls: Option<TlsAcceptor>,
    clocks: Clocks,
    stop: watch::Receiver<bool>,
    app: Arc<App>,
}

/// Serves on `listener` until `stop` resolves, then stops as the module
/// documentation says.
pub async fn run(
    listener: std::net::TcpListener,
    app: Arc<App>,
    (tls, max): (Option<TlsAcceptor>, usize),
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let conns = Arc::new(Connections {
        max: max.max(1),
        origin: Instant::now(),
        next: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
        app: Arc::clone(&app),
    });
    let (stopping, stop_rx) = watch::channel(false);
    let shared = Shared {
        router: super::router(Arc::clone(&app)),
        tls,
        clocks: app.edge.clocks,
        stop: stop_rx,
        app,
    };
    tracing::info!(max_connections = max, "accepting connections");
    tokio::select! {
        () = stop => {},
        () = accept_loop(listener, &conns, &shared) => {},
    }
    // The listening socket is closed (the loop that owned it is gone).
    let _ = stopping.send(true);
    tracing::info!("stopping: idle connections closed, finishing the requests in flight");
    match conns.drained(SHUTDOWN_GRACE).await {
        Ok(()) => tracing::info!("stopped: every request in flight was answered"),
        Err(left) => tracing::warn!(
            connections = left,
            "stopped after {} s with connections still open; they are closed unanswered",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    Ok(())
}

/// Logs a repeated warning at most once every ten seconds.
struct Every(Option<Instant>);

impl Every {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        let due = self
            .0
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(10));
        if due {
            self.0 = Some(now);
        }
        due
    }
}

async fn accept_loop(listener: TcpListener, conns: &Arc<Connections>, shared: &Shared) {
    let (mut failing, mut full, mut making_room) = (Every(None), Every(None), Every(None));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                if failing.due() {
                    tracing::warn!(error = %e, "cannot accept a connection (out of file descriptors? see LimitNOFILE); retrying");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((ticket, evicted)) = conns.admit() else {
            shared.app.metrics.connection_refused();
            if full.due() {
                tracing::warn!(
                    max_connections = conns.max,
                    "every open connection is in the middle of a request: refusing new ones"
                );
            }
            if shared.tls.is_none() {
                // Best effort, never waited for: the socket's buffer is empty.
                let _ = tcp.try_write(REFUSED.as_bytes());
            }
            drop(tcp);
            continue;
        };
        if evicted && making_room.due() {
            tracing::warn!(
                max_connections = conns.max,
                "at the cap: closing the connection idle the longest for each new one"
            );
        }
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(tcp, peer, ticket, shared.clone()));
    }
}

/// One connection's task: the TLS handshake (if any), bounded like a
/// request's headers, then HTTP.
async fn connection(tcp: TcpStream, peer: SocketAddr, ticket: Ticket, mut shared: Shared) {
    let phase = Arc::clone(&ticket.phase);
    let (router, clocks, stop) = (shared.router, shared.clocks, shared.stop.clone());
    let ended = match shared.tls {
        None => serve_connection((tcp, peer), router, clocks, phase, stop).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(clocks.header, acceptor.accept(tcp));
            let stream = tokio::select! {
                done = handshake => done.ok().and_then(Result::ok).ok_or(Ended::Handshake),
                () = phase.evict.notified() => Err(Ended::Evicted),
                _ = shared.stop.wait_for(|s| *s) => Err(Ended::Idle),
            };
            match stream {
                Ok(s) => serve_connection((s, peer), router, clocks, phase, stop).await,
                Err(ended) => ended,
            }
        }
    };
    shared.app.metrics.connection_ended(ended);
    drop(ticket);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_http_with_the_json_error() {
        let (head, body) = REFUSED.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{}",
            body.len()
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["outcome"], "too_many_connections");
    }

    #[test]
    fn the_cap_is_a_share_of_the_descriptor_limit() {
        assert_eq!(default_cap(1024), 720);
        assert_eq!(default_cap(256), 144);
        assert_eq!(default_cap(10), 1);
        assert_eq!(connection_cap(None, Some(1024)), Ok(720));
        assert_eq!(connection_cap(Some(900), Some(1024)), Ok(900));
        let refused = connection_cap(Some(1000), Some(1024)).unwrap_err();
        assert!(refused.contains("LimitNOFILE"), "{refused}");
        assert!(refused.contains("at most 960"), "{refused}");
        assert_eq!(connection_cap(Some(5), None), Ok(5));
    }
}
