//! See `reign_core::__fuzz::payload`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reign_core::__fuzz::payload(data));
