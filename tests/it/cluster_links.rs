//! Links: reconnect after a cut, heartbeat detection of a silent peer, a restarted peer as a
//! new life, bounded memory toward a stalled peer, graceful shutdown, refusals as events.

use std::time::Duration;

use reign::{
    Address, Down, DownReason, LinkDownReason, Mailbox, Node, NodeEvent, Refusal, RefusedBy,
    SendErrorReason,
};

use crate::mesh::{
    Mesh, Mode, fast_tunables, next_down, next_event, seen_from, small_buffer_tunables,
};
use crate::support::{WAIT, bounded, node};

#[tokio::test]
async fn a_cut_link_is_redialled_and_messages_flow_again() {
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), fast_tunables()).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let mut events = a.cluster().events();
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    let (mut inbox, addr) = b.mailbox::<u64>();
    let remote = seen_from(a, &addr);
    remote.try_send(1).unwrap();
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(1));

    proxy.cut();
    assert_eq!(
        next_down(&mut events, &node("b")).await,
        LinkDownReason::ClosedByPeer
    );
    next_event(
        &mut events,
        |e| matches!(e, NodeEvent::Up { node: n, .. } if *n == node("b")),
    )
    .await;
    // The address kept its route to b across the new link.
    remote.try_send(2).unwrap();
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(2));
    assert_eq!(
        a.cluster().stats().messages_sent,
        2,
        "counted over both links"
    );
    mesh.shutdown().await;
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Watch {
    Down(Down),
}
impl From<Down> for Watch {
    fn from(d: Down) -> Self {
        Watch::Down(d)
    }
}
reign::message!(Watch = "test.Watch");

async fn down_of(mb: &mut Mailbox<Watch>) -> Down {
    match mb.recv_timeout(WAIT).await {
        Some(Watch::Down(d)) => d,
        None => panic!("no Down in time"),
    }
}

/// A peer whose traffic is blackholed (as if stopped) is declared down by heartbeat within
/// the silence limit, and its monitors fire.
#[tokio::test]
async fn a_silent_peer_is_declared_down_by_heartbeat() {
    let tunables = fast_tunables();
    let limit = tunables.peer_silence_limit;
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), tunables).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let mut a_events = a.cluster().events();
    let mut b_events = b.cluster().events();
    let (mut watcher, _) = a.mailbox::<Watch>();
    let (_target, target_addr) = b.mailbox::<u64>();
    watcher.monitor(&seen_from(a, &target_addr));

    proxy.set(Mode::Blackhole);
    let started = tokio::time::Instant::now();
    assert_eq!(
        next_down(&mut a_events, &node("b")).await,
        LinkDownReason::HeartbeatTimeout
    );
    let took = started.elapsed();
    assert!(took >= limit / 2, "declared down too early: {took:?}");
    assert!(
        took <= limit * 3,
        "declared down too late: {took:?} (limit {limit:?})"
    );
    assert_eq!(down_of(&mut watcher).await.reason, DownReason::NoConnection);
    // b sees a's silence too.
    assert_eq!(
        next_down(&mut b_events, &node("a")).await,
        LinkDownReason::HeartbeatTimeout
    );
    // The default limit meets the issue's bound.
    assert!(reign::DEFAULT_PEER_SILENCE_LIMIT <= Duration::from_secs(5));
    // Traffic restored: the link comes back.
    proxy.cut();
    proxy.set(Mode::Forward);
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    mesh.shutdown().await;
}

