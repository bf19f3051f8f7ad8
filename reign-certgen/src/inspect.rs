//! `inspect`: what a certificate or CRL holds, in plain fields (serializable for `--json`).

use std::path::Path;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::CertgenError;
use crate::ca::serial_hex;
use crate::material::{Object, read_objects};

/// One object found by [`inspect_file`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Inspected {
    /// An X.509 certificate.
    Certificate(CertInfo),
    /// A certificate revocation list.
    Crl(CrlInfo),
}

/// What a certificate holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// X.509 version: 1, 2 or 3 (TLS needs 3).
    pub version: u32,
    /// Subject, e.g. `CN=a`.
    pub subject: String,
    /// The subject's Common Name, if there is exactly one readable CN.
    pub common_name: Option<String>,
    /// Issuer, e.g. `CN=reign`.
    pub issuer: String,
    /// Serial, lowercase hex without leading zeros.
    pub serial: String,
    /// Key algorithm: `ECDSA P-256`, `ECDSA P-384`, `Ed25519`, `RSA`, ...
    pub key_type: String,
    /// Key size in bits.
    pub key_bits: u32,
    /// Signature algorithm, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// Start of validity.
    #[serde(serialize_with = "rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(serialize_with = "rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whole days from now until `not_after` (negative once expired).
    pub days_left: i64,
    /// SHA-256 of the DER, uppercase hex pairs joined by `:` (as `openssl x509 -fingerprint`).
    pub sha256_fingerprint: String,
    /// keyUsage bits by RFC name (`digitalSignature`, ...); empty if the extension is absent.
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes (`serverAuth`, `clientAuth`, ...); empty if absent.
    pub extended_key_usage: Vec<String>,
    /// subjectAltNames as `DNS:name`, `IP:addr`, ...
    pub sans: Vec<String>,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
}

/// What a CRL holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrlInfo {
    /// Issuer, e.g. `CN=reign`.
    pub issuer: String,
    /// CRL number (decimal), if present.
    pub number: Option<String>,
    /// thisUpdate.
    #[serde(serialize_with = "rfc3339")]
    pub this_update: OffsetDateTime,
    /// nextUpdate, if present.
    #[serde(serialize_with = "rfc3339_opt")]
    pub next_update: Option<OffsetDateTime>,
    /// Signature algorithm.
    pub signature_algorithm: String,
    /// The revoked certificates.
    pub revoked: Vec<RevokedEntry>,
}

/// One entry of a CRL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokedEntry {
    /// Serial, lowercase hex.
    pub serial: String,
    /// When it was revoked.
    #[serde(serialize_with = "rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// The reason code's name, if given.
    pub reason: Option<String>,
}

/// Reads `path` (PEM with one or more certificates and CRLs, or one DER object) and
/// describes each certificate and CRL in it. A file holding only keys or other objects is
/// a [`CertgenError::WrongKind`] error.
pub fn inspect_file(path: &Path) -> Result<Vec<Inspected>, CertgenError> {
    let objects = read_objects(path)?;
    let mut out = Vec::new();
    let mut other = Vec::new();
    for o in &objects {
        match o {
            Object::Certificate(der) => out.push(Inspected::Certificate(cert_info(der).map_err(
                |reason| CertgenError::BadCertificate {
                    path: path.to_owned(),
                    reason,
                },
            )?)),
            Object::Crl(der) => out.push(Inspected::Crl(crl_info(der).map_err(|reason| {
                CertgenError::BadCrl {
                    path: path.to_owned(),
                    reason,
                }
            })?)),
            Object::Key(_) => other.push("a PRIVATE KEY".to_owned()),
            Object::Other(label) => other.push(format!("a {label}")),
        }
    }
    if out.is_empty() {
        return Err(CertgenError::WrongKind {
            path: path.to_owned(),
            expected: "a CERTIFICATE or an X509 CRL",
            found: other.join(" and "),
        });
    }
    Ok(out)
}

/// Describes one DER certificate.
pub(crate) fn cert_info(der: &[u8]) -> Result<CertInfo, String> {
    let (_, c) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("not a valid X.509 certificate ({e})"))?;
    describe_cert(&c, der)
}

