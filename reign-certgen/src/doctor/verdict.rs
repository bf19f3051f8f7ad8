//! The node's verdict on a certificate, reached by reign-tls's [`PeerCertificateVerifier`]
//! (the one policy a node applies to its peers), and what that verdict says about each of
//! doctor's checks.

use reign_tls::{CertificateError, PeerCertificateVerifier, VerifiedCertificate};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;

/// The stages of the node's policy, in the order it runs them: a failure at one stage means
/// every earlier stage passed. webpki checks the leaf's dates, then (when the leaf has an
/// extendedKeyUsage extension) the usage, then builds the path, then looks up the CRL; the
/// keyUsage, the second extended key usage and the Common Name are checked on the verified leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Read,
    Version,
    Validity,
    WebpkiUsage,
    Chain,
    Revocation,
    KeyUsage,
    ExtendedKeyUsage,
    NodeId,
}

/// The node's verdict at one instant.
pub(super) struct Verdict {
    /// When it was reached.
    pub(super) at: OffsetDateTime,
    /// What the node decided.
    pub(super) result: Result<VerifiedCertificate, CertificateError>,
}

/// What a verdict says about one of doctor's checks.
pub(super) enum Judgement<'a> {
    /// The node passed this check: it accepted the certificate, or refused it at a later one.
    Passed,
    /// The node refused the certificate at this check.
    Failed(&'a CertificateError),
    /// The node refused the certificate before it reached this check.
    NotReached,
}

impl Verdict {
    /// Asks the node's verifier about `leaf` and the certificates after it in its file.
    pub(super) fn reach(
        verifier: &PeerCertificateVerifier,
        leaf: &CertificateDer<'_>,
        extra: &[CertificateDer<'_>],
        at: OffsetDateTime,
    ) -> Self {
        Self {
            at,
            result: verifier.verify(leaf, extra, at.into()),
        }
    }

    /// What this verdict says about the check called `check`.
    pub(super) fn judge(&self, check: &str, x509: &X509Certificate<'_>) -> Judgement<'_> {
        let Err(e) = &self.result else {
            return Judgement::Passed;
        };
        let (name, stage) = placed(e, x509);
        if name == check {
            Judgement::Failed(e)
        } else if stage_of_check(check).is_some_and(|s| s < stage) {
            Judgement::Passed
        } else {
            Judgement::NotReached
        }
    }

    /// True if the node refused the certificate because now is outside the leaf's own
    /// validity window (not an intermediate's).
    pub(super) fn leaf_out_of_window(&self, x509: &X509Certificate<'_>) -> bool {
        matches!(&self.result, Err(e) if placed(e, x509).1 == Stage::Validity)
    }
}

/// The doctor check a failure of the node's policy belongs to.
pub(super) fn check_of(e: &CertificateError, x509: &X509Certificate<'_>) -> &'static str {
    placed(e, x509).0
}

/// The doctor check a failure belongs to, and its stage.
fn placed(e: &CertificateError, x509: &X509Certificate<'_>) -> (&'static str, Stage) {
    use CertificateError as E;
    let unix = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let validity = x509.validity();
    match e {
        E::NotDer | E::TrailingData { .. } => ("cert-file", Stage::Read),
        E::MalformedKeyUsage => ("key-usage", Stage::Read),
        E::MalformedExtendedKeyUsage => ("extended-key-usage", Stage::Read),
        E::CommonNameNotText | E::SeveralCommonNames => ("node-id", Stage::Read),
        E::NotV3 { .. } => ("x509-version", Stage::Version),
        E::Expired { not_after } if unix(*not_after) == validity.not_after.timestamp() => {
            ("validity", Stage::Validity)
        }
        E::NotYetValid { not_before } if unix(*not_before) == validity.not_before.timestamp() => {
            ("validity", Stage::Validity)
        }
        E::Revoked | E::BadCrlSignature | E::CrlIssuerNotCrlSigner => {
            ("revocation", Stage::Revocation)
        }
        E::MissingKeyUsage => ("key-usage", Stage::KeyUsage),
        // The last check of the policy: a Common Name that can name a node.
        E::NoCommonName | E::CommonNameNotNodeId => ("node-id", Stage::NodeId),
        // webpki refuses a leaf whose extendedKeyUsage extension has neither usage; one that
        // has only one, or no extension, gets past it and is refused after the keyUsage.
        E::MissingExtendedKeyUsage { .. } => match x509.extended_key_usage() {
            Ok(Some(eku)) if !eku.value.server_auth && !eku.value.client_auth => {
                ("extended-key-usage", Stage::WebpkiUsage)
            }
            _ => ("extended-key-usage", Stage::ExtendedKeyUsage),
        },
        // Every other verdict is about the path: unknown issuer, signatures, CA flags,
        // constraints, an intermediate's dates, or one reign-tls has no variant for.
        _ => ("chain", Stage::Chain),
    }
}

fn stage_of_check(check: &str) -> Option<Stage> {
    Some(match check {
        "x509-version" => Stage::Version,
        "validity" => Stage::Validity,
        "chain" => Stage::Chain,
        "revocation" => Stage::Revocation,
        "key-usage" => Stage::KeyUsage,
        "extended-key-usage" => Stage::ExtendedKeyUsage,
        _ => return None,
    })
}
