//! Hostile and broken peers: silent, dribbling, not TLS, oversized or malformed hello, a
//! flood of half-open connections. Each is dropped with its reason; good peers still get in.

use std::time::Duration;

use reign::tls::{Refusal, RefusedBy, TlsEndpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Pki, bounded, handshake, hello_frame, raw_client_config, raw_connect, serve};

const SHORT: Duration = Duration::from_millis(400);

fn refusal_by_us(
    r: Result<reign::tls::AuthenticatedStream, reign::tls::HandshakeError>,
) -> Refusal {
    let e = r.expect_err("expected a refusal");
    match e.refusal() {
        Some((RefusedBy::Us, reason)) => reason.clone(),
        other => panic!("expected refusal by us, got {other:?}: {e}"),
    }
}

/// Asserts that a good peer still gets through `addr` after the abuse.
async fn still_accepts(
    pki: &Pki,
    addr: std::net::SocketAddr,
    results: &mut tokio::sync::mpsc::UnboundedReceiver<
        Result<reign::tls::AuthenticatedStream, reign::tls::HandshakeError>,
    >,
) {
    let b = pki.endpoint("b");
    let dialed = bounded(b.connect(addr, &"a".parse().unwrap())).await;
    assert!(dialed.is_ok(), "{dialed:?}");
    let accepted = bounded(results.recv()).await.unwrap();
    assert!(accepted.is_ok(), "{accepted:?}");
}

#[tokio::test]
async fn a_peer_that_connects_and_sends_nothing_is_dropped_at_the_deadline() {
    let pki = Pki::new("demo", &["a", "b"]);
    let a = TlsEndpoint::new(pki.config("a").with_handshake_timeout(SHORT)).unwrap();
    let (addr, mut results) = serve(a).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        refusal_by_us(bounded(results.recv()).await.unwrap()),
        Refusal::HandshakeTimeout
    );
    // The acceptor closed the socket.
    let mut buf = [0u8; 16];
    assert!(matches!(
        bounded(silent.read(&mut buf)).await,
        Ok(0) | Err(_)
    ));
    still_accepts(&pki, addr, &mut results).await;
}

#[tokio::test]
async fn a_peer_that_dribbles_bytes_is_dropped_at_the_deadline() {
    let pki = Pki::new("demo", &["a", "b"]);
    let a = TlsEndpoint::new(pki.config("a").with_handshake_timeout(SHORT)).unwrap();
    let (addr, mut results) = serve(a).await;
    let dribbler = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        // A plausible TLS record header, one byte at a time, slower than the deadline allows.
        for b in [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc] {
            if tcp.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = tokio::time::Instant::now();
    assert_eq!(
        refusal_by_us(bounded(results.recv()).await.unwrap()),
        Refusal::HandshakeTimeout
    );
    assert!(started.elapsed() < SHORT * 3);
    dribbler.abort();
    still_accepts(&pki, addr, &mut results).await;
}

#[tokio::test]
async fn garbage_instead_of_tls_is_refused() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    match refusal_by_us(bounded(results.recv()).await.unwrap()) {
        Refusal::TlsFailure { .. } => {}
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    still_accepts(&pki, addr, &mut results).await;
}

#[tokio::test]
async fn an_oversized_or_malformed_hello_is_refused() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (addr, mut results) = serve(pki.endpoint("a")).await;
    let config = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("b.pem"), &pki.path("b.key"))),
    );
    let mut bad_node = hello_frame(1, 1, "demo", "b");
    let n = bad_node.len();
    bad_node[n - 1] = b'/'; // claimed node ID "/": not a valid ID
    let mut trailing = hello_frame(1, 1, "demo", "b");
    trailing[3] += 1;
    trailing.push(0);
    for (name, frame) in [
        ("oversized", 1_000_000u32.to_be_bytes().to_vec()),
        ("empty", 0u32.to_be_bytes().to_vec()),
        ("unknown kind", vec![0, 0, 0, 1, 0x7f]),
        ("bad node id", bad_node),
        ("trailing bytes", trailing),
        ("truncated", vec![0, 0, 0, 5, 0x01, 0, 1]),
    ] {
        let config = config.clone();
        let reply = bounded(async {
            let mut tls = raw_connect(config, addr, "a").await.unwrap();
            tls.write_all(&frame).await.unwrap();
            if name == "truncated" {
                // Close our side so the acceptor sees the end of the stream.
                tls.shutdown().await.unwrap();
            }
            let mut reply = Vec::new();
            let _ = tls.read_to_end(&mut reply).await;
            reply
        })
        .await;
        let result = bounded(results.recv()).await.unwrap();
        if name == "truncated" {
            let e = result.expect_err("truncated hello must not pass");
            assert_eq!(
                e.refusal(),
                Some((RefusedBy::Peer, &Refusal::ClosedDuringHandshake)),
                "{name}"
            );
        } else {
            let reason = refusal_by_us(result);
            assert!(
                matches!(reason, Refusal::MalformedHello { .. }),
                "{name}: {reason:?}"
            );
            assert_eq!(
                reply.get(4..7),
                Some(&[0x02, 0, 14][..]),
                "{name}: REFUSE code 14"
            );
        }
    }
    still_accepts(&pki, addr, &mut results).await;
}

