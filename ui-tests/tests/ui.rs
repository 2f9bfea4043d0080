//! Compile-time diagnostics of `#[channel]` and friends: each file in
//! `tests/fail` has one mistake, and its expected error is in the `.stderr`
//! next to it; each file in `tests/pass` must compile and run. Regenerate the
//! `.stderr` files with `TRYBUILD=overwrite cargo test -p pants-ui-tests`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/*.rs");
    t.pass("tests/pass/*.rs");
}
