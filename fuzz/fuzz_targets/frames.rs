//! See `reign_core::__fuzz::frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reign_core::__fuzz::frames(data));