#[tokio::test]
async fn a_flood_of_half_open_connections_is_capped_by_evicting_the_oldest() {
    let pki = Pki::new("demo", &["a", "b"]);
    let a = TlsEndpoint::new(
        pki.config("a")
            .with_max_pending_handshakes(2)
            .with_handshake_timeout(Duration::from_secs(5))
            .with_client_hello_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let (addr, mut results) = serve(a).await;
    // Two silent connections hold both handshake slots...
    let mut s1 = TcpStream::connect(addr).await.unwrap();
    let _s2 = TcpStream::connect(addr).await.unwrap();
    // ...so a third evicts the oldest at once (not at the deadline) and takes its place.
    let _third = TcpStream::connect(addr).await.unwrap();
    let started = tokio::time::Instant::now();
    let r = bounded(results.recv()).await.unwrap();
    assert_eq!(refusal_by_us(r), Refusal::Evicted);
    assert!(started.elapsed() < Duration::from_secs(4));
    let mut buf = [0u8; 1];
    assert!(matches!(bounded(s1.read(&mut buf)).await, Ok(0) | Err(_)));
    // A good peer, the next newcomer, is admitted too (evicting s2, the oldest now).
    let b = pki.endpoint("b");
    let dialed = bounded(b.connect(addr, &"a".parse().unwrap())).await;
    assert!(dialed.is_ok(), "{dialed:?}");
    let accepted = bounded(results.recv()).await.unwrap();
    assert_eq!(refusal_by_us(accepted), Refusal::Evicted);
    assert!(bounded(results.recv()).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_dialer_gives_up_on_a_silent_acceptor_at_the_deadline() {
    let pki = Pki::new("demo", &["a", "b"]);
    let b = TlsEndpoint::new(pki.config("b").with_handshake_timeout(SHORT)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(tcp);
    });
    let r = bounded(b.connect(addr, &"a".parse().unwrap())).await;
    assert_eq!(refusal_by_us(r), Refusal::HandshakeTimeout);
    hold.abort();
    // A normal pair still works with the same endpoint.
    let (d, acc) = handshake(&b, &pki.endpoint("a"), "a").await;
    assert!(d.is_ok() && acc.is_ok());
}

/// A member that sends close_notify and keeps its TCP connection open has ended its stream:
/// the node ends the link at once as closed by the peer, not at the silence limit as a
/// heartbeat timeout (which is what an outside test saw: monitors got a `Down` saying the
/// peer might still act).
#[tokio::test]
async fn close_notify_with_the_socket_left_open_ends_the_link_as_closed_by_peer() {
    use crate::raw_member::{Isolated, RawMember, config};
    use reign::{LinkDownReason, NodeEvent, Tunables};

    let pki = Pki::new("demo", &["a", "b"]);
    let victim = Isolated::start(
        config(
            &pki,
            "b",
            &[("a", "127.0.0.1:1".into())],
            Tunables::default(),
        ),
        |_| {},
    );
    let mut events = victim.node.cluster().events();
    let addr = victim.node.cluster().local_addr().unwrap();
    let mut wire = RawMember::handshake(&pki, "a", "b", addr, &mut events).await;
    wire.get_mut().1.send_close_notify();
    bounded(wire.flush()).await.unwrap();
    let down = crate::mesh::next_event(
        &mut events,
        |e| matches!(e, NodeEvent::Down { node: n, .. } if *n == crate::support::node("a")),
    )
    .await;
    let NodeEvent::Down { reason, .. } = down else {
        unreachable!()
    };
    assert_eq!(reason, LinkDownReason::ClosedByPeer);
    drop(wire);
    victim.stop().await;
}
