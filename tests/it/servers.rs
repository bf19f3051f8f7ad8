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

// Links across nodes.

struct Linker {
    report: Address<String>,
}

#[derive(Serialize, Deserialize)]
enum LinkerMsg {
    Link(MailboxRef),
    Unlink(MailboxRef),
    Crash(String),
    Ping(ReplyTo<()>),
}
reign::message!(LinkerMsg = "test.Linker");

impl Server for Linker {
    type Msg = LinkerMsg;
    /// Where to report, and whether to trap exits.
    type Args = (Address<String>, bool);

    async fn init((report, trap): Self::Args, ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        ctx.trap_exit(trap);
        Ok(Linker { report })
    }

    async fn handle(&mut self, msg: LinkerMsg, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            LinkerMsg::Link(t) => ctx.link(&t),
            LinkerMsg::Unlink(t) => ctx.unlink(&t),
            LinkerMsg::Crash(why) => return Err(Exit::user(why)),
            LinkerMsg::Ping(r) => r.send(()),
        }
        Ok(())
    }

    async fn handle_info(&mut self, info: reign::Info, _: &mut Ctx<Self>) -> Result<(), Exit> {
        if let reign::Info::Exit(e) = info {
            let _ = self.report.try_send(format!(
                "exit from {} {} {}",
                e.from.node(),
                e.reason,
                e.linked
            ));
        }
        Ok(())
    }
}

/// A linker on `at` reporting to `report` (a mailbox of node a).
async fn linker(at: &Node, report: &Address<String>, trap: bool) -> ServerRef<Linker> {
    at.spawn::<Linker>((seen_from(at, report), trap))
        .await
        .unwrap()
}

/// Links `x` (seen from its own node) with `y`, and returns once both sides hold it: a
/// ping of `x` answered after the LINK went, then one of `y` after the LINK arrived there.
async fn link(x: &ServerRef<Linker>, y: &ServerRef<Linker>, y_from_x: &ServerRef<Linker>) {
    x.cast(LinkerMsg::Link(y.mailbox_ref())).unwrap();
    x.call(LinkerMsg::Ping, WAIT).await.unwrap();
    // The LINK and a's next frames are ordered: a call through the link after it.
    y_from_x.call(LinkerMsg::Ping, WAIT).await.unwrap();
    y.call(LinkerMsg::Ping, WAIT).await.unwrap();
}

#[tokio::test]
async fn a_link_across_nodes_ends_either_side_with_the_others_reason() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (_reports, report) = a.mailbox::<String>();
    // b's server crashes: a's, linked, ends with the same reason.
    let (la, lb) = (
        linker(a, &report, false).await,
        linker(b, &report, false).await,
    );
    link(&la, &lb, &seen_from(a, &lb)).await;
    let (mut watch_a, _) = a.mailbox::<Down>();
    watch_a.monitor_ref(&la.mailbox_ref());
    lb.cast(LinkerMsg::Crash("b crashed".into())).unwrap();
    assert_eq!(
        watch_a.recv_timeout(WAIT).await.unwrap().reason,
        DownReason::user("b crashed")
    );
    // a's crashes: b's ends (the exit signal went as EXIT).
    let (la, lb) = (
        linker(a, &report, false).await,
        linker(b, &report, false).await,
    );
    link(&la, &lb, &seen_from(a, &lb)).await;
    let (mut watch_b, _) = b.mailbox::<Down>();
    watch_b.monitor_ref(&lb.mailbox_ref());
    la.cast(LinkerMsg::Crash("a crashed".into())).unwrap();
    assert_eq!(
        watch_b.recv_timeout(WAIT).await.unwrap().reason,
        DownReason::user("a crashed")
    );
    // The same when b's server made the link.
    let (la, lb) = (
        linker(a, &report, false).await,
        linker(b, &report, false).await,
    );
    link(&lb, &la, &seen_from(b, &la)).await;
    let (mut watch_b, _) = b.mailbox::<Down>();
    watch_b.monitor_ref(&lb.mailbox_ref());
    la.cast(LinkerMsg::Crash("a again".into())).unwrap();
    assert_eq!(
        watch_b.recv_timeout(WAIT).await.unwrap().reason,
        DownReason::user("a again")
    );
}

