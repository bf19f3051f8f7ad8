//! The checks whose verdict is the node's: `x509-version`, `chain`, `key-usage`,
//! `extended-key-usage` and `validity` here, `revocation` in `revocation.rs`. Whether each
//! passes comes from reign-tls's [`PeerCertificateVerifier`], the very code a node runs on a
//! peer's certificate; doctor adds what it reads from the certificate and the CRL to explain
//! it.
//!
//! A node stops at the first check that fails. Where that leaves a check undecided, doctor
//! reports its own reading of the certificate (for the checks about the leaf alone), or asks
//! the node's verifier again inside the leaf's validity window (when only the leaf's dates
//! are wrong), or leaves the check out.

use std::path::Path;

use reign_tls::ratelimit::Escaped;
use reign_tls::{CertificateError, PeerCertificateVerifier, VerifiedCertificate};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

use super::DoctorReport;
use super::verdict::{Judgement, Verdict, check_of};
use crate::inspect::format_time;

/// Certificates with fewer days left than this get a "renew soon" note.
const RENEW_SOON_DAYS: i64 = 30;

/// The node's verdicts on one certificate.
pub(super) struct Verdicts {
    /// Now; `None` when there is no verifier (the CA bundle did not load).
    now: Option<Verdict>,
    /// Inside the leaf's validity window, when now is outside it.
    inside: Option<Verdict>,
    /// Now without the CRLs, when the chain fails with them (a CRL can break the path).
    without_crls: Option<Verdict>,
}

