//! What a node does with each frame a peer sends. Every frame is attributed to the link's
//! peer, whose identity its certificate proved; nothing in a frame can name another sender.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reign_tls::Incarnation;

use super::events::{LinkDownReason, ProtocolViolation};
use super::link::{FrameHandler, Link};
use super::watch::{Incoming, down_frame, down_reason};
use super::{Cluster, bump};
use crate::wire::{Frame, Text};
use crate::{DownReason, MailboxId, MailboxRef, MonitorId, RemoteDeliveryError};
use reign_tls::ratelimit::{Escaped, EscapedBytes};

impl FrameHandler for Cluster {
    fn handle_sends(
        &self,
        link: &Link,
        cache: &mut Option<crate::node::DeliveryCache>,
        target: u64,
        target_incarnation: u64,
        tag: &[u8],
        payloads: &[&[u8]],
    ) {
        let peer = &link.peer;
        let c = &self.counters;
        let add = |a: &AtomicU64, n: usize| {
            if n > 0 {
                a.fetch_add(n as u64, Ordering::Relaxed);
            }
        };
        // One log line per run, however many messages it refused.
        match self
            .node
            .deliver_run(Some(peer), cache, target, target_incarnation, tag, payloads)
        {
            Ok(o) => {
                add(&c.messages_delivered, o.delivered);
                add(&c.refused_other, o.undecodable);
                add(&c.refused_full, o.full);
                add(&c.refused_no_mailbox, o.closed);
                if o.undecodable + o.full + o.closed > 0 {
                    reign_tls::warn_limited!(node = %self.node.id(), from = %peer, mailbox = target, undecodable = o.undecodable, full = o.full, closed = o.closed, decode_error = ?o.decode_error, "remote messages refused");
                }
            }
            Err(e) => {
                reign_tls::warn_limited!(node = %self.node.id(), from = %peer, mailbox = target, incarnation = target_incarnation, tag = %EscapedBytes(tag), count = payloads.len(), error = %e, "remote messages refused");
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
                link,
                &mut None,
                target,
                target_incarnation,
                tag.as_str().as_bytes(),
                &[&payload],
            ),
            Frame::SendNamed { name, tag, payload } => {
                match self.node.inner.registry.holder(name.as_str()) {
                    Some(id) => self.handle_sends(
                        link,
                        &mut None,
                        id.get(),
                        self.node.incarnation().get(),
                        tag.as_str().as_bytes(),
                        &[&payload],
                    ),
                    None => {
                        reign_tls::warn_limited!(node = %self.node.id(), from = %link.peer, name = %Escaped(name.as_str()), "message for an unregistered name refused");
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
                let cap = self.config.tunables.max_monitors_per_link;
                let outcome = match live {
                    Some(inbox) => {
                        let local = self.node.inner.next_monitor();
                        link.monitors
                            .add_incoming(link, local, monitor, watcher, inbox, cap)
                    }
                    None => Incoming::Gone,
                };
                if outcome == Incoming::OverCap {
                    return Err(over_cap(link, Cap::Monitors, cap));
                }
                if outcome == Incoming::Gone {
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
                        reign_tls::warn_limited!(from = %link.peer, %monitor, "DOWN does not match its monitor; ignored");
                        link.monitors
                            .add_outgoing(monitor, expected_watcher, target_ref);
                    }
                } else {
                    // Usual after a demonitor crossed the DOWN; otherwise a confused peer.
                    reign_tls::debug_limited!(from = %link.peer, %monitor, "DOWN for no active monitor; ignored");
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
                registered_at: _,
            } => {
                let repeat = self.node.inner.names.held_by(link.id, name.as_str());
                self.announce_room(link, repeat)?;
                let added = self.node.inner.names.peer_add(
                    &self.node,
                    link,
                    name.as_str(),
                    mailbox,
                    tag.as_str(),
                );
                link.announced
                    .fetch_add(usize::from(added), Ordering::Relaxed);
            }
            Frame::NameRemove { name, mailbox } => {
                let gone =
                    self.node
                        .inner
                        .names
                        .peer_remove(&link.peer, link.id, name.as_str(), mailbox);
                withdrawn(link, gone);
            }
            Frame::GroupJoin {
                group,
                mailbox,
                tag,
            } => {
                let repeat = self.node.inner.groups.held_by(
                    &link.peer_ref,
                    link.id,
                    group.as_str(),
                    mailbox,
                );
                self.announce_room(link, repeat)?;
                let added = self.node.inner.groups.peer_join(
                    &link.peer_ref,
                    link.id,
                    group.as_str(),
                    mailbox,
                    tag.as_str(),
                );
                link.announced
                    .fetch_add(usize::from(added), Ordering::Relaxed);
            }
            Frame::GroupLeave { group, mailbox } => {
                let gone = self.node.inner.groups.peer_leave(
                    &link.peer_ref,
                    link.id,
                    group.as_str(),
                    mailbox,
                );
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
                    reign_tls::debug_limited!(from = %link.peer, request, "LOOKUP_REPLY for no pending lookup; ignored");
                }
            }
        }
        Ok(())
    }
}

impl Cluster {
    /// Refuses one more name or membership from a peer already holding
    /// `max_announced_per_link` of them: the link ends. A `repeat` of one it holds over this
    /// link is not one more. Checked before the frame takes effect, so the frame past the cap
    /// changes nothing (it cannot win a name conflict on its way out).
    fn announce_room(&self, link: &Link, repeat: bool) -> Result<(), LinkDownReason> {
        let cap = self.config.tunables.max_announced_per_link;
        if repeat || link.announced.load(Ordering::Relaxed) < cap {
            return Ok(());
        }
        Err(over_cap(link, Cap::Announced, cap))
    }
}

/// Which per-link cap a peer went past.
#[derive(Debug, Clone, Copy)]
enum Cap {
    Monitors,
    Announced,
}

/// The reason a link ends when its peer goes past a per-link cap (logged on a budget).
fn over_cap(link: &Link, cap: Cap, max: usize) -> LinkDownReason {
    let violation = match cap {
        Cap::Monitors => ProtocolViolation::TooManyMonitors { max },
        Cap::Announced => ProtocolViolation::TooManyAnnounced { max },
    };
    reign_tls::warn_limited!(peer = %link.peer, %violation, "closing link: the peer went past a per-link cap");
    LinkDownReason::ProtocolError(violation)
}

/// `gone` of the peer's names or memberships were withdrawn. Saturating: an entry that came
/// over the peer's previous link was not counted on this one.
fn withdrawn(link: &Link, gone: usize) {
    let held = link.announced.load(Ordering::Relaxed);
    link.announced
        .store(held.saturating_sub(gone), Ordering::Relaxed);
}
