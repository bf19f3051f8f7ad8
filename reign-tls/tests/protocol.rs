//! docs/PROTOCOL.md sections 1 to 3, checked on real loopback sockets against hand-made
//! peers (plain tokio-rustls, bytes written as the document describes them): how a handshake
//! ends once TLS is up (REFUSE 13 at the deadline, REFUSE 16 on eviction, close_notify after
//! every REFUSE sent or received), a certificate whose Common Name is not a node ID (a TLS
//! alert, not a REFUSE), ALPN lists, and the dialer's checks before the acceptor's HELLO.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reign_tls::{
    AuthenticatedStream, HandshakeError, NodeId, Refusal, RefusedBy, TlsConfig, TlsEndpoint,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every wait here is bounded by this, so a broken build fails instead of hanging.
const WAIT: Duration = Duration::from_secs(20);

/// The handshake deadline of the tests that wait for it: long enough for a loaded machine
/// to finish TLS well before it.
const DEADLINE: Duration = Duration::from_millis(1500);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("test step did not finish in time")
}

/// A cluster `demo` in a temporary folder: reign-certgen's CA and node certificates.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(ids: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        reign_certgen::init(
            dir.path(),
            &reign_certgen::InitOptions {
                cluster_name: "demo".into(),
                ..reign_certgen::InitOptions::default()
            },
        )
        .expect("init CA");
        reign_certgen::issue(dir.path(), ids, &reign_certgen::IssueOptions::default())
            .expect("issue");
        Self { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn config(&self, id: &str) -> TlsConfig {
        TlsConfig::from_dir(self.dir.path(), node(id), "demo")
    }

    fn endpoint(&self, id: &str) -> TlsEndpoint {
        TlsEndpoint::new(self.config(id)).expect("endpoint")
    }

    /// Signs, with the cluster CA, a certificate a node would accept but for its subject:
    /// `cn` as its Common Name (`None`: no Common Name at all). Writes `<file>.pem` and
    /// `<file>.key`. reign-certgen cannot make one.
    fn odd_subject(&self, file: &str, cn: Option<&str>) {
        let ca = reign_certgen::CertAuthority::load(self.dir.path()).expect("CA");
        let issuer = rcgen::Issuer::from_ca_cert_pem(
            ca.cert_pem(),
            rcgen::KeyPair::from_pem(ca.key_pem()).expect("CA key"),
        )
        .expect("issuer");
        let mut params = rcgen::CertificateParams::new(vec!["a".to_owned()]).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &issuer).expect("sign");
        std::fs::write(self.path(&format!("{file}.pem")), cert.pem()).expect("write");
        std::fs::write(self.path(&format!("{file}.key")), key.serialize_pem()).expect("write");
    }
}

fn node(id: &str) -> NodeId {
    id.parse().expect("node id")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn chain_and_key(pki: &Pki, file: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let chain = CertificateDer::pem_file_iter(pki.path(&format!("{file}.pem")))
        .expect("cert")
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{file}.key"))).expect("key");
    (chain, key)
}

/// A TLS 1.3 client that is not reign (standard WebPKI verifier), presenting `file`'s
/// certificate and offering `alpn`.
fn raw_client(pki: &Pki, file: &str, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.path("ca.pem")).expect("ca") {
        roots.add(c.expect("ca cert")).expect("root");
    }
    let (chain, key) = chain_and_key(pki, file);
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client cert");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn raw_connect(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("a").expect("name"), tcp)
        .await
}

