//! reign-core on one node: mailboxes, addresses, selective receive, monitors, call, registry,
//! address serialization. Every wait is bounded by a timeout. (The remote hook is tested
//! inside the crate, in `remote::tests`.)

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use reign_core::{
    Address, CallError, Down, DownReason, Incarnation, LookupError, MonitorId, Node, RegistryError,
    SendErrorReason,
};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(5);

fn node(name: &str) -> Node {
    Node::new(name.parse().unwrap())
}

/// Awaits `f`, failing the test if it takes longer than `WAIT`.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// A watcher's message type: work or a monitor's `Down`.
#[derive(Debug, PartialEq)]
enum Msg {
    Work(u32),
    Down(Down),
}

impl From<Down> for Msg {
    fn from(d: Down) -> Self {
        Msg::Down(d)
    }
}

fn down_of(m: Option<Msg>) -> Down {
    match m {
        Some(Msg::Down(d)) => d,
        other => panic!("expected a Down, got {other:?}"),
    }
}

mod mailboxes {
    use super::*;

    /// A receiver that always finds messages (a backlog taken in one batch) still yields to
    /// the other tasks of its runtime: one unit of tokio's budget (128 per yield) per 32
    /// messages of the backlog.
    #[tokio::test(flavor = "current_thread")]
    async fn a_receiver_with_a_backlog_yields_to_other_tasks() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u32>();
        for i in 0..10_000 {
            addr.try_send(i).unwrap();
        }
        // (The whole backlog is taken in one batch at the first receive.)
        let other = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = other.clone();
        tokio::spawn(async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) });
        let mut first_seen = None;
        for i in 0..10_000u32 {
            assert_eq!(inbox.recv().await, i);
            if first_seen.is_none() && other.load(std::sync::atomic::Ordering::SeqCst) {
                first_seen = Some(i);
            }
        }
        let at = first_seen.expect("the other task never ran while the backlog was read");
        assert!(
            at <= 128 * 32 + 32,
            "the other task ran only after {at} messages"
        );
    }

    #[tokio::test]
    async fn one_sender_in_order_and_try_recv() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u64>();
        assert_eq!(inbox.try_recv(), None);
        for i in 0..1000 {
            addr.try_send(i).unwrap();
        }
        for i in 0..1000 {
            assert_eq!(bounded(inbox.recv()).await, i);
        }
        assert_eq!(inbox.try_recv(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn order_is_kept_per_sender_under_concurrency() {
        let node = node("a");
        let (mut inbox, addr) = node.local_mailbox::<(u64, u64)>();
        const SENDERS: u64 = 4;
        const EACH: u64 = 20_000;
        for s in 0..SENDERS {
            let addr = addr.clone();
            tokio::spawn(async move {
                for seq in 0..EACH {
                    addr.try_send((s, seq)).unwrap();
                    if seq % 512 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            });
        }
        let mut next = [0u64; SENDERS as usize];
        for _ in 0..SENDERS * EACH {
            let (s, seq) = bounded(inbox.recv()).await;
            assert_eq!(seq, next[s as usize], "sender {s} out of order");
            next[s as usize] += 1;
        }
        assert_eq!(next, [EACH; SENDERS as usize]);
    }

    #[tokio::test]
    async fn sends_to_a_dropped_mailbox_return_the_message() {
        let node = node("a");
        let (inbox, addr) = node.mailbox::<String>();
        drop(inbox);
        let err = addr.try_send("lost?".into()).unwrap_err();
        assert_eq!(err.reason(), SendErrorReason::Closed);
        assert_eq!(err.to_string(), "send failed: mailbox closed");
        assert!(format!("{err:?}").contains("Closed"));
        assert_eq!(err.into_inner(), "lost?");
    }

    #[tokio::test]
    async fn close_with_a_reason_refuses_later_sends() {
        let node = node("a");
        let (inbox, addr) = node.mailbox::<u32>();
        addr.try_send(1).unwrap();
        inbox.close(DownReason::user("done"));
        let (reason, msg) = addr.try_send(2).unwrap_err().into_parts();
        assert_eq!((reason, msg), (SendErrorReason::Closed, 2));
        assert_eq!(node.mailbox_count(), 0);
    }

    #[tokio::test]
    async fn bounded_mailbox_refuses_when_full_and_frees_on_receive() {
        let node = node("a");
        let (mut inbox, addr) = node.bounded_mailbox::<u32>(2);
        addr.try_send(1).unwrap();
        addr.try_send(2).unwrap();
        let err = addr.try_send(3).unwrap_err();
        assert_eq!(err.reason(), SendErrorReason::Full);
        assert_eq!(err.into_inner(), 3);
        assert_eq!(bounded(inbox.recv()).await, 1);
        addr.try_send(3).unwrap();
        assert_eq!(
            addr.try_send(4).unwrap_err().reason(),
            SendErrorReason::Full
        );
        assert_eq!(bounded(inbox.recv()).await, 2);
        assert_eq!(bounded(inbox.recv()).await, 3);
    }

    #[tokio::test]
    async fn a_full_bounded_mailbox_still_gets_down() {
        let node = node("a");
        let (mut watcher, waddr) = node.local_bounded_mailbox::<Msg>(1);
        let (target, taddr) = node.mailbox::<u8>();
        waddr.try_send(Msg::Work(1)).unwrap();
        assert_eq!(
            waddr.try_send(Msg::Work(2)).unwrap_err().reason(),
            SendErrorReason::Full
        );
        watcher.monitor(&taddr);
        drop(target);
        assert_eq!(bounded(watcher.recv()).await, Msg::Work(1));
        assert_eq!(
            down_of(Some(bounded(watcher.recv()).await)).reason,
            DownReason::Normal
        );
    }

    #[tokio::test(start_paused = true)]
    async fn recv_timeout_fires_on_virtual_time() {
        let node = node("a");
        let (mut inbox, _addr) = node.mailbox::<u8>();
        let start = tokio::time::Instant::now();
        assert_eq!(inbox.recv_timeout(Duration::from_secs(30)).await, None);
        assert!(start.elapsed() >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn recv_timeout_returns_a_message_that_comes_in_time() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u8>();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            addr.try_send(7).unwrap();
        });
        assert_eq!(inbox.recv_timeout(Duration::from_secs(3)).await, Some(7));
    }

    #[tokio::test]
    async fn a_local_mailbox_takes_non_serializable_messages() {
        let node = node("a");
        let (mut inbox, addr) = node.local_mailbox::<Box<dyn FnOnce() -> u8 + Send>>();
        addr.try_send(Box::new(|| 9)).map_err(|_| "send").unwrap();
        let f = bounded(inbox.recv()).await;
        assert_eq!(f(), 9);
    }

    #[tokio::test]
    async fn several_nodes_live_in_one_process() {
        let (a, b) = (node("a"), node("b"));
        let (mut inbox_a, addr_a) = a.mailbox::<u8>();
        let (_inbox_b, addr_b) = b.mailbox::<u8>();
        // Each node numbers its own mailboxes, under its own secret key.
        assert_ne!(addr_a.id(), addr_b.id());
        assert_ne!(addr_a, addr_b);
        addr_a.try_send(1).unwrap();
        assert_eq!(bounded(inbox_a.recv()).await, 1);
        assert_eq!(a.mailbox_count(), 1);
        assert_eq!(b.mailbox_count(), 1);
    }

    #[tokio::test]
    async fn send_waits_for_room_in_a_full_bounded_mailbox() {
        let node = node("a");
        let (mut inbox, addr) = node.bounded_mailbox::<u32>(1);
        addr.try_send(1).unwrap();
        assert_eq!(
            addr.try_send(2).unwrap_err().reason(),
            SendErrorReason::Full
        );
        let mut waiting = pin!(addr.send(2));
        assert!(poll_once(waiting.as_mut()).is_pending(), "full: it waits");
        assert_eq!(inbox.try_recv(), Some(1));
        assert!(matches!(poll_once(waiting.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!(inbox.try_recv(), Some(2));
        // A mailbox that ends while a sender waits gives the message back.
        addr.try_send(3).unwrap();
        let sender = addr.clone();
        let task = tokio::spawn(async move { sender.send(4).await });
        tokio::task::yield_now().await;
        drop(inbox);
        let e = bounded(task).await.unwrap().unwrap_err();
        assert_eq!(e.reason(), SendErrorReason::Closed);
        assert_eq!(e.into_inner(), 4);
    }
}

mod addresses {
    use super::*;

    // Hash and Eq use the identity only, never the queue behind the handle.
    #[allow(clippy::mutable_key_type)]
    #[test]
    fn identity_traits() {
        let node = Node::with_incarnation(
            "node-a".parse().unwrap(),
            Incarnation(0xabcd_0000_0000_0042),
        );
        let (inbox, addr) = node.mailbox::<u64>();
        let (_other, other) = node.mailbox::<u64>();
        assert_eq!(addr, addr.clone());
        assert_ne!(addr, other);
        // Ordered by mailbox number within one node life (numbers are not in creation order).
        assert_eq!(addr < other, addr.id() < other.id());
        let set: HashSet<Address<u64>> = [addr.clone(), addr.clone(), other.clone()].into();
        assert_eq!(set.len(), 2);
        assert_eq!(addr.to_string(), format!("<node-a@abcd:{}>", addr.id()));
        assert_eq!(addr.mailbox_ref().to_string(), addr.to_string());
        let debug = format!("{addr:?}");
        assert!(
            debug.contains("u64") && debug.contains("abcd000000000042"),
            "{debug}"
        );
        assert_eq!(addr.node_id().as_str(), "node-a");
        assert_eq!(addr.incarnation(), node.incarnation());
        assert_eq!(inbox.address(), addr);
        assert!(addr.is_local());
    }

    #[test]
    fn mailbox_ids_are_never_reused() {
        let node = node("a");
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let (inbox, addr) = node.mailbox::<u8>();
            assert!(seen.insert(addr.id()));
            drop(inbox);
        }
    }

    #[derive(Serialize, Deserialize)]
    struct Envelope {
        reply: Address<u64>,
        note: String,
    }
    reign_core::message!(Envelope = "test.Envelope");

    #[tokio::test]
    async fn round_trip_in_scope_binds_to_the_live_mailbox() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u64>();
        let env = Envelope {
            reply: addr.clone(),
            note: "hi".into(),
        };
        let bytes = bincode::serde::encode_to_vec(&env, bincode::config::standard()).unwrap();
        let back: Envelope = node.with_decode_scope(|| {
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
                .unwrap()
                .0
        });
        assert_eq!(back.reply, addr);
        assert_eq!(back.note, "hi");
        assert!(back.reply.is_local());
        back.reply.try_send(5).unwrap();
        assert_eq!(bounded(inbox.recv()).await, 5);
    }

    #[test]
    fn serializes_as_the_plain_triple() {
        let node = Node::with_incarnation("n1".parse().unwrap(), Incarnation(7));
        let (_inbox, addr) = node.mailbox::<u64>();
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, format!(r#"["n1",7,{}]"#, addr.id()));
    }

    #[test]
    fn outside_a_scope_an_address_is_detached() {
        let node = node("a");
        let (_inbox, addr) = node.mailbox::<u64>();
        let json = serde_json::to_string(&addr).unwrap();
        let back: Address<u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, addr, "identity survives");
        let err = back.try_send(1).unwrap_err();
        assert_eq!(err.reason(), SendErrorReason::Detached);
        assert_eq!(err.into_inner(), 1);
    }

    #[test]
    fn in_scope_dead_wrong_type_old_life_and_other_node() {
        let node = node("a");
        let (inbox, addr) = node.mailbox::<u64>();
        let json = serde_json::to_string(&addr).unwrap();
        let decode = |json: &str| -> Address<u64> {
            let _scope = node.enter_decode_scope();
            serde_json::from_str(json).unwrap()
        };

        // Another type at that ID.
        let wrong: Address<String> =
            node.with_decode_scope(|| serde_json::from_str(&json).unwrap());
        assert_eq!(
            wrong.try_send("x".into()).unwrap_err().reason(),
            SendErrorReason::WrongType
        );

        // The mailbox has ended.
        drop(inbox);
        assert_eq!(
            decode(&json).try_send(1).unwrap_err().reason(),
            SendErrorReason::Closed
        );

        // An earlier life of this node.
        let old = format!(r#"["a",{},1]"#, node.incarnation().get().wrapping_add(1));
        assert_eq!(
            decode(&old).try_send(1).unwrap_err().reason(),
            SendErrorReason::Closed
        );

        // Another node, with no cluster: no connection, and the message comes back.
        let remote = decode(r#"["b",5,1]"#);
        assert!(!remote.is_local());
        let err = remote.try_send(9).unwrap_err();
        assert_eq!(
            (err.reason(), err.into_inner()),
            (SendErrorReason::NoConnection, 9)
        );
    }

    #[test]
    fn scopes_nest_and_end() {
        let (a, b) = (node("a"), node("b"));
        let (_ia, addr_a) = a.mailbox::<u64>();
        let json = serde_json::to_string(&addr_a).unwrap();
        let outer = a.enter_decode_scope();
        {
            let _inner = b.enter_decode_scope();
            let in_b: Address<u64> = serde_json::from_str(&json).unwrap();
            assert!(!in_b.is_local(), "decoded on b, a is another node");
        }
        let in_a: Address<u64> = serde_json::from_str(&json).unwrap();
        assert!(in_a.is_local());
        drop(outer);
        let detached: Address<u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            detached.try_send(1).unwrap_err().reason(),
            SendErrorReason::Detached
        );
    }
}

mod selective {
    use super::*;

    #[tokio::test]
    async fn leaves_other_messages_in_order() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u32>();
        for i in 1..=10 {
            addr.try_send(i).unwrap();
        }
        assert_eq!(bounded(inbox.recv_matching(|m| *m == 5)).await, 5);
        assert_eq!(inbox.try_recv_matching(|m| m % 4 == 0), Some(4));
        let rest: Vec<u32> = std::iter::from_fn(|| inbox.try_recv()).collect();
        assert_eq!(rest, [1, 2, 3, 6, 7, 8, 9, 10]);
    }

    #[tokio::test]
    async fn waits_for_a_later_match_and_keeps_the_rest() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u32>();
        addr.try_send(1).unwrap();
        let sender = addr.clone();
        tokio::spawn(async move {
            for i in 2..=5 {
                sender.try_send(i).unwrap();
                tokio::task::yield_now().await;
            }
            sender.try_send(100).unwrap();
            sender.try_send(6).unwrap();
        });
        assert_eq!(bounded(inbox.recv_matching(|m| *m >= 100)).await, 100);
        let mut rest = Vec::new();
        for _ in 0..6 {
            rest.push(bounded(inbox.recv()).await);
        }
        assert_eq!(rest, [1, 2, 3, 4, 5, 6]);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_fires_and_keeps_everything() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u32>();
        for i in 0..3 {
            addr.try_send(i).unwrap();
        }
        let start = tokio::time::Instant::now();
        assert_eq!(
            inbox
                .recv_matching_timeout(Duration::from_secs(10), |m| *m == 99)
                .await,
            None
        );
        assert!(start.elapsed() >= Duration::from_secs(10));
        assert_eq!(inbox.try_recv_matching(|m| *m == 99), None);
        let rest: Vec<u32> = std::iter::from_fn(|| inbox.try_recv()).collect();
        assert_eq!(rest, [0, 1, 2]);
    }

    /// Erlang's save queue: a waiting selective receive never re-examines what it rejected.
    #[test]
    fn rejected_messages_are_not_examined_again() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u32>();
        const QUEUED: u32 = 1_000;
        const ARRIVING: u32 = 50;
        for i in 0..QUEUED {
            addr.try_send(i).unwrap();
        }
        let calls = std::cell::Cell::new(0u32);
        {
            let mut fut = pin!(inbox.recv_matching(|m| {
                calls.set(calls.get() + 1);
                *m == u32::MAX
            }));
            assert!(poll_once(fut.as_mut()).is_pending());
            assert_eq!(calls.get(), QUEUED);
            for i in 0..ARRIVING {
                addr.try_send(QUEUED + i).unwrap();
                assert!(poll_once(fut.as_mut()).is_pending());
            }
            addr.try_send(u32::MAX).unwrap();
            assert_eq!(poll_once(fut.as_mut()), Poll::Ready(u32::MAX));
        }
        assert_eq!(
            calls.get(),
            QUEUED + ARRIVING + 1,
            "each message examined once"
        );
        let rest: Vec<u32> = std::iter::from_fn(|| inbox.try_recv()).collect();
        assert_eq!(rest, (0..QUEUED + ARRIVING).collect::<Vec<_>>());
    }

    #[test]
    fn a_dropped_selective_receive_loses_nothing() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u32>();
        for i in 0..5 {
            addr.try_send(i).unwrap();
        }
        {
            let mut fut = pin!(inbox.recv_matching(|m| *m == 42));
            assert!(poll_once(fut.as_mut()).is_pending());
        }
        addr.try_send(5).unwrap();
        let all: Vec<u32> = std::iter::from_fn(|| inbox.try_recv()).collect();
        assert_eq!(all, [0, 1, 2, 3, 4, 5]);
    }
}

