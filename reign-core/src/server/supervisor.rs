//! [`Supervisor`]: a server that starts children, restarts them by a strategy, and gives up
//! after too many restarts (Erlang's `supervisor`).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::process::Process;
use super::{Ctx, Exit, Info, ReplyTo, Server, ServerRef, SpawnError};
use crate::{CallError, DownReason, MailboxRef, Message};

/// The reason ([`DownReason::User`]) a supervisor ends with when its children failed more
/// often than its restart intensity allows.
pub const MAX_RESTART_INTENSITY: &str = "reached max restart intensity";

/// Which children a supervisor restarts when one ends and is to be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Only that child.
    OneForOne,
    /// Every child: the others are shut down (in reverse start order), then all start again
    /// in order.
    OneForAll,
    /// That child and the ones started after it (shut down in reverse order, started again
    /// in order).
    RestForOne,
}

/// When a child that ended is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only if it ended abnormally: any reason but [`DownReason::Normal`] and
    /// [`DownReason::Shutdown`].
    Transient,
    /// Never: it is removed from the supervisor when it ends.
    Temporary,
}

/// How a supervisor stops a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shutdown {
    /// An exit signal [`DownReason::Shutdown`], then a kill if the child has not ended within
    /// the duration. A child that traps exits runs its `terminate` in that time.
    Timeout(Duration),
    /// A kill at once ([`DownReason::Killed`], no `terminate`).
    BrutalKill,
    /// An exit signal `Shutdown`, then as long as the child takes (the default for a child
    /// that is a supervisor).
    Infinity,
}

type StartFuture<'a> = Pin<Box<dyn Future<Output = Result<MailboxRef, SpawnError>> + Send + 'a>>;
type StartFn = Arc<dyn Fn(&mut Ctx<Supervisor>) -> StartFuture<'_> + Send + Sync>;

/// One child of a supervisor: how to start it, when to restart it, how to stop it.
#[derive(Clone)]
pub struct ChildSpec {
    id: String,
    start: StartFn,
    restart: Restart,
    shutdown: Shutdown,
}

impl ChildSpec {
    /// A child that is server `S`, started with the arguments `args` makes (called at each
    /// start, restarts included). Permanent, with a 5 s shutdown timeout, unless set otherwise.
    pub fn new<S: Server>(
        id: impl Into<String>,
        args: impl Fn() -> S::Args + Send + Sync + 'static,
    ) -> Self
    where
        S::Msg: Message,
    {
        let start: StartFn = Arc::new(move |ctx: &mut Ctx<Supervisor>| {
            let a = args();
            Box::pin(async move { ctx.spawn_link::<S>(a).await.map(|r| r.mailbox_ref()) })
        });
        Self::with_start(id.into(), start, Shutdown::Timeout(Duration::from_secs(5)))
    }

    /// [`ChildSpec::new`] for a server whose requests stay in this process.
    pub fn local<S: Server>(
        id: impl Into<String>,
        args: impl Fn() -> S::Args + Send + Sync + 'static,
    ) -> Self {
        let start: StartFn = Arc::new(move |ctx: &mut Ctx<Supervisor>| {
            let a = args();
            Box::pin(async move { ctx.spawn_link_local::<S>(a).await.map(|r| r.mailbox_ref()) })
        });
        Self::with_start(id.into(), start, Shutdown::Timeout(Duration::from_secs(5)))
    }

    /// A child that is a supervisor of its own (a tree). Permanent, shut down with
    /// [`Shutdown::Infinity`], unless set otherwise.
    pub fn supervisor(id: impl Into<String>, spec: SupervisorSpec) -> Self {
        Self::new::<Supervisor>(id, move || spec.clone()).shutdown(Shutdown::Infinity)
    }

    fn with_start(id: String, start: StartFn, shutdown: Shutdown) -> Self {
        Self {
            id,
            start,
            restart: Restart::Permanent,
            shutdown,
        }
    }

    /// When it is restarted.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How it is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Its ID among its supervisor's children.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

/// A supervisor's strategy, restart intensity and children, in start order.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with this strategy, no children yet, and Erlang's default intensity: at most
    /// 1 restart in 5 seconds.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            max_restarts: 1,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// At most `max_restarts` restarts within any `period`: one more, and the supervisor
    /// shuts its children down and ends with [`MAX_RESTART_INTENSITY`].
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds a child, started after those added before it.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// A running child as its supervisor reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChildInfo {
    /// The child's ID.
    pub id: String,
    /// Its current server.
    pub server: MailboxRef,
}

