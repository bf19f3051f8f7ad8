//! A hostile member: a peer with a valid certificate that completes the handshake and then
//! sends bytes that are not the link protocol. The link is closed with the reason; the node
//! survives and keeps serving others. And a node that cannot start says why.

use crate::mesh::Mesh;
use crate::raw_member::RawMember;
use crate::support::{Pki, WAIT, bounded, node};
use reign::{LinkDownReason, Node, NodeConfig, NodeEvent, ProtocolViolation, StartError, TlsFiles};

/// Starts node `b` alone (member `a`, never dialed: `a` is lower) and returns it.
async fn lone_b(pki: &Pki) -> Node {
    let tls = TlsFiles {
        ca: pki.path("ca.pem"),
        cert: pki.path("b.pem"),
        key: pki.path("b.key"),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    };
    let config = NodeConfig::new(node("b"), "demo", "127.0.0.1:0".parse().unwrap(), tls)
        .with_member(node("a"), "127.0.0.1:1");
    bounded(Node::start(config)).await.expect("b starts")
}

#[tokio::test]
async fn garbage_after_the_handshake_closes_only_that_link() {
    let pki = Pki::new("demo", &["a", "b"]);
    let b = lone_b(&pki).await;
    let mut events = b.cluster().events();
    let addr = b.cluster().local_addr().unwrap();
    for (name, garbage) in [
        ("oversized length", vec![0xff, 0xff, 0xff, 0xff, 0x10]),
        ("empty frame", vec![0, 0, 0, 0]),
        ("unknown kind", vec![0, 0, 0, 1, 0xee]),
        ("truncated MONITOR", vec![0, 0, 0, 3, 0x20, 0, 0]),
    ] {
        let mut wire = RawMember::join(&pki, "a", "b", addr, &mut events).await;
        // A repeated SYNCED does not report the node up again; then the garbage.
        bounded(wire.write(&[0, 0, 0, 1, 0x5f])).await.unwrap();
        bounded(wire.write(&garbage)).await.unwrap();
        let down = crate::mesh::next_event(&mut events, |e| {
            assert!(
                !matches!(e, NodeEvent::Up { .. }),
                "{name}: a second Up after a repeated SYNCED"
            );
            matches!(e, NodeEvent::Down { node: n, .. } if *n == node("a"))
        })
        .await;
        match down {
            NodeEvent::Down {
                reason: LinkDownReason::ProtocolError(why),
                ..
            } => assert!(
                matches!(why, ProtocolViolation::Undecodable(_)),
                "{name}: {why}"
            ),
            other => panic!("{name}: expected a protocol error, got {other}"),
        }
        // b closed the connection.
        wire.closed().await;
    }
    // b still serves a well-behaved peer.
    let a_files = TlsFiles {
        ca: pki.path("ca.pem"),
        cert: pki.path("a.pem"),
        key: pki.path("a.key"),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    };
    let a = bounded(Node::start(
        NodeConfig::new(node("a"), "demo", "127.0.0.1:0".parse().unwrap(), a_files)
            .with_member(node("b"), addr.to_string()),
    ))
    .await
    .unwrap();
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

#[tokio::test]
async fn a_node_that_cannot_start_says_why() {
    let mesh = Mesh::start(&["a", "b"]).await;
    // The listen address is taken.
    let mut config = mesh.config("a");
    config.listen = mesh.addrs["b"];
    match Node::start(config).await {
        Err(e @ StartError::Bind { .. }) => {
            assert!(e.to_string().contains(&mesh.addrs["b"].to_string()), "{e}")
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    // Someone else's certificate.
    let mut config = mesh.config("a");
    config.tls.cert = mesh.pki.path("b.pem");
    config.tls.key = mesh.pki.path("b.key");
    assert!(matches!(Node::start(config).await, Err(StartError::Tls(_))));
    // An invalid configuration, named by field.
    let mut config = mesh.config("a");
    config.tunables.heartbeat_interval = std::time::Duration::ZERO;
    match Node::start(config).await {
        Err(StartError::Config(e)) => assert!(e.to_string().contains("heartbeat"), "{e}"),
        other => panic!("expected a config error, got {other:?}"),
    }
    mesh.shutdown().await;
}