/// Memory toward a stalled peer is bounded by the link's buffer limit: sends beyond it are
/// refused at once with `LinkFull`, the message given back.
#[tokio::test]
async fn memory_toward_a_stalled_peer_is_bounded() {
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), small_buffer_tunables()).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (_inbox, addr) = b.mailbox::<Vec<u8>>();
    let remote = seen_from(a, &addr);
    proxy.set(Mode::Blackhole);
    let mut accepted = 0usize;
    let refused = loop {
        match remote.try_send(vec![7u8; 1000]) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        if accepted > 100_000 {
            panic!("a stalled peer absorbed 100 MB: the link buffer is not bounded");
        }
        if accepted.is_multiple_of(64) {
            // Let the writer move what the socket still takes.
            tokio::task::yield_now().await;
        }
    };
    assert_eq!(refused.reason(), SendErrorReason::LinkFull);
    assert_eq!(refused.into_inner().len(), 1000);
    // What was accepted is the buffer limit plus what the kernel's socket buffers and the
    // proxy hold: far below what an unbounded queue would have taken.
    assert!(accepted > 100, "accepted {accepted}");
    assert!(
        accepted < 20_000,
        "accepted {accepted} KB toward a stalled peer"
    );
    // A message larger than a frame is refused without touching the link.
    let big = remote.try_send(vec![0u8; 100 * 1024]).unwrap_err();
    assert_eq!(big.reason(), SendErrorReason::TooLarge);
    proxy.set(Mode::Forward);
    mesh.shutdown().await;
}

/// A peer restarted with a new incarnation is a new life: addresses of the old life never
/// reach the new one, monitors of them fire "no such mailbox".
#[tokio::test]
async fn a_restarted_peer_is_a_new_life() {
    let mut mesh = Mesh::start(&["a", "b"]).await;
    let a = mesh.node("a").clone();
    let mut events = a.cluster().events();
    let old_b = mesh.node("b").clone();
    let old_incarnation = old_b.incarnation();
    let (_old_inbox, old_addr) = old_b.mailbox::<u64>();
    old_b.names().register("svc", &old_addr).unwrap();
    let old_remote = seen_from(&a, &old_addr);

    bounded(old_b.shutdown()).await;
    assert_eq!(
        next_down(&mut events, &node("b")).await,
        LinkDownReason::PeerShutDown
    );
    let new_b = mesh.launch("b").await;
    let up = next_event(
        &mut events,
        |e| matches!(e, NodeEvent::Up { node: n, .. } if *n == node("b")),
    )
    .await;
    let NodeEvent::Up { incarnation, .. } = up else {
        unreachable!()
    };
    assert_eq!(incarnation, new_b.incarnation());
    assert_ne!(incarnation, old_incarnation);

    // Even an address of the old life that carries the very number of a new mailbox does
    // not reach it: the incarnation tells the lives apart.
    let (mut new_inbox, new_addr) = new_b.mailbox::<u64>();
    let old_life_new_number: Address<u64> = a.with_decode_scope(|| {
        serde_json::from_value(serde_json::json!([
            "b",
            old_incarnation.get(),
            new_addr.id().get()
        ]))
        .expect("decode")
    });
    assert_eq!(
        old_life_new_number.try_send(1).unwrap_err().reason(),
        SendErrorReason::Closed
    );
    assert_eq!(
        old_remote.try_send(1).unwrap_err().reason(),
        SendErrorReason::Closed
    );
    let (mut watcher, _) = a.mailbox::<Watch>();
    watcher.monitor(&old_remote);
    assert_eq!(
        down_of(&mut watcher).await.reason,
        DownReason::NoSuchMailbox
    );
    // The new address works, and nothing from the old one arrived.
    seen_from(&a, &new_addr).try_send(2).unwrap();
    assert_eq!(new_inbox.recv_timeout(WAIT).await, Some(2));
    assert!(new_inbox.try_recv().is_none());
    mesh.shutdown().await;
}

/// Shutdown flushes what is queued, says goodbye, and returns when every task ended.
#[tokio::test]
async fn shutdown_flushes_queued_messages_and_says_goodbye() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let mut b_events = b.cluster().events();
    let (mut inbox, addr) = b.mailbox::<u64>();
    let remote = seen_from(a, &addr);
    const N: u64 = 5_000;
    for i in 0..N {
        remote.try_send(i).unwrap();
    }
    bounded(a.shutdown()).await;
    for i in 0..N {
        assert_eq!(inbox.recv_timeout(WAIT).await, Some(i));
    }
    assert_eq!(
        next_down(&mut b_events, &node("a")).await,
        LinkDownReason::PeerShutDown
    );
    assert!(a.cluster().connected().is_empty());
    // Sends after shutdown fail, the message given back.
    assert_eq!(
        remote.try_send(1).unwrap_err().reason(),
        SendErrorReason::NoConnection
    );
    mesh.shutdown().await;
}

