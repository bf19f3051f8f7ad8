//! Process groups, cluster-wide and eventually consistent like Erlang's `pg`.
//!
//! Guarantees: a mailbox's own node lists it in a group from `join` until `leave` or its end,
//! at once; every other node lists it from when the JOIN arrives until the LEAVE arrives, the
//! mailbox's node becomes unreachable, or (for an ended mailbox) its node's LEAVE arrives.
//! Two nodes may briefly disagree; they converge once the messages in flight arrive, with no
//! coordination. A group exists while it has members.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::watch;

use super::hook::HookHandle;
use super::{retain_everywhere, retain_in};
use crate::node::NodeInner;
use crate::registry::MAX_NAME_LEN;
use crate::wire::{Frame, Text};
use crate::{Address, Incarnation, MailboxId, MailboxRef, Message, Node, NodeId, RegistryError};

struct Member {
    holder: MailboxRef,
    tag: Arc<str>,
    /// The link it was learned through; 0 for our own members.
    via: u64,
}

#[derive(Default)]
struct State {
    members: HashMap<Arc<str>, Vec<Member>>,
    /// Our own memberships' end-of-mailbox hooks.
    own: HashMap<(Arc<str>, MailboxId), HookHandle>,
    /// Followers of a group: its sorted members.
    watches: HashMap<Arc<str>, watch::Sender<Vec<MailboxRef>>>,
}

impl State {
    fn refs(&self, group: &str) -> Vec<MailboxRef> {
        let mut v: Vec<MailboxRef> = self
            .members
            .get(group)
            .map(|l| l.iter().map(|m| m.holder.clone()).collect())
            .unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }

    /// Tells the followers of `group` its members now.
    fn publish(&mut self, group: &str) {
        if !self.watches.contains_key(group) {
            return;
        }
        let now = self.refs(group);
        super::publish(&mut self.watches, group, now);
    }
}

/// Follows the members of one process group. Made by [`Node::watch_group`].
#[derive(Debug)]
pub struct GroupWatch {
    rx: watch::Receiver<Vec<MailboxRef>>,
}

impl GroupWatch {
    /// The members now, sorted.
    pub fn current(&self) -> Vec<MailboxRef> {
        self.rx.borrow().clone()
    }

    /// Waits until the members change and returns them (sorted); changes faster than they
    /// are read are merged. `None` when the node is gone.
    pub async fn changed(&mut self) -> Option<Vec<MailboxRef>> {
        self.rx.changed().await.ok()?;
        Some(self.rx.borrow_and_update().clone())
    }

    /// Waits until the members satisfy `pred` (at once if they do) and returns them.
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(&[MailboxRef]) -> bool,
    ) -> Option<Vec<MailboxRef>> {
        let v = self.rx.wait_for(|m| pred(m)).await.ok()?;
        Some(v.clone())
    }
}

/// The process groups as this node knows them.
#[derive(Default)]
pub(crate) struct Groups {
    state: Mutex<State>,
}

impl Groups {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn peer_join(
        &self,
        peer: &NodeId,
        incarnation: Incarnation,
        via: u64,
        group: &str,
        mailbox: u64,
        tag: &str,
    ) {
        let holder = MailboxRef::new(peer.clone(), incarnation, MailboxId(mailbox));
        let mut st = self.lock();
        // Not checked for a repeat (that would be a scan per JOIN, quadratic for a large
        // group): a peer never sends one, and if it did, readers list a member once and its
        // LEAVE removes every copy.
        st.members.entry(group.into()).or_default().push(Member {
            holder,
            tag: tag.into(),
            via,
        });
        st.publish(group);
    }

    /// The peer's mailbox left `group`; returns how many entries went.
    pub(crate) fn peer_leave(&self, peer: &NodeId, group: &str, mailbox: u64) -> usize {
        let mut st = self.lock();
        let removed = retain_in(&mut st.members, group, |m| {
            !(m.holder.node() == peer && m.holder.id().get() == mailbox)
        });
        st.publish(group);
        removed
    }

    pub(crate) fn link_down(&self, via: u64) {
        let mut st = self.lock();
        for g in retain_everywhere(&mut st.members, |m| m.via != via) {
            st.publish(&g);
        }
    }

    /// Our own memberships, as GROUP_JOIN frames for a link that just came up.
    pub(crate) fn own_frames(&self) -> Vec<Frame> {
        let st = self.lock();
        st.members
            .iter()
            .flat_map(|(group, list)| {
                list.iter()
                    .filter(|m| m.via == 0)
                    .map(|m| Frame::GroupJoin {
                        group: Text::new(group),
                        mailbox: m.holder.id().get(),
                        tag: Text::new(&m.tag),
                    })
            })
            .collect()
    }
}

