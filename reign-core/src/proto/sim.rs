//! A socket-free harness in the style of quinn-proto's `Pair`: the link state machines of
//! several nodes, connected by in-memory pipes that carry real frame bytes, on a virtual
//! clock, with faults (loss, delay, blackhole, garbage, partition and heal).
//!
//! Each simulated node plays the driver's part for its machines, as `cluster::link` does
//! with sockets: it encodes what they send, decodes what arrives, keeps a few local mailboxes
//! to watch and a registry to answer lookups, and logs everything else they hand back. Its
//! cluster-wide names and groups are a real (local) [`Node`]'s, changed through the same
//! function the cluster uses (`handles::apply_from_link`); what that node broadcasts goes out
//! on every link of the simulated node.
//! Nothing sleeps: [`Sim::run_until`] jumps from one event to the next.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use reign_tls::{Incarnation, NodeId};

use super::link::{Limits, LinkState, Output, Phase};
use crate::proto::reason::LinkDownReason;
use crate::proto::wire::{self, Frame, Text};
use crate::{DownReason, MailboxId, MailboxRef, MonitorId, Node};

/// A simulated node's cluster layer: it only collects what the node broadcasts.
#[derive(Default)]
struct SimLayer {
    outbox: Mutex<Vec<Frame>>,
}

impl crate::node::ClusterLayer for SimLayer {
    fn broadcast(&self, frame: &Frame) {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(frame.clone());
    }
}

/// The largest frame the simulated nodes take.
const MAX_FRAME: usize = 1 << 20;

/// The driver's handle on an attached hook: (local mailbox, watch token).
type Hook = (u64, u64);

/// What a simulated node saw, with the instant it saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The link to the peer is in service.
    Up,
    /// The link to the peer ended; `reported`: it had been up.
    LinkDown {
        reason: LinkDownReason,
        reported: bool,
    },
    /// A local watcher's monitor of the peer's mailbox fired.
    Down {
        watcher: u64,
        monitor: MonitorId,
        target: u64,
        reason: DownReason,
        /// Why the link ended, when that is why it fired.
        link: Option<LinkDownReason>,
    },
    /// A hook for the peer's monitor was detached from local mailbox `target`.
    Unwatched {
        target: u64,
    },
    /// The peer's server `from` removed the link local server `target` made with it.
    Unlinked {
        target: u64,
        from: u64,
    },
    /// An exit signal for local server `target` from the peer's linked server `from`.
    Exit {
        target: u64,
        from: u64,
        reason: DownReason,
    },
    /// The answer to a lookup.
    LookupAnswered {
        request: u64,
        found: Option<(u64, String)>,
    },
    /// A lookup abandoned with its link.
    LookupAbandoned {
        request: u64,
    },
    /// The peer's certificate update, handed to the driver to verify.
    CertificateUpdate {
        certificates: usize,
    },
    /// The peer's name or group announcements, as the node would apply them.
    NameAdd {
        name: String,
        mailbox: u64,
    },
    NameRemove {
        name: String,
        mailbox: u64,
    },
    GroupJoin {
        group: String,
        mailbox: u64,
    },
    GroupLeave {
        group: String,
        mailbox: u64,
    },
    /// The link ended and the node forgot the names and memberships it brought.
    Forgot {
        names: usize,
        memberships: usize,
    },
}

/// What happens to bytes on a pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Delivered after the pipe's latency.
    Deliver,
    /// Lost (a close included).
    Drop,
    /// Held until the fault changes, then delivered.
    Blackhole,
}

enum Chunk {
    Bytes(Vec<u8>),
    /// The sender closed the connection.
    Close,
}

struct Pipe {
    fault: Fault,
    latency: Duration,
    queue: VecDeque<(Instant, Chunk)>,
    /// What arrived and is not a whole frame yet.
    buf: BytesMut,
}

impl Pipe {
    fn new(latency: Duration) -> Self {
        Self {
            fault: Fault::Deliver,
            latency,
            queue: VecDeque::new(),
            buf: BytesMut::new(),
        }
    }
}

