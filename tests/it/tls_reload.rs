//! Reload: revocation takes effect for new handshakes while existing links keep working; a
//! CA rotation without a single refused handshake; a failed reload keeps the old material.

use reign::tls::{Refusal, RefusedBy, TlsEndpoint};
use reign_certgen::{InitOptions, IssueOptions, RevocationReason, RevokeTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Pki, bounded, handshake, write};

async fn exchange(
    a: &mut reign::tls::AuthenticatedStream,
    b: &mut reign::tls::AuthenticatedStream,
) {
    bounded(async {
        a.write_all(b"still up").await.unwrap();
        a.flush().await.unwrap();
        let mut buf = [0u8; 8];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still up");
    })
    .await;
}

#[tokio::test]
async fn revoking_a_node_and_reloading_refuses_its_next_connection_only() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let (a, b, c) = (pki.endpoint("a"), pki.endpoint("b"), pki.endpoint("c"));
    assert!(a.config().crl.is_none());
    let (ab_d, ab_a) = handshake(&b, &a, "a").await;
    let (mut ab_d, mut ab_a) = (ab_d.unwrap(), ab_a.unwrap());
    let (ca_d, ca_a) = handshake(&c, &a, "a").await;
    let (mut ca_d, mut ca_a) = (ca_d.unwrap(), ca_a.unwrap());

    reign_certgen::revoke(
        pki.dir.path(),
        RevokeTarget::Node("b".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    // The endpoint was configured before crl.pem existed; point it at the CRL and reload.
    let a = TlsEndpoint::new(pki.config("a")).unwrap_or(a);
    a.reload().unwrap();

    let (dialed, accepted) = handshake(&b, &a, "a").await;
    assert_eq!(
        accepted.unwrap_err().refusal().unwrap(),
        (RefusedBy::Us, &Refusal::Revoked)
    );
    assert_eq!(
        dialed.unwrap_err().refusal().unwrap(),
        (RefusedBy::Peer, &Refusal::Revoked)
    );
    // Existing links, including b's, stay up (revocation applies to handshakes); c still connects.
    exchange(&mut ca_d, &mut ca_a).await;
    exchange(&mut ab_d, &mut ab_a).await;
    let (d, acc) = handshake(&c, &a, "a").await;
    assert!(d.is_ok() && acc.is_ok());
}

#[tokio::test]
async fn reload_picks_up_a_new_crl_file_in_place() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    // Publish an initial CRL (revoking c) so that a's configuration names crl.pem.
    reign_certgen::revoke(
        pki.dir.path(),
        RevokeTarget::Node("c".into()),
        RevocationReason::Superseded,
    )
    .unwrap();
    let a = pki.endpoint("a");
    let b = pki.endpoint("b");
    let (d, acc) = handshake(&b, &a, "a").await;
    assert!(d.is_ok() && acc.is_ok());
    reign_certgen::revoke(
        pki.dir.path(),
        RevokeTarget::Node("b".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    // Before the reload, the old CRL is still in force.
    let (d, acc) = handshake(&b, &a, "a").await;
    assert!(d.is_ok() && acc.is_ok());
    a.reload().unwrap();
    let (_, acc) = handshake(&b, &a, "a").await;
    assert_eq!(acc.unwrap_err().refusal().unwrap().1, &Refusal::Revoked);
}

#[tokio::test]
async fn a_failed_reload_keeps_the_old_material() {
    let pki = Pki::new("demo", &["a", "b"]);
    let a = pki.endpoint("a");
    let good_cert = std::fs::read_to_string(pki.path("a.pem")).unwrap();
    let serial = a.own_certificate().serial_hex;
    // Half-written certificate file.
    write(&pki.path("a.pem"), &good_cert[..good_cert.len() / 2]);
    assert!(a.reload().is_err());
    // A key that does not match.
    write(&pki.path("a.pem"), &good_cert);
    std::fs::copy(pki.path("b.key"), pki.path("a.key")).unwrap();
    let e = a.reload().unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    assert_eq!(a.own_certificate().serial_hex, serial);
    let (d, acc) = handshake(&pki.endpoint("b"), &a, "a").await;
    assert!(d.is_ok() && acc.is_ok(), "old material still serves");
}

/// CA rotation: bundle old+new everywhere, reissue every node under the new CA, drop the
/// old CA. Every handshake between members along the way succeeds.
#[tokio::test]
async fn rotating_the_ca_never_refuses_a_member() {
    let ids = ["a", "b", "c"];
    let pki = Pki::new("demo", &ids);
    let newca = tempfile::tempdir().unwrap();
    reign_certgen::init(
        newca.path(),
        &InitOptions {
            cluster_name: "demo".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    let old_pem = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    let new_pem = std::fs::read_to_string(newca.path().join("ca.pem")).unwrap();

    // Each node reads its own copy of the bundle, so nodes can move at different times.
    let node_dir = |id: &str| pki.path(&format!("node-{id}"));
    let mut endpoints = Vec::new();
    for id in ids {
        std::fs::create_dir_all(node_dir(id)).unwrap();
        for f in [
            "ca.pem".to_string(),
            format!("{id}.pem"),
            format!("{id}.key"),
        ] {
            std::fs::copy(pki.path(&f), node_dir(id).join(&f)).unwrap();
        }
        endpoints.push(
            TlsEndpoint::new(reign::tls::TlsConfig::from_dir(
                node_dir(id),
                id.parse().unwrap(),
                "demo",
            ))
            .unwrap(),
        );
    }
    let all_pairs = |eps: Vec<TlsEndpoint>| async move {
        for (i, d) in eps.iter().enumerate() {
            for (j, acc) in eps.iter().enumerate() {
                if i != j {
                    let (x, y) = handshake(d, acc, ids[j]).await;
                    assert!(
                        x.is_ok() && y.is_ok(),
                        "{} -> {}: {x:?} / {y:?}",
                        ids[i],
                        ids[j]
                    );
                }
            }
        }
    };
    all_pairs(endpoints.clone()).await;
    // Step 1: bundle old + new, one node at a time.
    for (i, id) in ids.iter().enumerate() {
        write(&node_dir(id).join("ca.pem"), &format!("{old_pem}{new_pem}"));
        endpoints[i].reload().unwrap();
        all_pairs(endpoints.clone()).await;
    }
    // Step 2: reissue each node under the new CA, one at a time.
    for (i, id) in ids.iter().enumerate() {
        reign_certgen::issue(
            newca.path(),
            &[id],
            &IssueOptions {
                out: Some(node_dir(id)),
                force: true,
                ..IssueOptions::default()
            },
        )
        .unwrap();
        endpoints[i].reload().unwrap();
        all_pairs(endpoints.clone()).await;
    }
    // Step 3: drop the old CA, one node at a time.
    for (i, id) in ids.iter().enumerate() {
        write(&node_dir(id).join("ca.pem"), &new_pem);
        endpoints[i].reload().unwrap();
        all_pairs(endpoints.clone()).await;
    }
    // A certificate from the old CA is now refused.
    let (_, acc) = handshake(&pki.endpoint("a"), &endpoints[1], "b").await;
    assert_eq!(acc.unwrap_err().refusal().unwrap().1, &Refusal::UnknownCa);
}

/// Two different CAs with one name in a bundle, with a CRL configured, are refused with the
/// reason (a CRL names its CA by subject, so one CA's CRL would be applied to the other's
/// certificates); without a CRL, or with the same CA twice, the bundle loads.
#[test]
fn a_bundle_with_two_cas_of_one_name_and_a_crl_is_refused() {
    let old = Pki::new("demo", &["a"]);
    let new = Pki::new("demo", &["a"]);
    reign_certgen::refresh_crl(old.dir.path(), 30).unwrap();
    let bundle = old.path("bundle.pem");
    let old_ca = std::fs::read_to_string(old.path("ca.pem")).unwrap();
    let new_ca = std::fs::read_to_string(new.path("ca.pem")).unwrap();
    write(&bundle, &format!("{old_ca}{new_ca}"));
    let config = |ca: &std::path::Path| {
        reign::tls::TlsConfig::new(
            crate::support::node("a"),
            "demo",
            ca.to_path_buf(),
            old.path("a.pem"),
            old.path("a.key"),
        )
    };
    let err = TlsEndpoint::new(config(&bundle).with_crl(old.path("crl.pem"))).unwrap_err();
    assert!(
        matches!(&err, reign::tls::TlsError::SameNamedCas { subject, .. } if subject == "CN=demo"),
        "{err}"
    );
    assert!(
        err.to_string().contains("give the new CA its own name"),
        "{err}"
    );
    // Without a CRL there is nothing to confuse.
    TlsEndpoint::new(config(&bundle)).expect("no CRL: loads");
    // The same CA twice is one CA.
    write(&bundle, &format!("{old_ca}{old_ca}"));
    TlsEndpoint::new(config(&bundle).with_crl(old.path("crl.pem"))).expect("same CA twice: loads");
}

/// TLS paths that are not regular files are refused before anything is read: a FIFO nobody
/// writes (which would block the reading thread for good) and a device (`/dev/zero`, which
/// would feed it forever); a regular file past the size limit is refused too. Each refusal
/// names the file, and a reload keeps the old material.
#[test]
fn a_tls_path_that_is_a_pipe_a_device_or_huge_is_refused_at_once() {
    use reign::tls::{MAX_MATERIAL_FILE, MaterialKind, TlsError};
    let pki = Pki::new("demo", &["a"]);
    reign_certgen::refresh_crl(pki.dir.path(), 30).unwrap();
    let fifo = pki.path("fifo.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let huge = pki.path("huge.pem");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(MAX_MATERIAL_FILE + 1)
        .unwrap();
    let try_crl = |crl: std::path::PathBuf| {
        // On its own thread, bounded: a read that blocks fails the test instead of hanging it.
        let config = pki.config("a").with_crl(crl);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(TlsEndpoint::new(config).map(|_| ()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("loading did not block")
    };
    for path in [fifo.clone(), "/dev/zero".into()] {
        let err = try_crl(path.clone()).unwrap_err();
        assert!(
            matches!(&err, TlsError::NotAFile { kind: MaterialKind::Crl, path: p } if *p == path),
            "{err}"
        );
    }
    let err = try_crl(huge.clone()).unwrap_err();
    assert!(matches!(&err, TlsError::FileTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("huge.pem"), "{err}");
    // A reload that meets the pipe keeps the old material.
    let a = TlsEndpoint::new(pki.config("a").with_crl(pki.path("crl.pem"))).unwrap();
    std::fs::remove_file(pki.path("crl.pem")).unwrap();
    std::os::unix::fs::symlink(&fifo, pki.path("crl.pem")).unwrap();
    assert!(matches!(a.reload(), Err(TlsError::NotAFile { .. })));
}

/// A certificate that is not a CA's in the bundle (a node's own, pasted in by mistake) is
/// refused: trusted as an anchor, its holder could vouch for any node ID.
#[test]
fn a_node_certificate_in_the_ca_bundle_is_refused() {
    let pki = Pki::new("demo", &["a", "b"]);
    let bundle = pki.path("bundle.pem");
    let ca = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    let leaf = std::fs::read_to_string(pki.path("b.pem")).unwrap();
    write(&bundle, &format!("{ca}{leaf}"));
    let config = reign::tls::TlsConfig::new(
        crate::support::node("a"),
        "demo",
        bundle,
        pki.path("a.pem"),
        pki.path("a.key"),
    );
    let err = TlsEndpoint::new(config).unwrap_err();
    assert!(
        matches!(&err, reign::tls::TlsError::NotACa { subject, .. } if subject == "CN=b"),
        "{err}"
    );
}

/// webpki counts a certificate valid through the whole second of its notAfter; reign does
/// not (a link ends at that instant, and a handshake later in that second would make a link
/// that ends at once, again and again).
#[test]
fn a_certificate_is_expired_from_the_first_instant_of_its_not_after_second() {
    use reign::tls::{CertificateError, PeerCertificateVerifier};
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let pki = Pki::new("demo", &["a"]);
    let ca = CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap();
    let leaf = CertificateDer::from_pem_file(pki.path("a.pem")).unwrap();
    let verifier = PeerCertificateVerifier::new(&[ca], &[]).unwrap();
    let not_after = pki.endpoint("a").own_certificate().not_after;
    let second = std::time::Duration::from_secs(1);
    assert!(verifier.verify(&leaf, &[], not_after - second).is_ok());
    for at in [not_after, not_after + std::time::Duration::from_millis(999)] {
        assert!(
            matches!(
                verifier.verify(&leaf, &[], at),
                Err(CertificateError::Expired { .. })
            ),
            "at the notAfter second"
        );
    }
}

/// A reload bringing a *new* certificate of the node's own that is expired or not yet valid
/// is refused (a mistake in what was installed), and the one in use stays.
#[test]
fn a_reload_with_a_new_own_certificate_out_of_its_validity_is_refused() {
    let pki = Pki::new("demo", &["a"]);
    let a = pki.endpoint("a");
    let serial = a.own_certificate().serial_hex;
    let now = time::OffsetDateTime::now_utc();
    for (from, to) in [(-10, -1), (1, 10)] {
        let mut params = reign_certgen::NodeCertParams::new("a");
        params.not_before = Some(now + time::Duration::days(from));
        params.not_after = Some(now + time::Duration::days(to));
        pki.issue_custom(&params);
        let err = a.reload().unwrap_err();
        assert!(
            matches!(err, reign::tls::TlsError::OwnCertificate { .. }),
            "{err}"
        );
        assert_eq!(a.own_certificate().serial_hex, serial, "the old one stays");
    }
}

/// A CRL signed by another CA that has the bundle CA's name is reported against the CRL
/// file, not against the node's own certificate.
#[test]
fn a_crl_of_a_same_named_ca_is_reported_against_the_crl_file() {
    let pki = Pki::new("demo", &["a"]);
    let other = Pki::new("demo", &[]);
    reign_certgen::refresh_crl(other.dir.path(), 30).unwrap();
    let err = TlsEndpoint::new(pki.config("a").with_crl(other.path("crl.pem"))).unwrap_err();
    assert!(
        matches!(
            &err,
            reign::tls::TlsError::Pem {
                kind: reign::tls::MaterialKind::Crl,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("crl.pem"), "{err}");
}

/// A PEM file cut short is refused with the marker it lacks, as text.
#[test]
fn a_truncated_pem_is_refused_with_the_missing_marker_as_text() {
    let pki = Pki::new("demo", &["a"]);
    let pem = std::fs::read_to_string(pki.path("a.pem")).unwrap();
    write(&pki.path("a.pem"), &pem[..pem.len() / 2]);
    let err = TlsEndpoint::new(pki.config("a")).unwrap_err().to_string();
    assert!(
        err.contains("invalid PEM: a section has no end line (expected CERTIFICATE)"),
        "{err}"
    );
}
