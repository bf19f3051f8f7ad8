//! Cluster-wide names: the table every node keeps (its public face is
//! [`GlobalNames`](crate::GlobalNames)).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::{Detach, NameConflict};
use crate::proto::wire::{Frame, Text};
use crate::{MailboxRef, NodeId};
use reign_tls::ratelimit::Escaped;

/// One node's claim of a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) holder: MailboxRef,
    pub(crate) tag: Arc<str>,
    /// The link this claim was learned through (0 for our own claims): when that link
    /// ends, its claims go, and not those a newer link of the same node brought.
    pub(crate) via: u64,
}

impl Claim {
    /// The conflict rule (see the module docs): the holder node's rank for this name, then
    /// the node ID itself. Nothing in it is chosen by the claimant at claim time: a node's ID
    /// is fixed by its certificate.
    fn key(&self, name: &str) -> (u64, &NodeId) {
        (rank(name, self.holder.node()), self.holder.node())
    }
}

/// A node's rank for a name in conflicts: 64-bit FNV-1a of the name's bytes, a zero byte and
/// the node ID's bytes (lower wins). Stable across builds and platforms, so every node (and
/// any other implementation, see docs/PROTOCOL.md) computes the same winner; spread over
/// names, so no node wins every conflict.
pub(crate) fn rank(name: &str, node: &NodeId) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in name
        .as_bytes()
        .iter()
        .chain(&[0u8])
        .chain(node.as_str().as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// One of our own claims: what ends it when its mailbox ends, and how to tell the mailbox
/// it lost the name.
pub(crate) struct Own {
    pub(crate) hook: Box<dyn Detach>,
    pub(crate) notify: Box<dyn Fn(NameConflict) + Send + Sync>,
}

/// The cost model: a name's claims are at most one per node (a node's new claim replaces its
/// old one), so NAME_ADD and NAME_REMOVE are O(nodes) on one name's list; a link's end is
/// O(the names it brought), which the link's control plane lists
/// ([`crate::proto::link::Output::Forget`]).
#[derive(Default)]
pub(crate) struct State {
    /// Every claim known, ours included, by name.
    pub(crate) claims: HashMap<Arc<str>, Vec<Claim>>,
    /// Our own claims' hooks and conflict notifiers, by name.
    pub(crate) own: HashMap<Arc<str>, Own>,
    /// Followers of a name: the current winner.
    pub(crate) watches: HashMap<Arc<str>, watch::Sender<Option<MailboxRef>>>,
}

impl State {
    pub(crate) fn winner(&self, name: &str) -> Option<&Claim> {
        self.claims
            .get(name)?
            .iter()
            .min_by(|a, b| a.key(name).cmp(&b.key(name)))
    }

    /// Removes the claims of `name` that `drop` selects; returns how many went.
    pub(crate) fn remove_claims(
        &mut self,
        name: &str,
        mut drop: impl FnMut(&Claim) -> bool,
    ) -> usize {
        let Some(list) = self.claims.get_mut(name) else {
            return 0;
        };
        let before = list.len();
        list.retain(|c| !drop(c));
        let removed = before - list.len();
        if list.is_empty() {
            self.claims.remove(name);
        }
        removed
    }

    /// Tells the followers of `name` where it resolves now.
    pub(crate) fn publish(&mut self, name: &str) {
        let now = self.winner(name).map(|c| c.holder.clone());
        super::publish(&mut self.watches, name, now);
    }
}

/// The cluster-wide names as this node knows them.
#[derive(Default)]
pub(crate) struct NameTable {
    state: Mutex<State>,
}

impl NameTable {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A name claim by `holder` (a peer's mailbox) arrived over link `via`; `me` is this
    /// node. If it beats a claim of ours, ours is dropped, its mailbox told, and the
    /// NAME_REMOVE to tell every peer is handed back.
    pub(crate) fn peer_add(
        &self,
        me: &NodeId,
        via: u64,
        holder: MailboxRef,
        key: Arc<str>,
        tag: &str,
    ) -> Option<Frame> {
        let name = &*key;
        let peer = &holder.node().clone();
        let claim = Claim {
            holder,
            tag: tag.into(),
            via,
        };
        let mut lost = None;
        {
            let mut st = self.lock();
            let before = st.winner(name).map(|c| c.holder.clone());
            st.remove_claims(name, |c| c.holder.node() == peer);
            st.claims.entry(key.clone()).or_default().push(claim);
            let winner = st.winner(name).cloned();
            if let Some(w) = winner
                && w.holder.node() != me
                && let Some(own) = st.own.remove(name)
            {
                let mut mine = 0;
                st.remove_claims(name, |c| {
                    let ours = c.holder.node() == me;
                    if ours {
                        mine = c.holder.id().get();
                    }
                    ours
                });
                lost = Some((own, w.holder, mine));
            } else if let Some(from) = before
                && from.node() != peer
                && from.node() != me
                && st.winner(name).is_some_and(|w| w.holder.node() == peer)
            {
                // Two other nodes claim it and the newcomer ranks first: the holder may never
                // hear of it (it is told only by the newcomer), so say so here.
                reign_tls::warn_limited!(node = %me, name = %Escaped(name), %from, to = %peer, "cluster-wide name moved between two other nodes in a conflict (the newcomer's node ranks first for it)");
            }
            st.publish(name);
        }
        let (own, winner, mine) = lost?;
        own.hook.detach();
        tracing::warn!(node = %me, name = %Escaped(name), %winner, "cluster-wide name lost in a conflict (the winner's node ranks first for it)");
        (own.notify)(NameConflict {
            name: name.to_owned(),
            winner,
        });
        Some(Frame::NameRemove {
            name: Text::new(name),
            mailbox: mine,
        })
    }

    /// `peer` withdrew its claim of `name` (`mailbox` 0: whatever it claimed).
    pub(crate) fn peer_remove(&self, peer: &NodeId, name: &str, mailbox: u64) {
        let mut st = self.lock();
        let removed = st.remove_claims(name, |c| {
            c.holder.node() == peer && (mailbox == 0 || c.holder.id().get() == mailbox)
        });
        if removed > 0 {
            st.publish(name);
        }
    }

    /// Link `via` ended: the claims it brought of `names` go (O(their number)).
    pub(crate) fn link_down(&self, via: u64, names: &[Arc<str>]) {
        let mut st = self.lock();
        for name in names {
            if st.remove_claims(name, |c| c.via == via) > 0 {
                st.publish(name);
            }
        }
    }

    /// Whether any claim learned through link `via` is still held (for the harness's checks).
    pub(crate) fn held_via(&self, via: u64) -> bool {
        self.lock().claims.values().flatten().any(|c| c.via == via)
    }

    /// Our own claims, as NAME_ADD frames for a link that just came up (O(our claims)).
    pub(crate) fn own_frames(&self, me: &NodeId) -> Vec<Frame> {
        let st = self.lock();
        st.own
            .keys()
            .filter_map(|name| {
                let c = st
                    .claims
                    .get(name)?
                    .iter()
                    .find(|c| c.holder.node() == me)?;
                Some(name_add(name, c))
            })
            .collect()
    }
}

/// The NAME_ADD frame announcing claim `c` of `name`. `registered_at` is informational (the
/// claimant's clock); no node uses it to decide anything.
pub(crate) fn name_add(name: &str, c: &Claim) -> Frame {
    Frame::NameAdd {
        name: Text::new(name),
        mailbox: c.holder.id().get(),
        tag: Text::new(&c.tag),
        registered_at: now_ms(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rank_is_fnv1a_of_name_zero_node() {
        // The values docs/PROTOCOL.md quotes.
        assert_eq!(
            super::rank("alice", &"a".parse().unwrap()),
            0x24723760cb47b24c
        );
        assert_eq!(
            super::rank("alice", &"b".parse().unwrap()),
            0x24723a60cb47b765
        );
    }
}
