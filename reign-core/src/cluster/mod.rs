//! The cluster: this node on the mutual-TLS mesh with the other members of its config.
//!
//! One authenticated link per pair of nodes. The node with the lower node ID (byte order)
//! dials; the other accepts. A new connection from the designated dialer replaces an
//! existing link (the dialer only redials once it has lost the old one, or after a restart);
//! a connection from the other side is accepted only while no link exists, so a pair never
//! keeps two links. Lost links are redialled with capped exponential backoff and jitter.
//!
//! The [`Cluster`] is the node's [`RemoteRouter`]: remote sends and monitors go through it to
//! the link of the target's node; frames from a link come back through its [`FrameHandler`].

mod api;
pub(crate) mod config;
mod connect;
mod control;
pub(crate) mod events;
mod expiry;
pub(crate) mod harness;
mod inbound;
mod join;
pub(crate) mod link;
mod link_tls;
mod lookahead;
mod members;
mod operator;
mod outbound;
mod poll_work;
mod rescue;
mod runtime;
mod signal;
mod status;
mod watch;
mod woken;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use dashmap::DashMap;
use reign_tls::{Incarnation, NodeId, TlsEndpoint};
use tokio::sync::{broadcast, oneshot, watch as tokio_watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use api::{Cluster, ReloadError, StartError, TlsReload, WaitError};
pub use events::{
    CertificateVerdict, Events, EventsError, JoinedVia, LeftReason, LinkDownReason, NodeEvent,
    ProtocolViolation, UnreachableReason,
};
pub use members::{MemberState, MemberStatus};
pub use status::{LinkStatus, TlsStatus};

use crate::cluster::config::NodeConfig;
use crate::proto::wire::{self, Frame};
use crate::remote::RemoteRouter;
use crate::{DownReason, MailboxRef, MonitorId, Node, SendErrorReason};
use link::Link;

/// Counters of what this node's links carried and refused. Read with
/// [`Cluster::stats`](crate::Cluster::stats).
///
/// A link counts what it delivered just after delivering it, on the node's own thread: a
/// receiver (on the application's runtime) may hold a message a moment before
/// `messages_delivered` includes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Messages queued on links toward other nodes.
    pub messages_sent: u64,
    /// Messages from other nodes delivered to local mailboxes.
    pub messages_delivered: u64,
    /// Messages from other nodes refused because their type tag was not the mailbox's.
    pub refused_tag_mismatch: u64,
    /// Messages from other nodes refused because the mailbox (or name) does not exist in
    /// this node's life.
    pub refused_no_mailbox: u64,
    /// Messages from other nodes refused because the target mailbox was full.
    pub refused_full: u64,
    /// Messages from other nodes whose payload did not decode, or that target a
    /// local-only mailbox.
    pub refused_other: u64,
    /// Links that came up.
    pub links_up: u64,
    /// Links that went down.
    pub links_down: u64,
    /// Accepted connections whose handshake failed or was refused (each also logged or
    /// reported as [`NodeEvent::Refused`] on a budget).
    pub handshakes_refused: u64,
}

#[derive(Default)]
struct Counters {
    messages_delivered: AtomicU64,
    refused_tag_mismatch: AtomicU64,
    refused_no_mailbox: AtomicU64,
    refused_full: AtomicU64,
    refused_other: AtomicU64,
    links_up: AtomicU64,
    links_down: AtomicU64,
    handshakes_refused: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Where the answer to a LOOKUP goes: the mailbox ID and type tag, when the name exists.
type LookupReply = oneshot::Sender<Option<(u64, String)>>;

/// One member of the cluster as this node sees it: the data path's part (its link slot and
/// queues); what the registry knows of it is in [`crate::proto::registry`].
pub(crate) struct Peer {
    pub(crate) id: NodeId,
    /// Whether a dial loop runs for it (this node has the lower ID and knows an address).
    dialing: AtomicBool,
    /// Set when it is forgotten (taken out of the table): its dial loop ends, and addresses
    /// that kept it go through the router again.
    retired: AtomicBool,
    link: RwLock<Option<Arc<Link>>>,
    /// The incarnation of the live link, if any (for waiting until a peer is up).
    up: tokio_watch::Sender<Option<Incarnation>>,
    /// The queues toward the peer, drained by its current link.
    out: Arc<outbound::Outbound>,
    /// What is known of it between links (for [`Cluster::members`](crate::Cluster::members)).
    history: std::sync::Mutex<members::History>,
}

impl Peer {
    pub(crate) fn new(id: NodeId, limit: usize, max_frame: usize) -> Self {
        Self {
            id,
            dialing: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            link: RwLock::new(None),
            up: tokio_watch::Sender::new(None),
            out: Arc::new(outbound::Outbound::new(limit, max_frame)),
            history: Default::default(),
        }
    }

