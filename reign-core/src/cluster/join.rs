//! Drives the node registry ([`crate::proto::registry`]) for a started node (docs/PROTOCOL.md
//! section 4, "Joining"): feeds it what happens (connections, links in service and torn down,
//! ADVERTISE and HINT frames, dials failed, seeds answering) and carries out what it hands
//! back (peers added to and taken out of the table, dials, frames, events). It also runs the
//! seed loop and the registry's timers (forgetting, fallback dials); the decisions are the
//! machine's. Every call that can make the registry hand something back goes through
//! [`Mesh::with_registry`]; the others (reads, `link_installed`, `seed_answered`) lock it
//! directly.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reign_tls::NodeId;
use reign_tls::ratelimit::Escaped;

use super::events::{JoinedVia, NodeEvent};
use super::link::Link;
use super::{Mesh, Peer};
use crate::proto::backoff::Backoff;
use crate::proto::registry::{Action, AddrSource, Registry, RegistryLimits};
use crate::proto::wire::Frame;

/// The most nodes one node knows (members, joined and hinted); a node past it is not
/// learned (a connection from it is closed, a hint of it ignored).
pub(crate) const MAX_NODES: usize = 4096;
/// HINT and ADVERTISE frames a peer may send at once...
pub(crate) const HINT_BURST: u32 = 64;
/// ...and then one each this long.
pub(crate) const HINT_EVERY: Duration = Duration::from_secs(1);
/// Failed dials after which a node learned only from a hint is forgotten.
pub(crate) const HINTED_DIALS: u32 = 3;
/// The longest the registry's timers wait between looks.
const TIMER_EVERY: Duration = Duration::from_secs(1);
/// Addresses of one seed name dialed per round.
const MAX_SEED_ADDRS: usize = 16;

/// The registry's limits for a node with these tunables.
pub(crate) fn limits(t: &crate::Tunables) -> RegistryLimits {
    RegistryLimits {
        max_nodes: MAX_NODES,
        hint_burst: HINT_BURST,
        hint_every: HINT_EVERY,
        hinted_dials: HINTED_DIALS,
        forget_after: t.forget_after,
        fallback_after: 2 * t.reconnect_backoff_max,
    }
}

/// A claim on dialing one address ([`Mesh::claim`]); released when dropped.
pub(crate) struct Claim {
    mesh: Arc<Mesh>,
    addr: SocketAddr,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.mesh
            .connecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.addr);
    }
}

impl Mesh {
    /// Claims `addr` for one dial (a dial loop's or a seed round's), unless it is claimed.
    pub(crate) fn claim(self: &Arc<Self>, addr: SocketAddr) -> Option<Claim> {
        let mut c = self
            .connecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        c.insert(addr).then(|| Claim {
            mesh: self.clone(),
            addr,
        })
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the registry, then carries out what it hands back. The peer table
    /// changes under the registry's lock (so that the table and the registry agree on who
    /// is known, whatever runs at once); the rest (dials, frames, events) after it.
    pub(crate) fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut later = Vec::new();
        let r = {
            let mut reg = self.registry();
            let r = f(&mut reg);
            while let Some(action) = reg.poll() {
                match action {
                    Action::Joined { ref node, .. } => {
                        let t = &self.config.tunables;
                        let make =
                            || Peer::new(node.clone(), t.link_buffer_limit, t.max_frame_size);
                        // The registry bounds the table (it holds the same nodes).
                        self.peers.get_or_add(node, make);
                        later.push(action);
                    }
                    Action::Left { ref node, .. } => {
                        if let Some(p) = self.peers.remove(node) {
                            p.retired.store(true, Ordering::Relaxed);
                        }
                        later.push(action);
                    }
                    action => later.push(action),
                }
            }
            r
        };
        for action in later {
            self.carry_out_registry(action);
        }
        r
    }

