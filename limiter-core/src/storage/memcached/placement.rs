//! Which server holds a key: rendezvous (highest random weight) hashing on MurmurHash3, as
//! pymemcache's `HashClient` (see the [module documentation](super#several-servers)).

use super::server::Server;

/// The server of `key` among `servers` (not empty): the one with the highest
/// `murmur3_32("{server}-{key}")`, ties to the greater name.
pub(super) fn server_for<'s>(servers: &'s [Server], key: &str) -> &'s Server {
    let mut best: Option<(&Server, u32)> = None;
    for server in servers {
        let score = murmur3_32(&[server.name.as_bytes(), b"-", key.as_bytes()]);
        best = match best {
            Some((winner, high)) if high > score => Some((winner, high)),
            Some((winner, high)) if high == score && winner.name > server.name => {
                Some((winner, high))
            }
            _ => Some((server, score)),
        };
    }
    // `build` refuses an empty server list.
    best.map(|(server, _)| server).unwrap_or(&servers[0])
}

/// MurmurHash3 x86 32-bit, seed 0, over the concatenation of `parts` (as pymemcache's
/// `murmur3_32` on ASCII text).
fn murmur3_32(parts: &[&[u8]]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut hash: u32 = 0;
    let mut length: u32 = 0;
    let mut block = [0u8; 4];
    let mut filled = 0;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    for part in parts {
        for &byte in *part {
            block[filled] = byte;
            filled += 1;
            length = length.wrapping_add(1);
            if filled == 4 {
                hash ^= mix(u32::from_le_bytes(block));
                hash = hash
                    .rotate_left(13)
                    .wrapping_mul(5)
                    .wrapping_add(0xe654_6b64);
                filled = 0;
            }
        }
    }
    if filled > 0 {
        let mut tail = 0u32;
        for (index, byte) in block[..filled].iter().enumerate() {
            tail |= u32::from(*byte) << (8 * index);
        }
        hash ^= mix(tail);
    }
    hash ^= length;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^= hash >> 16;
    hash
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_TIMEOUT;
    use super::*;
    use crate::uri::MemcachedServer;

    #[test]
    fn murmur3_known_values() {
        // Reference values of MurmurHash3_x86_32 with seed 0.
        assert_eq!(murmur3_32(&[b""]), 0);
        assert_eq!(murmur3_32(&[b"hello"]), 0x248b_fa47);
        assert_eq!(murmur3_32(&[b"hello, world"]), 0x149b_bb7f);
        assert_eq!(
            murmur3_32(&[b"The quick brown fox ", b"jumps over the lazy dog"]),
            0x2e4f_f723
        );
    }

    /// Placements computed with pymemcache 4's `RendezvousHash` (HashClient's default) for the
    /// servers `127.0.0.1:52211` and `127.0.0.1:52212`.
    #[test]
    fn server_placement_matches_pymemcache() {
        let servers = ["127.0.0.1:52211", "127.0.0.1:52212"]
            .iter()
            .map(|name| {
                let (host, port) = name.split_once(':').unwrap();
                let location = crate::uri::Location {
                    host: host.to_owned(),
                    port: port.parse().unwrap(),
                };
                Server::new(&MemcachedServer::Tcp(location), DEFAULT_TIMEOUT, 1).unwrap()
            })
            .collect::<Vec<_>>();
        let expected = [
            "52212", "52212", "52211", "52212", "52212", "52212", "52212", "52211",
        ];
        for (index, port) in expected.iter().enumerate() {
            let key = format!("LIMITER/spread{index}/5/1/minute");
            assert_eq!(
                server_for(&servers, &key).name,
                format!("127.0.0.1:{port}"),
                "{key}"
            );
        }
    }
}
