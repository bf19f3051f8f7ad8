//! Every way reign-tls can refuse a peer or fail to start, and the one place where rustls and
//! alert errors are translated into them (webpki's verdicts go through `certerror.rs`).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use rustls::AlertDescription;

use crate::certerror::CertificateError;
use crate::certinfo::format_time;
use crate::identity::{NodeId, NodeIdError};
use crate::ratelimit::Escaped;

/// Why a connection between two nodes was refused.
///
/// The same value is logged (warn, with the peer address, on a rate-limited budget) by the
/// side that refused and returned to the code that dialed or accepted.
///
/// Text fields may come from the peer (a REFUSE's fields, a claimed node ID or cluster name,
/// a certificate's Common Name): they are kept as received, and `Display` shows them through
/// [`Escaped`], so printing a refusal can never forge a log line or an event (no raw control
/// characters, no bidirectional overrides, at most 200 characters per field). `Debug` escapes
/// them too (Rust's string `Debug`). When the *peer* refused, the reason arrives
/// either as a reign REFUSE message (precise) or as a TLS alert (as precise as TLS allows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The certificate chain does not verify to any CA in the cluster bundle.
    #[error("certificate not issued by a CA in the cluster bundle (unknown CA)")]
    UnknownCa,
    /// The certificate's validity period has ended.
    #[error("certificate expired{}", .not_after.map(|t| format!(" at {}", format_time(t))).unwrap_or_default())]
    Expired {
        /// When it expired, when known (a TLS alert does not carry it).
        not_after: Option<SystemTime>,
    },
    /// The certificate's validity period has not begun.
    #[error("certificate not yet valid{}", .not_before.map(|t| format!(" (valid from {})", format_time(t))).unwrap_or_default())]
    NotYetValid {
        /// When it becomes valid, when known.
        not_before: Option<SystemTime>,
    },
    /// The certificate is listed in the cluster's CRL.
    #[error("certificate revoked by the cluster CRL")]
    Revoked,
    /// The leaf has no keyUsage extension, or it lacks digitalSignature.
    #[error("certificate lacks keyUsage digitalSignature")]
    MissingKeyUsage,
    /// The leaf lacks serverAuth or clientAuth in extendedKeyUsage (both are required: either side may dial).
    #[error("certificate lacks extendedKeyUsage {missing}")]
    MissingExtendedKeyUsage {
        /// What is missing: `serverAuth`, `clientAuth` or `serverAuth and clientAuth`.
        missing: &'static str,
    },
    /// The certificate is X.509 v1 or v2 (e.g. made by `openssl x509 -req` without extensions).
    #[error(
        "certificate is X.509 v{version}; only v3 is accepted (reissue it with reign-certgen, or with openssl and an extensions file)"
    )]
    X509V1 {
        /// The version found.
        version: u32,
    },
    /// The dialer presented no client certificate.
    #[error("no client certificate presented")]
    NoClientCertificate,
    /// The certificate's Common Name is not the node ID that side claims.
    #[error("certificate CN {:?} does not match the claimed node ID {:?}", Escaped(.proven), Escaped(.claimed))]
    CnMismatch {
        /// The node ID claimed (in a hello, or the one the dialer meant to reach).
        claimed: String,
        /// The Common Name proven by the certificate.
        proven: String,
    },
    /// The node ID is not a member of this cluster's configured member list.
    #[error("node {:?} is not a member of this cluster", Escaped(.node))]
    UnknownNode {
        /// The node that is not a member.
        node: String,
    },
    /// An operator connection (ALPN `reign-operator/1`) from a CN that is not one of this
    /// node's [operators](crate::TlsConfig::operators) (REFUSE code 18).
    #[error("{:?} is not an operator of this node", Escaped(.cn))]
    NotAnOperator {
        /// The Common Name proven by the certificate.
        cn: String,
    },
    /// A peer's REFUSE whose code names no reason this version knows (code 0, "unspecified",
    /// or a code from a later version): its code and its first field's text.
    #[error("refused with code {code}: {}", Escaped(.text))]
    OtherCode {
        /// The REFUSE's code.
        code: u16,
        /// Its first field, as the peer sent it.
        text: String,
    },
    /// The peer's hello names another cluster.
    #[error("wrong cluster: expected {:?}, peer is in {:?}", Escaped(.expected), Escaped(.got))]
    WrongCluster {
        /// This node's cluster name.
        expected: String,
        /// The cluster name in the peer's hello.
        got: String,
    },
    /// The peer speaks a hello/protocol version this node does not.
    #[error("unsupported protocol version {theirs} (this node speaks {ours})")]
    UnsupportedVersion {
        /// The version this node speaks.
        ours: u16,
        /// The version the peer sent.
        theirs: u16,
    },
    /// TLS handshake plus hello did not complete within the deadline. Once TLS is up, the side
    /// whose deadline passed says so (REFUSE code 13); before that it just closes.
    #[error("handshake not completed within the deadline")]
    HandshakeTimeout,
    /// The hello was malformed or oversized.
    #[error("malformed hello: {}", Escaped(.detail))]
    MalformedHello {
        /// What was wrong with it.
        detail: String,
    },
    /// Pinning is configured and the peer's public key is not pinned.
    #[error("public key sha256 {} is not pinned", Escaped(.spki_sha256))]
    NotPinned {
        /// SHA-256 of the peer's SubjectPublicKeyInfo, hex.
        spki_sha256: String,
    },
    /// Too many connections are in their handshake already (REFUSE code 16). This version's
    /// acceptor never refuses a newcomer for that, it evicts an old handshake
    /// ([`Refusal::Evicted`] on its side); an evicted handshake whose TLS was up is told so
    /// with this code, and that is how its dialer sees it.
    #[error("too many handshakes in progress")]
    TooManyPendingHandshakes,
    /// The handshake was closed to make room for a newer connection: the table of handshakes
    /// in progress, or this source's share of it, was full (see
    /// [`TlsConfig::max_pending_handshakes`](crate::TlsConfig::max_pending_handshakes)). When
    /// its TLS was up, the peer was told with REFUSE code 16
    /// ([`Refusal::TooManyPendingHandshakes`]).
    #[error("handshake evicted to admit a newer connection (too many handshakes in progress)")]
    Evicted,
    /// Some other certificate problem (bad encoding, bad signature, no Common Name, ...).
    #[error("bad certificate: {}", Escaped(.detail))]
    BadCertificate {
        /// What was wrong.
        detail: String,
    },
    /// The peer rejected this node's certificate with a TLS alert that names no finer reason
    /// (a bad key usage, X.509 v1 or similar: the peer's log has the precise reason).
    #[error("certificate rejected by the peer (TLS alert {})", Escaped(.alert))]
    CertificateRejected {
        /// The TLS alert, as rustls names it.
        alert: String,
    },
    /// The TLS handshake failed for a reason that is not about certificates (not TLS,
    /// no common protocol version or key exchange, ...).
    #[error("TLS handshake failed: {}", Escaped(.detail))]
    TlsFailure {
        /// The TLS error.
        detail: String,
    },
    /// The connection closed before the handshake completed.
    #[error("connection closed during the handshake")]
    ClosedDuringHandshake,
}

