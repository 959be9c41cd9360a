//! The IETF `RateLimit` and `RateLimit-Policy` header fields (draft-ietf-httpapi-ratelimit-headers-11)
//! over real HTTP, parsed with a structured-field parser (`sfv`): on memory storage here, on a
//! real Redis when `ietf_headers_redis.rs` runs these same tests.

use limiter_axum::routing::get;
use limiter_axum::{
    get_remote_address, limit, BuildError, HeaderStyle, Limiter, LimiterBuilder, Router,
};
use limiter_tests::{serve_limited, Reply, Server};
use sfv::{BareItem, ListEntry, Parser};

async fn ok() -> &'static str {
    "ok"
}

#[limit("1 per minute;10 per hour")]
async fn scarce() -> &'static str {
    "scarce"
}

/// Builds the limiter — on memory storage here, on Redis from `ietf_headers_redis.rs` — and serves
/// `/fast` (default limits only) and `/scarce` (its own two limits).
async fn app(builder: LimiterBuilder) -> Server {
    let router = Router::new()
        .route("/fast", get(ok))
        .route("/scarce", get(scarce));
    serve_limited(builder, router, module_path!()).await.1
}

/// One item of a `RateLimit` or `RateLimit-Policy` field.
#[derive(Debug)]
struct Member {
    /// The policy name (an `sf-string`).
    name: String,
    /// The Integer parameters (`q`, `w`, `r`, `t`), by name.
    integers: Vec<(String, i64)>,
    /// The `pk` parameter, if any.
    partition_key: Option<Vec<u8>>,
}

impl Member {
    fn integer(&self, name: &str) -> i64 {
        self.integers
            .iter()
            .find(|(key, _)| key == name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
            .1
    }
}

/// The field `name` of `reply`, parsed as the draft defines it: a List of String items.
fn field(reply: &Reply, name: &str) -> Vec<Member> {
    let text = reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name} field in {:?}", reply.headers));
    let list: sfv::List = Parser::new(text)
        .parse()
        .unwrap_or_else(|error| panic!("{name}: {text:?} is not a structured-field List: {error}"));
    list.into_iter()
        .map(|entry| {
            let ListEntry::Item(item) = entry else {
                panic!("{name}: an inner list in {text:?}");
            };
            let BareItem::String(policy) = &item.bare_item else {
                panic!("{name}: the item is not a String in {text:?}");
            };
            let mut member = Member {
                name: policy.as_str().to_owned(),
                integers: Vec::new(),
                partition_key: None,
            };
            for (key, value) in &item.params {
                match (key.as_str(), value) {
                    ("pk", BareItem::ByteSequence(bytes)) => {
                        member.partition_key = Some(bytes.clone())
                    }
                    ("pk", other) => panic!("{name}: pk is not a Byte Sequence: {other:?}"),
                    (key, BareItem::Integer(number)) => {
                        member.integers.push((key.to_owned(), i64::from(*number)))
                    }
                    (key, other) => panic!("{name}: {key} is not an Integer: {other:?}"),
                }
            }
            member
        })
        .collect()
}

fn ietf(builder: LimiterBuilder) -> LimiterBuilder {
    builder
        .headers_enabled(true)
        .header_style(HeaderStyle::Ietf)
}

