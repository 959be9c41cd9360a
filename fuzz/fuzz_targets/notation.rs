//! The limit notation: any text parses or is rejected without panicking, and what parses
//! survives display then parse.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(limits) = limiter_core::parse_many(text) {
        assert!(!limits.is_empty());
        let shown: Vec<String> = limits.iter().map(ToString::to_string).collect();
        let again = limiter_core::parse_many(&shown.join(";")).expect("canonical text parses");
        assert_eq!(limits, again);
    }
});