/// A refused handshake is a node event on both sides, with the reign-tls reason.
#[tokio::test]
async fn refused_handshakes_are_node_events() {
    let mut mesh = Mesh::start(&["b"]).await;
    let b = mesh.node("b").clone();
    let mut b_events = b.cluster().events();
    // Issue a certificate for "a" in the same CA, but start it in another cluster name.
    reign_certgen::issue(mesh.pki.dir.path(), &["a"], &Default::default()).unwrap();
    mesh.ids.push("a".into());
    let mut config = mesh.config("a");
    config.cluster = "elsewhere".into();
    let a = bounded(Node::start(config)).await.unwrap();
    let mut a_events = a.cluster().events();
    let want = Refusal::WrongCluster {
        expected: "test".into(),
        got: "elsewhere".into(),
    };
    let seen_b = next_event(&mut b_events, |e| matches!(e, NodeEvent::Refused { .. })).await;
    assert_eq!(
        seen_b,
        NodeEvent::Refused {
            node: None,
            by: RefusedBy::Us,
            reason: want.clone()
        }
    );
    let seen_a = next_event(&mut a_events, |e| matches!(e, NodeEvent::Refused { .. })).await;
    assert_eq!(
        seen_a,
        NodeEvent::Refused {
            node: Some(node("b")),
            by: RefusedBy::Peer,
            reason: want
        }
    );
    bounded(a.shutdown()).await;
    mesh.shutdown().await;
}

/// A link saturated by a slow network stays up: heartbeats and data keep both sides alive,
/// and every message arrives, in order.
#[tokio::test]
async fn a_saturated_link_stays_up() {
    let mut tunables = fast_tunables();
    tunables.link_buffer_limit = 128 * 1024;
    tunables.max_frame_size = 64 * 1024;
    let limit = tunables.peer_silence_limit;
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), tunables).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let mut events = a.cluster().events();
    let (mut inbox, addr) = b.mailbox::<Vec<u8>>();
    let remote = seen_from(a, &addr);
    // 1 MB/s: the 2 s of flooding below keeps the link's queue full (sends see LinkFull).
    proxy.set(Mode::Throttle(1_000_000));
    let flood_for = limit * 3;
    let sender = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let (mut sent, mut refused) = (0u32, 0u32);
        while started.elapsed() < flood_for {
            let mut msg = vec![0u8; 4096];
            msg[..4].copy_from_slice(&sent.to_be_bytes());
            match remote.try_send(msg) {
                Ok(()) => {
                    sent += 1;
                    // The proxy (the network) runs on this test's runtime: a loop that
                    // never yields would stall it, and with it both nodes' heartbeats.
                    // (a's writer, on a's own thread, drains the queue meanwhile, so sends
                    // can succeed for a long time before the socket fills.)
                    if sent.is_multiple_of(16) {
                        tokio::task::yield_now().await;
                    }
                }
                Err(e) if e.reason() == SendErrorReason::LinkFull => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("send failed: {e}"),
            }
        }
        (sent, refused)
    });
    let (sent, refused) = bounded(sender).await.unwrap();
    assert!(refused > 0, "the link was not saturated (sent {sent})");
    proxy.set(Mode::Forward);
    for i in 0..sent {
        let m = inbox.recv_timeout(WAIT).await.expect("message");
        assert_eq!(u32::from_be_bytes([m[0], m[1], m[2], m[3]]), i);
    }
    // No link went down meanwhile.
    while let Ok(Some(e)) = events.try_recv() {
        assert!(!matches!(e, NodeEvent::Down { .. }), "link went down: {e}");
    }
    mesh.shutdown().await;
}

