//! The per-client request limit: a token bucket per client, as large as
//! its per-minute allowance and refilled evenly over the minute, so a
//! client may burst up to its minute's worth and then keeps its rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-client buckets, by client name.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one request from the client's allowance; when there is none
    /// left, says how long until there is.
    pub fn take(&self, client: &str, per_minute: u32, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(per_minute.max(1));
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(client.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_minute_then_waits_and_others_are_not_charged() {
        let r = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            r.take("portal", 3, t0).unwrap();
        }
        let wait = r.take("portal", 3, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        r.take("desk", 3, t0).unwrap();
        r.take("portal", 3, t0 + Duration::from_secs(20)).unwrap();
        assert!(r.take("portal", 3, t0 + Duration::from_secs(20)).is_err());
    }
}
