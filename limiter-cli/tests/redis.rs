//! `limiter limits --key` and `limiter clear` on a real Redis, with counters written through
//! `limiter_core` as the app writes them (key prefix, per-method and meta limits).
//!
//! Needs `LIMITER_TEST_REDIS_URL` (`eval "$(scripts/test-servers.sh start)"`) and a
//! `limiter-core` with the Redis backend; otherwise prints `SKIPPED: <why>` (and fails when
//! `LIMITER_TEST_SERVERS=1` promises the servers).

use assert_cmd::Command;
use limiter_core::{RateLimit, RateLimiter, Storage, StorageError, Strategy};

fn skip(why: &str) {
    if std::env::var_os("LIMITER_TEST_SERVERS").is_some_and(|v| v == "1")
        && !why.contains("not built")
    {
        panic!("LIMITER_TEST_SERVERS=1 but {why}");
    }
    println!("SKIPPED: {why}");
}

fn cli(manifest: &str, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_limiter"))
        .args(["--manifest", manifest])
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test]
async fn key_state_and_clear_on_redis() {
    let Ok(url) = std::env::var("LIMITER_TEST_REDIS_URL") else {
        return skip("LIMITER_TEST_REDIS_URL is not set");
    };
    let storage = match Storage::connect(&url).await {
        Ok(storage) => storage,
        Err(error @ StorageError::NotBuilt { .. }) => {
            return skip(&format!("{error} (not built on this branch yet)"))
        }
        Err(error) => panic!("cannot connect to {url}: {error}"),
    };
    let limiter = RateLimiter::new(Strategy::FixedWindow, storage).unwrap();
    let key = format!(
        "cli-{}-{}",
        std::process::id(),
        std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-redis");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("redis.json");
    std::fs::write(
        &manifest,
        format!(
            r#"{{"version": 1, "app": "app",
                "config": {{"storage_uri": "{url}", "strategy": "fixed-window", "key_prefix": "pfx",
                  "application_limits": [{{"limit": "1000 per 1 day", "source": "application", "scope": "global", "shared": true}}],
                  "meta_limits": [{{"limit": "2 per 1 hour", "source": "meta", "scope": "meta", "shared": true, "uses_key_prefix": false}}]}},
                "routes": [
                  {{"endpoint": "fast", "group": "app", "path": "/fast", "methods": ["GET"],
                    "limits": [{{"limit": "2 per 1 minute", "source": "route", "scope": "fast"}}]}},
                  {{"endpoint": "pm", "group": "app", "path": "/pm", "methods": ["GET", "POST"],
                    "limits": [{{"limit": "3 per 1 minute", "source": "route", "scope": "pm", "method": "GET"}},
                               {{"limit": "3 per 1 minute", "source": "route", "scope": "pm", "method": "POST"}}]}}
                ]}}"#
        ),
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let rate = |text: &str| text.parse::<RateLimit>().unwrap();
    // What the app writes for two requests to /fast, one POST /pm, and one breach.
    for _ in 0..2 {
        assert!(limiter
            .hit(&rate("2/minute"), &["pfx", &key, "fast"], 1)
            .await
            .unwrap());
        assert!(limiter
            .hit(&rate("1000/day"), &["pfx", &key, "global"], 1)
            .await
            .unwrap());
    }
    assert!(limiter
        .hit(&rate("3/minute"), &["pfx", &key, "pm:POST"], 1)
        .await
        .unwrap());
    assert!(limiter
        .hit(&rate("2/hour"), &[&key, "meta"], 1)
        .await
        .unwrap());

    let (code, stdout) = cli(manifest, &["limits", "--key", &key]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "Meta Limits\n└── 2 per 1 hour: Pass (1 out of 2 remaining)\nApplication Limits\n\
         └── 1000 per 1 day: Pass (998 out of 1000 remaining)\napp\n├── fast: /fast\n\
         │   └── 2 per 1 minute: Fail (0 out of 2 remaining)\n└── pm: /pm\n\
         \x20   ├── 3 per 1 minute (GET): Pass (3 out of 3 remaining)\n\
         \x20   └── 3 per 1 minute (POST): Pass (2 out of 3 remaining)\n"
    );

    let (code, stdout) = cli(manifest, &["clear", "--key", &key, "-y"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "Meta Limits\n└── 2 per 1 hour: Cleared\nApplication Limits\n└── 1000 per 1 day: Cleared\n\
         fast\n└── 2 per 1 minute: Cleared\npm\n└── 3 per 1 minute: Cleared\n"
    );
    for (limit, ids) in [
        ("2/minute", vec!["pfx", &key, "fast"]),
        ("1000/day", vec!["pfx", &key, "global"]),
        ("3/minute", vec!["pfx", &key, "pm:POST"]),
        ("2/hour", vec![&key, "meta"]),
    ] {
        let stats = limiter.window_stats(&rate(limit), &ids).await.unwrap();
        assert_eq!(stats.remaining, rate(limit).amount(), "{limit} {ids:?}");
    }
    let (_, stdout) = cli(manifest, &["limits", "--key", &key, "--endpoint", "fast"]);
    assert_eq!(
        stdout,
        "app\n└── fast: /fast\n    └── 2 per 1 minute: Pass (2 out of 2 remaining)\n"
    );
}