/// Sends `[1; 1000]` messages until the link toward a blackholed peer is full for good, and
/// returns how many were queued. a's writer runs on a's own thread and drains the queue into
/// the socket until the proxy's buffers are full too, so a refused send may only mean that
/// the writer is behind: the link is full for good once a send is still refused after the
/// writer had 300 ms to take the queue (a writer not blocked on the socket takes it at once).
async fn fill_until_stalled(remote: &Address<Vec<u8>>) -> u32 {
    bounded(async {
        let mut queued = 0u32;
        loop {
            match remote.try_send(vec![1u8; 1000]) {
                Ok(()) => queued += 1,
                Err(e) if e.reason() == SendErrorReason::LinkFull => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    match remote.try_send(vec![1u8; 1000]) {
                        Ok(()) => queued += 1,
                        Err(e) if e.reason() == SendErrorReason::LinkFull => return queued,
                        Err(e) => panic!("{e}"),
                    }
                }
                Err(e) => panic!("{e}"),
            }
            if queued.is_multiple_of(32) {
                tokio::task::yield_now().await;
            }
        }
    })
    .await
}

/// `send` waits for room on a full link instead of failing, and returns at once with
/// `NoConnection` when the link goes down while it waits.
#[tokio::test]
async fn send_waits_for_room_on_a_full_link() {
    let mut tunables = fast_tunables();
    tunables.link_buffer_limit = 64 * 1024;
    tunables.max_frame_size = 16 * 1024;
    tunables.peer_silence_limit = Duration::from_secs(20);
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), tunables).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut inbox, addr) = b.mailbox::<Vec<u8>>();
    let remote = seen_from(a, &addr);
    proxy.set(Mode::Blackhole);
    // Fill the link (and the sockets behind it) until a plain send is refused.
    let queued = fill_until_stalled(&remote).await;
    let waiting = tokio::spawn({
        let remote = remote.clone();
        async move { remote.send(vec![2u8; 1000]).await }
    });
    // Still waiting while the peer reads nothing.
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    proxy.set(Mode::Forward);
    bounded(waiting)
        .await
        .unwrap()
        .expect("sent once there was room");
    for _ in 0..queued {
        assert_eq!(inbox.recv_timeout(WAIT).await.expect("message")[0], 1);
    }
    assert_eq!(
        inbox.recv_timeout(WAIT).await.expect("the waited one")[0],
        2
    );

    // Full again, then the link goes: the waiting send returns NoConnection with its message.
    proxy.set(Mode::Blackhole);
    fill_until_stalled(&remote).await;
    let waiting = tokio::spawn(async move { remote.send(vec![3u8; 1000]).await });
    tokio::task::yield_now().await;
    proxy.partition();
    let err = bounded(waiting).await.unwrap().unwrap_err();
    assert_eq!(err.reason(), SendErrorReason::NoConnection);
    assert_eq!(err.into_inner()[0], 3);
    mesh.shutdown().await;
}

/// A started node that was used (links, remote monitors, names, groups, lookups) and then
/// shut down is freed once nothing refers to it: nothing of the cluster layer keeps it.
#[tokio::test]
async fn a_node_shut_down_and_no_longer_referenced_is_freed() {
    let mut mesh = Mesh::start(&["a", "b"]).await;
    let a = mesh.nodes.remove("a").expect("a");
    let b = mesh.node("b");
    let weak = a.downgrade();
    {
        let (mut inbox, at_a) = a.mailbox::<u64>();
        let (mut watcher, _) = a.mailbox::<Down>();
        let (b_inbox, at_b) = b.mailbox::<u64>();
        b.names().register("svc", &at_b).unwrap();
        let remote = bounded(a.cluster().whereis_on::<u64>(&node("b"), "svc", WAIT))
            .await
            .unwrap();
        watcher.monitor(&remote);
        // A round trip behind the MONITOR (frames are handled in order): b holds it now.
        bounded(a.cluster().whereis_on::<u64>(&node("b"), "svc", WAIT))
            .await
            .unwrap();
        a.groups().join("room", &at_a).unwrap();
        remote.try_send(1).unwrap();
        seen_from(b, &at_a).try_send(2).unwrap();
        assert_eq!(inbox.recv_timeout(WAIT).await, Some(2));
        drop(b_inbox);
        assert_eq!(
            watcher.recv_timeout(WAIT).await.map(|d| d.reason),
            Some(DownReason::Normal)
        );
    }
    bounded(a.shutdown()).await;
    drop(a);
    assert!(
        weak.upgrade().is_none(),
        "the shut-down node is still referenced"
    );
    mesh.shutdown().await;
}

