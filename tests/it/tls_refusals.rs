//! One test per refusal reason, asserting the typed reason on both sides where both can
//! know it: the acceptor's `accept` error (the same value it logs) and the dialer's error.

use std::path::Path;

use reign::tls::{HandshakeError, Refusal, RefusedBy, TlsEndpoint};
use reign_certgen::{NodeCertParams, RevocationReason, RevokeTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    Pki, bounded, handshake, hello_frame, node, openssl, openssl_csr, raw_client_config,
    raw_connect, serve, trace, write,
};

fn us(r: &Result<impl std::fmt::Debug, HandshakeError>) -> Refusal {
    match r {
        Err(e) => match e.refusal() {
            Some((RefusedBy::Us, reason)) => reason.clone(),
            other => panic!("expected a refusal by us, got {other:?} ({e})"),
        },
        Ok(s) => panic!("expected a refusal, got a connection {s:?}"),
    }
}

fn peer(r: &Result<impl std::fmt::Debug, HandshakeError>) -> Refusal {
    match r {
        Err(e) => match e.refusal() {
            Some((RefusedBy::Peer, reason)) => reason.clone(),
            other => panic!("expected a refusal by the peer, got {other:?} ({e})"),
        },
        Ok(s) => panic!("expected a refusal, got a connection {s:?}"),
    }
}

#[tokio::test]
async fn unknown_ca_is_refused_in_both_directions() {
    trace();
    let ours = Pki::new("demo", &["a"]);
    let theirs = Pki::new("demo", &["m"]);
    // m trusts both CAs (so it starts and accepts a's certificate) but holds a certificate
    // from a CA that a does not trust.
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(ours.path("ca.pem")).unwrap(),
        std::fs::read_to_string(theirs.path("ca.pem")).unwrap()
    );
    write(&theirs.path("ca.pem"), &bundle);
    let (a, m) = (ours.endpoint("a"), theirs.endpoint("m"));

    // m dials a: a refuses m's certificate; m learns it from the TLS alert.
    let (dialed, accepted) = handshake(&m, &a, "a").await;
    assert_eq!(us(&accepted), Refusal::UnknownCa);
    assert_eq!(peer(&dialed), Refusal::UnknownCa);

    // a dials m: a refuses m's (server) certificate; m learns it from the alert.
    let (dialed, accepted) = handshake(&a, &m, "m").await;
    assert_eq!(us(&dialed), Refusal::UnknownCa);
    assert_eq!(peer(&accepted), Refusal::UnknownCa);
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused() {
    let pki = Pki::new("demo", &["a"]);
    let now = time::OffsetDateTime::now_utc();
    let mut old = NodeCertParams::new("old");
    old.not_before = Some(now - time::Duration::days(10));
    old.not_after = Some(now - time::Duration::days(1));
    pki.issue_custom(&old);
    let mut early = NodeCertParams::new("early");
    early.not_before = Some(now + time::Duration::days(1));
    early.not_after = Some(now + time::Duration::days(10));
    pki.issue_custom(&early);
    let a = pki.endpoint("a");

    // Such a node still starts (it logs a warning) and is refused by its peers.
    let (dialed, accepted) = handshake(&pki.endpoint("old"), &a, "a").await;
    assert!(matches!(
        us(&accepted),
        Refusal::Expired { not_after: Some(_) }
    ));
    assert!(matches!(peer(&dialed), Refusal::Expired { .. }));
    let (dialed, _) = handshake(&a, &pki.endpoint("old"), "old").await;
    assert!(matches!(
        us(&dialed),
        Refusal::Expired { not_after: Some(_) }
    ));

    let (dialed, accepted) = handshake(&pki.endpoint("early"), &a, "a").await;
    assert!(matches!(
        us(&accepted),
        Refusal::NotYetValid {
            not_before: Some(_)
        }
    ));
    // TLS has one alert for both ends of the validity window.
    assert!(matches!(peer(&dialed), Refusal::Expired { .. }));
    let (dialed, _) = handshake(&a, &pki.endpoint("early"), "early").await;
    assert!(matches!(us(&dialed), Refusal::NotYetValid { .. }));
}

