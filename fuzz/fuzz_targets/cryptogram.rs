#![no_main]
//! See `epay_server::fuzzing::cryptogram`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| epay_server::fuzzing::cryptogram(data));
