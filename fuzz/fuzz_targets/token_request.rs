#![no_main]
//! See `epay_server::fuzzing::token_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| epay_server::fuzzing::token_request(data));