#[tokio::test]
async fn trapped_exits_and_unlink_across_nodes() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut reports, report) = a.mailbox::<String>();
    let la = linker(a, &report, true).await;
    let lb = linker(b, &report, false).await;
    link(&la, &lb, &seen_from(a, &lb)).await;
    lb.cast(LinkerMsg::Crash("why".into())).unwrap();
    assert_eq!(
        reports.recv_timeout(WAIT).await.unwrap(),
        "exit from b user: why true"
    );
    // Unlinked (by either side), a crash is no exit signal.
    for a_unlinks in [true, false] {
        let la = linker(a, &report, false).await;
        let lb = linker(b, &report, true).await;
        let lb_from_a = seen_from(a, &lb);
        link(&la, &lb, &lb_from_a).await;
        if a_unlinks {
            la.cast(LinkerMsg::Unlink(lb.mailbox_ref())).unwrap();
        } else {
            lb.cast(LinkerMsg::Unlink(la.mailbox_ref())).unwrap();
        }
        // Both sides have handled the unlink: la's DEMONITOR (or lb's UNLINK, then la's
        // DEMONITOR) went before these answers.
        lb_from_a.call(LinkerMsg::Ping, WAIT).await.unwrap();
        la.call(LinkerMsg::Ping, WAIT).await.unwrap();
        lb_from_a.call(LinkerMsg::Ping, WAIT).await.unwrap();
        let (mut watch, _) = a.mailbox::<Down>();
        watch.monitor_ref(&la.mailbox_ref());
        la.cast(LinkerMsg::Crash("unlinked".into())).unwrap();
        watch.recv_timeout(WAIT).await.unwrap();
        // lb outlives la, and it reported nothing (a report would come before this answer).
        lb_from_a.call(LinkerMsg::Ping, WAIT).await.unwrap();
        assert_eq!(reports.try_recv(), None, "a_unlinks: {a_unlinks}");
    }
}

#[tokio::test]
async fn a_lost_node_is_a_noconnection_exit_for_its_linked_servers() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut reports, report) = a.mailbox::<String>();
    let la = linker(a, &report, true).await;
    let lb = linker(b, &report, false).await;
    link(&la, &lb, &seen_from(a, &lb)).await;
    b.shutdown().await;
    assert_eq!(
        reports.recv_timeout(WAIT).await.unwrap(),
        "exit from b no connection true"
    );
    // A link to a node that cannot be reached is the same exit at once.
    la.cast(LinkerMsg::Link(lb.mailbox_ref())).unwrap();
    assert_eq!(
        reports.recv_timeout(WAIT).await.unwrap(),
        "exit from b no connection true"
    );
}

// Remote spawn.

/// A server whose `init` fails when asked to.
struct Picky;

#[derive(Serialize, Deserialize)]
enum PickyMsg {
    Stop,
    Ping(ReplyTo<String>),
}
reign::message!(PickyMsg = "test.Picky");

impl Server for Picky {
    type Msg = PickyMsg;
    type Args = String;

    async fn init(arg: String, _: &mut Ctx<Self>) -> Result<Self, Exit> {
        if arg == "fail" {
            return Err(Exit::user("asked to fail"));
        }
        Ok(Picky)
    }

    async fn handle(&mut self, msg: PickyMsg, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            PickyMsg::Stop => ctx.stop(),
            PickyMsg::Ping(r) => r.send(ctx.node().id().to_string()),
        }
        Ok(())
    }
}

/// A server that takes `()` as arguments, as `Kv` does, and other requests.
struct Mute;

#[derive(Serialize, Deserialize)]
struct MuteMsg;
reign::message!(MuteMsg = "test.Mute");

impl Server for Mute {
    type Msg = MuteMsg;
    type Args = ();
    async fn init(_: (), _: &mut Ctx<Self>) -> Result<Self, Exit> {
        Ok(Mute)
    }
    async fn handle(&mut self, _: MuteMsg, _: &mut Ctx<Self>) -> Result<(), Exit> {
        Ok(())
    }
}

