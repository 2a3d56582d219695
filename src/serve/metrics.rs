//! `GET /metrics`: Prometheus text (OpenMetrics) of the service.
//!
//! Requests by route and outcome, a latency histogram by route, how many
//! receipts were locked by a wrong code typed here, and the connections:
//! open now, closed by the service and why, refused at the cap. Labels are
//! route, outcome and reason names only: never a receipt, a client token,
//! an address or a code.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::conn::Ended;

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    locks: Counter,
    redeemed_then_returned: Gauge,
    targeted: Gauge,
    open: Gauge,
    closed: Family<ReasonLabels, Counter>,
    refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("access_letters_http");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and outcome",
            requests.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by route",
            latency.clone(),
        );
        let locks = Counter::default();
        registry.register(
            "locks",
            "Receipts locked by a wrong code typed through the service",
            locks.clone(),
        );
        let redeemed_then_returned = Gauge::default();
        registry.register(
            "redeemed_then_returned",
            "Letters returned undelivered after their code was redeemed (read from the ledger at each scrape): check the linked accounts",
            redeemed_then_returned.clone(),
        );
        let targeted = Gauge::default();
        registry.register(
            "targeted_receipts",
            "Receipts guessed at from more distinct accounts or addresses than the limit within the window (read from the ledger at each scrape)",
            targeted.clone(),
        );
        let open = Gauge::default();
        registry.register("connections_open", "Connections open now", open.clone());
        let closed = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "connections_closed",
            "Connections the service closed, by reason: idle (keep-alive or shutdown), header_timeout (answered 408), evicted (idle, closed to make room at the cap), tls_handshake (failed or too slow)",
            closed.clone(),
        );
        let refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections refused at the cap, every open one being in the middle of a request",
            refused.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            locks,
            redeemed_then_returned,
            targeted,
            open,
            closed,
            refused,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, route: &str, outcome: &str, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a receipt that an answer of this service locked.
    pub fn locked(&self) {
        self.locks.inc();
    }

    /// The ledger's count of letters returned after redemption.
    pub fn set_redeemed_then_returned(&self, n: u64) {
        self.redeemed_then_returned
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// How many receipts are targeted now.
    pub fn set_targeted(&self, n: usize) {
        self.targeted.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// How many connections are open now.
    pub fn connections_open(&self, n: usize) {
        self.open.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a connection the service closed (not one the client closed).
    pub fn connection_ended(&self, ended: Ended) {
        let reason = match ended {
            Ended::Done => return,
            Ended::Idle => "idle",
            Ended::HeaderTimeout => "header_timeout",
            Ended::Evicted => "evicted",
            Ended::Handshake => "tls_handshake",
        };
        self.closed.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts a connection refused at the cap.
    pub fn connection_refused(&self) {
        self.refused.inc();
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_latency_and_locks_are_exposed() {
        let m = Metrics::default();
        m.observe("verify", "valid", Duration::from_millis(3));
        m.locked();
        m.connection_refused();
        m.connection_ended(Ended::HeaderTimeout);
        m.connection_ended(Ended::Done);
        m.connections_open(3);
        let text = m.render();
        assert!(
            text.contains("access_letters_http_connections_refused_total 1"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"access_letters_http_connections_closed_total{reason="header_timeout"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("access_letters_http_connections_open 3"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"access_letters_http_requests_total{route="verify",outcome="valid"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("access_letters_http_request_duration_seconds_bucket"));
        assert!(text.contains("access_letters_http_locks_total 1"), "{text}");
    }
}