/// One simulated node.
pub(crate) struct SimNode {
    pub(crate) id: NodeId,
    pub(crate) incarnation: u64,
    /// Its live mailboxes.
    live: HashSet<u64>,
    next_mailbox: u64,
    next_monitor: u64,
    next_request: u64,
    /// Hooks on its mailboxes: mailbox -> (peer, peer's monitor, token).
    hooks: HashMap<u64, Vec<(usize, u64, u64)>>,
    /// Its registry (name -> mailbox, tag), for answering lookups.
    pub(crate) registry: HashMap<String, (u64, String)>,
    /// The node whose cluster-wide names and groups these are (local: no cluster of its
    /// own; what it broadcasts goes out on the simulated links).
    pub(crate) node: Node,
    layer: Arc<SimLayer>,
    /// Its links, by peer index.
    pub(crate) links: BTreeMap<usize, LinkState<Hook>>,
    /// What it saw: (when, peer, what).
    pub(crate) seen: Vec<(Instant, usize, Seen)>,
}

/// Several nodes' link machines on pipes and a virtual clock.
pub(crate) struct Sim {
    pub(crate) now: Instant,
    start: Instant,
    wall0: SystemTime,
    pub(crate) nodes: Vec<SimNode>,
    pipes: HashMap<(usize, usize), Pipe>,
    /// The number of the current link from x to y (what names and groups call `via`).
    vias: HashMap<(usize, usize), u64>,
    next_via: u64,
    pub(crate) limits: Limits,
    /// The instant certificates expire (wall clock), for every link made from now on.
    pub(crate) valid_until: SystemTime,
    latency: Duration,
}

/// Limits like the defaults, small where a test wants to reach them.
pub(crate) fn test_limits() -> Limits {
    Limits {
        heartbeat_interval: Duration::from_millis(100),
        silence_limit: Duration::from_millis(800),
        max_monitors: 8,
        max_announced: 8,
    }
}

impl Sim {
    /// `n` nodes named `n0`, `n1`, ... (not linked yet), pipes with `latency`.
    pub(crate) fn new(n: usize, latency: Duration) -> Self {
        let start = Instant::now();
        let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let nodes = (0..n)
            .map(|i| {
                let id: NodeId = format!("n{i}").parse().expect("a valid node ID");
                let incarnation = 1000 + i as u64;
                let node = Node::with_incarnation(id.clone(), Incarnation(incarnation));
                let layer = Arc::new(SimLayer::default());
                let as_layer: Arc<dyn crate::node::ClusterLayer> = layer.clone();
                let _ = node.inner.cluster.set(Arc::downgrade(&as_layer));
                SimNode {
                    id,
                    incarnation,
                    node,
                    layer,
                    live: HashSet::new(),
                    next_mailbox: 1,
                    next_monitor: 1,
                    next_request: 1,
                    hooks: HashMap::new(),
                    registry: HashMap::new(),
                    links: BTreeMap::new(),
                    seen: Vec::new(),
                }
            })
            .collect();
        Self {
            now: start,
            start,
            wall0,
            nodes,
            pipes: HashMap::new(),
            vias: HashMap::new(),
            next_via: 1,
            limits: test_limits(),
            valid_until: wall0 + Duration::from_secs(10 * 365 * 86400),
            latency,
        }
    }

    /// The wall clock at `now`.
    pub(crate) fn wall(&self) -> SystemTime {
        self.wall0 + (self.now - self.start)
    }

    /// Every pair linked (a full mesh), and the links run until all are in service.
    pub(crate) fn mesh(n: usize, latency: Duration) -> Self {
        let mut sim = Self::new(n, latency);
        for a in 0..n {
            for b in a + 1..n {
                sim.connect(a, b);
            }
        }
        sim.run_for(latency * 4);
        sim
    }

