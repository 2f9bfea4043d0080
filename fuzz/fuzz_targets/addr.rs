//! Fuzz target `addr`: see `pants::fuzz::addr`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pants::fuzz::addr(data));
