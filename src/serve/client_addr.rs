//! The client's address, as the request log line names it.
//!
//! Without a proxy it is the peer: the address the connection came from.
//! Behind a load balancer the peer is the balancer, and the client is in
//! `X-Forwarded-For`, which each proxy extends with the address it was sent
//! from. Anyone may write that header, so it is believed only as far as
//! proxies we trust wrote it: when the peer is in one of the
//! `--trusted-proxy` ranges, the entries are read from the right (the one
//! our own proxy added) past every trusted address, and the first
//! untrusted one is the client. Whatever a client puts further left is
//! never believed. An entry that is not an address stops the reading: the
//! last address read (a trusted proxy) is all that is known.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// A range of addresses: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || {
            format!(
                "'{s}' is not an address range: write it as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
            )
        };
        let (addr, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

impl Cidr {
    /// Whether `ip` is in the range (an IPv4 address seen as IPv6, such as
    /// `::ffff:10.0.0.1`, is read as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are the same.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client of a request that came from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in entries.iter().rev() {
            let Some(ip) = forwarded_ip(entry) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_hold_what_they_say() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(one.to_string(), "192.0.2.7/32");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/33".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:7fff::1")));
        assert!(!v6.contains(ip("2001:db8:8000::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "10.0.0/8", "proxy", "::/129", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_as_far_as_trusted_proxies_wrote_it() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let lb = ip("10.0.0.2");
        // No proxy in front: the peer, whatever the header says.
        let h = headers(&["203.0.113.9"]);
        assert_eq!(proxies.client(ip("198.51.100.4"), &h), ip("198.51.100.4"));
        // Behind the balancer: the right-most untrusted entry.
        let h = headers(&["1.2.3.4, 203.0.113.9, 10.0.0.7"]);
        assert_eq!(proxies.client(lb, &h), ip("203.0.113.9"));
        // Several headers are one list, in order.
        let h = headers(&["1.2.3.4", "203.0.113.9"]);
        assert_eq!(proxies.client(lb, &h), ip("203.0.113.9"));
        // An entry that is not an address stops the reading.
        let h = headers(&["203.0.113.9, garbage, 10.0.0.7"]);
        assert_eq!(proxies.client(lb, &h), ip("10.0.0.7"));
        // No header: the balancer itself.
        assert_eq!(proxies.client(lb, &HeaderMap::new()), lb);
        let h = headers(&["[2001:db8::1]:443, 198.51.100.1:5000"]);
        assert_eq!(proxies.client(lb, &h), ip("198.51.100.1"));
    }
}