#[tokio::test]
async fn every_limit_is_listed_with_its_quota_window_and_state() {
    let server = app(ietf(
        Limiter::new(get_remote_address).default_limits(["200 per day", "50 per hour"]),
    ))
    .await;
    let reply = server.get("/fast").await;
    assert_eq!(reply.status, 200);
    let policy = field(&reply, "ratelimit-policy");
    assert_eq!(policy.len(), 2, "{policy:?}");
    // Smallest window first, as the limits are checked.
    assert!(policy[0].name.ends_with(":50 per 1 hour"), "{policy:?}");
    assert_eq!((policy[0].integer("q"), policy[0].integer("w")), (50, 3600));
    assert!(policy[1].name.ends_with(":200 per 1 day"), "{policy:?}");
    assert_eq!(
        (policy[1].integer("q"), policy[1].integer("w")),
        (200, 86_400)
    );
    assert!(policy.iter().all(|member| member.partition_key.is_none()));
    let state = field(&reply, "ratelimit");
    assert_eq!(state.len(), 2, "{state:?}");
    for (member, (remaining, window)) in state.iter().zip([(49, 3600), (199, 86_400)]) {
        assert_eq!(member.integer("r"), remaining, "{state:?}");
        let t = member.integer("t");
        assert!((window - 2..=window).contains(&t), "t = {t} for {member:?}");
    }
    assert_eq!(state[0].name, policy[0].name, "RateLimit names its policy");
    assert_eq!(state[1].name, policy[1].name);
    // The IETF fields alone: no X-RateLimit-*, and no Retry-After on a response that passed.
    assert!(reply.header("x-ratelimit-limit").is_none());
    assert!(reply.header("retry-after").is_none());

    let state = field(&server.get("/fast").await, "ratelimit");
    assert_eq!((state[0].integer("r"), state[1].integer("r")), (48, 198));
}

#[tokio::test]
async fn a_429_lists_every_limit_and_carries_retry_after() {
    let server = app(ietf(Limiter::new(get_remote_address))).await;
    assert_eq!(server.get("/scarce").await.status, 200);
    let reply = server.get("/scarce").await;
    assert_eq!(reply.status, 429);
    let policy = field(&reply, "ratelimit-policy");
    let quotas: Vec<_> = policy
        .iter()
        .map(|member| (member.integer("q"), member.integer("w")))
        .collect();
    assert_eq!(quotas, [(1, 60), (10, 3600)], "{policy:?}");
    // The check stops at the first breach: the minute limit is the one with a state.
    let state = field(&reply, "ratelimit");
    assert_eq!(state.len(), 1, "{state:?}");
    assert_eq!(state[0].name, policy[0].name);
    assert_eq!(state[0].integer("r"), 0);
    let t = state[0].integer("t");
    assert!((1..=60).contains(&t), "t = {t}");
    let retry: i64 = reply
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .unwrap();
    assert!(
        retry >= t,
        "Retry-After {retry} is before the window's end {t}"
    );
    assert!(retry <= 61, "{retry}");
    assert!(reply.header("x-ratelimit-remaining").is_none());
}

#[tokio::test]
async fn both_styles_send_both_sets_of_headers() {
    let server = app(Limiter::new(get_remote_address)
        .default_limits(["5 per minute"])
        .headers_enabled(true)
        .header_style(HeaderStyle::Both))
    .await;
    let reply = server.get("/fast").await;
    assert_eq!(reply.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("4"));
    assert!(reply.header("retry-after").is_some());
    assert_eq!(field(&reply, "ratelimit")[0].integer("r"), 4);
    assert_eq!(field(&reply, "ratelimit-policy")[0].integer("q"), 5);
}

