//! Frames from a peer, applied to a started node without a socket: the control plane's fuzz
//! target and its replay test drive a node through this, then check that what the peer built
//! stayed within its caps and went away with its link.

use std::sync::Arc;

use bytes::BytesMut;
use reign_tls::{Incarnation, NodeId};

use super::events::LinkDownReason;
use super::link::{FrameHandler, Link};
use super::{Mesh, Peer};
use crate::proto::wire::{self, Frame};
use crate::{Mailbox, MailboxId, Node};

/// Why a node's state was found inconsistent after a peer's frames (a bug: the fuzz target
/// reports it as a crash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Inconsistency {
    /// The node is not started on a cluster, or `peer` is not one of its members.
    #[error("the node is not started on a cluster with that member")]
    NotAMember,
    /// The peer held more names and memberships than `max_announced_per_link`.
    #[error("the peer holds {held} names and memberships, past the cap of {cap}")]
    AnnouncedPastCap {
        /// How many.
        held: usize,
        /// The cap.
        cap: usize,
    },
    /// The peer held more monitors than `max_monitors_per_link`.
    #[error("the peer holds {held} monitors, past the cap of {cap}")]
    MonitorsPastCap {
        /// How many.
        held: usize,
        /// The cap.
        cap: usize,
    },
    /// After the link ended, something it brought was still held.
    #[error("after the link ended, the node still holds {0}")]
    Leftover(&'static str),
}

/// One peer's link to a started node, fed by hand (see the module docs).
#[doc(hidden)]
pub struct PeerFeed {
    cluster: Arc<Mesh>,
    peer: Arc<Peer>,
    link: Arc<Link>,
    /// The node's mailboxes frames may target (numbers in frames are mapped onto these).
    targets: Vec<MailboxId>,
    buf: BytesMut,
    ended: Option<LinkDownReason>,
}

/// The node's mailboxes a harness aims frames at, kept alive across feeds.
#[doc(hidden)]
pub struct Targets {
    _boxes: Vec<Mailbox<u64>>,
    ids: Vec<MailboxId>,
}

impl Targets {
    /// Four bounded mailboxes of `node` (capacity 8), two of them registered as `t0`, `t1`.
    pub fn new(node: &Node) -> Targets {
        let mut boxes = Vec::new();
        let mut ids = Vec::new();
        for i in 0..4 {
            let (b, a) = node.bounded_mailbox::<u64>(8);
            if i < 2 {
                let _ = node.names().register(format!("t{i}"), &a);
            }
            ids.push(a.id());
            boxes.push(b);
        }
        Targets { _boxes: boxes, ids }
    }
}

impl PeerFeed {
    /// A new link from `peer` (a member of the node's cluster that is not connected), in a
    /// new life, installed on `node`.
    pub fn new(node: &Node, peer: &NodeId, targets: &Targets) -> Result<PeerFeed, Inconsistency> {
        let cluster = node.mesh().ok_or(Inconsistency::NotAMember)?;
        let p = cluster
            .peers
            .get(peer)
            .ok_or(Inconsistency::NotAMember)?
            .clone();
        let t = &cluster.config.tunables;
        let proven = super::link::Proven {
            id: peer.clone(),
            incarnation: Incarnation::random(),
            valid_until: std::time::SystemTime::now() + std::time::Duration::from_secs(86_400),
            tls: None,
        };
        let link = Arc::new(Link::new(
            proven,
            cluster.node.incarnation(),
            p.out.clone(),
            t.max_frame_size,
            cluster.limits(),
        ));
        if let Some(old) = cluster.install(&p, link.clone()) {
            old.end(LinkDownReason::Replaced);
            old.finish();
            cluster.uninstall(&p, &old, LinkDownReason::Replaced);
        }
        cluster.announce(&link);
        Ok(PeerFeed {
            cluster,
            peer: p,
            link,
            targets: targets.ids.clone(),
            buf: BytesMut::new(),
            ended: None,
        })
    }

