//! [`Names`]: the handle to a node's registry of local names.

use std::any::TypeId;
use std::sync::{Arc, Weak};

use dashmap::mapref::entry::Entry as MapEntry;

use crate::address::{Address, Route};
use crate::ids::MAX_NAME_LEN;
use crate::inbox::{AnyInbox, Shared};
use crate::node::registry::Entry;
use crate::{LookupError, MailboxRef, Node, RegistryError};

/// This node's registry of local names (Erlang's `register`, `whereis`, `unregister`,
/// `registered`). Made by [`Node::names`]; names of other nodes are reached with
/// [`Cluster::whereis_on`](crate::Cluster::whereis_on), names for the whole cluster with
/// [`Node::global`].
#[derive(Clone, Copy)]
pub struct Names<'a> {
    node: &'a Node,
}

impl std::fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("node", self.node.id())
            .finish()
    }
}

impl Node {
    /// The node's local names: register a mailbox under a name, find it by name.
    pub fn names(&self) -> Names<'_> {
        Names { node: self }
    }
}

impl Names<'_> {
    /// Registers `name` for `address`, a live mailbox of this node.
    ///
    /// Names are unique on the node; registering the name a mailbox already holds again
    /// succeeds. A mailbox can hold several names. A name disappears when its mailbox ends,
    /// or with [`Names::unregister`].
    ///
    /// ```
    /// use reign_core::{LookupError, Node};
    ///
    /// let node = Node::new("a".parse().unwrap());
    /// let (inbox, addr) = node.mailbox::<u64>();
    /// node.names().register("counter", &addr).unwrap();
    ///
    /// assert_eq!(node.names().whereis::<u64>("counter").unwrap(), addr);
    /// assert!(matches!(node.names().whereis::<String>("counter"), Err(LookupError::WrongType { .. })));
    ///
    /// drop(inbox); // the name goes with its mailbox
    /// assert!(matches!(node.names().whereis::<u64>("counter"), Err(LookupError::NotFound { .. })));
    /// ```
    pub fn register<M: Send + 'static>(
        &self,
        name: impl Into<String>,
        address: &Address<M>,
    ) -> Result<(), RegistryError> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(RegistryError::InvalidName { name });
        }
        let shared = match &address.route {
            Route::Local(s) if Arc::ptr_eq(&s.node, &self.node.inner) => s.clone(),
            _ => {
                return Err(RegistryError::NotLocal {
                    address: address.mailbox_ref(),
                });
            }
        };
        match self
            .node
            .inner
            .registry
            .names
            .entry(name.clone().into_boxed_str())
        {
            MapEntry::Occupied(e) => {
                if e.get().id == shared.id {
                    return Ok(());
                }
                Err(RegistryError::NameTaken {
                    name,
                    holder: MailboxRef {
                        node: self.node.inner.key.clone(),
                        id: e.get().id,
                    },
                })
            }
            MapEntry::Vacant(e) => {
                // Recorded in the mailbox under its lock while the registry entry is held,
                // so a mailbox ending concurrently either refuses here or removes the name.
                if !shared.add_name(&name) {
                    return Err(RegistryError::Closed {
                        address: address.mailbox_ref(),
                    });
                }
                let inbox: Weak<dyn AnyInbox> = Arc::downgrade(&shared) as Weak<dyn AnyInbox>;
                e.insert(Entry {
                    id: shared.id,
                    inbox,
                    type_id: TypeId::of::<M>(),
                    type_name: std::any::type_name::<M>(),
                });
                tracing::debug!(node = %self.node.id(), name, mailbox = %shared.id, "name registered");
                Ok(())
            }
        }
    }

    /// The address registered as `name`, typed: asking for the wrong message type is
    /// [`LookupError::WrongType`], naming both types.
    pub fn whereis<M: Send + 'static>(&self, name: &str) -> Result<Address<M>, LookupError> {
        let not_found = || LookupError::NotFound {
            name: name.to_owned(),
        };
        let inbox = {
            let entry = self
                .node
                .inner
                .registry
                .names
                .get(name)
                .ok_or_else(not_found)?;
            if entry.type_id != TypeId::of::<M>() {
                return Err(LookupError::WrongType {
                    name: name.to_owned(),
                    expected: std::any::type_name::<M>(),
                    actual: entry.type_name.to_owned(),
                });
            }
            entry.inbox.upgrade()
        };
        let shared = inbox
            .and_then(|i| i.into_any().downcast::<Shared<M>>().ok())
            .ok_or_else(not_found)?;
        Ok(Address::local(shared))
    }

    /// Removes `name`; returns the mailbox that held it, if any.
    pub fn unregister(&self, name: &str) -> Option<MailboxRef> {
        let (_, entry) = self.node.inner.registry.names.remove(name)?;
        if let Some(inbox) = entry.inbox.upgrade() {
            inbox.remove_name(name);
        }
        tracing::debug!(node = %self.node.id(), name, mailbox = %entry.id, "name unregistered");
        Some(MailboxRef {
            node: self.node.inner.key.clone(),
            id: entry.id,
        })
    }

    /// The names registered on this node, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .node
            .inner
            .registry
            .names
            .iter()
            .map(|e| e.key().to_string())
            .collect();
        names.sort();
        names
    }
}
