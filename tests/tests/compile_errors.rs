//! `#[limit("1 per dya")]` must not compile, and the error must point at the string.

#[test]
fn bad_limit_strings_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
