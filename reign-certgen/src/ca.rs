//! The cluster CA as a value: generate or load it, and issue node certificates with it.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

use crate::key_type::pkcs8_pem;
use crate::material::load_certs;
use crate::node_id::validate_node_id;
use crate::{CertgenError, KeyType};

/// Name of the CA certificate in a cluster folder.
pub const CA_CERT_FILE: &str = "ca.pem";
/// Name of the CA private key in a cluster folder.
pub const CA_KEY_FILE: &str = "ca.key";

/// How far back the start of a new certificate's validity is set, so that a peer whose clock
/// is a little behind still accepts it.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::minutes(5);

/// What a new CA looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaParams {
    /// The cluster's name, written as the CA's subject Common Name. Default `"reign"`.
    pub cluster_name: String,
    /// Validity in days from now. Default 3650.
    pub days: u32,
    /// Key algorithm. Default [`KeyType::P256`].
    pub key_type: KeyType,
}

impl Default for CaParams {
    fn default() -> Self {
        Self {
            cluster_name: "reign".into(),
            days: 3650,
            key_type: KeyType::P256,
        }
    }
}

/// What a new node certificate looks like. Build with [`NodeCertParams::new`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCertParams {
    /// The node ID: the subject Common Name exactly, and the first DNS subjectAltName.
    pub node_id: String,
    /// Validity in days from now (ignored when `not_after` is set). Default 365.
    pub days: u32,
    /// Key algorithm of the node's new key. Default [`KeyType::P256`].
    pub key_type: KeyType,
    /// Extra subjectAltNames: each an IP address or a DNS name. Default empty.
    pub sans: Vec<String>,
    /// Start of validity. Default: now minus [`CLOCK_SKEW_ALLOWANCE`].
    pub not_before: Option<OffsetDateTime>,
    /// End of validity. Default: now plus `days`.
    pub not_after: Option<OffsetDateTime>,
}

impl NodeCertParams {
    /// Defaults for `node_id`: 365 days, P-256, no extra names.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            days: 365,
            key_type: KeyType::P256,
            sans: Vec::new(),
            not_before: None,
            not_after: None,
        }
    }
}

/// A freshly issued node certificate and its new private key.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeCert {
    /// The node ID (subject CN).
    pub node_id: String,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM. Secret: write it with [`crate::write_secret_file`].
    pub key_pem: String,
    /// The serial number, lowercase hex without separators or leading zeros.
    pub serial_hex: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCert")
            .field("node_id", &self.node_id)
            .field("serial_hex", &self.serial_hex)
            .field("not_after", &self.not_after)
            .field("key_pem", &"[secret]")
            .finish_non_exhaustive()
    }
}

/// A cluster CA: its certificate and private key, ready to issue and revoke.
pub struct CertAuthority {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertAuthority")
            .field("subject", &self.subject())
            .field("key", &"[secret]")
            .finish()
    }
}

impl CertAuthority {
    /// Generates a new self-signed CA: X.509 v3, basicConstraints CA:TRUE (critical, no
    /// pathLenConstraint), keyUsage keyCertSign + cRLSign, subjectKeyIdentifier, subject CN =
    /// the cluster name, a random serial.
    pub fn generate(params: &CaParams) -> Result<Self, CertgenError> {
        if params.cluster_name.trim().is_empty() {
            return Err(CertgenError::InvalidArgument(
                "the cluster name is empty".into(),
            ));
        }
        check_days(params.days)?;
        let key = params.key_type.generate()?;
        let now = OffsetDateTime::now_utc();
        let mut cp = CertificateParams::default();
        cp.distinguished_name = common_name(&params.cluster_name);
        cp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        cp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        cp.serial_number = Some(random_serial()?);
        cp.not_before = now - CLOCK_SKEW_ALLOWANCE;
        cp.not_after = now + Duration::days(i64::from(params.days));
        let cert = cp
            .self_signed(&key)
            .map_err(|e| CertgenError::crypto("sign the CA certificate", e))?;
        Self::from_pem(&cert.pem(), &pkcs8_pem(&key))
    }

