//! Loading a node's PEM material into one immutable snapshot: the verifier and the rustls
//! client and server configurations built from it. A snapshot is checked as a whole before
//! it is used, so a reload either swaps in complete, consistent material or changes nothing.

use crate::certinfo::details_of;
use crate::summary::{CrlSummary, MaterialSummary};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};

use crate::certcheck::{PeerCertificateVerifier, VerifierError};
use crate::certerror::CertificateError;
use crate::certinfo::{CertificateDetails, leaf_facts};
use crate::config::{PemSource, TlsConfig};
use crate::error::{MaterialKind, TlsError};
use crate::verify::{AcceptorCertVerifier, DialerCertVerifier};

/// The ALPN protocol name reign offers and selects: `reign/1`. A dialer offers it alone; an
/// acceptor selects it from any list that holds it and refuses a list that does not
/// (`no_application_protocol`). A dialer that offers no ALPN is accepted.
pub const ALPN_PROTOCOL: &[u8] = b"reign/1";

/// The ALPN protocol name of an operator connection: `reign-operator/1`. The `reign` tool
/// offers it alone; an acceptor selects it when the dialer's list holds it and not
/// [`ALPN_PROTOCOL`], and then treats the dialer as an operator (docs/PROTOCOL.md section 8).
pub const OPERATOR_ALPN: &[u8] = b"reign-operator/1";

/// One consistent set of TLS material and what is built from it.
#[derive(Debug)]
pub(crate) struct Material {
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) client: Arc<ClientConfig>,
    /// `client` offering [`OPERATOR_ALPN`] instead, for the `reign` tool.
    pub(crate) operator_client: Arc<ClientConfig>,
    pub(crate) own: CertificateDetails,
    /// The verifier both configs use; the endpoint asks it again, after a handshake, for
    /// the verified chain's end of validity.
    pub(crate) verifier: Arc<PeerCertificateVerifier>,
    /// What it holds, for reports and expiry warnings.
    pub(crate) summary: MaterialSummary,
    /// This node's key and chain, for signing certificate updates.
    pub(crate) signing_key: Arc<dyn rustls::sign::SigningKey>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// Why peers would refuse this node's own certificate, when it loaded all the same
    /// (expired, not yet valid or revoked: facts of time and the CRL, see `load`).
    pub(crate) own_refused: Option<CertificateError>,
}

/// The largest TLS file reign reads (a CA bundle, certificate, key or CRL): 64 MiB.
pub const MAX_MATERIAL_FILE: u64 = 64 * 1024 * 1024;

pub(crate) fn read(source: &PemSource, kind: MaterialKind) -> Result<Vec<u8>, TlsError> {
    match source {
        PemSource::Memory(b) => Ok(b.clone()),
        PemSource::File(path) => read_file(path, kind),
    }
}

