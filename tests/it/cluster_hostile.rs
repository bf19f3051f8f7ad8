//! A hostile member: a peer with a valid certificate that completes the handshake and then
//! sends bytes that are not the link protocol. The link is closed with the reason; the node
//! survives and keeps serving others. And a node that cannot start says why.

use reign::{LinkDownReason, Node, NodeConfig, NodeEvent, ProtocolViolation, StartError, TlsFiles};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mesh::{Mesh, next_event};
use crate::support::{Pki, WAIT, bounded, hello_frame, node, raw_client_config, raw_connect};

/// Starts node `b` alone (member `a`, never dialed: `a` is lower) and returns it.
async fn lone_b(pki: &Pki) -> Node {
    let tls = TlsFiles {
        ca: pki.path("ca.pem"),
        cert: pki.path("b.pem"),
        key: pki.path("b.key"),
        crl: None,
        pinned: Vec::new(),
    };
    let config = NodeConfig::new(node("b"), "demo", "127.0.0.1:0".parse().unwrap(), tls)
        .with_member(node("a"), "127.0.0.1:1");
    bounded(Node::start(config)).await.expect("b starts")
}

/// Connects to `b` at `addr` as member `a` by hand (HELLO, b's HELLO, ACCEPT, SYNCED) and
/// waits until `b` reports `a` up; returns the raw link.
async fn member_a_up(
    client: &std::sync::Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
    events: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut wire = bounded(raw_connect(client.clone(), addr, "b"))
        .await
        .unwrap();
    bounded(wire.write_all(&hello_frame(1, 9, "demo", "a")))
        .await
        .unwrap();
    let mut len = [0u8; 4];
    bounded(wire.read_exact(&mut len)).await.unwrap();
    let mut hello = vec![0u8; u32::from_be_bytes(len) as usize];
    bounded(wire.read_exact(&mut hello)).await.unwrap();
    assert_eq!(hello[0], 0x01, "b's HELLO");
    // ACCEPT, SYNCED.
    bounded(wire.write_all(&[0, 0, 0, 1, 0x03, 0, 0, 0, 1, 0x5f]))
        .await
        .unwrap();
    next_event(
        events,
        |e| matches!(e, NodeEvent::Up { node: n, .. } if *n == node("a")),
    )
    .await;
    wire
}

#[tokio::test]
async fn garbage_after_the_handshake_closes_only_that_link() {
    let pki = Pki::new("demo", &["a", "b"]);
    let b = lone_b(&pki).await;
    let mut events = b.events();
    let addr = b.local_addr().unwrap();
    let client = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("a.pem"), &pki.path("a.key"))),
    );
    for (name, garbage) in [
        ("oversized length", vec![0xff, 0xff, 0xff, 0xff, 0x10]),
        ("empty frame", vec![0, 0, 0, 0]),
        ("unknown kind", vec![0, 0, 0, 1, 0xee]),
        ("truncated MONITOR", vec![0, 0, 0, 3, 0x20, 0, 0]),
    ] {
        let mut wire = member_a_up(&client, addr, &mut events).await;
        // A repeated SYNCED does not report the node up again; then the garbage.
        bounded(wire.write_all(&[0, 0, 0, 1, 0x5f])).await.unwrap();
        bounded(wire.write_all(&garbage)).await.unwrap();
        let down = next_event(&mut events, |e| {
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
        let mut rest = Vec::new();
        let _ = bounded(wire.read_to_end(&mut rest)).await;
    }
    // b still serves a well-behaved peer.
    let a_files = TlsFiles {
        ca: pki.path("ca.pem"),
        cert: pki.path("a.pem"),
        key: pki.path("a.key"),
        crl: None,
        pinned: Vec::new(),
    };
    let a = bounded(Node::start(
        NodeConfig::new(node("a"), "demo", "127.0.0.1:0".parse().unwrap(), a_files)
            .with_member(node("b"), addr.to_string()),
    ))
    .await
    .unwrap();
    bounded(a.wait_for_node(&node("b"), WAIT)).await.unwrap();
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

/// A member that announces group memberships without end loses its link once it holds
/// `max_announced_per_link` of them (names and memberships per link), and what it announced
/// goes with it.
#[tokio::test]
async fn a_peer_announcing_without_end_loses_its_link() {
    const CAP: usize = reign::DEFAULT_MAX_ANNOUNCED_PER_LINK;
    let pki = Pki::new("demo", &["a", "b"]);
    let b = lone_b(&pki).await;
    let mut events = b.events();
    let client = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("a.pem"), &pki.path("a.key"))),
    );
    let wire = member_a_up(&client, b.local_addr().unwrap(), &mut events).await;
    // b reads nothing back from here on: drain what it sends so it never stalls on us.
    let (mut rd, mut wr) = tokio::io::split(wire);
    let drain = tokio::spawn(async move {
        let mut sink = vec![0u8; 64 * 1024];
        while matches!(rd.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    // GROUP_JOIN "g", mailbox n, tag "t": one past the cap, in 1 MiB writes.
    let writer = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(1 << 20);
        for n in 0..=CAP as u64 {
            batch.extend_from_slice(&[0, 0, 0, 13, 0x58, 1, b'g']);
            batch.extend_from_slice(&n.to_be_bytes());
            batch.extend_from_slice(&[1, b't']);
            if batch.len() >= 1 << 20 || n == CAP as u64 {
                if wr.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
    });
    let down = next_event(
        &mut events,
        |e| matches!(e, NodeEvent::Down { node: n, .. } if *n == node("a")),
    )
    .await;
    match down {
        NodeEvent::Down {
            reason: LinkDownReason::ProtocolError(why),
            ..
        } => assert!(
            matches!(why, ProtocolViolation::TooManyAnnounced { .. }),
            "{why}"
        ),
        other => panic!("expected a protocol error, got {other}"),
    }
    assert!(
        b.member_refs("g").is_empty(),
        "its memberships went with it"
    );
    writer.abort();
    drain.abort();
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