#[tokio::test]
async fn a_revoked_certificate_is_refused_by_nodes_holding_the_crl() {
    let pki = Pki::new("demo", &["a", "b"]);
    reign_certgen::revoke(
        pki.dir.path(),
        RevokeTarget::Node("b".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    let a = pki.endpoint("a"); // from_dir picks up crl.pem
    assert!(a.config().crl.is_some());
    let b = pki.endpoint("b");
    let (dialed, accepted) = handshake(&b, &a, "a").await;
    assert_eq!(us(&accepted), Refusal::Revoked);
    assert_eq!(peer(&dialed), Refusal::Revoked);
    let (dialed, accepted) = handshake(&a, &b, "b").await;
    assert_eq!(us(&dialed), Refusal::Revoked);
    assert_eq!(peer(&accepted), Refusal::Revoked);
}

/// Signs a certificate for `id` with the cluster CA but with the usages given, writing
/// `<id>.pem` / `<id>.key`. Such a certificate cannot be made with reign-certgen.
fn odd_usages(
    pki: &Pki,
    id: &str,
    ku: Vec<rcgen::KeyUsagePurpose>,
    eku: Vec<rcgen::ExtendedKeyUsagePurpose>,
) {
    let ca = pki.ca();
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        ca.cert_pem(),
        rcgen::KeyPair::from_pem(ca.key_pem()).unwrap(),
    )
    .unwrap();
    let mut params = rcgen::CertificateParams::new(vec![id.to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, id);
    params.key_usages = ku;
    params.extended_key_usages = eku;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    write(&pki.path(&format!("{id}.pem")), &cert.pem());
    write(&pki.path(&format!("{id}.key")), &key.serialize_pem());
}

/// Connects a non-reign TLS client presenting `id`'s files and returns the acceptor's result
/// and the client's first read (which fails with the alert).
async fn raw_peer_against(
    pki: &Pki,
    acceptor: TlsEndpoint,
    cert_key: Option<(&Path, &Path)>,
) -> (
    Result<reign::tls::AuthenticatedStream, HandshakeError>,
    std::io::Result<usize>,
) {
    let (addr, mut results) = serve(acceptor).await;
    let config = raw_client_config(&pki.path("ca.pem"), cert_key);
    let client_read = bounded(async {
        let mut tls = raw_connect(config, addr, "a").await?;
        tls.write_all(&hello_frame(1, 7, &pki.cluster, "x")).await?;
        let mut buf = [0u8; 64];
        tls.read(&mut buf).await
    })
    .await;
    let accepted = bounded(results.recv()).await.expect("acceptor result");
    (accepted, client_read)
}

fn alert_of(r: &std::io::Result<usize>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(n) => panic!("expected the peer's alert, read {n} bytes"),
    }
}

#[tokio::test]
async fn missing_key_usage_or_extended_key_usage_is_refused() {
    use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    use rcgen::KeyUsagePurpose::{DigitalSignature, KeyEncipherment};
    let pki = Pki::new("demo", &["a"]);
    let cases = [
        (
            "noclient",
            vec![DigitalSignature],
            vec![ServerAuth],
            Refusal::MissingExtendedKeyUsage {
                missing: "clientAuth",
            },
        ),
        (
            "noserver",
            vec![DigitalSignature],
            vec![ClientAuth],
            Refusal::MissingExtendedKeyUsage {
                missing: "serverAuth",
            },
        ),
        (
            "noeku",
            vec![DigitalSignature],
            vec![],
            Refusal::MissingExtendedKeyUsage {
                missing: "serverAuth and clientAuth",
            },
        ),
        (
            "noku",
            vec![],
            vec![ServerAuth, ClientAuth],
            Refusal::MissingKeyUsage,
        ),
        (
            "wrongku",
            vec![KeyEncipherment],
            vec![ServerAuth, ClientAuth],
            Refusal::MissingKeyUsage,
        ),
    ];
    for (id, ku, eku, want) in cases {
        odd_usages(&pki, id, ku, eku);
        // Such a node refuses to start with its own certificate...
        let own = TlsEndpoint::new(pki.config(id)).unwrap_err();
        assert!(own.to_string().contains(&want.to_string()), "{id}: {own}");
        // ...and a peer presenting it is refused, the client seeing the TLS alert.
        let (cert, key) = (
            pki.path(&format!("{id}.pem")),
            pki.path(&format!("{id}.key")),
        );
        let (accepted, client) =
            raw_peer_against(&pki, pki.endpoint("a"), Some((&cert, &key))).await;
        assert_eq!(us(&accepted), want, "{id}");
        assert!(
            alert_of(&client).to_lowercase().contains("alert"),
            "{id}: {client:?}"
        );
    }
}

#[tokio::test]
async fn an_x509_v1_certificate_is_refused_with_the_v1_reason() {
    let pki = Pki::new("demo", &["a"]);
    let d = pki.dir.path();
    // The classic mistake: `openssl x509 -req` without an extensions file makes a v1 cert.
    openssl_csr("v1", d);
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "v1.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            "v1.pem",
        ],
        d,
    );
    let own = TlsEndpoint::new(pki.config("v1")).unwrap_err();
    assert!(own.to_string().contains("X.509 v1"), "{own}");
    let (cert, key) = (pki.path("v1.pem"), pki.path("v1.key"));
    let (accepted, client) = raw_peer_against(&pki, pki.endpoint("a"), Some((&cert, &key))).await;
    assert_eq!(us(&accepted), Refusal::X509V1 { version: 1 });
    alert_of(&client);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let pki = Pki::new("demo", &["a"]);
    let (accepted, client) = raw_peer_against(&pki, pki.endpoint("a"), None).await;
    assert_eq!(us(&accepted), Refusal::NoClientCertificate);
    assert!(
        alert_of(&client).contains("CertificateRequired"),
        "{client:?}"
    );
}

