//! Reading PEM (or DER) files and telling apart what they hold, with errors that name the
//! file and the kind of object found when it is not the one expected.

use std::path::Path;

use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs1KeyDer,
    PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use crate::CertgenError;
use crate::fsio::read_nonempty;

/// One object found in a file.
#[derive(Debug)]
pub(crate) enum Object {
    Certificate(CertificateDer<'static>),
    Crl(CertificateRevocationListDer<'static>),
    Key(PrivateKeyDer<'static>),
    /// A PEM section certgen does not use; the label says what it is.
    Other(String),
}

impl Object {
    fn describe(&self) -> String {
        match self {
            Self::Certificate(_) => "a CERTIFICATE".into(),
            Self::Crl(_) => "an X509 CRL".into(),
            Self::Key(_) => "a PRIVATE KEY".into(),
            Self::Other(label) if label.contains("ENCRYPTED") => format!(
                "an {label} (encrypted keys are not supported; decrypt it with `openssl pkey -in FILE -out FILE.key`)"
            ),
            Self::Other(label) => format!("a {label}"),
        }
    }
}

/// Reads every object in `path`: PEM sections in order, or a single DER object.
pub(crate) fn read_objects(path: &Path) -> Result<Vec<Object>, CertgenError> {
    let bytes = read_nonempty(path)?;
    if !contains(&bytes, b"-----BEGIN ") {
        return read_der(path, bytes).map(|o| vec![o]);
    }
    let labels = pem_labels(&bytes);
    let mut objects = Vec::new();
    let mut known = 0usize;
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        let (kind, der) = item.map_err(|e| broken_pem(path, &e))?;
        known += 1;
        objects.push(match kind {
            SectionKind::Certificate => Object::Certificate(der.into()),
            SectionKind::Crl => Object::Crl(der.into()),
            SectionKind::PrivateKey => Object::Key(PrivatePkcs8KeyDer::from(der).into()),
            SectionKind::EcPrivateKey => Object::Key(PrivateSec1KeyDer::from(der).into()),
            SectionKind::RsaPrivateKey => Object::Key(PrivatePkcs1KeyDer::from(der).into()),
            SectionKind::PublicKey => Object::Other("PUBLIC KEY".into()),
            SectionKind::Csr => Object::Other("CERTIFICATE REQUEST".into()),
            other => Object::Other(format!("{other:?}")),
        });
    }
    // Sections the PEM reader skips (unknown labels) are still worth naming in errors.
    if known < labels.len() {
        let known_labels = [
            "CERTIFICATE",
            "X509 CRL",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "RSA PRIVATE KEY",
            "PUBLIC KEY",
            "CERTIFICATE REQUEST",
        ];
        for label in labels {
            if !known_labels.contains(&label.as_str()) {
                objects.push(Object::Other(label));
            }
        }
    }
    if objects.is_empty() {
        return Err(CertgenError::NotPem {
            path: path.to_owned(),
            reason: "a BEGIN line but no complete PEM section".into(),
        });
    }
    Ok(objects)
}

/// Reads every certificate in `path` (a single certificate or a bundle), checking that
/// each one parses as X.509.
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertgenError> {
    let objects = read_objects(path)?;
    let mut certs = Vec::new();
    for o in &objects {
        if let Object::Certificate(c) = o {
            if let Err(e) = x509_parser::parse_x509_certificate(c) {
                return Err(CertgenError::BadCertificate {
                    path: path.to_owned(),
                    reason: format!("not a valid X.509 certificate ({e})"),
                });
            }
            certs.push(c.clone());
        }
    }
    if certs.is_empty() {
        return Err(wrong_kind(path, "a CERTIFICATE", &objects));
    }
    Ok(certs)
}

/// Reads the first private key in `path`.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertgenError> {
    let objects = read_objects(path)?;
    let found = objects.iter().find_map(|o| match o {
        Object::Key(k) => Some(k.clone_key()),
        _ => None,
    });
    found.ok_or_else(|| wrong_kind(path, "a PRIVATE KEY", &objects))
}

/// Reads the first CRL in `path`, checking that it parses.
pub(crate) fn load_crl(path: &Path) -> Result<CertificateRevocationListDer<'static>, CertgenError> {
    let objects = read_objects(path)?;
    let found = objects.iter().find_map(|o| match o {
        Object::Crl(c) => Some(c.clone()),
        _ => None,
    });
    let crl = found.ok_or_else(|| wrong_kind(path, "an X509 CRL", &objects))?;
    x509_parser::parse_x509_crl(&crl).map_err(|e| CertgenError::BadCrl {
        path: path.to_owned(),
        reason: format!("not a valid X.509 CRL ({e})"),
    })?;
    Ok(crl)
}

/// Reads every CRL in `path` (a node uses them all: one per CA during a rotation), checking
/// that each parses.
pub(crate) fn load_crls(
    path: &Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, CertgenError> {
    let objects = read_objects(path)?;
    let mut crls = Vec::new();
    for o in &objects {
        if let Object::Crl(c) = o {
            x509_parser::parse_x509_crl(c).map_err(|e| CertgenError::BadCrl {
                path: path.to_owned(),
                reason: format!("not a valid X.509 CRL ({e})"),
            })?;
            crls.push(c.clone());
        }
    }
    if crls.is_empty() {
        return Err(wrong_kind(path, "an X509 CRL", &objects));
    }
    Ok(crls)
}

/// A PEM reader error in words.
pub(crate) fn broken_pem(path: &Path, e: &rustls_pki_types::pem::Error) -> CertgenError {
    use rustls_pki_types::pem::Error as E;
    let reason = match e {
        E::MissingSectionEnd { end_marker } => format!(
            "the -----END {}----- line is missing (is the file truncated?)",
            String::from_utf8_lossy(end_marker)
        ),
        E::IllegalSectionStart { line } => {
            format!("malformed BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        E::Base64Decode(m) => format!("the base64 text inside a section is damaged ({m})"),
        other => other.to_string(),
    };
    CertgenError::BrokenPem {
        path: path.to_owned(),
        reason,
    }
}

fn wrong_kind(path: &Path, expected: &'static str, objects: &[Object]) -> CertgenError {
    let found = objects
        .iter()
        .map(Object::describe)
        .collect::<Vec<_>>()
        .join(" and ");
    CertgenError::WrongKind {
        path: path.to_owned(),
        expected,
        found,
    }
}

/// A file without any BEGIN line: try DER certificate, CRL, then PKCS#8 key.
fn read_der(path: &Path, bytes: Vec<u8>) -> Result<Object, CertgenError> {
    if matches!(x509_parser::parse_x509_certificate(&bytes), Ok((rest, _)) if rest.is_empty()) {
        return Ok(Object::Certificate(bytes.into()));
    }
    if matches!(x509_parser::parse_x509_crl(&bytes), Ok((rest, _)) if rest.is_empty()) {
        return Ok(Object::Crl(bytes.into()));
    }
    let key: PrivateKeyDer<'static> = PrivatePkcs8KeyDer::from(bytes.clone()).into();
    if rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).is_ok() {
        return Ok(Object::Key(key));
    }
    let printable = bytes
        .iter()
        .take(64)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    Err(CertgenError::NotPem {
        path: path.to_owned(),
        reason: if printable {
            "the text is neither a PEM certificate, key or CRL".into()
        } else {
            "the bytes are neither a DER certificate, CRL or PKCS#8 key".into()
        },
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The labels of every `-----BEGIN LABEL-----` line, in order.
fn pem_labels(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("-----BEGIN ")
                .and_then(|r| r.strip_suffix("-----"))
                .map(str::to_owned)
        })
        .collect()
}
