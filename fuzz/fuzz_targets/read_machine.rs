//! Fuzz target `read_machine`: see `pants::fuzz::read_machine`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pants::fuzz::read_machine(data));