/// The running children of a supervisor, in start order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Children(pub Vec<ChildInfo>);

crate::message!(Children = "reign.supervisor.Children");

/// What a supervisor answers.
#[derive(Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SupervisorMsg {
    /// Its running children (Erlang's `which_children`).
    WhichChildren(ReplyTo<Children>),
}

crate::message!(SupervisorMsg = "reign.supervisor.Msg");

struct Running {
    server: MailboxRef,
    process: Option<Arc<Process>>,
}

/// A supervisor (Erlang's `supervisor`): a server that starts its children in order, linked,
/// restarts them by its [`Strategy`] and each child's [`Restart`], and, past its restart
/// intensity, shuts them down and ends. When it stops, it shuts its children down in reverse
/// order, each by its [`Shutdown`]. It traps exits. Start one with
/// [`Node::spawn`](crate::Node::spawn) (the arguments are its [`SupervisorSpec`]) or as a
/// child of another ([`ChildSpec::supervisor`]).
///
/// ```
/// use std::time::Duration;
/// use reign_core::{ChildSpec, Ctx, Exit, Node, Server, Strategy, Supervisor, SupervisorSpec};
///
/// struct Worker;
/// impl Server for Worker {
///     type Msg = ();
///     type Args = ();
///     async fn init(_: (), _: &mut Ctx<Self>) -> Result<Self, Exit> {
///         Ok(Worker)
///     }
///     async fn handle(&mut self, _: (), _: &mut Ctx<Self>) -> Result<(), Exit> {
///         Err(Exit::user("crash")) // every message crashes it
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::new("a".parse().unwrap());
/// let spec = SupervisorSpec::new(Strategy::OneForOne)
///     .intensity(3, Duration::from_secs(10))
///     .child(ChildSpec::new::<Worker>("worker", || ()));
/// let sup = node.spawn::<Supervisor>(spec).await.unwrap();
/// let first = sup.children(Duration::from_secs(1)).await.unwrap();
/// # let _ = first;
/// # }
/// ```
pub struct Supervisor {
    spec: SupervisorSpec,
    /// Per child of the spec, in order: its running server, if any.
    running: Vec<Option<Running>>,
    restarts: VecDeque<Instant>,
}

impl ServerRef<Supervisor> {
    /// The supervisor's running children, in start order.
    pub async fn children(&self, timeout: Duration) -> Result<Vec<ChildInfo>, CallError> {
        self.call(SupervisorMsg::WhichChildren, timeout)
            .await
            .map(|c| c.0)
    }
}

impl Server for Supervisor {
    type Msg = SupervisorMsg;
    type Args = SupervisorSpec;

    async fn init(spec: SupervisorSpec, ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        ctx.trap_exit(true);
        let mut sup = Supervisor {
            running: (0..spec.children.len()).map(|_| None).collect(),
            spec,
            restarts: VecDeque::new(),
        };
        for i in 0..sup.running.len() {
            if let Err(e) = sup.start(i, ctx).await {
                sup.stop_from(0, ctx).await;
                return Err(Exit::user(format!(
                    "child {} failed to start: {e}",
                    reign_tls::ratelimit::Escaped(&sup.spec.children[i].id)
                )));
            }
        }
        Ok(sup)
    }

    async fn handle(&mut self, msg: SupervisorMsg, _: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            SupervisorMsg::WhichChildren(reply) => {
                let children = self
                    .spec
                    .children
                    .iter()
                    .zip(&self.running)
                    .filter_map(|(spec, run)| {
                        run.as_ref().map(|r| ChildInfo {
                            id: spec.id.clone(),
                            server: r.server.clone(),
                        })
                    })
                    .collect();
                reply.send(Children(children));
            }
        }
        Ok(())
    }

    async fn handle_info(&mut self, info: Info, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let Info::Exit(signal) = info else {
            return Ok(());
        };
        let Some(i) = self
            .running
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.server == signal.from))
        else {
            tracing::debug!(supervisor = %ctx.me(), from = %signal.from, "exit signal from no child");
            return Ok(());
        };
        self.running[i] = None;
        let child = &self.spec.children[i];
        let restart = match child.restart {
            Restart::Permanent => true,
            Restart::Transient => {
                !matches!(signal.reason, DownReason::Normal | DownReason::Shutdown)
            }
            Restart::Temporary => false,
        };
        tracing::debug!(supervisor = %ctx.me(), child = %reign_tls::ratelimit::Escaped(&child.id), reason = %signal.reason, restart, "child ended");
        if restart {
            self.restart(i, ctx).await?;
        }
        Ok(())
    }

    async fn terminate(&mut self, _: &DownReason, ctx: &mut Ctx<Self>) {
        self.stop_from(0, ctx).await;
    }
}