/// The address a node tells others to dial: its `advertise` key, or the address it bound
/// (the port it got for port 0).
#[tokio::test]
async fn a_node_advertises_its_configured_address_or_the_bound_one() {
    let mesh = Mesh::start_unlinked(&["a", "b"]).await;
    let a = mesh.node("a");
    let bound = a.cluster().local_addr().expect("listening");
    assert_ne!(bound.port(), 0);
    assert_eq!(a.cluster().advertised_addr(), Some(bound.to_string()));
    let mut config = mesh.config("b");
    config.advertise = Some("b.example.org:7001".into());
    // A second node for b's identity, on another port: only its configuration matters here.
    let b2 = bounded(Node::start(config)).await.expect("starts");
    assert_eq!(
        b2.cluster().advertised_addr().as_deref(),
        Some("b.example.org:7001")
    );
    bounded(b2.shutdown()).await;
    assert_eq!(b2.cluster().advertised_addr(), None, "not started any more");
    assert_eq!(Node::new(node("c")).cluster().advertised_addr(), None);
    mesh.shutdown().await;
}

/// A member nothing answers for, and one whose address does not resolve, are reported as
/// unreachable with the reason, and again while it lasts (here every 12 × 300 ms).
#[tokio::test]
async fn an_unreachable_member_is_reported_with_the_reason() {
    use reign::{NodeEvent, UnreachableReason};
    let mut mesh = Mesh::unstarted(&["a", "b", "c"], crate::mesh::fast_tunables(), false);
    // Nothing listens there (a port just bound and released), and a name that cannot resolve.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = free.local_addr().unwrap().to_string();
    drop(free);
    mesh.via.insert(("a".into(), "b".into()), dead.clone());
    mesh.via
        .insert(("a".into(), "c".into()), "no-such-host.invalid:7000".into());
    let a = mesh.launch("a").await;
    let mut events = a.cluster().events();
    let mut seen_b = 0;
    let mut seen_c = false;
    while seen_b < 1 || !seen_c {
        let e =
            crate::mesh::next_event(&mut events, |e| matches!(e, NodeEvent::Unreachable { .. }))
                .await;
        let NodeEvent::Unreachable { node, addr, reason } = &e else {
            unreachable!()
        };
        match node.as_str() {
            "b" => {
                assert_eq!(addr, &dead);
                assert!(matches!(reason, UnreachableReason::Connect(_)), "{e}");
                seen_b += 1;
            }
            "c" => {
                assert_eq!(*reason, UnreachableReason::DoesNotResolve, "{e}");
                assert!(
                    e.to_string()
                        .starts_with("c unreachable at no-such-host.invalid:7000"),
                    "{e}"
                );
                seen_c = true;
            }
            other => panic!("{other}"),
        }
    }
    a.shutdown().await;
}

/// `members()` shows each member's state: up with its life, down since when and why (and
/// why the redial fails), and when it was last heard from.
#[tokio::test]
async fn members_show_who_is_up_down_and_why() {
    use reign::{LinkDownReason, MemberState, NodeEvent};
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (a, c) = (mesh.node("a").clone(), mesh.node("c").clone());
    let mut events = a.cluster().events();
    let c_life = c.incarnation();
    bounded(c.shutdown()).await;
    crate::mesh::next_event(
        &mut events,
        |e| matches!(e, NodeEvent::Unreachable { node, .. } if node.as_str() == "c"),
    )
    .await;
    let members = a.cluster().members();
    let ids: Vec<_> = members.iter().map(|m| m.node.to_string()).collect();
    assert_eq!(ids, ["b", "c"]);
    assert!(
        matches!(&members[0].state, MemberState::Up { incarnation, .. } if *incarnation == mesh.node("b").incarnation()),
        "{members:?}"
    );
    assert!(members[0].last_seen.is_some());
    match &members[1].state {
        MemberState::Down {
            incarnation,
            reason,
            unreachable,
            ..
        } => {
            assert_eq!(*incarnation, c_life);
            assert_eq!(*reason, LinkDownReason::PeerShutDown);
            assert!(unreachable.is_some(), "{members:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(members[1].last_seen.is_some());
    mesh.shutdown().await;
}