#[tokio::test]
async fn the_ietf_fields_are_off_unless_asked_for() {
    let server = app(Limiter::new(get_remote_address)
        .default_limits(["5 per minute"])
        .headers_enabled(true))
    .await;
    let reply = server.get("/fast").await;
    assert_eq!(reply.header("x-ratelimit-limit"), Some("5"));
    assert!(reply.header("ratelimit").is_none());
    assert!(reply.header("ratelimit-policy").is_none());

    // The style alone sends nothing: headers are enabled separately, as Flask-Limiter's.
    let server = app(Limiter::new(get_remote_address)
        .default_limits(["5 per minute"])
        .header_style(HeaderStyle::Ietf))
    .await;
    let reply = server.get("/fast").await;
    assert!(reply.header("ratelimit").is_none());
    assert!(reply.header("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn partition_keys_are_keyed_hashes_that_never_reveal_the_client() {
    let keyed = |secret: &'static str| {
        ietf(
            Limiter::new(get_remote_address)
                .default_limits(["5 per minute", "50 per hour"])
                .header_partition_key(secret),
        )
    };
    let server = app(keyed("a secret of the application")).await;
    let reply = server.get("/fast").await;
    let policy = field(&reply, "ratelimit-policy");
    let state = field(&reply, "ratelimit");
    let keys: Vec<Vec<u8>> = policy
        .iter()
        .map(|member| member.partition_key.clone().expect("a pk"))
        .collect();
    for key in &keys {
        assert_eq!(key.len(), 16, "128 bits");
        assert!(
            !key.windows(9).any(|window| window == b"127.0.0.1"),
            "the client's address is not in its partition key"
        );
    }
    // The partition is the client's in the limits' bucket: both default limits of `/fast`
    // share it; `/scarce`'s own limits are another.
    assert_eq!(keys[0], keys[1], "one partition per client and bucket");
    let scarce = field(&server.get("/scarce").await, "ratelimit-policy");
    assert_ne!(scarce[0].partition_key.as_ref(), Some(&keys[0]));
    let state_keys: Vec<Vec<u8>> = state
        .iter()
        .map(|member| member.partition_key.clone().expect("a pk"))
        .collect();
    assert_eq!(state_keys, keys, "RateLimit names the same partitions");
    // Stable across requests and across instances sharing the secret; another secret, other keys.
    let again = field(&server.get("/fast").await, "ratelimit-policy");
    assert_eq!(again[0].partition_key.as_ref(), Some(&keys[0]));
    let twin = app(keyed("a secret of the application")).await;
    let twin_policy = field(&twin.get("/fast").await, "ratelimit-policy");
    assert_eq!(twin_policy[0].partition_key.as_ref(), Some(&keys[0]));
    let other = app(keyed("another secret")).await;
    let other_policy = field(&other.get("/fast").await, "ratelimit-policy");
    assert_ne!(other_policy[0].partition_key.as_ref(), Some(&keys[0]));
    // Nothing of the client in the policy names either.
    assert!(reply
        .header("ratelimit")
        .is_some_and(|text| !text.contains("127.0.0.1")));
    assert!(reply
        .header("ratelimit-policy")
        .is_some_and(|text| !text.contains("127.0.0.1")));
}

#[tokio::test]
async fn the_style_is_read_from_the_environment() {
    let vars = |style: &'static str| {
        move |name: &str| match name {
            "RATELIMIT_HEADERS_ENABLED" => Some("true".to_owned()),
            "RATELIMIT_HEADER_STYLE" => Some(style.to_owned()),
            _ => None,
        }
    };
    let builder = Limiter::new(get_remote_address)
        .default_limits(["5 per minute"])
        .from_vars(vars("ietf"))
        .unwrap();
    let reply = app(builder).await.get("/fast").await;
    assert_eq!(field(&reply, "ratelimit")[0].integer("r"), 4);
    assert!(reply.header("x-ratelimit-limit").is_none());

    let error = Limiter::new(get_remote_address)
        .from_vars(vars("rfc"))
        .err()
        .expect("an unknown style is refused");
    assert!(
        matches!(
            error,
            BuildError::Environment {
                name: "RATELIMIT_HEADER_STYLE",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_meta_limit_that_refuses_is_reported_alone() {
    let server = app(ietf(
        Limiter::new(get_remote_address)
            .default_limits(["1 per minute"])
            .meta_limits(["1 per hour"]),
    ))
    .await;
    assert_eq!(server.statuses("/fast", 2).await, [200, 429]);
    // One breach: the meta limit now refuses every request of the client.
    let reply = server.get("/fast").await;
    assert_eq!(reply.status, 429);
    let policy = field(&reply, "ratelimit-policy");
    assert_eq!(policy.len(), 1, "{policy:?}");
    assert_eq!(policy[0].name, "meta:1 per 1 hour");
    assert_eq!((policy[0].integer("q"), policy[0].integer("w")), (1, 3600));
    let state = field(&reply, "ratelimit");
    assert_eq!(state[0].integer("r"), 0);
    let t = state[0].integer("t");
    let retry: i64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (3598..=3600).contains(&t) && retry >= t,
        "t {t}, Retry-After {retry}"
    );
}
