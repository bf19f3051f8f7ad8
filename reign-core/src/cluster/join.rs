//! The node registry's moving parts (docs/PROTOCOL.md section 4, "Joining"): nodes learned
//! at run time (a connection from a node the TLS policy admits, a node answering at a seed
//! address, a member's HINT), the seeds this node joins through while it has no link, and
//! the ADVERTISE / HINT frames that tell linked nodes of each other, so a node that starts
//! from one seed becomes linked with every node.
//!
//! Bounds (docs/SECURITY.md): at most [`MAX_NODES`] known nodes; per peer, HINT and ADVERTISE
//! frames on a budget of [`HINT_BURST`] then one each [`HINT_EVERY`] (the rest are ignored);
//! one dial loop per node, with backoff; a node learned from a hint that never connects is
//! forgotten after [`HINTED_DIALS`] failed dials.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reign_tls::NodeId;
use reign_tls::ratelimit::Escaped;

use super::events::{JoinedVia, LeftReason, NodeEvent};
use super::link::Link;
use super::{AddrSource, Mesh, Peer};
use crate::proto::backoff::Backoff;
use crate::proto::wire::{Frame, Text};

/// The most nodes one node knows (members, joined and hinted); a node past it is not
/// learned (a connection from it is closed, a hint of it ignored).
pub(crate) const MAX_NODES: usize = 4096;
/// HINT and ADVERTISE frames a peer may send at once...
pub(crate) const HINT_BURST: u32 = 64;
/// ...and then one each this long.
pub(crate) const HINT_EVERY: Duration = Duration::from_secs(1);
/// Failed dials after which a node learned only from a hint is forgotten.
pub(crate) const HINTED_DIALS: u32 = 3;
/// Addresses of one seed name dialed per round.
const MAX_SEED_ADDRS: usize = 16;

