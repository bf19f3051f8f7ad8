//! The `revocation` check: the node's verdict (reign-tls looks the leaf up in the CRL of its
//! own CA; a CA without a CRL in the file leaves the status unknown, which a node accepts),
//! explained with what the CRLs say.

use std::path::Path;

use reign_tls::CertificateError;
use reign_tls::ratelimit::Escaped;
use rustls_pki_types::CertificateRevocationListDer;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::revocation_list::CertificateRevocationList;

use super::DoctorReport;
use super::policy::Verdicts;
use super::verdict::Judgement;
use crate::ca::serial_hex;
use crate::inspect::format_time;

/// The revocation check. `crls` is `None` when the CRL file did not load (its own check
/// failed); the check is left out when the node did not reach it.
pub(super) fn check_revocation(
    r: &mut DoctorReport,
    v: &Verdicts,
    x509: &X509Certificate<'_>,
    crl: Option<(&Path, Option<&[CertificateRevocationListDer<'static>]>)>,
    now: OffsetDateTime,
) {
    let Some((path, crls)) = crl else {
        r.pass("revocation", "not checked: no CRL given (--crl crl.pem)");
        return;
    };
    let (Some(crls), Some((judgement, verdict))) = (crls, v.judge("revocation", x509)) else {
        return;
    };
    let parsed: Vec<CertificateRevocationList<'_>> = crls
        .iter()
        .filter_map(|c| x509_parser::parse_x509_crl(c).ok().map(|(_, p)| p))
        .collect();
    // The CRLs webpki consults for this leaf: those of its issuer.
    let own: Vec<&CertificateRevocationList<'_>> = parsed
        .iter()
        .filter(|c| c.issuer().as_raw() == x509.issuer().as_raw())
        .collect();
    let serial = serial_hex(x509.raw_serial());
    let issuer = x509.issuer().to_string();
    let issuer = Escaped(&issuer);
    let when = v.when(verdict);
    let shown = path.display();
    match judgement {
        Judgement::NotReached => {}
        Judgement::Passed if own.is_empty() => {
            let others: Vec<String> = parsed
                .iter()
                .map(|c| format!("{:?}", Escaped(&c.issuer().to_string())))
                .collect();
            r.pass(
                "revocation",
                format!(
                    "status unknown, which a node accepts: no CRL in {shown} is from this certificate's CA {issuer:?} (it holds the CRL of {}); \
                     a node checks the leaf against its own CA's CRL only, and a CA that published none (the new CA during a rotation) is not an error{when}",
                    others.join(", ")
                ),
            );
        }
        Judgement::Passed => {
            let stale = own
                .iter()
                .filter_map(|c| c.next_update())
                .map(|t| t.to_datetime())
                .find(|t| *t < now)
                .map(|t| {
                    format!(
                        "; note: the CRL's nextUpdate {} has passed (a node still uses it), publish a fresh one with `reign-certgen crl`",
                        format_time(t)
                    )
                })
                .unwrap_or_default();
            r.pass(
                "revocation",
                format!("serial {serial} is not revoked by {shown}{when}{stale}"),
            );
        }
        Judgement::Failed(CertificateError::Revoked) => {
            let entry = own
                .iter()
                .flat_map(|c| c.iter_revoked_certificates())
                .find(|e| serial_hex(e.raw_serial()) == serial);
            let detail = entry
                .map(|e| {
                    let reason = e
                        .reason_code()
                        .map(|(_, c)| format!(", reason {}", crate::inspect::reason_name(c.0)))
                        .unwrap_or_default();
                    format!(
                        " (revoked at {}{reason})",
                        format_time(e.revocation_date.to_datetime())
                    )
                })
                .unwrap_or_default();
            r.fail(
                "revocation",
                format!(
                    "revoked: serial {serial} is listed in {shown}{detail}; issue a new certificate"
                ),
            );
        }
        Judgement::Failed(CertificateError::BadCrlSignature) => r.fail(
            "revocation",
            format!(
                "{shown}: the CRL naming {issuer:?} as its issuer has a signature that does not verify with that CA's key (another CA of the same name signed it?); \
                 a node refuses every certificate of that CA while it uses this CRL"
            ),
        ),
        Judgement::Failed(CertificateError::CrlIssuerNotCrlSigner) => r.fail(
            "revocation",
            format!(
                "{shown}: the CA {issuer:?} lacks keyUsage cRLSign, so its CRL cannot be used; a node refuses its certificates while it uses this CRL"
            ),
        ),
        Judgement::Failed(e) => r.fail("revocation", format!("{shown}: {e}")),
    }
}