impl Verdicts {
    /// Asks the node's `verifier`, and, to explain a failed chain, the same verifier built
    /// without the CRLs (`without_crls`, when there are CRLs).
    pub(super) fn reach(
        verifier: Option<&PeerCertificateVerifier>,
        without_crls: Option<&PeerCertificateVerifier>,
        leaf: &CertificateDer<'_>,
        extra: &[CertificateDer<'_>],
        x509: &X509Certificate<'_>,
        now: OffsetDateTime,
    ) -> Self {
        let Some(verifier) = verifier else {
            return Self {
                now: None,
                inside: None,
                without_crls: None,
            };
        };
        let at_now = Verdict::reach(verifier, leaf, extra, now);
        let inside = at_now.leaf_out_of_window(x509).then(|| {
            let nb = x509.validity().not_before.to_datetime();
            let na = x509.validity().not_after.to_datetime();
            Verdict::reach(verifier, leaf, extra, nb + (na - nb) / 2)
        });
        let chain_failed = matches!(&at_now.result, Err(e) if check_of(e, x509) == "chain");
        let without_crls = without_crls
            .filter(|_| chain_failed)
            .map(|v| Verdict::reach(v, leaf, extra, now));
        Self {
            now: Some(at_now),
            inside,
            without_crls,
        }
    }

    /// The node's refusal now, if it refuses the certificate.
    pub(super) fn refusal(&self) -> Option<&CertificateError> {
        self.now.as_ref().and_then(|v| v.result.as_ref().err())
    }

    fn accepted(&self) -> Option<&VerifiedCertificate> {
        self.now.as_ref().and_then(|v| v.result.as_ref().ok())
    }

    /// The judgement on `check`, and the verdict it comes from (`None`: no verifier).
    pub(super) fn judge(
        &self,
        check: &str,
        x509: &X509Certificate<'_>,
    ) -> Option<(Judgement<'_>, &Verdict)> {
        let now = self.now.as_ref()?;
        Some(match (now.judge(check, x509), &self.inside) {
            (Judgement::NotReached, Some(inside)) => (inside.judge(check, x509), inside),
            (j, _) => (j, now),
        })
    }

    /// " (checked at ..., inside the certificate's validity window)" when `v` is not now's.
    pub(super) fn when(&self, v: &Verdict) -> String {
        match &self.now {
            Some(now) if now.at != v.at => format!(
                " (checked at {}, inside the certificate's validity window)",
                format_time(v.at)
            ),
            _ => String::new(),
        }
    }
}

/// A check about the leaf alone: the node's verdict when it reached one, else doctor's
/// reading (`own`). A check the node passed is never failed.
fn leaf_check(
    r: &mut DoctorReport,
    v: &Verdicts,
    name: &'static str,
    x509: &X509Certificate<'_>,
    own: Result<String, String>,
) {
    match v.judge(name, x509).map(|(j, _)| j) {
        Some(Judgement::Passed) => match own {
            Ok(m) => r.pass(name, m),
            Err(m) => r.pass(name, format!("a node accepts it, though doctor reads: {m}")),
        },
        Some(Judgement::Failed(e)) => r.fail(name, own.err().unwrap_or_else(|| e.to_string())),
        Some(Judgement::NotReached) | None => match own {
            Ok(m) => r.pass(name, m),
            Err(m) => r.fail(name, m),
        },
    }
}

pub(super) fn check_version(
    r: &mut DoctorReport,
    v: &Verdicts,
    x509: &X509Certificate<'_>,
    path: &Path,
) {
    let version = x509.version().0 + 1;
    let own = if version == 3 {
        Ok("X.509 v3".to_owned())
    } else {
        let cn = x509
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or("NODE_ID");
        let cn = Escaped(cn);
        Err(format!(
            "{} is an X.509 v{version} certificate, which TLS libraries (rustls/webpki) refuse: only v3 certificates carry the extensions a node needs. \
             It was probably made with `openssl x509 -req` without `-extfile`. Reissue it with `reign-certgen issue --dir DIR --force {cn}`, \
             or with openssl add `-extfile v3.ext` where v3.ext holds: basicConstraints=CA:FALSE, keyUsage=critical,digitalSignature, \
             extendedKeyUsage=serverAuth,clientAuth, subjectAltName=DNS:{cn}",
            path.display()
        ))
    };
    leaf_check(r, v, "x509-version", x509, own);
}

/// The chain check: left out when there is no verifier, or when the node refused the
/// certificate before it looked at the chain (except for a v1 certificate, which cannot
/// chain at all).
pub(super) fn check_chain(
    r: &mut DoctorReport,
    v: &Verdicts,
    x509: &X509Certificate<'_>,
    bundle_subjects: &str,
    ca_path: &Path,
    crl_path: Option<&Path>,
) {
    let Some((judgement, verdict)) = v.judge("chain", x509) else {
        return;
    };
    let issuer = x509.issuer().to_string();
    let issuer = Escaped(&issuer);
    let when = v.when(verdict);
    match judgement {
        Judgement::Passed => r.pass(
            "chain",
            format!("chains to {issuer:?} in {}{when}", ca_path.display()),
        ),
        Judgement::Failed(e) => {
            // A CRL that names this certificate's issuer but is signed by another key breaks
            // every path through that issuer: say so when the chain verifies without it.
            let crl_note = match (&v.without_crls, crl_path) {
                (Some(Verdict { result: Ok(_), .. }), Some(crl)) => format!(
                    "; without the CRLs of {} it verifies: a CRL there names this certificate's issuer {issuer:?} but another key signed it \
                     (two CAs with the same name, as in a rotation to a new CA made with the old one's name?), and a node refuses the certificate while it uses that CRL; \
                     give a new CA a name of its own (`reign-certgen init --name`)",
                    crl.display()
                ),
                _ => String::new(),
            };
            r.fail(
                "chain",
                format!(
                    "{}{when}{crl_note}",
                    explain_chain(e, &issuer, bundle_subjects)
                ),
            );
        }
        Judgement::NotReached => {
            if let Some(CertificateError::NotV3 { version }) = v.refusal() {
                r.fail(
                    "chain",
                    format!(
                        "rustls/webpki refuse X.509 v{version} certificates before looking for a chain; only v3 is accepted"
                    ),
                );
            }
        }
    }
}

fn explain_chain(e: &CertificateError, issuer: &Escaped<'_>, bundle_subjects: &str) -> String {
    use CertificateError as E;
    match e {
        E::UnknownIssuer => format!(
            "not issued by a CA in the bundle: the certificate's issuer is {issuer:?}, the bundle holds {bundle_subjects}; \
             if an intermediate CA signed it, add the intermediate to the CA bundle or after the certificate in its file"
        ),
        E::BadSignature => format!(
            "the signature does not verify with the key of the CA {issuer:?} in the bundle: it was signed by another CA with the same name"
        ),
        E::CaUsedAsEndEntity => "this is a CA certificate (basicConstraints CA:TRUE); a node needs an end-entity certificate".into(),
        E::EndEntityUsedAsCa => "an issuer in the chain is not a CA (basicConstraints CA:TRUE is missing)".into(),
        E::PathLenConstraintViolated => "the chain is longer than a CA's pathLenConstraint allows".into(),
        E::NameConstraintViolation => "the certificate breaks a CA's name constraints".into(),
        E::UnsupportedCriticalExtension => "a certificate in the chain has a critical extension webpki does not understand".into(),
        E::UnsupportedSignatureAlgorithm => "the signature algorithm is not accepted by rustls (use ECDSA P-256/P-384, Ed25519, or RSA of 2048+ bits with SHA-256+)".into(),
        E::Expired { not_after } => format!(
            "a certificate in the chain expired at {}",
            format_time((*not_after).into())
        ),
        E::NotYetValid { not_before } => format!(
            "a certificate in the chain is not valid until {}",
            format_time((*not_before).into())
        ),
        other => format!("a node refuses the chain: {other}"),
    }
}

pub(super) fn check_key_usage(r: &mut DoctorReport, v: &Verdicts, x509: &X509Certificate<'_>) {
    let own = match x509.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => Ok("keyUsage has digitalSignature".into()),
        Ok(Some(_)) => Err(
            "keyUsage lacks digitalSignature, which a TLS 1.3 key needs to sign the handshake; reissue the certificate".into(),
        ),
        Ok(None) => Err(
            "no keyUsage extension; a node certificate needs keyUsage=critical,digitalSignature; reissue the certificate".into(),
        ),
        Err(e) => Err(format!("the keyUsage extension is malformed ({e})")),
    };
    leaf_check(r, v, "key-usage", x509, own);

