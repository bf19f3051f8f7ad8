//! [`GlobalNames`]: the handle to the cluster-wide names as a node knows them.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::global::names::{Claim, Own, name_add};
use crate::hook::HookHandle;
use crate::ids::MAX_NAME_LEN;
use crate::node::NodeInner;
use crate::proto::wire::{Frame, Text};
use crate::{
    Address, LookupError, MailboxId, MailboxRef, Message, NameConflict, NameWatch, Node,
    RegistryError,
};

/// Removes our claim of `name` if `mailbox` still holds it, and tells the peers.
fn drop_own(inner: &Weak<NodeInner>, name: &str, mailbox: MailboxId) {
    let Some(inner) = inner.upgrade() else { return };
    let node = Node { inner };
    let removed = {
        let mut st = node.inner.names.lock();
        let me = node.id().clone();
        let held =
            st.remove_claims(name, |c| c.holder.node() == &me && c.holder.id() == mailbox) > 0;
        if held {
            let own = st.own.remove(name);
            st.publish(name);
            own
        } else {
            None
        }
    };
    if let Some(own) = removed {
        own.hook.detach();
        tracing::debug!(node = %node.id(), name, "cluster-wide name released");
        node.broadcast(&Frame::NameRemove {
            name: Text::new(name),
            mailbox: mailbox.get(),
        });
    }
}

/// The cluster-wide names as this node knows them (Erlang's `global`): made by
/// [`Node::global`]. Every node keeps its own copy, so lookups never wait on the network.
#[derive(Clone, Copy)]
pub struct GlobalNames<'a> {
    node: &'a Node,
}

impl std::fmt::Debug for GlobalNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalNames")
            .field("node", self.node.id())
            .finish()
    }
}

impl Node {
    /// The cluster-wide names: register a mailbox for every node to find, look names up,
    /// follow them.
    pub fn global(&self) -> GlobalNames<'_> {
        GlobalNames { node: self }
    }
}

