//! A peer's text never reaches a `Display` raw (finding 8): REFUSE fields, a claimed node ID
//! or cluster name in a bad HELLO. A hand-made peer holding a CA-issued certificate sends
//! text with newlines, ESC sequences and a forged `event: z up` line, both as the dialer
//! (to a reign acceptor) and as the acceptor (to a reign dialer).

use std::sync::Arc;

use reign::tls::{HandshakeError, RefusedBy};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{Pki, bounded, hello_frame, node, raw_client_config, raw_connect, serve};

/// What a hostile peer writes into every text field it controls.
const FORGED: &str = "x\nevent: z up\r\n\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}";

/// A REFUSE frame with `code` and `fields`, as docs/PROTOCOL.md section 2 describes it.
fn refuse_frame(code: u16, fields: &[&str]) -> Vec<u8> {
    let mut body = vec![0x02];
    body.extend_from_slice(&code.to_be_bytes());
    body.push(fields.len() as u8);
    for f in fields {
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f.as_bytes());
    }
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Asserts that `shown` holds no raw control character or bidi override, so it cannot
/// start a line of its own in a log or move a terminal's cursor.
fn assert_printable(shown: &str) {
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "raw control character in {shown:?}"
    );
}

fn refusal_text(e: &HandshakeError, by: RefusedBy) -> String {
    let (who, reason) = e.refusal().expect("a refusal");
    assert_eq!(who, by, "{e}");
    assert_printable(&reason.to_string());
    assert_printable(&format!("{reason:?}"));
    assert_printable(&e.to_string());
    reason.to_string()
}

/// Every REFUSE code whose fields are text, and an unknown code (its text is kept too).
const CASES: &[(u16, usize)] = &[
    (0, 1),
    (9, 2),
    (10, 1),
    (11, 2),
    (14, 1),
    (15, 1),
    (17, 1),
    (999, 1),
];

#[tokio::test]
async fn a_refuse_from_a_dialer_with_forged_lines_is_shown_escaped() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let config = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("b.pem"), &pki.path("b.key"))),
    );
    for &(code, n) in CASES {
        let fields = vec![FORGED; n];
        let frame = refuse_frame(code, &fields);
        bounded(async {
            let mut tls = raw_connect(config.clone(), addr, "a").await.unwrap();
            tls.write_all(&frame).await.unwrap();
            let mut rest = Vec::new();
            let _ = tls.read_to_end(&mut rest).await;
        })
        .await;
        let e = bounded(results.recv()).await.unwrap().expect_err("refused");
        let shown = refusal_text(&e, RefusedBy::Peer);
        // The text is there, escaped (codes 0 and 999 too: `Refusal::OtherCode`).
        assert!(
            shown.contains("x\\nevent: z up\\r\\n\\u{1b}[2J"),
            "{code}: {shown}"
        );
        // The refusing dialer is named by what its certificate proved.
        assert_eq!(e.proven_peer().map(|n| n.as_str()), Some("b"), "{e:?}");
    }
}

#[tokio::test]
async fn a_bad_hello_with_forged_lines_is_shown_escaped() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let config = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("b.pem"), &pki.path("b.key"))),
    );
    // A cluster name with a forged line; a claimed node ID that is not one.
    for hello in [
        hello_frame(1, 1, FORGED, "b"),
        hello_frame(1, 1, "demo", "b\nevent: z up\u{1b}[0m"),
    ] {
        let reply = bounded(async {
            let mut tls = raw_connect(config.clone(), addr, "a").await.unwrap();
            tls.write_all(&hello).await.unwrap();
            let mut reply = Vec::new();
            let _ = tls.read_to_end(&mut reply).await;
            reply
        })
        .await;
        let e = bounded(results.recv()).await.unwrap().expect_err("refused");
        let shown = refusal_text(&e, RefusedBy::Us);
        assert!(shown.contains("event: z up"), "{shown}");
        assert_eq!(reply.get(4), Some(&0x02), "answered with a REFUSE");
    }
}

#[tokio::test]
async fn a_refuse_from_an_acceptor_with_forged_lines_is_shown_escaped() {
    let pki = Pki::new("demo", &["a", "b"]);
    // A plain TLS server holding a's certificate that answers every HELLO with a REFUSE.
    let chain = CertificateDer::pem_file_iter(pki.path("a.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path("a.key")).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cases = CASES.to_vec();
    let server = tokio::spawn(async move {
        for (code, n) in cases {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut len = [0u8; 4];
            if tls.read_exact(&mut len).await.is_ok() {
                let mut hello = vec![0u8; u32::from_be_bytes(len) as usize];
                let _ = tls.read_exact(&mut hello).await;
            }
            let _ = tls.write_all(&refuse_frame(code, &vec![FORGED; n])).await;
            let _ = tls.shutdown().await;
        }
    });
    let b = pki.endpoint("b");
    for &(code, _) in CASES {
        let e = bounded(b.connect(addr, &node("a")))
            .await
            .expect_err("refused");
        let shown = refusal_text(&e, RefusedBy::Peer);
        if code != 0 {
            assert!(shown.contains("x\\nevent: z up"), "{code}: {shown}");
        }
    }
    bounded(server).await.unwrap();
}