    pub(crate) fn link(&self) -> Option<Arc<Link>> {
        let l = self.link.read().unwrap_or_else(PoisonError::into_inner);
        l.as_ref().filter(|l| !l.is_dead()).cloned()
    }
}

/// The hot path of a remote send: remote addresses keep their peer (see
/// [`RemoteRouter::peer`]), so a send takes one lock, the peer's queues'.
impl crate::remote::PeerRoute for Peer {
    fn send(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        write: &mut dyn FnMut(&mut bytes::BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<bool, SendErrorReason> {
        // A mailbox of an earlier life of that node is gone (`Closed`).
        let via = outbound::Via::Incarnation(target.incarnation());
        self.out.push_message(via, |b| {
            wire::encode_send(b, target.id().get(), target.incarnation().get(), tag, write)
        })
    }

    fn send_many(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        count: usize,
        write: &mut dyn FnMut(usize, &mut bytes::BytesMut) -> Result<(), SendErrorReason>,
        done: &mut usize,
    ) -> Result<bool, SendErrorReason> {
        let via = outbound::Via::Incarnation(target.incarnation());
        let (id, incarnation) = (target.id().get(), target.incarnation().get());
        self.out.push_messages(
            via,
            count,
            |i, b| wire::encode_send(b, id, incarnation, tag, |b| write(i, b)),
            done,
        )
    }

    fn room(&self) -> Arc<tokio::sync::Notify> {
        self.out.room.clone()
    }

    fn retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }
}

pub(crate) use crate::proto::registry::AddrSource;

/// Every node this node knows, sorted by node ID. Remote addresses keep their peer after
/// the first send (see [`RemoteRouter::peer`]), so this is off the hot path; it grows as
/// nodes join (copy on write: readers take a snapshot).
pub(crate) struct Peers {
    list: RwLock<Arc<Vec<Arc<Peer>>>>,
}

impl Peers {
    pub(crate) fn new(mut peers: Vec<Arc<Peer>>) -> Self {
        peers.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            list: RwLock::new(Arc::new(peers)),
        }
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Peer>>> {
        self.list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn get(&self, id: &NodeId) -> Option<Arc<Peer>> {
        let list = self.snapshot();
        list.binary_search_by(|p| p.id.cmp(id))
            .ok()
            .map(|i| list[i].clone())
    }

    /// Every peer, as a snapshot.
    pub(crate) fn values(&self) -> std::vec::IntoIter<Arc<Peer>> {
        self.snapshot().to_vec().into_iter()
    }

    /// Removes `id`; the peer, if it was there.
    pub(crate) fn remove(&self, id: &NodeId) -> Option<Arc<Peer>> {
        let mut list = self.list.write().unwrap_or_else(PoisonError::into_inner);
        let i = list.binary_search_by(|p| p.id.cmp(id)).ok()?;
        let mut next = list.to_vec();
        let peer = next.remove(i);
        *list = Arc::new(next);
        Some(peer)
    }

    /// The peer `id`, made by `make` and added if it is not known (the registry bounds how
    /// many are). Returns it and whether it is new.
    pub(crate) fn get_or_add(&self, id: &NodeId, make: impl FnOnce() -> Peer) -> (Arc<Peer>, bool) {
        let mut list = self.list.write().unwrap_or_else(PoisonError::into_inner);
        match list.binary_search_by(|p| p.id.cmp(id)) {
            Ok(i) => (list[i].clone(), false),
            Err(i) => {
                let peer = Arc::new(make());
                let mut next = Vec::with_capacity(list.len() + 1);
                next.extend_from_slice(&list[..i]);
                next.push(peer.clone());
                next.extend_from_slice(&list[i..]);
                *list = Arc::new(next);
                (peer, true)
            }
        }
    }
}

/// The cluster layer of one started node.
pub(crate) struct Mesh {
    node: Node,
    config: NodeConfig,
    tls: TlsEndpoint,
    local_addr: SocketAddr,
    peers: Peers,
    events: broadcast::Sender<NodeEvent>,
    /// Every task of the node, each spawned on [`Mesh::runtime`] (see [`Mesh::spawn`]).
    tracker: TaskTracker,
    /// The node's own runtime, whose thread runs every task of the node.
    runtime: runtime::MeshRuntime,
    /// Stops the accept loop, the dialers, and (after the graceful phase) every link.
    stop: CancellationToken,
    shutting_down: AtomicBool,
    next_request: AtomicU64,
    /// This node's lookups waiting for an answer, by request number (unique on this node;
    /// the control plane of the link asked knows which are its own).
    lookups: DashMap<u64, LookupReply>,
    counters: Counters,
    /// The budget of `Refused` events for accepted connections (see `handshake_failed`).
    refusal_events: reign_tls::ratelimit::Limiter,
    /// Operator connections and the renewals they run.
    operators: operator::Operators,
    /// Woken when a node joins (for [`Cluster::wait_for`]).
    joined: tokio::sync::Notify,
    /// Every node this node knows (see `join`).
    registry: std::sync::Mutex<crate::proto::registry::Registry>,
    /// Addresses being dialed now (one dial per address at a time, see `join::Claim`).
    connecting: std::sync::Mutex<std::collections::HashSet<SocketAddr>>,
}

impl Mesh {
    /// Spawns `task` on the node's own runtime, tracked (so that `shutdown` waits for it).
    /// Every task of the node goes through here; the one kind that runs on the application's
    /// runtime, a link's I/O, goes through [`Mesh::spawn_link`].
    pub(crate) fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn_on(task, self.runtime.handle())
    }

