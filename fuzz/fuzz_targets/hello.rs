//! See `reign_tls::__fuzz::hello`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reign_tls::__fuzz::hello(data));
