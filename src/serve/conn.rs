//! One connection, from accept to close, and the clocks that bound it.
//!
//! hyper serves the HTTP/1.1; this module decides how long a connection
//! may hold a descriptor without making progress:
//!
//! - **idle** (no request on it): closed after the keep-alive timeout, or
//!   after the header timeout when it has not sent a request yet; closed at
//!   once when the service stops or when a new connection needs its place
//!   at the cap ([`super::listen`]);
//! - **head** (the first bytes of a request arrived, the headers are not
//!   complete): answered `408` with the JSON error and closed after the
//!   header timeout, whatever it sends meanwhile (a slow drip of header
//!   bytes does not extend it); when the service stops, after at most
//!   [`LAST_HEADERS`] more;
//! - **busy** (a request is being answered): bounded by the router's
//!   layers (the body timeout, the request timeout); on SIGTERM it is
//!   answered, then closed.
//!
//! hyper's own `header_read_timeout` is not used: it runs from the moment
//! hyper waits for a request, so on a keep-alive connection it is also the
//! idle timeout, and when it fires hyper closes the connection without a
//! word. Here the phase of each connection is known (the bytes read tell
//! when a request starts; the service call, when its headers are
//! complete), so each phase gets its own clock and a client cut off in the
//! middle of its headers is told why, in the documented JSON.
//!
//! An answer given before the request's body was read to its end (a guard's
//! 401, 403 or 429, the JSON body's 413 or 415, a body too slow) says
//! `Connection: close`, and the connection closes after it. hyper cannot
//! reuse a connection whose request body it has not drained; without the
//! header a client keeping the connection would send its next request into
//! a socket hyper is closing.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{watch, Notify};
use tower_service::Service;

use super::api::Peer;
use super::hyper_errors::{automatic_error, Swap};

/// Once the service is stopping, the most a request's headers still being
/// sent may take.
pub const LAST_HEADERS: Duration = Duration::from_millis(500);

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// How long a connection may wait in each phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clocks {
    /// From the first byte of a request to the end of its headers; also a
    /// new connection's wait for its first byte, and a TLS handshake's.
    pub header: Duration,
    /// A connection with no request in flight, after its first request.
    pub keep_alive: Duration,
}

/// Where a connection stands, shared by its reader, its service and the
/// cap (which closes the connection idle the longest when it needs room).
pub struct Phase {
    origin: Instant,
    state: AtomicU8,
    /// Milliseconds from `origin` to the start of the current phase.
    since_ms: AtomicU64,
    served: AtomicBool,
    /// Told to close now (the cap needs its place).
    pub evict: Notify,
}

impl Phase {
    pub fn new(origin: Instant) -> Phase {
        let phase = Phase {
            origin,
            state: AtomicU8::new(IDLE),
            since_ms: AtomicU64::new(0),
            served: AtomicBool::new(false),
            evict: Notify::new(),
        };
        phase.since_ms.store(phase.now_ms(), Ordering::Relaxed);
        phase
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, state: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.state.store(state, Ordering::Release);
    }

    /// Bytes were read: an idle connection has started a request.
    fn bytes_arrived(&self) {
        if self.state.load(Ordering::Acquire) == IDLE {
            self.enter(HEAD);
        }
    }

    fn busy(&self) {
        self.enter(BUSY);
    }

    fn answered(&self) {
        self.served.store(true, Ordering::Relaxed);
        self.enter(IDLE);
    }

    /// Idle, and since when (for the cap's choice of whom to close).
    pub fn idle_since(&self) -> Option<Instant> {
        (self.state.load(Ordering::Acquire) == IDLE).then(|| self.since())
    }

    fn since(&self) -> Instant {
        self.origin + Duration::from_millis(self.since_ms.load(Ordering::Relaxed))
    }

    /// When the current phase runs out; none while a request is answered.
    /// Once the service is stopping (since `stopped_at`), headers still
    /// arriving have at most [`LAST_HEADERS`] more: a half-sent request
    /// does not hold the stop for its whole header timeout.
    fn deadline(&self, clocks: Clocks, stopped_at: Option<Instant>) -> Option<Instant> {
        match self.state.load(Ordering::Acquire) {
            // Idle once the service is stopping (a request answered since):
            // closed at once.
            IDLE if stopped_at.is_some() => stopped_at,
            IDLE if self.served.load(Ordering::Relaxed) => Some(self.since() + clocks.keep_alive),
            IDLE => Some(self.since() + clocks.header),
            HEAD => {
                let head = self.since() + clocks.header;
                Some(stopped_at.map_or(head, |at| head.min(at + LAST_HEADERS)))
            }
            _ => None,
        }
    }
}

