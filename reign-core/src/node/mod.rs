//! [`Node`]: the owner of a mailbox table, a name registry and the monitors between them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use crate::address::Address;
use crate::ids::NodeKey;
use crate::inbox::{AnyInbox, Shared};
use crate::mailbox::Mailbox;
pub(crate) mod registry;
mod table;
pub(crate) use table::WARM_MAX;

use crate::inbox::vtable;
use crate::remote::RemoteRouter;
use crate::{
    Down, DownReason, Incarnation, MailboxId, MailboxRef, Message, MonitorId, NodeId,
    RemoteDeliveryError, SendErrorReason,
};
use registry::Registry;

/// A node: the owner of its mailboxes, its name registry and the monitors between them.
///
/// A `Node` is a cheap handle (cloning shares the same node). There are no global statics:
/// several nodes can live in one process, which tests use. [`Node::new`] makes a node that
/// runs alone, without any cluster or certificate, for local programs and tests;
/// [`Node::start`] makes one on the cluster's mutual-TLS mesh, where the same mailboxes,
/// addresses, monitors and names work across nodes.
///
/// A node stays alive as long as a handle, a mailbox or a local address of it does; a
/// started node also until [`Node::shutdown`].
///
/// ```
/// use reign_core::Node;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::new("node-a".parse().unwrap());
/// let (mut inbox, addr) = node.mailbox::<String>();
/// addr.try_send("hello".to_string()).unwrap();
/// assert_eq!(inbox.recv().await, "hello");
/// # }
/// ```
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

/// What the node's own state (cluster-wide names and groups) needs of the cluster layer: the
/// one way the local layers reach it, so that they do not depend on it. The cluster
/// implements it; [`Node::start`] installs it.
pub(crate) trait ClusterLayer: std::any::Any + Send + Sync {
    /// Queues `frame`, in order with messages, on every live link.
    fn broadcast(&self, frame: &crate::proto::wire::Frame);
}

/// A [`Node`] handle that does not keep it alive. Made by [`Node::downgrade`].
#[derive(Clone)]
pub struct WeakNode {
    inner: Weak<NodeInner>,
}

impl WeakNode {
    /// The node, if it still exists.
    pub fn upgrade(&self) -> Option<Node> {
        self.inner.upgrade().map(|inner| Node { inner })
    }
}

impl std::fmt::Debug for WeakNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakNode")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

pub(crate) struct NodeInner {
    pub(crate) key: NodeKey,
    mailbox_ids: crate::ids::MailboxIds,
    next_monitor: AtomicU64,
    /// Every live mailbox, by ID, for lookups by identity (decoded addresses, monitors of a
    /// bare [`MailboxRef`], deliveries from other nodes). Sends never look here.
    table: table::MailboxTable,
    pub(crate) registry: Registry,
    router: RwLock<Option<Arc<dyn RemoteRouter>>>,
    /// The cluster layer, once [`Node::start`] made this node part of one. Weak: the
    /// cluster holds the node, and is held, while it runs, by its tasks and this node's
    /// router; [`Node::shutdown`] lets go of both, so a node shut down and no longer
    /// referenced is freed (see the ownership table in docs/ARCHITECTURE.md).
    pub(crate) cluster: std::sync::OnceLock<Weak<dyn ClusterLayer>>,
    /// Cluster-wide names as this node knows them.
    pub(crate) names: crate::global::NameTable,
    /// Process groups as this node knows them.
    pub(crate) groups: Arc<crate::global::GroupTable>,
    /// The running servers, by mailbox.
    pub(crate) processes: crate::process::ProcessTable,
}

impl Node {
    /// A node named `id`, in a new life (a fresh random [`Incarnation`]).
    pub fn new(id: NodeId) -> Self {
        Self::with_incarnation(id, Incarnation::random())
    }