    /// A new connection between `a` and `b`: fresh machines on both sides (ending any
    /// earlier link, as a newer connection replaces it), then each side announces its names
    /// and SYNCED, as a node does.
    pub(crate) fn connect(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            if self.nodes[x].links.contains_key(&y) {
                self.end_link(x, y, LinkDownReason::Replaced);
            }
        }
        for (x, y) in [(a, b), (b, a)] {
            let latency = self.latency;
            self.pipes.insert((x, y), Pipe::new(latency));
            let state = LinkState::new(
                self.now,
                self.nodes[y].id.clone(),
                self.nodes[y].incarnation,
                self.nodes[x].incarnation,
                self.limits.clone(),
                self.valid_until,
            );
            self.nodes[x].links.insert(y, state);
            self.vias.insert((x, y), self.next_via);
            self.next_via += 1;
        }
        // Each side announces its names and groups, then SYNCED, as a node does.
        for (x, y) in [(a, b), (b, a)] {
            let n = &self.nodes[x].node;
            let me = MailboxRef::new(n.id().clone(), n.incarnation(), MailboxId(0));
            let mut frames = n.inner.names.own_frames(n.id());
            frames.extend(n.inner.groups.own_frames(&me));
            for f in frames {
                self.transmit(x, y, &f);
            }
            self.transmit(x, y, &Frame::Synced);
        }
        self.flush();
    }

    /// Whether `x`'s link to `y` is in service.
    pub(crate) fn is_up(&self, x: usize, y: usize) -> bool {
        self.nodes[x]
            .links
            .get(&y)
            .is_some_and(|l| *l.phase() == Phase::InService)
    }

    /// `x`'s link to `y`.
    pub(crate) fn link(&self, x: usize, y: usize) -> &LinkState<Hook> {
        &self.nodes[x].links[&y]
    }

    /// Sets what happens to bytes from `from` to `to`.
    pub(crate) fn set_fault(&mut self, from: usize, to: usize, fault: Fault) {
        if let Some(p) = self.pipes.get_mut(&(from, to)) {
            p.fault = fault;
        }
    }

    /// Cuts every path between the two sides both ways (bytes held, as a silent network).
    pub(crate) fn partition(&mut self, left: &[usize], right: &[usize]) {
        for &l in left {
            for &r in right {
                self.set_fault(l, r, Fault::Blackhole);
                self.set_fault(r, l, Fault::Blackhole);
            }
        }
    }

    /// Ends every fault; pairs whose link ended on either side reconnect, as their dialer
    /// would.
    pub(crate) fn heal(&mut self) {
        for p in self.pipes.values_mut() {
            p.fault = Fault::Deliver;
        }
        let n = self.nodes.len();
        for a in 0..n {
            for b in a + 1..n {
                if !self.nodes[a].links.contains_key(&b) || !self.nodes[b].links.contains_key(&a) {
                    self.connect(a, b);
                }
            }
        }
    }

    /// Raw bytes from `from` arrive at `to` after the latency, as if `from`'s node wrote them
    /// (a hostile or broken peer).
    pub(crate) fn inject(&mut self, from: usize, to: usize, bytes: &[u8]) {
        self.push(from, to, Chunk::Bytes(bytes.to_vec()));
    }

    /// `frame` from `from` to `to`, bypassing `from`'s machine (a hostile peer's frame).
    pub(crate) fn transmit(&mut self, from: usize, to: usize, frame: &Frame) {
        let mut b = BytesMut::new();
        wire::encode(frame, &mut b);
        self.push(from, to, Chunk::Bytes(b.to_vec()));
    }

    fn push(&mut self, from: usize, to: usize, chunk: Chunk) {
        let now = self.now;
        if let Some(p) = self.pipes.get_mut(&(from, to))
            && p.fault != Fault::Drop
        {
            p.queue.push_back((now + p.latency, chunk));
        }
    }

    /// A new live mailbox on `x`.
    pub(crate) fn mailbox(&mut self, x: usize) -> u64 {
        let n = &mut self.nodes[x];
        let id = n.next_mailbox;
        n.next_mailbox += 1;
        n.live.insert(id);
        id
    }

    /// Mailbox `id` of `x` ends with `reason`: the hooks of peers' monitors fire.
    pub(crate) fn end_mailbox(&mut self, x: usize, id: u64, reason: DownReason) {
        self.nodes[x].live.remove(&id);
        for (peer, peer_monitor, token) in self.nodes[x].hooks.remove(&id).unwrap_or_default() {
            if let Some(l) = self.nodes[x].links.get_mut(&peer) {
                l.local_down(peer_monitor, token, &reason);
            }
        }
        self.flush();
    }

    /// `x`'s mailbox `watcher` monitors mailbox `target` of `y` (in `y`'s current life).
    pub(crate) fn monitor(
        &mut self,
        x: usize,
        watcher: u64,
        y: usize,
        target: u64,
    ) -> Result<MonitorId, DownReason> {
        let target = MailboxRef::new(
            self.nodes[y].id.clone(),
            Incarnation(self.nodes[y].incarnation),
            MailboxId(target),
        );
        let n = &mut self.nodes[x];
        let monitor = MonitorId(n.next_monitor);
        n.next_monitor += 1;
        let link = n.links.get_mut(&y).ok_or(DownReason::NoConnection)?;
        link.monitor(monitor, MailboxId(watcher), target)?;
        self.flush();
        Ok(monitor)
    }

    /// `x`'s server `watcher` links with server `target` of `y` (LINK).
    pub(crate) fn link_server(
        &mut self,
        x: usize,
        watcher: u64,
        y: usize,
        target: u64,
    ) -> Result<MonitorId, DownReason> {
        let target = self.mailbox_ref(y, target);
        let n = &mut self.nodes[x];
        let monitor = MonitorId(n.next_monitor);
        n.next_monitor += 1;
        let link = n.links.get_mut(&y).ok_or(DownReason::NoConnection)?;
        link.link(monitor, MailboxId(watcher), target)?;
        self.flush();
        Ok(monitor)
    }

    /// `x`'s server `from`, linked by its LINK with server `target` of `y`, ended: EXIT,
    /// then the DEMONITOR of the link's monitor, as a server's end sends them.
    pub(crate) fn server_exit(
        &mut self,
        x: usize,
        from: u64,
        y: usize,
        target: u64,
        monitor: MonitorId,
        reason: &DownReason,
    ) {
        let target = self.mailbox_ref(y, target);
        if let Some(l) = self.nodes[x].links.get_mut(&y) {
            l.exit(MailboxId(from), &target, reason);
            l.demonitor(monitor);
        }
        self.flush();
    }

    /// `x`'s server `from` removes the link server `target` of `y` made with it (UNLINK).
    pub(crate) fn server_unlink(&mut self, x: usize, from: u64, y: usize, target: u64) {
        let target = self.mailbox_ref(y, target);
        if let Some(l) = self.nodes[x].links.get_mut(&y) {
            l.unlink(MailboxId(from), &target);
        }
        self.flush();
    }

    fn mailbox_ref(&self, y: usize, id: u64) -> MailboxRef {
        MailboxRef::new(
            self.nodes[y].id.clone(),
            Incarnation(self.nodes[y].incarnation),
            MailboxId(id),
        )
    }

    /// Cancels `x`'s monitor `monitor` of a mailbox on `y`.
    pub(crate) fn demonitor(&mut self, x: usize, y: usize, monitor: MonitorId) {
        if let Some(l) = self.nodes[x].links.get_mut(&y) {
            l.demonitor(monitor);
        }
        self.flush();
    }

    /// `x` asks `y` where `name` is registered; returns the request number.
    pub(crate) fn lookup(&mut self, x: usize, y: usize, name: &str) -> Option<u64> {
        let n = &mut self.nodes[x];
        let request = n.next_request;
        n.next_request += 1;
        let asked = n.links.get_mut(&y)?.lookup(request, name);
        self.flush();
        asked.then_some(request)
    }

    /// `x`'s own certificate changed (a reload): its machines tell their peers at their pace.
    /// The sim has no TLS: the update sent is a placeholder chain of one certificate.
    pub(crate) fn certificate_changed(&mut self, x: usize) {
        let now = self.now;
        for l in self.nodes[x].links.values_mut() {
            l.own_certificate_changed(now);
        }
        self.flush();
    }

    /// Runs the simulation for `d` of virtual time.
    pub(crate) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs the simulation until `until`, event by event.
    ///
    /// Panics if the machines keep asking to be woken at an instant that has passed without
    /// doing anything about it (a timer that would spin the driver).
    pub(crate) fn run_until(&mut self, until: Instant) {
        // What the nodes broadcast since the last step (their own calls) goes out first.
        self.flush();
        let mut stuck = 0;
        loop {
            match self.next_event() {
                Some(t) if t <= until => {
                    stuck = if t <= self.now { stuck + 1 } else { 0 };
                    assert!(stuck < 1000, "the machines ask for {t:?} again and again");
                    self.now = self.now.max(t);
                    self.step();
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
    }

    fn next_event(&self) -> Option<Instant> {
        let (now, wall) = (self.now, self.wall());
        let pipes = self
            .pipes
            .values()
            .filter(|p| p.fault != Fault::Blackhole)
            .filter_map(|p| p.queue.front().map(|(t, _)| *t));
        let timers = self
            .nodes
            .iter()
            .flat_map(|n| n.links.values())
            .filter_map(|l| l.poll_timeout(now, wall));
        pipes.chain(timers).min()
    }

    /// Everything due at `now`: arrivals, then timers.
    fn step(&mut self) {
        let mut keys: Vec<(usize, usize)> = self.pipes.keys().copied().collect();
        keys.sort();
        for (from, to) in keys {
            loop {
                let now = self.now;
                let Some(p) = self.pipes.get_mut(&(from, to)) else {
                    break;
                };
                if p.fault == Fault::Blackhole || p.queue.front().is_none_or(|(t, _)| *t > now) {
                    break;
                }
                let Some((_, chunk)) = p.queue.pop_front() else {
                    break;
                };
                self.arrive(from, to, chunk);
            }
        }
        let (now, wall) = (self.now, self.wall());
        for x in 0..self.nodes.len() {
            let peers: Vec<usize> = self.nodes[x].links.keys().copied().collect();
            for y in peers {
                let Some(l) = self.nodes[x].links.get_mut(&y) else {
                    continue;
                };
                if l.poll_timeout(now, wall).is_some_and(|t| t <= now)
                    && let Err(reason) = l.handle_timeout(now, wall)
                {
                    self.end_link(x, y, reason);
                }
            }
        }
        self.flush();
    }

    /// Bytes (or the close) from `from` reach `to`.
    fn arrive(&mut self, from: usize, to: usize, chunk: Chunk) {
        let bytes = match chunk {
            Chunk::Close => {
                if self.nodes[to].links.contains_key(&from) {
                    self.end_link(to, from, LinkDownReason::ClosedByPeer);
                }
                return;
            }
            Chunk::Bytes(b) => b,
        };
        let now = self.now;
        let Some(link) = self.nodes[to].links.get_mut(&from) else {
            return;
        };
        link.received(now);
        let Some(pipe) = self.pipes.get_mut(&(from, to)) else {
            return;
        };
        pipe.buf.extend_from_slice(&bytes);
        loop {
            let Some(pipe) = self.pipes.get_mut(&(from, to)) else {
                return;
            };
            let frame = match wire::decode(&mut pipe.buf, MAX_FRAME) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.end_link(to, from, LinkDownReason::ProtocolError(e.into()));
                    return;
                }
            };
            let node = &mut self.nodes[to];
            let Some(link) = node.links.get_mut(&from) else {
                return;
            };
            let live_set = &node.live;
            let result = link.handle_frame(frame, &|id: MailboxId| live_set.contains(&id.get()));
            self.flush();
            if let Err(reason) = result {
                self.end_link(to, from, reason);
                return;
            }
        }
    }

    /// `x`'s link to `y` ends with `reason`: its machine closes, and `y` is told by a close
    /// on the pipe (unless the pipe loses it).
    pub(crate) fn end_link(&mut self, x: usize, y: usize, reason: LinkDownReason) {
        let Some(mut link) = self.nodes[x].links.remove(&y) else {
            return;
        };
        let reported = link.close(reason.clone());
        let now = self.now;
        while let Some(o) = link.poll() {
            self.apply(x, y, None, o);
        }
        self.nodes[x]
            .seen
            .push((now, y, Seen::LinkDown { reason, reported }));
        self.push(x, y, Chunk::Close);
        if let Some(p) = self.pipes.get_mut(&(y, x)) {
            // Nothing more is read from the old connection.
            p.queue.clear();
            p.buf.clear();
        }
    }

    /// Carries out what every machine handed back, until none has anything more.
    fn flush(&mut self) {
        loop {
            let mut any = false;
            for x in 0..self.nodes.len() {
                let frames = std::mem::take(
                    &mut *self.nodes[x]
                        .layer
                        .outbox
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                let peers: Vec<usize> = self.nodes[x].links.keys().copied().collect();
                for f in &frames {
                    for &y in &peers {
                        self.transmit(x, y, f);
                    }
                }
            }
            for x in 0..self.nodes.len() {
                let peers: Vec<usize> = self.nodes[x].links.keys().copied().collect();
                for y in peers {
                    while let Some(o) = self.nodes[x].links.get_mut(&y).and_then(|l| l.poll()) {
                        any = true;
                        self.apply(x, y, Some(()), o);
                    }
                }
            }
            if !any {
                return;
            }
        }
    }

    /// Does what `x`'s machine for `y` asked. `live`: the machine is still installed (not
    /// closing), so it can be called back.
    fn apply(&mut self, x: usize, y: usize, live: Option<()>, o: Output<Hook>) {
        let now = self.now;
        let seen = match &o {
            Output::NameAdd { name, mailbox, .. } => Some(Seen::NameAdd {
                name: name.to_string(),
                mailbox: *mailbox,
            }),
            Output::NameRemove { name, mailbox } => Some(Seen::NameRemove {
                name: name.as_str().to_owned(),
                mailbox: *mailbox,
            }),
            Output::GroupJoin { group, mailbox, .. } => Some(Seen::GroupJoin {
                group: group.to_string(),
                mailbox: *mailbox,
            }),
            Output::GroupLeave { group, mailbox } => Some(Seen::GroupLeave {
                group: group.as_str().to_owned(),
                mailbox: *mailbox,
            }),
            Output::Forget { names, memberships } => Some(Seen::Forgot {
                names: names.len(),
                memberships: memberships.len(),
            }),
            _ => None,
        };
        let via = self.vias.get(&(x, y)).copied().unwrap_or(0);
        let peer = MailboxRef::new(
            self.nodes[y].id.clone(),
            Incarnation(self.nodes[y].incarnation),
            MailboxId(0),
        );
        let Some(o) = crate::handles::apply_from_link(&self.nodes[x].node, via, &peer, o) else {
            if let Some(seen) = seen {
                self.nodes[x].seen.push((now, y, seen));
            }
            return;
        };
        let seen = match o {
            Output::Send(f) | Output::SendUrgent(f) => {
                if live.is_some() {
                    self.transmit(x, y, &f);
                }
                return;
            }
            Output::Up => Seen::Up,
            Output::Down {
                watcher,
                monitor,
                target,
                reason,
                link,
            } => Seen::Down {
                watcher: watcher.get(),
                monitor,
                target: target.id().get(),
                reason,
                link,
            },
            Output::Watch {
                peer_monitor,
                token,
                target,
            } => {
                let n = &mut self.nodes[x];
                let hook = n.live.contains(&target.get()).then(|| {
                    n.hooks
                        .entry(target.get())
                        .or_default()
                        .push((y, peer_monitor, token));
                    (target.get(), token)
                });
                if let Some(l) = n.links.get_mut(&y) {
                    l.watched(peer_monitor, token, hook);
                }
                return;
            }
            Output::Unwatch((target, token)) => {
                if let Some(h) = self.nodes[x].hooks.get_mut(&target) {
                    h.retain(|(_, _, t)| *t != token);
                }
                Seen::Unwatched { target }
            }
            Output::Lookup { request, name } => {
                let found = self.nodes[x]
                    .registry
                    .get(name.as_str())
                    .map(|(id, tag)| (*id, Text::new(tag)));
                if live.is_some() {
                    self.transmit(x, y, &Frame::LookupReply { request, found });
                }
                return;
            }
            Output::LookupAnswered { request, found } => Seen::LookupAnswered { request, found },
            Output::Unlinked { target, from } => Seen::Unlinked {
                target: target.get(),
                from,
            },
            Output::Exit {
                target,
                from,
                reason,
            } => Seen::Exit {
                target: target.get(),
                from,
                reason,
            },
            Output::LookupAbandoned { request } => Seen::LookupAbandoned { request },
            Output::SendCertificateUpdate => {
                if live.is_some() {
                    self.transmit(
                        x,
                        y,
                        &Frame::CertUpdate {
                            scheme: 0x0403,
                            signature: bytes::Bytes::from_static(b"sig"),
                            chain: vec![bytes::Bytes::from_static(b"cert")],
                        },
                    );
                }
                return;
            }
            Output::VerifyCertificateUpdate { chain, .. } => Seen::CertificateUpdate {
                certificates: chain.len(),
            },
            // Names and groups were applied above.
            _ => return,
        };
        self.nodes[x].seen.push((now, y, seen));
    }

    /// What `x` saw from or about `y`, without the instants.
    pub(crate) fn seen(&self, x: usize, y: usize) -> Vec<Seen> {
        self.nodes[x]
            .seen
            .iter()
            .filter(|(_, p, _)| *p == y)
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    /// When `x` saw its link to `y` end, and why.
    pub(crate) fn link_down(&self, x: usize, y: usize) -> Option<(Instant, LinkDownReason)> {
        self.nodes[x].seen.iter().find_map(|(t, p, s)| match s {
            Seen::LinkDown { reason, .. } if *p == y => Some((*t, reason.clone())),
            _ => None,
        })
    }

    /// Forgets what every node saw so far.
    pub(crate) fn clear_seen(&mut self) {
        for n in &mut self.nodes {
            n.seen.clear();
        }
    }

    /// How many hooks of peers' monitors `x`'s mailboxes carry.
    pub(crate) fn hooks(&self, x: usize) -> usize {
        self.nodes[x].hooks.values().map(Vec::len).sum()
    }
}