    /// Spawns a link's I/O on the application's runtime `app`, tracked.
    pub(crate) fn spawn_link<F>(
        &self,
        task: F,
        app: &tokio::runtime::Handle,
    ) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn_on(task, app)
    }

    pub(crate) fn emit(&self, event: NodeEvent) {
        // Every event reaches subscribers; the log line is on a budget, since a member can
        // cause events at will (by reconnecting).
        reign_tls::info_limited!(node = %self.node.id(), %event, "node event");
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    fn stats(&self) -> ClusterStats {
        let c = &self.counters;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClusterStats {
            messages_sent: self.peers.values().map(|p| p.out.sent()).sum(),
            messages_delivered: r(&c.messages_delivered),
            refused_tag_mismatch: r(&c.refused_tag_mismatch),
            refused_no_mailbox: r(&c.refused_no_mailbox),
            refused_full: r(&c.refused_full),
            refused_other: r(&c.refused_other),
            links_up: r(&c.links_up),
            links_down: r(&c.links_down),
            handshakes_refused: r(&c.handshakes_refused),
        }
    }

    /// The live link to `node`, if any.
    fn link_to(&self, node: &NodeId) -> Option<Arc<Link>> {
        self.peers.get(node)?.link()
    }

    /// Installs `link` as the peer's link; returns the one it replaces.
    fn install(&self, peer: &Peer, link: Arc<Link>) -> Option<Arc<Link>> {
        let old = peer
            .link
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(link.clone());
        // Under the slot's lock, so that the slot and the queues' owner change together.
        link.attach();
        bump(&self.counters.links_up);
        self.registry().link_installed(&peer.id);
        old
    }

    /// The peer of `link` has sent its whole set of names and memberships: the link is in
    /// service. Waiters for the node wake and `Up` is announced only now, so that whoever
    /// reacts to it already sees the peer's names and groups.
    fn synced(&self, link: &Arc<Link>) {
        let Some(peer) = self.peers.get(&link.peer) else {
            return;
        };
        let current = peer
            .link
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, link));
        // The control plane reports the first SYNCED only. A link that lost its slot
        // meanwhile is on its way out: it is never reported, up or down.
        if !current || link.is_dead() {
            link.control().lost_slot();
        } else {
            peer.up.send_replace(Some(link.peer_incarnation));
            self.emit(NodeEvent::Up {
                node: link.peer.clone(),
                incarnation: link.peer_incarnation,
            });
            self.introduce(link);
        }
    }

    /// A link came up: send the peer our whole set of cluster-wide names and memberships.
    fn announce(&self, link: &Link) {
        for f in self.node.inner.names.own_frames(self.node.id()) {
            link.send_ordered(&f);
        }
        let me = crate::MailboxRef::new(
            self.node.id().clone(),
            self.node.incarnation(),
            crate::MailboxId(0),
        );
        for f in self.node.inner.groups.own_frames(&me) {
            link.send_ordered(&f);
        }
        link.send_ordered(&Frame::Synced);
    }

    /// Removes `link` (if still installed) and fires everything that depended on it, at
    /// once (see [`Teardown`] for the way that yields).
    fn uninstall(&self, peer: &Peer, link: &Arc<Link>, reason: LinkDownReason) {
        self.begin_teardown(peer, link, reason).finish(self);
    }

