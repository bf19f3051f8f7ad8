//! Shared by the benches: a throw-away PKI, and the raw tokio-rustls baseline's configuration.
//! (Not every bench uses every item.)
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A fresh CA of cluster "bench" and node certificates for `ids`, in a temporary folder
/// (removed when the returned value drops).
pub(crate) fn pki(ids: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    reign_certgen::init(
        dir.path(),
        &reign_certgen::InitOptions {
            cluster_name: "bench".into(),
            ..Default::default()
        },
    )
    .expect("init");
    reign_certgen::issue(dir.path(), ids, &Default::default()).expect("issue");
    dir
}

/// The same certificates and provider as reign, in a plain rustls configuration.
pub(crate) fn raw_configs(dir: &Path) -> (Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca.pem")).expect("ca") {
        roots.add(c.expect("ca")).expect("root");
    }
    let roots = Arc::new(roots);
    let chain = |id: &str| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(dir.join(format!("{id}.pem")))
            .expect("cert")
            .collect::<Result<_, _>>()
            .expect("certs")
    };
    let key = |id: &str| PrivateKeyDer::from_pem_file(dir.join(format!("{id}.key"))).expect("key");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain("b"), key("b"))
        .expect("server cert");
    // As reign: no resumption, so no session tickets either.
    server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain("a"), key("a"))
        .expect("client cert");
    client.resumption = rustls::client::Resumption::disabled();
    (Arc::new(client), Arc::new(server))
}
