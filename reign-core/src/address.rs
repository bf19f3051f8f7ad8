//! [`Address`]: the sending end of a mailbox, on this node or another.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{NodeKey, cmp_identity, fmt_identity, hash_identity, serialize_identity};
use crate::inbox::Shared;
use crate::node::NodeInner;
use crate::remote::PeerRoute;
use crate::{Incarnation, MailboxId, MailboxRef, Message, NodeId, SendError, SendErrorReason};

mod batch;
mod sending;
pub use sending::Sending;

/// The address of a mailbox that takes messages of type `M`: where to send them.
///
/// An address names a node, that node's incarnation and a mailbox ID never reused within
/// that incarnation, so an address of a mailbox that has ended never reaches another one.
/// It is cheap to clone (a reference count), and compares, hashes and orders by that
/// identity only. It displays as `<node@3f2c:42>`: the node ID, the first four hex digits of
/// the incarnation and the mailbox ID (`Debug` shows the whole incarnation).
///
/// An address can travel inside messages: it serializes as the tuple
/// `(node ID string, incarnation u64, mailbox ID u64)`. Deserializing binds it to the node
/// whose decode scope is active (see [`Node::enter_decode_scope`](crate::Node::enter_decode_scope)).
///
/// A local address holds a direct handle to its mailbox's queue, so [`Address::try_send`] is an
/// enqueue with no lookup. (Clippy's `mutable_key_type` lint sees that handle when an
/// address is a map key; it is a false positive: `Hash` and `Eq` use the identity only.)
///
/// ```
/// use reign_core::{Node, SendErrorReason};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::new("a".parse().unwrap());
/// let (mut inbox, addr) = node.mailbox::<u64>();
/// let copy = addr.clone();
/// assert_eq!(copy, addr);
/// copy.try_send(1).unwrap();
/// assert_eq!(inbox.recv().await, 1);
///
/// drop(inbox);
/// let err = addr.try_send(2).unwrap_err();
/// assert_eq!(err.reason(), SendErrorReason::Closed);
/// assert_eq!(err.into_inner(), 2); // the message comes back
/// # }
/// ```
pub struct Address<M> {
    pub(crate) route: Route<M>,
}

pub(crate) enum Route<M> {
    /// A mailbox in this process: direct handle.
    Local(Arc<Shared<M>>),
    /// A mailbox on another node, reached through `node`'s router.
    Remote(Arc<RemoteRoute<M>>),
    /// An address that cannot route: its mailbox is gone, of another type, or the address
    /// was decoded outside a decode scope.
    Unroutable(Arc<Unroutable>),
}

pub(crate) struct RemoteRoute<M> {
    pub(crate) target: MailboxRef,
    pub(crate) node: Arc<NodeInner>,
    tag: &'static str,
    encode: fn(&M, &mut bytes::BytesMut) -> Result<(), SendErrorReason>,
    /// The route to the target's node, resolved at the first send through a router that
    /// offers one: later sends skip the router and the peer lookup.
    peer: OnceLock<Arc<dyn PeerRoute>>,
}

pub(crate) struct Unroutable {
    pub(crate) target: MailboxRef,
    pub(crate) reason: SendErrorReason,
}

impl<M: Send + 'static> Address<M> {
    pub(crate) fn local(shared: Arc<Shared<M>>) -> Self {
        Self {
            route: Route::Local(shared),
        }
    }

    /// Sends `msg`. Never blocks and never panics.
    ///
    /// On failure the message comes back inside the [`SendError`], with the reason:
    /// [`Closed`](SendErrorReason::Closed) once the mailbox has ended,
    /// [`Full`](SendErrorReason::Full) if it is bounded and full,
    /// [`NoConnection`](SendErrorReason::NoConnection) if it is on a node this one has no
    /// link to right now (nothing is buffered while a link is being redialled: the send fails
    /// at once), [`LinkFull`](SendErrorReason::LinkFull) if the link to that node holds its
    /// limit of unsent bytes (a slow or stalled peer), [`TooLarge`](SendErrorReason::TooLarge)
    /// if the encoded message exceeds the maximum frame size. Success means the message was
    /// queued (locally) or handed to the link (remotely), not that it was received: delivery
    /// to another node is at most once, and a refusal there (type tag mismatch, mailbox gone
    /// or full) is logged and counted on that node ([`Cluster::stats`](crate::Cluster::stats)).
    ///
    /// Messages from one sender to one mailbox arrive in the order sent.
    #[inline]
    pub fn try_send(&self, msg: M) -> Result<(), SendError<M>> {
        match &self.route {
            Route::Local(shared) => shared.push_user(msg),
            Route::Remote(r) => r.send(msg),
            Route::Unroutable(u) => Err(SendError::new(u.reason, msg)),
        }
    }
}

impl<M> Address<M> {
    fn identity(&self) -> (&NodeKey, MailboxId) {
        match &self.route {
            Route::Local(s) => (&s.node.key, s.id),
            Route::Remote(r) => (&r.target.node, r.target.id),
            Route::Unroutable(u) => (&u.target.node, u.target.id),
        }
    }