/// A TLS 1.3 server that is not reign, presenting `file`'s certificate, selecting `reign/1`.
async fn raw_server(pki: &Pki, file: &str) -> (TcpListener, tokio_rustls::TlsAcceptor) {
    let (chain, key) = chain_and_key(pki, file);
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server cert");
    config.alpn_protocols = vec![b"reign/1".to_vec()];
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    (listener, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

type Results = tokio::sync::mpsc::UnboundedReceiver<Result<AuthenticatedStream, HandshakeError>>;

/// A listener whose every connection goes to `acceptor.accept`; results on the channel.
async fn serve(acceptor: TlsEndpoint) -> (SocketAddr, Results) {
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

/// A HELLO frame, byte by byte as section 2 describes it.
fn hello_frame(node_id: &str) -> Vec<u8> {
    let mut body = vec![0x01, 0, 1];
    body.extend_from_slice(&7u64.to_be_bytes());
    body.push(4);
    body.extend_from_slice(b"demo");
    body.push(node_id.len() as u8);
    body.extend_from_slice(node_id.as_bytes());
    frame(&body)
}

/// A REFUSE frame with `code` and text `fields`.
fn refuse_frame(code: u16, fields: &[&str]) -> Vec<u8> {
    let mut body = vec![0x02];
    body.extend_from_slice(&code.to_be_bytes());
    body.push(fields.len() as u8);
    for f in fields {
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f.as_bytes());
    }
    frame(&body)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// Reads one frame (length field included).
async fn read_frame(io: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await.expect("a frame's length");
    let mut f = len.to_vec();
    f.resize(4 + u32::from_be_bytes(len) as usize, 0);
    io.read_exact(&mut f[4..]).await.expect("a frame's body");
    f
}

/// Everything the peer sends until it closes, and whether it closed with close_notify
/// (rustls reports an end of the socket without one as an `UnexpectedEof` error).
async fn rest(io: &mut (impl AsyncRead + Unpin)) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let clean = io.read_to_end(&mut got).await.is_ok();
    (got, clean)
}

fn refusal(r: &Result<AuthenticatedStream, HandshakeError>, by: RefusedBy) -> Refusal {
    match r {
        Err(e) => match e.refusal() {
            Some((who, reason)) if who == by => reason.clone(),
            other => panic!("expected a refusal by {by:?}, got {other:?} ({e})"),
        },
        Ok(s) => panic!("expected a refusal, got a connection {s:?}"),
    }
}

/// Section 2, code 13 (finding 1 of the outside review): TLS is up but the dialer sends no
/// HELLO; at the deadline the acceptor says why, then close_notify.
#[tokio::test]
async fn an_acceptor_whose_deadline_passes_after_tls_sends_refuse_13_and_close_notify() {
    let pki = Pki::new(&["a", "b"]);
    let a = TlsEndpoint::new(pki.config("a").with_handshake_timeout(DEADLINE)).unwrap();
    let (addr, mut results) = serve(a).await;
    let mut tls = bounded(raw_connect(raw_client(&pki, "b", &[b"reign/1"]), addr))
        .await
        .expect("TLS");
    let (got, clean) = bounded(rest(&mut tls)).await;
    assert_eq!(
        got,
        [0, 0, 0, 4, 0x02, 0, 13, 0],
        "REFUSE code 13, no fields"
    );
    assert!(clean, "the REFUSE is followed by close_notify");
    let accepted = bounded(results.recv()).await.unwrap();
    assert_eq!(refusal(&accepted, RefusedBy::Us), Refusal::HandshakeTimeout);
}

/// The same on the dialer's side: the acceptor completes TLS, reads the HELLO and never
/// answers.
#[tokio::test]
async fn a_dialer_whose_deadline_passes_after_tls_sends_refuse_13_and_close_notify() {
    let pki = Pki::new(&["a", "b"]);
    let (listener, server) = raw_server(&pki, "a").await;
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = server.accept(tcp).await.expect("TLS");
        let hello = read_frame(&mut tls).await;
        (hello, rest(&mut tls).await)
    });
    let b = TlsEndpoint::new(pki.config("b").with_handshake_timeout(DEADLINE)).unwrap();
    let dialed = bounded(b.connect(addr, &node("a"))).await;
    assert_eq!(refusal(&dialed, RefusedBy::Us), Refusal::HandshakeTimeout);
    let (hello, (got, clean)) = bounded(peer).await.unwrap();
    assert_eq!(hello[4], 0x01, "the dialer's HELLO came first");
    assert_eq!(got, [0, 0, 0, 4, 0x02, 0, 13, 0], "then REFUSE code 13");
    assert!(clean, "then close_notify");
}

