//! Which accepted connections may run a handshake: a table of the handshakes in progress,
//! capped in total and per source, that makes room for a newcomer by **evicting** an old
//! entry rather than refusing the newcomer.
//!
//! # Why evict, and whom
//!
//! Anyone who can reach the port can open TCP connections and send nothing. Refusing new
//! connections when the table is full (the previous design) hands the table to whoever
//! fills it first: 300 idle connections, reopened as they are dropped, kept every slot busy
//! and no member could get in. So the table never refuses; a newcomer always gets a slot,
//! and the victim is chosen so that a flood displaces itself:
//!
//! 1. **Per source.** A source (an IPv4 address, or an IPv6 /64, which one party usually
//!    holds whole) has at most [`TlsConfig::max_pending_handshakes_per_source`] entries.
//!    At that cap, the newcomer evicts *its own source's* oldest entry. A flood from one
//!    address can hold at most that many slots, never a member's from another address.
//! 2. **In total.** When the whole table ([`TlsConfig::max_pending_handshakes`]) is full
//!    (a flood from many sources), the victim is taken from the source holding the most
//!    entries, so a member with one handshake in progress is the last to go.
//! 3. **By phase.** Within a source at its cap, an entry still waiting for its TLS
//!    ClientHello goes before one whose ClientHello arrived (a real dialer sends it at once;
//!    an idle connection never does), and then the oldest goes first (it had the longest
//!    chance). In a full table, only entries that have waited [`IDLE_GRACE`] or more count as
//!    idle: without that grace, a member's connection from another address, idle only for
//!    the moment between its TCP accept and its ClientHello being read, was the one entry a
//!    flood of connections that *did* send a ClientHello evicted first (an outside test
//!    measured 55-73% of a member's handshakes lost that way on a node short of CPU).
//!    So an idle flood, even from a member's own address, cannot displace a member whose
//!    ClientHello is in: only connections that also sent a ClientHello can, and each of
//!    those costs the flooder a real TLS handshake start.
//!
//! Together with the short pre-TLS deadline ([`TlsConfig::client_hello_timeout`]), an idle
//! connection costs the node one table entry and one task for at most that deadline, and
//! no handshake work at all.
//!
//! The table is scanned linearly: it holds at most `max_pending_handshakes` entries (256 by
//! default), so admitting a connection costs O(that) under one short lock, which is far below
//! the cost of the accept system call and the task it runs in.
//!
//! [`TlsConfig::max_pending_handshakes_per_source`]: crate::TlsConfig::max_pending_handshakes_per_source
//! [`TlsConfig::max_pending_handshakes`]: crate::TlsConfig::max_pending_handshakes
//! [`TlsConfig::client_hello_timeout`]: crate::TlsConfig::client_hello_timeout

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Who a connection counts against: an IPv4 address or an IPv6 /64 (IPv4-mapped IPv6
/// addresses count as their IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    Self::V6(prefix)
                }
            },
        }
    }
}

/// The handshakes in progress on the accept side of one endpoint.
#[derive(Debug)]
pub(crate) struct Admission {
    max_total: usize,
    max_per_source: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next_seq: u64,
    entries: Vec<Entry>,
}

/// How long a connection may wait for its ClientHello before it counts as idle (to be evicted
/// first): far more than a dialer needs to send it after connecting, far less than the
/// pre-TLS deadline.
pub(crate) const IDLE_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Entry {
    seq: u64,
    source: Source,
    admitted: Instant,
    slot: Arc<Slot>,
}

impl Entry {
    /// Eviction order within a source: waiting for a ClientHello first.
    fn rank(&self) -> u8 {
        u8::from(self.slot.hello_seen.load(Ordering::Relaxed))
    }

    /// Eviction order in a full table: idle past the grace first, then the rest.
    fn rank_at(&self, now: Instant) -> u8 {
        let idle = self.rank() == 0 && now.saturating_duration_since(self.admitted) >= IDLE_GRACE;
        u8::from(!idle)
    }
}

/// What the table and the handshake task share about one entry.
#[derive(Debug, Default)]
struct Slot {
    /// Set once the TLS ClientHello has arrived.
    hello_seen: AtomicBool,
    /// Notified when the entry is evicted.
    evicted: Notify,
}

/// One admitted handshake; dropping it frees its entry.
#[derive(Debug)]
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    seq: u64,
    slot: Arc<Slot>,
}

impl Admission {
    pub(crate) fn new(max_total: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total: max_total.max(1),
            max_per_source: max_per_source.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    /// Admits a connection from `ip`, evicting one entry first if a cap is reached (the
    /// evicted handshake's [`Ticket::evicted`] completes). Returns whether one was evicted.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> (Ticket, bool) {
        self.admit_at(ip, Instant::now())
    }

