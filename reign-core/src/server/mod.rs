//! Servers: Erlang's `gen_server` behaviour, with typed calls, links and exit signals.
//!
//! A [`Server`] is a type whose handlers run one at a time in a task of its own, fed by its
//! mailbox; [`Node::spawn`] starts one and returns its [`ServerRef`]. Links, exit signals and
//! `trap_exit` ([`Ctx::link`], [`Ctx::trap_exit`]) let one server's end end another, which is
//! what [supervisors](crate::Supervisor) are built on.

use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod catch;
mod ctx;
mod envelope;
mod names;
mod process;
mod remote_spawn;
mod reply;
mod singleton;
mod supervisor;
#[cfg(test)]
mod tests;

pub use ctx::Ctx;
pub(crate) use envelope::Envelope;
pub use remote_spawn::{Factories, FactoryOptions, SPAWNER_NAME, SpawnRefused};
pub use reply::{Reply, ReplyTo};
pub use singleton::{Singleton, SingletonMsg, SingletonSpec};
pub use supervisor::{
    ChildInfo, ChildSpec, Children, MAX_RESTART_INTENSITY, Restart, Shutdown, Strategy, Supervisor,
    SupervisorMsg, SupervisorSpec,
};

use crate::{
    Address, CallError, Down, DownReason, MailboxRef, Message, Node, NodeId, SendError,
    SendErrorReason,
};

/// A server: state and handlers that run one message at a time, in a task of its own
/// (Erlang's `gen_server`).
///
/// - [`init`](Server::init) builds the state from the arguments given to
///   [`Node::spawn`]; an error there fails the spawn.
/// - [`handle`](Server::handle) takes each request of the server's type `Msg`. A request of
///   a **call** holds a [`ReplyTo<R>`]: the variant fixes the reply type, so the compiler
///   checks both sides (gen_server's `handle_call` and `handle_cast` are the variants of one
///   enum, matched in one handler).
/// - [`handle_info`](Server::handle_info) takes what the node tells the server: a monitor's
///   [`Down`], a trapped exit signal, a timeout ([`Info`]).
/// - [`terminate`](Server::terminate) runs when the server stops by itself (a handler asked
///   with [`Ctx::stop`], returned an error, or panicked) or, if it traps exits, when its
///   parent tells it to stop; not when it is killed or ended by a signal it does not trap.
///
/// A handler's error ([`Exit`], which any `std::error::Error` converts into with `?`) ends
/// the server with that reason, and a panic in a handler ends it with
/// [`DownReason::Panic`]: the node and its runtime are unharmed, monitors fire, linked
/// servers get the exit signal, queued calls fail at once with [`CallError::Dropped`].
///
/// ```
/// use std::time::Duration;
/// use reign_core::{Ctx, Exit, Node, ReplyTo, Server};
/// use serde::{Deserialize, Serialize};
///
/// struct Counter(u64);
///
/// #[derive(Serialize, Deserialize)]
/// enum Msg {
///     Add(u64),             // a cast
///     Get(ReplyTo<u64>),    // a call answered with a u64
/// }
/// reign_core::message!(Msg = "example.Counter");
///
/// impl Server for Counter {
///     type Msg = Msg;
///     type Args = u64;
///     async fn init(start: u64, _: &mut Ctx<Self>) -> Result<Self, Exit> {
///         Ok(Counter(start))
///     }
///     async fn handle(&mut self, msg: Msg, _: &mut Ctx<Self>) -> Result<(), Exit> {
///         match msg {
///             Msg::Add(n) => self.0 += n,
///             Msg::Get(reply) => reply.send(self.0),
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::new("a".parse().unwrap());
/// let counter = node.spawn::<Counter>(40).await.unwrap();
/// counter.cast(Msg::Add(2)).unwrap();
/// assert_eq!(counter.call(Msg::Get, Duration::from_secs(1)).await, Ok(42));
/// # }
/// ```
pub trait Server: Send + Sized + 'static {
    /// The requests the server takes: casts, and calls (variants that hold a [`ReplyTo`]).
    /// For a server reached from other nodes ([`Node::spawn`]) it is a [`Message`].
    type Msg: Send + 'static;
    /// What [`Server::init`] builds the server from.
    type Args: Send + 'static;

    /// Builds the state. Runs in the server's task before any message is handled; an error
    /// (or panic) fails the spawn with [`SpawnError::Init`].
    fn init(
        args: Self::Args,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = Result<Self, Exit>> + Send;

    /// Handles one request. An error ends the server with its reason, after
    /// [`Server::terminate`].
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = Result<(), Exit>> + Send;

    /// Handles what the node tells the server ([`Info`]). The default ignores it (logged at
    /// `debug`).
    fn handle_info(
        &mut self,
        info: Info,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = Result<(), Exit>> + Send {
        let _ = ctx;
        async move {
            tracing::debug!(?info, "server ignored info");
            Ok(())
        }
    }

    /// Runs once when the server stops by itself or is told to by its parent while it
    /// traps exits, with the reason it ends with. The default does nothing.
    fn terminate(
        &mut self,
        reason: &DownReason,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }
}

/// What the node tells a server, given to [`Server::handle_info`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Info {
    /// A monitor the server set ([`Ctx::monitor`]) fired.
    Down(Down),
    /// An exit signal, while the server traps exits ([`Ctx::trap_exit`]): a linked server
    /// ended, or one sent it with [`Ctx::exit`].
    Exit(ExitSignal),
    /// No message came within the timeout set with [`Ctx::set_timeout`].
    Timeout,
    /// The server held a cluster-wide name and lost it to another claim after a partition
    /// healed ([`GlobalNames::register_server`](crate::GlobalNames::register_server)).
    NameConflict(crate::NameConflict),
}

