//! reign: Erlang-style mailboxes, monitors and names for distributed Rust, on an
//! identity-checked mutual-TLS mesh.
#![forbid(unsafe_code)]

pub use reign_core::*;
/// Identity-checked mutual TLS (re-export of `reign-tls`).
pub use reign_tls as tls;
/// Certificate authority tooling (re-export of `reign-certgen`; feature `certgen`).
#[cfg(feature = "certgen")]
pub use reign_certgen as certgen;