pub(crate) fn describe_cert(c: &X509Certificate<'_>, der: &[u8]) -> Result<CertInfo, String> {
    let (key_type, key_bits) = key_type_of(c);
    let not_after = c.validity().not_after.to_datetime();
    let key_usage = match c.key_usage() {
        Ok(Some(ku)) => key_usage_names(ku.value.flags),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("bad keyUsage extension ({e})")),
    };
    let extended_key_usage = match c.extended_key_usage() {
        Ok(Some(eku)) => eku_names(eku.value),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("bad extendedKeyUsage extension ({e})")),
    };
    let sans = match c.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().map(general_name).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("bad subjectAltName extension ({e})")),
    };
    let cns: Vec<_> = c.subject().iter_common_name().collect();
    let common_name = match cns.as_slice() {
        [one] => one.as_str().ok().map(str::to_owned),
        _ => None,
    };
    Ok(CertInfo {
        version: c.version().0 + 1,
        subject: c.subject().to_string(),
        common_name,
        issuer: c.issuer().to_string(),
        serial: serial_hex(c.raw_serial()),
        key_type,
        key_bits,
        signature_algorithm: sig_alg_name(&c.signature_algorithm.algorithm),
        not_before: c.validity().not_before.to_datetime(),
        not_after,
        days_left: days_until(not_after),
        sha256_fingerprint: fingerprint(der),
        key_usage,
        extended_key_usage,
        sans,
        is_ca: c.is_ca(),
    })
}

fn crl_info(der: &[u8]) -> Result<CrlInfo, String> {
    let (_, crl): (_, CertificateRevocationList<'_>) =
        x509_parser::parse_x509_crl(der).map_err(|e| format!("not a valid X.509 CRL ({e})"))?;
    Ok(CrlInfo {
        issuer: crl.issuer().to_string(),
        number: crl.crl_number().map(ToString::to_string),
        this_update: crl.last_update().to_datetime(),
        next_update: crl.next_update().map(|t| t.to_datetime()),
        signature_algorithm: sig_alg_name(&crl.signature_algorithm.algorithm),
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| RevokedEntry {
                serial: serial_hex(r.raw_serial()),
                revoked_at: r.revocation_date.to_datetime(),
                reason: r.reason_code().map(|(_, code)| reason_name(code.0)),
            })
            .collect(),
    })
}

/// Whole days from now until `t` (negative when `t` is past).
pub(crate) fn days_until(t: OffsetDateTime) -> i64 {
    (t - OffsetDateTime::now_utc()).whole_days()
}

/// SHA-256 fingerprint, `AB:CD:...`.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn key_type_of(c: &X509Certificate<'_>) -> (String, u32) {
    let spki = c.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let bits = spki.parsed().map(|k| k.key_size()).unwrap_or(0) as u32;
    match alg.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let name = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "ECDSA P-256".to_owned(),
                Some("1.3.132.0.34") => "ECDSA P-384".to_owned(),
                Some("1.3.132.0.35") => "ECDSA P-521".to_owned(),
                Some(other) => format!("ECDSA (curve {other})"),
                None => "ECDSA".to_owned(),
            };
            (name, bits)
        }
        "1.3.101.112" => ("Ed25519".into(), 256),
        "1.3.101.113" => ("Ed448".into(), 456),
        "1.2.840.113549.1.1.1" => ("RSA".into(), bits),
        "1.2.840.113549.1.1.10" => ("RSA-PSS".into(), bits),
        other => (format!("unknown ({other})"), bits),
    }
}

fn sig_alg_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    let id = oid.to_id_string();
    let name = match id.as_str() {
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        _ => return id,
    };
    name.to_owned()
}

fn key_usage_names(flags: u16) -> Vec<String> {
    const NAMES: [&str; 9] = [
        "digitalSignature",
        "nonRepudiation",
        "keyEncipherment",
        "dataEncipherment",
        "keyAgreement",
        "keyCertSign",
        "cRLSign",
        "encipherOnly",
        "decipherOnly",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| flags & (1 << i) != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut v = Vec::new();
    for (set, name) in [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ] {
        if set {
            v.push(name.to_owned());
        }
    }
    v.extend(eku.other.iter().map(|o| o.to_id_string()));
    v
}

pub(crate) fn general_name(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", std::net::Ipv4Addr::from([b[0], b[1], b[2], b[3]])),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                format!("IP:{}", std::net::Ipv6Addr::from(a))
            }
            _ => format!("IP:<{} bytes>", b.len()),
        },
        GeneralName::RFC822Name(e) => format!("email:{e}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        other => format!("{other:?}"),
    }
}

pub(crate) fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => return format!("reason {code}"),
    }
    .to_owned()
}

fn rfc3339<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

fn rfc3339_opt<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}

/// RFC 3339 text of a time (UTC).
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
