//! Happy paths: either side dials, the post-quantum group is negotiated, certificates made
//! by openssl are accepted, pinning, and the checks a node makes of its own material.

use reign::tls::{NamedGroup, Refusal, Role, TlsEndpoint, TlsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Pki, bounded, handshake, node, openssl, openssl_csr, trace};

#[tokio::test]
async fn either_side_dials_and_both_learn_the_proven_identity() {
    trace();
    let pki = Pki::new("demo", &["a", "b"]);
    let (a, b) = (pki.endpoint("a"), pki.endpoint("b"));
    for (dialer, acceptor, d, acc) in [(&a, &b, "a", "b"), (&b, &a, "b", "a")] {
        let (dialed, accepted) = handshake(dialer, acceptor, acc).await;
        let mut dialed = dialed.expect("dial");
        let mut accepted = accepted.expect("accept");
        assert_eq!(dialed.peer().node_id, node(acc));
        assert_eq!(dialed.peer().role, Role::Dialer);
        assert_eq!(accepted.peer().node_id, node(d));
        assert_eq!(accepted.peer().role, Role::Acceptor);
        assert_eq!(dialed.peer().incarnation, acceptor.incarnation());
        assert_eq!(accepted.peer().incarnation, dialer.incarnation());
        assert_eq!(accepted.peer().certificate.common_name.as_deref(), Some(d));
        assert_eq!(accepted.peer().certificate.sha256_fingerprint.len(), 64);
        // Application bytes flow both ways after the handshake.
        bounded(async {
            dialed.write_all(b"ping").await.unwrap();
            dialed.flush().await.unwrap();
            let mut buf = [0u8; 4];
            accepted.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            accepted.write_all(b"pong").await.unwrap();
            accepted.flush().await.unwrap();
            dialed.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"pong");
        })
        .await;
    }
}

#[tokio::test]
async fn two_reign_nodes_negotiate_x25519mlkem768_over_tls13() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (dialed, accepted) = handshake(&pki.endpoint("a"), &pki.endpoint("b"), "b").await;
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
    assert_eq!(
        dialed.peer().key_exchange_group,
        Some(NamedGroup::X25519MLKEM768)
    );
    assert_eq!(
        accepted.peer().key_exchange_group,
        Some(NamedGroup::X25519MLKEM768)
    );
    let (tls, _) = dialed.into_parts();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
}

#[tokio::test]
async fn numeric_node_ids_work() {
    let pki = Pki::new("numbers", &["1", "2"]);
    let (d, a) = handshake(&pki.endpoint("1"), &pki.endpoint("2"), "2").await;
    assert_eq!(d.unwrap().peer().node_id, node("2"));
    assert_eq!(a.unwrap().peer().node_id, node("1"));
}

/// Certificates made by the openssl CLI with proper v3 extensions, under a CA made by
/// openssl too, are accepted: reign does not depend on its own tool's quirks.
#[tokio::test]
async fn certificates_made_by_openssl_with_v3_extensions_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("node.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=osslcluster",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        d,
    );
    for id in ["x", "y"] {
        openssl_csr(id, d);
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{id}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "node.ext",
                "-out",
                &format!("{id}.pem"),
            ],
            d,
        );
    }
    let cfg = |id: &str| reign::tls::TlsConfig::from_dir(d, node(id), "osslcluster");
    let x = TlsEndpoint::new(cfg("x")).expect("openssl-made x");
    let y = TlsEndpoint::new(cfg("y")).expect("openssl-made y");
    let (dx, ay) = handshake(&x, &y, "y").await;
    assert_eq!(dx.expect("x dials y").peer().node_id, node("y"));
    assert_eq!(ay.expect("y accepts x").peer().node_id, node("x"));
}

#[tokio::test]
async fn pinning_accepts_pinned_keys_and_refuses_others() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let a_key = pki.endpoint("a").own_certificate().spki_sha256;
    let b = TlsEndpoint::new(pki.config("b").with_pins([a_key.to_uppercase()])).unwrap();
    let (d, acc) = handshake(&pki.endpoint("a"), &b, "b").await;
    assert!(d.is_ok() && acc.is_ok());

    let (d, acc) = handshake(&pki.endpoint("c"), &b, "b").await;
    let c_key = pki.endpoint("c").own_certificate().spki_sha256;
    let want = Refusal::NotPinned { spki_sha256: c_key };
    assert_eq!(acc.unwrap_err().refusal().unwrap().1, &want);
    assert_eq!(d.unwrap_err().refusal().unwrap().1, &want);
}

#[test]
fn a_node_refuses_to_start_with_material_that_is_not_its_own() {
    let pki = Pki::new("demo", &["a", "b"]);
    // CN is b, node is a.
    let mut cfg = pki.config("a");
    cfg.cert = pki.path("b.pem").into();
    cfg.key = pki.path("b.key").into();
    match TlsEndpoint::new(cfg) {
        Err(TlsError::OwnCnMismatch { cn, node_id, .. }) => {
            assert_eq!(cn, "b");
            assert_eq!(node_id, node("a"));
        }
        other => panic!("expected OwnCnMismatch, got {other:?}"),
    }
    // Key of b with certificate of a.
    let mut cfg = pki.config("a");
    cfg.key = pki.path("b.key").into();
    assert!(matches!(
        TlsEndpoint::new(cfg),
        Err(TlsError::KeyMismatch { .. })
    ));
    // A certificate that does not chain to the bundle.
    let other = Pki::new("other", &["a"]);
    let mut cfg = pki.config("a");
    cfg.ca = other.path("ca.pem").into();
    assert!(matches!(
        TlsEndpoint::new(cfg),
        Err(TlsError::OwnCertificate {
            reason: Refusal::UnknownCa,
            ..
        })
    ));
    // Missing file, garbage file: typed errors naming the file.
    let mut cfg = pki.config("a");
    cfg.cert = pki.path("missing.pem").into();
    let e = TlsEndpoint::new(cfg).unwrap_err();
    assert!(
        matches!(e, TlsError::Read { .. }) && e.to_string().contains("missing.pem"),
        "{e}"
    );
    std::fs::write(pki.path("garbage.pem"), "not pem at all").unwrap();
    let mut cfg = pki.config("a");
    cfg.ca = pki.path("garbage.pem").into();
    let e = TlsEndpoint::new(cfg).unwrap_err();
    assert!(
        matches!(e, TlsError::Pem { .. }) && e.to_string().contains("garbage.pem"),
        "{e}"
    );
}

/// Material given from memory instead of files works the same.
#[tokio::test]
async fn material_from_memory_works_like_files() {
    use reign::tls::{PemSource, TlsConfig};
    let pki = Pki::new("demo", &["a", "b"]);
    let read = |f: &str| PemSource::Memory(std::fs::read(pki.path(f)).unwrap());
    let a = TlsEndpoint::new(TlsConfig::new(
        node("a"),
        "demo",
        read("ca.pem"),
        read("a.pem"),
        read("a.key"),
    ))
    .unwrap();
    let (d, acc) = handshake(&a, &pki.endpoint("b"), "b").await;
    assert_eq!(d.unwrap().peer().node_id, node("b"));
    assert_eq!(acc.unwrap().peer().node_id, node("a"));
    // Errors name the source without printing the key.
    let e = TlsEndpoint::new(TlsConfig::new(
        node("a"),
        "demo",
        read("ca.pem"),
        read("a.pem"),
        PemSource::Memory(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
    ))
    .unwrap_err();
    assert!(e.to_string().contains("(in memory)"), "{e}");
}
