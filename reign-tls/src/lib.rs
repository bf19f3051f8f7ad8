//! Identity-checked mutual TLS for reign: **the certificate is the node's identity**.
//!
//! A connection between two nodes is accepted only if, in both directions:
//! 1. the peer's certificate chain verifies to the cluster CA bundle (intermediates allowed,
//!    validity enforced, the CRL consulted when configured);
//! 2. the leaf is X.509 v3 with keyUsage digitalSignature and extendedKeyUsage serverAuth and
//!    clientAuth;
//! 3. the leaf's subject Common Name equals the node ID that peer claims: the dialer knows
//!    which node it meant to reach, the acceptor learns the claim from the dialer's hello,
//!    sent inside TLS after the handshake;
//! 4. that node ID is a member of the cluster, when a member list is configured, and its
//!    public key is pinned, when pins are configured.
//!
//! There is no insecure mode and no plaintext. TLS 1.3 only; the key exchange prefers the
//! hybrid post-quantum group X25519MLKEM768. Session resumption is off, so every connection
//! is checked against the current CA bundle and CRL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use reign_tls::{TlsConfig, TlsEndpoint};
//! let b = TlsEndpoint::new(TlsConfig::from_dir("certs", "b".parse()?, "demo"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7002").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let b = b.clone();
//!     tokio::spawn(async move {
//!         match b.accept(tcp).await {
//!             Ok(stream) => println!("{} connected", stream.peer().node_id),
//!             Err(e) => eprintln!("{e}"), // also logged at warn with the reason
//!         }
//!     });
//! }
//! # }
//! ```
#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod __fuzz;
mod certinfo;
mod checks;
mod config;
mod endpoint;
mod error;
mod hello;
mod identity;
mod material;
pub mod ratelimit;
mod stream;
mod verify;

pub use certinfo::CertificateDetails;
pub use config::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES, PemSource, TlsConfig};
pub use endpoint::TlsEndpoint;
pub use error::{HandshakeError, MaterialKind, Refusal, RefusedBy, TlsError};
pub use hello::{Hello, MAX_HANDSHAKE_FRAME, PROTOCOL_VERSION};
pub use identity::{Incarnation, MAX_NODE_ID_LEN, NodeId, NodeIdError, validate_node_id};
pub use material::ALPN_PROTOCOL;
pub use rustls::NamedGroup;
pub use stream::{AuthenticatedStream, PeerInfo, Role};