    /// The untyped identity of the mailbox.
    pub fn mailbox_ref(&self) -> MailboxRef {
        let (node, id) = self.identity();
        MailboxRef {
            node: node.clone(),
            id,
        }
    }

    /// The node that holds the mailbox.
    pub fn node_id(&self) -> &NodeId {
        self.identity().0.id()
    }

    /// The life of that node the mailbox belongs to.
    pub fn incarnation(&self) -> Incarnation {
        self.identity().0.incarnation()
    }

    /// The mailbox's number on its node.
    pub fn id(&self) -> MailboxId {
        self.identity().1
    }

    /// Whether the mailbox is in this process (sends are direct enqueues).
    pub fn is_local(&self) -> bool {
        matches!(self.route, Route::Local(_))
    }

    /// The node an address routes through: its own node if local, the decoding node if
    /// remote; `None` if it cannot route (with the reason).
    pub(crate) fn routing_node(&self) -> Result<&Arc<NodeInner>, SendErrorReason> {
        match &self.route {
            Route::Local(s) => Ok(&s.node),
            Route::Remote(r) => Ok(&r.node),
            Route::Unroutable(u) => Err(u.reason),
        }
    }
}

impl<M: Send + 'static> Address<M> {
    /// Like [`Address::try_send`], but waits for room instead of failing when there is none:
    /// when the link toward the mailbox's node is full ([`LinkFull`](SendErrorReason::LinkFull):
    /// the peer reads slower than this node sends), until the link has room; when a bounded
    /// local mailbox is full ([`Full`](SendErrorReason::Full)), until its receiver takes
    /// messages. Backpressure for streams, as tokio's `Sender::send` gives it. Every other
    /// failure (the mailbox closed meanwhile included) returns with the message, as from
    /// `send`. (A bounded mailbox on another node is checked there: a full one refuses and
    /// counts the message, see [`Cluster::stats`](crate::Cluster::stats).)
    ///
    /// It also yields to the scheduler each time a send completes a chunk (64 KiB) of the
    /// stream toward that node, so that a task streaming with it leaves the other tasks of
    /// its runtime room to run (and, with [`Tunables::own_runtime`](crate::Tunables::own_runtime)
    /// off, the link's writer, woken on the same worker thread, runs while the chunk is
    /// still in cache); a loop of plain `try_send` never yields.
    ///
    /// Cancel-safe: dropping the future drops the message if it was not sent yet.
    ///
    /// The message is encoded (its `Serialize` run) while the link's queue is locked: a
    /// `Serialize` must not send to the same node (it would deadlock); one that panics leaves
    /// the queue as it was (the panic goes on to the caller).
    ///
    /// To stream many small messages to one mailbox, [`Address::send_batch`] sends a `Vec`
    /// of them the same way with one lock of the link's queue per 64 KiB instead of one per
    /// message.
    pub fn send(&self, msg: M) -> Sending<'_, M> {
        Sending::new(self, msg)
    }

    /// [`Address::send`]'s first attempt, made at the future's first poll: `Ok` with what
    /// is left to wait for, or the result.
    pub(crate) fn start_send(&self, msg: M) -> Result<Option<sending::Wait<'_, M>>, SendError<M>> {
        let r = match &self.route {
            Route::Remote(r) => r,
            Route::Local(shared) => {
                return match shared.push_user(msg) {
                    Err(e) if e.reason() == SendErrorReason::Full => {
                        Ok(Some(Box::pin(send_when_room(shared, e.into_inner()))))
                    }
                    other => other.map(|()| None),
                };
            }
            Route::Unroutable(_) => return self.try_send(msg).map(|()| None),
        };
        // The common case costs what `send` costs: the link's room is looked up only when full.
        match r.try_send(&msg) {
            Ok(false) => Ok(None),
            // Boxed (once per chunk of the stream), so that the future of every send stays
            // small: only a completed chunk or a full link pays.
            Ok(true) => Ok(Some(Box::pin(async {
                tokio::task::yield_now().await;
                Ok(())
            }))),
            Err(SendErrorReason::LinkFull) => Ok(Some(Box::pin(r.send_when_room(msg)))),
            Err(reason) => Err(SendError::new(reason, msg)),
        }
    }
}

/// Waits until the bounded local mailbox `shared` has room for `msg`, then queues it.
async fn send_when_room<M: Send + 'static>(
    shared: &crate::inbox::Shared<M>,
    mut msg: M,
) -> Result<(), SendError<M>> {
    let Some(room) = shared.room() else {
        return shared.push_user(msg);
    };
    loop {
        // Registered before trying, so that room made in between is not missed.
        let notified = room.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        match shared.push_user(msg) {
            Err(e) if e.reason() == SendErrorReason::Full => msg = e.into_inner(),
            other => return other,
        }
        notified.await;
    }
}

