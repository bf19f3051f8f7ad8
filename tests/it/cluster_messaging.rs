//! Messaging across nodes over real TLS: remote send, order, addresses inside messages,
//! call, names on a given node, type-tag mismatches.

use reign::{Address, LinkDownReason, LookupError, Mailbox, NodeId, SendErrorReason};
use serde::{Deserialize, Serialize};

use crate::mesh::{Mesh, next_down};
use crate::support::{WAIT, bounded, node, trace};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ping {
    n: u64,
    reply: Address<Pong>,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pong {
    n: u64,
    from: String,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Forward {
    to: Address<String>,
    text: String,
}
reign::message!(
    Ping = "test.Ping",
    Pong = "test.Pong",
    Forward = "test.Forward"
);

async fn recv<M: Send + 'static>(mb: &mut Mailbox<M>) -> M {
    mb.recv_timeout(WAIT).await.expect("message in time")
}

#[tokio::test]
async fn remote_send_and_reply_between_two_nodes() {
    trace();
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut server, server_addr) = b.mailbox::<Ping>();
    let (mut client, client_addr) = a.mailbox::<Pong>();
    // The server's address reaches node a by value, as any message would carry it.
    let remote: Address<Ping> = a.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&server_addr).unwrap()).unwrap()
    });
    assert!(!remote.is_local());
    assert_eq!(remote, server_addr);
    remote
        .try_send(Ping {
            n: 7,
            reply: client_addr,
        })
        .unwrap();
    let ping = recv(&mut server).await;
    assert_eq!(ping.n, 7);
    assert!(
        !ping.reply.is_local(),
        "the reply address was bound to node b as remote"
    );
    ping.reply
        .try_send(Pong {
            n: 8,
            from: b.id().to_string(),
        })
        .unwrap();
    assert_eq!(
        recv(&mut client).await,
        Pong {
            n: 8,
            from: "b".into()
        }
    );
    mesh.shutdown().await;
}

#[tokio::test]
async fn order_from_one_sender_holds_across_the_network() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut inbox, addr) = mesh.node("b").mailbox::<u64>();
    let remote: Address<u64> = mesh.node("a").with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&addr).unwrap()).unwrap()
    });
    const N: u64 = 20_000;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            loop {
                match remote.try_send(i) {
                    Ok(()) => break,
                    // The link's buffer is bounded: wait for it to drain.
                    Err(e) if e.reason() == SendErrorReason::LinkFull => {
                        tokio::task::yield_now().await
                    }
                    Err(e) => panic!("send {i}: {e}"),
                }
            }
        }
    });
    for i in 0..N {
        assert_eq!(recv(&mut inbox).await, i);
    }
    bounded(sender).await.unwrap();
    mesh.shutdown().await;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Bulk {
    n: u64,
    bytes: Vec<u8>,
}
reign::message!(Bulk = "test.Bulk");

/// `send` yields each time a send completes a chunk of the link's buffer, so a task
/// streaming with it lets other tasks (the link's writer among them) run, even on a
/// single-threaded runtime where nothing else could; and the stream arrives whole, in order.
#[tokio::test(flavor = "current_thread")]
async fn a_stream_of_send_lets_other_tasks_run() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut inbox, addr) = mesh.node("b").mailbox::<Bulk>();
    let remote: Address<Bulk> = mesh.node("a").with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&addr).unwrap()).unwrap()
    });
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    // About 2 MiB: some 30 chunks of 64 KiB, far below the link's limit, so no send waits
    // for room: only the chunk yields let the ticker run.
    const N: u64 = 2_000;
    let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
    for n in 0..N {
        remote
            .send(Bulk {
                n,
                bytes: vec![7; 1000],
            })
            .await
            .unwrap();
    }
    let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
    ticker.abort();
    assert!(during >= 10, "the sender yielded only {during} times");
    for n in 0..N {
        assert_eq!(recv(&mut inbox).await.n, n);
    }
    mesh.shutdown().await;
}

/// An address passed inside a message from a to b, used by b to reach c.
#[tokio::test]
async fn an_address_in_a_message_works_from_a_third_node() {
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (mut at_c, c_addr) = mesh.node("c").mailbox::<String>();
    let (mut relay, relay_addr) = mesh.node("b").mailbox::<Forward>();
    // Node a learns c's mailbox and b's relay by name, then sends b a message that carries
    // c's address.
    mesh.node("c").names().register("sink", &c_addr).unwrap();
    mesh.node("b")
        .names()
        .register("relay", &relay_addr)
        .unwrap();
    let a = mesh.node("a");
    let sink: Address<String> = bounded(a.cluster().whereis_on(&node("c"), "sink", WAIT))
        .await
        .unwrap();
    let relay_at_a: Address<Forward> = bounded(a.cluster().whereis_on(&node("b"), "relay", WAIT))
        .await
        .unwrap();
    relay_at_a
        .try_send(Forward {
            to: sink,
            text: "via b".into(),
        })
        .unwrap();
    let fwd = recv(&mut relay).await;
    assert_eq!(fwd.to.node_id(), &node("c"));
    fwd.to.try_send(format!("{} from b", fwd.text)).unwrap();
    assert_eq!(recv(&mut at_c).await, "via b from b");
    mesh.shutdown().await;
}

