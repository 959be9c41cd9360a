//! Redis, Redis Cluster and Redis Sentinel storage (and the Valkey aliases), compatible with
//! Python `limits` deployments.
//!
//! * **One atomic script call per decision batch**: [`Storage::acquire`](super::Storage::acquire)
//!   sends all the hits of a request (one per limit) to one Lua script, by `EVALSHA` (the script is
//!   loaded again after a `NOSCRIPT` reply, e.g. after a server restart), so checking a request
//!   against three limits costs one round trip and one script call, where Python costs three.
//! * **Concurrent requests share script calls** (standalone and sentinel): the requests that are
//!   waiting at the same moment go to the server as one script call, which decides each of them
//!   in order with its own `stop_at_first_breach`. Nothing waits for a batch to fill; under load
//!   this cuts the server's work per request by the parsing, lookup and start-up of a script call
//!   (see `batch.rs`). A batch is one atomic script run, so counts stay exact.
//! * **Each key and limit once per call**: a call names each distinct key and each distinct
//!   limit (amount, expiry, cost) once, and its hits as 9-byte indices into them, so the many
//!   hits of a coalesced call on few keys (one client's requests, a limit every client shares)
//!   cost the server a few bytes each rather than a key and four arguments.
//! * **Fixed window: one write per key**: each key of a call is written by one `INCRBY` of all
//!   its hits' costs; when every count stays within its amount (every hit admitted, the common
//!   case) the script returns each key's count before the call and the client works out each
//!   hit's count, so the server does no work per hit at all. Otherwise the script decides the
//!   hits one by one from those counts and sets each key right; either way each hit sees the
//!   count before it and the stored values are those of one `INCRBY` per counted hit.
//! * **Replies in binary**: each decided hit comes back as one byte and two or four
//!   little-endian doubles (`struct.pack`), which is cheaper for the server than formatting
//!   numbers as text, and exact for every count a Lua script can hold (2⁵³).
//! * **Reset times only when asked**: [`Storage::acquire_with`](super::Storage::acquire_with)
//!   with [`AdmittedReset::UpperBound`](crate::AdmittedReset::UpperBound) skips the fixed window's `PTTL` for admitted hits (the
//!   middleware asks for it only when it sends headers or serves `CurrentLimits`).
//! * **Shared with Python**: keys are `{prefix}:{limits key}` (sliding window:
//!   `{prefix}:{{limits key}}` and `{prefix}:{{limits key}}/-1`) and each hit writes what `limits`'
//!   own scripts write, so a Flask-Limiter service and ours on one Redis enforce one limit.
//! * **Bounded**: every operation (connection included) is bounded by a timeout
//!   ([`DEFAULT_TIMEOUT`] unless [configured](RedisStorageBuilder::timeout)); a server that is
//!   down or slow gives [`StorageError::Timeout`](crate::StorageError::Timeout) or [`StorageError::Backend`](crate::StorageError::Backend), never a panic or a
//!   hang, and the storage reconnects by itself once the server is back.
//! * **Proved at start-up**: [`RedisStorageBuilder::build`] connects, authenticates, selects the
//!   database, pings and loads the scripts, and reports the true cause as
//!   [`StorageError::Connect`](crate::StorageError::Connect) (refused, authentication, bad
//!   database, timeout, TLS); with [`RedisStorageBuilder::lazy`] it starts without the server
//!   and connects in the background instead.
//! * **Lease mode** (opt-in, [`RedisStorageBuilder::lease`]): hot fixed-window keys are spent
//!   out of shares of their budget taken from the server, most requests without a round trip;
//!   never more admitted than the limit, a bounded number fewer (see [the lease
//!   module](crate::storage::lease)).
//! * **Cluster**: see [the cluster module](self#cluster) below; **Sentinel**: the master is found
//!   through the sentinels and followed across failovers.
//!
//! # Differences from `limits`, and limits of this backend
//!
//! * The sliding window counter is anchored at the first hit (as `limits` on Redis), not at clock
//!   boundaries (as on the memory storage).
//! * Reset times use `PTTL` (milliseconds) where `limits` uses `TTL` (whole seconds), and a
//!   sliding-window reset that `limits` would report as "now" because a TTL is an exact multiple
//!   of the period (a counter read in the millisecond it was created) is reported one period
//!   later. Decisions and stored values are unaffected.
//! * `reset` uses `SCAN` + `UNLINK` on every master (never `KEYS`), so it does not block the
//!   server; it is not atomic with respect to concurrent hits.
//! * Sentinel reads always go to the master (`limits`' `use_replicas` is not offered: a decision
//!   is a write). Sentinel URIs have no TLS form (as in `limits`).
//!
//! # TLS
//!
//! With the `tls` feature (without it they fail with [`StorageError::NotBuilt`](crate::StorageError::NotBuilt)), `rediss://` and
//! `valkeys://` (and TLS cluster nodes) connect over TLS with [rustls](https://docs.rs/rustls)
//! and verify the server's certificate and host name:
//!
//! * **Trusted roots**: by default the platform's root certificates, loaded by
//!   `rustls-native-certs` (the system store; the `SSL_CERT_FILE` and `SSL_CERT_DIR` environment
//!   variables, when set, are used instead, as with OpenSSL). A private CA is given with
//!   [`RedisStorageBuilder::tls_root_certificates`], which then **replaces** the platform roots.
//!   This is what Python's `?ssl_ca_certs=/path/ca.pem` does with redis-py: pass the contents of
//!   that file (`std::fs::read("/path/ca.pem")?`). The `ssl_*` query parameters of a `limits` URI
//!   are not read by this crate; `?ssl_cert_reqs=none` has no equivalent except `#insecure` below.
//! * **Mutual TLS**: [`RedisStorageBuilder::tls_client_certificate`] (Python's `ssl_certfile` and
//!   `ssl_keyfile`).
//! * **`#insecure`** (`rediss://host:6380/0#insecure`, which disables certificate verification in
//!   the `redis` crate) is rejected at connect with a typed [`StorageError::Backend`](crate::StorageError::Backend): this build
//!   does not enable the `redis` crate's `tls-rustls-insecure` feature, so an unverified
//!   connection cannot happen by accident. Use a private CA instead, even for tests.
//! * **Crypto provider**: when a TLS connection is made and the process has no default rustls
//!   `CryptoProvider` yet, rustls' `ring` provider is installed as the process default; an
//!   application that installed its own first keeps it.
//!
//! # Cluster
//!
//! A Lua script may only touch keys of one hash slot. The keys of one hit always share one, but
//! the hits of a request often do not (hash-tagging them together would rename them and break
//! Python compatibility). A call in one slot is one script call; otherwise it is one script call
//! per slot, all sent at once: a request whose limits live in three slots costs three calls but
//! one round trip of wall time. Concurrent requests are coalesced as on one server, per slot: the
//! requests waiting at the same moment share each slot's call.
//!
//! With `stop_at_first_breach` each slot's call stops at the request's first rejected hit in that
//! slot; a hit after the request's first rejected hit that another slot counted meanwhile is
//! taken back by a refund script before the request gets its decisions, so the decisions and the
//! stored counts are those of one server. While such a hit is counted (one round trip), a
//! concurrent request near that later limit may be rejected where one server would have admitted
//! it; never admitted where it would have been rejected, except when the later limit's window
//! ends within that round trip. The details are in `cluster_calls.rs`.
//!
//! # Layout
//!
//! * `storage.rs`: [`RedisStorage`] and its side of the storage contract; `errors.rs`: timeouts
//!   and errors.
//! * `builder.rs`: [`RedisStorageBuilder`]; `connection/`: opening and using the connection
//!   (`standalone.rs`, `cluster.rs`, `sentinel.rs`, `tls.rs`).
//! * `scripts.rs` and the `.lua` files: the server-side decisions; `arguments.rs`: a call's
//!   arguments (each distinct key and limit once, the hits as indices into them); `calls.rs`:
//!   sending them (`batch.rs` coalesces concurrent requests; on a cluster `cluster_calls.rs`
//!   sends one call per slot at once, `slots.rs` plans and merges them, `refund.rs` and
//!   `refund.lua` take back the hits counted after a breach in another slot); `decode.rs`: their
//!   records to decisions.
//! * `reset.rs`: `SCAN` + `UNLINK` on every master.
//! * `lease.rs` and `lease.lua`: [lease mode](crate::storage::lease) (opt-in), its script and its sweep.

mod arguments;
mod batch;
mod builder;
mod calls;
mod cluster_calls;
mod connection;
mod decode;
mod lease;
mod refund;
mod reset;
mod scripts;
mod slots;
mod wrong_type;

mod errors;
mod storage;

pub use builder::{RedisStorageBuilder, DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT};
pub use storage::RedisStorage;
