//! Process groups, cluster-wide and eventually consistent like Erlang's `pg`.
//!
//! Guarantees: a mailbox's own node lists it in a group from `join` until `leave` or its end,
//! at once; every other node lists it from when the JOIN arrives until the LEAVE arrives, the
//! mailbox's node becomes unreachable, or (for an ended mailbox) its node's LEAVE arrives.
//! Two nodes may briefly disagree; they converge once the messages in flight arrive, with no
//! coordination. A group exists while it has members.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::watch;

use super::Detach;
use crate::proto::wire::{Frame, Text};
use crate::{MailboxId, MailboxRef};

pub(crate) struct Member {
    pub(crate) tag: Arc<str>,
    /// The link it was learned through; 0 for our own members.
    pub(crate) via: u64,
}

/// The cost model: a JOIN, a LEAVE and a watcher's notification are O(log n) in the size of
/// the group (an ordered map by identity, and a version bump for watchers, who read the
/// members when they look); a link's end is O(what that link brought), which the link's
/// control plane lists ([`crate::proto::link::Output::Forget`]).
#[derive(Default)]
pub(crate) struct State {
    /// Every group's members, ours included, in identity order.
    pub(crate) members: HashMap<Arc<str>, BTreeMap<MailboxRef, Member>>,
    /// Our own memberships' end-of-mailbox hooks.
    pub(crate) own: HashMap<(Arc<str>, MailboxId), Box<dyn Detach>>,
    /// Followers of a group: a version, bumped at each change.
    pub(crate) watches: HashMap<Arc<str>, watch::Sender<u64>>,
}

impl State {
    pub(crate) fn refs(&self, group: &str) -> Vec<MailboxRef> {
        self.members
            .get(group)
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The key under which `group` is (or will be) stored, without a new allocation when the
    /// group exists.
    pub(crate) fn key(&self, group: &str) -> Arc<str> {
        match self.members.get_key_value(group) {
            Some((k, _)) => k.clone(),
            None => group.into(),
        }
    }

    /// Adds or replaces a member; returns the link of the entry it replaced, if any.
    pub(crate) fn insert(
        &mut self,
        group: Arc<str>,
        holder: MailboxRef,
        member: Member,
    ) -> Option<u64> {
        self.members
            .entry(group)
            .or_default()
            .insert(holder, member)
            .map(|m| m.via)
    }

    /// Removes a member; returns the link it was learned through.
    pub(crate) fn remove(&mut self, group: &str, holder: &MailboxRef) -> Option<u64> {
        let list = self.members.get_mut(group)?;
        let m = list.remove(holder)?;
        if list.is_empty() {
            self.members.remove(group);
        }
        Some(m.via)
    }

    /// Tells the followers of `group` that it changed.
    pub(crate) fn publish(&mut self, group: &str) {
        let Some(tx) = self.watches.get(group) else {
            return;
        };
        tx.send_modify(|v| *v += 1);
        if tx.receiver_count() == 0 {
            self.watches.remove(group);
        }
    }
}

/// Follows the members of one process group. Made by [`Groups::watch`](crate::Groups::watch).
///
/// A change costs the node nothing but a notification: the members are read from the node
/// when the watch looks ([`GroupWatch::current`], [`GroupWatch::changed`]).
pub struct GroupWatch {
    pub(crate) rx: watch::Receiver<u64>,
    pub(crate) table: Weak<GroupTable>,
    pub(crate) group: Arc<str>,
    /// The members as [`GroupWatch::changed`] last reported them.
    pub(crate) last: Vec<MailboxRef>,
}

impl std::fmt::Debug for GroupWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWatch")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl GroupWatch {
    /// The members now, sorted (empty once the node is gone).
    pub fn current(&self) -> Vec<MailboxRef> {
        self.table
            .upgrade()
            .map(|t| t.lock().refs(&self.group))
            .unwrap_or_default()
    }

    /// Waits until the members change and returns them (sorted); changes faster than they
    /// are read are merged. `None` when the node is gone.
    pub async fn changed(&mut self) -> Option<Vec<MailboxRef>> {
        loop {
            self.rx.changed().await.ok()?;
            self.rx.borrow_and_update();
            let now = self.current();
            // A change undone before it was read (a join then a leave) is no change.
            if now != self.last {
                self.last = now.clone();
                return Some(now);
            }
        }
    }

    /// Waits until the members satisfy `pred` (at once if they do) and returns them.
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(&[MailboxRef]) -> bool,
    ) -> Option<Vec<MailboxRef>> {
        loop {
            self.rx.borrow_and_update();
            let now = self.current();
            if pred(&now) {
                self.last = now.clone();
                return Some(now);
            }
            self.rx.changed().await.ok()?;
        }
    }
}

/// The process groups as this node knows them.
#[derive(Default)]
pub(crate) struct GroupTable {
    state: Mutex<State>,
}

impl GroupTable {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A JOIN from the peer of link `via` (a repeated JOIN replaces the entry).
    pub(crate) fn peer_join(
        &self,
        peer: &MailboxRef,
        via: u64,
        group: Arc<str>,
        mailbox: u64,
        tag: &str,
    ) {
        let holder = peer.with_id(MailboxId(mailbox));
        let mut st = self.lock();
        // One allocation of the group's name for all its members.
        let key = match st.members.get_key_value(&*group) {
            Some((k, _)) => k.clone(),
            None => group,
        };
        let old = st.insert(
            key.clone(),
            holder,
            Member {
                tag: tag.into(),
                via,
            },
        );
        if old.is_none() {
            st.publish(&key);
        }
    }

    /// The peer's mailbox left `group`.
    pub(crate) fn peer_leave(&self, peer: &MailboxRef, group: &str, mailbox: u64) {
        let holder = peer.with_id(MailboxId(mailbox));
        let mut st = self.lock();
        if st.remove(group, &holder).is_some() {
            st.publish(group);
        }
    }

    /// Link `via` of `peer` ended: the memberships it brought, `entries` (group, mailbox),
    /// go (O(their number)).
    pub(crate) fn link_down(&self, peer: &MailboxRef, via: u64, entries: &[(Arc<str>, u64)]) {
        let mut st = self.lock();
        let mut touched: HashSet<Arc<str>> = HashSet::new();
        for (group, mailbox) in entries {
            let holder = peer.with_id(MailboxId(*mailbox));
            let Some(list) = st.members.get_mut(group) else {
                continue;
            };
            if list.get(&holder).is_some_and(|m| m.via == via) {
                list.remove(&holder);
                if list.is_empty() {
                    st.members.remove(group);
                }
                touched.insert(group.clone());
            }
        }
        for g in touched {
            st.publish(&g);
        }
    }

    /// Whether any membership learned through link `via` is still held (for the harness).
    pub(crate) fn held_via(&self, via: u64) -> bool {
        self.lock()
            .members
            .values()
            .flat_map(|l| l.values())
            .any(|m| m.via == via)
    }

    /// Our own memberships, as GROUP_JOIN frames for a link that just came up.
    pub(crate) fn own_frames(&self, me: &MailboxRef) -> Vec<Frame> {
        let st = self.lock();
        st.own
            .keys()
            .filter_map(|(group, id)| {
                let holder = me.with_id(*id);
                let m = st.members.get(group)?.get(&holder)?;
                Some(Frame::GroupJoin {
                    group: Text::new(group),
                    mailbox: id.get(),
                    tag: Text::new(&m.tag),
                })
            })
            .collect()
    }
}