impl Mesh {
    /// Whether any link is up (or being set up and installed).
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
        if id == self.node.id() || !self.tls.admits(id) {
            return None;
        }
        let t = &self.config.tunables;
        let Some((peer, new)) = self.peers.get_or_add(id, MAX_NODES, || {
            Peer::new(
                id.clone(),
                String::new(),
                AddrSource::Unknown,
                t.link_buffer_limit,
                t.max_frame_size,
            )
        }) else {
            reign_tls::warn_limited!(node = %self.node.id(), peer = %id, max = MAX_NODES, "node not learned: this node knows the most it may");
            return None;
        };
        if let Some(a) = addr {
            peer.set_addr(a, source);
        }
        if new {
            self.joined.notify_waiters();
            peer.hinted.store(how == JoinedVia::Hint, Ordering::Relaxed);
            let addr = peer.addr();
            reign_tls::info_limited!(node = %self.node.id(), peer = %id, addr = %Escaped(&addr), %how, "node joined");
            self.emit(NodeEvent::Joined {
                node: id.clone(),
                addr,
                how,
            });
        }
        Some(peer)
    }

    /// Starts dialing `peer` if this node is the one that dials it, an address is known and
    /// no dial loop runs for it yet.
    pub(crate) fn maybe_dial(self: &Arc<Self>, peer: &Arc<Peer>) {
        if self.dials(peer)
            && !peer.addr().is_empty()
            && !self.stop.is_cancelled()
            && !peer.dialing.swap(true, Ordering::AcqRel)
        {
            self.tracker.spawn(self.clone().dial_loop(peer.clone()));
        }
    }

    /// Forgets `id` if it joined at run time and has no link: out of the table, its dial
    /// loop ended, [`NodeEvent::Left`] emitted. (It is learned again if it comes back.)
    pub(crate) fn forget(&self, id: &NodeId, reason: LeftReason) {
        let Some(peer) = self.peers.get(id) else {
            return;
        };
        if peer.configured() || !self.peers.remove_if_unlinked(id) {
            return;
        }
        peer.retired.store(true, Ordering::Relaxed);
        reign_tls::info_limited!(node = %self.node.id(), peer = %id, %reason, "node forgotten");
        self.emit(NodeEvent::Left {
            node: id.clone(),
            reason,
        });
    }

    /// Forgets, now and then, every node that joined at run time and has had no link for
    /// [`Tunables::forget_after`](crate::Tunables::forget_after).
    pub(crate) async fn forget_loop(self: Arc<Self>) {
        let after = self.config.tunables.forget_after;
        let every = (after / 4).clamp(Duration::from_millis(10), Duration::from_secs(60));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.stop.cancelled() => return,
            }
            for p in self.peers.values() {
                if p.configured() || p.link().is_some() {
                    continue;
                }
                // Quiet since its last link ended, or since it was learned if it never had one.
                if p.quiet_since().unwrap_or(p.learned).elapsed() >= after {
                    self.forget(&p.id, LeftReason::Unreachable);
                }
            }
        }
    }

    /// Dials the seeds, whoever answers, while this node has no link; sleeps between
    /// rounds with backoff (the longest redial delay once linked, to look again).
    pub(crate) async fn seed_loop(self: Arc<Self>) {
        let t = &self.config.tunables;
        let mut backoff = Backoff::new(t.reconnect_backoff_min, t.reconnect_backoff_max);
        loop {
            let wait = if self.has_link() {
                backoff.reset();
                t.reconnect_backoff_max
            } else {
                for seed in &self.config.seeds {
                    self.clone().try_seed(seed).await;
                    if self.has_link() {
                        break;
                    }
                }
                backoff.failed(super::connect::unit_random())
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return,
            }
        }
    }

    /// Resolves `seed` and dials its addresses until one makes a link.
    async fn try_seed(self: Arc<Self>, seed: &str) {
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(seed).await {
            Ok(a) => a.take(MAX_SEED_ADDRS).collect(),
            Err(e) => {
                reign_tls::warn_limited!(node = %self.node.id(), seed = %Escaped(seed), error = %e, "seed does not resolve");
                return;
            }
        };
        for addr in addrs {
            if addr == self.local_addr {
                continue;
            }
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
            let me = self.clone();
            self.tracker
                .spawn(async move { me.run_link(&peer, stream).await });
            return;
        }
    }

    /// The link with `link.peer` is in service: tell the peer where this node is, and of
    /// every other node this node is linked to whose address it knows.
    pub(crate) fn introduce(&self, link: &Arc<Link>) {
        if let Some(own) = self.node.cluster().advertised_addr() {
            link.send_ordered(&Frame::Advertise {
                addr: Text::new(&own),
            });
        }
        for p in self.peers.values() {
            if p.id == link.peer || p.link().is_none() {
                continue;
            }
            let addr = p.addr();
            if !addr.is_empty() {
                link.send_ordered(&Frame::Hint {
                    node: Text::new(p.id.as_str()),
                    addr: Text::new(&addr),
                });
            }
        }
    }

    /// An ADVERTISE or a HINT from `link`'s peer.
    pub(crate) fn registry_frame(self: &Arc<Self>, link: &Arc<Link>, frame: Frame) {
        let Some(from) = self.peers.get(&link.peer) else {
            return;
        };
        if !from.hint_budget(Instant::now()) {
            reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, "ADVERTISE or HINT past the peer's budget: ignored");
            return;
        }
        match frame {
            Frame::Advertise { addr } => {
                let Some(addr) = self.dialable(link, addr.as_str()) else {
                    reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, addr = %Escaped(addr.as_str()), "ADVERTISE of an address that is not host:port: ignored");
                    return;
                };
                if from.set_addr(&addr, AddrSource::Peer) {
                    // Tell the others of it: they may not know it yet.
                    for p in self.peers.values() {
                        if p.id == from.id {
                            continue;
                        }
                        if let Some(l) = p.link() {
                            l.send_ordered(&Frame::Hint {
                                node: Text::new(from.id.as_str()),
                                addr: Text::new(&addr),
                            });
                        }
                    }
                }
                self.maybe_dial(&from);
            }
            Frame::Hint { node, addr } => {
                // An unspecified host (0.0.0.0, [::]) names no one to dial.
                let dialable = super::config::address::split_host_port(addr.as_str()).is_ok_and(
                    |(host, _)| {
                        !host
                            .parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_unspecified())
                    },
                );
                let (Ok(id), true) = (NodeId::new(node.as_str()), dialable) else {
                    reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, hinted = %Escaped(node.as_str()), addr = %Escaped(addr.as_str()), "HINT of something that is not a node ID and host:port: ignored");
                    return;
                };
                if id == link.peer {
                    return;
                }
                if let Some(peer) =
                    self.learn(&id, Some(addr.as_str()), AddrSource::Hint, JoinedVia::Hint)
                {
                    self.maybe_dial(&peer);
                }
            }
            _ => {}
        }
    }

    /// An advertised `host:port`, with an unspecified host (`0.0.0.0`, `[::]`: the peer
    /// listens on every interface) replaced by the address its link comes from.
    fn dialable(&self, link: &Link, addr: &str) -> Option<String> {
        let (host, port) = super::config::address::split_host_port(addr).ok()?;
        let unspecified = host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        if !unspecified {
            return Some(addr.to_owned());
        }
        let from = link.tls_peer()?.addr.ip();
        Some(SocketAddr::new(from, port).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_only_fills_an_unknown_address() {
        let p = Peer::new(
            NodeId::new("b").unwrap(),
            String::new(),
            AddrSource::Unknown,
            1024,
            1024,
        );
        assert!(p.set_addr("10.0.0.2:7001", AddrSource::Hint));
        // Another hint (a hostile member's, say) does not redirect it...
        assert!(!p.set_addr("127.0.0.1:9", AddrSource::Hint));
        assert_eq!(p.addr(), "10.0.0.2:7001");
        // ...the node's own word does, and then no hint at all.
        assert!(p.set_addr("10.0.0.2:7002", AddrSource::Peer));
        assert!(!p.set_addr("127.0.0.1:9", AddrSource::Hint));
        assert_eq!(p.addr(), "10.0.0.2:7002");
        // The configuration's beats both.
        let c = Peer::new(
            NodeId::new("c").unwrap(),
            "h:1".into(),
            AddrSource::Config,
            1024,
            1024,
        );
        assert!(!c.set_addr("h:2", AddrSource::Peer));
        assert!(c.configured());
    }
}
