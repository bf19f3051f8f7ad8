//! Servers, links and supervisors on one node, on virtual time.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use crate::{
    ChildSpec, Ctx, DownReason, Exit, Info, Node, ReplyTo, Restart, Server, ServerRef, Shutdown,
    SpawnError, Strategy, Supervisor, SupervisorSpec,
};

const WAIT: Duration = Duration::from_secs(30);

/// What the test servers report.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Ev {
    Init(&'static str),
    Terminate(&'static str, DownReason),
    Info(&'static str, String),
}

#[derive(Clone)]
struct Args {
    id: &'static str,
    log: mpsc::UnboundedSender<Ev>,
    trap: bool,
    fail_init: bool,
    /// Traps exits and ignores a shutdown (a child that must be killed).
    stubborn: bool,
}

fn args(id: &'static str, log: &mpsc::UnboundedSender<Ev>) -> Args {
    Args {
        id,
        log: log.clone(),
        trap: false,
        fail_init: false,
        stubborn: false,
    }
}

struct Worker {
    a: Args,
    held: Vec<ReplyTo<u32>>,
}

enum W {
    Ping(ReplyTo<String>),
    Crash,
    Panic(ReplyTo<u32>),
    Stop,
    Drop(ReplyTo<u32>),
    Hold(ReplyTo<u32>),
    Release(u32),
    Caller(ReplyTo<String>),
    CallOther(ServerRef<Worker>, ReplyTo<String>),
    Link(crate::MailboxRef),
    Unlink(crate::MailboxRef),
    Timeout(Duration),
}

impl Server for Worker {
    type Msg = W;
    type Args = Args;

    async fn init(a: Args, ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        if a.fail_init {
            return Err(Exit::user("no"));
        }
        ctx.trap_exit(a.trap || a.stubborn);
        let _ = a.log.send(Ev::Init(a.id));
        Ok(Worker {
            a,
            held: Vec::new(),
        })
    }

    async fn handle(&mut self, msg: W, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            W::Ping(r) => r.send(self.a.id.to_string()),
            W::Crash => return Err(Exit::user("crash")),
            W::Panic(_r) => panic!("handler panicked"),
            W::Stop => ctx.stop(),
            W::Drop(r) => drop(r),
            W::Hold(r) => self.held.push(r),
            W::Release(n) => {
                for r in self.held.drain(..) {
                    r.send(n);
                }
            }
            W::Caller(r) => {
                let who = format!("{:?} from {}", r.caller().map(|c| c.id()), r.caller_node());
                r.send(who);
            }
            W::CallOther(other, r) => {
                let answer = ctx.call(&other, W::Caller, WAIT).await;
                r.send(format!("{answer:?}"));
            }
            W::Link(t) => ctx.link(&t),
            W::Unlink(t) => ctx.unlink(&t),
            W::Timeout(d) => ctx.set_timeout(Some(d)),
        }
        Ok(())
    }

    async fn handle_info(&mut self, info: Info, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let text = match &info {
            Info::Exit(e) => format!("exit {} {}", e.reason, e.linked),
            Info::Down(d) => format!("down {}", d.reason),
            Info::Timeout => {
                ctx.set_timeout(None);
                "timeout".to_string()
            }
            Info::NameConflict(c) => format!("conflict {}", c.name),
        };
        let _ = self.a.log.send(Ev::Info(self.a.id, text));
        Ok(())
    }

    async fn terminate(&mut self, reason: &DownReason, _: &mut Ctx<Self>) {
        let _ = self.a.log.send(Ev::Terminate(self.a.id, reason.clone()));
        if self.a.stubborn {
            std::future::pending::<()>().await;
        }
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Ev {
    timeout(WAIT, rx.recv()).await.unwrap().unwrap()
}

fn node() -> Node {
    Node::new("a".parse().unwrap())
}

async fn worker(node: &Node, a: Args) -> ServerRef<Worker> {
    node.spawn_local::<Worker>(a).await.unwrap()
}

/// A monitor of `s` from a plain mailbox.
fn watch<S: Server>(node: &Node, s: &ServerRef<S>) -> crate::Mailbox<crate::Down> {
    let (watcher, _) = node.local_mailbox::<crate::Down>();
    watcher.monitor(s.envelope_address());
    watcher
}

/// The reason of the `Down` `watcher` gets.
async fn ended(mut watcher: crate::Mailbox<crate::Down>) -> DownReason {
    timeout(WAIT, watcher.recv()).await.unwrap().reason
}

#[tokio::test(start_paused = true)]
async fn calls_are_typed_and_a_dropped_reply_fails_at_once() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let w = worker(&node, args("w", &log)).await;
    assert_eq!(next(&mut rx).await, Ev::Init("w"));
    assert_eq!(w.call(W::Ping, WAIT).await.as_deref(), Ok("w"));
    let t0 = Instant::now();
    assert_eq!(w.call(W::Drop, WAIT).await, Err(crate::CallError::Dropped));
    assert!(
        t0.elapsed() < Duration::from_millis(10),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_reply_can_come_later_from_another_handler() {
    let node = node();
    let (log, _rx) = mpsc::unbounded_channel();
    let w = worker(&node, args("w", &log)).await;
    let (a, b) = (w.clone(), w.clone());
    let first = tokio::spawn(async move { a.call(W::Hold, WAIT).await });
    let second = tokio::spawn(async move { b.call(W::Hold, WAIT).await });
    // Both are held once the worker answers a ping queued after them... from the same
    // sender only; wait until it holds two by pinging until then.
    tokio::task::yield_now().await;
    assert_eq!(w.call(W::Ping, WAIT).await.as_deref(), Ok("w"));
    w.cast(W::Release(7)).unwrap();
    assert_eq!(first.await.unwrap(), Ok(7));
    assert_eq!(second.await.unwrap(), Ok(7));
}

#[tokio::test(start_paused = true)]
async fn the_handler_knows_its_caller() {
    let node = node();
    let (log, _rx) = mpsc::unbounded_channel();
    let w = worker(&node, args("w", &log)).await;
    let v = worker(&node, args("v", &log)).await;
    assert_eq!(w.call(W::Caller, WAIT).await.unwrap(), "None from a");
    let via = v.call(|r| W::CallOther(w.clone(), r), WAIT).await.unwrap();
    assert_eq!(
        via,
        format!("Ok(\"Some({:?}) from a\")", v.mailbox_ref().id())
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_ends_the_server_with_its_message_and_fails_queued_calls() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let w = worker(&node, args("w", &log)).await;
    next(&mut rx).await;
    let held = {
        let w = w.clone();
        tokio::spawn(async move { w.call(W::Hold, WAIT).await })
    };
    tokio::task::yield_now().await;
    let end = watch(&node, &w);
    assert_eq!(w.call(W::Panic, WAIT).await, Err(crate::CallError::Dropped));
    let reason = DownReason::Panic("handler panicked".into());
    assert_eq!(next(&mut rx).await, Ev::Terminate("w", reason.clone()));
    assert_eq!(ended(end).await, reason);
    assert_eq!(held.await.unwrap(), Err(crate::CallError::Dropped));
    // The node goes on.
    let v = worker(&node, args("v", &log)).await;
    assert_eq!(v.call(W::Ping, WAIT).await.as_deref(), Ok("v"));
}

#[tokio::test(start_paused = true)]
async fn terminate_runs_on_stop_and_error_not_on_kill() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let w = worker(&node, args("w", &log)).await;
    next(&mut rx).await;
    w.cast(W::Stop).unwrap();
    assert_eq!(next(&mut rx).await, Ev::Terminate("w", DownReason::Normal));
    let w = worker(&node, args("x", &log)).await;
    next(&mut rx).await;
    w.cast(W::Crash).unwrap();
    assert_eq!(
        next(&mut rx).await,
        Ev::Terminate("x", DownReason::user("crash"))
    );
    let w = worker(&node, args("y", &log)).await;
    next(&mut rx).await;
    let end = watch(&node, &w);
    assert!(node.inner.kill(&w.mailbox_ref()));
    assert_eq!(ended(end).await, DownReason::Killed);
    assert!(rx.try_recv().is_err(), "no terminate after a kill");
}

#[tokio::test]
async fn init_failure_is_the_spawn_error() {
    let node = node();
    let (log, _rx) = mpsc::unbounded_channel();
    let mut a = args("w", &log);
    a.fail_init = true;
    let err = node.spawn_local::<Worker>(a).await.unwrap_err();
    assert_eq!(err, SpawnError::Init(DownReason::user("no")));
}

// Links and exit signals.

async fn linked_pair(node: &Node, a: Args, b: Args) -> (ServerRef<Worker>, ServerRef<Worker>) {
    let wa = worker(node, a).await;
    let wb = worker(node, b).await;
    wa.cast(W::Link(wb.mailbox_ref())).unwrap();
    // A call queued after the link request: once answered, the link exists on both sides
    // (the link signal is handled before the next message).
    wa.call(W::Ping, WAIT).await.unwrap();
    wb.call(W::Ping, WAIT).await.unwrap();
    (wa, wb)
}

#[tokio::test(start_paused = true)]
async fn an_abnormal_end_ends_the_linked_server_with_the_same_reason() {
    let node = node();
    let (log, _rx) = mpsc::unbounded_channel();
    let (a, b) = linked_pair(&node, args("a", &log), args("b", &log)).await;
    let end_a = watch(&node, &a);
    b.cast(W::Crash).unwrap();
    assert_eq!(ended(end_a).await, DownReason::user("crash"));
    // And the other way round.
    let (a, b) = linked_pair(&node, args("a", &log), args("b", &log)).await;
    let end_b = watch(&node, &b);
    a.call(W::Panic, WAIT).await.unwrap_err();
    assert_eq!(
        ended(end_b).await,
        DownReason::Panic("handler panicked".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_normal_end_does_not_end_the_linked_server() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let (a, b) = linked_pair(&node, args("a", &log), args("b", &log)).await;
    let end_b = watch(&node, &b);
    b.cast(W::Stop).unwrap();
    assert_eq!(ended(end_b).await, DownReason::Normal);
    assert_eq!(a.call(W::Ping, WAIT).await.as_deref(), Ok("a"));
    drop(rx.try_recv());
}

#[tokio::test(start_paused = true)]
async fn a_server_that_traps_exits_gets_them_as_info() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let mut ta = args("a", &log);
    ta.trap = true;
    let (a, b) = linked_pair(&node, ta, args("b", &log)).await;
    while rx.try_recv().is_ok() {}
    b.cast(W::Crash).unwrap();
    assert_eq!(
        next(&mut rx).await,
        Ev::Terminate("b", DownReason::user("crash"))
    );
    assert_eq!(
        next(&mut rx).await,
        Ev::Info("a", "exit user: crash true".into())
    );
    assert_eq!(a.call(W::Ping, WAIT).await.as_deref(), Ok("a"));
    // The link is gone: a's end later does not reach anyone.
    let (_, _) = (a, b);
}

#[tokio::test(start_paused = true)]
async fn unlink_and_links_to_the_dead() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let (a, b) = linked_pair(&node, args("a", &log), args("b", &log)).await;
    a.cast(W::Unlink(b.mailbox_ref())).unwrap();
    a.call(W::Ping, WAIT).await.unwrap();
    b.call(W::Ping, WAIT).await.unwrap();
    b.cast(W::Crash).unwrap();
    let end_a = watch(&node, &a);
    a.call(W::Ping, WAIT).await.unwrap();
    // A link to a server that has ended is an exit signal `no such mailbox` (Erlang's noproc).
    let mut ta = args("t", &log);
    ta.trap = true;
    let t = worker(&node, ta).await;
    while rx.try_recv().is_ok() {}
    t.cast(W::Link(b.mailbox_ref())).unwrap();
    assert_eq!(
        next(&mut rx).await,
        Ev::Info("t", "exit no such mailbox true".into())
    );
    a.cast(W::Link(b.mailbox_ref())).unwrap();
    assert_eq!(ended(end_a).await, DownReason::NoSuchMailbox);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_comes_when_nothing_else_does() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let w = worker(&node, args("w", &log)).await;
    next(&mut rx).await;
    let t0 = Instant::now();
    w.cast(W::Timeout(Duration::from_secs(3))).unwrap();
    assert_eq!(next(&mut rx).await, Ev::Info("w", "timeout".into()));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

// Supervisors.

fn child(id: &'static str, log: &mpsc::UnboundedSender<Ev>) -> ChildSpec {
    let a = args(id, log);
    ChildSpec::local::<Worker>(id, move || a.clone())
}

/// The supervisor's children's servers, by ID order of start.
async fn kids(sup: &ServerRef<Supervisor>) -> Vec<(String, ServerRef<Worker>)> {
    let node = node_of(sup);
    sup.children(WAIT)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            let s = server_of(&node, &c.server);
            (c.id, s)
        })
        .collect()
}

fn server_of<S: Server>(node: &Node, r: &crate::MailboxRef) -> ServerRef<S> {
    let shared = node.inner.lookup::<super::Envelope<S::Msg>>(r.id).unwrap();
    ServerRef::new(crate::Address::local(shared))
}

fn node_of<S: Server>(s: &ServerRef<S>) -> Node {
    Node {
        inner: s.envelope_address().routing_node().unwrap().clone(),
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Vec<Ev> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

/// Crashes child `i` of `sup` and returns the events until the supervisor answers again.
async fn crash(
    sup: &ServerRef<Supervisor>,
    i: usize,
    rx: &mut mpsc::UnboundedReceiver<Ev>,
) -> Vec<Ev> {
    let k = kids(sup).await;
    let end = watch(&node_of(sup), &k[i].1);
    k[i].1.cast(W::Crash).unwrap();
    ended(end).await;
    // The supervisor handles the exit signal before this call.
    let _ = kids(sup).await;
    drain(rx)
}

#[tokio::test(start_paused = true)]
async fn children_start_in_order_and_stop_in_reverse() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let mut spec = SupervisorSpec::new(Strategy::OneForOne);
    for id in ["a", "b", "c"] {
        let mut a = args(id, &log);
        a.trap = true;
        spec = spec.child(ChildSpec::local::<Worker>(id, move || a.clone()));
    }
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    assert_eq!(
        drain(&mut rx),
        [Ev::Init("a"), Ev::Init("b"), Ev::Init("c")]
    );
    let ids: Vec<_> = kids(&sup).await.into_iter().map(|k| k.0).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(sup.stop(DownReason::Shutdown, WAIT).await);
    let sd = DownReason::Shutdown;
    assert_eq!(
        drain(&mut rx),
        [
            Ev::Terminate("c", sd.clone()),
            Ev::Terminate("b", sd.clone()),
            Ev::Terminate("a", sd)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_child_that_ended() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(1))
        .child(child("a", &log))
        .child(child("b", &log))
        .child(child("c", &log));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    drain(&mut rx);
    let before = kids(&sup).await;
    let evs = crash(&sup, 1, &mut rx).await;
    assert_eq!(
        evs,
        [Ev::Terminate("b", DownReason::user("crash")), Ev::Init("b")]
    );
    let after = kids(&sup).await;
    assert_eq!(after[0].1, before[0].1);
    assert_ne!(after[1].1, before[1].1);
    assert_eq!(after[2].1, before[2].1);
}

#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_every_child() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForAll)
        .intensity(10, Duration::from_secs(1))
        .child(child("a", &log))
        .child(child("b", &log))
        .child(child("c", &log));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    drain(&mut rx);
    let before = kids(&sup).await;
    let evs = crash(&sup, 1, &mut rx).await;
    // a and c do not trap exits: they end without terminate.
    assert_eq!(
        evs,
        [
            Ev::Terminate("b", DownReason::user("crash")),
            Ev::Init("a"),
            Ev::Init("b"),
            Ev::Init("c")
        ]
    );
    let after = kids(&sup).await;
    for i in 0..3 {
        assert_ne!(after[i].1, before[i].1);
    }
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_child_and_those_after_it() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::RestForOne)
        .intensity(10, Duration::from_secs(1))
        .child(child("a", &log))
        .child(child("b", &log))
        .child(child("c", &log));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    drain(&mut rx);
    let before = kids(&sup).await;
    let evs = crash(&sup, 1, &mut rx).await;
    assert_eq!(
        evs,
        [
            Ev::Terminate("b", DownReason::user("crash")),
            Ev::Init("b"),
            Ev::Init("c")
        ]
    );
    let after = kids(&sup).await;
    assert_eq!(after[0].1, before[0].1);
    assert_ne!(after[1].1, before[1].1);
    assert_ne!(after[2].1, before[2].1);
}

#[tokio::test(start_paused = true)]
async fn restart_types_decide_what_comes_back() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(1))
        .child(child("perm", &log).restart(Restart::Permanent))
        .child(child("trans", &log).restart(Restart::Transient))
        .child(child("temp", &log).restart(Restart::Temporary));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    drain(&mut rx);
    let stop = async |i: usize| {
        let k = kids(&sup).await;
        let end = watch(&node, &k[i].1);
        k[i].1.cast(W::Stop).unwrap();
        ended(end).await;
        kids(&sup)
            .await
            .into_iter()
            .map(|k| k.0)
            .collect::<Vec<_>>()
    };
    // A normal end: permanent comes back, transient does not.
    assert_eq!(stop(0).await, ["perm", "trans", "temp"]);
    assert_eq!(stop(1).await, ["perm", "temp"]);
    drain(&mut rx);
    // Temporary never comes back, even after a crash.
    let evs = crash(&sup, 1, &mut rx).await;
    assert_eq!(evs, [Ev::Terminate("temp", DownReason::user("crash"))]);
    assert_eq!(
        kids(&sup)
            .await
            .into_iter()
            .map(|k| k.0)
            .collect::<Vec<_>>(),
        ["perm"]
    );
    // Transient comes back after a crash.
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(child("trans", &log).restart(Restart::Transient));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    drain(&mut rx);
    let evs = crash(&sup, 0, &mut rx).await;
    assert_eq!(
        evs,
        [
            Ev::Terminate("trans", DownReason::user("crash")),
            Ev::Init("trans")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn past_its_intensity_a_supervisor_shuts_down_and_ends() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let mut trapping = args("b", &log);
    trapping.trap = true;
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(2, Duration::from_secs(10))
        .child(child("a", &log))
        .child(ChildSpec::local::<Worker>("b", move || trapping.clone()));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    let end = watch(&node, &sup);
    drain(&mut rx);
    crash(&sup, 0, &mut rx).await;
    crash(&sup, 0, &mut rx).await;
    // The third within 10 s is one too many.
    let k = kids(&sup).await;
    k[0].1.cast(W::Crash).unwrap();
    assert_eq!(
        ended(end).await,
        DownReason::user(crate::MAX_RESTART_INTENSITY)
    );
    let evs = drain(&mut rx);
    assert_eq!(
        evs,
        [
            Ev::Terminate("a", DownReason::user("crash")),
            Ev::Terminate("b", DownReason::Shutdown)
        ]
    );
    // Restarts older than the period do not count.
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1, Duration::from_secs(10))
        .child(child("a", &log));
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    for _ in 0..3 {
        crash(&sup, 0, &mut rx).await;
        tokio::time::sleep(Duration::from_secs(11)).await;
    }
    assert_eq!(kids(&sup).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_does_not_stop_in_time_is_killed() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let mut stubborn = args("s", &log);
    stubborn.stubborn = true;
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(child("a", &log))
        .child(
            ChildSpec::local::<Worker>("s", move || stubborn.clone())
                .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        );
    let sup = node.spawn::<Supervisor>(spec).await.unwrap();
    let k = kids(&sup).await;
    let s_end = watch(&node, &k[1].1);
    drain(&mut rx);
    let t0 = Instant::now();
    assert!(sup.stop(DownReason::Shutdown, WAIT).await);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(ended(s_end).await, DownReason::Killed);
    assert_eq!(drain(&mut rx), [Ev::Terminate("s", DownReason::Shutdown)]);
}

#[tokio::test(start_paused = true)]
async fn supervisors_nest_into_trees() {
    let node = node();
    let (log, mut rx) = mpsc::unbounded_channel();
    let inner = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1, Duration::from_secs(10))
        .child(child("leaf", &log));
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(10))
        .child(ChildSpec::supervisor("inner", inner))
        .child(child("sibling", &log));
    let top = node.spawn::<Supervisor>(spec).await.unwrap();
    assert_eq!(drain(&mut rx), [Ev::Init("leaf"), Ev::Init("sibling")]);
    let inner_ref = top.children(WAIT).await.unwrap()[0].server.clone();
    let inner_sup: ServerRef<Supervisor> = server_of(&node, &inner_ref);
    // The leaf fails twice: the inner supervisor gives up, and the top one restarts it
    // (with a new leaf); the sibling is untouched.
    crash(&inner_sup, 0, &mut rx).await;
    let end = watch(&node, &inner_sup);
    let k = kids(&inner_sup).await;
    k[0].1.cast(W::Crash).unwrap();
    assert_eq!(
        ended(end).await,
        DownReason::user(crate::MAX_RESTART_INTENSITY)
    );
    let now = top.children(WAIT).await.unwrap();
    assert_ne!(now[0].server, inner_ref);
    let evs = drain(&mut rx);
    assert_eq!(evs.last(), Some(&Ev::Init("leaf")));
    assert!(!evs.contains(&Ev::Init("sibling")), "{evs:?}");
    // Stopping the top stops the whole tree.
    let new_inner: ServerRef<Supervisor> = server_of(&node, &now[0].server);
    let leaf = kids(&new_inner).await.remove(0).1;
    let leaf_end = watch(&node, &leaf);
    assert!(top.stop(DownReason::Shutdown, WAIT).await);
    assert_eq!(ended(leaf_end).await, DownReason::Shutdown);
}
