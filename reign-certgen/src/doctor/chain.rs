//! The chain and revocation checks, done by rustls-webpki with the aws-lc-rs algorithms that
//! rustls uses, so doctor's verdict is the one a TLS handshake would reach.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use time::OffsetDateTime;
use webpki::{
    CertRevocationList, EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter,
    OwnedCertRevocationList, RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};

/// Accepts any extendedKeyUsage: the chain check must not fail for EKU reasons, which have
/// their own check with their own message.
struct AnyEku;

impl ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, _iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// What the chain check needs.
pub(super) struct ChainInput<'a> {
    pub(super) leaf: &'a CertificateDer<'static>,
    /// Certificates of the CA bundle (each a possible anchor, and a possible intermediate).
    pub(super) bundle: &'a [CertificateDer<'static>],
    /// Certificates that followed the leaf in its own file.
    pub(super) extra: &'a [CertificateDer<'static>],
}

pub(super) fn unix(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(t.unix_timestamp().max(0) as u64))
}

/// Verifies the path from the leaf to an anchor of the bundle at `at`, with `crl` if given.
pub(super) fn verify(
    input: &ChainInput<'_>,
    at: OffsetDateTime,
    crl: Option<&CertificateRevocationListDer<'static>>,
) -> Result<(), webpki::Error> {
    let ee = EndEntityCert::try_from(input.leaf)?;
    let anchors: Vec<TrustAnchor<'_>> = input
        .bundle
        .iter()
        .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
        .collect();
    if anchors.is_empty() {
        return Err(webpki::Error::UnknownIssuer);
    }
    let mut intermediates: Vec<CertificateDer<'_>> = input.extra.to_vec();
    intermediates.extend(input.bundle.iter().cloned());
    let algs = rustls::crypto::aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    let owned_crl = match crl {
        Some(der) => Some(CertRevocationList::Owned(
            OwnedCertRevocationList::from_der(der)?,
        )),
        None => None,
    };
    let crl_refs: Vec<&CertRevocationList<'_>> = owned_crl.iter().collect();
    // Same defaults as rustls' verifiers when given CRLs: the whole chain, unknown status denied.
    let revocation = match RevocationOptionsBuilder::new(&crl_refs) {
        Ok(b) => Some(
            b.with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Deny)
                .build(),
        ),
        Err(_) => None,
    };
    ee.verify_for_usage(
        algs,
        &anchors,
        &intermediates,
        unix(at),
        AnyEku,
        revocation,
        None,
    )
    .map(|_| ())
}

/// One line of plain words for a webpki refusal.
pub(super) fn explain(err: &webpki::Error, leaf_issuer: &str, bundle_subjects: &str) -> String {
    use webpki::Error as E;
    match err {
        E::UnknownIssuer => format!(
            "not issued by a CA in the bundle: the certificate's issuer is \"{leaf_issuer}\", the bundle holds {bundle_subjects}; \
             if an intermediate CA signed it, add the intermediate to the CA bundle or after the certificate in its file"
        ),
        E::InvalidSignatureForPublicKey => format!(
            "the signature does not verify with the key of the CA \"{leaf_issuer}\" in the bundle: it was signed by another CA with the same name"
        ),
        E::UnsupportedCertVersion => {
            "X.509 v1 certificates are refused by rustls/webpki; only v3 is accepted".into()
        }
        E::CertExpired { not_after, .. } => format!(
            "a certificate in the chain expired at {}",
            fmt_unix(*not_after)
        ),
        E::CertNotValidYet { not_before, .. } => format!(
            "a certificate in the chain is not valid until {}",
            fmt_unix(*not_before)
        ),
        E::CaUsedAsEndEntity => "this is a CA certificate (basicConstraints CA:TRUE); a node needs an end-entity certificate".into(),
        E::EndEntityUsedAsCa => "an issuer in the chain is not a CA (basicConstraints CA:TRUE is missing)".into(),
        E::PathLenConstraintViolated => "the chain is longer than a CA's pathLenConstraint allows".into(),
        E::NameConstraintViolation => "the certificate breaks a CA's name constraints".into(),
        E::UnsupportedCriticalExtension => "the certificate has a critical extension webpki does not understand".into(),
        E::CertRevoked => "revoked by the CRL".into(),
        E::UnknownRevocationStatus => "the CRL was not issued by this certificate's CA (its issuer differs), so the revocation status is unknown and TLS with this CRL refuses the certificate".into(),
        E::InvalidCrlSignatureForPublicKey => "the CRL's signature does not verify with the CA key".into(),
        E::IssuerNotCrlSigner => "the CA lacks keyUsage cRLSign, so its CRL is not accepted".into(),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "the signature algorithm is not accepted by rustls (use ECDSA P-256/P-384, Ed25519, or RSA of 2048+ bits with SHA-256+)".into()
        }
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions => {
            format!("the certificate's DER encoding is refused by webpki ({err:?})")
        }
        other => format!("refused by webpki: {other:?}"),
    }
}

fn fmt_unix(t: UnixTime) -> String {
    let secs = t.as_secs() as i64;
    OffsetDateTime::from_unix_timestamp(secs)
        .map(crate::inspect::format_time)
        .unwrap_or_else(|_| format!("{secs} (unix)"))
}
