//! hyper answers a request it cannot parse by itself, before the router
//! sees anything: 400 (a malformed request line or header), 414 (a path too
//! long), 431 (headers too large), each with an empty body. The service
//! promises the documented JSON error for every refusal, so these answers
//! are rewritten as they are written: every answer the router makes carries
//! a `Content-Type` (errors are JSON, see the router), so a 400, 414 or 431
//! without one can only be hyper's own.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// The JSON answer written in place of hyper's, and how much of it is out.
pub struct Swap {
    bytes: Vec<u8>,
    written: usize,
}

/// The status of hyper's own answer to a request it could not parse, if
/// `head` (the start of what hyper writes) is one.
pub fn automatic_error(head: &[u8]) -> Option<u16> {
    let rest = head
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !matches!(status, 400 | 414 | 431) {
        return None;
    }
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(head.len());
    let fields = head[..end].to_ascii_lowercase();
    let typed = fields.windows(15).any(|w| w == b"\r\ncontent-type:");
    (!typed).then_some(status)
}

/// The documented JSON error for hyper's `status`, closing the connection.
pub fn json_response(status: u16) -> Vec<u8> {
    let (reason, outcome, error) = match status {
        414 => (
            "URI Too Long",
            "too_large",
            "the request's path is too long",
        ),
        431 => (
            "Request Header Fields Too Large",
            "too_large",
            "the request's headers are too large",
        ),
        _ => (
            "Bad Request",
            "bad_request",
            "the request is not HTTP/1.1 this service can read: see docs/openapi.yaml",
        ),
    };
    let body = serde_json::json!({ "error": error, "outcome": outcome }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl Swap {
    pub fn new(status: u16) -> Swap {
        Swap {
            bytes: json_response(status),
            written: 0,
        }
    }

    /// Writes the JSON answer to `inner`; ready once all of it is out.
    /// Whatever hyper writes meanwhile is dropped.
    pub fn poll_write_to<S: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.written < self.bytes.len() {
            match Pin::new(&mut *inner).poll_write(cx, &self.bytes[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_own_untyped_refusals_are_rewritten() {
        let hyper_s =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_error(hyper_s), Some(431));
        assert_eq!(
            automatic_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some(400)
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\ncontent-length: 9\r\n\r\n";
        assert_eq!(automatic_error(ours), None);
        assert_eq!(automatic_error(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(automatic_error(b"{\"error\": \"HTTP/1.1 400\"}"), None);
        let text = String::from_utf8(json_response(431)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["outcome"], "too_large");
    }
}