    /// Takes `link` out of its peer's slot and closes its control plane; what that hands back
    /// is carried out by the [`Teardown`].
    fn begin_teardown(&self, peer: &Peer, link: &Arc<Link>, reason: LinkDownReason) -> Teardown {
        {
            let mut slot = peer.link.write().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
                *slot = None;
                peer.up.send_replace(None);
            }
        }
        bump(&self.counters.links_down);
        // Through `with_registry`: a link removed may make the registry dial (or arm the
        // fallback), and what it hands back must not wait for the next call.
        self.with_registry(|r| r.link_removed(&peer.id, std::time::Instant::now()));
        let (reported, outs) = link.step(|s| s.close(reason.clone()));
        peer.seen(link.last_seen());
        if reported {
            peer.went_down(link.peer_incarnation, reason.clone());
        }
        Teardown {
            link: link.clone(),
            pending: slices(outs),
            reported,
            reason,
        }
    }
}

/// The work units a [`Teardown`] does between yields: a `Down`, a hook detached, a lookup
/// abandoned, a name or a membership forgotten are one each.
pub(crate) const TEARDOWN_SLICE: usize = 256;

/// What is left to do for a link that ended: in order, the names and groups it brought (so
/// that whoever a `Down` wakes sees them gone), then monitors firing `NoConnection`, hooks
/// detached and lookups abandoned; then its `Down` event. A peer can make this as large as
/// its caps allow, so the link's task does it in slices of [`TEARDOWN_SLICE`] with a yield
/// between ([`Teardown::step`]); a guard finishes it at once if that task is cut short.
pub(crate) struct Teardown {
    link: Arc<Link>,
    pending: std::collections::VecDeque<link::Outputs>,
    reported: bool,
    reason: LinkDownReason,
}

impl Teardown {
    /// Carries out the next slice; false when nothing is left.
    pub(crate) fn step(&mut self, cluster: &Mesh) -> bool {
        match self.pending.pop_front() {
            Some(slice) => {
                cluster.carry_out(&self.link, slice);
                true
            }
            None => false,
        }
    }

    /// Carries out what is left and reports the link down (if it had been reported up).
    pub(crate) fn finish(mut self, cluster: &Mesh) {
        while self.step(cluster) {}
        if self.reported {
            cluster.emit(NodeEvent::Down {
                node: self.link.peer.clone(),
                incarnation: self.link.peer_incarnation,
                reason: self.reason.clone(),
            });
            // A node that joined at run time and said it shuts down has left.
            if self.reason == LinkDownReason::PeerShutDown {
                cluster
                    .with_registry(|r| r.said_goodbye(&self.link.peer, std::time::Instant::now()));
            }
        }
    }
}

/// `outs` in slices of at most [`TEARDOWN_SLICE`] work units, the long lists of a `Forget`
/// cut to fit.
fn slices(outs: link::Outputs) -> std::collections::VecDeque<link::Outputs> {
    use crate::proto::link::Output;
    let mut all = std::collections::VecDeque::new();
    let mut current: link::Outputs = Vec::new();
    let mut units = 0;
    let mut push = |o: Output<crate::hook::HookHandle>, cost: usize| {
        if units + cost > TEARDOWN_SLICE && !current.is_empty() {
            all.push_back(std::mem::take(&mut current));
            units = 0;
        }
        current.push(o);
        units += cost;
    };
    for o in outs {
        match o {
            Output::Forget { names, memberships } => {
                for chunk in names.chunks(TEARDOWN_SLICE) {
                    let o = Output::Forget {
                        names: chunk.to_vec(),
                        memberships: Vec::new(),
                    };
                    push(o, chunk.len());
                }
                for chunk in memberships.chunks(TEARDOWN_SLICE) {
                    let o = Output::Forget {
                        names: Vec::new(),
                        memberships: chunk.to_vec(),
                    };
                    push(o, chunk.len());
                }
            }
            o => push(o, 1),
        }
    }
    if !current.is_empty() {
        all.push_back(current);
    }
    all
}

impl crate::node::ClusterLayer for Mesh {
    fn broadcast(&self, frame: &Frame) {
        for peer in self.peers.values() {
            if let Some(link) = peer.link() {
                link.send_ordered(frame);
            }
        }
    }
}

