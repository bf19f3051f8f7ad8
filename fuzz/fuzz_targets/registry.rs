//! See `reign_core::__fuzz::registry`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reign_core::__fuzz::registry(data));
