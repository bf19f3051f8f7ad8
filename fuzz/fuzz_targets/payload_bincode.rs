//! The payload target with bincode's decoder, which reign used before its own: it is
//! expected to crash within seconds (an allocation of a declared length). Kept to show
//! what the `payload` target guards against; not part of the regular runs.
#![no_main]

use reign_core::__fuzz::{Decoder, payload_with};

libfuzzer_sys::fuzz_target!(|data: &[u8]| payload_with(Decoder::Bincode, data));
