//! The pace of CERT_UPDATE frames on one link (docs/PROTOCOL.md, section 5): this node sends
//! at most one per [`OWN_PERIOD`] (a later change waits, and the latest certificate then
//! goes); a peer may send a burst of [`PEER_BURST`], refilled one per [`PEER_REFILL`], and
//! the CERT_UPDATE past that ends the link. Each update costs its receiver a chain
//! verification and a signature check, so the pace bounds what a member can make a node
//! spend on them.

use std::time::{Duration, Instant};

/// The least time between two updates this node sends on one link.
pub(crate) const OWN_PERIOD: Duration = Duration::from_secs(2);
/// How many updates a peer may send at once.
pub(crate) const PEER_BURST: u8 = 2;
/// How often a peer regains one update.
pub(crate) const PEER_REFILL: Duration = Duration::from_secs(1);

/// The pacing state of one link.
#[derive(Debug)]
pub(crate) struct Pacing {
    own_next: Instant,
    own_pending: bool,
    peer_tokens: u8,
    peer_refill: Instant,
}

impl Pacing {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            own_next: now,
            own_pending: false,
            peer_tokens: PEER_BURST,
            peer_refill: now + PEER_REFILL,
        }
    }

    /// This node's certificate changed at `now`: whether to send an update now (else one
    /// is sent when [`Pacing::on_timeout`] says so).
    pub(crate) fn own_changed(&mut self, now: Instant) -> bool {
        if now >= self.own_next {
            self.own_next = now + OWN_PERIOD;
            self.own_pending = false;
            true
        } else {
            self.own_pending = true;
            false
        }
    }

    /// Time passed: refills the peer's budget, and says whether a held-back update of this
    /// node's is due now.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> bool {
        if self.peer_tokens < PEER_BURST && now >= self.peer_refill {
            self.peer_tokens += 1;
            self.peer_refill = now + PEER_REFILL;
        }
        if self.own_pending && now >= self.own_next {
            self.own_next = now + OWN_PERIOD;
            self.own_pending = false;
            return true;
        }
        false
    }

    /// The peer sent an update: whether it is within its budget.
    pub(crate) fn peer_update(&mut self) -> bool {
        if self.peer_tokens == 0 {
            return false;
        }
        self.peer_tokens -= 1;
        true
    }

    /// When [`Pacing::on_timeout`] has something to do, if ever.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let own = self.own_pending.then_some(self.own_next);
        let peer = (self.peer_tokens < PEER_BURST).then_some(self.peer_refill);
        match (own, peer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_node_sends_at_most_one_per_period_and_the_held_one_goes_later() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        assert!(p.own_changed(t0));
        assert!(!p.own_changed(t0 + Duration::from_millis(500)));
        assert_eq!(p.next_wake(), Some(t0 + OWN_PERIOD));
        assert!(!p.on_timeout(t0 + OWN_PERIOD - Duration::from_millis(1)));
        assert!(p.on_timeout(t0 + OWN_PERIOD));
        assert_eq!(p.next_wake(), None);
    }

    #[test]
    fn a_peer_has_a_burst_then_one_per_refill() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        assert!(p.peer_update() && p.peer_update());
        assert!(!p.peer_update(), "past the burst");
        assert_eq!(p.next_wake(), Some(t0 + PEER_REFILL));
        p.on_timeout(t0 + PEER_REFILL);
        assert!(p.peer_update());
        assert!(!p.peer_update());
    }

    #[test]
    fn an_honest_sender_never_exceeds_the_receivers_budget() {
        // The sender's period (2 s) is twice the receiver's refill (1 s), and the burst
        // covers the first two: any schedule of changes passes.
        let t0 = Instant::now();
        let (mut tx, mut rx) = (Pacing::new(t0), Pacing::new(t0));
        let mut now = t0;
        for step in 0..200u64 {
            now += Duration::from_millis(97 * (step % 7) + 13);
            rx.on_timeout(now);
            let sent = tx.own_changed(now) | tx.on_timeout(now);
            if sent {
                assert!(rx.peer_update(), "refused at step {step}");
            }
        }
    }
}
