//! [`Groups`]: the handle to the process groups as a node knows them.

use std::sync::{Arc, Weak};

use tokio::sync::watch;

use crate::global::groups::Member;
use crate::hook::HookHandle;
use crate::ids::MAX_NAME_LEN;
use crate::node::NodeInner;
use crate::proto::wire::{Frame, Text};
use crate::{Address, GroupWatch, MailboxId, MailboxRef, Message, Node, RegistryError};

fn leave_own(inner: &Weak<NodeInner>, group: &str, mailbox: MailboxId) -> bool {
    let Some(inner) = inner.upgrade() else {
        return false;
    };
    let node = Node { inner };
    let hook = {
        let mut st = node.inner.groups.lock();
        let hook = st.own.remove(&(Arc::from(group), mailbox));
        if hook.is_some() {
            let holder = MailboxRef::new(node.id().clone(), node.incarnation(), mailbox);
            st.remove(group, &holder);
            st.publish(group);
        }
        hook
    };
    let Some(hook) = hook else { return false };
    hook.detach();
    node.broadcast(&Frame::GroupLeave {
        group: Text::new(group),
        mailbox: mailbox.get(),
    });
    true
}

/// Process groups as this node knows them (Erlang's `pg`): made by [`Node::groups`].
/// Every node keeps its own copy of every group's members.
#[derive(Clone, Copy)]
pub struct Groups<'a> {
    node: &'a Node,
}

impl std::fmt::Debug for Groups<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups")
            .field("node", self.node.id())
            .finish()
    }
}

impl Node {
    /// The process groups: join and leave them, list their members, follow them.
    pub fn groups(&self) -> Groups<'_> {
        Groups { node: self }
    }
}

impl Groups<'_> {
    /// Adds `address`, a live mailbox of this node, to process group `group` (1 to 255
    /// bytes), cluster-wide. A mailbox can be in any number of groups; joining twice is one
    /// membership. It leaves with [`Groups::leave`], or when it ends, or (as other nodes see
    /// it) when this node becomes unreachable. See the module docs for the guarantees.
    ///
    /// ```
    /// use reign_core::Node;
    /// let node = Node::new("a".parse().unwrap());
    /// let (_inbox, addr) = node.mailbox::<String>();
    /// node.groups().join("room", &addr).unwrap();
    /// assert_eq!(node.groups().members::<String>("room"), vec![addr.clone()]);
    /// assert!(node.groups().leave("room", &addr));
    /// assert!(node.groups().members::<String>("room").is_empty());
    /// ```
    pub fn join<M: Message>(&self, group: &str, address: &Address<M>) -> Result<(), RegistryError> {
        if group.is_empty() || group.len() > MAX_NAME_LEN {
            return Err(RegistryError::InvalidName {
                name: group.to_owned(),
            });
        }
        let target = self.node.local_target(address)?;
        let holder = address.mailbox_ref();
        let key = (Arc::<str>::from(group), holder.id());
        let mut st = self.node.inner.groups.lock();
        if st.own.contains_key(&key) {
            return Ok(());
        }
        let weak = Arc::downgrade(&self.node.inner);
        let (g, id) = (group.to_owned(), holder.id());
        let hook = HookHandle::attach(self.node.inner.next_monitor(), &target, move |_| {
            leave_own(&weak, &g, id);
        })
        .ok_or_else(|| RegistryError::Closed {
            address: holder.clone(),
        })?;
        st.own.insert(key.clone(), Box::new(hook));
        st.insert(
            key.0,
            holder.clone(),
            Member {
                tag: M::TAG.into(),
                via: 0,
            },
        );
        st.publish(group);
        drop(st);
        self.node.broadcast(&Frame::GroupJoin {
            group: Text::new(group),
            mailbox: holder.id().get(),
            tag: Text::new(M::TAG),
        });
        Ok(())
    }

    /// Removes `address` from `group`. Returns false if it was not a member through this node.
    pub fn leave<M: Send + 'static>(&self, group: &str, address: &Address<M>) -> bool {
        address.node_id() == self.node.id()
            && leave_own(&Arc::downgrade(&self.node.inner), group, address.id())
    }

    /// The members of `group` that take messages of type `M`, as this node knows them
    /// (members of other types are left out), sorted by identity.
    pub fn members<M: Message>(&self, group: &str) -> Vec<Address<M>> {
        let refs: Vec<MailboxRef> = {
            let st = self.node.inner.groups.lock();
            st.members
                .get(group)
                .map(|l| {
                    l.iter()
                        .filter(|(_, m)| &*m.tag == M::TAG)
                        .map(|(holder, _)| holder.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        // In identity order already, as the map keeps them.
        self.node
            .with_decode_scope(|| refs.into_iter().map(Address::resolve).collect())
    }

    /// Every member of `group` whatever its type, sorted.
    pub fn member_refs(&self, group: &str) -> Vec<MailboxRef> {
        self.node.inner.groups.lock().refs(group)
    }

    /// Follows the members of `group` as this node sees them.
    pub fn watch(&self, group: &str) -> GroupWatch {
        let mut st = self.node.inner.groups.lock();
        let key = st.key(group);
        let tx = st
            .watches
            .entry(key.clone())
            .or_insert_with(|| watch::channel(0).0);
        let rx = tx.subscribe();
        let last = st.refs(group);
        GroupWatch {
            rx,
            table: Arc::downgrade(&self.node.inner.groups),
            group: key,
            last,
        }
    }

    /// The groups with at least one member, sorted.
    pub fn list(&self) -> Vec<String> {
        let st = self.node.inner.groups.lock();
        let mut v: Vec<String> = st.members.keys().map(|g| g.to_string()).collect();
        v.sort();
        v
    }
}
