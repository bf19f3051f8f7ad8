//! The node's link loops over an in-memory pipe (`tokio::io::duplex`) instead of TLS: the
//! same loops, control plane and cleanup, with no socket between the two nodes.

use reign::{Down, DownReason, LinkDownReason, NodeEvent};

use crate::mesh::{Mesh, next_down, next_event};
use crate::support::{WAIT, bounded, node};

#[tokio::test]
async fn two_nodes_linked_in_memory_message_monitor_and_share_names() {
    let mesh = Mesh::start_unlinked(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let mut a_events = a.cluster().events();
    reign::__harness::link_in_memory(a, b, 64 * 1024).expect("both started, members");
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    bounded(b.cluster().wait_for(&node("a"), WAIT))
        .await
        .unwrap();
    next_event(&mut a_events, |e| matches!(e, NodeEvent::Up { .. })).await;

    // Messages by name and by address.
    let (mut inbox, at_b) = b.mailbox::<u64>();
    b.names().register("svc", &at_b).unwrap();
    let remote = bounded(a.cluster().whereis_on::<u64>(&node("b"), "svc", WAIT))
        .await
        .unwrap();
    for i in 0..100 {
        remote.try_send(i).unwrap();
    }
    for i in 0..100 {
        assert_eq!(inbox.recv_timeout(WAIT).await, Some(i));
    }
    // A monitor across the pipe.
    let (mut watcher, _) = a.mailbox::<Down>();
    watcher.monitor(&remote);
    // A round trip behind the MONITOR (frames are handled in order): b holds it now.
    bounded(a.cluster().whereis_on::<u64>(&node("b"), "svc", WAIT))
        .await
        .unwrap();
    drop(inbox);
    assert_eq!(
        watcher.recv_timeout(WAIT).await.map(|d| d.reason),
        Some(DownReason::Normal)
    );
    // Cluster-wide names and groups.
    let (_g, at_b2) = b.mailbox::<u64>();
    b.groups().join("room", &at_b2).unwrap();
    let mut room = a.groups().watch("room");
    bounded(room.wait_for(|m| m == [at_b2.mailbox_ref()]))
        .await
        .unwrap();

    // The peer's shutdown arrives as its GOODBYE, over the pipe.
    bounded(b.shutdown()).await;
    assert_eq!(
        next_down(&mut a_events, &node("b")).await,
        LinkDownReason::PeerShutDown
    );
    mesh.shutdown().await;
}