/// Reads a regular file of at most [`MAX_MATERIAL_FILE`] bytes. It is opened without
/// blocking and checked once open (so a swap between a check and the open cannot slip a
/// pipe in): a FIFO nobody writes, a device such as `/dev/zero` or a directory is refused
/// before anything is read.
fn read_file(path: &std::path::Path, kind: MaterialKind) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let io = |source| TlsError::Read {
        kind,
        path: path.to_path_buf(),
        source,
    };
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NONBLOCK);
    let file = open.open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(TlsError::NotAFile {
            kind,
            path: path.to_path_buf(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_MATERIAL_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MATERIAL_FILE {
        return Err(TlsError::FileTooLarge {
            kind,
            path: path.to_path_buf(),
            limit: MAX_MATERIAL_FILE,
        });
    }
    Ok(bytes)
}

fn pem_error(kind: MaterialKind, source: &PemSource, detail: impl Into<String>) -> TlsError {
    TlsError::Pem {
        kind,
        origin: source.origin(),
        detail: detail.into(),
    }
}

fn certificates(
    source: &PemSource,
    kind: MaterialKind,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(source, kind)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(kind, source, format!("invalid PEM: {}", PemProblem(&e))))?;
    if certs.is_empty() {
        return Err(pem_error(kind, source, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Refuses a bundle holding two different CAs with the same subject (see
/// [`TlsError::SameNamedCas`]). The same certificate twice is fine.
fn same_named_cas(ca_certs: &[CertificateDer<'_>], origin: &PemSource) -> Result<(), TlsError> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for c in ca_certs {
        let Some(d) = details_of(c.as_ref()) else {
            continue;
        };
        if let Some((_, spki)) = seen.iter().find(|(subject, _)| *subject == d.subject) {
            if *spki != d.spki_sha256 {
                return Err(TlsError::SameNamedCas {
                    origin: origin.origin(),
                    subject: d.subject,
                });
            }
            continue;
        }
        seen.push((d.subject, d.spki_sha256));
    }
    Ok(())
}

/// A PEM error as text: the markers and lines it quotes are shown as (escaped) text, not as
/// the byte lists `rustls_pki_types` prints.
struct PemProblem<'a>(&'a rustls_pki_types::pem::Error);

impl std::fmt::Display for PemProblem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::ratelimit::Escaped;
        use rustls_pki_types::pem::Error as E;
        match self.0 {
            E::MissingSectionEnd { end_marker } => write!(
                f,
                "a section has no end line (expected {})",
                Escaped(&String::from_utf8_lossy(end_marker))
            ),
            E::IllegalSectionStart { line } => write!(
                f,
                "a malformed BEGIN line: {}",
                Escaped(&String::from_utf8_lossy(line))
            ),
            other => write!(f, "{other}"),
        }
    }
}

/// The crypto provider of the whole tree: aws-lc-rs, with its default key exchange order
/// (X25519MLKEM768 first, then X25519, P-256, P-384).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Loads and checks everything `config` names.
pub(crate) fn load(config: &TlsConfig) -> Result<Material, TlsError> {
    let provider = provider();

    let ca_certs = certificates(&config.ca, MaterialKind::CaBundle)?;
    let mut crls = Vec::new();
    if let Some(src) = &config.crl {
        let bytes = read(src, MaterialKind::Crl)?;
        for der in CertificateRevocationListDer::pem_slice_iter(&bytes) {
            crls.push(der.map_err(|e| {
                pem_error(
                    MaterialKind::Crl,
                    src,
                    format!("invalid PEM: {}", PemProblem(&e)),
                )
            })?);
        }
        if crls.is_empty() {
            return Err(pem_error(MaterialKind::Crl, src, "no X509 CRL block found"));
        }
    }
    if !crls.is_empty() {
        same_named_cas(&ca_certs, &config.ca)?;
    }
    let verifier = PeerCertificateVerifier::new(&ca_certs, &crls).map_err(|e| match e {
        VerifierError::NotACa { subject, .. } => TlsError::NotACa {
            origin: config.ca.origin(),
            subject,
        },
        VerifierError::TrustAnchor { source, .. } => pem_error(
            MaterialKind::CaBundle,
            &config.ca,
            format!("a CA certificate cannot be used as a trust anchor: {source}"),
        ),
        VerifierError::Crl { source, .. } => pem_error(
            MaterialKind::Crl,
            config.crl.as_ref().unwrap_or(&config.ca),
            format!("invalid CRL: {source}"),
        ),
    })?;
    let verifier = Arc::new(verifier);

    let chain = certificates(&config.cert, MaterialKind::Certificate)?;
    let key_bytes = read(&config.key, MaterialKind::PrivateKey)?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        pem_error(
            MaterialKind::PrivateKey,
            &config.key,
            format!("no usable private key: {}", PemProblem(&e)),
        )
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| pem_error(MaterialKind::PrivateKey, &config.key, e.to_string()))?;
    let facts = leaf_facts(&chain[0])
        .map_err(|e| pem_error(MaterialKind::Certificate, &config.cert, e.to_string()))?;
    // Compare public keys directly (not through a full certificate parse, which would
    // refuse an X.509 v1 certificate as a "mismatch" instead of reporting v1 below).
    let key_spki = signing_key.public_key();
    if key_spki.as_ref().map(|k| k.as_ref()) != Some(facts.spki_der.as_slice()) {
        return Err(TlsError::KeyMismatch {
            key_origin: config.key.origin(),
            cert_origin: config.cert.origin(),
        });
    }

    // Our own certificate must be one our peers accept: same checks, same clock.
    let cn = facts.details.common_name.clone().unwrap_or_default();
    if cn != config.node_id.as_str() {
        return Err(TlsError::OwnCnMismatch {
            origin: config.cert.origin(),
            cn,
            node_id: config.node_id.clone(),
        });
    }
    let mut own_refused = None;
    match verifier.check(&chain[0], &chain[1..], UnixTime::now()) {
        Ok(_) => {}
        // A certificate outside its validity window or revoked is a fact about time and the
        // CRL, not a configuration mistake: start, say so loudly, and let peers refuse it
        // with that reason (a renewed certificate can then be swapped in with a reload).
        Err(
            reason @ (CertificateError::Expired { .. }
            | CertificateError::NotYetValid { .. }
            | CertificateError::Revoked),
        ) => {
            tracing::warn!(
                node = %config.node_id,
                cert = %config.cert.origin(),
                %reason,
                "own certificate will be refused by peers"
            );
            own_refused = Some(reason);
        }
        // The CRL file is what is wrong, not the certificate: name it.
        Err(
            reason @ (CertificateError::BadCrlSignature | CertificateError::CrlIssuerNotCrlSigner),
        ) => {
            return Err(pem_error(
                MaterialKind::Crl,
                config.crl.as_ref().unwrap_or(&config.ca),
                format!(
                    "{reason} (checked on this node's own certificate): is it the CRL of another CA with the same name?"
                ),
            ));
        }
        Err(reason) => {
            return Err(TlsError::OwnCertificate {
                origin: config.cert.origin(),
                reason: reason.into(),
            });
        }
    }

    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(DialerCertVerifier(verifier.clone())))
        .with_single_cert(chain.clone(), key.clone_key())?;
    // rustls takes the first of these that the dialer offers: a node offering `reign/1`
    // is a node, whatever else it offers.
    server.alpn_protocols = vec![ALPN_PROTOCOL.to_vec(), OPERATOR_ALPN.to_vec()];
    // No resumption: a resumed session would skip the certificate (and CRL) checks, so a
    // node revoked after its first connection could come back on an old ticket.
    server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    server.send_tls13_tickets = 0;

    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptorCertVerifier(verifier.clone())))
        .with_client_auth_cert(chain.clone(), key)?;
    client.alpn_protocols = vec![ALPN_PROTOCOL.to_vec()];
    client.resumption = rustls::client::Resumption::disabled();
    // The server name is not used for verification (the CN is checked against the node we
    // meant to reach); there is no reason to send it in clear.
    client.enable_sni = false;

    let summary = MaterialSummary {
        own: facts.details.clone(),
        ca_certificates: ca_certs.len(),
        ca: ca_certs
            .iter()
            .filter_map(|c| details_of(c.as_ref()))
            .collect(),
        crl: config.crl.as_ref().map(|_| CrlSummary::of(&crls)),
    };
    let mut operator_client = client.clone();
    operator_client.alpn_protocols = vec![OPERATOR_ALPN.to_vec()];
    Ok(Material {
        server: Arc::new(server),
        client: Arc::new(client),
        operator_client: Arc::new(operator_client),
        own: facts.details,
        verifier,
        summary,
        signing_key,
        chain,
        own_refused,
    })
}
