//! `GET /metrics`: Prometheus text (OpenMetrics) of the service.
//!
//! Requests by route and outcome, a latency histogram by route, and how
//! many receipts were locked by a wrong code typed here. Labels are route
//! and outcome names only: never a receipt, a client token or a code.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

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
        Metrics {
            registry,
            requests,
            latency,
            locks,
            redeemed_then_returned,
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
        let text = m.render();
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
