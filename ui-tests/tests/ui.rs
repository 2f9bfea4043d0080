//! Compile-time diagnostics of `#[channel]` and friends: each file in
//! `tests/fail/<family>/` has one mistake, and its expected error is in the
//! `.stderr` next to it; each file in `tests/pass` must compile and run.
//! Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p pants-ui-tests`, then read each one:
//! one error, at the user's token, in the macro's words.
//!
//! Families of `tests/fail`:
//!
//! * `channel`: the `#[channel]` attribute, its arguments and its impl block;
//! * `framing`: the keys of `#[on_read(...)]` and their values;
//! * `signatures`: handler signatures, one handler per event;
//! * `states`: read states (`initial`, `switch`);
//! * `packed`: typed frames and `#[derive(Packed)]`;
//! * `app`: `#[derive(App)]` and `#[channel(app = ...)]`;
//! * `hygiene`: generated code and user names kept apart.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/*/*.rs");
    t.pass("tests/pass/*.rs");
}