/// An exit signal as a server that traps exits receives it (Erlang's `{'EXIT', From, Reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitSignal {
    /// Who sent it: the linked server that ended, or the sender of [`Ctx::exit`].
    pub from: MailboxRef,
    /// Why.
    pub reason: DownReason,
    /// Whether it came through a link (the link is gone now).
    pub linked: bool,
}

/// Why a server stops: what a handler returns to end it. Any `std::error::Error` converts
/// into one (reason [`DownReason::User`] with the error's text), so `?` works in handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    reason: DownReason,
}

impl Exit {
    /// An exit with this reason.
    pub fn new(reason: DownReason) -> Self {
        Self { reason }
    }

    /// An exit with a reason of the program's own ([`DownReason::User`]).
    pub fn user(reason: impl Into<String>) -> Self {
        Self::new(DownReason::user(reason))
    }

    /// The reason.
    pub fn reason(&self) -> &DownReason {
        &self.reason
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Exit {
    fn from(e: E) -> Self {
        Self::user(e.to_string())
    }
}

impl From<DownReason> for Exit {
    fn from(reason: DownReason) -> Self {
        Self::new(reason)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit: {}", self.reason)
    }
}

/// Why a server could not be started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// [`Server::init`] failed (or panicked) with this reason.
    #[error("init failed: {0}")]
    Init(DownReason),
    /// The other node refused a remote spawn ([`Node::spawn_remote`]).
    #[error("refused: {0}")]
    Refused(SpawnRefused),
    /// The factory makes servers of another type: their requests have another tag.
    #[error("the factory makes servers of type {found:?}, not {expected:?}")]
    WrongType {
        /// The tag of `S::Msg`.
        expected: &'static str,
        /// The tag of the factory's servers.
        found: String,
    },
    /// The other node could not be asked, or did not answer in time.
    #[error("the spawn request failed: {0}")]
    Call(CallError),
}

/// Anything that names a mailbox: what [`Ctx::link`], [`Ctx::exit`] and friends take.
pub trait AsMailboxRef {
    /// The mailbox's identity.
    fn as_mailbox_ref(&self) -> MailboxRef;
}

impl AsMailboxRef for MailboxRef {
    fn as_mailbox_ref(&self) -> MailboxRef {
        self.clone()
    }
}

impl<M> AsMailboxRef for Address<M> {
    fn as_mailbox_ref(&self) -> MailboxRef {
        self.mailbox_ref()
    }
}

impl<S: Server> AsMailboxRef for ServerRef<S> {
    fn as_mailbox_ref(&self) -> MailboxRef {
        self.addr.mailbox_ref()
    }
}

/// The typed address of a running [`Server`]: cast to it, call it, monitor or link it; the
/// same on this node or another. Cheap to clone; compares and hashes by identity; travels
/// inside messages as a plain address (so does a server's [`Address`]: a `ServerRef<S>` and
/// an `Address<S::Msg>` of the same server have the same bytes).
pub struct ServerRef<S: Server> {
    addr: Address<Envelope<S::Msg>>,
}

impl<S: Server> ServerRef<S> {
    pub(crate) fn new(addr: Address<Envelope<S::Msg>>) -> Self {
        Self { addr }
    }

    /// Sends a request that needs no answer (gen_server's `cast`): never waits; the request
    /// comes back with the reason if it cannot be sent (see [`Address::try_send`]).
    pub fn cast(&self, msg: S::Msg) -> Result<(), SendError<S::Msg>> {
        self.addr.try_send(Envelope::Msg(msg)).map_err(unwrap_send)
    }

