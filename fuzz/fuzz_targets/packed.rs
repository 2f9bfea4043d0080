//! Fuzz target `packed`: see `pants::fuzz::packed`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pants::fuzz::packed(data));
