//! The flags of `serve` that meet its clients: the connection clocks, the
//! cap on open connections and the trusted proxies (README "The account
//! portal").

use std::time::Duration;

use anyhow::Result;
use clap::Args;

use access_letters::serve::listen::{connection_cap, descriptor_limit};
use access_letters::serve::{Cidr, Clocks, Edge, TrustedProxies};

#[derive(Args, Debug)]
pub struct EdgeFlags {
    /// Seconds a client has to send a request's headers, from its first
    /// byte (or from connecting), and the longest pause inside a body;
    /// then it is answered 408 and closed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds_arg)]
    header_timeout: Duration,
    /// Seconds an idle keep-alive connection is kept open.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds_arg)]
    keep_alive: Duration,
    /// Most connections open at once [default: three quarters of the file
    /// descriptors the process may open (LimitNOFILE), less 64].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// A proxy or load balancer in front (an address or a range such as
    /// 10.0.0.0/8) whose X-Forwarded-For names the client; repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
}

fn seconds_arg(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "'{text}' is not a number of seconds from 0 to 3600, such as 10 or 0.5"
        )),
    }
}

impl EdgeFlags {
    pub fn edge(&self) -> Edge {
        Edge {
            clocks: Clocks {
                header: self.header_timeout,
                keep_alive: self.keep_alive,
            },
            proxies: TrustedProxies(self.trusted_proxies.clone()),
        }
    }

    /// The cap on open connections, checked against the descriptor limit.
    pub fn cap(&self) -> Result<usize> {
        let asked = self.max_connections.map(|n| n as usize);
        connection_cap(asked, descriptor_limit())
            .map_err(|e| anyhow::Error::msg(e).context("--max-connections"))
    }
}