impl<M: Send + 'static> RemoteRoute<M> {
    #[inline]
    fn send(&self, msg: M) -> Result<(), SendError<M>> {
        // The message stays where it is unless it has to come back.
        match self.try_send(&msg) {
            Ok(_) => Ok(()),
            Err(reason) => Err(SendError::new(reason, msg)),
        }
    }

    /// The route to the target's node kept from an earlier send, or the router's (kept
    /// now); `None` if the router offers none (or there is no router).
    fn peer(&self) -> Option<&Arc<dyn PeerRoute>> {
        if let Some(p) = self.peer.get() {
            return Some(p);
        }
        let p = self
            .node
            .with_router(|router| router.and_then(|rt| rt.peer(self.target.node())))?;
        Some(self.peer.get_or_init(|| p))
    }

    /// Sends; `Ok(true)` if the send completed a chunk of the link's buffer.
    #[inline]
    fn try_send(&self, msg: &M) -> Result<bool, SendErrorReason> {
        let encode = self.encode;
        let mut write = |buf: &mut bytes::BytesMut| encode(msg, buf);
        let via_router =
            |write: &mut dyn FnMut(&mut bytes::BytesMut) -> Result<(), SendErrorReason>| {
                self.node
                    .with_router(|router| {
                        router.map_or(Err(SendErrorReason::NoConnection), |r| {
                            r.route(&self.target, self.tag, write)
                        })
                    })
                    .map(|()| false)
            };
        match self.peer() {
            // A route the router dropped (its node was forgotten) has no link: asked only on
            // that error, so the send path pays nothing for it.
            Some(peer) => match peer.send(&self.target, self.tag, &mut write) {
                Err(SendErrorReason::NoConnection) if peer.retired() => via_router(&mut write),
                r => r,
            },
            // A router without peer routes (or none at all).
            None => via_router(&mut write),
        }
    }

    /// [`Address::send`]'s slow path: waits for room on the link, then sends.
    async fn send_when_room(&self, msg: M) -> Result<(), SendError<M>> {
        loop {
            let Some(room) = self.peer().filter(|p| !p.retired()).map(|p| p.room()) else {
                return self.send(msg);
            };
            // Registered before the retry, so room made in between is not missed.
            let notified = room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_send(&msg) {
                Err(SendErrorReason::LinkFull) => notified.await,
                Ok(_) => return Ok(()),
                Err(reason) => return Err(SendError::new(reason, msg)),
            }
        }
    }
}

impl<M> Clone for Address<M> {
    fn clone(&self) -> Self {
        let route = match &self.route {
            Route::Local(s) => Route::Local(s.clone()),
            Route::Remote(r) => Route::Remote(r.clone()),
            Route::Unroutable(u) => Route::Unroutable(u.clone()),
        };
        Self { route }
    }
}

impl<M> PartialEq for Address<M> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.identity(), other.identity());
        a.1 == b.1 && a.0 == b.0
    }
}

impl<M> Eq for Address<M> {}

impl<M> PartialOrd for Address<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<M> Ord for Address<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_identity(self.identity(), other.identity())
    }
}

impl<M> Hash for Address<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (node, id) = self.identity();
        hash_identity(node, id, state);
    }
}

impl<M> fmt::Display for Address<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (node, id) = self.identity();
        fmt_identity(f, node, id)
    }
}

impl<M> fmt::Debug for Address<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (node, id) = self.identity();
        let route = match &self.route {
            Route::Local(_) => "local".to_owned(),
            Route::Remote(_) => "remote".to_owned(),
            Route::Unroutable(u) => format!("unroutable: {}", u.reason),
        };
        write!(
            f,
            "Address<{}>({}@{}:{}, {route})",
            std::any::type_name::<M>(),
            node.id(),
            node.incarnation(),
            id.0
        )
    }
}

impl<M> Serialize for Address<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (node, id) = self.identity();
        serialize_identity(node, id, s)
    }
}

impl<'de, M: Message> Deserialize<'de> for Address<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (node, id) = crate::ids::deserialize_identity(d)?;
        Ok(Self::resolve(MailboxRef { node, id }))
    }
}

impl<M: Message> Address<M> {
    /// Binds an identity to a route through the current decode scope's node.
    pub(crate) fn resolve(target: MailboxRef) -> Self {
        let unroutable = |target, reason| Self {
            route: Route::Unroutable(Arc::new(Unroutable { target, reason })),
        };
        let Some(node) = crate::scope::current() else {
            return unroutable(target, SendErrorReason::Detached);
        };
        if node.owns(&target) {
            return match node.lookup::<M>(target.id) {
                Ok(shared) => Self::local(shared),
                Err(reason) => unroutable(target, reason),
            };
        }
        if target.node() == node.key.id() {
            // An earlier life of this very node: its mailboxes are all gone.
            return unroutable(target, SendErrorReason::Closed);
        }
        Self {
            route: Route::Remote(Arc::new(RemoteRoute {
                target,
                node,
                tag: M::TAG,
                encode: crate::remote::encode_into::<M>,
                peer: OnceLock::new(),
            })),
        }
    }
}