    fn carry_out_registry(&self, action: Action) {
        match action {
            Action::Joined { node, addr, how } => {
                self.joined.notify_waiters();
                reign_tls::info_limited!(node = %self.node.id(), peer = %node, addr = %Escaped(&addr), %how, "node joined");
                self.emit(NodeEvent::Joined { node, addr, how });
            }
            Action::Left { node, reason } => {
                reign_tls::info_limited!(node = %self.node.id(), peer = %node, %reason, "node forgotten");
                self.emit(NodeEvent::Left { node, reason });
            }
            Action::Dial { node } => {
                // The mesh is gone only once the node is (then nothing is dialed).
                if let (Some(peer), Some(me)) = (self.peers.get(&node), self.node.mesh()) {
                    me.maybe_dial(&peer);
                }
            }
            Action::Send { to, frame } => {
                if let Some(link) = self.link_to(&to) {
                    link.send_ordered(&frame);
                }
            }
            Action::Ignored { from, why } => {
                reign_tls::warn_limited!(node = %self.node.id(), peer = %from, reason = %why, "registry frame ignored");
            }
        }
    }

    /// Where this node dials `id` (empty: no address known).
    pub(crate) fn addr_of(&self, id: &NodeId) -> String {
        self.registry().addr(id).to_owned()
    }

    /// Whether any link is in service.
    fn has_link(&self) -> bool {
        self.peers.values().any(|p| p.link().is_some())
    }

    /// `id` as a peer: known already, or added if this node admits it and has room (then
    /// [`NodeEvent::Joined`] is emitted). `addr` is where to dial it, from `source`.
    pub(crate) fn learn(
        self: &Arc<Self>,
        id: &NodeId,
        addr: Option<&str>,
        source: AddrSource,
        how: JoinedVia,
    ) -> Option<Arc<Peer>> {
        let admitted = id != self.node.id() && self.tls.admits(id);
        let known =
            self.with_registry(|r| r.learn(id, addr, source, how, admitted, Instant::now()));
        if !known && admitted {
            reign_tls::warn_limited!(node = %self.node.id(), peer = %id, max = MAX_NODES, "node not learned: this node knows the most it may");
        }
        known.then(|| self.peers.get(id)).flatten()
    }

    /// Starts dialing `peer` (the registry says to) if an address is known and no dial loop
    /// runs for it yet.
    pub(crate) fn maybe_dial(self: &Arc<Self>, peer: &Arc<Peer>) {
        if !self.addr_of(&peer.id).is_empty()
            && !self.stop.is_cancelled()
            && !peer.retired.load(Ordering::Relaxed)
            && !peer.dialing.swap(true, Ordering::AcqRel)
        {
            self.spawn(self.clone().dial_loop(peer.clone()));
        }
    }

    /// A dial of `peer` failed; whether the registry forgot it for that (stop dialing).
    pub(crate) fn dial_failed(self: &Arc<Self>, peer: &Peer) -> bool {
        self.with_registry(|r| r.dial_failed(&peer.id, Instant::now()))
    }

    /// Whether `peer` is known from a hint only (its refusals go on a budget).
    pub(crate) fn hinted(&self, peer: &Peer) -> bool {
        self.registry().hinted(&peer.id)
    }

