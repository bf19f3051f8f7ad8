//! Why a peer's certificate fails the node's policy, one variant per failed check
//! ([`CertificateError`]), and the one place where webpki's verdicts are translated into them.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::error::Refusal;

/// Why [`PeerCertificateVerifier::verify`](crate::PeerCertificateVerifier::verify) refused a
/// certificate: the first check it failed, in the order a node makes them.
///
/// Every field is typed; none holds text from the certificate, so printing one is safe.
/// A handshake reports the same failure as a [`Refusal`] (`Refusal::from`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The bytes are not a DER X.509 certificate.
    #[error("not a DER X.509 certificate")]
    NotDer,
    /// Bytes follow the certificate's DER.
    #[error("{bytes} bytes of trailing data after the certificate")]
    TrailingData {
        /// How many.
        bytes: usize,
    },
    /// The keyUsage extension does not decode.
    #[error("malformed keyUsage extension")]
    MalformedKeyUsage,
    /// The extendedKeyUsage extension does not decode.
    #[error("malformed extendedKeyUsage extension")]
    MalformedExtendedKeyUsage,
    /// The subject's Common Name is not a string.
    #[error("the subject Common Name is not a string")]
    CommonNameNotText,
    /// The subject has more than one Common Name (a node ID must be unambiguous).
    #[error("the subject has more than one Common Name")]
    SeveralCommonNames,
    /// The subject has no Common Name: a node's certificate names its node ID there.
    #[error("the subject has no Common Name (a node certificate's CN is its node ID)")]
    NoCommonName,
    /// The subject Common Name is not a valid node ID (see
    /// [`validate_node_id`](crate::validate_node_id)). The CN itself is not kept: it is text
    /// from the certificate.
    #[error(
        "the subject Common Name is not a valid node ID (1 to 63 characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-')"
    )]
    CommonNameNotNodeId,
    /// The certificate is X.509 v1 or v2; only v3 carries the extensions a node needs.
    #[error("certificate is X.509 v{version}; only v3 is accepted")]
    NotV3 {
        /// The version found (1 when webpki, not the parser, found it).
        version: u32,
    },
    /// No path from the certificate to a CA of the bundle.
    #[error("not issued by a CA in the cluster bundle (unknown issuer)")]
    UnknownIssuer,
    /// A signature on the path does not verify: a CA of the same name but another key signed it.
    #[error("the signature does not verify with the key of the issuing CA in the bundle")]
    BadSignature,
    /// The certificate is a CA certificate (basicConstraints CA:TRUE).
    #[error("a CA certificate is used as an end-entity certificate")]
    CaUsedAsEndEntity,
    /// An issuer on the path is not a CA.
    #[error("an issuer in the chain is not a CA")]
    EndEntityUsedAsCa,
    /// The path is longer than a CA's pathLenConstraint allows.
    #[error("the chain is longer than a CA's pathLenConstraint allows")]
    PathLenConstraintViolated,
    /// The certificate breaks a CA's name constraints.
    #[error("the certificate breaks a CA's name constraints")]
    NameConstraintViolation,
    /// A certificate on the path has a critical extension webpki does not understand.
    #[error("a critical extension is not understood")]
    UnsupportedCriticalExtension,
    /// A signature algorithm on the path is not one rustls accepts.
    #[error("unsupported signature algorithm")]
    UnsupportedSignatureAlgorithm,
    /// A certificate on the path has expired (the leaf, or an intermediate: compare
    /// `not_after` with the leaf's).
    #[error("certificate expired at {}", crate::certinfo::format_time(*.not_after))]
    Expired {
        /// The notAfter of the certificate that expired.
        not_after: SystemTime,
    },
    /// A certificate on the path is not valid yet.
    #[error("certificate not valid before {}", crate::certinfo::format_time(*.not_before))]
    NotYetValid {
        /// The notBefore of that certificate.
        not_before: SystemTime,
    },
    /// The leaf is listed in the CRL of its issuing CA.
    #[error("certificate revoked by the cluster CRL")]
    Revoked,
    /// The CRL of the leaf's CA has a signature that does not verify with that CA's key.
    #[error("the CRL's signature does not verify with the CA's key")]
    BadCrlSignature,
    /// The leaf's CA lacks keyUsage cRLSign, so its CRL cannot be used.
    #[error("the CA that issued the CRL lacks keyUsage cRLSign")]
    CrlIssuerNotCrlSigner,
    /// The leaf has no keyUsage extension, or it lacks digitalSignature.
    #[error("certificate lacks keyUsage digitalSignature")]
    MissingKeyUsage,
    /// The leaf lacks serverAuth or clientAuth in extendedKeyUsage (or has no such extension).
    #[error("certificate lacks extendedKeyUsage {missing}")]
    MissingExtendedKeyUsage {
        /// What is missing.
        missing: MissingEku,
    },
    /// Any other verdict of the verification library.
    #[error(transparent)]
    Other(WebpkiError),
}

