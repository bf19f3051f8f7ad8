//! Monitors across nodes: every reason, demonitor, node monitors, call to a dying callee.

use reign::{Address, CallError, Down, DownReason, Mailbox, MailboxId, MailboxRef};
use serde::{Deserialize, Serialize};

use crate::mesh::{Mesh, seen_from};
use crate::support::{WAIT, bounded, node};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Msg {
    Text(String),
    Down(Down),
}
impl From<Down> for Msg {
    fn from(d: Down) -> Self {
        Msg::Down(d)
    }
}
reign::message!(Msg = "test.Msg");

/// Returns once everything `from` queued toward `to` so far has been handled by `to`: the
/// link is ordered, so a marker sent now arrives after it (e.g. after a MONITOR request).
async fn barrier(from: &reign::Node, to: &reign::Node) {
    let (mut probe, probe_addr) = to.mailbox::<u64>();
    seen_from(from, &probe_addr).try_send(1).unwrap();
    assert_eq!(probe.recv_timeout(WAIT).await, Some(1));
}

async fn next_down(mb: &mut Mailbox<Msg>) -> Down {
    match mb
        .recv_matching_timeout(WAIT, |m| matches!(m, Msg::Down(_)))
        .await
    {
        Some(Msg::Down(d)) => d,
        other => panic!("expected a Down, got {other:?}"),
    }
}

#[tokio::test]
async fn a_remote_monitor_reports_each_way_a_mailbox_ends() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut watcher, _) = a.mailbox::<Msg>();

    // Closed with a reason of the program's own.
    let (target, target_addr) = b.mailbox::<u64>();
    let m = watcher.monitor(&seen_from(a, &target_addr));
    // Let the MONITOR reach b first; a target gone before that would be "no such mailbox".
    barrier(a, b).await;
    target.close(DownReason::user("crashed"));
    let d = next_down(&mut watcher).await;
    assert!(m.fired(&d));
    assert_eq!(d.target, target_addr.mailbox_ref());
    assert_eq!(d.reason, DownReason::user("crashed"));

    // Dropped: normal.
    let (target, target_addr) = b.mailbox::<u64>();
    watcher.monitor(&seen_from(a, &target_addr));
    barrier(a, b).await;
    drop(target);
    assert_eq!(next_down(&mut watcher).await.reason, DownReason::Normal);

    // A mailbox that does not exist (never did, or ended before the monitor): at once.
    let ghost = MailboxRef::new(node("b"), b.incarnation(), MailboxId(999_999));
    watcher.monitor_ref(&ghost);
    assert_eq!(
        next_down(&mut watcher).await.reason,
        DownReason::NoSuchMailbox
    );

    // The watcher's messages and the Down arrive in order: a message sent by the target's
    // node before the target ended comes first.
    let (target, target_addr) = b.mailbox::<u64>();
    watcher.monitor(&seen_from(a, &target_addr));
    barrier(a, b).await;
    let watcher_at_b = seen_from(b, &watcher.address());
    watcher_at_b.try_send(Msg::Text("before".into())).unwrap();
    drop(target);
    assert_eq!(
        watcher.recv_timeout(WAIT).await,
        Some(Msg::Text("before".into()))
    );
    assert_eq!(next_down(&mut watcher).await.reason, DownReason::Normal);
    mesh.shutdown().await;
}

#[tokio::test]
async fn a_monitor_fires_no_connection_when_the_link_drops_or_is_absent() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut watcher, _) = a.mailbox::<Msg>();
    let (_target, target_addr) = b.mailbox::<u64>();
    let remote = seen_from(a, &target_addr);
    watcher.monitor(&remote);
    let node_monitor = watcher.monitor_node(&node("b"));
    bounded(b.shutdown()).await;
    let mut reasons = vec![next_down(&mut watcher).await, next_down(&mut watcher).await];
    reasons.sort_by_key(|d| d.target.id());
    assert_eq!(reasons[0].target.id(), MailboxId(0), "the node monitor");
    assert!(node_monitor.fired(&reasons[0]));
    assert_eq!(reasons[0].target.node(), &node("b"));
    for d in &reasons {
        assert_eq!(d.reason, DownReason::NoConnection);
    }
    // With the link gone, a new monitor fires at once.
    watcher.monitor(&remote);
    assert_eq!(
        next_down(&mut watcher).await.reason,
        DownReason::NoConnection
    );
    mesh.shutdown().await;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Req {
    reply: Address<u64>,
}
reign::message!(Req = "test.Req");

#[tokio::test]
async fn a_call_to_a_callee_that_dies_fails_with_its_reason() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut callee, callee_addr) = b.mailbox::<Req>();
    let remote = seen_from(a, &callee_addr);
    tokio::spawn(async move {
        let _req = callee.recv().await;
        callee.close(DownReason::user("gave up"));
    });
    let r = bounded(remote.call(|reply| Req { reply }, WAIT)).await;
    assert_eq!(r, Err(CallError::Down(DownReason::user("gave up"))));
    mesh.shutdown().await;
}
