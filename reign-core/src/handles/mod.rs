//! The handles a [`Node`] hands out for its names and groups: the public face of the
//! tables the node keeps, each handle's methods in one file. Nothing below depends on the
//! handles: the tables ([`crate::global`], the node's registry) know nothing of hooks, of
//! addresses or of the cluster; the handles attach the hooks and send the frames.

mod global;
mod groups;
mod names;

pub use global::GlobalNames;
pub use groups::Groups;
pub use names::Names;

use crate::{MailboxRef, Node};

impl Node {
    /// The live mailbox of this node that `address` names, for attaching a hook to it.
    pub(crate) fn local_target<M: Send + 'static>(
        &self,
        address: &crate::Address<M>,
    ) -> Result<std::sync::Arc<dyn crate::inbox::AnyInbox>, crate::RegistryError> {
        match &address.route {
            crate::address::Route::Local(s) if std::sync::Arc::ptr_eq(&s.node, &self.inner) => {
                Ok(s.clone())
            }
            _ => Err(crate::RegistryError::NotLocal {
                address: address.mailbox_ref(),
            }),
        }
    }
}

/// Applies to `node`'s copies of the names and groups what the control plane of link `via`
/// with `peer` (the peer's life, mailbox 0) handed back about them: the one place that does
/// it, for the cluster's driver and the socket-free harness alike. Any other output is
/// handed back.
pub(crate) fn apply_from_link<H>(
    node: &crate::Node,
    via: u64,
    peer: &MailboxRef,
    o: crate::proto::link::Output<H>,
) -> Option<crate::proto::link::Output<H>> {
    use crate::proto::link::Output;
    let inner = &node.inner;
    match o {
        Output::NameAdd { name, mailbox, tag } => {
            let holder = peer.with_id(crate::MailboxId(mailbox));
            if let Some(frame) = inner
                .names
                .peer_add(node.id(), via, holder, name, tag.as_str())
            {
                node.broadcast(&frame);
            }
        }
        Output::NameRemove { name, mailbox } => {
            inner.names.peer_remove(peer.node(), name.as_str(), mailbox);
        }
        Output::GroupJoin {
            group,
            mailbox,
            tag,
        } => {
            inner
                .groups
                .peer_join(peer, via, group, mailbox, tag.as_str());
        }
        Output::GroupLeave { group, mailbox } => {
            inner.groups.peer_leave(peer, group.as_str(), mailbox);
        }
        Output::Forget { names, memberships } => {
            inner.names.link_down(via, &names);
            inner.groups.link_down(peer, via, &memberships);
        }
        other => return Some(other),
    }
    None
}
