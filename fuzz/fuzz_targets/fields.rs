#![no_main]
//! See `epay_server::fuzzing::fields`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| epay_server::fuzzing::fields(data));
