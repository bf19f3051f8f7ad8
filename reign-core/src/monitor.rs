//! Monitors: a mailbox asks to be told, with a [`Down`] message, when another one ends.

use std::fmt;
use std::sync::{Arc, Weak};

use crate::address::{Address, Route};
use crate::inbox::{AnyInbox, Record, TargetHandle};
use crate::{Down, DownReason, Mailbox, MailboxRef, MonitorId};

/// A monitor, as returned by [`Mailbox::monitor`]; give it to [`Mailbox::demonitor`] to
/// cancel. Its [`id`](MonitorRef::id) is the [`Down::monitor`] of the `Down` it fires.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MonitorRef {
    id: MonitorId,
    target: MailboxRef,
}

impl MonitorRef {
    /// The monitor's number, as found in [`Down::monitor`].
    pub fn id(&self) -> MonitorId {
        self.id
    }

    /// The watched mailbox.
    pub fn target(&self) -> &MailboxRef {
        &self.target
    }

    /// Whether `down` was fired by this monitor.
    pub fn fired(&self, down: &Down) -> bool {
        down.monitor == self.id
    }
}

impl fmt::Debug for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MonitorRef({} on {})", self.id, self.target)
    }
}

/// A target resolved as far as this node can.
enum Resolved {
    Local(Arc<dyn AnyInbox>),
    Remote,
    Gone,
}

