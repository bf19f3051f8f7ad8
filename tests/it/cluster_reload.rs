//! TLS material reloaded on a running node: every live link is checked again, a revoked
//! peer's link ends at once with the reason, the others stay and lose nothing.

use reign::{CertificateVerdict, LinkDownReason, NodeEvent, Refusal, RefusedBy};
use reign_certgen::{RevocationReason, RevokeTarget};

use crate::mesh::{Mesh, next_down, next_event};
use crate::support::{WAIT, bounded, node};

#[tokio::test]
async fn a_reload_ends_the_link_of_a_peer_revoked_since_and_keeps_the_others() {
    let mesh = Mesh::start_with_crl(&["a", "b", "c"]).await;
    let (a, b, c) = (mesh.node("a"), mesh.node("b"), mesh.node("c"));
    let mut a_events = a.cluster().events();
    let mut b_events = b.cluster().events();
    // A stream b -> c that must not lose a message across the reload.
    let (mut inbox, at_c) = c.mailbox::<u64>();
    c.names().register("sink", &at_c).unwrap();
    let to_c = bounded(b.cluster().whereis_on::<u64>(&node("c"), "sink", WAIT))
        .await
        .unwrap();
    for i in 0..100 {
        to_c.try_send(i).unwrap();
    }

    reign_certgen::revoke(
        mesh.pki.dir.path(),
        RevokeTarget::Node("a".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    let report = b.reload_tls().expect("the material loads");
    assert_eq!(report.kept, vec![node("c")]);
    assert_eq!(report.ended, vec![(node("a"), Refusal::Revoked)]);
    assert_eq!(
        next_down(&mut b_events, &node("a")).await,
        LinkDownReason::CertificateRefused(Refusal::Revoked)
    );
    // a is told why: b's GOODBYE says its certificate is revoked.
    assert_eq!(
        next_down(&mut a_events, &node("b")).await,
        LinkDownReason::RefusedByPeer(CertificateVerdict::Revoked)
    );
    // a redials b and is refused as revoked.
    let refused = next_event(
        &mut a_events,
        |e| matches!(e, NodeEvent::Refused { node: Some(n), .. } if *n == node("b")),
    )
    .await;
    assert!(
        matches!(
            refused,
            NodeEvent::Refused {
                by: RefusedBy::Peer,
                reason: Refusal::Revoked,
                ..
            }
        ),
        "{refused:?}"
    );
    // b–c never dropped and lost nothing.
    for i in 100..200 {
        to_c.try_send(i).unwrap();
    }
    for i in 0..200 {
        assert_eq!(inbox.recv_timeout(WAIT).await, Some(i));
    }
    assert!(b.cluster().connected().iter().any(|(n, _)| *n == node("c")));
    while let Ok(Some(e)) = b_events.try_recv() {
        assert!(
            !matches!(&e, NodeEvent::Down { node: n, .. } if *n == node("c")),
            "{e:?}"
        );
    }
    mesh.shutdown().await;
}

#[tokio::test]
async fn a_reload_that_cannot_load_keeps_everything() {
    let mesh = Mesh::start_with_crl(&["a", "b"]).await;
    let b = mesh.node("b");
    std::fs::write(mesh.pki.path("crl.pem"), "not a CRL").unwrap();
    assert!(matches!(b.reload_tls(), Err(reign::ReloadError::Tls(_))));
    assert_eq!(b.cluster().connected().len(), 1);
    assert!(matches!(
        reign::Node::new(node("x")).reload_tls(),
        Err(reign::ReloadError::NotStarted)
    ));
    mesh.shutdown().await;
}

/// A node whose own certificate is in the last third of its lifetime says so: a
/// `CertificateExpiring` event naming it, repeated at each check while it lasts.
#[tokio::test]
async fn a_certificate_near_its_end_is_reported_at_each_check() {
    use std::time::Duration;
    let mut tunables = crate::mesh::fast_tunables();
    tunables.certificate_check_interval = Duration::from_secs(1);
    let mesh = Mesh::unstarted(&["a"], tunables, false);
    // 25 days of life, 5 left: inside the default window (a third of the lifetime, 8 days).
    let now = time::OffsetDateTime::now_utc();
    let mut params = reign_certgen::NodeCertParams::new("a");
    params.not_before = Some(now - time::Duration::days(20));
    params.not_after = Some(now + time::Duration::days(5));
    mesh.pki.issue_custom(&params);
    let a = reign::Node::start(mesh.config("a")).await.expect("start");
    let mut events = a.cluster().events();
    for _ in 0..2 {
        let event = next_event(&mut events, |e| {
            matches!(e, NodeEvent::CertificateExpiring(_))
        })
        .await;
        let NodeEvent::CertificateExpiring(e) = &event else {
            unreachable!()
        };
        assert_eq!(e.whose, reign::tls::Whose::Own, "{event}");
        assert_eq!(e.certificate.common_name.as_deref(), Some("a"));
        let days = e.left.as_secs_f64() / 86_400.0;
        assert!((4.9..=5.0).contains(&days), "{days} days left: {event}");
        assert!(
            event
                .to_string()
                .starts_with("certificate expiring: own certificate CN=a"),
            "{event}"
        );
    }
    a.shutdown().await;
}

/// `[tls] watch = true`: the node reloads by itself when its files change, here as a
/// Kubernetes secret volume changes them (every file a symlink through `..data`, which is
/// swapped atomically to a new folder). b's new CRL revokes a: the a–b link ends with the
/// reason on both sides, without anyone calling `reload_tls`.
#[tokio::test]
async fn a_watched_volume_swapped_like_a_kubernetes_secret_is_reloaded() {
    use std::os::unix::fs::symlink;
    let mut mesh = Mesh::unstarted(&["a", "b"], crate::mesh::fast_tunables(), true);
    let pki = mesh.pki.dir.path().to_path_buf();
    // b's volume: ..v1 holds copies, ..data -> ..v1, and each file -> ..data/<file>.
    let volume = tempfile::tempdir().expect("temp dir");
    let vol = volume.path();
    let files = ["ca.pem", "b.pem", "b.key", "crl.pem"];
    let fill = |version: &str| {
        std::fs::create_dir(vol.join(version)).unwrap();
        for f in files {
            std::fs::copy(pki.join(f), vol.join(version).join(f)).unwrap();
        }
    };
    fill("..v1");
    symlink("..v1", vol.join("..data")).unwrap();
    for f in files {
        symlink(format!("..data/{f}"), vol.join(f)).unwrap();
    }
    let mut config = mesh.config("b");
    config.tls.ca = vol.join("ca.pem");
    config.tls.cert = vol.join("b.pem");
    config.tls.key = vol.join("b.key");
    config.tls.crl = Some(vol.join("crl.pem"));
    config.tls.watch = true;
    let b = bounded(reign::Node::start(config)).await.expect("b starts");
    mesh.addrs
        .insert("b".into(), b.cluster().local_addr().unwrap());
    let a = mesh.launch("a").await;
    let mut a_events = a.cluster().events();
    let mut b_events = b.cluster().events();
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();

    reign_certgen::revoke(
        &pki,
        RevokeTarget::Node("a".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    fill("..v2");
    symlink("..v2", vol.join("..data_tmp")).unwrap();
    std::fs::rename(vol.join("..data_tmp"), vol.join("..data")).unwrap();

    assert_eq!(
        next_down(&mut b_events, &node("a")).await,
        LinkDownReason::CertificateRefused(Refusal::Revoked)
    );
    assert_eq!(
        next_down(&mut a_events, &node("b")).await,
        LinkDownReason::RefusedByPeer(CertificateVerdict::Revoked)
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// `tls_status` shows the node's own certificate and, per live link, the peer's certificate
/// (with its key and signature algorithms), the negotiated key exchange and what the link
/// carried.
#[tokio::test]
async fn tls_status_shows_each_links_certificate_session_and_traffic() {
    use reign_certgen::{KeyType, NodeCertParams};
    let mut mesh = Mesh::unstarted(&["a", "b", "c"], crate::mesh::fast_tunables(), false);
    for (id, key_type) in [("b", KeyType::P384), ("c", KeyType::Ed25519)] {
        let mut params = NodeCertParams::new(id);
        params.key_type = key_type;
        mesh.pki.issue_custom(&params);
    }
    for id in ["c", "b", "a"] {
        mesh.launch(id).await;
    }
    let (a, b) = (mesh.node("a").clone(), mesh.node("b").clone());
    for peer in ["b", "c"] {
        bounded(a.cluster().wait_for(&node(peer), WAIT))
            .await
            .unwrap();
    }
    let (mut inbox, at_b) = b.mailbox::<u64>();
    b.names().register("sink", &at_b).unwrap();
    let to_b = bounded(a.cluster().whereis_on::<u64>(&node("b"), "sink", WAIT))
        .await
        .unwrap();
    for i in 0..10 {
        to_b.try_send(i).unwrap();
    }
    for _ in 0..10 {
        bounded(inbox.recv()).await;
    }

    let status = a.tls_status().expect("a is started");
    assert_eq!(status.material.own.common_name.as_deref(), Some("a"));
    assert_eq!(status.material.own.key_algorithm, "ECDSA P-256");
    assert_eq!(status.material.ca_certificates, 1);
    let links: Vec<_> = status.links.iter().map(|l| l.node.to_string()).collect();
    assert_eq!(links, ["b", "c"]);
    let (lb, lc) = (&status.links[0], &status.links[1]);
    assert_eq!(lb.certificate.common_name.as_deref(), Some("b"));
    assert_eq!(lb.certificate.key_algorithm, "ECDSA P-384");
    assert_eq!(lc.certificate.key_algorithm, "Ed25519");
    // The CA (P-256 by default) signed both.
    assert_eq!(lb.certificate.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(lb.role, reign::tls::Role::Dialer);
    assert_eq!(
        lb.key_exchange_group,
        Some(reign::tls::NamedGroup::X25519MLKEM768)
    );
    assert!(lb.cipher_suite.is_some());
    assert!(lb.messages_out >= 10, "{lb:?}");
    assert!(lb.bytes_out > 0 && lb.bytes_in > 0, "{lb:?}");
    let text = status.to_string();
    assert!(
        text.contains("link b (incarnation") && text.contains("X25519MLKEM768"),
        "{text}"
    );

    let on_b = b.tls_status().expect("b is started");
    let la = on_b
        .links
        .iter()
        .find(|l| l.node == node("a"))
        .expect("b's link to a");
    assert!(la.messages_in >= 10, "{la:?}");
    assert_eq!(la.role, reign::tls::Role::Acceptor);
    mesh.shutdown().await;
    assert!(a.tls_status().is_none(), "no status after shutdown");
}
