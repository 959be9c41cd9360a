//! IPv6 clients keyed by network: one subscriber usually holds a whole /56 (or /48, /64), so
//! keying by address would let it rotate through billions of keys.

use super::value::Key;
use std::net::Ipv6Addr;

/// The default prefix length IPv6 clients are grouped by (express-rate-limit's default too).
pub(crate) const DEFAULT_IPV6_PREFIX: u8 = 56;

/// The key of an IPv6 client grouped by `prefix`: `2001:db8:0:1200::/56`, or the plain address
/// for a /128.
pub(crate) fn network_key<'a>(ip: Ipv6Addr, prefix: u8) -> Key<'a> {
    if prefix >= 128 {
        return Key::from_ip(ip.into());
    }
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    let network = Ipv6Addr::from(u128::from(ip) & mask);
    Key::formatted(format_args!("{network}/{prefix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        let ip: Ipv6Addr = "2001:db8:0:12ab:1:2:3:4".parse().unwrap();
        assert_eq!(network_key(ip, 56).as_str(), "2001:db8:0:1200::/56");
        assert_eq!(network_key(ip, 64).as_str(), "2001:db8:0:12ab::/64");
        assert_eq!(network_key(ip, 0).as_str(), "::/0");
        assert_eq!(network_key(ip, 128).as_str(), "2001:db8:0:12ab:1:2:3:4");
    }
}
