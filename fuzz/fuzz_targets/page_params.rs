#![no_main]
//! See `epay_server::fuzzing::page_params`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| epay_server::fuzzing::page_params(data));