#[tokio::test]
async fn a_server_is_started_on_another_node_by_its_factory_name() {
    use reign::{FactoryOptions, SpawnError, SpawnRefused};
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (a, b, c) = (mesh.node("a"), mesh.node("b"), mesh.node("c"));
    let b_id = b.id().clone();
    // No factory at all on b yet.
    let none = a
        .spawn_remote::<Picky>(&b_id, "picky", "x".into(), WAIT)
        .await;
    assert_eq!(
        none.unwrap_err(),
        SpawnError::Refused(SpawnRefused::NoSuchFactory)
    );
    b.factories()
        .register::<Picky>("picky", FactoryOptions::new().max_running(1))
        .await
        .unwrap();
    b.factories()
        .register::<Kv>("kv", FactoryOptions::new().allow([c.id().clone()]))
        .await
        .unwrap();
    let p = a
        .spawn_remote::<Picky>(&b_id, "picky", "x".into(), WAIT)
        .await
        .unwrap();
    assert_eq!(p.call(PickyMsg::Ping, WAIT).await.as_deref(), Ok("b"));
    // At its maximum.
    let more = a
        .spawn_remote::<Picky>(&b_id, "picky", "y".into(), WAIT)
        .await;
    assert_eq!(
        more.unwrap_err(),
        SpawnError::Refused(SpawnRefused::TooMany { max: 1 })
    );
    let (mut watch, _) = a.mailbox::<Down>();
    watch.monitor_ref(&p.mailbox_ref());
    p.cast(PickyMsg::Stop).unwrap();
    watch.recv_timeout(WAIT).await.unwrap();
    // Its `init` fails there (the count went down when the first ended; the answer to a
    // spawn comes after it).
    let mut failed = a
        .spawn_remote::<Picky>(&b_id, "picky", "fail".into(), WAIT)
        .await;
    while failed == Err(SpawnError::Refused(SpawnRefused::TooMany { max: 1 })) {
        tokio::task::yield_now().await;
        failed = a
            .spawn_remote::<Picky>(&b_id, "picky", "fail".into(), WAIT)
            .await;
    }
    assert_eq!(
        failed.unwrap_err(),
        SpawnError::Refused(SpawnRefused::Init(DownReason::user("asked to fail")))
    );
    // Not for a; for c.
    let refused = a.spawn_remote::<Kv>(&b_id, "kv", (), WAIT).await;
    assert_eq!(
        refused.unwrap_err(),
        SpawnError::Refused(SpawnRefused::NotAllowed)
    );
    let kv = c.spawn_remote::<Kv>(&b_id, "kv", (), WAIT).await.unwrap();
    assert_eq!(kv.call(KvMsg::Who, WAIT).await.unwrap(), "c None");
    // Unknown names, and a type the factory does not make.
    let unknown = a
        .spawn_remote::<Picky>(&b_id, "nope", "x".into(), WAIT)
        .await;
    assert_eq!(
        unknown.unwrap_err(),
        SpawnError::Refused(SpawnRefused::NoSuchFactory)
    );
    b.factories()
        .register::<Mute>("mute", FactoryOptions::new())
        .await
        .unwrap();
    let wrong_type = a.spawn_remote::<Kv>(&b_id, "mute", (), WAIT).await;
    assert_eq!(
        wrong_type.unwrap_err(),
        SpawnError::WrongType {
            expected: "test.Kv",
            found: "test.Mute".into()
        }
    );
    // Picky's requests, other arguments (two builds that disagree).
    struct OtherPicky;
    impl Server for OtherPicky {
        type Msg = PickyMsg;
        type Args = ();
        async fn init(_: (), _: &mut Ctx<Self>) -> Result<Self, Exit> {
            Ok(OtherPicky)
        }
        async fn handle(&mut self, _: PickyMsg, _: &mut Ctx<Self>) -> Result<(), Exit> {
            Ok(())
        }
    }
    let wrong_args = c.spawn_remote::<OtherPicky>(&b_id, "picky", (), WAIT).await;
    assert!(
        matches!(
            wrong_args,
            Err(SpawnError::Refused(SpawnRefused::WrongArguments { .. }))
        ),
        "{wrong_args:?}"
    );
}

// A singleton that fails over.

type Reports = tokio::sync::mpsc::UnboundedSender<String>;

/// An instance that reports its start and its stop (all nodes are in this process).
struct Leader {
    report: Reports,
    node: String,
}

impl Server for Leader {
    type Msg = PickyMsg;
    type Args = Reports;

