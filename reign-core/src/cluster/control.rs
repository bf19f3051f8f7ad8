//! Carrying out what a link's control plane ([`crate::proto::link`]) hands back: frames onto
//! the link's queues, `Down`s into mailboxes, end hooks onto the mailboxes a peer monitors,
//! lookups answered, and the peer's names and groups into the node's copies.
//!
//! The control plane's lock is never held here ([`Link::step`] releases it before the
//! outputs are carried out), so an end hook or a watch may call back into it.

use std::sync::Arc;

use super::Mesh;
use super::link::{Link, Outputs};
use crate::hook::HookHandle;
use crate::proto::link::Output;
use crate::proto::wire::{Frame, Text};
use crate::{Down, MailboxId};

impl Mesh {
    /// Carries out `outputs` of `link`'s control plane, in order.
    pub(crate) fn carry_out(&self, link: &Arc<Link>, outputs: Outputs) {
        for o in outputs {
            self.carry_out_one(link, o);
        }
    }

    fn carry_out_one(&self, link: &Arc<Link>, o: Output<HookHandle>) {
        let node = &self.node;
        match o {
            Output::Send(f) => {
                link.send_ordered(&f);
            }
            Output::SendUrgent(f) => link.send_urgent(&f),
            Output::Up => self.synced(link),
            Output::Down {
                watcher,
                monitor,
                target,
                reason,
            } => node.deliver_down(watcher, monitor, target, reason),
            Output::Watch {
                peer_monitor,
                token,
                target,
            } => {
                let hook = self.watch(link, peer_monitor, token, target);
                let ((), outs) = link.step(|s| s.watched(peer_monitor, token, hook));
                self.carry_out(link, outs);
            }
            Output::Unwatch(hook) => hook.detach(),
            Output::Lookup { request, name } => {
                let found = node
                    .inner
                    .registry
                    .holder_with_tag(name.as_str())
                    .map(|(id, tag)| (id.get(), Text::new(tag)));
                link.send_ordered(&Frame::LookupReply { request, found });
            }
            Output::LookupAnswered { request, found } => {
                // Request numbers are the node's own and unique: the control plane of the
                // link asked answers only its own.
                if let Some((_, reply)) = self.lookups.remove(&request) {
                    let _ = reply.send(found);
                }
            }
            Output::LookupAbandoned { request } => {
                // Dropping the reply tells the waiter there is no connection.
                self.lookups.remove(&request);
            }
            // The peer's names and groups.
            other => {
                let rest = crate::handles::apply_from_link(node, link.id, &link.peer_ref, other);
                debug_assert!(rest.is_none(), "every output is carried out");
            }
        }
    }

    /// Attaches the end hook of the peer's monitor `peer_monitor` to local mailbox `target`
    /// (under a monitor ID of this node's, since the peer's IDs may collide with ours).
    /// `None` if the mailbox has ended.
    fn watch(
        &self,
        link: &Arc<Link>,
        peer_monitor: u64,
        token: u64,
        target: MailboxId,
    ) -> Option<HookHandle> {
        let inbox = self.node.inner.inbox(target)?;
        let local = self.node.inner.next_monitor();
        let weak = Arc::downgrade(link);
        HookHandle::attach(local, &inbox, move |down: &Down| {
            let Some(link) = weak.upgrade() else { return };
            let ((), outs) = link.step(|s| s.local_down(peer_monitor, token, down));
            // Only DOWN frames come of it.
            for o in outs {
                if let Output::Send(f) = o {
                    link.send_ordered(&f);
                }
            }
        })
    }
}