    /// Runs the registry's timers: forgetting nodes gone quiet, and fallback dials. Looks
    /// at least once a second (a node learned meanwhile may have an earlier timer); each
    /// look is O(known nodes).
    pub(crate) async fn registry_timers(self: Arc<Self>) {
        loop {
            let now = Instant::now();
            let next = self.registry().poll_timeout().unwrap_or(now + TIMER_EVERY);
            let wait = next
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(10), TIMER_EVERY);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return,
            }
            self.with_registry(|r| r.handle_timeout(Instant::now()));
        }
    }

    /// Dials the seeds: while this node has no link, each round with backoff; once linked,
    /// every longest redial delay, only the seed addresses whose node is not in service (so
    /// that two sides of a healed partition find each other again, even after they forgot
    /// each other).
    pub(crate) async fn seed_loop(self: Arc<Self>) {
        let t = &self.config.tunables;
        let mut backoff = Backoff::new(t.reconnect_backoff_min, t.reconnect_backoff_max);
        loop {
            for seed in &self.config.seeds {
                self.clone().try_seed(seed).await;
            }
            let wait = if self.has_link() {
                backoff.reset();
                t.reconnect_backoff_max
            } else {
                backoff.failed(super::connect::unit_random())
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return,
            }
        }
    }

    /// Resolves `seed` and dials its addresses that the registry wants dialed.
    async fn try_seed(self: Arc<Self>, seed: &str) {
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(seed).await {
            Ok(a) => a.take(MAX_SEED_ADDRS).collect(),
            Err(e) => {
                reign_tls::warn_limited!(node = %self.node.id(), seed = %Escaped(seed), error = %e, "seed does not resolve");
                return;
            }
        };
        for addr in addrs {
            if addr == self.local_addr || !self.registry().seed_wanted(addr) {
                continue;
            }
            // Not while a dial loop dials it (the node is known there already).
            let Some(claim) = self.claim(addr) else {
                continue;
            };
            let dialed = tokio::select! {
                r = self.tls.connect_any(addr) => r,
                () = self.stop.cancelled() => return,
            };
            let stream = match dialed {
                Ok(s) => s,
                Err(e) => {
                    // A refusal is news (this node may not be welcome there): an event and a
                    // warning, on the budgets; a seed not answering is only logged.
                    match e.refusal() {
                        Some((by, reason)) => {
                            reign_tls::warn_limited!(node = %self.node.id(), seed = %Escaped(seed), %addr, error = %e, "refused at a seed address");
                            if self.refusal_events.admit().is_some() {
                                self.emit(NodeEvent::Refused {
                                    node: None,
                                    by,
                                    reason: reason.clone(),
                                });
                            }
                        }
                        None => {
                            reign_tls::debug_limited!(node = %self.node.id(), seed = %Escaped(seed), %addr, error = %e, "seed dial failed");
                        }
                    }
                    continue;
                }
            };
            let id = stream.peer().node_id.clone();
            self.registry().seed_answered(addr, &id);
            let Some(peer) = self.learn(
                &id,
                Some(&addr.to_string()),
                AddrSource::Peer,
                JoinedVia::Seed,
            ) else {
                continue;
            };
            if peer.link().is_some() {
                continue;
            }
            // Installed (in the link's own task) before the claim goes, so that no dial loop
            // dials it again meanwhile.
            let me = self.clone();
            self.spawn(async move {
                let link = me.start_link(&peer, stream);
                drop(claim);
                link.await
            });
        }
    }

    /// The link with `link.peer` is in service: the registry tells the peer where this node
    /// is, and of every other node in service whose address it knows.
    pub(crate) fn introduce(&self, link: &Arc<Link>) {
        let own = self.node.cluster().advertised_addr();
        self.with_registry(|r| r.link_up(&link.peer, own.as_deref()));
    }

    /// An ADVERTISE or a HINT from `link`'s peer.
    pub(crate) fn registry_frame(self: &Arc<Self>, link: &Arc<Link>, frame: Frame) {
        let now = Instant::now();
        match frame {
            Frame::Advertise { addr } => {
                let from_ip = link.tls_peer().map(|p| p.addr.ip());
                self.with_registry(|r| r.advertise(&link.peer, addr.as_str(), from_ip, now));
            }
            Frame::Hint { node, addr } => {
                let me = self.node.id();
                let admits = |id: &NodeId| id != me && self.tls.admits(id);
                self.with_registry(|r| {
                    r.hint(&link.peer, node.as_str(), addr.as_str(), admits, now)
                });
            }
            _ => {}
        }
    }
}
