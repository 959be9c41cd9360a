//! Key functions: who a request is counted against.

use crate::Request;
use axum::extract::ConnectInfo;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// The peer's IP address from axum's [`ConnectInfo<SocketAddr>`], else `"127.0.0.1"`
/// (Flask-Limiter's `get_remote_address`). Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the address is known.
///
/// Behind a reverse proxy every client has the proxy's address: use [`ForwardedKey`].
pub fn get_remote_address(request: &Request) -> Cow<'_, str> {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => Cow::Owned(addr.ip().to_string()),
        None => Cow::Borrowed("127.0.0.1"),
    }
}

/// The same key for every request: one counter for all clients.
pub fn global_key(_request: &Request) -> Cow<'_, str> {
    Cow::Borrowed("global")
}

/// The client address behind trusted reverse proxies, from `X-Forwarded-For` (or `Forwarded`),
/// read **right to left** and trusted only as far as the proxies are trusted — so a client
/// cannot spoof its key by sending its own header.
///
/// * Without trusted proxies (the default), headers are ignored and the peer address is used.
/// * With trusted proxies, the header is only read when the peer itself is trusted; the key is
///   the right-most address that is not a trusted proxy.
/// * IPv6 addresses can be grouped by prefix (`ipv6_prefix(64)`), so one client cannot rotate
///   through its /64.
///
/// ```
/// use limiter_axum::ForwardedKey;
/// let key = ForwardedKey::new().trust_proxy("10.0.0.0/8".parse().unwrap()).ipv6_prefix(64);
/// let limiter = limiter_axum::Limiter::new(key);
/// # let _ = limiter;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ForwardedKey {
    trusted: Vec<IpNet>,
    ipv6_prefix: Option<u8>,
}

/// An IP network (`10.0.0.0/8`, `::1/128`), for [`ForwardedKey::trust_proxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|e| format!("{text}: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|e| format!("{text}: {e}"))?,
            None => max,
        };
        if prefix > max {
            return Err(format!("{text}: prefix longer than {max}"));
        }
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl ForwardedKey {
    /// No trusted proxies: the peer address.
    pub fn new() -> Self {
        ForwardedKey::default()
    }

    /// Trusts a proxy network: its `X-Forwarded-For`/`Forwarded` entries are believed.
    pub fn trust_proxy(mut self, net: IpNet) -> Self {
        self.trusted.push(net);
        self
    }

    /// Groups IPv6 clients by this prefix length (e.g. 64 or 56).
    pub fn ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = Some(prefix.min(128));
        self
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// The client address of a request.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())?;
        if !self.trusted(peer) {
            return Some(peer);
        }
        let mut chain: Vec<IpAddr> = Vec::new();
        for value in request.headers().get_all("x-forwarded-for") {
            if let Ok(text) = value.to_str() {
                chain.extend(
                    text.split(',')
                        .filter_map(|s| s.trim().parse::<IpAddr>().ok()),
                );
            }
        }
        if chain.is_empty() {
            for value in request.headers().get_all("forwarded") {
                if let Ok(text) = value.to_str() {
                    for element in text.split(',') {
                        for pair in element.split(';') {
                            let Some((name, value)) = pair.trim().split_once('=') else {
                                continue;
                            };
                            if name.eq_ignore_ascii_case("for") {
                                let value = value.trim_matches('"');
                                let value = value.trim_start_matches('[');
                                let host = match value.split_once(']') {
                                    Some((host, _)) => host,
                                    None => value
                                        .rsplit_once(':')
                                        .filter(|(h, _)| !h.contains(':'))
                                        .map_or(value, |(h, _)| h),
                                };
                                if let Ok(ip) = host.parse() {
                                    chain.push(ip);
                                }
                            }
                        }
                    }
                }
            }
        }
        // Right to left: the first address not of a trusted proxy is the client.
        let mut client = peer;
        for ip in chain.into_iter().rev() {
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        Some(client)
    }
}

impl crate::KeyFunc for ForwardedKey {
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        match self.client_ip(request) {
            Some(IpAddr::V6(ip)) if self.ipv6_prefix.is_some() => {
                let prefix = u32::from(self.ipv6_prefix.unwrap_or(128));
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                let net = std::net::Ipv6Addr::from(u128::from(ip) & mask);
                Cow::Owned(format!("{net}/{prefix}"))
            }
            Some(ip) => Cow::Owned(ip.to_string()),
            None => Cow::Borrowed("127.0.0.1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.1.2.3".parse().unwrap()));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<IpNet>().is_err());
    }
}
