//! Peer certificate verification, the same for both directions: the chain verifies to the
//! cluster bundle (webpki, with the CRL when configured), the leaf is X.509 v3 and carries
//! keyUsage digitalSignature and extendedKeyUsage serverAuth *and* clientAuth.
//!
//! The Common Name check against the claimed node ID happens after the TLS handshake (see
//! `handshake.rs`), because the acceptor learns the claim only from the hello.

use std::sync::Arc;
use std::time::SystemTime;

use rustls::DistinguishedName;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use crate::certinfo::{LeafFacts, leaf_facts, not_after_of};
use crate::error::{Refusal, refusal_from_webpki, rustls_error_for};

/// Verifies peer certificates against one snapshot of the CA bundle and CRLs.
pub(crate) struct PeerVerifier {
    roots: Vec<rustls_pki_types::TrustAnchor<'static>>,
    /// The notAfter of each CA certificate of `roots`, in the same order (`None`: unknown).
    root_not_after: Vec<Option<SystemTime>>,
    root_subjects: Vec<DistinguishedName>,
    crls: Vec<CertRevocationList<'static>>,
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for PeerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerVerifier")
            .field("roots", &self.roots.len())
            .field("crls", &self.crls.len())
            .finish()
    }
}

impl PeerVerifier {
    pub(crate) fn new(
        roots: Vec<(rustls_pki_types::TrustAnchor<'static>, Option<SystemTime>)>,
        crls: Vec<CertRevocationList<'static>>,
        algs: WebPkiSupportedAlgorithms,
    ) -> Self {
        let (roots, root_not_after): (Vec<_>, Vec<_>) = roots.into_iter().unzip();
        let root_subjects = roots
            .iter()
            .map(|ta| DistinguishedName::in_sequence(ta.subject.as_ref()))
            .collect();
        Self {
            roots,
            root_not_after,
            root_subjects,
            crls,
            algs,
        }
    }

    /// Every check a peer's certificate must pass, in the order that gives the most useful
    /// reason first: readable, X.509 v3, chains to the bundle (validity, revocation), usages.
    ///
    /// Returns the leaf's facts and the instant the verified chain stops being valid: the
    /// earliest notAfter of the leaf, the intermediates of the path webpki built, and the CA
    /// certificate of the trust anchor it ended at.
    pub(crate) fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(LeafFacts, SystemTime), Refusal> {
        let facts = leaf_facts(end_entity).map_err(|e| Refusal::BadCertificate { detail: e.0 })?;
        if facts.version != 3 {
            return Err(Refusal::X509V1 {
                version: facts.version,
            });
        }
        let ee = EndEntityCert::try_from(end_entity).map_err(|e| refusal_from_webpki(&e))?;
        let crl_refs: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = match RevocationOptionsBuilder::new(&crl_refs) {
            // The CRL covers end-entity certificates of the CAs that published one; a CA in
            // the bundle without a CRL (e.g. the new CA during a rotation) is not an error.
            Ok(b) => Some(
                b.with_depth(RevocationCheckDepth::EndEntity)
                    .with_status_policy(UnknownStatusPolicy::Allow)
                    .with_expiration_policy(ExpirationPolicy::Ignore)
                    .build(),
            ),
            Err(_) => None,
        };
        // webpki checks one EKU; pick the one the leaf has so that a missing one is reported
        // precisely by the check below instead of as a generic chain failure.
        let usage = match facts.eku {
            Some((false, true)) => KeyUsage::client_auth(),
            _ => KeyUsage::server_auth(),
        };
        let path = ee
            .verify_for_usage(
                self.algs.all,
                &self.roots,
                intermediates,
                now,
                usage,
                revocation,
                None,
            )
            .map_err(|e| refusal_from_webpki(&e))?;
        let anchor = path.anchor();
        let anchor_not_after = self
            .roots
            .iter()
            .position(|r| std::ptr::eq(r, anchor))
            .and_then(|i| self.root_not_after[i]);
        let valid_until = path
            .intermediate_certificates()
            .filter_map(|c| not_after_of(c.der().as_ref()))
            .chain(anchor_not_after)
            .fold(facts.details.not_after, SystemTime::min);
        if facts.digital_signature != Some(true) {
            return Err(Refusal::MissingKeyUsage);
        }
        match facts.eku {
            Some((true, true)) => {}
            Some((true, false)) => {
                return Err(Refusal::MissingExtendedKeyUsage {
                    missing: "clientAuth",
                });
            }
            Some((false, true)) => {
                return Err(Refusal::MissingExtendedKeyUsage {
                    missing: "serverAuth",
                });
            }
            Some((false, false)) | None => {
                return Err(Refusal::MissingExtendedKeyUsage {
                    missing: "serverAuth and clientAuth",
                });
            }
        }
        Ok((facts, valid_until))
    }
}

/// The dialer's view: verifies the acceptor's certificate.
#[derive(Debug)]
pub(crate) struct AcceptorCertVerifier(pub(crate) Arc<PeerVerifier>);

impl ServerCertVerifier for AcceptorCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        // Names are not checked here: the CN is compared with the node we meant to reach
        // right after the handshake, with a precise refusal.
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify(end_entity, intermediates, now)
            .map(|_| ServerCertVerified::assertion())
            .map_err(rustls_error_for)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.algs.supported_schemes()
    }
}

/// The acceptor's view: verifies the dialer's certificate. A client certificate is mandatory.
#[derive(Debug)]
pub(crate) struct DialerCertVerifier(pub(crate) Arc<PeerVerifier>);

impl ClientCertVerifier for DialerCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.0.root_subjects
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .verify(end_entity, intermediates, now)
            .map(|_| ClientCertVerified::assertion())
            .map_err(rustls_error_for)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.algs.supported_schemes()
    }
}
