//! Compile-fail tests: each `ui/*.rs` misuses `#[corral::main]` or
//! `#[corral::test]`, and its `.stderr` holds the diagnostic the user must
//! see. Regenerate with `TRYBUILD=overwrite cargo test -p corral-macros`
//! and read every changed `.stderr` before keeping it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