/// Which side decided a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedBy {
    /// This node refused the peer.
    Us,
    /// The peer refused this node.
    Peer,
}

/// A failed [`connect`](crate::TlsEndpoint::connect) or [`accept`](crate::TlsEndpoint::accept).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// This node refused the peer.
    #[error("refused peer {peer_addr}: {reason}")]
    Refused {
        /// The peer's socket address.
        peer_addr: SocketAddr,
        /// Why.
        reason: Refusal,
    },
    /// The peer refused this node.
    #[error("peer {peer_addr} refused us, saying: {reason}")]
    RefusedByPeer {
        /// The peer's socket address.
        peer_addr: SocketAddr,
        /// Why, as the peer told it.
        reason: Refusal,
        /// The node ID the peer's certificate proved (its Common Name, the chain verified),
        /// when this side accepted the connection and the peer refused after TLS; `None`
        /// when this side dialed (it knows whom it dialed) or the Common Name is not a node
        /// ID.
        proven: Option<NodeId>,
    },
    /// A socket error (connection refused, reset, ...).
    #[error("connection to {peer_addr}: {source}")]
    Io {
        /// The peer's socket address.
        peer_addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl HandshakeError {
    /// The refusal reason and who decided it, when this is a refusal.
    pub fn refusal(&self) -> Option<(RefusedBy, &Refusal)> {
        match self {
            Self::Refused { reason, .. } => Some((RefusedBy::Us, reason)),
            Self::RefusedByPeer { reason, .. } => Some((RefusedBy::Peer, reason)),
            Self::Io { .. } => None,
        }
    }

    /// The node ID the refusing peer's certificate proved, when this side accepted the
    /// connection (see [`HandshakeError::RefusedByPeer`]).
    pub fn proven_peer(&self) -> Option<&NodeId> {
        match self {
            Self::RefusedByPeer { proven, .. } => proven.as_ref(),
            _ => None,
        }
    }

    /// The peer's socket address.
    pub fn peer_addr(&self) -> SocketAddr {
        match self {
            Self::Refused { peer_addr, .. }
            | Self::RefusedByPeer { peer_addr, .. }
            | Self::Io { peer_addr, .. } => *peer_addr,
        }
    }
}

/// What kind of PEM material a [`TlsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaterialKind {
    /// The CA bundle.
    CaBundle,
    /// The node's certificate chain.
    Certificate,
    /// The node's private key.
    PrivateKey,
    /// The certificate revocation list.
    Crl,
}

