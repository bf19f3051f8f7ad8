//! A CA rotation on a running cluster, the way README.md ("Rotating the CA") tells an
//! operator to do it, under a steady stream of messages: (1) add the new CA to every bundle
//! and reload; (2) renew every node under the new CA with the `reign` tool (`reign renew`,
//! through node a for b and c: each node makes its key, installs the new CA's certificate,
//! reloads and tells its peers on the live links, CERT_UPDATE); (3) drop the old CA and
//! reload.
//! No link drops, no handshake is refused, no message is lost or reordered, and every link
//! ends up checked against a certificate of the new CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reign::{Node, NodeConfig, NodeEvent, TlsFiles};
use reign_certgen::InitOptions;

use crate::mesh::fast_tunables;
use crate::support::{Pki, WAIT, bounded, node};

const IDS: [&str; 3] = ["a", "b", "c"];

/// Each node's files, in a folder of its own (as on separate machines).
fn files(work: &Path, id: &str) -> TlsFiles {
    let dir = work.join(id);
    TlsFiles {
        ca: dir.join("bundle.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    }
}

fn install(work: &Path, id: &str, bundle: &str, cert_dir: &Path) {
    let dir = work.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bundle.pem"), bundle).unwrap();
    std::fs::copy(cert_dir.join(format!("{id}.pem")), dir.join("cert.pem")).unwrap();
    std::fs::copy(cert_dir.join(format!("{id}.key")), dir.join("key.pem")).unwrap();
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_rotation_under_a_stream_drops_no_link_and_loses_nothing() {
    let old = Pki::new("test", &["a", "b", "c", "ops"]);
    let new = tempfile::tempdir().unwrap();
    reign_certgen::init(
        new.path(),
        &InitOptions {
            cluster_name: "test-2027".into(),
            ..InitOptions::default()
        },
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let old_ca = read(old.path("ca.pem"));
    let new_ca = read(new.path().join("ca.pem"));
    for id in IDS {
        install(work.path(), id, &old_ca, old.dir.path());
    }

    // Start c, b, a: each dials the higher IDs, already listening.
    let mut nodes: Vec<(String, Node)> = Vec::new();
    for id in IDS.iter().rev() {
        let mut c = NodeConfig::new(
            node(id),
            "test",
            "127.0.0.1:0".parse().unwrap(),
            files(work.path(), id),
        )
        .with_operator(node("ops"));
        for other in IDS.iter().filter(|o| *o != id) {
            let addr = nodes
                .iter()
                .find(|(n, _)| n == other)
                .map_or("127.0.0.1:1".to_string(), |(_, n)| {
                    n.cluster().local_addr().unwrap().to_string()
                });
            c = c.with_member(node(other), addr);
        }
        c.tunables = fast_tunables();
        nodes.push((
            id.to_string(),
            bounded(Node::start(c)).await.expect("start"),
        ));
    }
    let get = |id: &str| nodes.iter().find(|(n, _)| n == id).unwrap().1.clone();
    let (a, b, c) = (get("a"), get("b"), get("c"));
    for (x, y) in [(&a, "b"), (&a, "c"), (&b, "c")] {
        bounded(x.cluster().wait_for(&node(y), WAIT)).await.unwrap();
    }
    let mut events: Vec<_> = [&a, &b, &c].map(|n| n.cluster().events()).into();

    // The stream a -> c, in order, until told to stop.
    let (mut inbox, at_c) = c.mailbox::<u64>();
    c.names().register("sink", &at_c).unwrap();
    let to_c = bounded(a.cluster().whereis_on::<u64>(&node("c"), "sink", WAIT))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                to_c.send(i).await.expect("the link stays up");
                i += 1;
                if i.is_multiple_of(64) {
                    tokio::task::yield_now().await;
                }
            }
            to_c.send(u64::MAX).await.expect("the link stays up");
            i
        }
    });
    let receiver = tokio::spawn(async move {
        let mut expected = 0u64;
        loop {
            let m = inbox.recv().await;
            if m == u64::MAX {
                return expected;
            }
            assert_eq!(m, expected, "lost or reordered");
            expected += 1;
        }
    });
    let all = [&a, &b, &c];

    // (1) Both CAs in every bundle.
    for (id, n) in IDS.iter().zip(all) {
        std::fs::write(
            work.path().join(id).join("bundle.pem"),
            format!("{old_ca}{new_ca}"),
        )
        .unwrap();
        let r = n.reload_tls().expect("reload");
        assert!(r.ended.is_empty(), "{r}");
        assert_eq!(r.material.ca_certificates, 2, "{r}");
    }
    // (2) Every node renewed under the new CA with `reign renew` through a: each makes its
    // key, installs the certificate and reloads, and its peers are told.
    let via = a.cluster().local_addr().unwrap().to_string();
    let bundle = work.path().join("a").join("bundle.pem");
    for (i, (id, n)) in IDS.iter().zip(all).enumerate() {
        let args: Vec<String> = [
            "renew",
            id,
            "--via",
            &via,
            "--ca-dir",
            &new.path().display().to_string(),
            "--ca",
            &bundle.display().to_string(),
            "--cert",
            &old.path("ops.pem").display().to_string(),
            "--key",
            &old.path("ops.key").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (ok, out, err) = crate::operator::reign_tool(&args).await;
        assert!(ok, "reign renew {id}: {err}");
        assert!(out.starts_with(&format!("renewed {id}")), "{out}");
        assert!(
            n.tls_status()
                .unwrap()
                .material
                .own
                .issuer
                .contains("test-2027")
        );
        // Both peers heard of it on their live links.
        for (j, peer_events) in events.iter_mut().enumerate() {
            if j == i {
                continue;
            }
            let e = crate::mesh::next_event(peer_events, |e| {
                // Whatever is passed over on the way must not be a link's end or a refusal.
                assert!(
                    !matches!(e, NodeEvent::Down { .. } | NodeEvent::Refused { .. }),
                    "{e}"
                );
                matches!(e, NodeEvent::PeerCertificateUpdated { node: p, .. } if p.as_str() == *id)
            })
            .await;
            assert!(e.to_string().contains("issuer CN=test-2027"), "{e}");
        }
    }
    // (3) The old CA leaves every bundle.
    for (id, n) in IDS.iter().zip(all) {
        std::fs::write(work.path().join(id).join("bundle.pem"), &new_ca).unwrap();
        let r = n.reload_tls().expect("reload");
        assert!(
            r.ended.is_empty(),
            "the old CA's departure ended a link: {r}"
        );
        assert_eq!(r.kept.len(), 2, "{r}");
        assert_eq!(r.material.ca_certificates, 1);
    }
    // Every link is now checked against a certificate of the new CA.
    for n in all {
        let status = n.tls_status().unwrap();
        assert!(status.material.own.issuer.contains("test-2027"));
        assert_eq!(status.links.len(), 2);
        for l in &status.links {
            assert!(l.certificate.issuer.contains("test-2027"), "{status}");
        }
    }

    stop.store(true, Ordering::Relaxed);
    let sent = bounded(sender).await.unwrap();
    let received = bounded(receiver).await.unwrap();
    assert_eq!(received, sent, "every message arrived");
    assert!(sent > 0);
    // No link went down and no handshake was refused, anywhere, the whole time.
    for e in &mut events {
        while let Ok(Some(event)) = e.try_recv() {
            assert!(
                !matches!(event, NodeEvent::Down { .. } | NodeEvent::Refused { .. }),
                "{event}"
            );
        }
    }
    for n in all {
        bounded(n.shutdown()).await;
    }
}
