//! A certificate update on a live connection: after a node renews its certificate, it
//! proves to each peer it is linked with that it holds the new key, so that the peer can
//! check the new chain (and keep checking it after reloads) without a new handshake. This is
//! what lets a CA rotation finish without ending a link (docs/PROTOCOL.md, CERT_UPDATE).
//!
//! The proof is a signature, with the new certificate's key, over a context string and a
//! value exported from the connection's TLS session (RFC 8446 section 7.5, label
//! [`EXPORTER_LABEL`]). Both ends of one session compute the same value and nothing else
//! can, so an update made for one connection is worthless on any other.

use std::time::SystemTime;

use rustls::SignatureScheme;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::CertificateDer;
use webpki::EndEntityCert;

use crate::error::Refusal;
use crate::stream::PeerInfo;

/// The label of the TLS exporter value an update signs.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-reign-certificate-update";
/// The bytes signed before the exporter value.
pub const SIGNED_CONTEXT: &[u8] = b"reign certificate update\0";
/// The most certificates an update's chain may hold (leaf included).
pub const MAX_UPDATE_CHAIN: usize = 8;

/// A node's new certificate chain and its proof of the key, for one connection. Made by
/// [`TlsEndpoint::certificate_update`](crate::TlsEndpoint::certificate_update), checked by
/// [`TlsEndpoint::accept_certificate_update`](crate::TlsEndpoint::accept_certificate_update).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateUpdate {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The TLS signature scheme of `signature` (its IANA code point).
    pub scheme: u16,
    /// The signature by the leaf's key over [`SIGNED_CONTEXT`] and the exporter value.
    pub signature: Vec<u8>,
}

impl CertificateUpdate {
    /// An update as it came off the wire: the chain's certificates (DER, leaf first), the
    /// signature scheme and the signature.
    pub fn new(chain: impl IntoIterator<Item = Vec<u8>>, scheme: u16, signature: Vec<u8>) -> Self {
        Self {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            scheme,
            signature,
        }
    }
}

/// The signature schemes a certificate update may use: those TLS 1.3 allows in a
/// CertificateVerify (RFC 8446 section 4.2.3: ECDSA on the curve the scheme names, RSA-PSS,
/// EdDSA; no RSA PKCS#1 v1.5, no SHA-1).
pub const TLS13_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::ED25519,
    SignatureScheme::ED448,
];

/// What is signed: the context, then the connection's exporter value.
pub(crate) fn signed_message(exporter: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_CONTEXT.len() + exporter.len());
    m.extend_from_slice(SIGNED_CONTEXT);
    m.extend_from_slice(exporter);
    m
}

/// Checks `signature` over `message` with the leaf's key and one of the verification
/// algorithms of `scheme`.
pub(crate) fn verify_signature(
    algs: &WebPkiSupportedAlgorithms,
    leaf: &CertificateDer<'_>,
    scheme: u16,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Refusal> {
    let scheme = SignatureScheme::from(scheme);
    let bad = |detail: &str| Refusal::BadCertificate {
        detail: format!("certificate update: {detail}"),
    };
    if !TLS13_SCHEMES.contains(&scheme) {
        return Err(bad("a signature scheme TLS 1.3 does not allow"));
    }
    let ee = EndEntityCert::try_from(leaf).map_err(|_| bad("the leaf does not parse"))?;
    // As a TLS 1.3 CertificateVerify is checked: with the scheme's first algorithm only,
    // which ties an ECDSA scheme to its curve.
    let alg = algs
        .mapping
        .iter()
        .find(|(s, _)| *s == scheme)
        .and_then(|(_, a)| a.first())
        .ok_or_else(|| bad("unsupported signature scheme"))?;
    ee.verify_signature(*alg, message, signature)
        .map_err(|_| bad("the signature does not verify with the new certificate's key"))
}

/// The peer as it is after an accepted update: the new leaf's details and chain, and the
/// new chain's end of validity.
pub(crate) fn updated(
    peer: &PeerInfo,
    chain: Vec<CertificateDer<'static>>,
    certificate: crate::CertificateDetails,
    valid_until: SystemTime,
) -> PeerInfo {
    let mut p = peer.clone();
    p.chain = chain;
    p.certificate = certificate;
    p.valid_until = valid_until;
    p
}
