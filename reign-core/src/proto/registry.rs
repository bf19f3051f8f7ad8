//! The node registry as a state machine (docs/PROTOCOL.md section 4, "Joining"): every node
//! this node knows, where to dial it and on whose word, which links are in service, and the
//! gossip that makes a node started from one seed linked with every node. It takes `now`,
//! holds no socket and no timer, and hands back [`Action`]s; `cluster::join` drives it for a
//! started node, and `registry_sim` (tests only) drives several on a virtual clock.
//!
//! What a peer can make it do, and the bounds (docs/SECURITY.md):
//! - at most [`RegistryLimits::max_nodes`] known nodes; a node past it is not learned;
//! - per peer, ADVERTISE and HINT frames on a budget of `hint_burst` then one each
//!   `hint_every` (the rest are ignored and reported); each costs O(log n), and an
//!   ADVERTISE that changes the sender's address one HINT to each of the n linked nodes;
//! - a node learned only from a hint that never comes up is forgotten after `hinted_dials`
//!   failed dials; one that joined at run time and stays unreachable, after `forget_after`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use reign_tls::{Incarnation, NodeId};

use super::address::{dialable, hint_dialable, same_place};
use super::budget::Budget;
use super::reason::{JoinedVia, LeftReason};
use super::wire::{Frame, Text};

/// Where a node's address came from, worst first: a hint from another member is replaced
/// by what the node advertises itself, and neither replaces the configuration's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AddrSource {
    /// None known (a node that connected to this one and has not advertised yet).
    Unknown,
    /// Relayed by another member (HINT).
    Hint,
    /// Advertised by the node itself (ADVERTISE) or the seed this node reached it at.
    Peer,
    /// This node's configuration (`[[members]]`).
    Config,
}

/// How long a HINT of a node just forgotten, at the address it was known at, is ignored:
/// long enough for any hint in flight when it left to arrive.
pub(crate) const GONE_FOR: Duration = Duration::from_secs(2);

/// The registry's bounds and timers (from the tunables).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegistryLimits {
    /// The most nodes known at once.
    pub(crate) max_nodes: usize,
    /// ADVERTISE and HINT frames a peer may send at once...
    pub(crate) hint_burst: u32,
    /// ...and then one each this long.
    pub(crate) hint_every: Duration,
    /// Failed dials after which a node learned only from a hint is forgotten.
    pub(crate) hinted_dials: u32,
    /// How long a node that joined at run time may stay without a link before it is
    /// forgotten.
    pub(crate) forget_after: Duration,
    /// How long this node waits for a node of a lower ID (which is the one to dial) to link
    /// with it before it dials that node itself: the pair links whichever way works (the
    /// lower cannot reach the higher, or it keeps a link with another process holding this
    /// node's ID).
    pub(crate) fallback_after: Duration,
}

/// Something the driver is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// A node is newly known: add it to the peer table and report it.
    Joined {
        node: NodeId,
        addr: String,
        how: JoinedVia,
    },
    /// A node is forgotten: take it out of the peer table (it has no link), stop dialing it,
    /// report it.
    Left { node: NodeId, reason: LeftReason },
    /// Dial `node` while there is no link with it, unless a dial loop for it runs already:
    /// this node has the lower ID and now knows where, or it has the higher and `node` has
    /// not linked with it for [`RegistryLimits::fallback_after`] (then the loop ends once a
    /// link is up, and the fallback is armed again when it goes down).
    Dial { node: NodeId },
    /// Send `frame` (an ADVERTISE or a HINT) on the link with `to`, after what is queued.
    Send { to: NodeId, frame: Frame },
    /// A frame from `from` was ignored (log it, on a budget).
    Ignored { from: NodeId, why: Ignored },
}

/// Why a frame from a peer was ignored ([`Action::Ignored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Ignored {
    /// The peer spent its budget of ADVERTISE and HINT frames.
    #[error("ADVERTISE or HINT past the peer's budget")]
    OverBudget,
    /// An ADVERTISE whose address is not `host:port`.
    #[error("ADVERTISE of an address that is not host:port")]
    NotHostPort,
    /// A HINT that does not name a node ID and a dialable `host:port`.
    #[error("HINT of something that is not a node ID and a dialable host:port")]
    NotNodeAndAddr,
    /// A HINT of a node this node may not take (not admitted, or the table is full).
    #[error("HINT of a node this node does not take")]
    NotTaken,
    /// A HINT of a new node at the address of a node already known.
    #[error("HINT of a new node at a known node's address")]
    AddrTaken,
}

