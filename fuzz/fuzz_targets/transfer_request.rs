#![no_main]
//! See `epay_server::fuzzing::transfer_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| epay_server::fuzzing::transfer_request(data));
