//! The IETF `RateLimit` and `RateLimit-Policy` header fields, as
//! [draft-ietf-httpapi-ratelimit-headers-11](https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/)
//! (May 2026) defines them: two structured-field Lists of String items, one per limit.
//!
//! ```text
//! RateLimit-Policy: "app.ping:10 per 1 minute";q=10;w=60;pk=:…:, "global:100 per 1 hour";q=100;w=3600
//! RateLimit: "app.ping:10 per 1 minute";r=7;t=42;pk=:…:, "global:100 per 1 hour";r=93;t=1800
//! ```
//!
//! Both are serialised when the decision is taken, only when the limiter sends them
//! ([`HeaderStyle`]); otherwise nothing here runs. A policy is named after its limit's scope and
//! rate (never the client's key). The partition key `pk` is an HMAC-SHA256 of the limit's
//! storage identifiers under a secret of the application, so it tells a client which quota it
//! spends without revealing who it is; with no secret it is left out.

use super::headers::HeaderInfo;
use super::prepare::{Ids, Prepared};
use crate::core::Core;
use crate::decl::Limit;
use crate::options::HeaderStyle;
use crate::Response;
use axum::http::{HeaderName, HeaderValue};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use limiter_core::{Decision, RateLimit, Timestamp, WindowStats};
use sha2::Sha256;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `RateLimit` field: the current state of each limit.
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// The `RateLimit-Policy` field: each limit's quota and window.
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The largest Integer a structured field can carry (RFC 9651, 15 digits).
const SF_INTEGER_MAX: u64 = 999_999_999_999_999;

/// How many bytes of the HMAC make a partition key: 128 bits, as a base64 Byte Sequence.
const PARTITION_KEY_BYTES: usize = 16;

/// The secret the partition keys are derived from.
#[derive(Clone)]
pub(crate) struct PartitionKeySecret(Box<[u8]>);

impl PartitionKeySecret {
    /// A secret of these bytes.
    pub(crate) fn new(secret: impl Into<Vec<u8>>) -> Self {
        PartitionKeySecret(secret.into().into_boxed_slice())
    }

    /// The partition key of a limit's storage identifiers, as an `sf-binary` (`:…:`).
    fn write_partition_key(&self, identifiers: &[&str], out: &mut String) {
        // Any key length is accepted by HMAC: this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return;
        };
        for identifier in identifiers {
            mac.update(identifier.as_bytes());
            // A separator that cannot occur in a text identifier, so ["ab", "c"] ≠ ["a", "bc"].
            mac.update(&[0xff]);
        }
        let digest = mac.finalize().into_bytes();
        out.push_str(";pk=:");
        base64::engine::general_purpose::STANDARD
            .encode_string(&digest[..PARTITION_KEY_BYTES], out);
        out.push(':');
    }
}

impl fmt::Debug for PartitionKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartitionKeySecret(…)")
    }
}

/// Both fields of one response, serialised.
#[derive(Clone)]
pub(crate) struct IetfFields {
    policy: HeaderValue,
    state: HeaderValue,
}

/// One limit as the fields report it.
struct Reported<'a> {
    scope: &'a str,
    rate: &'a RateLimit,
    identifiers: &'a [&'a str],
    /// Its state after the request, if it was decided (a limit after the first breach is not).
    state: Option<(u64, Timestamp)>,
}

/// `header` with the IETF fields of every limit of the request that applied (`prepared`'s items;
/// the first `decisions.len()` were decided), when the limiter sends them.
#[inline]
pub(crate) fn attach(
    core: &Core,
    header: HeaderInfo,
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    decisions: &[Decision],
) -> HeaderInfo {
    if !sends_ietf(core) {
        return header;
    }
    let limits = prepared
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| Reported {
            scope: &item.scope,
            rate: &item.rate,
            identifiers: ids.of(index),
            state: decisions
                .get(index)
                .map(|decision| (decision.remaining, decision.reset_at)),
        });
    header.with_ietf(fields(core, limits))
}

/// The headers of the meta limit `meta` (its limit `rate`, in the window `stats` describes) that
/// refused the request, with its IETF fields when the limiter sends them.
pub(crate) fn meta_header(
    core: &Core,
    meta: &Limit,
    rate: &RateLimit,
    identifiers: &[&str],
    stats: WindowStats,
) -> HeaderInfo {
    let header = HeaderInfo::of_rejection(rate, stats);
    if !sends_ietf(core) {
        return header;
    }
    let limit = Reported {
        scope: meta.scope.as_deref().unwrap_or("meta"),
        rate,
        identifiers,
        state: Some((stats.remaining, stats.reset_at)),
    };
    header.with_ietf(fields(core, std::iter::once(limit)))
}