mod monitors {
    use super::*;

    #[tokio::test]
    async fn drop_fires_normal_in_order_with_other_messages() {
        let node = node("a");
        let (mut watcher, waddr) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        let mref = watcher.monitor(&taddr);
        assert_eq!(mref.target(), &taddr.mailbox_ref());
        // The target's last word arrives before its Down.
        waddr.try_send(Msg::Work(1)).unwrap();
        drop(target);
        waddr.try_send(Msg::Work(2)).unwrap();
        assert_eq!(bounded(watcher.recv()).await, Msg::Work(1));
        let down = down_of(Some(bounded(watcher.recv()).await));
        assert!(mref.fired(&down));
        assert_eq!(down.monitor, mref.id());
        assert_eq!(down.target, taddr.mailbox_ref());
        assert_eq!(down.reason, DownReason::Normal);
        assert_eq!(bounded(watcher.recv()).await, Msg::Work(2));
    }

    #[tokio::test]
    async fn close_fires_the_user_reason_and_selective_receive_waits_for_it() {
        let node = node("a");
        let (mut watcher, waddr) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        watcher.monitor(&taddr);
        waddr.try_send(Msg::Work(1)).unwrap();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            target.close(DownReason::user("disk full"));
        });
        let down = down_of(
            watcher
                .recv_matching_timeout(WAIT, |m| matches!(m, Msg::Down(_)))
                .await,
        );
        assert_eq!(down.reason, DownReason::User("disk full".into()));
        assert_eq!(down.reason.to_string(), "user: disk full");
        assert_eq!(watcher.try_recv(), Some(Msg::Work(1)));
    }

    #[tokio::test]
    async fn monitoring_a_dead_mailbox_fires_no_such_mailbox_at_once() {
        let node = node("a");
        let (mut watcher, _) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        drop(target);
        let mref = watcher.monitor(&taddr);
        let down = down_of(watcher.try_recv());
        assert!(mref.fired(&down));
        assert_eq!(down.reason, DownReason::NoSuchMailbox);
        // By bare identity too, such as a Down's target.
        watcher.monitor_ref(&down.target);
        assert_eq!(
            down_of(watcher.try_recv()).reason,
            DownReason::NoSuchMailbox
        );
    }

    #[tokio::test]
    async fn monitoring_by_identity_finds_a_live_mailbox() {
        let node = node("a");
        let (mut watcher, _) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        watcher.monitor_ref(&taddr.mailbox_ref());
        assert_eq!(watcher.try_recv(), None);
        drop(target);
        assert_eq!(down_of(watcher.try_recv()).reason, DownReason::Normal);
    }

    #[tokio::test]
    async fn monitoring_another_node_without_a_cluster_fires_no_connection() {
        let node = node("a");
        let (mut watcher, _) = node.local_mailbox::<Msg>();
        let remote: Address<u8> =
            node.with_decode_scope(|| serde_json::from_str(r#"["b",1,1]"#).unwrap());
        watcher.monitor(&remote);
        let down = down_of(watcher.try_recv());
        assert_eq!(down.reason, DownReason::NoConnection);
        assert_eq!(down.target, remote.mailbox_ref());
    }

    #[tokio::test]
    async fn every_monitor_fires_including_a_self_monitor_on_another_watcher() {
        let node = node("a");
        let (mut w1, _) = node.local_mailbox::<Msg>();
        let (mut w2, _) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        let m1 = w1.monitor(&taddr);
        let m2 = w1.monitor(&taddr);
        let m3 = w2.monitor(&taddr);
        assert_ne!(m1.id(), m2.id());
        target.close(DownReason::user("bye"));
        let ids: HashSet<MonitorId> = [
            down_of(w1.try_recv()).monitor,
            down_of(w1.try_recv()).monitor,
        ]
        .into();
        assert_eq!(ids, [m1.id(), m2.id()].into());
        assert!(m3.fired(&down_of(w2.try_recv())));
    }

    #[tokio::test]
    async fn demonitor_before_the_end_means_no_down() {
        let node = node("a");
        let (mut watcher, waddr) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        let mref = watcher.monitor(&taddr);
        assert!(watcher.demonitor(&mref));
        drop(target);
        waddr.try_send(Msg::Work(0)).unwrap();
        assert_eq!(watcher.try_recv(), Some(Msg::Work(0)));
        assert_eq!(watcher.try_recv(), None);
        assert!(!watcher.demonitor(&mref), "already cancelled");
    }

    #[tokio::test]
    async fn demonitor_flushes_a_queued_down() {
        let node = node("a");
        let (mut watcher, waddr) = node.local_mailbox::<Msg>();
        let (t1, a1) = node.mailbox::<u8>();
        let (t2, a2) = node.mailbox::<u8>();
        let m1 = watcher.monitor(&a1);
        let m2 = watcher.monitor(&a2);
        waddr.try_send(Msg::Work(1)).unwrap();
        drop(t1);
        drop(t2);
        waddr.try_send(Msg::Work(2)).unwrap();
        // m1's Down is queued (not received): demonitor removes it, keeps the rest in order.
        assert!(!watcher.demonitor(&m1));
        assert_eq!(watcher.try_recv(), Some(Msg::Work(1)));
        assert!(m2.fired(&down_of(watcher.try_recv())));
        assert_eq!(watcher.try_recv(), Some(Msg::Work(2)));
        assert_eq!(watcher.try_recv(), None);
    }

    #[tokio::test]
    async fn demonitor_flushes_a_down_set_aside_by_selective_receive() {
        let node = node("a");
        let (mut watcher, waddr) = node.local_mailbox::<Msg>();
        let (target, taddr) = node.mailbox::<u8>();
        let mref = watcher.monitor(&taddr);
        drop(target);
        waddr.try_send(Msg::Work(7)).unwrap();
        // The Down is taken and passed over by this selective receive.
        assert_eq!(
            watcher.try_recv_matching(|m| *m == Msg::Work(7)),
            Some(Msg::Work(7))
        );
        assert!(!watcher.demonitor(&mref));
        assert_eq!(watcher.try_recv(), None);
    }

    #[tokio::test]
    async fn a_dropped_watcher_does_not_disturb_the_target() {
        let node = node("a");
        let (watcher, _) = node.local_mailbox::<Msg>();
        let (mut target, taddr) = node.mailbox::<u8>();
        watcher.monitor(&taddr);
        drop(watcher);
        taddr.try_send(1).unwrap();
        assert_eq!(target.try_recv(), Some(1));
        drop(target);
        assert_eq!(node.mailbox_count(), 0);
    }

    #[test]
    fn down_is_a_message_that_round_trips() {
        use reign_core::Message;
        assert_eq!(Down::TAG, "reign.Down");
        let node = node("a");
        let (mut w, _) = node.local_mailbox::<Msg>();
        let (t, a) = node.mailbox::<u8>();
        w.monitor(&a);
        t.close(DownReason::user("x"));
        let down = down_of(w.try_recv());
        let json = serde_json::to_string(&down).unwrap();
        assert_eq!(serde_json::from_str::<Down>(&json).unwrap(), down);
    }
}

mod call {
    use super::*;

    struct Add {
        a: u64,
        b: u64,
        reply: Address<u64>,
    }

    /// Serves `Add` requests until its mailbox is dropped.
    fn adder(node: &Node) -> Address<Add> {
        let (mut inbox, addr) = node.local_mailbox::<Add>();
        tokio::spawn(async move {
            loop {
                let req = inbox.recv().await;
                let _ = req.reply.try_send(req.a + req.b);
            }
        });
        addr
    }

    #[tokio::test]
    async fn returns_the_reply() {
        let node = node("a");
        let server = adder(&node);
        for i in 0..10 {
            let sum = server.call(|reply| Add { a: i, b: 1, reply }, WAIT).await;
            assert_eq!(sum, Ok(i + 1));
        }
        // The one-off reply mailboxes are gone (only the server remains).
        assert_eq!(node.mailbox_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_and_refuses_a_late_reply() {
        let node = node("a");
        let (mut server, addr) = node.local_mailbox::<Add>();
        let start = tokio::time::Instant::now();
        let r = addr
            .call(|reply| Add { a: 1, b: 1, reply }, Duration::from_secs(3))
            .await;
        assert_eq!(r, Err(CallError::Timeout));
        assert!(start.elapsed() >= Duration::from_secs(3));
        let req = server.try_recv().expect("request delivered");
        assert_eq!(
            req.reply.try_send(2).unwrap_err().reason(),
            SendErrorReason::Closed
        );
    }

    #[tokio::test]
    async fn fails_fast_when_the_callee_ends_without_replying() {
        let node = node("a");
        let (mut server, addr) = node.local_mailbox::<Add>();
        tokio::spawn(async move {
            let _req = server.recv().await;
            server.close(DownReason::user("crashed"));
        });
        let r = addr.call(|reply| Add { a: 1, b: 1, reply }, WAIT).await;
        assert_eq!(r, Err(CallError::Down(DownReason::user("crashed"))));
    }

    #[tokio::test]
    async fn a_reply_sent_before_the_end_wins() {
        let node = node("a");
        let (mut server, addr) = node.local_mailbox::<Add>();
        tokio::spawn(async move {
            let req = server.recv().await;
            req.reply.try_send(req.a + req.b).unwrap();
            drop(server);
        });
        let r = addr.call(|reply| Add { a: 2, b: 3, reply }, WAIT).await;
        assert_eq!(r, Ok(5));
    }

    #[tokio::test]
    async fn a_dead_callee_is_a_send_error() {
        let node = node("a");
        let (server, addr) = node.local_mailbox::<Add>();
        drop(server);
        let r = bounded(addr.call(|reply| Add { a: 1, b: 1, reply }, WAIT)).await;
        assert_eq!(r, Err(CallError::Send(SendErrorReason::Closed)));
        let detached: Address<u64> = serde_json::from_str(r#"["a",1,1]"#).unwrap();
        let r = detached.call(|_reply: Address<u64>| 0, WAIT).await;
        assert_eq!(r, Err(CallError::Send(SendErrorReason::Detached)));
    }
}

mod registry {
    use super::*;

    #[test]
    fn register_whereis_unregister() {
        let node = node("a");
        let (_inbox, addr) = node.mailbox::<u64>();
        node.names().register("svc", &addr).unwrap();
        node.names().register("svc", &addr).unwrap(); // again, same holder: fine
        node.names().register("alias", &addr).unwrap();
        assert_eq!(node.names().list(), ["alias", "svc"]);
        assert_eq!(node.names().whereis::<u64>("svc").unwrap(), addr);
        assert_eq!(node.names().unregister("svc"), Some(addr.mailbox_ref()));
        assert_eq!(node.names().unregister("svc"), None);
        assert_eq!(
            node.names().whereis::<u64>("svc"),
            Err(LookupError::NotFound { name: "svc".into() })
        );
        assert_eq!(node.names().whereis::<u64>("alias").unwrap(), addr);
    }

    #[test]
    fn a_send_by_name_to_this_node_says_why_it_failed() {
        let node = node("a");
        let (mut inbox, addr) = node.mailbox::<u64>();
        node.names().register("svc", &addr).unwrap();
        let me = node.id().clone();
        node.cluster().try_send_named(&me, "svc", 7u64).unwrap();
        assert_eq!(inbox.try_recv(), Some(7));
        let e = node
            .cluster()
            .try_send_named(&me, "nobody", 8u64)
            .unwrap_err();
        assert_eq!(e.reason(), SendErrorReason::NoSuchName);
        assert_eq!(e.into_inner(), 8);
        let e = node
            .cluster()
            .try_send_named(&me, "svc", "text".to_string())
            .unwrap_err();
        assert_eq!(e.reason(), SendErrorReason::WrongType);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_cluster_wide_name_times_out_as_a_timeout() {
        let node = node("a");
        let waited = Duration::from_millis(300);
        assert_eq!(
            node.global().wait_for::<u64>("later", waited).await,
            Err(LookupError::NotRegisteredInTime {
                name: "later".into(),
                timeout: waited
            })
        );
    }

    #[test]
    fn names_are_unique() {
        let node = node("a");
        let (_a, addr_a) = node.mailbox::<u64>();
        let (_b, addr_b) = node.mailbox::<u64>();
        node.names().register("svc", &addr_a).unwrap();
        assert_eq!(
            node.names().register("svc", &addr_b),
            Err(RegistryError::NameTaken {
                name: "svc".into(),
                holder: addr_a.mailbox_ref()
            })
        );
    }

    #[test]
    fn a_wrong_type_is_a_typed_error() {
        let node = node("a");
        let (_inbox, addr) = node.mailbox::<u64>();
        node.names().register("svc", &addr).unwrap();
        match node.names().whereis::<String>("svc") {
            Err(LookupError::WrongType {
                name,
                expected,
                actual,
            }) => {
                assert_eq!(name, "svc");
                assert_eq!(expected, std::any::type_name::<String>());
                assert_eq!(actual, "u64");
            }
            other => panic!("expected WrongType, got {other:?}"),
        }
    }

    #[test]
    fn names_disappear_when_their_mailbox_ends() {
        let node = node("a");
        let (a, addr_a) = node.mailbox::<u64>();
        let (b, addr_b) = node.mailbox::<u64>();
        node.names().register("dropped", &addr_a).unwrap();
        node.names().register("closed", &addr_b).unwrap();
        drop(a);
        b.close(DownReason::user("x"));
        assert!(node.names().list().is_empty());
        assert!(matches!(
            node.names().whereis::<u64>("dropped"),
            Err(LookupError::NotFound { .. })
        ));
        // The name is free again.
        let (_c, addr_c) = node.mailbox::<u64>();
        node.names().register("dropped", &addr_c).unwrap();
    }

    #[test]
    fn refuses_dead_foreign_and_invalid() {
        let (a, b) = (node("a"), node("b"));
        let (dead, dead_addr) = a.mailbox::<u64>();
        drop(dead);
        assert!(matches!(
            a.names().register("x", &dead_addr),
            Err(RegistryError::Closed { .. })
        ));
        let (_other, other_addr) = b.mailbox::<u64>();
        assert!(matches!(
            a.names().register("x", &other_addr),
            Err(RegistryError::NotLocal { .. })
        ));
        let (_live, live) = a.mailbox::<u64>();
        assert!(matches!(
            a.names().register("", &live),
            Err(RegistryError::InvalidName { .. })
        ));
        assert!(matches!(
            a.names().register("n".repeat(256), &live),
            Err(RegistryError::InvalidName { .. })
        ));
        // Registries are per node.
        b.names().register("x", &other_addr).unwrap();
        assert!(a.names().whereis::<u64>("x").is_err());
    }
}
