//! The one certificate-acceptance policy: [`PeerCertificateVerifier`] makes every check a node
//! makes of a peer's certificate. A node's TLS verifiers (both directions, `verify.rs`) and
//! its check of its own certificate at start call it, and so does `reign-certgen doctor`:
//! there is no second copy of these rules.

use std::time::SystemTime;

use rustls::DistinguishedName;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage, OwnedCertRevocationList,
    RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};

use crate::certerror::{CertificateError, MissingEku, WebpkiError};
use crate::certinfo::{CertificateDetails, LeafFacts, leaf_facts, not_after_of};
use crate::identity::validate_node_id;

/// Verifies peer certificates against one CA bundle and set of CRLs, exactly as a node does.
///
/// The checks, in this order (the first failure is the [`CertificateError`] returned):
/// 1. the certificate reads: DER X.509, decodable keyUsage and extendedKeyUsage, at most one
///    subject Common Name;
/// 2. it is X.509 v3;
/// 3. rustls-webpki (with the aws-lc-rs algorithms of rustls) finds a path to a CA of the
///    bundle at the given time: every certificate of the bundle is a trust anchor, and the
///    intermediates are the ones given (those the peer sends after its leaf). Each
///    certificate of the path must be inside its validity window;
/// 4. with CRLs: **the leaf only** is looked up, in the CRL of its issuing CA. A leaf whose
///    CA published no CRL in the set has an unknown status, and that is **accepted**: during
///    a CA rotation the bundle holds the old and the new CA, and only one of them may have
///    a CRL yet. A CRL's nextUpdate is not enforced (a stale CRL still revokes);
/// 5. keyUsage is present with digitalSignature;
/// 6. extendedKeyUsage has serverAuth **and** clientAuth (either side of a pair may dial);
/// 7. the subject has a Common Name and it is a valid node ID (see
///    [`validate_node_id`](crate::validate_node_id)): a certificate that cannot name a node
///    is refused here, during TLS, like any other certificate a node cannot accept.
///
/// Whether that Common Name is the node ID the peer claims is decided after the handshake;
/// that comparison needs the claim, so it is not part of this check.
///
/// ```
/// use reign_tls::{CertificateError, PeerCertificateVerifier};
/// let v = PeerCertificateVerifier::new(&[], &[])?;
/// let junk = rustls_pki_types::CertificateDer::from(vec![1, 2, 3]);
/// assert_eq!(
///     v.verify(&junk, &[], std::time::SystemTime::now()).unwrap_err(),
///     CertificateError::NotDer
/// );
/// # Ok::<(), reign_tls::VerifierError>(())
/// ```
pub struct PeerCertificateVerifier {
    roots: Vec<TrustAnchor<'static>>,
    /// The notAfter of each CA certificate of `roots`, in the same order (`None`: unknown).
    root_not_after: Vec<Option<SystemTime>>,
    root_subjects: Vec<DistinguishedName>,
    crls: Vec<CertRevocationList<'static>>,
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for PeerCertificateVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCertificateVerifier")
            .field("roots", &self.roots.len())
            .field("crls", &self.crls.len())
            .finish()
    }
}

/// What a certificate that passed [`PeerCertificateVerifier::verify`] proves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedCertificate {
    /// The leaf's details (subject, Common Name, serial, fingerprints).
    pub details: CertificateDetails,
    /// When the verified path stops being valid: the earliest notAfter of the leaf, the
    /// intermediates of the path, and the CA certificate it ended at.
    pub valid_until: SystemTime,
}

/// Why a [`PeerCertificateVerifier`] cannot be built from the material given (a node with
/// that material does not start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// A certificate of the CA bundle cannot be a trust anchor.
    #[error("CA certificate {index} of the bundle cannot be used as a trust anchor: {source}")]
    TrustAnchor {
        /// Its position in the bundle, from 0.
        index: usize,
        /// Why.
        source: WebpkiError,
    },
    /// A certificate of the CA bundle is not a CA certificate: X.509 v3 without
    /// basicConstraints cA TRUE (a node certificate pasted into the bundle, say). Trusting it
    /// would let its holder vouch for any node ID.
    #[error(
        "certificate {index} of the CA bundle ({subject}) is not a CA certificate (no basicConstraints cA TRUE)"
    )]
    NotACa {
        /// Its position in the bundle, from 0.
        index: usize,
        /// Its subject (escaped).
        subject: String,
    },
    /// A CRL does not decode as one webpki accepts.
    #[error("CRL {index} is not a valid CRL: {source}")]
    Crl {
        /// Its position in the list, from 0.
        index: usize,
        /// Why.
        source: WebpkiError,
    },
}