#[tokio::test]
async fn dialing_a_node_that_proves_another_identity_is_refused() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    // a dials b's address believing it is c.
    let (dialed, accepted) = handshake(&pki.endpoint("a"), &pki.endpoint("b"), "c").await;
    let want = Refusal::CnMismatch {
        claimed: "c".into(),
        proven: "b".into(),
    };
    assert_eq!(us(&dialed), want);
    assert_eq!(peer(&accepted), want);
}

/// Connects to `addr` as a plain TLS client holding `b`'s certificate, sends `hello`, and
/// returns everything the acceptor answers before it closes.
async fn b_says(pki: &Pki, addr: std::net::SocketAddr, hello: &[u8]) -> Vec<u8> {
    let config = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("b.pem"), &pki.path("b.key"))),
    );
    bounded(async {
        let mut tls = raw_connect(config, addr, "a").await.unwrap();
        tls.write_all(hello).await.unwrap();
        let mut reply = Vec::new();
        let _ = tls.read_to_end(&mut reply).await;
        reply
    })
    .await
}

/// The hole in the reference design: a peer with a valid certificate for `b` whose hello
/// claims `c`. Refused, and the impostor is told why in a REFUSE frame.
#[tokio::test]
async fn a_valid_certificate_for_b_claiming_to_be_c_is_refused() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let reply = b_says(&pki, addr, &hello_frame(1, 42, "demo", "c")).await;
    let accepted = bounded(results.recv()).await.unwrap();
    assert_eq!(
        us(&accepted),
        Refusal::CnMismatch {
            claimed: "c".into(),
            proven: "b".into()
        }
    );
    // REFUSE: length, kind 0x02, code 9 (CN mismatch), 2 fields: "c", "b".
    assert_eq!(
        reply,
        [0, 0, 0, 0x0a, 0x02, 0, 9, 2, 0, 1, b'c', 0, 1, b'b'],
        "REFUSE frame as docs/PROTOCOL.md describes"
    );
}

#[tokio::test]
async fn a_node_outside_the_member_list_is_refused() {
    let pki = Pki::new("demo", &["a", "b", "z"]);
    let a = TlsEndpoint::new(pki.config("a").with_members([node("a"), node("b")])).unwrap();
    let (dialed, accepted) = handshake(&pki.endpoint("z"), &a, "a").await;
    let want = Refusal::UnknownNode { node: "z".into() };
    assert_eq!(us(&accepted), want);
    assert_eq!(peer(&dialed), want);
    // And a does not dial out to non-members either.
    let (dialed, accepted) = handshake(&a, &pki.endpoint("z"), "z").await;
    assert_eq!(us(&dialed), want);
    assert_eq!(peer(&accepted), want);
    // Members still get in.
    let (dialed, accepted) = handshake(&pki.endpoint("b"), &a, "a").await;
    assert!(dialed.is_ok() && accepted.is_ok());
}

#[tokio::test]
async fn a_node_of_another_cluster_name_is_refused() {
    let pki = Pki::new("demo", &["a", "b"]);
    let mut cfg = pki.config("b");
    cfg.cluster = "staging".into();
    let b = TlsEndpoint::new(cfg).unwrap();
    let (dialed, accepted) = handshake(&b, &pki.endpoint("a"), "a").await;
    let want = Refusal::WrongCluster {
        expected: "demo".into(),
        got: "staging".into(),
    };
    assert_eq!(us(&accepted), want);
    assert_eq!(peer(&dialed), want);
}

#[tokio::test]
async fn an_unsupported_protocol_version_is_refused() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let reply = b_says(&pki, addr, &hello_frame(7, 42, "demo", "b")).await;
    let want = Refusal::UnsupportedVersion { ours: 1, theirs: 7 };
    assert_eq!(us(&bounded(results.recv()).await.unwrap()), want);
    assert_eq!(
        &reply[4..8],
        &[0x02, 0, 12, 2],
        "REFUSE code 12 with two fields"
    );
}
