//! Fuzz target `tls`: see `pants::fuzz::tls`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pants::fuzz::tls(data));