impl std::fmt::Display for MaterialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CaBundle => "CA bundle",
            Self::Certificate => "certificate",
            Self::PrivateKey => "private key",
            Self::Crl => "CRL",
        })
    }
}

/// Why TLS material could not be loaded, or a node cannot start with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {kind} file {path}: {source}")]
    Read {
        /// Which material.
        kind: MaterialKind,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A configured TLS path is not a regular file (a pipe, a device, a directory, ...):
    /// refused before anything is read, so that it cannot block the node or feed it forever.
    #[error("{kind} file {path} is not a regular file")]
    NotAFile {
        /// What the file was to hold.
        kind: MaterialKind,
        /// The path.
        path: std::path::PathBuf,
    },
    /// A configured TLS file is larger than [`MAX_MATERIAL_FILE`](crate::MAX_MATERIAL_FILE).
    #[error("{kind} file {path} is larger than {limit} bytes")]
    FileTooLarge {
        /// What the file was to hold.
        kind: MaterialKind,
        /// The path.
        path: std::path::PathBuf,
        /// The limit.
        limit: u64,
    },
    /// A certificate of the CA bundle is not a CA certificate (an X.509 v3 certificate
    /// without basicConstraints cA TRUE, such as a node's own certificate pasted into the
    /// bundle): trusting it would let its holder vouch for any node ID.
    #[error("CA bundle {origin}: {subject} is not a CA certificate (no basicConstraints cA TRUE)")]
    NotACa {
        /// The CA bundle.
        origin: String,
        /// The certificate's subject (escaped).
        subject: String,
    },
    /// The material is not valid PEM of the expected kind.
    #[error("{kind} {origin}: {detail}")]
    Pem {
        /// Which material.
        kind: MaterialKind,
        /// The file, or `(in memory)`.
        origin: String,
        /// What is wrong.
        detail: String,
    },
    /// The node's own certificate's Common Name is not its node ID.
    #[error("own certificate {origin} has CN {cn:?}, but this node is \"{node_id}\"")]
    OwnCnMismatch {
        /// The certificate file.
        origin: String,
        /// The CN found (empty when none).
        cn: String,
        /// This node's ID.
        node_id: NodeId,
    },
    /// The private key does not belong to the certificate.
    #[error("private key {key_origin} does not match certificate {cert_origin}")]
    KeyMismatch {
        /// The key file.
        key_origin: String,
        /// The certificate file.
        cert_origin: String,
    },
    /// The node's own certificate does not pass the checks it would face at a peer.
    #[error("own certificate {origin} would be refused by peers: {reason}")]
    OwnCertificate {
        /// The certificate file.
        origin: String,
        /// The reason a peer would give.
        reason: Refusal,
    },
    /// Two CA certificates of the bundle have the same subject while a CRL is configured: a
    /// CRL names its CA by subject, so one CA's CRL would be applied to the other's
    /// certificates and they would be refused. Give each CA its own name (`reign-certgen init
    /// --name`).
    #[error(
        "CA bundle {origin}: two CAs are named {subject} (with different keys); a CRL names its CA by \
         subject, so the CRL of one would be applied to the other's certificates: give the new CA \
         its own name (reign-certgen init --name)"
    )]
    SameNamedCas {
        /// The CA bundle.
        origin: String,
        /// The subject both CAs have (escaped).
        subject: String,
    },
    /// The cluster name is empty or longer than 255 bytes.
    #[error("cluster name must be 1 to 255 bytes, got {len}")]
    BadClusterName {
        /// Its length.
        len: usize,
    },
    /// A member ID or pin is not valid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A node ID is not valid.
    #[error(transparent)]
    NodeId(#[from] NodeIdError),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Translates a webpki verification error into a refusal, through [`CertificateError`].
pub(crate) fn refusal_from_webpki(e: &webpki::Error) -> Refusal {
    CertificateError::from_webpki(e).into()
}

/// Translates a rustls error seen during the TLS handshake into who refused and why: the one
/// place this happens.
pub(crate) fn refusal_from_rustls(e: &rustls::Error) -> (RefusedBy, Refusal) {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::Other(other)) => {
            if let Some(r) = other.0.downcast_ref::<Refusal>() {
                (RefusedBy::Us, r.clone())
            } else if let Some(w) = other.0.downcast_ref::<webpki::Error>() {
                (RefusedBy::Us, refusal_from_webpki(w))
            } else {
                (
                    RefusedBy::Us,
                    Refusal::BadCertificate {
                        detail: other.to_string(),
                    },
                )
            }
        }
        E::InvalidCertificate(C::UnknownIssuer) => (RefusedBy::Us, Refusal::UnknownCa),
        E::InvalidCertificate(C::ExpiredContext { not_after, .. }) => (
            RefusedBy::Us,
            Refusal::Expired {
                not_after: Some(system_time(*not_after)),
            },
        ),
        E::InvalidCertificate(C::Expired) => (RefusedBy::Us, Refusal::Expired { not_after: None }),
        E::InvalidCertificate(C::NotValidYetContext { not_before, .. }) => (
            RefusedBy::Us,
            Refusal::NotYetValid {
                not_before: Some(system_time(*not_before)),
            },
        ),
        E::InvalidCertificate(C::NotValidYet) => {
            (RefusedBy::Us, Refusal::NotYetValid { not_before: None })
        }
        E::InvalidCertificate(C::Revoked) => (RefusedBy::Us, Refusal::Revoked),
        E::InvalidCertificate(c) => (
            RefusedBy::Us,
            Refusal::BadCertificate {
                detail: c.to_string(),
            },
        ),
        E::NoCertificatesPresented => (RefusedBy::Us, Refusal::NoClientCertificate),
        E::AlertReceived(alert) => (RefusedBy::Peer, refusal_from_alert(*alert)),
        other => (
            RefusedBy::Us,
            Refusal::TlsFailure {
                detail: other.to_string(),
            },
        ),
    }
}