/// Which of the two extended key usages a node needs is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingEku {
    /// serverAuth (needed to accept connections).
    ServerAuth,
    /// clientAuth (needed to dial).
    ClientAuth,
    /// Both (or the extension is absent).
    ServerAndClientAuth,
}

impl MissingEku {
    /// `serverAuth`, `clientAuth` or `serverAuth and clientAuth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerAuth => "serverAuth",
            Self::ClientAuth => "clientAuth",
            Self::ServerAndClientAuth => "serverAuth and clientAuth",
        }
    }
}

impl fmt::Display for MissingEku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict of rustls-webpki that [`CertificateError`] has no variant of its own for
/// (opaque: its `Display` is webpki's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebpkiError(pub(crate) webpki::Error);

impl fmt::Display for WebpkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WebpkiError {}

impl CertificateError {
    /// Translates a webpki verification error: the one place this happens.
    pub(crate) fn from_webpki(e: &webpki::Error) -> Self {
        use webpki::Error as W;
        match e {
            W::UnknownIssuer => Self::UnknownIssuer,
            W::InvalidSignatureForPublicKey => Self::BadSignature,
            W::CaUsedAsEndEntity => Self::CaUsedAsEndEntity,
            W::EndEntityUsedAsCa => Self::EndEntityUsedAsCa,
            W::PathLenConstraintViolated => Self::PathLenConstraintViolated,
            W::NameConstraintViolation => Self::NameConstraintViolation,
            W::UnsupportedCriticalExtension => Self::UnsupportedCriticalExtension,
            #[allow(deprecated)]
            W::UnsupportedSignatureAlgorithm
            | W::UnsupportedSignatureAlgorithmContext(_)
            | W::UnsupportedSignatureAlgorithmForPublicKey
            | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            | W::SignatureAlgorithmMismatch => Self::UnsupportedSignatureAlgorithm,
            W::CertExpired { not_after, .. } => Self::Expired {
                not_after: system_time(*not_after),
            },
            W::CertNotValidYet { not_before, .. } => Self::NotYetValid {
                not_before: system_time(*not_before),
            },
            W::CertRevoked => Self::Revoked,
            W::InvalidCrlSignatureForPublicKey => Self::BadCrlSignature,
            W::IssuerNotCrlSigner => Self::CrlIssuerNotCrlSigner,
            W::UnsupportedCertVersion => Self::NotV3 { version: 1 },
            #[allow(deprecated)]
            W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
                Self::MissingExtendedKeyUsage {
                    missing: MissingEku::ServerAndClientAuth,
                }
            }
            other => Self::Other(WebpkiError(other.clone())),
        }
    }
}

impl From<CertificateError> for Refusal {
    /// The reason a handshake gives (logged, sent in a REFUSE or as a TLS alert).
    fn from(e: CertificateError) -> Self {
        use CertificateError as E;
        match e {
            E::NotV3 { version } => Self::X509V1 { version },
            E::UnknownIssuer | E::BadSignature | E::CaUsedAsEndEntity => Self::UnknownCa,
            E::Expired { not_after } => Self::Expired {
                not_after: Some(not_after),
            },
            E::NotYetValid { not_before } => Self::NotYetValid {
                not_before: Some(not_before),
            },
            E::Revoked => Self::Revoked,
            E::MissingKeyUsage => Self::MissingKeyUsage,
            E::MissingExtendedKeyUsage { missing } => Self::MissingExtendedKeyUsage {
                missing: missing.as_str(),
            },
            other => Self::BadCertificate {
                detail: other.to_string(),
            },
        }
    }
}

fn system_time(t: rustls_pki_types::UnixTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(t.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)] // RequiredEkuNotFound: webpki still returns it
    fn refusals_are_the_handshake_reasons_they_were() {
        for (w, want) in [
            (webpki::Error::UnknownIssuer, Refusal::UnknownCa),
            (
                webpki::Error::InvalidSignatureForPublicKey,
                Refusal::UnknownCa,
            ),
            (webpki::Error::CaUsedAsEndEntity, Refusal::UnknownCa),
            (webpki::Error::CertRevoked, Refusal::Revoked),
            (
                webpki::Error::UnsupportedCertVersion,
                Refusal::X509V1 { version: 1 },
            ),
            (
                webpki::Error::RequiredEkuNotFound,
                Refusal::MissingExtendedKeyUsage {
                    missing: "serverAuth and clientAuth",
                },
            ),
        ] {
            assert_eq!(Refusal::from(CertificateError::from_webpki(&w)), want);
        }
        assert!(matches!(
            Refusal::from(CertificateError::from_webpki(&webpki::Error::BadDer)),
            Refusal::BadCertificate { .. }
        ));
    }
}
