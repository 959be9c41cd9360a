//! The trusted proxies: the networks whose forwarding headers are believed.

use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

/// The networks of the trusted proxies, IPv4-mapped IPv6 networks stored as IPv4 ones, so that
/// a rule and an address compare alike whatever family the server was bound with.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Adds a network, warning (at start-up, where proxies are configured) when it trusts every
    /// address: then any client can choose its key.
    pub(crate) fn push(&mut self, net: IpNet) {
        let net = canonical_net(net);
        if net.prefix_len() == 0 {
            tracing::warn!(
                %net,
                "ForwardedKey trusts every address as a proxy: any client can send its own \
                 forwarding header and choose its key; trust only your proxies' networks"
            );
        }
        self.nets.push(net);
    }

    /// Whether `ip` (already canonical) is a trusted proxy.
    #[inline]
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted (headers are never read).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) as `a.b.c.d/(n - 96)`; other networks as they are, with their
/// host bits cleared.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let (Some(v4), Some(prefix)) = (
            v6.network().to_ipv4_mapped(),
            v6.prefix_len().checked_sub(96),
        ) {
            if let Ok(v4) = Ipv4Net::new(v4, prefix) {
                return IpNet::V4(v4.trunc());
            }
        }
    }
    net.trunc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        let mut proxies = TrustedProxies::default();
        for net in nets {
            proxies.push(net.parse().unwrap());
        }
        proxies
    }

    #[test]
    fn networks() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        assert!(trusted.contains("10.1.2.3".parse().unwrap()));
        assert!(!trusted.contains("11.1.2.3".parse().unwrap()));
        assert!(trusted.contains("fd12::1".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<IpNet>().is_err());
    }

    #[test]
    fn mapped_rules_match_ipv4_peers() {
        let trusted = proxies(&["::ffff:127.0.0.1/128", "::ffff:10.0.0.0/104"]);
        assert!(trusted.contains("127.0.0.1".parse().unwrap()));
        assert!(trusted.contains("10.9.9.9".parse().unwrap()));
        assert!(!trusted.contains("11.0.0.1".parse().unwrap()));
    }
}
