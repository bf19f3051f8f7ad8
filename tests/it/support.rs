//! Shared test helpers: a throw-away PKI made by reign-certgen, endpoint pairs, raw peers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reign::tls::{AuthenticatedStream, HandshakeError, NodeId, TlsConfig, TlsEndpoint};
use reign_certgen::{CertAuthority, InitOptions, IssueOptions, NodeCertParams};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};

/// Every wait in these tests is bounded by this, so a broken build fails instead of hanging.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Installs a tracing subscriber once (logs show with `--nocapture`).
pub(crate) fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Bounds a future by [`WAIT`].
pub(crate) async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("test step did not finish in time")
}

/// A cluster's PKI in a temporary folder: `ca.pem`, `ca.key`, `<id>.pem`, `<id>.key`.
pub(crate) struct Pki {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) cluster: String,
}

impl Pki {
    /// A CA for `cluster` and a certificate for each of `ids`.
    pub(crate) fn new(cluster: &str, ids: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        reign_certgen::init(
            dir.path(),
            &InitOptions {
                cluster_name: cluster.into(),
                ..InitOptions::default()
            },
        )
        .expect("init CA");
        if !ids.is_empty() {
            reign_certgen::issue(dir.path(), ids, &IssueOptions::default()).expect("issue");
        }
        Self {
            dir,
            cluster: cluster.into(),
        }
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    pub(crate) fn ca(&self) -> CertAuthority {
        CertAuthority::load(self.dir.path()).expect("load CA")
    }

    /// Issues `params` with this CA and writes `<id>.pem` / `<id>.key` (overwriting).
    pub(crate) fn issue_custom(&self, params: &NodeCertParams) {
        let cert = self.ca().issue(params).expect("issue custom");
        write(
            &self.path(&format!("{}.pem", params.node_id)),
            &cert.cert_pem,
        );
        write(
            &self.path(&format!("{}.key", params.node_id)),
            &cert.key_pem,
        );
    }

    pub(crate) fn config(&self, id: &str) -> TlsConfig {
        TlsConfig::from_dir(self.dir.path(), node(id), self.cluster.clone())
    }

    pub(crate) fn endpoint(&self, id: &str) -> TlsEndpoint {
        TlsEndpoint::new(self.config(id)).expect("endpoint")
    }
}

pub(crate) fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("write file");
}

pub(crate) fn node(id: &str) -> NodeId {
    id.parse().expect("node id")
}

/// Runs one handshake: `dialer` connects to a fresh listener served by `acceptor`,
/// expecting to reach `expected`. Returns both sides' results.
pub(crate) async fn handshake(
    dialer: &TlsEndpoint,
    acceptor: &TlsEndpoint,
    expected: &str,
) -> (
    Result<AuthenticatedStream, HandshakeError>,
    Result<AuthenticatedStream, HandshakeError>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let expected = node(expected);
    bounded(async {
        tokio::join!(dialer.connect(addr, &expected), async {
            let (tcp, _) = listener.accept().await.expect("accept");
            acceptor.accept(tcp).await
        })
    })
    .await
}

/// A listener whose every connection is handed to `acceptor.accept`; results arrive on the
/// returned channel.
pub(crate) async fn serve(
    acceptor: TlsEndpoint,
) -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Result<AuthenticatedStream, HandshakeError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(acceptor.accept(tcp).await);
            });
        }
    });
    (addr, rx)
}

/// A TLS 1.3 client that is not reign: plain tokio-rustls with the standard WebPKI verifier,
/// presenting `cert`/`key` (or no certificate at all).
pub(crate) fn raw_client_config(
    ca_pem: &Path,
    cert_and_key: Option<(&Path, &Path)>,
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem).expect("ca") {
        roots.add(c.expect("ca cert")).expect("add root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots);
    let mut config = match cert_and_key {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("certs");
            let key = PrivateKeyDer::from_pem_file(key).expect("key");
            let key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).expect("key type");
            // Presents the certificate whatever it is (rustls' own builder would refuse an
            // X.509 v1 certificate before it ever reached the peer).
            builder.with_client_cert_resolver(Arc::new(PresentAnyway(Arc::new(
                rustls::sign::CertifiedKey::new(chain, key),
            ))))
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"reign/1".to_vec()];
    Arc::new(config)
}

/// Connects a raw TLS client to `addr`, expecting the server certificate to name `server`.
pub(crate) async fn raw_connect(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    server: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from(server.to_owned()).expect("name"), tcp)
        .await
}

/// Encodes a HELLO frame by hand, as docs/PROTOCOL.md describes it.
pub(crate) fn hello_frame(version: u16, incarnation: u64, cluster: &str, node_id: &str) -> Vec<u8> {
    let mut body = vec![0x01];
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&incarnation.to_be_bytes());
    body.push(cluster.len() as u8);
    body.extend_from_slice(cluster.as_bytes());
    body.push(node_id.len() as u8);
    body.extend_from_slice(node_id.as_bytes());
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// A P-256 key `{id}.key` and a certificate request `{id}.csr` for CN `id`, made by openssl
/// in `dir`.
pub(crate) fn openssl_csr(id: &str, dir: &Path) {
    let (key, csr, subj) = (
        format!("{id}.key"),
        format!("{id}.csr"),
        format!("/CN={id}"),
    );
    openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subj,
        ],
        dir,
    );
}

/// Runs `openssl` with `args`; panics with its stderr if it fails (CI installs openssl).
pub(crate) fn openssl(args: &[&str], dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI must be installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[derive(Debug)]
struct PresentAnyway(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for PresentAnyway {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The documented rank of `node` for a cluster-wide name: 64-bit FNV-1a of the name, a zero
/// byte and the node ID (docs/PROTOCOL.md), written here from the document.
pub(crate) fn rank(name: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes().chain([0]).chain(node.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}
