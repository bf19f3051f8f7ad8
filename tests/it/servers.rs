//! Servers across nodes over TLS: typed calls and casts through a travelled `ServerRef`, the
//! caller's proven node, replies dropped at once, exit reasons on the wire, and a reply
//! handle that names a third node refused.

use std::time::Duration;

use reign::{
    Address, CallError, Ctx, Down, DownReason, Exit, MailboxRef, Node, ReplyTo, Server, ServerRef,
};
use serde::{Deserialize, Serialize};

use crate::mesh::Mesh;
use crate::support::WAIT;

struct Kv(Vec<(String, u64)>);

#[derive(Serialize, Deserialize)]
enum KvMsg {
    Put(String, u64),
    Get(String, ReplyTo<Option<u64>>),
    Who(ReplyTo<String>),
    Forget(ReplyTo<u64>),
    Crash(String),
    Panic,
    AskOther(ServerRef<Kv>, ReplyTo<String>),
}
reign::message!(KvMsg = "test.Kv");

impl Server for Kv {
    type Msg = KvMsg;
    type Args = ();

    async fn init(_: (), _: &mut Ctx<Self>) -> Result<Self, Exit> {
        Ok(Kv(Vec::new()))
    }

    async fn handle(&mut self, msg: KvMsg, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            KvMsg::Put(k, v) => self.0.push((k, v)),
            KvMsg::Get(k, r) => r.send(self.0.iter().rev().find(|e| e.0 == k).map(|e| e.1)),
            KvMsg::Who(r) => {
                let who = format!(
                    "{} {:?}",
                    r.caller_node(),
                    r.caller().map(|c| c.node().to_string())
                );
                r.send(who);
            }
            KvMsg::Forget(r) => drop(r),
            KvMsg::Crash(why) => return Err(Exit::user(why)),
            KvMsg::Panic => panic!("kv panicked"),
            KvMsg::AskOther(other, r) => {
                let answer = ctx.call(&other, KvMsg::Who, WAIT).await;
                r.send(format!("{answer:?}"));
            }
        }
        Ok(())
    }
}

/// `value`, decoded at node `at` as a `U` (same bytes, another type).
fn retyped<T: Serialize, U: serde::de::DeserializeOwned>(at: &Node, value: &T) -> U {
    at.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(value).expect("encode")).expect("decode")
    })
}

/// `value`, as node `at` sees it after it travelled there.
fn seen_from<T: Serialize + serde::de::DeserializeOwned>(at: &Node, value: &T) -> T {
    at.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(value).expect("encode")).expect("decode")
    })
}

#[tokio::test]
async fn a_server_on_another_node_is_cast_to_and_called_with_typed_replies() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let kv = b.spawn::<Kv>(()).await.unwrap();
    let remote = seen_from(a, &kv);
    assert!(!remote.is_local());
    remote.cast(KvMsg::Put("x".into(), 7)).unwrap();
    let got = remote.call(|r| KvMsg::Get("x".into(), r), WAIT).await;
    assert_eq!(got, Ok(Some(7)));
    // The handler sees the caller's node, as its certificate proved it.
    assert_eq!(remote.call(KvMsg::Who, WAIT).await.unwrap(), "a None");
    // From a server on a, the caller is that server.
    let asker = a.spawn::<Kv>(()).await.unwrap();
    let via = asker
        .call(|r| KvMsg::AskOther(remote.clone(), r), WAIT)
        .await;
    assert_eq!(via.unwrap(), "Ok(\"a Some(\\\"a\\\")\")");
}

#[tokio::test]
async fn a_reply_dropped_on_another_node_fails_the_call_at_once() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let remote = seen_from(a, &b.spawn::<Kv>(()).await.unwrap());
    let t0 = std::time::Instant::now();
    let long = Duration::from_secs(60);
    assert_eq!(
        remote.call(KvMsg::Forget, long).await,
        Err(CallError::Dropped)
    );
    // A panic drops it too, and the server's end travels with its reason.
    let (mut watcher, _) = a.mailbox::<Down>();
    watcher.monitor_ref(&remote.mailbox_ref());
    assert_eq!(
        remote.call(KvMsg::Forget, long).await,
        Err(CallError::Dropped)
    );
    remote.cast(KvMsg::Panic).unwrap();
    let down = watcher.recv_timeout(WAIT).await.unwrap();
    assert_eq!(down.reason, DownReason::Panic("kv panicked".into()));
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn exit_reasons_travel_in_down() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut watcher, _) = a.mailbox::<Down>();
    for (why, reason) in [
        (Some("boom"), DownReason::user("boom")),
        (None, DownReason::Shutdown),
        (None, DownReason::Killed),
    ] {
        let kv = b.spawn::<Kv>(()).await.unwrap();
        let remote = seen_from(a, &kv);
        watcher.monitor_ref(&remote.mailbox_ref());
        // The MONITOR is on b once a call made after it returns.
        remote.call(KvMsg::Who, WAIT).await.unwrap();
        match (why, &reason) {
            (Some(w), _) => remote.cast(KvMsg::Crash(w.into())).unwrap(),
            (None, DownReason::Shutdown) => assert!(kv.stop(DownReason::Shutdown, WAIT).await),
            _ => assert!(kv.kill()),
        }
        let down = watcher.recv_timeout(WAIT).await.unwrap();
        assert_eq!(down.reason, reason);
    }
}

/// The bytes of a `ReplyTo<String>`, made by hand: any reply address and caller.
#[derive(Serialize)]
enum ForgedKv {
    #[allow(dead_code)]
    Put(String, u64),
    #[allow(dead_code)]
    Get(String, (Address<Option<u64>>, Option<MailboxRef>)),
    Who((Address<Victim>, Option<MailboxRef>)),
}
reign::message!(ForgedKv = "test.Kv");

/// A mailbox that takes what a `ReplyTo<String>` answers (an `Option<String>` tagged
/// `reign.Reply`).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Victim(Option<String>);
reign::message!(Victim = "reign.Reply");

impl<'de> Deserialize<'de> for ForgedKv {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("send only"))
    }
}

#[tokio::test]
async fn a_reply_handle_naming_a_third_node_does_not_decode() {
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (a, b, c) = (mesh.node("a"), mesh.node("b"), mesh.node("c"));
    let kv = b.spawn::<Kv>(()).await.unwrap();
    // A member (a) hands b's server a reply handle naming c's mailbox.
    let (mut victim, victim_addr) = c.mailbox::<Victim>();
    let forged_to = seen_from(a, &victim_addr);
    let target: Address<ForgedKv> = retyped(a, &kv);
    let before = b.cluster().stats().refused_other;
    target.try_send(ForgedKv::Who((forged_to, None))).unwrap();
    // Ordered on the link: once a's next call is answered, the forged one was handled.
    let remote = seen_from(a, &kv);
    remote.call(KvMsg::Who, WAIT).await.unwrap();
    assert_eq!(b.cluster().stats().refused_other, before + 1);
    assert_eq!(victim.try_recv(), None);
    // A caller named on a third node is refused the same way.
    let (_, own) = a.mailbox::<Victim>();
    let caller_on_c = victim_addr.mailbox_ref();
    target
        .try_send(ForgedKv::Who((own, Some(caller_on_c))))
        .unwrap();
    remote.call(KvMsg::Who, WAIT).await.unwrap();
    assert_eq!(b.cluster().stats().refused_other, before + 2);
}