/// Whether the limiter sends the IETF fields.
#[inline]
fn sends_ietf(core: &Core) -> bool {
    core.headers_enabled && core.header_style != HeaderStyle::XRateLimit
}

/// Serialises both fields of `limits`, or `None` if there are none.
fn fields<'a>(core: &Core, limits: impl Iterator<Item = Reported<'a>>) -> Option<IetfFields> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    let secret = core.header_partition_key.as_ref();
    let (mut policy, mut state) = (String::new(), String::new());
    for limit in limits {
        let separator = if policy.is_empty() { "" } else { ", " };
        policy.push_str(separator);
        write_policy_name(limit.scope, limit.rate, &mut policy);
        let _ = write!(
            policy,
            ";q={};w={}",
            limit.rate.amount().min(SF_INTEGER_MAX),
            limit.rate.expiry_seconds().clamp(1, SF_INTEGER_MAX)
        );
        if let Some(secret) = secret {
            secret.write_partition_key(limit.identifiers, &mut policy);
        }
        let Some((remaining, reset_at)) = limit.state else {
            continue;
        };
        let separator = if state.is_empty() { "" } else { ", " };
        state.push_str(separator);
        write_policy_name(limit.scope, limit.rate, &mut state);
        let _ = write!(
            state,
            ";r={};t={}",
            remaining.min(SF_INTEGER_MAX),
            effective_window(reset_at, now)
        );
        if let Some(secret) = secret {
            secret.write_partition_key(limit.identifiers, &mut state);
        }
    }
    if policy.is_empty() {
        return None;
    }
    Some(IetfFields {
        policy: HeaderValue::from_str(&policy).ok()?,
        state: HeaderValue::from_str(&state).ok()?,
    })
}

/// The `t` parameter: whole seconds from `now` until the limit frees capacity at `reset_at`,
/// rounded up, so that a client waiting `t` seconds is never early (and a `Retry-After`, which
/// the legacy headers round up from `X-RateLimit-Reset`, is never before it).
fn effective_window(reset_at: Timestamp, now: f64) -> u64 {
    let seconds = (reset_at.as_secs_f64() - now).ceil().max(0.0);
    (seconds as u64).min(SF_INTEGER_MAX)
}

/// A policy's name as an `sf-string`: its scope and rate, `"app.ping:10 per 1 minute"`. A
/// structured-field String holds printable ASCII only, with `"` and `\` escaped: anything else
/// in a scope becomes `?`.
fn write_policy_name(scope: &str, rate: &RateLimit, out: &mut String) {
    out.push('"');
    for character in scope.chars() {
        match character {
            '"' | '\\' => {
                out.push('\\');
                out.push(character);
            }
            ' '..='~' => out.push(character),
            _ => out.push('?'),
        }
    }
    let _ = write!(out, ":{rate}\"");
}

/// Adds `fields` to `response` (the caller checked that the limiter sends them).
pub(crate) fn write(response: &mut Response, fields: &IetfFields) {
    let headers = response.headers_mut();
    headers.insert(&RATELIMIT_POLICY, fields.policy.clone());
    headers.insert(&RATELIMIT, fields.state.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_window_rounds_up_and_is_never_negative() {
        let reset = Timestamp::from_secs_f64(100.2);
        assert_eq!(effective_window(reset, 40.5), 60);
        assert_eq!(effective_window(reset, 100.0), 1);
        assert_eq!(effective_window(reset, 100.2), 0);
        assert_eq!(effective_window(reset, 130.0), 0);
    }

    #[test]
    fn a_policy_name_is_a_structured_field_string() {
        let rate: RateLimit = "10/minute".parse().unwrap();
        let mut name = String::new();
        write_policy_name("app.\"ping\"\\é", &rate, &mut name);
        assert_eq!(name, r#""app.\"ping\"\\?:10 per 1 minute""#);
    }

    #[test]
    fn a_partition_key_is_a_keyed_hash_of_the_identifiers() {
        let key = |secret: &str, identifiers: &[&str]| {
            let mut out = String::new();
            PartitionKeySecret::new(secret).write_partition_key(identifiers, &mut out);
            out
        };
        let one = key("secret", &["127.0.0.1", "app.ping"]);
        assert!(one.starts_with(";pk=:") && one.ends_with(':'), "{one}");
        assert!(!one.contains("127.0.0.1"));
        // 16 bytes: 24 base64 characters with their padding.
        assert_eq!(one.len(), ";pk=::".len() + 24);
        assert_eq!(one, key("secret", &["127.0.0.1", "app.ping"]), "stable");
        assert_ne!(one, key("other", &["127.0.0.1", "app.ping"]), "keyed");
        assert_ne!(one, key("secret", &["127.0.0.2", "app.ping"]));
        assert_ne!(
            key("secret", &["ab", "c"]),
            key("secret", &["a", "bc"]),
            "the identifiers are delimited"
        );
    }
}