    fn admit_at(self: &Arc<Self>, ip: IpAddr, now: Instant) -> (Ticket, bool) {
        let source = Source::from(ip);
        let mut t = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let same_source = t.entries.iter().filter(|e| e.source == source).count();
        let victim = if same_source >= self.max_per_source {
            // The newcomer's own source pays.
            t.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.source == source)
                .min_by_key(|(_, e)| (e.rank(), e.seq))
                .map(|(i, _)| i)
        } else if t.entries.len() >= self.max_total {
            // The heaviest source pays (counting the newcomer).
            let mut counts: HashMap<Source, usize> = HashMap::new();
            for e in &t.entries {
                *counts.entry(e.source).or_default() += 1;
            }
            *counts.entry(source).or_default() += 1;
            t.entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| (e.rank_at(now), std::cmp::Reverse(counts[&e.source]), e.seq))
                .map(|(i, _)| i)
        } else {
            None
        };
        let evicted = victim.is_some();
        if let Some(i) = victim {
            let gone = t.entries.swap_remove(i);
            gone.slot.evicted.notify_one();
        }
        let seq = t.next_seq;
        t.next_seq += 1;
        let slot = Arc::new(Slot::default());
        t.entries.push(Entry {
            seq,
            source,
            admitted: now,
            slot: slot.clone(),
        });
        drop(t);
        (
            Ticket {
                admission: self.clone(),
                seq,
                slot,
            },
            evicted,
        )
    }

    /// How many handshakes are in progress.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }
}

impl Ticket {
    /// Records that the TLS ClientHello arrived: the entry now goes after every entry still
    /// waiting for one.
    pub(crate) fn hello_received(&self) {
        self.slot.hello_seen.store(true, Ordering::Relaxed);
    }

    /// Whether the TLS ClientHello arrived.
    pub(crate) fn hello_seen(&self) -> bool {
        self.slot.hello_seen.load(Ordering::Relaxed)
    }

    /// Completes when this handshake is evicted to make room for a newer one.
    pub(crate) async fn evicted(&self) {
        self.slot.evicted.notified().await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut t = self
            .admission
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = t.entries.iter().position(|e| e.seq == self.seq) {
            t.entries.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn is_evicted(t: &Ticket) -> bool {
        let mut f = pin!(t.evicted());
        matches!(
            f.as_mut().poll(&mut Context::from_waker(Waker::noop())),
            Poll::Ready(())
        )
    }

    #[test]
    fn a_source_at_its_cap_evicts_its_own_oldest() {
        let a = Admission::new(100, 3);
        let flood: Vec<_> = (0..3).map(|_| a.admit(ip("10.0.0.2")).0).collect();
        let (member, evicted) = a.admit(ip("10.0.0.1"));
        assert!(!evicted);
        let (_newest, evicted) = a.admit(ip("10.0.0.2"));
        assert!(evicted);
        assert!(is_evicted(&flood[0]));
        assert!(!is_evicted(&flood[1]) && !is_evicted(&member));
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn a_full_table_evicts_from_the_heaviest_source() {
        let a = Admission::new(4, 100);
        let member = a.admit(ip("10.0.0.1")).0;
        let flood: Vec<_> = (0..3).map(|_| a.admit(ip("10.0.0.2")).0).collect();
        let (_other, evicted) = a.admit(ip("10.0.0.3"));
        assert!(evicted);
        assert!(is_evicted(&flood[0]) && !is_evicted(&member));
    }

    #[test]
    fn a_connection_that_sent_its_client_hello_goes_after_idle_ones() {
        let a = Admission::new(100, 3);
        let member = a.admit(ip("10.0.0.1")).0;
        member.hello_received();
        let idle: Vec<_> = (0..2).map(|_| a.admit(ip("10.0.0.1")).0).collect();
        // The member is the oldest of its source, but the idle ones go first, fresh or not.
        let more: Vec<_> = (0..2).map(|_| a.admit(ip("10.0.0.1")).0).collect();
        assert!(!is_evicted(&member));
        assert!(is_evicted(&idle[0]) && is_evicted(&idle[1]));
        assert!(!is_evicted(&more[0]) && !is_evicted(&more[1]));
        // Only when every entry of the source sent one does the oldest go.
        for t in &more {
            t.hello_received();
        }
        let _last = a.admit(ip("10.0.0.1")).0;
        assert!(is_evicted(&member));
    }

    /// The outside test's flood: every slot held by connections from many sources that sent
    /// a ClientHello and stall. A member just accepted, its ClientHello not read yet, is not
    /// the one the next arrival evicts.
    #[test]
    fn a_member_between_accept_and_client_hello_is_not_the_first_to_go() {
        let a = Admission::new(4, 100);
        let t0 = Instant::now();
        let flood: Vec<_> = (1..=3)
            .map(|i| {
                let t = a.admit_at(ip(&format!("10.0.2.{i}")), t0).0;
                t.hello_received();
                t
            })
            .collect();
        let now = t0 + Duration::from_secs(1);
        let member = a.admit_at(ip("127.0.0.1"), now).0;
        let (_next, evicted) = a.admit_at(ip("10.0.2.9"), now + Duration::from_millis(5));
        assert!(evicted);
        assert!(!is_evicted(&member), "the member went first");
        assert!(is_evicted(&flood[0]), "the oldest went");
        // Once past the grace without a ClientHello, it counts as idle.
        let (_more, _) = a.admit_at(ip("10.0.2.10"), now + IDLE_GRACE);
        assert!(is_evicted(&member));
    }

    #[test]
    fn dropping_a_ticket_frees_its_entry() {
        let a = Admission::new(2, 2);
        let t = a.admit(ip("::1")).0;
        assert_eq!(a.len(), 1);
        drop(t);
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            Source::from(ip("2001:db8:1:2::1")),
            Source::from(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Source::from(ip("2001:db8:1:2::1")),
            Source::from(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::from(ip("::ffff:10.0.0.1")),
            Source::from(ip("10.0.0.1"))
        );
    }
}
