//! What reign reads out of an X.509 certificate: the Common Name that is a node's identity,
//! the usages it must carry, and the details shown to operators.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::certerror::CertificateError;

/// Details of a peer's (or our own) leaf certificate, for logs and for the application.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateDetails {
    /// The subject distinguished name, e.g. `CN=a`, as text that is safe to print: a peer
    /// chooses it, so it is stored escaped by [`Escaped`](crate::ratelimit::Escaped) (control
    /// characters and bidirectional overrides as Rust escapes, at most 200 characters).
    pub subject: String,
    /// The subject Common Name (the node ID for a reign node certificate).
    pub common_name: Option<String>,
    /// The issuer distinguished name, escaped as `subject` is.
    pub issuer: String,
    /// The serial number, lowercase hex without separators.
    pub serial_hex: String,
    /// The start of the validity period.
    pub not_before: SystemTime,
    /// The subject key's algorithm and size, e.g. `ECDSA P-256`, `Ed25519`, `RSA 3072` (an
    /// unknown one as its OID).
    pub key_algorithm: String,
    /// The algorithm the issuer signed it with, e.g. `ecdsa-with-SHA256`, `Ed25519`,
    /// `sha256WithRSAEncryption` (an unknown one as its OID).
    pub signature_algorithm: String,
    /// The end of the validity period.
    pub not_after: SystemTime,
    /// SHA-256 of the whole certificate (DER), lowercase hex: what `openssl x509 -fingerprint -sha256` shows.
    pub sha256_fingerprint: String,
    /// SHA-256 of the SubjectPublicKeyInfo (DER), lowercase hex: the value used for pinning.
    pub spki_sha256: String,
}

impl fmt::Debug for CertificateDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateDetails")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("serial", &self.serial_hex)
            .field("not_before", &format_time(self.not_before))
            .field("not_after", &format_time(self.not_after))
            .field("sha256", &self.sha256_fingerprint)
            .finish()
    }
}

/// The facts about a leaf certificate that the identity checks need.
#[derive(Debug, Clone)]
pub(crate) struct LeafFacts {
    /// X.509 version as written in the certificate: 1, 2 or 3.
    pub(crate) version: u32,
    /// `None` when the certificate has no keyUsage extension.
    pub(crate) digital_signature: Option<bool>,
    /// `None` when the certificate has no extendedKeyUsage extension; else (serverAuth, clientAuth).
    pub(crate) eku: Option<(bool, bool)>,
    /// The SubjectPublicKeyInfo, DER.
    pub(crate) spki_der: Vec<u8>,
    pub(crate) details: CertificateDetails,
}

/// Parses a DER certificate into [`LeafFacts`].
pub(crate) fn leaf_facts(der: &CertificateDer<'_>) -> Result<LeafFacts, CertificateError> {
    let (rest, cert) =
        X509Certificate::from_der(der.as_ref()).map_err(|_| CertificateError::NotDer)?;
    if !rest.is_empty() {
        return Err(CertificateError::TrailingData { bytes: rest.len() });
    }
    let version = cert.version().0 + 1;
    let digital_signature = match cert.key_usage() {
        Ok(Some(ku)) => Some(ku.value.digital_signature()),
        Ok(None) => None,
        Err(_) => return Err(CertificateError::MalformedKeyUsage),
    };
    let eku = match cert.extended_key_usage() {
        Ok(Some(eku)) => Some((eku.value.server_auth, eku.value.client_auth)),
        Ok(None) => None,
        Err(_) => return Err(CertificateError::MalformedExtendedKeyUsage),
    };
    let mut cns = cert.subject().iter_common_name();
    let common_name = match (cns.next(), cns.next()) {
        (Some(cn), None) => Some(
            cn.as_str()
                .map_err(|_| CertificateError::CommonNameNotText)?
                .to_owned(),
        ),
        (None, _) => None,
        (Some(_), Some(_)) => return Err(CertificateError::SeveralCommonNames),
    };
    let details = details(&cert, der.as_ref(), common_name);
    Ok(LeafFacts {
        version,
        digital_signature,
        eku,
        spki_der: cert.public_key().raw.to_vec(),
        details,
    })
}

fn details(
    cert: &X509Certificate<'_>,
    der: &[u8],
    common_name: Option<String>,
) -> CertificateDetails {
    CertificateDetails {
        subject: crate::ratelimit::Escaped(&cert.subject().to_string()).to_string(),
        issuer: crate::ratelimit::Escaped(&cert.issuer().to_string()).to_string(),
        common_name,
        serial_hex: serial_hex(cert.raw_serial()),
        not_before: system_time(cert.validity().not_before.timestamp()),
        key_algorithm: key_algorithm(cert),
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm.to_id_string())
            .map_or_else(
                || cert.signature_algorithm.algorithm.to_id_string(),
                str::to_owned,
            ),
        not_after: system_time(cert.validity().not_after.timestamp()),
        sha256_fingerprint: sha256_hex(der),
        spki_sha256: sha256_hex(cert.public_key().raw),
    }
}

/// The names of the algorithms reign's peers use (and a few more), by OID.
fn oid_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        _ => return None,
    })
}

fn key_algorithm(cert: &X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve {
                Some(c) => format!("ECDSA {}", oid_name(&c).map_or(c.as_str(), |n| n)),
                None => "ECDSA".to_owned(),
            }
        }
        _ => oid_name(&alg).map_or(alg.clone(), str::to_owned),
    }
}

/// The details of any certificate (a CA's included), or `None` if it does not parse. Its
/// `common_name` is the first CN, if any.
pub(crate) fn details_of(der: &[u8]) -> Option<CertificateDetails> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(|cn| crate::ratelimit::Escaped(cn).to_string());
    Some(details(&cert, der, cn))
}

/// Whether a certificate may serve as a trust anchor: an X.509 v3 certificate must say cA
/// TRUE in its basicConstraints; a v1 or v2 certificate (which cannot carry extensions, as
/// some old roots are) may. `None` if it does not parse.
pub(crate) fn may_anchor(der: &[u8]) -> Option<bool> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    if cert.version().0 < 2 {
        return Some(true);
    }
    Some(matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca))
}

/// The end of a certificate's validity period, or `None` if it does not parse.
pub(crate) fn not_after_of(der: &[u8]) -> Option<SystemTime> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(system_time(cert.validity().not_after.timestamp()))
}

/// Unix seconds as a `SystemTime` (clamped at the epoch).
fn system_time(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0))
}

/// A serial number as reign-certgen and openssl print it: lowercase hex of the number,
/// without the zero byte DER puts in front of a number whose top bit is set.
fn serial_hex(raw: &[u8]) -> String {
    match raw {
        [0, rest @ ..] if !rest.is_empty() => hex(rest),
        _ => hex(raw),
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Lowercase hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Formats a time as RFC 3339 UTC (seconds precision) for messages, e.g.
/// `2027-03-01T00:00:00Z`.
pub fn format_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs}s after 1970"))
}
