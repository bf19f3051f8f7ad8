//! [`Ctx`]: what a server's handlers can do besides their own state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::envelope::Envelope;
use super::process::{Process, Signal, SignalOutcome};
use super::reply::{self, Reply, ReplyTo};
use super::{AsMailboxRef, ExitSignal, Server, ServerRef, SpawnError};
use crate::{Address, CallError, DownReason, Mailbox, MailboxRef, Message, MonitorRef, Node};

/// What came next for a server.
pub(crate) enum Next<M> {
    Signal(Signal),
    Msg(Envelope<M>),
    Timeout,
}

/// A server's context, given to each of its handlers: its own address, its node, monitors,
/// links and exit signals, calls that name it as the caller, and how it stops.
///
/// Links (Erlang's `link`) are two-way: when a linked server ends with any reason but
/// [`DownReason::Normal`], this one ends with the same reason, unless it traps exits
/// ([`Ctx::trap_exit`]), in which case it gets [`Info::Exit`](crate::Info::Exit) instead.
/// Links work with servers of this node and of other nodes (see [`Ctx::link`]); exit signals
/// sent with [`Ctx::exit`] and [`Ctx::kill`] reach servers of this node.
pub struct Ctx<S: Server> {
    mailbox: Mailbox<Envelope<S::Msg>>,
    signals: mpsc::UnboundedReceiver<Signal>,
    process: Arc<Process>,
    /// The linked servers; for a link across nodes that this server made, the monitor its
    /// LINK set (the peer's end of the link reports through it).
    links: HashMap<MailboxRef, Option<MonitorRef>>,
    parent: Option<MailboxRef>,
    trap_exit: bool,
    stop: Option<DownReason>,
    timeout: Option<Duration>,
    /// What the server ends with when this is dropped: `Killed` until the loop says
    /// otherwise (a task aborted, or dropped with its runtime, was killed).
    exit_reason: DownReason,
}

impl<S: Server> Ctx<S> {
    pub(crate) fn new(
        mailbox: Mailbox<Envelope<S::Msg>>,
        signals: mpsc::UnboundedReceiver<Signal>,
        process: Arc<Process>,
    ) -> Self {
        Self {
            mailbox,
            signals,
            process,
            links: HashMap::new(),
            parent: None,
            trap_exit: false,
            stop: None,
            timeout: None,
            exit_reason: DownReason::Killed,
        }
    }

    /// This server's own address.
    pub fn myself(&self) -> ServerRef<S> {
        ServerRef::new(self.mailbox.address())
    }

    /// This server's identity.
    pub fn me(&self) -> MailboxRef {
        self.mailbox.mailbox_ref()
    }

    /// The node the server runs on.
    pub fn node(&self) -> Node {
        self.mailbox.node()
    }

    /// The server that spawned this one linked ([`Ctx::spawn_link`]), such as its supervisor.
    pub fn parent(&self) -> Option<&MailboxRef> {
        self.parent.as_ref()
    }