    /// A node named `id` with the given incarnation (for tests and for the cluster layer,
    /// which announces it to peers).
    pub fn with_incarnation(id: NodeId, incarnation: Incarnation) -> Self {
        tracing::debug!(node = %id, %incarnation, "node started");
        Self {
            inner: Arc::new(NodeInner {
                key: NodeKey::new(id, incarnation),
                mailbox_ids: crate::ids::MailboxIds::new(),
                next_monitor: AtomicU64::new(1),
                table: table::MailboxTable::default(),
                registry: Registry::default(),
                router: RwLock::new(None),
                cluster: std::sync::OnceLock::new(),
                names: Default::default(),
                groups: Default::default(),
                processes: Default::default(),
            }),
        }
    }

    /// A handle that does not keep the node alive (like [`std::sync::Weak`]): for callbacks
    /// and caches that must not outlive it.
    pub fn downgrade(&self) -> WeakNode {
        WeakNode {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The cluster layer while the node is started (until [`Node::shutdown`] has returned).
    pub(crate) fn layer(&self) -> Option<Arc<dyn ClusterLayer>> {
        self.inner.cluster.get()?.upgrade()
    }

    /// Tells every linked node `frame` (nothing when the node is not started).
    pub(crate) fn broadcast(&self, frame: &crate::proto::wire::Frame) {
        if let Some(layer) = self.layer() {
            layer.broadcast(frame);
        }
    }

    /// This node's ID.
    pub fn id(&self) -> &NodeId {
        self.inner.key.id()
    }

    /// This node's incarnation (its current life).
    pub fn incarnation(&self) -> Incarnation {
        self.inner.key.incarnation()
    }

    /// How many mailboxes of this node are alive.
    pub fn mailbox_count(&self) -> usize {
        self.inner.table.len()
    }

    /// A new unbounded mailbox for messages of type `M`, and its address.
    ///
    /// `M` is a [`Message`], so the mailbox can also take messages from other nodes once the
    /// node is in a cluster. For other types use [`Node::local_mailbox`].
    pub fn mailbox<M: Message>(&self) -> (Mailbox<M>, Address<M>) {
        self.create(usize::MAX, Some(vtable::<M>()))
    }

    /// A new bounded mailbox: a send fails with [`SendErrorReason::Full`] while `capacity`
    /// messages wait that the receiver has not taken (a capacity of 0 counts as 1).
    ///
    /// The bound applies to user sends only: a [`Down`] from a monitor is always queued.
    /// Messages that a selective receive has examined and set aside no longer count.
    pub fn bounded_mailbox<M: Message>(&self, capacity: usize) -> (Mailbox<M>, Address<M>) {
        self.create(capacity.max(1), Some(vtable::<M>()))
    }

    /// A new unbounded mailbox for any `M: Send + 'static`, such as channels, handles or
    /// closures that cannot be serialized. It takes messages from this process only: its
    /// address can still travel to other nodes, but messages sent to it from there are
    /// refused.
    pub fn local_mailbox<M: Send + 'static>(&self) -> (Mailbox<M>, Address<M>) {
        self.create(usize::MAX, None)
    }

    /// A bounded [`Node::local_mailbox`]; capacity as for [`Node::bounded_mailbox`].
    pub fn local_bounded_mailbox<M: Send + 'static>(
        &self,
        capacity: usize,
    ) -> (Mailbox<M>, Address<M>) {
        self.create(capacity.max(1), None)
    }

