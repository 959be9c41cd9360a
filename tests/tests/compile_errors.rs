//! Every error the attribute macros can report, one `ui/*.rs` case per error site, each with its
//! expected compiler output in `ui/*.stderr`: the message, and the token it points at.
//!
//! The `.stderr` files depend on the exact compiler (rustc 1.95 here and in CI); after a deliberate
//! change of a message, regenerate them with `TRYBUILD=overwrite` and review the diff.

#[test]
fn invalid_attributes_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
