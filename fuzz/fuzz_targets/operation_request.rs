#![no_main]
//! See `epay_server::fuzzing::operation_request`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| epay_server::fuzzing::operation_request(data));
