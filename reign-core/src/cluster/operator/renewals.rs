//! Renewals in progress on this node: per requester (an operator connection, or a member
//! forwarding an operator's request), at most one key waiting for its certificate, at most
//! one key being made, and at most one RENEW_PREPARE a second. A pure table on `now`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reign_tls::NodeId;

/// Least time between two RENEW_PREPAREs of one requester.
pub(crate) const PREPARE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a new key waits for its certificate before it is dropped.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(600);

/// Who asked for a renewal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Requester {
    /// An operator connection to this node, by session number.
    Operator(u64),
    /// A member, forwarding for an operator connected to it.
    Member(NodeId),
}

/// Why a RENEW_PREPARE is not taken now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// This requester's last one was less than [`PREPARE_INTERVAL`] ago.
    TooSoon,
    /// This requester's last one is still making its key.
    InProgress,
}

struct Slot<K> {
    last_prepare: Instant,
    in_progress: bool,
    pending: Option<(K, Instant)>,
}

/// The table; `K` is the waiting key (a [`reign_tls::RenewalKey`] in service).
pub(crate) struct Renewals<K> {
    slots: Mutex<HashMap<Requester, Slot<K>>>,
}

impl<K> Default for Renewals<K> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> Renewals<K> {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Requester, Slot<K>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a RENEW_PREPARE of `who` at `now`, or says why not. An admitted one drops
    /// `who`'s waiting key (a new one replaces it) and must be ended with
    /// [`prepared`](Self::prepared).
    pub(crate) fn begin_prepare(&self, who: &Requester, now: Instant) -> Result<(), Busy> {
        let mut slots = self.slots();
        if let Some(s) = slots.get_mut(who) {
            if s.in_progress {
                return Err(Busy::InProgress);
            }
            if now.saturating_duration_since(s.last_prepare) < PREPARE_INTERVAL {
                return Err(Busy::TooSoon);
            }
            s.last_prepare = now;
            s.in_progress = true;
            s.pending = None;
        } else {
            slots.insert(
                who.clone(),
                Slot {
                    last_prepare: now,
                    in_progress: true,
                    pending: None,
                },
            );
        }
        Ok(())
    }

    /// Ends `who`'s admitted RENEW_PREPARE: its key (if one was made) now waits for its
    /// certificate.
    pub(crate) fn prepared(&self, who: &Requester, key: Option<K>, now: Instant) {
        if let Some(s) = self.slots().get_mut(who) {
            s.in_progress = false;
            s.pending = key.map(|k| (k, now));
        }
    }

    /// Takes `who`'s waiting key, if it has one younger than [`PENDING_LIFETIME`]. Taken
    /// whatever comes of the install: a refused certificate ends the renewal.
    pub(crate) fn take(&self, who: &Requester, now: Instant) -> Option<K> {
        let (key, since) = self.slots().get_mut(who)?.pending.take()?;
        (now.saturating_duration_since(since) < PENDING_LIFETIME).then_some(key)
    }

    /// Forgets an operator connection that ended (a member's slot stays: one per member).
    pub(crate) fn forget(&self, who: &Requester) {
        self.slots().remove(who);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prepare_a_second_and_one_at_a_time_per_requester() {
        let r = Renewals::<u32>::default();
        let t0 = Instant::now();
        let a = Requester::Operator(1);
        let b = Requester::Member(NodeId::new("b").unwrap());
        assert_eq!(r.begin_prepare(&a, t0), Ok(()));
        assert_eq!(
            r.begin_prepare(&a, t0 + PREPARE_INTERVAL * 2),
            Err(Busy::InProgress)
        );
        // Another requester is not held up.
        assert_eq!(r.begin_prepare(&b, t0), Ok(()));
        r.prepared(&a, Some(7), t0);
        assert_eq!(
            r.begin_prepare(&a, t0 + PREPARE_INTERVAL / 2),
            Err(Busy::TooSoon)
        );
        // The key waits for its certificate, once.
        assert_eq!(r.take(&b, t0), None);
        assert_eq!(r.take(&a, t0 + Duration::from_secs(1)), Some(7));
        assert_eq!(r.take(&a, t0 + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_new_prepare_replaces_the_waiting_key_and_old_keys_expire() {
        let r = Renewals::<u32>::default();
        let t0 = Instant::now();
        let a = Requester::Operator(1);
        r.begin_prepare(&a, t0).unwrap();
        r.prepared(&a, Some(1), t0);
        let t1 = t0 + PREPARE_INTERVAL;
        r.begin_prepare(&a, t1).unwrap();
        assert_eq!(
            r.take(&a, t1),
            None,
            "the old key went with the new prepare"
        );
        r.prepared(&a, Some(2), t1);
        assert_eq!(r.take(&a, t1 + PENDING_LIFETIME), None, "expired");
        r.forget(&a);
        assert_eq!(r.len(), 0);
    }
}
