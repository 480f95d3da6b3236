//! Compile-time behaviour: every key and function shape compiles
//! (`ui/pass`), and every mistake is an error at the offending token
//! (`ui/fail`, with the expected messages in `.stderr` snapshots).
//!
//! The snapshots follow the pinned toolchain's formatting; regenerate them
//! with `TRYBUILD=overwrite cargo test -p retry-tests --test ui` and review
//! the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