    /// Monitors `target`: when it ends, [`Info::Down`](crate::Info::Down) reaches
    /// [`Server::handle_info`] (see [`Mailbox::monitor`]).
    pub fn monitor<T: Send + 'static>(&self, target: &Address<T>) -> MonitorRef {
        self.mailbox.monitor(target)
    }

    /// [`Ctx::monitor`] for a bare identity (a [`ReplyTo::caller`], a `Down`'s target).
    pub fn monitor_ref(&self, target: &MailboxRef) -> MonitorRef {
        self.mailbox.monitor_ref(target)
    }

    /// Cancels a monitor; true if it was still active (see [`Mailbox::demonitor`]).
    pub fn demonitor(&mut self, monitor: &MonitorRef) -> bool {
        self.mailbox.demonitor(monitor)
    }

    /// Links this server with `target` (Erlang's `link/1`), on this node or another: from
    /// now on, the first of the two to end sends the other an exit signal with its reason.
    /// Linking twice is linking once; linking to oneself does nothing.
    ///
    /// If `target` is not a running server (it ended, or it is a plain mailbox), this server
    /// gets an exit signal with [`DownReason::NoSuchMailbox`] at once, as Erlang's `noproc`
    /// (a plain mailbox on another node is linked one way: its end still ends this server).
    /// If `target`'s node cannot be reached, or the link to it is lost later, the exit signal
    /// is [`DownReason::NoConnection`] (Erlang's `noconnection`); the server on the other side
    /// gets the same.
    pub fn link(&mut self, target: &impl AsMailboxRef) {
        let target = target.as_mailbox_ref();
        let me = self.me();
        if target == me || self.links.contains_key(&target) {
            return;
        }
        let node = self.node();
        if target.node() != node.id() {
            let monitor = self.mailbox.link_remote(&target);
            self.links.insert(target, Some(monitor));
            return;
        }
        self.links.insert(target.clone(), None);
        if !node.inner.signal(&target, Signal::Link(me)) {
            let _ = self
                .process
                .signals()
                .send(Signal::Exit(target, DownReason::NoSuchMailbox));
        }
    }

    /// Removes the link with `target`, if any (Erlang's `unlink/1`); an exit signal it has
    /// already sent may still arrive.
    pub fn unlink(&mut self, target: &impl AsMailboxRef) {
        let target = target.as_mailbox_ref();
        let me = self.me();
        match self.links.remove(&target) {
            Some(Some(monitor)) => {
                // The peer's node unlinks its side when the LINK's monitor is cancelled.
                self.mailbox.demonitor(&monitor);
            }
            // A link the other node's server made is held there: UNLINK (ignored there if
            // there is none).
            _ if target.node() != self.mailbox.node().id() => {
                let node = self.node();
                if let Some(router) = node.inner.router() {
                    router.unlink(&me, &target);
                }
            }
            Some(None) => {
                self.node().inner.signal(&target, Signal::Unlink(me));
            }
            None => {}
        }
    }

    /// The servers linked with this one: of this node, and of other nodes those this server
    /// linked itself with (a link another node's server made is held by the link with that
    /// node, and reported by its exit signal).
    pub fn links(&self) -> impl Iterator<Item = &MailboxRef> {
        self.links.keys()
    }

    /// Whether exit signals become [`Info::Exit`](crate::Info::Exit) messages (true) or end
    /// this server when their reason is not normal (false, the default). Erlang's
    /// `process_flag(trap_exit, …)`. A server that traps exits also gets
    /// [`Server::terminate`] when its parent (supervisor) tells it to stop.
    pub fn trap_exit(&mut self, trap: bool) {
        self.trap_exit = trap;
    }

    /// Sends an exit signal with `reason` to the server `target` (Erlang's `exit/2`): it ends
    /// with that reason unless it traps exits or the reason is normal. Does nothing if
    /// `target` is not a running server of this node.
    pub fn exit(&self, target: &impl AsMailboxRef, reason: DownReason) {
        let target = target.as_mailbox_ref();
        if !self
            .node()
            .inner
            .signal(&target, Signal::Exit(self.me(), reason))
        {
            tracing::debug!(server = %self.me(), %target, "exit signal for no running server");
        }
    }

    /// Kills the server `target` (Erlang's `exit(Pid, kill)`): it ends with
    /// [`DownReason::Killed`] at its next `.await`, whatever it traps, without
    /// `terminate`. Returns false if `target` is not a running server of this node.
    pub fn kill(&self, target: &impl AsMailboxRef) -> bool {
        self.node().inner.kill(&target.as_mailbox_ref())
    }

    /// Stops the server normally once the current handler returns (after `terminate`).
    pub fn stop(&mut self) {
        self.stop_with(DownReason::Normal);
    }

    /// Stops the server with `reason` once the current handler returns (after `terminate`).
    pub fn stop_with(&mut self, reason: DownReason) {
        self.stop = Some(reason);
    }

    /// Calls [`Info::Timeout`](crate::Info::Timeout) when no message or signal arrives for
    /// `timeout` (gen_server's timeout); `None` turns it off. It counts again from each
    /// message.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Sends `msg` to this server after `delay` (Erlang's `erlang:send_after(Delay, self(),
    /// Msg)`): a timer of its own, not reset by other messages. Nothing comes if the server
    /// has ended by then.
    pub fn send_after(&self, msg: S::Msg, delay: Duration) {
        let me = self.myself();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = me.cast(msg);
        });
    }

    /// Calls `server` as [`ServerRef::call`] does, naming this server as the caller
    /// ([`ReplyTo::caller`]).
    pub async fn call<T: Server, R: Reply>(
        &self,
        server: &ServerRef<T>,
        request: impl FnOnce(ReplyTo<R>) -> T::Msg,
        timeout: Duration,
    ) -> Result<R, CallError> {
        reply::call(server.envelope_address(), Some(self.me()), request, timeout).await
    }

    /// Starts server `T` linked with this one (Erlang's `spawn_link`, gen_server's
    /// `start_link`): the link exists before `T`'s `init` runs. If `init` fails, the spawn
    /// returns why and no exit signal comes. `T` can be reached from other nodes.
    pub async fn spawn_link<T: Server>(&mut self, args: T::Args) -> Result<ServerRef<T>, SpawnError>
    where
        T::Msg: Message,
    {
        let node = self.node();
        let me = self.me();
        super::process::spawn::<T>(&node, node.mailbox(), args, Some((&me, &mut self.links))).await
    }

    /// [`Ctx::spawn_link`] for a server whose requests stay in this process.
    pub async fn spawn_link_local<T: Server>(
        &mut self,
        args: T::Args,
    ) -> Result<ServerRef<T>, SpawnError> {
        let node = self.node();
        let me = self.me();
        super::process::spawn::<T>(
            &node,
            node.local_mailbox(),
            args,
            Some((&me, &mut self.links)),
        )
        .await
    }

    /// Starts server `T` on `node` from its factory `factory` ([`Node::spawn_remote`]) and
    /// links it with this one as soon as its address is back (a server that ends before that
    /// gives this one an exit signal `no such mailbox`, as a link to the dead does).
    pub async fn spawn_link_remote<T: Server>(
        &mut self,
        node: &crate::NodeId,
        factory: &str,
        args: T::Args,
        timeout: Duration,
    ) -> Result<ServerRef<T>, SpawnError>
    where
        T::Msg: Message,
        T::Args: Message,
    {
        let server = self
            .node()
            .spawn_remote::<T>(node, factory, args, timeout)
            .await?;
        self.link(&server);
        Ok(server)
    }

    pub(crate) fn set_parent(&mut self, parent: MailboxRef) {
        self.links.insert(parent.clone(), None);
        self.parent = Some(parent);
    }

    pub(crate) fn unlink_parent_quietly(&mut self) {
        if let Some(p) = &self.parent {
            self.links.remove(p);
        }
    }

    pub(crate) fn set_exit_reason(&mut self, reason: DownReason) {
        self.exit_reason = reason;
    }

    pub(crate) fn take_stop(&mut self) -> Option<DownReason> {
        self.stop.take()
    }

    /// Waits for the next signal, message or timeout; signals first.
    pub(crate) async fn next(&mut self) -> Next<S::Msg> {
        let sleep = async {
            match self.timeout {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            Some(signal) = self.signals.recv() => Next::Signal(signal),
            msg = self.mailbox.recv() => Next::Msg(msg),
            () = sleep => Next::Timeout,
        }
    }

    /// A `Down` of a link's monitor (a link across nodes this server made) is that link's
    /// exit signal.
    pub(crate) fn link_exit(&self, down: &crate::Down) -> Option<Signal> {
        match self.links.get(&down.target) {
            Some(Some(monitor)) if monitor.fired(down) => {
                Some(Signal::Exit(down.target.clone(), down.reason.clone()))
            }
            _ => None,
        }
    }

    /// What `signal` does to this server (Erlang's rules for links and exit signals).
    pub(crate) fn on_signal(&mut self, signal: Signal) -> SignalOutcome {
        match signal {
            Signal::Link(from) => {
                self.links.entry(from).or_insert(None);
                SignalOutcome::Handled
            }
            Signal::Unlink(from) => {
                if let Some(Some(monitor)) = self.links.remove(&from) {
                    self.mailbox.demonitor(&monitor);
                }
                SignalOutcome::Handled
            }
            Signal::Stop(reason) => SignalOutcome::Stop(reason),
            Signal::LinkExit(from, reason) => self.exit_signal(from, reason, true),
            Signal::Exit(from, reason) => {
                let linked = self.links.remove(&from).is_some();
                self.exit_signal(from, reason, linked)
            }
        }
    }

    /// Erlang's rules for an exit signal.
    fn exit_signal(&mut self, from: MailboxRef, reason: DownReason, linked: bool) -> SignalOutcome {
        if self.trap_exit {
            if self.parent.as_ref() == Some(&from) {
                SignalOutcome::Stop(reason)
            } else {
                SignalOutcome::Trapped(ExitSignal {
                    from,
                    reason,
                    linked,
                })
            }
        } else if reason.is_normal() {
            SignalOutcome::Handled
        } else {
            SignalOutcome::Die(reason)
        }
    }
}