    async fn init(report: Reports, ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        let node = ctx.node().id().to_string();
        let _ = report.send(format!("start {node}"));
        Ok(Leader { report, node })
    }

    async fn handle(&mut self, msg: PickyMsg, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        if let PickyMsg::Ping(r) = msg {
            r.send(ctx.node().id().to_string());
        }
        Ok(())
    }

    async fn terminate(&mut self, _: &DownReason, _: &mut Ctx<Self>) {
        let _ = self.report.send(format!("stop {}", self.node));
    }
}

/// Waits until every node of `nodes` resolves `name` to one server, and returns it.
async fn agreed(nodes: &[&Node], name: &str) -> MailboxRef {
    agreed_on_other(nodes, name, None).await
}

/// As [`agreed`], on a holder other than `old`: the nodes that saw a holder's node go may
/// still agree on it for a moment, until they learn that its node left.
async fn agreed_on_other(nodes: &[&Node], name: &str, old: Option<&MailboxRef>) -> MailboxRef {
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let seen: Vec<Option<MailboxRef>> = nodes
            .iter()
            .map(|n| n.global().watch(name).current())
            .collect();
        if let Some(Some(first)) = seen.first()
            && seen.iter().all(|s| s.as_ref() == Some(first))
            && old != Some(first)
        {
            return first.clone();
        }
        assert!(
            tokio::time::Instant::now() < until,
            "no agreement on {name}: {seen:?}"
        );
        let mut w = nodes[0].global().watch(name);
        let _ = tokio::time::timeout(Duration::from_millis(50), w.changed()).await;
    }
}

/// The instances running by their reports (one per `start`, until its `stop`), kept across
/// the phases of a test: a report of an instance that lost a race may come after the names
/// agreed, and belongs to the phase it started in.
struct Instances {
    reports: tokio::sync::mpsc::UnboundedReceiver<String>,
    running: Vec<String>,
}

impl Instances {
    /// Reads reports until exactly one instance runs apart from those on the `gone` nodes,
    /// the one on `node`, with no report pending.
    async fn only_on(&mut self, node: &str, gone: &[&str]) {
        loop {
            let live: Vec<&String> = self
                .running
                .iter()
                .filter(|n| !gone.contains(&n.as_str()))
                .collect();
            if live == [node] && self.reports.is_empty() {
                return;
            }
            let r = tokio::time::timeout(WAIT, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("one instance, on {node}: running {:?}", self.running))
                .expect("reports");
            let (what, on) = r.split_once(' ').unwrap();
            match what {
                "start" => self.running.push(on.to_string()),
                _ => {
                    let i = self.running.iter().position(|n| n == on).unwrap();
                    self.running.remove(i);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_singleton_runs_once_and_moves_when_its_node_goes() {
    use reign::{Singleton, SingletonSpec};
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let nodes = [mesh.node("a"), mesh.node("b"), mesh.node("c")];
    let (report, reports) = tokio::sync::mpsc::unbounded_channel();
    for n in nodes {
        let report = report.clone();
        n.spawn_local::<Singleton<Leader>>(SingletonSpec::new("leader", move || report.clone()))
            .await
            .unwrap();
    }
    let holder = agreed(&nodes, "leader").await;
    let first = holder.node().as_str().to_string();
    let mut instances = Instances {
        reports,
        running: Vec::new(),
    };
    instances.only_on(&first, &[]).await;
    let leader = nodes[1]
        .global()
        .whereis_server::<Leader>("leader")
        .unwrap();
    assert_eq!(leader.call(PickyMsg::Ping, WAIT).await.unwrap(), first);
    // The holder's node goes: another takes over.
    let gone = nodes.iter().position(|n| n.id().as_str() == first).unwrap();
    nodes[gone].shutdown().await;
    let rest: Vec<&Node> = (0..3).filter(|i| *i != gone).map(|i| nodes[i]).collect();
    let new_holder = agreed_on_other(&rest, "leader", Some(&holder)).await;
    assert_ne!(new_holder.node(), holder.node());
    let now = new_holder.node().as_str().to_string();
    instances.only_on(&now, &[&first]).await;
    let leader = rest[0].global().whereis_server::<Leader>("leader").unwrap();
    assert_eq!(leader.call(PickyMsg::Ping, WAIT).await.unwrap(), now);
}