    /// Loads `dir/ca.pem` and `dir/ca.key`, checking that the key belongs to the certificate
    /// and that the certificate is a CA.
    pub fn load(dir: &Path) -> Result<Self, CertgenError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let certs = load_certs(&cert_path)?;
        // Check the key file's kind first so "a certificate where a key belongs" is named.
        crate::material::load_key(&key_path)?;
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(|e| CertgenError::io(&key_path, "read", e))?;
        let cert_pem = pem_of(&certs[0]);
        Self::from_parts(&cert_pem, &key_pem, &cert_path, &key_path)
    }

    /// Builds a CA from PEM text, checking that the key belongs to the certificate and that
    /// the certificate is a CA. Errors name the inputs `ca.pem` and `ca.key`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertgenError> {
        Self::from_parts(
            cert_pem,
            key_pem,
            Path::new(CA_CERT_FILE),
            Path::new(CA_KEY_FILE),
        )
    }

    fn from_parts(
        cert_pem: &str,
        key_pem: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Self, CertgenError> {
        let bad_cert = |reason: String| CertgenError::BadCertificate {
            path: cert_path.to_owned(),
            reason,
        };
        let cert_der = first_cert_in(cert_pem, cert_path)?;
        let (_, x509) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| bad_cert(format!("not a valid X.509 certificate ({e})")))?;
        if !x509.is_ca() {
            return Err(bad_cert(
                "not a CA certificate (basicConstraints CA:TRUE is missing)".into(),
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| CertgenError::BadKey {
            path: key_path.to_owned(),
            reason: format!("not a supported PEM private key ({e})"),
        })?;
        if key.subject_public_key_info() != x509.public_key().raw {
            return Err(CertgenError::KeyMismatch {
                key: key_path.to_owned(),
                cert: cert_path.to_owned(),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| bad_cert(format!("cannot sign with this CA ({e})")))?;
        Ok(Self {
            cert_pem: pem_of(&cert_der),
            key_pem: pkcs8_pem(issuer.key()),
            cert_der,
            issuer,
        })
    }

    /// The CA certificate, PEM. Give it to every node.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PKCS#8 PEM. Keep it off the nodes.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA's subject, e.g. `CN=reign`.
    pub fn subject(&self) -> String {
        x509_parser::parse_x509_certificate(&self.cert_der)
            .map(|(_, c)| c.subject().to_string())
            .unwrap_or_default()
    }

    /// The CA's key type, if it is one certgen generates.
    pub fn key_type(&self) -> Option<KeyType> {
        KeyType::of(self.issuer.key())
    }

    /// End of the CA's validity.
    pub fn not_after(&self) -> OffsetDateTime {
        x509_parser::parse_x509_certificate(&self.cert_der)
            .map(|(_, c)| c.validity().not_after.to_datetime())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Issues a node certificate with a new key: X.509 v3, CN and first DNS SAN = the node
    /// ID, keyUsage digitalSignature (critical), extendedKeyUsage serverAuth + clientAuth,
    /// basicConstraints CA:FALSE (critical), subject and authority key identifiers, a random
    /// 128-bit serial, issuer = this CA.
    ///
    /// CA:FALSE is written as DER requires: an empty basicConstraints SEQUENCE, since `cA`
    /// is `DEFAULT FALSE` and DER omits a default value. (rcgen before 0.14.10 wrote
    /// `cA FALSE` out, which pyca/cryptography refuses.)
    pub fn issue(&self, params: &NodeCertParams) -> Result<NodeCert, CertgenError> {
        let (cp, serial_hex, not_after) = node_params(params)?;
        let key = params.key_type.generate()?;
        let cert = cp
            .signed_by(&key, &self.issuer)
            .map_err(|e| CertgenError::crypto("sign the node certificate", e))?;
        Ok(NodeCert {
            node_id: params.node_id.clone(),
            cert_pem: cert.pem(),
            key_pem: pkcs8_pem(&key),
            serial_hex,
            not_after,
        })
    }

    /// Issues a node certificate, as [`issue`](Self::issue) does, for the public key of a
    /// PKCS#10 certificate request (DER) that a node made itself, so its private key never
    /// leaves it (`reign renew`). The request's signature must verify with its key, and its
    /// subject must have exactly one CN, `params.node_id`. Nothing else of the request is
    /// used: names, usages and validity are this CA's, as for [`issue`](Self::issue)
    /// (`params.key_type` is ignored: the key is the request's).
    pub fn sign_request(
        &self,
        csr_der: &[u8],
        params: &NodeCertParams,
    ) -> Result<SignedRequest, CertgenError> {
        let der = rustls_pki_types::CertificateSigningRequestDer::from(csr_der);
        let csr = rcgen::CertificateSigningRequestParams::from_der(&der).map_err(|e| {
            CertgenError::BadRequest {
                reason: e.to_string(),
            }
        })?;
        // The subject's CN as x509-parser reads it (the request verified above).
        let found = x509_parser::certification_request::X509CertificationRequest::from_der(csr_der)
            .ok()
            .and_then(|(_, req)| {
                let subject = &req.certification_request_info.subject;
                let mut cns = subject.iter_common_name();
                match (cns.next(), cns.next()) {
                    (Some(cn), None) => cn.as_str().ok().map(str::to_owned),
                    _ => None,
                }
            });
        if found.as_deref() != Some(params.node_id.as_str()) {
            return Err(CertgenError::RequestForOtherNode {
                expected: params.node_id.clone(),
                found,
            });
        }
        let (cp, serial_hex, not_after) = node_params(params)?;
        let cert = cp
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(|e| CertgenError::crypto("sign the node certificate", e))?;
        Ok(SignedRequest {
            node_id: params.node_id.clone(),
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            serial_hex,
            not_after,
        })
    }
}

/// A certificate [`CertAuthority::sign_request`] issued for a node's own key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The node ID (subject CN).
    pub node_id: String,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// The serial number, lowercase hex without separators or leading zeros.
    pub serial_hex: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// A node certificate's parameters (everything but the key): X.509 v3, CN and first DNS
/// SAN = the node ID, keyUsage digitalSignature (critical), extendedKeyUsage serverAuth +
/// clientAuth, basicConstraints CA:FALSE (critical, DER's empty SEQUENCE), key identifiers,
/// a random 128-bit serial. Returns them with the serial's text and the notAfter.
fn node_params(
    params: &NodeCertParams,
) -> Result<(CertificateParams, String, OffsetDateTime), CertgenError> {
    validate_node_id(&params.node_id)?;
    let now = OffsetDateTime::now_utc();
    let not_before = params.not_before.unwrap_or(now - CLOCK_SKEW_ALLOWANCE);
    let not_after = match params.not_after {
        Some(t) => t,
        None => {
            check_days(params.days)?;
            now + Duration::days(i64::from(params.days))
        }
    };
    if not_after <= not_before {
        return Err(CertgenError::InvalidArgument(format!(
            "not_after ({not_after}) is not after not_before ({not_before})"
        )));
    }
    let mut sans = vec![SanType::DnsName(dns_name(&params.node_id)?)];
    for s in &params.sans {
        let san = parse_san(s)?;
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    let serial = random_serial()?;
    let serial_hex = serial_hex(&serial.to_bytes());
    let mut cp = CertificateParams::default();
    cp.distinguished_name = common_name(&params.node_id);
    cp.subject_alt_names = sans;
    // basicConstraints present and critical, as an empty SEQUENCE (rcgen >= 0.14.10).
    cp.is_ca = IsCa::ExplicitNoCa;
    cp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    cp.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    cp.serial_number = Some(serial);
    cp.not_before = not_before;
    cp.not_after = not_after;
    cp.use_authority_key_identifier_extension = true;
    // X.509 keeps whole seconds.
    let not_after = not_after.replace_nanosecond(0).unwrap_or(not_after);
    Ok((cp, serial_hex, not_after))
}

pub(crate) fn check_days(days: u32) -> Result<(), CertgenError> {
    if days == 0 {
        return Err(CertgenError::InvalidArgument(
            "--days must be at least 1".into(),
        ));
    }
    if days > 100 * 366 {
        return Err(CertgenError::InvalidArgument(format!(
            "--days {days} is more than a century"
        )));
    }
    Ok(())
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn dns_name(s: &str) -> Result<rcgen::string::Ia5String, CertgenError> {
    s.to_owned()
        .try_into()
        .map_err(|e: rcgen::Error| CertgenError::InvalidSan {
            value: s.to_owned(),
            reason: e.to_string(),
        })
}

/// An extra subjectAltName: an IP address, or a DNS name (letters, digits, `-`, `.`, `_`,
/// and a leading `*.` wildcard).
fn parse_san(s: &str) -> Result<SanType, CertgenError> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = |reason: String| CertgenError::InvalidSan {
        value: s.to_owned(),
        reason,
    };
    if s.is_empty() || s.len() > 253 {
        return Err(invalid("a DNS name has 1 to 253 characters".into()));
    }
    let body = s.strip_prefix("*.").unwrap_or(s);
    if let Some((i, ch)) = body
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(invalid(format!(
            "neither an IP address nor a DNS name: {ch:?} at position {}",
            i + s.len() - body.len()
        )));
    }
    if body.split('.').any(str::is_empty) {
        return Err(invalid("a DNS name has an empty label".into()));
    }
    Ok(SanType::DnsName(dns_name(s)?))
}

/// A random positive 128-bit serial whose first byte is non-zero, so its hex form is always
/// 32 digits.
pub(crate) fn random_serial() -> Result<SerialNumber, CertgenError> {
    let mut bytes = [0u8; 16];
    loop {
        getrandom::fill(&mut bytes).map_err(|e| CertgenError::crypto("get random bytes", e))?;
        if bytes[0] != 0 {
            return Ok(SerialNumber::from_slice(&bytes));
        }
    }
}

/// Canonical serial text: lowercase hex, no separators, no leading zero bytes.
pub(crate) fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let hex: String = bytes[start..].iter().map(|b| format!("{b:02x}")).collect();
    if hex.is_empty() { "00".into() } else { hex }
}

/// Parses a serial as typed by a person (`0A:1b`, `0x0a1b`, `a1b`) into canonical text.
pub(crate) fn normalize_serial(s: &str) -> Result<String, CertgenError> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() {
        return Err(CertgenError::InvalidSerial {
            value: s.to_owned(),
            reason: "empty".into(),
        });
    }
    if let Some((i, ch)) = digits
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(CertgenError::InvalidSerial {
            value: s.to_owned(),
            reason: format!("{ch:?} at position {i} is not a hex digit"),
        });
    }
    if digits.len() > 40 {
        return Err(CertgenError::InvalidSerial {
            value: s.to_owned(),
            reason: "longer than 20 bytes".into(),
        });
    }
    let digits = digits.trim_start_matches('0').to_ascii_lowercase();
    Ok(match digits.len() {
        0 => "00".into(),
        n if n % 2 == 1 => format!("0{digits}"),
        _ => digits,
    })
}

/// The bytes of a canonical serial.
pub(crate) fn serial_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

pub(crate) fn pem_of(cert: &CertificateDer<'_>) -> String {
    pem_encode("CERTIFICATE", cert)
}

/// PEM text with LF line endings, 64 columns.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

fn first_cert_in(pem: &str, path: &Path) -> Result<CertificateDer<'static>, CertgenError> {
    use rustls_pki_types::pem::PemObject;
    match CertificateDer::from_pem_slice(pem.as_bytes()) {
        Ok(c) => Ok(c),
        Err(rustls_pki_types::pem::Error::NoItemsFound) => Err(CertgenError::WrongKind {
            path: path.to_owned(),
            expected: "a CERTIFICATE",
            found: if pem.contains("-----BEGIN ") {
                "no CERTIFICATE section".into()
            } else {
                "no PEM data".into()
            },
        }),
        Err(e) => Err(crate::material::broken_pem(path, &e)),
    }
}

/// The first certificate of a file (the leaf of a node's chain file).
pub(crate) fn read_leaf(path: &Path) -> Result<CertificateDer<'static>, CertgenError> {
    load_certs(path).map(|mut v| v.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_text_round_trips() {
        assert_eq!(normalize_serial("0A:1B").unwrap(), "0a1b");
        assert_eq!(normalize_serial("0x00a1b").unwrap(), "0a1b");
        assert_eq!(normalize_serial("ABC").unwrap(), "0abc");
        assert!(
            normalize_serial("xyz")
                .unwrap_err()
                .to_string()
                .contains("'x'")
        );
        assert_eq!(serial_hex(&[0, 0x8f, 1]), "8f01");
        assert_eq!(serial_bytes("8f01"), vec![0x8f, 1]);
    }

    #[test]
    fn pem_encoding_matches_rustls_decoder() {
        use rustls_pki_types::pem::PemObject;
        for len in [1usize, 2, 3, 47, 48, 49, 100] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let pem = pem_encode("CERTIFICATE", &der);
            let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            assert_eq!(back.as_ref(), &der[..], "len {len}");
        }
    }
}