    /// Calls the server (gen_server's `call`): `request` builds the request from the reply
    /// handle, typically a variant's constructor (`Msg::Get`), which fixes the reply type.
    /// Waits at most `timeout`.
    ///
    /// Fails with [`CallError::Dropped`] as soon as the server drops the handle unanswered
    /// (its handler forgot it, panicked, or the server ended with the request queued),
    /// [`CallError::Down`] if the server ends or its node is lost first,
    /// [`CallError::Send`] if the request cannot be sent, [`CallError::Timeout`] otherwise.
    /// The call is anonymous: the handler sees the caller's node only; from a server, use
    /// [`Ctx::call`].
    pub async fn call<R: Reply>(
        &self,
        request: impl FnOnce(ReplyTo<R>) -> S::Msg,
        timeout: Duration,
    ) -> Result<R, CallError> {
        reply::call(&self.addr, None, request, timeout).await
    }

    /// Stops a server of this node with `reason` (gen_server's `stop`): it runs its
    /// `terminate` once its current handler returns, and ends; for a supervisor, after its
    /// children. Waits at most `timeout` for the end; true if it ended (or had already). A
    /// server of another node is not stopped (false): send it a request of its own for that.
    pub async fn stop(&self, reason: DownReason, timeout: Duration) -> bool {
        let Ok(node) = self.addr.routing_node() else {
            return false;
        };
        let me = self.mailbox_ref();
        if !node.owns(&me) {
            return false;
        }
        let Some(process) = node.process(&me) else {
            return true;
        };
        let _ = process.signals().send(process::Signal::Stop(reason));
        tokio::time::timeout(timeout, process.done.cancelled())
            .await
            .is_ok()
    }

    /// Kills a server of this node (Erlang's `exit(Pid, kill)`): it ends with
    /// [`DownReason::Killed`] at its next `.await`, without `terminate`, whatever it traps.
    /// False if it is not a running server of this node.
    pub fn kill(&self) -> bool {
        match self.addr.routing_node() {
            Ok(node) => node.kill(&self.mailbox_ref()),
            Err(_) => false,
        }
    }

    /// The server's identity.
    pub fn mailbox_ref(&self) -> MailboxRef {
        self.addr.mailbox_ref()
    }

    /// The node the server runs on.
    pub fn node_id(&self) -> &NodeId {
        self.addr.node_id()
    }

    /// Whether the server is on this process's node (its address routes directly).
    pub fn is_local(&self) -> bool {
        self.addr.is_local()
    }

    pub(crate) fn envelope_address(&self) -> &Address<Envelope<S::Msg>> {
        &self.addr
    }
}

/// A request comes back out of its envelope (a send only ever carries a request).
fn unwrap_send<M>(e: SendError<Envelope<M>>) -> SendError<M> {
    let reason = e.reason();
    match e.into_inner() {
        Envelope::Msg(m) => SendError::new(reason, m),
        Envelope::Down(_) | Envelope::NameConflict(_) => unreachable_down(reason),
    }
}

#[cold]
fn unreachable_down<M>(reason: SendErrorReason) -> SendError<M> {
    // `cast` wraps a request; nothing else reaches `unwrap_send`.
    panic!("a send of a request gave back a Down ({reason})")
}

impl<S: Server> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr.clone(),
        }
    }
}

impl<S: Server> PartialEq for ServerRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.addr == other.addr
    }
}

impl<S: Server> Eq for ServerRef<S> {}

impl<S: Server> Hash for ServerRef<S> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.addr.hash(h)
    }
}

impl<S: Server> fmt::Display for ServerRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.addr, f)
    }
}

impl<S: Server> fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ServerRef<{}>({:?})",
            std::any::type_name::<S>(),
            self.addr
        )
    }
}

impl<S: Server> Serialize for ServerRef<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        self.addr.serialize(s)
    }
}

impl<'de, S: Server> Deserialize<'de> for ServerRef<S>
where
    S::Msg: Message,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Address::<Envelope<S::Msg>>::deserialize(d).map(Self::new)
    }
}

impl Node {
    /// Starts a server that other nodes can reach too, and waits for its
    /// [`init`](Server::init): returns its address, or why `init` failed.
    ///
    /// The server runs in a tokio task of the runtime this is called on. It is not linked to
    /// the caller; see [`Ctx::spawn_link`] and [`Supervisor`](crate::Supervisor).
    pub async fn spawn<S: Server>(&self, args: S::Args) -> Result<ServerRef<S>, SpawnError>
    where
        S::Msg: Message,
    {
        process::spawn::<S>(self, self.mailbox(), args, None).await
    }

    /// [`Node::spawn`] for a server whose requests stay in this process (`Msg` need not be a
    /// [`Message`]: it can hold channels, closures, handles).
    pub async fn spawn_local<S: Server>(&self, args: S::Args) -> Result<ServerRef<S>, SpawnError> {
        process::spawn::<S>(self, self.local_mailbox(), args, None).await
    }
}