fn leave_own(inner: &Weak<NodeInner>, group: &str, mailbox: MailboxId) -> bool {
    let Some(inner) = inner.upgrade() else {
        return false;
    };
    let node = Node { inner };
    let hook = {
        let mut st = node.inner.groups.lock();
        let hook = st.own.remove(&(Arc::from(group), mailbox));
        if hook.is_some() {
            retain_in(&mut st.members, group, |m| {
                !(m.via == 0 && m.holder.id() == mailbox)
            });
        }
        st.publish(group);
        hook
    };
    let Some(hook) = hook else { return false };
    hook.detach();
    if let Some(c) = node.cluster() {
        c.broadcast(&Frame::GroupLeave {
            group: Text::new(group),
            mailbox: mailbox.get(),
        });
    }
    true
}

impl Node {
    /// Adds `address`, a live mailbox of this node, to process group `group` (1 to 255
    /// bytes), cluster-wide. A mailbox can be in any number of groups; joining twice is one
    /// membership. It leaves with [`Node::leave`], or when it ends, or (as other nodes see
    /// it) when this node becomes unreachable. See the module docs for the guarantees.
    ///
    /// ```
    /// use reign_core::Node;
    /// let node = Node::new("a".parse().unwrap());
    /// let (_inbox, addr) = node.mailbox::<String>();
    /// node.join("room", &addr).unwrap();
    /// assert_eq!(node.members::<String>("room"), vec![addr.clone()]);
    /// assert!(node.leave("room", &addr));
    /// assert!(node.members::<String>("room").is_empty());
    /// ```
    pub fn join<M: Message>(&self, group: &str, address: &Address<M>) -> Result<(), RegistryError> {
        if group.is_empty() || group.len() > MAX_NAME_LEN {
            return Err(RegistryError::InvalidName {
                name: group.to_owned(),
            });
        }
        let target = self.local_target(address)?;
        let holder = address.mailbox_ref();
        let key = (Arc::<str>::from(group), holder.id());
        let mut st = self.inner.groups.lock();
        if st.own.contains_key(&key) {
            return Ok(());
        }
        let weak = Arc::downgrade(&self.inner);
        let (g, id) = (group.to_owned(), holder.id());
        let hook = HookHandle::attach(self.inner.next_monitor(), &target, move |_| {
            leave_own(&weak, &g, id);
        })
        .ok_or_else(|| RegistryError::Closed {
            address: holder.clone(),
        })?;
        st.own.insert(key, hook);
        st.members.entry(group.into()).or_default().push(Member {
            holder: holder.clone(),
            tag: M::TAG.into(),
            via: 0,
        });
        st.publish(group);
        drop(st);
        if let Some(c) = self.cluster() {
            c.broadcast(&Frame::GroupJoin {
                group: Text::new(group),
                mailbox: holder.id().get(),
                tag: Text::new(M::TAG),
            });
        }
        Ok(())
    }

    /// Removes `address` from `group`. Returns false if it was not a member through this node.
    pub fn leave<M: Send + 'static>(&self, group: &str, address: &Address<M>) -> bool {
        address.node_id() == self.id()
            && leave_own(&Arc::downgrade(&self.inner), group, address.id())
    }

    /// The members of `group` that take messages of type `M`, as this node knows them
    /// (members of other types are left out), sorted by identity.
    pub fn members<M: Message>(&self, group: &str) -> Vec<Address<M>> {
        let refs: Vec<MailboxRef> = {
            let st = self.inner.groups.lock();
            st.members
                .get(group)
                .map(|l| {
                    l.iter()
                        .filter(|m| &*m.tag == M::TAG)
                        .map(|m| m.holder.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut v: Vec<Address<M>> =
            self.with_decode_scope(|| refs.into_iter().map(Address::resolve).collect());
        v.sort();
        v.dedup();
        v
    }

    /// Every member of `group` whatever its type, sorted.
    pub fn member_refs(&self, group: &str) -> Vec<MailboxRef> {
        self.inner.groups.lock().refs(group)
    }

    /// Follows the members of `group` as this node sees them.
    pub fn watch_group(&self, group: &str) -> GroupWatch {
        let mut st = self.inner.groups.lock();
        let now = st.refs(group);
        let tx = st
            .watches
            .entry(group.into())
            .or_insert_with(|| watch::channel(now).0);
        GroupWatch { rx: tx.subscribe() }
    }

    /// The groups with at least one member, sorted.
    pub fn groups(&self) -> Vec<String> {
        let st = self.inner.groups.lock();
        let mut v: Vec<String> = st.members.keys().map(|g| g.to_string()).collect();
        v.sort();
        v
    }
}