impl PeerCertificateVerifier {
    /// A verifier trusting every certificate of `ca_bundle`, with `crls` (none: revocation
    /// is not checked), as a node loads its `ca` and `crl` files. A bundle certificate that
    /// is not a CA certificate is refused ([`VerifierError::NotACa`]).
    pub fn new(
        ca_bundle: &[CertificateDer<'_>],
        crls: &[CertificateRevocationListDer<'_>],
    ) -> Result<Self, VerifierError> {
        let mut roots = Vec::with_capacity(ca_bundle.len());
        let mut root_not_after = Vec::with_capacity(ca_bundle.len());
        for (index, der) in ca_bundle.iter().enumerate() {
            if crate::certinfo::may_anchor(der.as_ref()) == Some(false) {
                return Err(VerifierError::NotACa {
                    index,
                    subject: crate::certinfo::details_of(der.as_ref())
                        .map(|d| d.subject)
                        .unwrap_or_default(),
                });
            }
            let anchor = webpki::anchor_from_trusted_cert(der)
                .map_err(|e| VerifierError::TrustAnchor {
                    index,
                    source: WebpkiError(e),
                })?
                .to_owned();
            roots.push(anchor);
            root_not_after.push(not_after_of(der.as_ref()));
        }
        let crls = crls
            .iter()
            .enumerate()
            .map(|(index, der)| {
                OwnedCertRevocationList::from_der(der.as_ref())
                    .map(CertRevocationList::Owned)
                    .map_err(|e| VerifierError::Crl {
                        index,
                        source: WebpkiError(e),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let root_subjects = roots
            .iter()
            .map(|ta| DistinguishedName::in_sequence(ta.subject.as_ref()))
            .collect();
        Ok(Self {
            roots,
            root_not_after,
            root_subjects,
            crls,
            algs: crate::material::provider().signature_verification_algorithms,
        })
    }

    /// Runs every check of the node's policy (see the type's documentation) on `end_entity`,
    /// with the `intermediates` sent after it, at `now`.
    pub fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: SystemTime,
    ) -> Result<VerifiedCertificate, CertificateError> {
        let now = UnixTime::since_unix_epoch(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        self.check(end_entity, intermediates, now)
            .map(|(facts, valid_until)| VerifiedCertificate {
                details: facts.details,
                valid_until,
            })
    }

    /// [`verify`](Self::verify) with rustls' clock, keeping the leaf's facts the handshake
    /// needs.
    pub(crate) fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(LeafFacts, SystemTime), CertificateError> {
        let facts = leaf_facts(end_entity)?;
        if facts.version != 3 {
            return Err(CertificateError::NotV3 {
                version: facts.version,
            });
        }
        let ee =
            EndEntityCert::try_from(end_entity).map_err(|e| CertificateError::from_webpki(&e))?;
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
            .map_err(|e| CertificateError::from_webpki(&e))?;
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
        // webpki counts a certificate valid through the whole second of its notAfter; a link
        // ends at that instant, so a handshake in the rest of that second must not make a new
        // one (it would end at once, and again, until the second is over).
        let now_time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs());
        if valid_until <= now_time {
            return Err(CertificateError::Expired {
                not_after: valid_until,
            });
        }
        if facts.digital_signature != Some(true) {
            return Err(CertificateError::MissingKeyUsage);
        }
        let missing = match facts.eku {
            Some((true, true)) => None,
            Some((true, false)) => Some(MissingEku::ClientAuth),
            Some((false, true)) => Some(MissingEku::ServerAuth),
            Some((false, false)) | None => Some(MissingEku::ServerAndClientAuth),
        };
        if let Some(missing) = missing {
            return Err(CertificateError::MissingExtendedKeyUsage { missing });
        }
        match facts.details.common_name.as_deref() {
            None => Err(CertificateError::NoCommonName),
            Some(cn) if validate_node_id(cn).is_err() => Err(CertificateError::CommonNameNotNodeId),
            Some(_) => Ok((facts, valid_until)),
        }
    }

    /// The signature algorithms the handshake's signatures are checked with.
    pub(crate) fn algs(&self) -> &WebPkiSupportedAlgorithms {
        &self.algs
    }

    /// The bundle's subjects, sent as the acceptor's CA hints.
    pub(crate) fn root_subjects(&self) -> &[DistinguishedName] {
        &self.root_subjects
    }
}