impl<S: Server> Drop for Ctx<S> {
    /// The server's end, however it came (returned, stopped, panicked, killed, or its task
    /// dropped with the runtime): it leaves the process table, its mailbox closes with the
    /// reason (monitors fire; queued calls fail with `Dropped`), each linked server gets the
    /// exit signal, and whoever waits for its end is woken.
    fn drop(&mut self) {
        let me = self.me();
        let node = self.node();
        let reason = std::mem::replace(&mut self.exit_reason, DownReason::Normal);
        node.inner.processes.remove(me.id);
        // Links asked for but not yet seen are links too.
        self.signals.close();
        while let Ok(signal) = self.signals.try_recv() {
            if let Signal::Link(from) = signal {
                self.links.entry(from).or_insert(None);
            }
        }
        let router = node.inner.router();
        for (linked, made_here) in self.links.drain() {
            if linked.node() == node.id() {
                node.inner
                    .signal(&linked, Signal::Exit(me.clone(), reason.clone()));
            } else if made_here.is_some()
                && let Some(router) = &router
            {
                // Before the mailbox closes: its monitors' DEMONITOR follow the EXIT.
                router.exit(&me, &linked, &reason);
            }
            // A link the other node made: its monitor of this server reports the end.
        }
        self.mailbox.shared.terminate(reason.clone());
        match reason {
            DownReason::Normal | DownReason::Shutdown => {
                tracing::debug!(server = %me, %reason, "server ended");
            }
            _ => reign_tls::warn_limited!(server = %me, %reason, "server ended"),
        }
        self.process.done.cancel();
    }
}