/// What a TLS alert from the peer tells about why it refused this node.
pub(crate) fn refusal_from_alert(alert: AlertDescription) -> Refusal {
    match alert {
        AlertDescription::UnknownCA => Refusal::UnknownCa,
        // TLS has one alert for both ends of the validity window.
        AlertDescription::CertificateExpired => Refusal::Expired { not_after: None },
        AlertDescription::CertificateRevoked => Refusal::Revoked,
        AlertDescription::CertificateRequired => Refusal::NoClientCertificate,
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown
        | AlertDescription::DecryptError
        | AlertDescription::AccessDenied => Refusal::CertificateRejected {
            alert: format!("{alert:?}"),
        },
        other => Refusal::TlsFailure {
            detail: format!("peer sent TLS alert {other:?}"),
        },
    }
}

/// The rustls error to hand back from a verifier so that the local side keeps the precise
/// reason and the peer gets the most specific TLS alert available.
pub(crate) fn rustls_error_for(refusal: Refusal) -> rustls::Error {
    use rustls::CertificateError as C;
    let unix = |t: SystemTime| {
        rustls_pki_types::UnixTime::since_unix_epoch(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default(),
        )
    };
    let now = rustls_pki_types::UnixTime::now();
    let cert_error = match &refusal {
        Refusal::UnknownCa => C::UnknownIssuer,
        Refusal::Revoked => C::Revoked,
        Refusal::Expired { not_after: Some(t) } => C::ExpiredContext {
            time: now,
            not_after: unix(*t),
        },
        Refusal::NotYetValid {
            not_before: Some(t),
        } => C::NotValidYetContext {
            time: now,
            not_before: unix(*t),
        },
        _ => C::Other(rustls::OtherError(std::sync::Arc::new(refusal))),
    };
    rustls::Error::InvalidCertificate(cert_error)
}