impl RemoteRouter for Mesh {
    fn route(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        write: &mut dyn FnMut(&mut bytes::BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<(), SendErrorReason> {
        let peer = self
            .peers
            .get(target.node())
            .ok_or(SendErrorReason::NoConnection)?;
        crate::remote::PeerRoute::send(&*peer, target, tag, write).map(drop)
    }

    fn peer(&self, node: &NodeId) -> Option<Arc<dyn crate::remote::PeerRoute>> {
        self.peers
            .get(node)
            .map(|p| p.clone() as Arc<dyn crate::remote::PeerRoute>)
    }

    fn monitor(
        &self,
        watcher: &MailboxRef,
        monitor: MonitorId,
        target: &MailboxRef,
    ) -> Result<(), DownReason> {
        // Once the link has closed its control plane, this fails; before, the monitor is
        // recorded and the close fires it: there is no moment in between.
        self.step_to(target, |s| s.monitor(monitor, watcher.id(), target.clone()))
            .unwrap_or(Err(DownReason::NoConnection))
    }

    fn demonitor(&self, _watcher: &MailboxRef, monitor: MonitorId, target: &MailboxRef) {
        self.step_to(target, |s| s.demonitor(monitor));
    }

    fn link(
        &self,
        watcher: &MailboxRef,
        monitor: MonitorId,
        target: &MailboxRef,
    ) -> Result<(), DownReason> {
        self.step_to(target, |s| s.link(monitor, watcher.id(), target.clone()))
            .unwrap_or(Err(DownReason::NoConnection))
    }

    fn exit(&self, from: &MailboxRef, target: &MailboxRef, reason: &DownReason) {
        self.step_to(target, |s| s.exit(from.id(), target, reason));
    }

    fn unlink(&self, from: &MailboxRef, target: &MailboxRef) {
        self.step_to(target, |s| s.unlink(from.id(), target));
    }
}

impl Mesh {
    /// Runs `f` on the control plane of the link to `target`'s node and carries out what it
    /// hands back; `None` without a link.
    fn step_to<R>(
        &self,
        target: &MailboxRef,
        f: impl FnOnce(&mut crate::proto::link::LinkState<crate::hook::HookHandle>) -> R,
    ) -> Option<R> {
        let link = self.link_to(target.node())?;
        let (r, outs) = link.step(f);
        self.carry_out(&link, outs);
        Some(r)
    }
}

impl Mesh {
    /// Sends a message to a name registered on `node`.
    fn route_named(
        &self,
        node: &NodeId,
        name: &str,
        tag: &'static str,
        write: &mut dyn FnMut(&mut bytes::BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<(), SendErrorReason> {
        let link = self.link_to(node).ok_or(SendErrorReason::NoConnection)?;
        link.send_named(name, tag, write).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::link::Output;

    fn units(slice: &link::Outputs) -> usize {
        slice
            .iter()
            .map(|o| match o {
                Output::Forget { names, memberships } => names.len() + memberships.len(),
                _ => 1,
            })
            .sum()
    }

    /// A teardown as large as a peer's caps allow goes in slices of bounded work, in order.
    #[test]
    fn a_teardown_is_cut_into_slices_of_bounded_work_in_order() {
        let names: Vec<Arc<str>> = (0..600).map(|i| Arc::from(format!("n{i}"))).collect();
        let memberships: Vec<(Arc<str>, u64)> = (0..300).map(|i| (Arc::from("g"), i)).collect();
        let mut outs: link::Outputs = vec![Output::Forget { names, memberships }];
        outs.extend((0..700).map(|request| Output::LookupAbandoned { request }));
        let slices = slices(outs);
        assert!(
            slices
                .iter()
                .all(|s| units(s) <= TEARDOWN_SLICE && !s.is_empty())
        );
        assert_eq!(slices.iter().map(units).sum::<usize>(), 600 + 300 + 700);
        // Names, then memberships, then the rest, each in its order.
        let flat: Vec<String> = slices
            .iter()
            .flatten()
            .flat_map(|o| match o {
                Output::Forget { names, memberships } => names
                    .iter()
                    .map(|n| format!("name {n}"))
                    .chain(memberships.iter().map(|(_, m)| format!("member {m}")))
                    .collect::<Vec<_>>(),
                Output::LookupAbandoned { request } => vec![format!("lookup {request}")],
                _ => vec![],
            })
            .collect();
        let want: Vec<String> = (0..600)
            .map(|i| format!("name n{i}"))
            .chain((0..300).map(|i| format!("member {i}")))
            .chain((0..700).map(|i| format!("lookup {i}")))
            .collect();
        assert_eq!(flat, want);
        assert!(slices.len() >= (600 + 300 + 700) / TEARDOWN_SLICE);
    }
}