/// What this node knows of one node.
#[derive(Debug)]
struct Entry {
    addr: String,
    source: AddrSource,
    /// Learned from a hint only, and never in service since.
    hinted: bool,
    /// Links installed (handshake done) and not torn down yet: while any is, the node is
    /// never forgotten.
    installed: u32,
    /// Whether a link with it is in service (its peer's SYNCED arrived).
    in_service: bool,
    /// When it was learned.
    learned: Instant,
    /// When its last link ended (`None`: none did).
    quiet_since: Option<Instant>,
    /// Dials that failed since it was last in service.
    failed_dials: u32,
    /// When this node dials it although it has the higher ID, if no link comes first (see
    /// [`RegistryLimits::fallback_after`]).
    fallback_at: Option<Instant>,
    budget: Budget,
}

impl Entry {
    fn configured(&self) -> bool {
        self.source == AddrSource::Config
    }

    /// When it is to be forgotten, if nothing changes (`None`: never, as things are).
    fn forget_at(&self, after: Duration) -> Option<Instant> {
        (!self.configured() && self.installed == 0)
            .then(|| self.quiet_since.unwrap_or(self.learned) + after)
    }

    /// When its timer runs out: forgetting it, or dialing it as the higher ID.
    fn timer(&self, after: Duration) -> Option<Instant> {
        let fallback = self.fallback_at.filter(|_| self.installed == 0);
        match (self.forget_at(after), fallback) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Every node this node knows (see the module docs).
pub(crate) struct Registry {
    me: NodeId,
    limits: RegistryLimits,
    nodes: BTreeMap<NodeId, Entry>,
    /// Who answered at each seed address last time.
    seeds: HashMap<SocketAddr, NodeId>,
    /// Nodes forgotten lately, with the address they were known at: until when a HINT of
    /// one at that address is ignored (a hint still in flight when a node left must not
    /// bring it back; one at another address, say after a restart on a new port, is news,
    /// and one that connects is learned at once). At most `max_nodes`.
    gone: HashMap<NodeId, (Instant, String)>,
    out: VecDeque<Action>,
}

impl Registry {
    pub(crate) fn new(me: NodeId, limits: RegistryLimits) -> Self {
        Self {
            me,
            limits,
            nodes: BTreeMap::new(),
            seeds: HashMap::new(),
            gone: HashMap::new(),
            out: VecDeque::new(),
        }
    }

    /// The next thing to do, if any.
    pub(crate) fn poll(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// Whether this node dials `id` (the lower node ID dials).
    pub(crate) fn dials(&self, id: &NodeId) -> bool {
        &self.me < id
    }

    /// The number of known nodes.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether `id` is known.
    #[cfg(test)]
    pub(crate) fn knows(&self, id: &NodeId) -> bool {
        self.nodes.contains_key(id)
    }

    /// Where to dial `id` (empty: not known).
    pub(crate) fn addr(&self, id: &NodeId) -> &str {
        self.nodes.get(id).map_or("", |e| e.addr.as_str())
    }

    /// Whether `id` was learned from a hint only and has not been in service since.
    pub(crate) fn hinted(&self, id: &NodeId) -> bool {
        self.nodes.get(id).is_some_and(|e| e.hinted)
    }

    /// Whether a link with `id` is in service.
    pub(crate) fn in_service(&self, id: &NodeId) -> bool {
        self.nodes.get(id).is_some_and(|e| e.in_service)
    }

    /// Adds a member of the configuration (no [`Action::Joined`]: it was never unknown).
    pub(crate) fn configure(&mut self, id: NodeId, addr: &str, now: Instant) {
        if id == self.me {
            return;
        }
        let entry = self.entry(addr.to_owned(), AddrSource::Config, false, now);
        self.nodes.insert(id.clone(), entry);
        self.dial(&id, now, true);
    }

    fn entry(&self, addr: String, source: AddrSource, hinted: bool, now: Instant) -> Entry {
        let l = &self.limits;
        Entry {
            addr,
            source,
            hinted,
            installed: 0,
            in_service: false,
            learned: now,
            quiet_since: None,
            failed_dials: 0,
            fallback_at: None,
            budget: Budget::new(l.hint_burst, l.hint_every, now),
        }
    }

    /// `id` as a known node: known already, or added if `admitted` (the TLS policy takes it)
    /// and there is room, then [`Action::Joined`]. `addr`, from `source`, is where to dial
    /// it. Returns whether it is known now. A node that answered at a seed is not dialed for
    /// it: the driver makes a link of that very connection (a dial now would race it and
    /// replace it); if that link ends, the node is dialed as usual.
    pub(crate) fn learn(
        &mut self,
        id: &NodeId,
        addr: Option<&str>,
        source: AddrSource,
        how: JoinedVia,
        admitted: bool,
        now: Instant,
    ) -> bool {
        if id == &self.me {
            return false;
        }
        // An address from no one is no address.
        let addr = addr.filter(|_| source != AddrSource::Unknown);
        let dial_now = how != JoinedVia::Seed;
        if self.nodes.contains_key(id) {
            if let Some(addr) = addr {
                self.set_addr(id, addr, source, now, dial_now);
            }
            return true;
        }
        if !admitted || self.nodes.len() >= self.limits.max_nodes {
            return false;
        }
        self.gone.remove(id);
        let (addr, source) = addr.map_or((String::new(), AddrSource::Unknown), |a| {
            (a.to_owned(), source)
        });
        let entry = self.entry(addr.clone(), source, how == JoinedVia::Hint, now);
        self.nodes.insert(id.clone(), entry);
        self.out.push_back(Action::Joined {
            node: id.clone(),
            addr,
            how,
        });
        self.dial(id, now, dial_now);
        true
    }

    /// Sets where to dial `id`, unless what is known comes from a better source (see
    /// [`AddrSource`]). A hint fills only an unknown address: a member cannot redirect
    /// where this node dials a node, not even one another member hinted. Returns whether
    /// it changed (then [`Action::Dial`], if this node dials it).
    fn set_addr(
        &mut self,
        id: &NodeId,
        addr: &str,
        source: AddrSource,
        now: Instant,
        dial_now: bool,
    ) -> bool {
        let Some(e) = self.nodes.get_mut(id) else {
            return false;
        };
        if source < e.source
            || e.addr == addr
            || (source == AddrSource::Hint && e.source != AddrSource::Unknown)
        {
            return false;
        }
        e.addr = addr.to_owned();
        e.source = source;
        self.dial(id, now, dial_now);
        true
    }

    /// An address of `id` is known: dial it now (if `dial_now`) if this node is the one to,
    /// or else arm the fallback (unless it is in service or armed already).
    fn dial(&mut self, id: &NodeId, now: Instant, dial_now: bool) {
        let dials = self.dials(id);
        let fallback_after = self.limits.fallback_after;
        let Some(e) = self.nodes.get_mut(id).filter(|e| !e.addr.is_empty()) else {
            return;
        };
        if dials {
            if dial_now {
                self.out.push_back(Action::Dial { node: id.clone() });
            }
        } else if !e.in_service && e.fallback_at.is_none() {
            e.fallback_at = Some(now + fallback_after);
        }
    }

    /// A link with `id` is installed (its handshake is done).
    pub(crate) fn link_installed(&mut self, id: &NodeId) {
        if let Some(e) = self.nodes.get_mut(id) {
            e.installed += 1;
        }
    }

    /// The link with `id` is in service: it is no longer a mere hint, and it is told where
    /// this node is (`own`, the advertised address) and of every other node linked with this
    /// one (in service, or installed and about to be) whose address this node knows.
    pub(crate) fn link_up(&mut self, id: &NodeId, own: Option<&str>) {
        let Some(e) = self.nodes.get_mut(id) else {
            return;
        };
        e.in_service = true;
        e.hinted = false;
        e.failed_dials = 0;
        e.fallback_at = None;
        if let Some(own) = own {
            self.out.push_back(Action::Send {
                to: id.clone(),
                frame: Frame::Advertise {
                    addr: Text::new(own),
                },
            });
        }
        for (other, e) in &self.nodes {
            // Linked, in service or about to be: a link installed a moment ago must not be
            // missed (nor miss the relays below while its peer's SYNCED is on its way).
            if other != id && e.installed > 0 && !e.addr.is_empty() {
                self.out.push_back(Action::Send {
                    to: id.clone(),
                    frame: Frame::Hint {
                        node: Text::new(other.as_str()),
                        addr: Text::new(&e.addr),
                    },
                });
            }
        }
    }

    /// A link with `id` was torn down.
    pub(crate) fn link_removed(&mut self, id: &NodeId, now: Instant) {
        let Some(e) = self.nodes.get_mut(id) else {
            return;
        };
        e.installed = e.installed.saturating_sub(1);
        if e.installed == 0 {
            e.in_service = false;
            e.quiet_since = Some(now);
            self.dial(id, now, true);
        }
    }

    /// A dial of `id` failed (before or in the handshake). Returns whether `id` is
    /// forgotten for it (learned only from a hint, and failed `hinted_dials` times): stop
    /// dialing it.
    pub(crate) fn dial_failed(&mut self, id: &NodeId, now: Instant) -> bool {
        let Some(e) = self.nodes.get_mut(id) else {
            return true;
        };
        e.failed_dials += 1;
        if e.hinted && e.installed == 0 && e.failed_dials >= self.limits.hinted_dials {
            self.forget(id, LeftReason::Unreachable, now);
            return true;
        }
        false
    }

    /// `id` said it shuts down (GOODBYE) and its link is gone: a node that joined at run
    /// time has left.
    pub(crate) fn said_goodbye(&mut self, id: &NodeId, now: Instant) {
        self.forget(id, LeftReason::ShutDown, now);
    }

    fn forget(&mut self, id: &NodeId, reason: LeftReason, now: Instant) {
        if self
            .nodes
            .get(id)
            .is_some_and(|e| e.configured() || e.installed > 0)
        {
            return;
        }
        if let Some(e) = self.nodes.remove(id) {
            if self.gone.len() < self.limits.max_nodes {
                self.gone.insert(id.clone(), (now + GONE_FOR, e.addr));
            }
            self.out.push_back(Action::Left {
                node: id.clone(),
                reason,
            });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do, if nothing else
    /// changes first.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let after = self.limits.forget_after;
        self.nodes.values().filter_map(|e| e.timer(after)).min()
    }

    /// Forgets every node that joined at run time and has had no link for `forget_after`
    /// (since its last link ended, or since it was learned if it never had one), and dials
    /// every node of a lower ID that has not linked with this one for `fallback_after`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let after = self.limits.forget_after;
        let mut forget = Vec::new();
        for (id, e) in &mut self.nodes {
            if e.forget_at(after).is_some_and(|at| at <= now) {
                forget.push(id.clone());
            } else if e.installed == 0 && e.fallback_at.is_some_and(|at| at <= now) {
                e.fallback_at = None;
                self.out.push_back(Action::Dial { node: id.clone() });
            }
        }
        for id in forget {
            self.forget(&id, LeftReason::Unreachable, now);
        }
        self.gone.retain(|_, (until, _)| *until > now);
    }

    /// Takes one from `from`'s budget of ADVERTISE and HINT frames.
    fn admit_frame(&mut self, from: &NodeId, now: Instant) -> bool {
        let Some(e) = self.nodes.get_mut(from) else {
            return false;
        };
        if e.budget.take(now) {
            return true;
        }
        self.out.push_back(Action::Ignored {
            from: from.clone(),
            why: Ignored::OverBudget,
        });
        false
    }

    /// An ADVERTISE from `from` (whose link comes from `from_ip`): where it is reachable.
    /// An unspecified host (it listens on every interface) becomes `from_ip`. If that is
    /// news, every other node linked with this one is told of it (HINT).
    pub(crate) fn advertise(
        &mut self,
        from: &NodeId,
        addr: &str,
        from_ip: Option<IpAddr>,
        now: Instant,
    ) {
        if !self.admit_frame(from, now) {
            return;
        }
        let Some(addr) = dialable(addr, from_ip) else {
            self.out.push_back(Action::Ignored {
                from: from.clone(),
                why: Ignored::NotHostPort,
            });
            return;
        };
        if !self.set_addr(from, &addr, AddrSource::Peer, now, true) {
            return;
        }
        for (other, e) in &self.nodes {
            if other != from && e.installed > 0 {
                self.out.push_back(Action::Send {
                    to: other.clone(),
                    frame: Frame::Hint {
                        node: Text::new(from.as_str()),
                        addr: Text::new(&addr),
                    },
                });
            }
        }
    }

    /// A HINT from `from`: `node` is at `addr`. Learned if `admits` it (then dialed, if this
    /// node dials it); an address only fills one nobody gave.
    pub(crate) fn hint(
        &mut self,
        from: &NodeId,
        node: &str,
        addr: &str,
        admits: impl FnOnce(&NodeId) -> bool,
        now: Instant,
    ) {
        if !self.admit_frame(from, now) {
            return;
        }
        let id = NodeId::new(node).ok();
        let (Some(id), true) = (id, hint_dialable(addr)) else {
            self.out.push_back(Action::Ignored {
                from: from.clone(),
                why: Ignored::NotNodeAndAddr,
            });
            return;
        };
        if &id == from || id == self.me {
            return;
        }
        if self
            .gone
            .get(&id)
            .is_some_and(|(until, at)| *until > now && same_place(at, addr))
        {
            return;
        }
        // One node per address: a hinted node at an address another known node has is
        // ignored (so a member cannot aim many made-up IDs at one address). O(n), without
        // allocating.
        if !self.nodes.contains_key(&id) && self.nodes.values().any(|e| same_place(&e.addr, addr)) {
            self.out.push_back(Action::Ignored {
                from: from.clone(),
                why: Ignored::AddrTaken,
            });
            return;
        }
        let admitted = self.nodes.contains_key(&id) || admits(&id);
        if !self.learn(
            &id,
            Some(addr),
            AddrSource::Hint,
            JoinedVia::Hint,
            admitted,
            now,
        ) {
            self.out.push_back(Action::Ignored {
                from: from.clone(),
                why: Ignored::NotTaken,
            });
        }
    }

    /// Whether to dial seed address `addr` now: not if the node that answered there last
    /// time is this node or one in service.
    pub(crate) fn seed_wanted(&self, addr: SocketAddr) -> bool {
        match self.seeds.get(&addr) {
            Some(id) => id != &self.me && !self.in_service(id),
            None => true,
        }
    }

    /// `id` answered at seed address `addr`. (At most one entry per seed address: the
    /// driver dials a bounded number of them.)
    pub(crate) fn seed_answered(&mut self, addr: SocketAddr, id: &NodeId) {
        self.seeds.insert(addr, id.clone());
    }
}

/// Two processes hold one node ID: the live link is with `live` (heard from lately:
/// `live_heard`), and `incoming` connects. The higher incarnation is kept, whoever connected
/// first and whoever dials, so every node settles on the same one. `None`: no duplicate (the
/// same life, or a restart whose old link went silent).
pub(crate) fn duplicate(
    live: Incarnation,
    live_heard: bool,
    incoming: Incarnation,
) -> Option<Duplicate> {
    if live == incoming || !live_heard {
        return None;
    }
    let (kept, refused) = if incoming.get() > live.get() {
        (incoming, live)
    } else {
        (live, incoming)
    };
    Some(Duplicate {
        kept,
        refused,
        incoming_wins: kept == incoming,
    })
}

/// The verdict on two processes with one node ID ([`duplicate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The life kept.
    pub(crate) kept: Incarnation,
    /// The life refused (told GOODBYE 6).
    pub(crate) refused: Incarnation,
    /// Whether the connecting one is kept (it replaces the live link).
    pub(crate) incoming_wins: bool,
}