impl Supervisor {
    /// Starts child `i`.
    async fn start(&mut self, i: usize, ctx: &mut Ctx<Self>) -> Result<(), SpawnError> {
        let start = self.spec.children[i].start.clone();
        let server = start(ctx).await?;
        let process = ctx.node().inner.process(&server);
        self.running[i] = Some(Running { server, process });
        Ok(())
    }

    /// Restarts after child `i` ended, by the strategy; each restart counts against the
    /// intensity, failed starts included.
    async fn restart(&mut self, i: usize, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let first = match self.spec.strategy {
            Strategy::OneForOne => i,
            Strategy::OneForAll => 0,
            Strategy::RestForOne => i,
        };
        let last = match self.spec.strategy {
            Strategy::OneForOne => i,
            _ => self.running.len() - 1,
        };
        loop {
            self.count_restart(ctx).await?;
            // The others the strategy restarts stop first, last started first.
            for j in (first..=last).rev() {
                if j != i || self.running[j].is_some() {
                    self.stop_child(j, ctx).await;
                }
            }
            let mut failed = None;
            for j in first..=last {
                // One-for-one restarts only `i`; the others restart what they stopped, a
                // temporary child excepted (it is not restarted: it is gone).
                if j != i && self.spec.children[j].restart == Restart::Temporary {
                    continue;
                }
                if let Err(e) = self.start(j, ctx).await {
                    tracing::warn!(supervisor = %ctx.me(), child = %reign_tls::ratelimit::Escaped(&self.spec.children[j].id), error = %e, "child failed to restart");
                    failed = Some(j);
                    break;
                }
            }
            if failed.is_none() {
                return Ok(());
            }
        }
    }

    async fn count_restart(&mut self, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let now = Instant::now();
        self.restarts.push_back(now);
        while let Some(&t) = self.restarts.front() {
            if now.duration_since(t) >= self.spec.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        if self.restarts.len() as u64 > u64::from(self.spec.max_restarts) {
            reign_tls::warn_limited!(supervisor = %ctx.me(), restarts = self.restarts.len(), period = ?self.spec.period, "supervisor reached its restart intensity: it shuts its children down and ends");
            return Err(Exit::user(MAX_RESTART_INTENSITY));
        }
        Ok(())
    }

    /// Stops every running child from `first` on, last started first.
    async fn stop_from(&mut self, first: usize, ctx: &mut Ctx<Self>) {
        for j in (first..self.running.len()).rev() {
            self.stop_child(j, ctx).await;
        }
    }

    /// Stops child `j` by its shutdown, and waits for its end.
    async fn stop_child(&mut self, j: usize, ctx: &mut Ctx<Self>) {
        let Some(run) = self.running[j].take() else {
            return;
        };
        ctx.unlink(&run.server);
        let Some(process) = run.process else {
            return;
        };
        let ended = process.done.clone();
        match self.spec.children[j].shutdown {
            Shutdown::BrutalKill => {
                ctx.kill(&run.server);
            }
            Shutdown::Timeout(limit) => {
                ctx.exit(&run.server, DownReason::Shutdown);
                if tokio::time::timeout(limit, ended.cancelled())
                    .await
                    .is_err()
                {
                    tracing::warn!(supervisor = %ctx.me(), child = %reign_tls::ratelimit::Escaped(&self.spec.children[j].id), ?limit, "child did not stop in time: killed");
                    ctx.kill(&run.server);
                }
            }
            Shutdown::Infinity => ctx.exit(&run.server, DownReason::Shutdown),
        }
        // A kill takes effect at the child's next `.await`.
        ended.cancelled().await;
    }
}
