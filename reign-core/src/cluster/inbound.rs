//! What a node does with each frame a peer sends. Every frame is attributed to the link's
//! peer, whose identity its certificate proved; nothing in a frame can name another sender.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reign_tls::Incarnation;

use super::events::LinkDownReason;
use super::link::{FrameHandler, Link};
use super::watch::{down_frame, down_reason};
use super::{Cluster, bump};
use crate::wire::{Frame, Text};
use crate::{DownReason, MailboxId, MailboxRef, MonitorId, RemoteDeliveryError};

impl FrameHandler for Cluster {
    fn handle_sends(
        &self,
        cache: &mut Option<crate::node::DeliveryCache>,
        target: u64,
        target_incarnation: u64,
        tag: &[u8],
        payloads: &[&[u8]],
    ) {
        let c = &self.counters;
        let add = |a: &AtomicU64, n: usize| {
            if n > 0 {
                a.fetch_add(n as u64, Ordering::Relaxed);
            }
        };
        // One log line per run, however many messages it refused.
        match self
            .node
            .deliver_run(cache, target, target_incarnation, tag, payloads)
        {
            Ok(o) => {
                add(&c.messages_delivered, o.delivered);
                add(&c.refused_other, o.undecodable);
                add(&c.refused_full, o.full);
                add(&c.refused_no_mailbox, o.closed);
                if o.undecodable + o.full + o.closed > 0 {
                    tracing::warn!(node = %self.node.id(), mailbox = target, undecodable = o.undecodable, full = o.full, closed = o.closed, decode_error = ?o.decode_error, "remote messages refused");
                }
            }
            Err(e) => {
                tracing::warn!(node = %self.node.id(), mailbox = target, incarnation = target_incarnation, tag = %String::from_utf8_lossy(tag), count = payloads.len(), error = %e, "remote messages refused");
                let counter = match e {
                    RemoteDeliveryError::TagMismatch { .. } => &c.refused_tag_mismatch,
                    RemoteDeliveryError::NoSuchMailbox => &c.refused_no_mailbox,
                    RemoteDeliveryError::Full => &c.refused_full,
                    _ => &c.refused_other,
                };
                add(counter, payloads.len());
            }
        }
    }

