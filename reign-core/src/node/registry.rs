//! The node's name registry: the table of unique names for local mailboxes. Its public
//! face is [`Names`](crate::Names).

use std::any::TypeId;
use std::sync::Weak;

use dashmap::DashMap;

use crate::MailboxId;
use crate::inbox::AnyInbox;

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) names: DashMap<Box<str>, Entry>,
}

pub(crate) struct Entry {
    pub(crate) id: MailboxId,
    pub(crate) inbox: Weak<dyn AnyInbox>,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
}

impl Registry {
    /// The mailbox holding `name`, if it is live.
    pub(crate) fn holder(&self, name: &str) -> Option<MailboxId> {
        let e = self.names.get(name)?;
        e.inbox.upgrade().map(|_| e.id)
    }

    /// The mailbox holding `name` and its type tag, if it is live and takes messages from
    /// other nodes.
    pub(crate) fn holder_with_tag(&self, name: &str) -> Option<(MailboxId, &'static str)> {
        let e = self.names.get(name)?;
        let tag = e.inbox.upgrade()?.remote()?.tag;
        Some((e.id, tag))
    }

    /// Removes `name` if `id` still holds it (called when `id` ends).
    pub(crate) fn remove_if_holder(&self, name: &str, id: MailboxId) {
        if self.names.remove_if(name, |_, e| e.id == id).is_some() {
            tracing::debug!(name, mailbox = %id, "name released: mailbox ended");
        }
    }
}
