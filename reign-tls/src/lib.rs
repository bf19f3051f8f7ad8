//! Identity-checked mutual TLS for reign: **the certificate is the node's identity**.
//!
//! A connection between two nodes is accepted only if, in both directions:
//! 1. the peer's certificate chain verifies to the cluster CA bundle (intermediates allowed,
//!    validity enforced, the CRL consulted for the leaf when configured; a leaf whose CA
//!    published no CRL is accepted, as during a CA rotation);
//! 2. the leaf is X.509 v3 with keyUsage digitalSignature and extendedKeyUsage serverAuth and
//!    clientAuth, and its subject Common Name is a valid node ID;
//! 3. the leaf's subject Common Name equals the node ID that peer claims: the dialer knows
//!    which node it meant to reach, the acceptor learns the claim from the dialer's hello,
//!    sent inside TLS after the handshake;
//! 4. that node ID is a member of the cluster, when a member list is configured, and its
//!    public key is pinned, when pins are configured.
//!
//! Steps 1 and 2 are [`PeerCertificateVerifier`], public so that tools (`reign-certgen
//! doctor`) give a certificate exactly the verdict a node gives it.
//!
//! There is no insecure mode and no plaintext. TLS 1.3 only; the key exchange prefers the
//! hybrid post-quantum group X25519MLKEM768. Session resumption is off, so every connection
//! is checked against the current CA bundle and CRL.
//!
//! # Admission on the accept side
//!
//! Anyone who can reach the port can open connections, so what one costs the node before
//! its peer proves a certificate is bounded:
//! - its TLS ClientHello must be complete within [`TlsConfig::client_hello_timeout`] (1 s),
//!   and no TLS work is done before it is: an idle or dribbling connection costs one table
//!   entry and one task for at most that long;
//! - at most [`TlsConfig::max_pending_handshakes`] (256) handshakes run at once, at most
//!   [`TlsConfig::max_pending_handshakes_per_source`] (32) from one IPv4 address or IPv6 /64;
//! - a full table never refuses a newcomer: it **evicts** an older handshake, from the
//!   newcomer's own source when that source is at its cap, else from the source holding the
//!   most; handshakes still waiting for their ClientHello go first, then the oldest. So a
//!   flood of idle connections displaces itself, never a member dialing from elsewhere, and
//!   not a member from the flood's own address once the member's ClientHello is in;
//! - every log line a peer or an outsider can trigger is on a rate-limited budget
//!   ([`warn_limited!`]), and a peer's text is printed through [`ratelimit::Escaped`].
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
mod admission;
mod certcheck;
mod certerror;
mod certinfo;
mod checks;
mod config;
mod endpoint;
mod error;
pub mod files;
mod hello;
mod identity;
mod material;
pub mod operator;
mod pattern;
pub mod ratelimit;
mod renewal;
mod stream;
mod summary;
mod update;
mod verify;

pub use certcheck::{PeerCertificateVerifier, VerifiedCertificate, VerifierError};
pub use certerror::{CertificateError, MissingEku, WebpkiError};
pub use certinfo::{CertificateDetails, format_time};
pub use config::{
    DEFAULT_CLIENT_HELLO_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES,
    DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE, PemSource, TlsConfig,
};
pub use endpoint::TlsEndpoint;
pub use error::{HandshakeError, MaterialKind, Refusal, RefusedBy, TlsError};
pub use hello::{Hello, MAX_HANDSHAKE_FRAME, PROTOCOL_VERSION};
pub use identity::{Incarnation, MAX_NODE_ID_LEN, NodeId, NodeIdError, validate_node_id};
pub use material::{ALPN_PROTOCOL, MAX_MATERIAL_FILE, OPERATOR_ALPN};
pub use pattern::{IdPattern, IdPatternError};
pub use renewal::{Installed, RenewalError, RenewalKey};
pub use rustls::{CipherSuite, NamedGroup};
pub use stream::{AuthenticatedStream, PeerInfo, PeerKind, Role};
pub use summary::{
    CrlSummary, DEFAULT_EXPIRY_WARNING_CAP, Expiring, MaterialSummary, Whose, warning_window,
};
pub use update::{
    CertificateUpdate, EXPORTER_LABEL, MAX_UPDATE_CHAIN, SIGNED_CONTEXT, TLS13_SCHEMES,
};