/// The connection's stream, telling its [`Phase`] when bytes arrive.
/// It also rewrites hyper's own answers to requests it could not parse
/// into the JSON error ([`super::hyper_errors`]).
struct Watched<S> {
    inner: S,
    phase: Arc<Phase>,
    swap: Option<Swap>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.phase.bytes_arrived();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.swap.is_none() {
            this.swap = automatic_error(buf).map(Swap::new);
        }
        match &mut this.swap {
            Some(swap) => swap
                .poll_write_to(&mut this.inner, cx)
                .map_ok(|()| buf.len()),
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.swap.is_none() {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            this.swap = automatic_error(first).map(Swap::new);
        }
        match &mut this.swap {
            Some(swap) => {
                let all = bufs.iter().map(|b| b.len()).sum();
                swap.poll_write_to(&mut this.inner, cx).map_ok(|()| all)
            }
            None => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request's body, telling whether it was read to its end.
struct Drained {
    inner: Incoming,
    read: Arc<AtomicBool>,
}

impl Drained {
    /// The request with its body watched, and the flag that turns true once
    /// the body has been read to its end (at once for a request without one).
    fn wrap(req: hyper::Request<Incoming>) -> (hyper::Request<Body>, Arc<AtomicBool>) {
        let read = Arc::new(AtomicBool::new(hyper::body::Body::is_end_stream(
            req.body(),
        )));
        let flag = Arc::clone(&read);
        let req = req.map(|inner| Body::new(Drained { inner, read: flag }));
        (req, read)
    }
}

impl hyper::body::Body for Drained {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The client closed it, or hyper did (an answered request without
    /// keep-alive, a malformed request, the end of a graceful stop).
    Done,
    /// Idle past its clock, or idle when the service stopped.
    Idle,
    /// Its headers did not arrive in time: answered 408.
    HeaderTimeout,
    /// Closed to make room at the cap.
    Evicted,
    /// Its TLS handshake failed or did not finish within the header timeout.
    Handshake,
}

/// What woke the connection's loop.
enum Wake {
    Finished,
    Clock,
    Evicted,
    Stopping,
}

/// Serves one connection until it ends; `stop` turns true on SIGTERM.
pub async fn serve_connection<S>(
    (stream, peer): (S, SocketAddr),
    router: Router,
    clocks: Clocks,
    phase: Arc<Phase>,
    mut stop: watch::Receiver<bool>,
) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Watched {
        inner: stream,
        phase: Arc::clone(&phase),
        swap: None,
    });
    let on_request = Arc::clone(&phase);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        on_request.busy();
        let (mut req, read) = Drained::wrap(req);
        req.extensions_mut().insert(Peer(peer));
        let answer = router.clone().call(req);
        let phase = Arc::clone(&on_request);
        async move {
            let mut response = answer.await;
            if let Ok(r) = &mut response {
                if !read.load(Ordering::Acquire) {
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
            }
            phase.answered();
            response
        }
    });
    let mut conn = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(io, service);
    if *stop.borrow() {
        return Ended::Idle;
    }
    let mut stopped_at = None;
    loop {
        let deadline = phase.deadline(clocks, stopped_at);
        let wake = tokio::select! {
            _ = &mut conn => Wake::Finished,
            () = sleep_until(deadline) => Wake::Clock,
            () = phase.evict.notified() => Wake::Evicted,
            _ = stop.changed(), if stopped_at.is_none() => Wake::Stopping,
        };
        match wake {
            Wake::Finished => return Ended::Done,
            Wake::Evicted => return Ended::Evicted,
            Wake::Stopping => {
                stopped_at = Some(Instant::now());
                match phase.state.load(Ordering::Acquire) {
                    IDLE => return Ended::Idle,
                    // A request being answered is answered, one being sent
                    // has a last moment to arrive; then the connection closes.
                    _ => Pin::new(&mut conn).graceful_shutdown(),
                }
            }
            Wake::Clock => match phase.deadline(clocks, stopped_at) {
                Some(d) if d > Instant::now() => {}
                None => {}
                Some(_) if phase.state.load(Ordering::Acquire) == IDLE => return Ended::Idle,
                Some(_) => {
                    let parts = conn.into_parts();
                    if parts.read_buf.is_empty() {
                        // The bytes were the rest of a body hyper drained
                        // after its answer: no request is waiting.
                        return Ended::Idle;
                    }
                    answer_timeout(parts.io.into_inner().inner, clocks.header).await;
                    return Ended::HeaderTimeout;
                }
            },
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// The 408 for a request whose headers never came complete, written on the
/// stream itself (hyper has no request to answer), then the stream closed.
async fn answer_timeout<S: AsyncWrite + Unpin>(mut stream: S, header: Duration) {
    let response = timeout_response(header);
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    // A client that does not read is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// `408 Request Timeout` with the documented JSON error body.
pub fn timeout_response(header: Duration) -> String {
    let body = serde_json::json!({
        "error": format!(
            "the request's headers did not arrive within {} s; send the request again, whole",
            header.as_secs_f64()
        ),
        "outcome": "timeout",
    })
    .to_string();
    format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_has_its_own_clock() {
        let clocks = Clocks {
            header: Duration::from_secs(10),
            keep_alive: Duration::from_secs(60),
        };
        let phase = Phase::new(Instant::now());
        let fresh = phase.deadline(clocks, None).unwrap();
        assert!(fresh <= Instant::now() + clocks.header);
        assert!(phase.idle_since().is_some());
        phase.bytes_arrived();
        assert!(phase.idle_since().is_none());
        assert!(phase.deadline(clocks, None).unwrap() <= Instant::now() + clocks.header);
        phase.busy();
        assert_eq!(phase.deadline(clocks, None), None);
        phase.answered();
        let idle = phase.deadline(clocks, None).unwrap();
        assert!(idle > Instant::now() + clocks.header);
        // More bytes during a request do not restart its head clock.
        phase.bytes_arrived();
        let head = phase.deadline(clocks, None).unwrap();
        phase.bytes_arrived();
        assert_eq!(phase.deadline(clocks, None), Some(head));
        // Stopping: the headers still arriving get a last moment; once
        // answered, the connection's time is up.
        let stopped = Instant::now();
        assert_eq!(
            phase.deadline(clocks, Some(stopped)),
            Some(stopped + LAST_HEADERS)
        );
        phase.busy();
        phase.answered();
        assert_eq!(phase.deadline(clocks, Some(stopped)), Some(stopped));
    }

    #[test]
    fn the_timeout_answer_is_http_with_the_json_error() {
        let text = timeout_response(Duration::from_secs(10));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["outcome"], "timeout");
        assert!(v["error"].as_str().unwrap().contains("10 s"), "{v}");
    }
}
