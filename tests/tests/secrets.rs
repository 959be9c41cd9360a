//! Passwords are never shown (issue 13): not by the examples, nor the manifest the CLI reads.

use limiter_tests::cargo_binary;
use std::process::Command;

/// The redis-storage example, given a URI with a password and an unreachable server, says where
/// it could not connect without printing the password.
#[test]
fn the_redis_example_masks_its_password() {
    let output = Command::new(cargo_binary("redis-storage"))
        .env("REDIS_URL", "redis://admin:s3cret-pw@127.0.0.1:1/0")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stderr.contains("redis://admin:***@127.0.0.1:1/0"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret") && !stdout.contains("s3cret"),
        "{stderr}{stdout}"
    );
}

/// `redis://default:<password>@…` on the test server, whose default user takes any password.
fn redis_with_password(test: &str) -> Option<String> {
    let url = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", test)?;
    Some(url.replacen("redis://", "redis://default:s3cret-pw@", 1))
}

/// An app's manifest masks the password of its storage URI; the CLI, running the app with its
/// own environment, still reaches the storage with the real URI, and shows it masked.
#[test]
fn the_manifest_masks_the_storage_password() {
    let Some(url) = redis_with_password("manifest masks the password") else {
        return;
    };
    let output = Command::new(cargo_binary("blueprints"))
        .env("LIMITER_INSPECT", "manifest")
        .env("RATELIMIT_STORAGE_URI", &url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let manifest = String::from_utf8(output.stdout).unwrap();
    assert!(manifest.contains("redis://default:***@"), "{manifest}");
    assert!(!manifest.contains("s3cret"), "{manifest}");

    let config = Command::new(cargo_binary("limiter"))
        .args(["--color", "never", "--app"])
        .arg(cargo_binary("blueprints"))
        .arg("config")
        .env("RATELIMIT_STORAGE_URI", &url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&config.stdout);
    assert!(config.status.success(), "{config:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("redis://default:***@"), "{text}");
    assert!(
        !text.contains("unavailable"),
        "the CLI reached the storage: {text}"
    );

    // A saved manifest and no URI of the CLI's own: a clear error, not a failed login.
    let mut saved = std::env::temp_dir();
    saved.push(format!("limiter-secrets-{}.json", std::process::id()));
    std::fs::write(&saved, &manifest).unwrap();
    let clear = Command::new(cargo_binary("limiter"))
        .args(["--color", "never", "--manifest"])
        .arg(&saved)
        .args(["clear", "--key", "127.0.0.1", "-y"])
        .env_remove("RATELIMIT_STORAGE_URI")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&saved);
    let stderr = String::from_utf8_lossy(&clear.stderr);
    assert!(!clear.status.success(), "{clear:?}");
    assert!(
        stderr.contains("--storage-uri or RATELIMIT_STORAGE_URI"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
