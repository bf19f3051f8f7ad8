//! The hook the cluster layer fills in (`RemoteRouter`), exercised with an in-process
//! "router" that delivers to another node as a link would after encoding.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RemoteRouter;
use crate::{
    Address, Down, DownReason, Incarnation, MailboxId, MailboxRef, MonitorId, Node,
    RemoteDeliveryError, SendErrorReason,
};

const WAIT: Duration = Duration::from_secs(5);

fn node(name: &str) -> Node {
    Node::new(name.parse().unwrap())
}

/// A watcher's message type: a monitor's `Down` (or other work).
#[derive(Debug, PartialEq)]
enum Msg {
    #[allow(dead_code)]
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

/// Awaits `f`, failing the test if it takes longer than `WAIT`.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}
/// Delivers to another in-process node, as a link would after encoding.
struct Loopback {
    peer: Node,
    monitors: Mutex<Vec<(MailboxRef, MonitorId, MailboxRef)>>,
}

impl RemoteRouter for Loopback {
    fn route(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        write: &mut dyn FnMut(&mut bytes::BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<(), SendErrorReason> {
        let mut payload = bytes::BytesMut::new();
        write(&mut payload)?;
        self.peer
            .deliver_remote(target, tag, &payload)
            .map_err(|e| match e {
                RemoteDeliveryError::Full => SendErrorReason::Full,
                _ => SendErrorReason::Closed,
            })
    }
    fn monitor(
        &self,
        watcher: &MailboxRef,
        monitor: MonitorId,
        target: &MailboxRef,
    ) -> Result<(), DownReason> {
        self.monitors
            .lock()
            .unwrap()
            .push((watcher.clone(), monitor, target.clone()));
        Ok(())
    }
    fn demonitor(&self, _: &MailboxRef, monitor: MonitorId, _: &MailboxRef) {
        self.monitors.lock().unwrap().retain(|m| m.1 != monitor);
    }
}

fn pair() -> (Node, Node, Arc<Loopback>) {
    let (a, b) = (node("a"), node("b"));
    let router = Arc::new(Loopback {
        peer: b.clone(),
        monitors: Mutex::default(),
    });
    a.set_remote_router(Some(router.clone()));
    (a, b, router)
}

#[derive(Serialize, Deserialize)]
struct Greeting {
    text: String,
    reply: Address<String>,
}
crate::message!(Greeting = "test.Greeting");

#[tokio::test]
async fn a_remote_address_sends_through_the_router_and_addresses_rebind() {
    let (a, b, _) = pair();
    let (mut on_b, addr_on_b) = b.mailbox::<Greeting>();
    let (_reply_box, reply_on_b) = b.mailbox::<String>();
    let json = serde_json::to_string(&addr_on_b).unwrap();
    let seen_from_a: Address<Greeting> =
        a.with_decode_scope(|| serde_json::from_str(&json).unwrap());
    assert!(!seen_from_a.is_local());
    assert_eq!(seen_from_a, addr_on_b);
    seen_from_a
        .try_send(Greeting {
            text: "hi".into(),
            reply: reply_on_b.clone(),
        })
        .map_err(|e| e.reason())
        .unwrap();
    let got = bounded(on_b.recv()).await;
    assert_eq!(got.text, "hi");
    assert!(
        got.reply.is_local(),
        "decoded in b's scope: b's own mailbox"
    );
    assert_eq!(got.reply, reply_on_b);
}

#[tokio::test]
async fn deliveries_check_tag_type_and_life() {
    let (_a, b, _) = pair();
    let (_m, addr) = b.mailbox::<u64>();
    let (_l, local_only) = b.local_mailbox::<u64>();
    let payload = bincode::serde::encode_to_vec(7u64, bincode::config::standard()).unwrap();
    let target = addr.mailbox_ref();
    assert_eq!(b.deliver_remote(&target, "u64", &payload), Ok(()));
    assert_eq!(
        b.deliver_remote(&target, "string", &payload),
        Err(RemoteDeliveryError::TagMismatch {
            expected: "u64",
            got: "string".into()
        })
    );
    assert!(matches!(
        b.deliver_remote(&target, "u64", &[0xff; 20]),
        Err(RemoteDeliveryError::Decode(_))
    ));
    assert_eq!(
        b.deliver_remote(&local_only.mailbox_ref(), "u64", &payload),
        Err(RemoteDeliveryError::LocalOnly)
    );
    let old_life = MailboxRef::new(
        b.id().clone(),
        Incarnation(b.incarnation().get() ^ 1),
        target.id(),
    );
    assert_eq!(
        b.deliver_remote(&old_life, "u64", &payload),
        Err(RemoteDeliveryError::NoSuchMailbox)
    );
    let missing = MailboxRef::new(b.id().clone(), b.incarnation(), MailboxId(9_999));
    assert_eq!(
        b.deliver_remote(&missing, "u64", &payload),
        Err(RemoteDeliveryError::NoSuchMailbox)
    );
}

#[tokio::test]
async fn remote_monitors_go_through_the_router_and_down_comes_back() {
    let (a, b, router) = pair();
    let (_t, target_on_b) = b.mailbox::<u8>();
    let json = serde_json::to_string(&target_on_b).unwrap();
    let remote: Address<u8> = a.with_decode_scope(|| serde_json::from_str(&json).unwrap());
    let (mut watcher, _) = a.local_mailbox::<Msg>();
    let mref = watcher.monitor(&remote);
    assert_eq!(
        watcher.try_recv(),
        None,
        "no Down until the router reports one"
    );
    let (w, id, t) = router.monitors.lock().unwrap()[0].clone();
    assert_eq!(
        (w, id, &t),
        (watcher.mailbox_ref(), mref.id(), mref.target())
    );
    a.deliver_down(
        watcher.mailbox_ref().id(),
        id,
        t,
        DownReason::NoConnection,
        None,
    );
    let down = down_of(watcher.try_recv());
    assert!(mref.fired(&down));
    assert_eq!(down.reason, DownReason::NoConnection);
    // A second report for the same monitor is ignored; demonitor reaches the router.
    let m2 = watcher.monitor(&remote);
    assert!(watcher.demonitor(&m2));
    assert!(
        router
            .monitors
            .lock()
            .unwrap()
            .iter()
            .all(|m| m.1 != m2.id())
    );
    a.deliver_down(
        watcher.mailbox_ref().id(),
        m2.id(),
        remote.mailbox_ref(),
        DownReason::Normal,
        None,
    );
    assert_eq!(watcher.try_recv(), None);
}