#[tokio::test]
async fn call_works_across_nodes() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut server, server_addr) = mesh.node("b").mailbox::<Ping>();
    mesh.node("b")
        .names()
        .register("pinger", &server_addr)
        .unwrap();
    tokio::spawn(async move {
        loop {
            let p = server.recv().await;
            let _ = p.reply.try_send(Pong {
                n: p.n + 1,
                from: "b".into(),
            });
        }
    });
    let remote: Address<Ping> = bounded(mesh.node("a").cluster().whereis_on(
        &node("b"),
        "pinger",
        WAIT,
    ))
    .await
    .unwrap();
    let pong = bounded(remote.call(|reply| Ping { n: 41, reply }, WAIT))
        .await
        .unwrap();
    assert_eq!(pong.n, 42);
    mesh.shutdown().await;
}

#[tokio::test]
async fn names_on_a_given_node() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut echo, echo_addr) = b.mailbox::<String>();
    b.names().register("echo", &echo_addr).unwrap();
    // {echo, b} ! "hi"
    a.cluster()
        .try_send_named(&node("b"), "echo", "hi".to_string())
        .unwrap();
    assert_eq!(recv(&mut echo).await, "hi");
    // Typed lookup: the wrong type is an error, not a transmute.
    assert!(matches!(
        bounded(a.cluster().whereis_on::<u64>(&node("b"), "echo", WAIT)).await,
        Err(LookupError::WrongType {
            expected: "u64",
            ..
        })
    ));
    assert!(matches!(
        bounded(a.cluster().whereis_on::<String>(&node("b"), "nobody", WAIT)).await,
        Err(LookupError::NotFound { .. })
    ));
    let unknown: NodeId = node("zz");
    let err = bounded(a.cluster().whereis_on::<String>(&unknown, "echo", WAIT))
        .await
        .unwrap_err();
    // It says which nodes are linked.
    assert!(
        matches!(&err, LookupError::NoConnection { linked, .. } if *linked == [node("b")]),
        "{err}"
    );
    assert!(err.to_string().ends_with("(linked now: b)"), "{err}");
    // Sending to a name that does not exist there is refused and counted on b.
    a.cluster()
        .try_send_named(&node("b"), "nobody", "lost".to_string())
        .unwrap();
    a.cluster()
        .try_send_named(&node("b"), "echo", "after".to_string())
        .unwrap();
    assert_eq!(recv(&mut echo).await, "after");
    assert_eq!(b.cluster().stats().refused_no_mailbox, 1);
    mesh.shutdown().await;
}

/// A payload whose type tag is not the mailbox's is refused, counted and logged on the
/// receiving node, never decoded into the wrong type.
#[tokio::test]
async fn a_type_tag_mismatch_is_refused_and_counted() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut numbers, numbers_addr) = mesh.node("b").mailbox::<u64>();
    // Forge an Address<String> for a mailbox of u64 (as a buggy or hostile program could).
    let forged: Address<String> = mesh.node("a").with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&numbers_addr).unwrap()).unwrap()
    });
    forged.try_send("not a number".into()).unwrap();
    let good: Address<u64> = mesh.node("a").with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&numbers_addr).unwrap()).unwrap()
    });
    good.try_send(5).unwrap();
    // Order on the link: the forged message was handled before this one arrived.
    assert_eq!(recv(&mut numbers).await, 5);
    // Counted on b's own thread just after the delivery that woke this task.
    let b = mesh.node("b");
    bounded(async {
        while b.cluster().stats().messages_delivered < 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let stats = b.cluster().stats();
    assert_eq!(stats.refused_tag_mismatch, 1);
    assert_eq!(stats.messages_delivered, 1);
    assert!(numbers.try_recv().is_none());
    mesh.shutdown().await;
}

#[tokio::test]
async fn a_send_to_an_unreachable_node_fails_with_no_connection() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (_inbox, addr) = mesh.node("b").mailbox::<u64>();
    let remote: Address<u64> = mesh.node("a").with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&addr).unwrap()).unwrap()
    });
    let mut events = mesh.node("a").cluster().events();
    bounded(mesh.node("b").shutdown()).await;
    // The link goes down when b's GOODBYE arrives.
    assert_eq!(
        next_down(&mut events, &node("b")).await,
        LinkDownReason::PeerShutDown
    );
    let err = remote.try_send(9).unwrap_err();
    assert_eq!(err.reason(), SendErrorReason::NoConnection);
    assert_eq!(err.into_inner(), 9, "the message is given back");
    mesh.shutdown().await;
}