impl GlobalNames<'_> {
    /// Registers `name` cluster-wide for `address`, a live mailbox of this node: every node
    /// of the cluster resolves it (with [`GlobalNames::whereis`]) from its own copy.
    ///
    /// Fails with [`RegistryError::NameTaken`] if any reachable node (this one included)
    /// holds the name. The name vanishes everywhere when the mailbox ends, or with
    /// [`GlobalNames::unregister`]; from other nodes, also while this node is unreachable.
    /// If a partition hid another claim, the conflict rule of the [module docs](crate::NameConflict)
    /// decides, and a losing mailbox receives [`NameConflict`].
    ///
    /// ```
    /// use reign_core::{NameConflict, Node};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Serialize, Deserialize)]
    /// enum Msg { Hello, Conflict(NameConflict) }
    /// impl From<NameConflict> for Msg {
    ///     fn from(c: NameConflict) -> Self { Msg::Conflict(c) }
    /// }
    /// reign_core::message!(Msg = "doc.Msg");
    ///
    /// let node = Node::new("a".parse().unwrap());
    /// let (_inbox, addr) = node.mailbox::<Msg>();
    /// node.global().register("service", &addr).unwrap();
    /// assert_eq!(node.global().whereis::<Msg>("service").unwrap(), addr);
    /// ```
    pub fn register<M: Message + From<NameConflict>>(
        &self,
        name: &str,
        address: &Address<M>,
    ) -> Result<(), RegistryError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(RegistryError::InvalidName {
                name: name.to_owned(),
            });
        }
        let target = self.node.local_target(address)?;
        let holder = address.mailbox_ref();
        let name_arc: Arc<str> = name.into();
        let mut st = self.node.inner.names.lock();
        if let Some(w) = st.winner(name) {
            if w.holder == holder {
                return Ok(());
            }
            return Err(RegistryError::NameTaken {
                name: name.to_owned(),
                holder: w.holder.clone(),
            });
        }
        let weak = Arc::downgrade(&self.node.inner);
        let (hook_name, id) = (name.to_owned(), holder.id());
        let hook = HookHandle::attach(self.node.inner.next_monitor(), &target, move |_| {
            drop_own(&weak, &hook_name, id)
        })
        .ok_or_else(|| RegistryError::Closed {
            address: holder.clone(),
        })?;
        let notify_addr = address.clone();
        let notify = Box::new(move |c: NameConflict| {
            if let Err(e) = notify_addr.try_send(M::from(c)) {
                tracing::warn!(mailbox = %notify_addr, reason = %e.reason(), "could not tell a mailbox it lost its name");
            }
        });
        let claim = Claim {
            holder: holder.clone(),
            tag: M::TAG.into(),
            via: 0,
        };
        let frame = name_add(name, &claim);
        st.claims.entry(name_arc.clone()).or_default().push(claim);
        st.own.insert(
            name_arc,
            Own {
                hook: Box::new(hook),
                notify,
            },
        );
        st.publish(name);
        drop(st);
        tracing::debug!(node = %self.node.id(), name, %holder, "cluster-wide name registered");
        self.node.broadcast(&frame);
        Ok(())
    }

    /// Removes this node's cluster-wide registration of `name`. Returns the mailbox that held
    /// it, or `None` if this node did not hold it.
    pub fn unregister(&self, name: &str) -> Option<MailboxRef> {
        let holder = {
            let st = self.node.inner.names.lock();
            st.claims
                .get(name)?
                .iter()
                .find(|c| c.holder.node() == self.node.id())?
                .holder
                .clone()
        };
        drop_own(&Arc::downgrade(&self.node.inner), name, holder.id());
        Some(holder)
    }

    /// Resolves a cluster-wide name from this node's own copy (no network round trip).
    /// Typed: a name whose mailbox takes another message type is [`LookupError::WrongType`].
    pub fn whereis<M: Message>(&self, name: &str) -> Result<Address<M>, LookupError> {
        let (holder, tag) = {
            let st = self.node.inner.names.lock();
            let w = st.winner(name).ok_or_else(|| LookupError::NotFound {
                name: name.to_owned(),
            })?;
            (w.holder.clone(), w.tag.clone())
        };
        if &*tag != M::TAG {
            return Err(LookupError::WrongType {
                name: name.to_owned(),
                expected: M::TAG,
                actual: tag.to_string(),
            });
        }
        Ok(self.node.with_decode_scope(|| Address::resolve(holder)))
    }

    /// Waits until `name` resolves cluster-wide (at once if it does), up to `timeout`.
    pub async fn wait_for<M: Message>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Address<M>, LookupError> {
        let mut watch = self.watch(name);
        let found = tokio::time::timeout(timeout, async {
            while watch.current().is_none() {
                if watch.changed().await.is_none() {
                    break;
                }
            }
        })
        .await;
        match found {
            Ok(()) => self.whereis(name),
            Err(_) => Err(LookupError::NotRegisteredInTime {
                name: name.to_owned(),
                timeout,
            }),
        }
    }

    /// Follows cluster-wide name `name`: registered, moved, gone.
    pub fn watch(&self, name: &str) -> NameWatch {
        let mut st = self.node.inner.names.lock();
        let current = st.winner(name).map(|c| c.holder.clone());
        let tx = st
            .watches
            .entry(name.into())
            .or_insert_with(|| watch::channel(current).0);
        NameWatch::new(tx.subscribe())
    }

    /// Every cluster-wide name this node knows, sorted, with the mailbox it resolves to.
    pub fn list(&self) -> Vec<(String, MailboxRef)> {
        let st = self.node.inner.names.lock();
        let mut v: Vec<_> = st
            .claims
            .keys()
            .filter_map(|n| st.winner(n).map(|w| (n.to_string(), w.holder.clone())))
            .collect();
        v.sort();
        v
    }
}
