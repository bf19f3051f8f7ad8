//! A socket-free harness for the node registry ([`super::registry`]), in the style of
//! quinn-proto's `Pair`: several processes, each with its own [`Registry`], on a virtual
//! clock. Each plays the driver's part as `cluster::join` does with sockets: it dials what
//! its registry asks (with backoff), runs seed rounds, carries ADVERTISE and HINT frames as
//! real frame bytes over its links with a latency, and forgets on the registry's timer.
//! What a real handshake proves is modeled too: a dial reaches whoever listens at the
//! address, and succeeds only if that process holds the node ID dialed (the CN check) and
//! each side admits the other. Links are made in one step (the link machine and its
//! handshake are tested elsewhere); faults are partitions, crashes, graceful leaves, and
//! frames a hostile member injects.
//! Nothing sleeps: [`Net::run_until`] jumps from one event to the next.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use reign_tls::{Incarnation, NodeId};

use super::backoff::Backoff;
use super::reason::{JoinedVia, LeftReason};
use super::registry::{Action, AddrSource, Ignored, Registry, RegistryLimits};
use super::wire::{self, Frame};

/// The port every simulated process listens on (each has its own IP).
pub(crate) const PORT: u16 = 7000;
/// The longest redial delay (and the seed round once linked).
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);

/// Limits like the defaults, with a forget timer short enough to reach.
pub(crate) fn limits() -> RegistryLimits {
    RegistryLimits {
        max_nodes: 4096,
        hint_burst: 64,
        hint_every: Duration::from_secs(1),
        hinted_dials: 3,
        forget_after: Duration::from_secs(60),
        fallback_after: 2 * BACKOFF_MAX,
    }
}

/// What a simulated process saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Joined {
        node: NodeId,
        how: JoinedVia,
    },
    Left {
        node: NodeId,
        reason: LeftReason,
    },
    Up {
        node: NodeId,
        incarnation: u64,
    },
    Down {
        node: NodeId,
    },
    Ignored {
        from: NodeId,
        why: Ignored,
    },
    /// It dialed `addr` (for a node, or as a seed).
    Dialed {
        addr: String,
    },
    /// Two processes hold `node`: this one kept `kept`.
    Duplicate {
        node: NodeId,
        kept: u64,
    },
}

/// One link end: the process at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct End {
    proc: usize,
    incarnation: u64,
}

struct Dialer {
    next: Instant,
    backoff: Backoff,
}

/// One simulated process.
pub(crate) struct Proc {
    pub(crate) id: NodeId,
    pub(crate) incarnation: u64,
    pub(crate) ip: IpAddr,
    /// What it advertises (`None`: nothing).
    pub(crate) advertise: Option<String>,
    pub(crate) reg: Registry,
    pub(crate) seeds: Vec<SocketAddr>,
    pub(crate) alive: bool,
    /// Which node IDs it admits (the allow-list; all by default).
    pub(crate) admits: fn(&NodeId) -> bool,
    links: BTreeMap<NodeId, End>,
    dialers: BTreeMap<NodeId, Dialer>,
    next_seed_round: Instant,
    seed_backoff: Backoff,
    /// What it saw: (when, what).
    pub(crate) seen: Vec<(Instant, Seen)>,
}

impl Proc {
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, PORT)
    }

    /// The nodes it has a link with.
    pub(crate) fn linked(&self) -> Vec<NodeId> {
        self.links.keys().cloned().collect()
    }

    /// How many times it saw something `f` picks.
    pub(crate) fn count(&self, f: impl Fn(&Seen) -> bool) -> usize {
        self.seen.iter().filter(|(_, s)| f(s)).count()
    }

    /// Whether it runs a dial loop for `id`.
    pub(crate) fn dialing(&self, id: &NodeId) -> bool {
        self.dialers.contains_key(id)
    }
}