/// Messages of every size, from one byte to 3 MiB (many TLS records and socket reads
/// each, where a read stages up to 64 KiB), cross a TLS link whole and in order, with
/// small ones in between on the same link; the link stays up throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_every_size_cross_whole_and_in_order() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut inbox, addr) = mesh.node("b").mailbox::<Bulk>();
    let remote: Address<Bulk> = mesh.node("a").with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&addr).unwrap()).unwrap()
    });
    let sizes: Vec<usize> = [
        1,
        7,
        4096,
        16 * 1024 - 40,
        16 * 1024,
        65 * 1024,
        1 << 20,
        3 << 20,
    ]
    .into_iter()
    .flat_map(|big| [big, 3, big + 1])
    .collect();
    // A pattern that differs per message and per byte, so that a lost, doubled or moved
    // byte is seen.
    let bytes = |n: u64, len: usize| -> Vec<u8> {
        (0..len).map(|i| (i as u64 * 31 + n * 7) as u8).collect()
    };
    let sender = tokio::spawn({
        let sizes = sizes.clone();
        async move {
            for (n, len) in sizes.into_iter().enumerate() {
                let n = n as u64;
                remote
                    .send(Bulk {
                        n,
                        bytes: bytes(n, len),
                    })
                    .await
                    .unwrap();
            }
        }
    });
    for (n, len) in sizes.iter().enumerate() {
        let got = recv(&mut inbox).await;
        assert_eq!(got.n, n as u64);
        assert_eq!(got.bytes.len(), *len, "message {n}");
        assert!(
            got.bytes == bytes(n as u64, *len),
            "message {n} arrived changed"
        );
    }
    bounded(sender).await.unwrap();
    assert_eq!(mesh.node("a").cluster().stats().links_down, 0);
    assert_eq!(mesh.node("b").cluster().stats().links_down, 0);
    mesh.shutdown().await;
}

/// Every message of a ping-pong arrives on its own, whatever its size against the socket
/// reads (a read shorter than a TLS record takes the socket as drained; a longer one reads
/// again): heartbeats are a minute apart, so nothing else arrives to wake a link's reader
/// that stopped with bytes waiting, and each round trip must end well before. Then the
/// nodes shut down promptly, though their links' watches sleep 15 s between looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_of_a_ping_pong_arrives_without_later_bytes_to_push_it() {
    let mut tunables = crate::mesh::fast_tunables();
    tunables.heartbeat_interval = std::time::Duration::from_secs(60);
    tunables.peer_silence_limit = std::time::Duration::from_secs(180);
    let mesh = Mesh::start_with(&["a", "b"], tunables).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut at_b, to_b) = b.mailbox::<Bulk>();
    let (mut at_a, to_a) = a.mailbox::<Bulk>();
    let to_b: Address<Bulk> = a.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&to_b).unwrap()).unwrap()
    });
    let to_a: Address<Bulk> = b.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&to_a).unwrap()).unwrap()
    });
    let echo = tokio::spawn(async move {
        while let Some(m) = at_b.recv_timeout(WAIT).await {
            if to_a.send(m).await.is_err() {
                return;
            }
        }
    });
    // Around one TLS record (16 KiB of plaintext), around the 64 KiB a read stages, and
    // messages of many reads.
    let sizes = (0..40)
        .map(|k| 16 * 1024 - 600 + k * 31)
        .chain((0..12).map(|k| 64 * 1024 - 200 + k * 37))
        .chain([1, 100, 200 * 1024, 1 << 20]);
    for (n, len) in sizes.enumerate() {
        let n = n as u64;
        to_b.send(Bulk {
            n,
            bytes: vec![n as u8; len],
        })
        .await
        .unwrap();
        let back = at_a
            .recv_timeout(std::time::Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("round trip {n} ({len} bytes) did not end"));
        assert_eq!((back.n, back.bytes.len()), (n, len));
    }
    drop(to_b);
    echo.abort();
    // The link's watch wakes every quarter heartbeat interval (15 s here): the nodes'
    // shutdown must not wait for it.
    tokio::time::timeout(std::time::Duration::from_secs(5), mesh.shutdown())
        .await
        .expect("the nodes shut down without waiting for their links' watches");
}