impl<M: Send + 'static> Mailbox<M> {
    /// Monitors `target`: when it ends, a [`Down`] arrives in this mailbox, converted with
    /// `M::from`, in order with the other messages.
    ///
    /// The `Down`'s reason is [`Normal`](DownReason::Normal) if the target was dropped,
    /// [`User`](DownReason::User) if it was closed with a reason,
    /// [`NoSuchMailbox`](DownReason::NoSuchMailbox) at once if it had already ended, and
    /// [`NoConnection`](DownReason::NoConnection) if it is on a node that cannot be reached
    /// (at once when this node is not in a cluster). Any mailbox can monitor any address,
    /// including its own, and the same target more than once (each monitor fires).
    ///
    /// ```
    /// use std::time::Duration;
    /// use reign_core::{Down, DownReason, Node};
    ///
    /// enum Msg {
    ///     Work(u32),
    ///     Down(Down),
    /// }
    /// impl From<Down> for Msg {
    ///     fn from(d: Down) -> Self {
    ///         Msg::Down(d)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let node = Node::new("a".parse().unwrap());
    /// let (mut watcher, _) = node.local_mailbox::<Msg>();
    /// let (worker, worker_addr) = node.mailbox::<u32>();
    ///
    /// let monitor = watcher.monitor(&worker_addr);
    /// worker.close(DownReason::user("crashed"));
    ///
    /// let down = watcher
    ///     .recv_matching_timeout(Duration::from_secs(1), |m| matches!(m, Msg::Down(_)))
    ///     .await;
    /// match down {
    ///     Some(Msg::Down(d)) => {
    ///         assert!(monitor.fired(&d));
    ///         assert_eq!(d.target, worker_addr.mailbox_ref());
    ///         assert_eq!(d.reason, DownReason::user("crashed"));
    ///     }
    ///     _ => panic!("no Down"),
    /// }
    /// # }
    /// ```
    pub fn monitor<T: Send + 'static>(&self, target: &Address<T>) -> MonitorRef
    where
        M: From<Down>,
    {
        self.monitor_inner(target, Some(M::from))
    }

    /// [`Mailbox::monitor`] for a bare identity, such as a [`Down::target`] or an identity
    /// from the wire. An identity of this node is looked up among its live mailboxes.
    pub fn monitor_ref(&self, target: &MailboxRef) -> MonitorRef
    where
        M: From<Down>,
    {
        let resolved = self.resolve_ref(target);
        self.monitor_resolved(target.clone(), resolved, Some(M::from))
    }

    pub(crate) fn monitor_inner<T: Send + 'static>(
        &self,
        target: &Address<T>,
        convert: Option<fn(Down) -> M>,
    ) -> MonitorRef {
        let target_ref = target.mailbox_ref();
        let resolved = match &target.route {
            Route::Local(shared) => Resolved::Local(shared.clone()),
            _ => self.resolve_ref(&target_ref),
        };
        self.monitor_resolved(target_ref, resolved, convert)
    }

    fn resolve_ref(&self, target: &MailboxRef) -> Resolved {
        let node = &self.shared.node;
        if node.owns(target) {
            node.inbox(target.id)
                .map_or(Resolved::Gone, Resolved::Local)
        } else if target.node() == node.key.id() {
            // An earlier life of this node.
            Resolved::Gone
        } else {
            Resolved::Remote
        }
    }

    /// A monitor of server `target` on another node that its node also records as a link
    /// (a server's half of a link across nodes, see `Ctx::link`).
    pub(crate) fn link_remote(&self, target: &MailboxRef) -> MonitorRef
    where
        M: From<Down>,
    {
        self.monitor_with(target.clone(), Resolved::Remote, Some(M::from), true)
    }

    fn monitor_resolved(
        &self,
        target: MailboxRef,
        resolved: Resolved,
        convert: Option<fn(Down) -> M>,
    ) -> MonitorRef {
        self.monitor_with(target, resolved, convert, false)
    }

    fn monitor_with(
        &self,
        target: MailboxRef,
        resolved: Resolved,
        convert: Option<fn(Down) -> M>,
        as_link: bool,
    ) -> MonitorRef {
        let node = &self.shared.node;
        let id = node.next_monitor();
        let me: Weak<dyn AnyInbox> = Arc::downgrade(&self.shared) as Weak<dyn AnyInbox>;
        let fire = |reason: DownReason| {
            self.shared
                .deliver_down(Down::new(id, target.clone(), reason, None));
        };
        match resolved {
            Resolved::Local(t) => {
                self.shared
                    .add_watching(id, TargetHandle::Local(Arc::downgrade(&t)), convert);
                if t.add_watched_by(Record { id, watcher: me }).is_err() {
                    fire(DownReason::NoSuchMailbox);
                }
            }
            Resolved::Gone => {
                self.shared
                    .add_watching(id, TargetHandle::Remote(target.clone()), convert);
                fire(DownReason::NoSuchMailbox);
            }
            Resolved::Remote => {
                self.shared
                    .add_watching(id, TargetHandle::Remote(target.clone()), convert);
                let watcher = self.shared.mailbox_ref();
                let result = match node.router() {
                    Some(router) if as_link => router.link(&watcher, id, &target),
                    Some(router) => router.monitor(&watcher, id, &target),
                    None => Err(DownReason::NoConnection),
                };
                if let Err(reason) = result {
                    fire(reason);
                }
            }
        }
        tracing::trace!(watcher = %self.shared.id, %target, monitor = %id, "monitor set");
        MonitorRef { id, target }
    }

    /// Cancels a monitor. After this returns, no `Down` for it will be received: if it had
    /// already fired, its `Down` is removed from the queue (Erlang's
    /// `demonitor(Ref, [flush])`).
    ///
    /// Returns true if the monitor was still active, false if it had fired (or was
    /// cancelled already, or belongs to another mailbox).
    pub fn demonitor(&mut self, monitor: &MonitorRef) -> bool {
        match self.shared.remove_watching(monitor.id) {
            Some(TargetHandle::Local(target)) => {
                if let Some(t) = target.upgrade() {
                    t.remove_watched_by(monitor.id);
                }
                true
            }
            Some(TargetHandle::Remote(target)) => {
                self.shared
                    .node
                    .remote_demonitor(&self.shared.mailbox_ref(), monitor.id, &target);
                true
            }
            None => {
                // Fired: `remove_watching` flushed the shared queue; flush what we took.
                self.local.retain(|item| item.monitor() != Some(monitor.id));
                false
            }
        }
    }
}
