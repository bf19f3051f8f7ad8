//! See `reign_tls::__fuzz::operator`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reign_tls::__fuzz::operator(data));