    fn create<M: Send + 'static>(
        &self,
        capacity: usize,
        remote: Option<&'static crate::inbox::RemoteVTable>,
    ) -> (Mailbox<M>, Address<M>) {
        self.create_for(capacity, remote, None)
    }

    /// A mailbox for a call's reply: from other nodes, it takes messages from `only_from`.
    pub(crate) fn reply_mailbox<M: Message>(&self, only_from: &NodeId) -> (Mailbox<M>, Address<M>) {
        if only_from == self.id() {
            return self.create_for(usize::MAX, Some(vtable::<M>()), None);
        }
        let vt = crate::inbox::restricted_vtable::<M>();
        self.create_for(usize::MAX, Some(vt), Some(only_from.clone()))
    }

    fn create_for<M: Send + 'static>(
        &self,
        capacity: usize,
        remote: Option<&'static crate::inbox::RemoteVTable>,
        only_from: Option<NodeId>,
    ) -> (Mailbox<M>, Address<M>) {
        let id = self.inner.mailbox_ids.next();
        let shared = Arc::new(Shared::new(
            self.inner.clone(),
            id,
            capacity,
            remote,
            only_from,
        ));
        let weak: Weak<dyn AnyInbox> = Arc::downgrade(&shared) as Weak<dyn AnyInbox>;
        self.inner.table.insert(id, weak);
        tracing::trace!(node = %self.id(), mailbox = %id, "mailbox created");
        (Mailbox::new(shared.clone()), Address::local(shared))
    }

    /// Installs the router that reaches other nodes (the cluster layer does this).
    pub(crate) fn set_remote_router(&self, router: Option<Arc<dyn RemoteRouter>>) {
        *self
            .inner
            .router
            .write()
            .unwrap_or_else(PoisonError::into_inner) = router;
    }

    /// Delivers a message that arrived from another node for `target`, a mailbox of this
    /// node: checks the incarnation and the type tag, then decodes the payload (inside this
    /// node's decode scope, so addresses in it bind here) and queues it.
    pub(crate) fn deliver_remote(
        &self,
        target: &MailboxRef,
        tag: &str,
        payload: &[u8],
    ) -> Result<(), RemoteDeliveryError> {
        let result = if target.node == self.inner.key {
            self.deliver_run(
                &mut DeliveryCache::default(),
                target.id.get(),
                target.incarnation().get(),
                tag.as_bytes(),
                &[payload],
            )
            .and_then(crate::remote::BatchOutcome::single)
        } else {
            Err(RemoteDeliveryError::NoSuchMailbox)
        };
        if let Err(e) = &result {
            reign_tls::warn_limited!(node = %self.id(), %target, tag = %reign_tls::ratelimit::Escaped(tag), error = %e, "remote message refused");
        }
        result
    }

    /// The link reader's fast path for a run of SEND frames to one mailbox: like
    /// [`Node::deliver_remote`] for each payload, with the target's lookup kept in `cache`
    /// across runs (streams usually target one mailbox), the payloads decoded and queued under
    /// one lock. The tag is compared as bytes; a tag that is not UTF-8 never matches.
    pub(crate) fn deliver_run(
        &self,
        cache: &mut DeliveryCache,
        target: u64,
        incarnation: u64,
        tag: &[u8],
        payloads: &[&[u8]],
    ) -> Result<crate::remote::BatchOutcome, RemoteDeliveryError> {
        if incarnation != self.incarnation().get() {
            return Err(RemoteDeliveryError::NoSuchMailbox);
        }
        let id = MailboxId(target);
        let t = match &mut cache.target {
            Some(t) if t.id == id => t,
            slot => {
                // Only the target is refilled: the sender's ID and the batch buffer stay in
                // the cache (a peer sending round-robin to many mailboxes refills per run).
                *slot = None;
                let inbox = self
                    .inner
                    .inbox(id)
                    .ok_or(RemoteDeliveryError::NoSuchMailbox)?;
                let vt = inbox.remote().ok_or(RemoteDeliveryError::LocalOnly)?;
                // A call's reply mailbox takes its reply from the callee's node only; to any
                // other node it does not exist.
                if vt.restricted
                    && let Some(from) = &cache.from
                    && inbox.only_from().is_some_and(|only| only != *from)
                {
                    return Err(RemoteDeliveryError::NoSuchMailbox);
                }
                slot.insert(CachedTarget {
                    id,
                    inbox: inbox.into_any(),
                    vt,
                })
            }
        };
        if t.vt.tag.as_bytes() != tag {
            return Err(RemoteDeliveryError::TagMismatch {
                expected: t.vt.tag,
                got: String::from_utf8_lossy(tag).into_owned(),
            });
        }
        let outcome = self.with_decode_scope(|| {
            crate::scope::with_sender(&mut cache.from, || {
                (t.vt.deliver_many)(&*t.inbox, payloads, &mut cache.spare)
            })
        });
        if outcome.closed > 0 {
            // The mailbox ended: forget it.
            cache.target = None;
        }
        Ok(outcome)
    }

    /// Delivers a `Down` that another node reported for monitor `monitor` of the local
    /// mailbox `watcher` (set up through [`RemoteRouter::monitor`]), or that the cluster layer
    /// raises itself (`NoConnection` when a link drops).
    pub(crate) fn deliver_down(
        &self,
        watcher: MailboxId,
        monitor: MonitorId,
        target: MailboxRef,
        reason: DownReason,
        link: Option<crate::proto::reason::LinkDownReason>,
    ) {
        if let Some(w) = self.inner.inbox(watcher) {
            w.deliver_down(Down::new(monitor, target, reason, link));
        }
    }
}