fn system_time(t: rustls_pki_types::UnixTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text a hostile peer would put in a field: a forged log line, a terminal escape, a
    /// bidirectional override, a backslash.
    const HOSTILE: &str = "x\r\nevent: z up\u{1b}[2J\u{202e}\\";

    fn assert_clean(shown: &str) {
        assert!(
            !shown.chars().any(|c| c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "raw control or bidi character in {shown:?}"
        );
        assert!(
            shown.contains("\\n") && shown.contains("\\u{1b}"),
            "{shown}"
        );
    }

    #[test]
    fn every_refusal_with_peer_text_displays_escaped() {
        let h = || HOSTILE.to_owned();
        for r in [
            Refusal::CnMismatch {
                claimed: h(),
                proven: h(),
            },
            Refusal::UnknownNode { node: h() },
            Refusal::NotAnOperator { cn: h() },
            Refusal::OtherCode { code: 0, text: h() },
            Refusal::WrongCluster {
                expected: h(),
                got: h(),
            },
            Refusal::MalformedHello { detail: h() },
            Refusal::NotPinned { spki_sha256: h() },
            Refusal::BadCertificate { detail: h() },
            Refusal::CertificateRejected { alert: h() },
            Refusal::TlsFailure { detail: h() },
        ] {
            assert_clean(&r.to_string());
            // Debug (`?reason` in a log line) escapes too.
            assert_clean(&format!("{r:?}"));
            let e = HandshakeError::RefusedByPeer {
                peer_addr: SocketAddr::from(([127, 0, 0, 1], 1)),
                reason: r.clone(),
                proven: None,
            };
            assert_clean(&e.to_string());
            let e = HandshakeError::Refused {
                peer_addr: SocketAddr::from(([127, 0, 0, 1], 1)),
                reason: r,
            };
            assert_clean(&e.to_string());
        }
    }

    #[test]
    fn peer_text_in_a_refusal_is_cut_at_200_characters() {
        let r = Refusal::MalformedHello {
            detail: "a".repeat(500),
        };
        let shown = r.to_string();
        assert!(shown.len() < 250, "{shown}");
        assert!(shown.ends_with("…(+300 bytes)"), "{shown}");
    }

    #[test]
    fn plain_refusals_read_as_before() {
        assert_eq!(
            Refusal::CnMismatch {
                claimed: "c".into(),
                proven: "b".into()
            }
            .to_string(),
            "certificate CN \"b\" does not match the claimed node ID \"c\""
        );
        assert_eq!(
            Refusal::WrongCluster {
                expected: "demo".into(),
                got: "staging".into()
            }
            .to_string(),
            "wrong cluster: expected \"demo\", peer is in \"staging\""
        );
    }
}