    let own = match x509.extended_key_usage() {
        Ok(Some(eku)) => {
            let e = eku.value;
            let missing: Vec<&str> = [(e.server_auth, "serverAuth"), (e.client_auth, "clientAuth")]
                .into_iter()
                .filter(|(has, _)| !has)
                .map(|(_, n)| n)
                .collect();
            if missing.is_empty() {
                Ok("extendedKeyUsage has serverAuth and clientAuth".into())
            } else {
                Err(format!(
                    "extendedKeyUsage lacks {}; either side of a pair may dial, so a node needs both serverAuth and clientAuth; reissue the certificate",
                    missing.join(" and ")
                ))
            }
        }
        Ok(None) => Err(
            "no extendedKeyUsage extension; a node certificate needs extendedKeyUsage=serverAuth,clientAuth; reissue the certificate".into(),
        ),
        Err(e) => Err(format!("the extendedKeyUsage extension is malformed ({e})")),
    };
    leaf_check(r, v, "extended-key-usage", x509, own);
}

pub(super) fn check_validity(
    r: &mut DoctorReport,
    v: &Verdicts,
    x509: &X509Certificate<'_>,
    now: OffsetDateTime,
) {
    let nb = x509.validity().not_before.to_datetime();
    let na = x509.validity().not_after.to_datetime();
    let own = if now < nb {
        Err(format!(
            "not valid yet: it starts at {} (in {}); is this machine's clock or the issuer's wrong?",
            format_time(nb),
            span(nb - now)
        ))
    } else if now > na {
        Err(format!(
            "expired at {} ({} ago); renew it with `reign-certgen renew --dir DIR NODE_ID`",
            format_time(na),
            span(now - na)
        ))
    } else {
        let left = (na - now).whole_days().max(0);
        let soon = if left < RENEW_SOON_DAYS {
            "; renew soon with `reign-certgen renew`"
        } else {
            ""
        };
        // The path may end before the leaf does (an intermediate or CA certificate expires first).
        let chain_end = v
            .accepted()
            .map(|ok| OffsetDateTime::from(ok.valid_until))
            .filter(|end| *end < na - Duration::seconds(1))
            .map(|end| {
                format!(
                    "; but its chain stops being valid at {}, when a CA certificate of the path expires",
                    format_time(end)
                )
            })
            .unwrap_or_default();
        Ok(format!(
            "valid from {} until {}: {left} day(s) left{soon}{chain_end}",
            format_time(nb),
            format_time(na)
        ))
    };
    leaf_check(r, v, "validity", x509, own);
}

fn span(d: Duration) -> String {
    if d.whole_days() >= 1 {
        format!("{} day(s)", d.whole_days())
    } else if d.whole_hours() >= 1 {
        format!("{} hour(s)", d.whole_hours())
    } else {
        format!("{} minute(s)", d.whole_minutes().max(1))
    }
}

/// The last word: if the node refuses the certificate and the check its reason belongs to
/// did not fail (a reason the checks above do not read, such as bytes after the
/// certificate's DER), that check fails with the node's reason.
pub(super) fn never_pass_a_refusal(r: &mut DoctorReport, v: &Verdicts, x509: &X509Certificate<'_>) {
    if let Some(e) = v.refusal() {
        let name = check_of(e, x509);
        if r.check(name).is_none_or(|c| c.passed()) {
            r.set_fail(name, format!("a node refuses this certificate: {e}"));
        }
    }
}