/// Section 3, eviction: a handshake whose TLS is up (here: waiting for ACCEPT) that is
/// evicted to admit a newer connection is told so with REFUSE 16, then close_notify.
#[tokio::test]
async fn a_handshake_evicted_after_tls_gets_refuse_16_and_close_notify() {
    let pki = Pki::new(&["a", "b"]);
    let a = TlsEndpoint::new(
        pki.config("a")
            .with_max_pending_handshakes_per_source(1)
            .with_handshake_timeout(Duration::from_secs(10))
            .with_client_hello_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let (addr, mut results) = serve(a).await;
    let mut tls = bounded(raw_connect(raw_client(&pki, "b", &[b"reign/1"]), addr))
        .await
        .expect("TLS");
    tls.write_all(&hello_frame("b")).await.unwrap();
    // The acceptor's HELLO: it is now waiting for ACCEPT, TLS long done.
    let theirs = bounded(read_frame(&mut tls)).await;
    assert_eq!(theirs[4], 0x01);
    // A newcomer from the same address (a cap of one per source) evicts it.
    let _newcomer = TcpStream::connect(addr).await.unwrap();
    let (got, clean) = bounded(rest(&mut tls)).await;
    assert_eq!(got, [0, 0, 0, 4, 0x02, 0, 16, 0], "REFUSE code 16");
    assert!(clean, "then close_notify");
    let accepted = bounded(results.recv()).await.unwrap();
    assert_eq!(refusal(&accepted, RefusedBy::Us), Refusal::Evicted);
}

/// Section 3, closing: an acceptor that reads the dialer's REFUSE answers with close_notify
/// before it closes.
#[tokio::test]
async fn an_acceptor_that_reads_a_refuse_closes_with_close_notify() {
    let pki = Pki::new(&["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let mut tls = bounded(raw_connect(raw_client(&pki, "b", &[b"reign/1"]), addr))
        .await
        .expect("TLS");
    tls.write_all(&refuse_frame(10, &["a"])).await.unwrap();
    let (got, clean) = bounded(rest(&mut tls)).await;
    assert!(got.is_empty(), "nothing but the close: {got:?}");
    assert!(clean, "close_notify");
    let accepted = bounded(results.recv()).await.unwrap();
    assert_eq!(
        refusal(&accepted, RefusedBy::Peer),
        Refusal::UnknownNode { node: "a".into() }
    );
}

/// The same on the dialer's side: it reads the acceptor's REFUSE and closes with
/// close_notify.
#[tokio::test]
async fn a_dialer_that_reads_a_refuse_closes_with_close_notify() {
    let pki = Pki::new(&["a", "b"]);
    let (listener, server) = raw_server(&pki, "a").await;
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = server.accept(tcp).await.expect("TLS");
        read_frame(&mut tls).await;
        tls.write_all(&refuse_frame(11, &["demo", "x"]))
            .await
            .unwrap();
        rest(&mut tls).await
    });
    let dialed = bounded(pki.endpoint("b").connect(addr, &node("a"))).await;
    assert!(matches!(
        refusal(&dialed, RefusedBy::Peer),
        Refusal::WrongCluster { .. }
    ));
    let (got, clean) = bounded(peer).await.unwrap();
    assert!(got.is_empty(), "nothing but the close: {got:?}");
    assert!(clean, "close_notify");
}

/// Section 1 (finding 2): a certificate of the cluster CA with no Common Name, or one that
/// is not a node ID (here with a newline and an ANSI escape), fails the certificate checks
/// during TLS: the dialer gets a TLS alert (`certificate_unknown`), not a REFUSE 9, and the
/// acceptor's reason says what is wrong without repeating the CN.
#[tokio::test]
async fn a_dialer_whose_cn_is_not_a_node_id_is_refused_with_a_tls_alert() {
    let pki = Pki::new(&["a"]);
    pki.odd_subject("nocn", None);
    pki.odd_subject("badcn", Some("b\n\u{1b}[31mevent: z up"));
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    for (file, want) in [
        ("nocn", "no Common Name"),
        ("badcn", "Common Name is not a valid node ID"),
    ] {
        let client = bounded(async {
            let mut tls = raw_connect(raw_client(&pki, file, &[b"reign/1"]), addr).await?;
            // (No HELLO: written now, it could meet a closed socket before the alert is read.)
            let mut got = Vec::new();
            tls.read_to_end(&mut got).await.map(|_| got)
        })
        .await;
        let alert = client.expect_err(file).to_string();
        assert!(alert.contains("CertificateUnknown"), "{file}: {alert}");
        let accepted = bounded(results.recv()).await.unwrap();
        match refusal(&accepted, RefusedBy::Us) {
            Refusal::BadCertificate { detail } => {
                assert!(detail.contains(want), "{file}: {detail}");
                assert!(!detail.contains("event"), "{file}: the CN is not repeated");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}

/// The same on the dialer's side: an acceptor presenting a certificate with no Common Name
/// is refused during TLS, so the dialer's HELLO never leaves.
#[tokio::test]
async fn an_acceptor_whose_cn_is_not_a_node_id_is_refused_with_a_tls_alert() {
    let pki = Pki::new(&["b"]);
    pki.odd_subject("nocn", None);
    let (listener, server) = raw_server(&pki, "nocn").await;
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match server.accept(tcp).await {
            Err(e) => e.to_string(),
            Ok(mut tls) => {
                let mut got = Vec::new();
                let _ = tls.read_to_end(&mut got).await;
                panic!("TLS completed; the dialer sent {got:?}");
            }
        }
    });
    let dialed = bounded(pki.endpoint("b").connect(addr, &node("a"))).await;
    assert!(
        matches!(
            refusal(&dialed, RefusedBy::Us),
            Refusal::BadCertificate { ref detail } if detail.contains("no Common Name")
        ),
        "{dialed:?}"
    );
    let alert = bounded(peer).await.unwrap();
    assert!(alert.contains("CertificateUnknown"), "{alert}");
}

/// Section 1, ALPN (finding 3): the acceptor selects `reign/1` from the dialer's list, as
/// TLS does (so a later dialer may offer `reign/2` and `reign/1`); a list without it gets
/// `no_application_protocol`; a dialer that offers none is accepted.
#[tokio::test]
async fn the_acceptor_selects_reign_1_from_the_dialers_alpn_list() {
    let pki = Pki::new(&["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let lists: [&[&[u8]]; 3] = [&[b"h2", b"reign/2", b"reign/1"], &[b"reign/1"], &[]];
    for alpn in lists {
        let mut tls = bounded(raw_connect(raw_client(&pki, "b", alpn), addr))
            .await
            .expect("TLS");
        let selected = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let want = (!alpn.is_empty()).then(|| b"reign/1".to_vec());
        assert_eq!(selected, want, "{alpn:?}");
        tls.write_all(&hello_frame("b")).await.unwrap();
        let theirs = bounded(read_frame(&mut tls)).await;
        assert_eq!(theirs[4], 0x01, "{alpn:?}: the acceptor's HELLO");
        tls.write_all(&[0, 0, 0, 1, 0x03]).await.unwrap();
        let accepted = bounded(results.recv()).await.unwrap();
        let up = accepted.expect("established");
        assert_eq!(up.peer().node_id.as_str(), "b");
    }
    let refused = bounded(raw_connect(
        raw_client(&pki, "b", &[b"h2", b"reign/2"]),
        addr,
    ))
    .await;
    let alert = refused.expect_err("no reign/1 in the list").to_string();
    assert!(alert.contains("NoApplicationProtocol"), "{alert}");
    let accepted = bounded(results.recv()).await.unwrap();
    assert!(
        matches!(
            refusal(&accepted, RefusedBy::Us),
            Refusal::TlsFailure { .. }
        ),
        "{accepted:?}"
    );
}

/// Section 3, the dialer's first check: the acceptor's CN, then membership, before reading
/// anything from it. A non-member acceptor gets the dialer's HELLO (it left with TLS) and
/// then REFUSE 10, without having said a word.
#[tokio::test]
async fn the_dialer_checks_membership_before_the_acceptors_hello() {
    let pki = Pki::new(&["a", "b"]);
    let (listener, server) = raw_server(&pki, "a").await;
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = server.accept(tcp).await.expect("TLS");
        let hello = read_frame(&mut tls).await;
        (hello, rest(&mut tls).await)
    });
    let b = TlsEndpoint::new(pki.config("b").with_members([node("b"), node("c")])).unwrap();
    let dialed = bounded(b.connect(addr, &node("a"))).await;
    assert_eq!(
        refusal(&dialed, RefusedBy::Us),
        Refusal::UnknownNode { node: "a".into() }
    );
    let (hello, (got, clean)) = bounded(peer).await.unwrap();
    assert_eq!(hello, hello_frame_of(&b));
    assert_eq!(
        got,
        [0, 0, 0, 7, 0x02, 0, 10, 1, 0, 1, b'a'],
        "REFUSE 10 \"a\""
    );
    assert!(clean);
}

/// `endpoint`'s HELLO as section 2 lays it out.
fn hello_frame_of(endpoint: &TlsEndpoint) -> Vec<u8> {
    let mut body = vec![0x01, 0, 1];
    body.extend_from_slice(&endpoint.incarnation().get().to_be_bytes());
    body.push(endpoint.cluster().len() as u8);
    body.extend_from_slice(endpoint.cluster().as_bytes());
    body.push(endpoint.node_id().as_str().len() as u8);
    body.extend_from_slice(endpoint.node_id().as_str().as_bytes());
    frame(&body)
}