    fn handle(&self, link: &Arc<Link>, frame: Frame) -> Result<(), LinkDownReason> {
        match frame {
            // SEND frames normally take the reader's in-place path; this one came decoded.
            Frame::Send {
                target,
                target_incarnation,
                tag,
                payload,
            } => self.handle_sends(
                &mut None,
                target,
                target_incarnation,
                tag.as_str().as_bytes(),
                &[&payload],
            ),
            Frame::SendNamed { name, tag, payload } => {
                match self.node.inner.registry.holder(name.as_str()) {
                    Some(id) => self.handle_sends(
                        &mut None,
                        id.get(),
                        self.node.incarnation().get(),
                        tag.as_str().as_bytes(),
                        &[&payload],
                    ),
                    None => {
                        tracing::warn!(node = %self.node.id(), from = %link.peer, name = name.as_str(), "message for an unregistered name refused");
                        bump(&self.counters.refused_no_mailbox);
                    }
                }
            }
            Frame::Monitor {
                monitor,
                watcher,
                target,
                target_incarnation,
            } => {
                let target_ref = MailboxRef::new(
                    self.node.id().clone(),
                    Incarnation(target_incarnation),
                    MailboxId(target),
                );
                let live = (target_incarnation == self.node.incarnation().get())
                    .then(|| self.node.inner.inbox(MailboxId(target)))
                    .flatten();
                let added = live.is_some_and(|inbox| {
                    let local = self.node.inner.next_monitor();
                    link.monitors
                        .add_incoming(link, local, monitor, watcher, inbox)
                });
                if !added {
                    link.send_ordered(&down_frame(
                        monitor,
                        watcher,
                        &target_ref,
                        &DownReason::NoSuchMailbox,
                    ));
                }
            }
            Frame::Demonitor { monitor } => link.monitors.remove_incoming(monitor),
            Frame::Down {
                monitor,
                watcher,
                target,
                target_incarnation,
                reason,
                text,
            } => {
                // Only for monitors this node asked this peer for: a peer cannot make up
                // `Down`s for other mailboxes or other nodes.
                let monitor = MonitorId(monitor);
                if let Some((expected_watcher, target_ref)) = link.monitors.remove_outgoing(monitor)
                {
                    if expected_watcher.get() == watcher
                        && target_ref.id().get() == target
                        && target_ref.incarnation().get() == target_incarnation
                    {
                        self.node.deliver_down(
                            expected_watcher,
                            monitor,
                            target_ref,
                            down_reason(reason, text.as_str()),
                        );
                    } else {
                        tracing::warn!(from = %link.peer, %monitor, "DOWN does not match its monitor; ignored");
                        link.monitors
                            .add_outgoing(monitor, expected_watcher, target_ref);
                    }
                } else {
                    // Usual after a demonitor crossed the DOWN; otherwise a confused peer.
                    tracing::debug!(from = %link.peer, %monitor, "DOWN for no active monitor; ignored");
                }
            }
            Frame::Heartbeat { .. } => {}
            Frame::Goodbye { .. } => return Err(LinkDownReason::PeerShutDown),
            Frame::Lookup { request, name } => {
                let found = self
                    .node
                    .inner
                    .registry
                    .holder_with_tag(name.as_str())
                    .map(|(id, tag)| (id.get(), Text::new(tag)));
                link.send_ordered(&Frame::LookupReply { request, found });
            }
            Frame::NameAdd {
                name,
                mailbox,
                tag,
                registered_at,
            } => {
                announce_room(link)?;
                let added = self.node.inner.names.peer_add(
                    &self.node,
                    link,
                    name.as_str(),
                    mailbox,
                    tag.as_str(),
                    registered_at,
                );
                link.announced
                    .fetch_add(usize::from(added), Ordering::Relaxed);
            }
            Frame::NameRemove { name, mailbox } => {
                let gone = self
                    .node
                    .inner
                    .names
                    .peer_remove(&link.peer, name.as_str(), mailbox);
                withdrawn(link, gone);
            }
            Frame::GroupJoin {
                group,
                mailbox,
                tag,
            } => {
                announce_room(link)?;
                self.node.inner.groups.peer_join(
                    &link.peer,
                    link.peer_incarnation,
                    link.id,
                    group.as_str(),
                    mailbox,
                    tag.as_str(),
                );
                link.announced.fetch_add(1, Ordering::Relaxed);
            }
            Frame::GroupLeave { group, mailbox } => {
                let gone = self
                    .node
                    .inner
                    .groups
                    .peer_leave(&link.peer, group.as_str(), mailbox);
                withdrawn(link, gone);
            }
            Frame::Synced => self.synced(link),
            Frame::LookupReply { request, found } => {
                if let Some((_, (node, reply))) = self
                    .lookups
                    .remove_if(&request, |_, (node, _)| *node == link.peer)
                {
                    debug_assert_eq!(node, link.peer);
                    let _ = reply.send(found.map(|(id, tag)| (id, tag.as_str().to_owned())));
                } else {
                    // Usual after the lookup timed out; otherwise a confused peer.
                    tracing::debug!(from = %link.peer, request, "LOOKUP_REPLY for no pending lookup; ignored");
                }
            }
        }
        Ok(())
    }
}

/// Refuses one more name or membership from a peer already holding
/// [`MAX_ANNOUNCED_PER_LINK`](crate::global::MAX_ANNOUNCED_PER_LINK) of them: the link ends.
fn announce_room(link: &Link) -> Result<(), LinkDownReason> {
    let held = link.announced.load(Ordering::Relaxed);
    if held < crate::global::MAX_ANNOUNCED_PER_LINK {
        return Ok(());
    }
    tracing::warn!(peer = %link.peer, held, "closing link: the peer announced too many names and group memberships");
    Err(LinkDownReason::ProtocolError(format!(
        "more than {} names and group memberships announced",
        crate::global::MAX_ANNOUNCED_PER_LINK
    )))
}

/// `gone` of the peer's names or memberships were withdrawn. Saturating: an entry that came
/// over the peer's previous link was not counted on this one.
fn withdrawn(link: &Link, gone: usize) {
    let held = link.announced.load(Ordering::Relaxed);
    link.announced
        .store(held.saturating_sub(gone), Ordering::Relaxed);
}