/// Processes and their links on a virtual clock.
pub(crate) struct Net {
    pub(crate) now: Instant,
    pub(crate) procs: Vec<Proc>,
    latency: Duration,
    /// Frames in flight: (arrival, sequence) -> (from, to, bytes).
    flights: BTreeMap<(Instant, u64), (usize, usize, Vec<u8>)>,
    seq: u64,
    /// Pairs of processes that cannot reach each other.
    cut: HashSet<(usize, usize)>,
    limits: RegistryLimits,
    /// A fixed stream of jitter (the same run every time).
    jitter: u64,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Net {
    /// An empty network whose links carry frames in `latency`.
    pub(crate) fn new(latency: Duration) -> Self {
        Self {
            now: Instant::now(),
            procs: Vec::new(),
            latency,
            flights: BTreeMap::new(),
            seq: 0,
            cut: HashSet::new(),
            limits: limits(),
            jitter: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Starts a process holding `id` in life `incarnation`, at IP 10.0.0.`n` (its index
    /// plus one), with these seeds and no configured members; returns its index.
    pub(crate) fn spawn(&mut self, id: &str, incarnation: u64, seeds: &[SocketAddr]) -> usize {
        let i = self.procs.len();
        let id: NodeId = id.parse().expect("a valid node ID");
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250 + 1) as u8));
        self.procs.push(Proc {
            reg: Registry::new(id.clone(), self.limits),
            id,
            incarnation,
            ip,
            advertise: Some(SocketAddr::new(ip, PORT).to_string()),
            seeds: seeds.to_vec(),
            alive: true,
            admits: |_| true,
            links: BTreeMap::new(),
            dialers: BTreeMap::new(),
            next_seed_round: self.now,
            seed_backoff: Backoff::new(BACKOFF_MIN, BACKOFF_MAX),
            seen: Vec::new(),
        });
        i
    }

    /// `n` processes `n0`, `n1`, ..., each seeded with `n0`'s address (`n0` with none).
    pub(crate) fn seeded(n: usize, latency: Duration) -> Self {
        let mut net = Self::new(latency);
        net.spawn("n0", 1000, &[]);
        let seed = net.procs[0].addr();
        for i in 1..n {
            net.spawn(&format!("n{i}"), 1000 + i as u64, &[seed]);
        }
        net
    }

    fn unit_random(&mut self) -> f64 {
        // xorshift64: deterministic jitter.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        (self.jitter % 1_000_000) as f64 / 1_000_000.0
    }

    /// Whether every live process has a link with every other live process.
    pub(crate) fn full_mesh(&self) -> bool {
        let live: Vec<&Proc> = self.procs.iter().filter(|p| p.alive).collect();
        live.iter().all(|p| {
            live.iter().all(|q| {
                p.id == q.id
                    || p.links
                        .get(&q.id)
                        .is_some_and(|e| self.procs[e.proc].incarnation == q.incarnation)
            })
        })
    }

    /// Cuts every link between `a` and `b` (both sides see it go down, as after the
    /// silence limit) and fails every dial across until [`heal`](Self::heal).
    pub(crate) fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut.insert(pair(x, y));
                self.unlink(x, y);
            }
        }
    }

    /// Ends every partition.
    pub(crate) fn heal(&mut self) {
        self.cut.clear();
    }

    /// Stops process `i`: `graceful` says GOODBYE first (its peers see it shut down).
    pub(crate) fn kill(&mut self, i: usize, graceful: bool) {
        let ends: Vec<End> = self.procs[i].links.values().copied().collect();
        for e in ends {
            let id = self.procs[i].id.clone();
            self.unlink(i, e.proc);
            if graceful {
                self.procs[e.proc].reg.said_goodbye(&id, self.now);
                self.drain(e.proc);
            }
        }
        self.procs[i].alive = false;
    }

    /// Starts process `i` again in a new life, knowing nothing.
    pub(crate) fn restart(&mut self, i: usize, incarnation: u64) {
        let p = &mut self.procs[i];
        p.reg = Registry::new(p.id.clone(), self.limits);
        p.incarnation = incarnation;
        p.alive = true;
        p.dialers.clear();
        p.next_seed_round = self.now;
        p.seed_backoff.reset();
    }

    /// Sends `frame` from `from` to `to` over their link, as a member could send any
    /// frame; false if they have none.
    pub(crate) fn inject(&mut self, from: usize, to: &NodeId, frame: &Frame) -> bool {
        let Some(end) = self.procs[from].links.get(to).copied() else {
            return false;
        };
        let mut b = BytesMut::new();
        wire::encode(frame, &mut b);
        self.seq += 1;
        self.flights.insert(
            (self.now + self.latency, self.seq),
            (from, end.proc, b.to_vec()),
        );
        true
    }

    /// Ends the link between `x` and `y` if there is one (each side sees it down).
    fn unlink(&mut self, x: usize, y: usize) {
        let (idx, idy) = (self.procs[x].id.clone(), self.procs[y].id.clone());
        let now = self.now;
        for (a, b_id, b) in [(x, idy, y), (y, idx, x)] {
            let p = &mut self.procs[a];
            if p.links.get(&b_id).is_some_and(|e| e.proc == b) {
                p.links.remove(&b_id);
                p.reg.link_removed(&b_id, now);
                p.seen.push((now, Seen::Down { node: b_id }));
                self.drain(a);
            }
        }
    }

    /// `from` dials `addr`, expecting `expect` (a seed dial expects anyone). Returns the
    /// process reached, if a link came of it (or exists).
    fn dial(&mut self, from: usize, addr: &str, expect: Option<&NodeId>) -> Option<usize> {
        let now = self.now;
        self.procs[from].seen.push((
            now,
            Seen::Dialed {
                addr: addr.to_owned(),
            },
        ));
        let target: SocketAddr = addr.parse().ok()?;
        let to = self
            .procs
            .iter()
            .position(|p| p.alive && p.addr() == target)?;
        if to == from || self.cut.contains(&pair(from, to)) {
            return None;
        }
        let (me, them) = (self.procs[from].id.clone(), self.procs[to].id.clone());
        // The handshake: the CN is the node dialed, and each side admits the other.
        if expect.is_some_and(|e| e != &them)
            || !(self.procs[to].admits)(&me)
            || !(self.procs[from].admits)(&them)
        {
            return None;
        }
        // The accepting side: a node it admits but does not know joins here.
        let taken = self.procs[to].reg.learn(
            &me,
            None,
            AddrSource::Unknown,
            JoinedVia::Connected,
            true,
            now,
        );
        self.drain(to);
        if !taken {
            return None;
        }
        let incoming = self.procs[from].incarnation;
        if let Some(live) = self.procs[to].links.get(&me).copied() {
            if live.proc == from {
                return Some(to);
            }
            let heard = self.procs[live.proc].alive && !self.cut.contains(&pair(to, live.proc));
            if let Some(v) = super::registry::duplicate(
                Incarnation(live.incarnation),
                heard,
                Incarnation(incoming),
            ) {
                self.procs[to].seen.push((
                    now,
                    Seen::Duplicate {
                        node: me.clone(),
                        kept: v.kept.get(),
                    },
                ));
                if !v.incoming_wins {
                    return None;
                }
            }
            self.unlink(to, live.proc);
        }
        if expect.is_none() {
            self.procs[from].reg.seed_answered(target, &them);
            self.procs[from].reg.learn(
                &them,
                Some(addr),
                AddrSource::Peer,
                JoinedVia::Seed,
                true,
                now,
            );
            self.drain(from);
        }
        if self.procs[from].links.contains_key(&them) {
            return Some(to);
        }
        for (a, b) in [(from, to), (to, from)] {
            let (b_id, b_inc) = (self.procs[b].id.clone(), self.procs[b].incarnation);
            let p = &mut self.procs[a];
            p.links.insert(
                b_id.clone(),
                End {
                    proc: b,
                    incarnation: b_inc,
                },
            );
            p.reg.link_installed(&b_id);
            let own = p.advertise.clone();
            p.reg.link_up(&b_id, own.as_deref());
            p.seen.push((
                now,
                Seen::Up {
                    node: b_id,
                    incarnation: b_inc,
                },
            ));
        }
        self.drain(from);
        self.drain(to);
        Some(to)
    }

    /// Carries out what process `i`'s registry hands back.
    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(action) = self.procs[i].reg.poll() {
            match action {
                Action::Joined { node, how, .. } => {
                    self.procs[i].seen.push((now, Seen::Joined { node, how }));
                }
                Action::Left { node, reason } => {
                    self.procs[i].dialers.remove(&node);
                    self.procs[i].seen.push((now, Seen::Left { node, reason }));
                }
                Action::Dial { node } => {
                    self.procs[i].dialers.entry(node).or_insert(Dialer {
                        next: now,
                        backoff: Backoff::new(BACKOFF_MIN, BACKOFF_MAX),
                    });
                }
                Action::Send { to, frame } => {
                    self.inject(i, &to, &frame);
                }
                Action::Ignored { from, why } => {
                    self.procs[i].seen.push((now, Seen::Ignored { from, why }));
                }
            }
        }
    }

    /// When the next thing happens.
    fn next_event(&self) -> Option<Instant> {
        let flights = self.flights.keys().next().map(|(t, _)| *t);
        let procs = self.procs.iter().filter(|p| p.alive).flat_map(|p| {
            let dial = p
                .dialers
                .iter()
                .filter(|(id, _)| !p.links.contains_key(*id))
                .map(|(_, d)| d.next)
                .min();
            let seed = (!p.seeds.is_empty()).then_some(p.next_seed_round);
            [dial, seed, p.reg.poll_timeout()]
        });
        procs.chain([flights]).flatten().min()
    }

    /// Runs every event due at the clock's instant.
    fn run_due(&mut self) {
        let now = self.now;
        while let Some((&(at, seq), _)) = self.flights.iter().next() {
            if at > now {
                break;
            }
            let (from, to, bytes) = self.flights.remove(&(at, seq)).expect("present");
            self.deliver(from, to, bytes);
        }
        for i in 0..self.procs.len() {
            if !self.procs[i].alive {
                continue;
            }
            if self.procs[i].reg.poll_timeout().is_some_and(|t| t <= now) {
                self.procs[i].reg.handle_timeout(now);
                self.drain(i);
            }
            // A fallback dial loop (for a lower ID) ends once a link is up.
            let p = &mut self.procs[i];
            let (reg, links) = (&p.reg, &p.links);
            p.dialers
                .retain(|id, _| reg.dials(id) || !links.contains_key(id));
            let due: Vec<NodeId> = self.procs[i]
                .dialers
                .iter()
                .filter(|(id, d)| d.next <= now && !self.procs[i].links.contains_key(*id))
                .map(|(id, _)| id.clone())
                .collect();
            for id in due {
                let addr = self.procs[i].reg.addr(&id).to_owned();
                if self.dial(i, &addr, Some(&id)).is_some() {
                    if let Some(d) = self.procs[i].dialers.get_mut(&id) {
                        d.backoff.reset();
                        d.next = now + BACKOFF_MAX;
                    }
                    continue;
                }
                let forgotten = self.procs[i].reg.dial_failed(&id, now);
                self.drain(i);
                let unit = self.unit_random();
                if let Some(d) = self.procs[i].dialers.get_mut(&id) {
                    d.next = now + d.backoff.failed(unit);
                }
                if forgotten {
                    self.procs[i].dialers.remove(&id);
                }
            }
            if !self.procs[i].seeds.is_empty() && self.procs[i].next_seed_round <= now {
                self.seed_round(i);
            }
        }
    }

    fn seed_round(&mut self, i: usize) {
        let seeds = self.procs[i].seeds.clone();
        for s in seeds {
            if s != self.procs[i].addr() && self.procs[i].reg.seed_wanted(s) {
                self.dial(i, &s.to_string(), None);
            }
        }
        let unit = self.unit_random();
        let p = &mut self.procs[i];
        p.next_seed_round = self.now
            + if p.links.is_empty() {
                p.seed_backoff.failed(unit)
            } else {
                p.seed_backoff.reset();
                BACKOFF_MAX
            };
    }

    fn deliver(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        let from_id = self.procs[from].id.clone();
        // Only over a link that still exists between these two processes.
        if self.procs[to]
            .links
            .get(&from_id)
            .is_none_or(|e| e.proc != from)
        {
            return;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = wire::decode(&mut buf, 1 << 20).expect("frames the harness encoded");
        let now = self.now;
        let from_ip = self.procs[from].ip;
        let p = &mut self.procs[to];
        match frame {
            Some(Frame::Advertise { addr }) => {
                p.reg.advertise(&from_id, addr.as_str(), Some(from_ip), now);
            }
            Some(Frame::Hint { node, addr }) => {
                let admits = p.admits;
                p.reg
                    .hint(&from_id, node.as_str(), addr.as_str(), admits, now);
            }
            _ => {}
        }
        self.drain(to);
    }

    /// Jumps from event to event until `done` holds or `limit` of virtual time has passed;
    /// whether `done` held.
    pub(crate) fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let end = self.now + limit;
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(steps < 10_000_000, "the harness spins at {:?}", self.now);
            self.run_due();
            if done(self) {
                return true;
            }
            match self.next_event() {
                Some(t) if t <= end => self.now = t.max(self.now),
                _ => {
                    self.now = end;
                    self.run_due();
                    return done(self);
                }
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub(crate) fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