/// What a link reader keeps between runs of deliveries (see [`Node::deliver_run`]): the
/// mailbox it delivered to last, the identity of the node whose bytes it delivers, and an
/// emptied batch buffer.
#[derive(Default)]
pub(crate) struct DeliveryCache {
    target: Option<CachedTarget>,
    /// The emptied batch buffer of the last run (see `RemoteVTable::deliver_many`); a buffer
    /// of another mailbox type is dropped at its first use.
    spare: Option<Box<dyn std::any::Any + Send>>,
    /// The node whose link delivers (set as the decode's sender, see `scope::with_sender`);
    /// `None` for a local delivery.
    from: Option<NodeId>,
}

impl DeliveryCache {
    /// The cache of a link reader for the link to `from` (its certificate proved it).
    pub(crate) fn from_peer(from: NodeId) -> Self {
        Self {
            from: Some(from),
            ..Self::default()
        }
    }
}

/// The mailbox a link reader delivered to last.
struct CachedTarget {
    id: MailboxId,
    inbox: Arc<dyn std::any::Any + Send + Sync>,
    vt: &'static crate::inbox::RemoteVTable,
}

impl NodeInner {
    pub(crate) fn next_monitor(&self) -> MonitorId {
        MonitorId(self.next_monitor.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn forget_mailbox(&self, id: MailboxId) {
        self.table.remove(id);
    }

    /// The live mailbox `id` of this node, type-erased.
    pub(crate) fn inbox(&self, id: MailboxId) -> Option<Arc<dyn AnyInbox>> {
        self.table.get(id)
    }

    /// Brings the table entries of the mailboxes `ids` into the cache before a run of
    /// deliveries to them (see [`table::MailboxTable::warm`]).
    pub(crate) fn warm_mailboxes(&self, ids: &[u64]) {
        self.table.warm(ids);
    }

    /// The live mailbox `id` of this node if its type is `M`.
    pub(crate) fn lookup<M: Send + 'static>(
        &self,
        id: MailboxId,
    ) -> Result<Arc<Shared<M>>, SendErrorReason> {
        let inbox = self.inbox(id).ok_or(SendErrorReason::Closed)?;
        inbox
            .into_any()
            .downcast::<Shared<M>>()
            .map_err(|_| SendErrorReason::WrongType)
    }

    /// Whether `r` names a mailbox of this node's current life.
    pub(crate) fn owns(&self, r: &MailboxRef) -> bool {
        r.node == self.key
    }

    /// Runs `f` with the router, under its read lock (no reference-count traffic: the
    /// remote send path).
    pub(crate) fn with_router<R>(&self, f: impl FnOnce(Option<&dyn RemoteRouter>) -> R) -> R {
        let r = self.router.read().unwrap_or_else(PoisonError::into_inner);
        f(r.as_deref())
    }

    pub(crate) fn router(&self) -> Option<Arc<dyn RemoteRouter>> {
        self.router
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn remote_demonitor(
        &self,
        watcher: &MailboxRef,
        monitor: MonitorId,
        target: &MailboxRef,
    ) {
        if let Some(router) = self.router() {
            router.demonitor(watcher, monitor, target);
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", self.id())
            .field("incarnation", &self.incarnation())
            .field("mailboxes", &self.inner.table.len())
            .finish()
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Node {}
