//! The checks about who the certificate names and whose key it holds: `key-match` (a node
//! with another key does not start), `node-id` (peers compare the CN with the node ID it
//! claims) and `subject-alt-name` (a note only: reign never reads it).

use reign_tls::ratelimit::Escaped;
use rustls_pki_types::PrivateKeyDer;
use x509_parser::certificate::X509Certificate;

use super::{DoctorOptions, DoctorReport};
use crate::inspect::general_name;
use crate::node_id::validate_node_id;

pub(super) fn check_key_match(
    r: &mut DoctorReport,
    key: &PrivateKeyDer<'static>,
    x509: &X509Certificate<'_>,
    opts: &DoctorOptions,
) {
    let spki = rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
        .ok()
        .and_then(|k| k.public_key().map(|s| s.as_ref().to_vec()));
    match spki {
        Some(spki) if spki == x509.public_key().raw => r.pass(
            "key-match",
            "the private key matches the certificate's public key",
        ),
        Some(_) => r.fail(
            "key-match",
            format!(
                "{} does not belong to {}: their public keys differ (the key of another node, or of an older certificate?)",
                opts.key.display(),
                opts.cert.display()
            ),
        ),
        None => r.fail(
            "key-match",
            "cannot derive a public key from the private key to compare",
        ),
    }
}

pub(super) fn check_node_id(
    r: &mut DoctorReport,
    x509: &X509Certificate<'_>,
    expected: Option<&str>,
) {
    let cns: Vec<_> = x509.subject().iter_common_name().collect();
    let cn = match cns.as_slice() {
        [] => {
            let subject = x509.subject().to_string();
            r.fail(
                "node-id",
                format!(
                    "the subject {:?} has no Common Name; the CN must be the node ID",
                    Escaped(&subject)
                ),
            );
            return;
        }
        [one] => match one.as_str() {
            Ok(s) => s.to_owned(),
            Err(_) => {
                r.fail("node-id", "the Common Name is not readable text");
                return;
            }
        },
        _ => {
            r.fail(
                "node-id",
                "the subject has more than one Common Name; it must have exactly one, the node ID",
            );
            return;
        }
    };
    if let Err(e) = validate_node_id(&cn) {
        r.fail(
            "node-id",
            format!("the Common Name is not a valid node ID: {e}"),
        );
        return;
    }
    let shown = Escaped(&cn);
    match expected {
        Some(want) if want != cn => r.fail(
            "node-id",
            format!(
                "the Common Name is {shown:?} but the node ID is {:?}; peers would refuse this node's claim",
                Escaped(want)
            ),
        ),
        Some(_) => r.pass(
            "node-id",
            format!("CN {shown:?} is a valid node ID and equals --node-id"),
        ),
        None => r.pass("node-id", format!("CN {shown:?} is a valid node ID")),
    }
    check_san(r, x509, &cn);
}

/// reign matches the subject CN, never a SAN name, and a node does not read the
/// subjectAltName extension at all: whatever it holds, even a malformed extension, this
/// check passes, with a note for other TLS tools.
fn check_san(r: &mut DoctorReport, x509: &X509Certificate<'_>, cn: &str) {
    let sans: Vec<String> = match x509.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().map(general_name).collect(),
        Ok(None) => Vec::new(),
        Err(e) => {
            r.pass(
                "subject-alt-name",
                format!(
                    "the subjectAltName extension is malformed ({e}); a node ignores it (reign matches the CN), but other TLS tools may refuse the certificate: reissue it"
                ),
            );
            return;
        }
    };
    let want = format!("DNS:{cn}");
    if sans.contains(&want) {
        r.pass(
            "subject-alt-name",
            format!("subjectAltName has {}", Escaped(&want)),
        );
    } else {
        let has = if sans.is_empty() {
            "none".to_owned()
        } else {
            sans.iter()
                .map(|s| Escaped(s).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        r.pass(
            "subject-alt-name",
            format!(
                "no {} subjectAltName (has: {has}); reign matches the CN, other TLS clients may want it",
                Escaped(&want)
            ),
        );
    }
}
