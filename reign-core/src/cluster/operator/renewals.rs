//! Renewals in progress on this node. Requests come from an *origin*: an operator connection
//! to this node, or a member forwarding for the operator connections it serves (each named
//! by a session number of the member's choosing). Per origin: at most one RENEW_PREPARE a
//! second and one key being made at a time. Per session: one key waiting for its
//! certificate, and per origin at most [`MAX_WAITING`] (the oldest goes). A pure table on
//! `now`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reign_tls::NodeId;

/// Least time between two RENEW_PREPAREs of one origin.
pub(crate) const PREPARE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a new key waits for its certificate before it is dropped.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(600);
/// Keys waiting at once per origin (a node serves at most this many operator connections).
pub(crate) const MAX_WAITING: usize = super::MAX_OPERATOR_SESSIONS;

/// Where requests come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// An operator connection to this node, by session number.
    Operator(u64),
    /// A member, forwarding for operators connected to it.
    Member(NodeId),
}

/// Who asked: an origin, and the session within it (0 for an operator connection).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Requester {
    pub(crate) origin: Origin,
    pub(crate) session: u64,
}

/// Why a RENEW_PREPARE is not taken now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// This origin's last one was less than [`PREPARE_INTERVAL`] ago.
    TooSoon,
    /// This origin's last one is still making its key.
    InProgress,
}

struct Slot<K> {
    last_prepare: Option<Instant>,
    in_progress: bool,
    /// By session, oldest first.
    waiting: Vec<(u64, K, Instant)>,
}

/// The table; `K` is the waiting key (a [`reign_tls::RenewalKey`] in service).
pub(crate) struct Renewals<K> {
    slots: Mutex<HashMap<Origin, Slot<K>>>,
}

impl<K> Default for Renewals<K> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> Renewals<K> {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Origin, Slot<K>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a RENEW_PREPARE of `who` at `now`, or says why not. An admitted one drops
    /// the session's waiting key (a new one replaces it) and must be ended with
    /// [`prepared`](Self::prepared).
    pub(crate) fn begin_prepare(&self, who: &Requester, now: Instant) -> Result<(), Busy> {
        let mut slots = self.slots();
        let s = slots.entry(who.origin.clone()).or_insert_with(|| Slot {
            last_prepare: None,
            in_progress: false,
            waiting: Vec::new(),
        });
        if s.in_progress {
            return Err(Busy::InProgress);
        }
        if s.last_prepare
            .is_some_and(|t| now.saturating_duration_since(t) < PREPARE_INTERVAL)
        {
            return Err(Busy::TooSoon);
        }
        s.last_prepare = Some(now);
        s.in_progress = true;
        s.waiting.retain(|(session, _, _)| *session != who.session);
        Ok(())
    }

    /// Ends `who`'s admitted RENEW_PREPARE: its key (if one was made) now waits for its
    /// certificate.
    pub(crate) fn prepared(&self, who: &Requester, key: Option<K>, now: Instant) {
        if let Some(s) = self.slots().get_mut(&who.origin) {
            s.in_progress = false;
            if let Some(k) = key {
                s.waiting.push((who.session, k, now));
                if s.waiting.len() > MAX_WAITING {
                    s.waiting.remove(0);
                }
            }
        }
    }

    /// Takes `who`'s waiting key, if it has one younger than [`PENDING_LIFETIME`]. Taken
    /// whatever comes of the install: a refused certificate ends the renewal.
    pub(crate) fn take(&self, who: &Requester, now: Instant) -> Option<K> {
        let mut slots = self.slots();
        let s = slots.get_mut(&who.origin)?;
        let i = s
            .waiting
            .iter()
            .position(|(session, _, _)| *session == who.session)?;
        let (_, key, since) = s.waiting.remove(i);
        (now.saturating_duration_since(since) < PENDING_LIFETIME).then_some(key)
    }

    /// Forgets an origin (an operator connection that ended).
    pub(crate) fn forget(&self, origin: &Origin) {
        self.slots().remove(origin);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u64) -> Requester {
        Requester {
            origin: Origin::Operator(n),
            session: 0,
        }
    }

    fn via_b(session: u64) -> Requester {
        Requester {
            origin: Origin::Member(NodeId::new("b").unwrap()),
            session,
        }
    }

    #[test]
    fn one_prepare_a_second_and_one_at_a_time_per_origin() {
        let r = Renewals::<u32>::default();
        let t0 = Instant::now();
        let (a, b) = (op(1), via_b(1));
        assert_eq!(r.begin_prepare(&a, t0), Ok(()));
        assert_eq!(
            r.begin_prepare(&a, t0 + PREPARE_INTERVAL * 2),
            Err(Busy::InProgress)
        );
        // Another origin is not held up.
        assert_eq!(r.begin_prepare(&b, t0), Ok(()));
        r.prepared(&a, Some(7), t0);
        assert_eq!(
            r.begin_prepare(&a, t0 + PREPARE_INTERVAL / 2),
            Err(Busy::TooSoon)
        );
        // Another session of the same origin is held to the origin's pace.
        r.prepared(&b, Some(1), t0);
        assert_eq!(r.begin_prepare(&via_b(2), t0), Err(Busy::TooSoon));
        // The key waits for its certificate, once, for its own session only.
        assert_eq!(r.take(&via_b(2), t0), None);
        assert_eq!(r.take(&a, t0 + Duration::from_secs(1)), Some(7));
        assert_eq!(r.take(&a, t0 + Duration::from_secs(1)), None);
        assert_eq!(r.take(&b, t0), Some(1));
    }

    #[test]
    fn sessions_of_one_member_keep_their_own_keys_up_to_the_cap() {
        let r = Renewals::<u64>::default();
        let mut t = Instant::now();
        for s in 0..MAX_WAITING as u64 + 1 {
            r.begin_prepare(&via_b(s), t).unwrap();
            r.prepared(&via_b(s), Some(s), t);
            t += PREPARE_INTERVAL;
        }
        // The oldest went; every other session has its own.
        assert_eq!(r.take(&via_b(0), t), None);
        for s in 1..=MAX_WAITING as u64 {
            assert_eq!(r.take(&via_b(s), t), Some(s));
        }
    }

    #[test]
    fn a_new_prepare_replaces_the_waiting_key_and_old_keys_expire() {
        let r = Renewals::<u32>::default();
        let t0 = Instant::now();
        let a = op(1);
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
        r.forget(&a.origin);
        assert_eq!(r.len(), 0);
    }
}