    /// Applies `bytes` as the next bytes from the peer: every whole frame in them, until the
    /// link ends. Mailbox numbers and incarnations in frames are mapped onto the node's own
    /// (mostly), so that frames reach live mailboxes. Checks the per-link caps after each.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Inconsistency> {
        if self.ended.is_some() {
            return Ok(());
        }
        self.buf.extend_from_slice(bytes);
        let max = self.cluster.config.tunables.max_frame_size;
        loop {
            let frame = match wire::decode(&mut self.buf, max) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.ended = Some(LinkDownReason::ProtocolError(e.into()));
                    break;
                }
            };
            let frame = self.aim(frame);
            let result = self.cluster.handle(&self.link, frame);
            self.discard_output();
            self.check_caps()?;
            if let Err(reason) = result {
                self.ended = Some(reason);
                break;
            }
        }
        Ok(())
    }

    /// One fuzz input, as the `control_plane` target and its replay test read it: a new link,
    /// the input's first byte saying where the rest is split into two reads, then the end.
    pub fn run(
        node: &Node,
        peer: &NodeId,
        targets: &Targets,
        input: &[u8],
    ) -> Result<(), Inconsistency> {
        let mut feed = PeerFeed::new(node, peer, targets)?;
        let (cut, rest) = match input.split_first() {
            Some((c, rest)) => (usize::from(*c).min(rest.len()), rest),
            None => (0, input),
        };
        let (one, two) = rest.split_at(cut);
        feed.feed(one)?;
        feed.feed(two)?;
        feed.end()
    }

    /// Ends the link as its task would, then checks that nothing it brought is left.
    pub fn end(self) -> Result<(), Inconsistency> {
        let reason = self.ended.clone().unwrap_or(LinkDownReason::ClosedByPeer);
        self.link.end(reason.clone());
        self.link.finish();
        self.cluster.uninstall(&self.peer, &self.link, reason);
        let node = &self.cluster.node.inner;
        if node.names.held_via(self.link.id) {
            return Err(Inconsistency::Leftover("names"));
        }
        if node.groups.held_via(self.link.id) {
            return Err(Inconsistency::Leftover("group memberships"));
        }
        if self.link.control().held() != (0, 0, 0) {
            return Err(Inconsistency::Leftover("monitors"));
        }
        for id in &self.targets {
            if node.inbox(*id).is_some_and(|i| i.watched_by_count() > 2) {
                // At most the hooks of the node's own names on it.
                return Err(Inconsistency::Leftover("hooks on a mailbox"));
            }
        }
        Ok(())
    }

    fn aim(&self, mut frame: Frame) -> Frame {
        let inc = self.cluster.node.incarnation().get();
        let n = self.targets.len() as u64;
        if let Frame::Send {
            target,
            target_incarnation,
            ..
        }
        | Frame::Monitor {
            target,
            target_incarnation,
            ..
        }
        | Frame::Link {
            target,
            target_incarnation,
            ..
        }
        | Frame::Exit {
            target,
            target_incarnation,
            ..
        }
        | Frame::Unlink {
            target,
            target_incarnation,
            ..
        } = &mut frame
        {
            // Most numbers map onto a live mailbox and the node's life; some stay as they are.
            if *target % (n + 1) < n {
                *target = self.targets[(*target % (n + 1)) as usize].get();
            }
            if *target_incarnation % 4 != 3 {
                *target_incarnation = inc;
            }
        }
        frame
    }

    /// What the node queued for the peer is dropped, as if the peer read it.
    fn discard_output(&self) {
        let mut q = self.link.out_queues();
        q.ordered.clear();
        q.marks.clear();
        q.urgent.clear();
    }

    fn check_caps(&self) -> Result<(), Inconsistency> {
        let t = &self.cluster.config.tunables;
        let (incoming, _, held) = self.link.control().held();
        if held > t.max_announced_per_link {
            return Err(Inconsistency::AnnouncedPastCap {
                held,
                cap: t.max_announced_per_link,
            });
        }
        if incoming > t.max_monitors_per_link {
            return Err(Inconsistency::MonitorsPastCap {
                held: incoming,
                cap: t.max_monitors_per_link,
            });
        }
        Ok(())
    }
}

/// Links two started nodes over an in-memory pipe (`tokio::io::duplex`, `buffer` bytes each
/// way) instead of a TLS connection, as if each had proved the other's identity. The link's
/// loops, control plane and cleanup are the ones that run over TLS. For tests of the node
/// without sockets: each node must list the other as a member (at an address nobody
/// answers, so that no real link competes). Returns once both links run; they come into
/// service as over TLS ([`Cluster::wait_for`]).
#[doc(hidden)]
pub fn link_in_memory(a: &Node, b: &Node, buffer: usize) -> Result<(), Inconsistency> {
    let (ca, cb) = (
        a.mesh().ok_or(Inconsistency::NotAMember)?,
        b.mesh().ok_or(Inconsistency::NotAMember)?,
    );
    let (pa, pb) = (
        ca.peers
            .get(b.id())
            .ok_or(Inconsistency::NotAMember)?
            .clone(),
        cb.peers
            .get(a.id())
            .ok_or(Inconsistency::NotAMember)?
            .clone(),
    );
    let (io_a, io_b) = tokio::io::duplex(buffer);
    let valid_until = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    for (c, p, other, io) in [(ca, pa, b, io_a), (cb, pb, a, io_b)] {
        let proven = super::link::Proven {
            id: other.id().clone(),
            incarnation: other.incarnation(),
            valid_until,
            tls: None,
        };
        let me = c.clone();
        c.spawn(async move { me.run_link_over(&p, proven, io).await });
    }
    Ok(())
}
