//! What a node does with each frame a peer sends. Every frame is attributed to the link's
//! peer, whose identity its certificate proved; nothing in a frame can name another sender.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::events::LinkDownReason;
use super::link::{FrameHandler, Link};
use super::{Mesh, bump};
use crate::RemoteDeliveryError;
use crate::proto::wire::Frame;
use reign_tls::ratelimit::{Escaped, EscapedBytes};

impl FrameHandler for Mesh {
    fn handle_sends(
        &self,
        link: &Link,
        cache: &mut crate::node::DeliveryCache,
        target: u64,
        target_incarnation: u64,
        tag: &[u8],
        payloads: &[&[u8]],
    ) -> bool {
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
            .deliver_run(cache, target, target_incarnation, tag, payloads)
        {
            Ok(o) => {
                add(&c.messages_delivered, o.delivered);
                add(&c.refused_other, o.undecodable);
                add(&c.refused_full, o.full);
                add(&c.refused_no_mailbox, o.closed);
                if o.undecodable + o.full + o.closed > 0 {
                    reign_tls::warn_limited!(node = %self.node.id(), from = %peer, mailbox = target, undecodable = o.undecodable, full = o.full, closed = o.closed, decode_error = ?o.decode_error, "remote messages refused");
                }
                o.full > 0
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
                matches!(e, RemoteDeliveryError::Full)
            }
        }
    }

    fn warm(&self, targets: &[u64]) {
        self.node.inner.warm_mailboxes(targets);
    }

    fn handle(&self, link: &Arc<Link>, frame: Frame) -> Result<(), LinkDownReason> {
        match frame {
            // SEND frames normally take the reader's in-place path; this one came decoded.
            Frame::Send {
                target,
                target_incarnation,
                tag,
                payload,
            } => {
                self.handle_sends(
                    link,
                    &mut crate::node::DeliveryCache::from_peer(link.peer.clone()),
                    target,
                    target_incarnation,
                    tag.as_str().as_bytes(),
                    &[&payload],
                );
            }
            Frame::SendNamed { name, tag, payload } => {
                match self.node.inner.registry.holder(name.as_str()) {
                    Some(id) => {
                        self.handle_sends(
                            link,
                            &mut crate::node::DeliveryCache::from_peer(link.peer.clone()),
                            id.get(),
                            self.node.incarnation().get(),
                            tag.as_str().as_bytes(),
                            &[&payload],
                        );
                    }
                    None => {
                        reign_tls::warn_limited!(node = %self.node.id(), from = %link.peer, name = %Escaped(name.as_str()), "message for an unregistered name refused");
                        bump(&self.counters.refused_no_mailbox);
                    }
                }
            }
            frame @ (Frame::Advertise { .. } | Frame::Hint { .. }) => {
                if let Some(mesh) = self.node.mesh() {
                    mesh.registry_frame(link, frame);
                }
            }
            frame @ (Frame::RenewPrepare { .. }
            | Frame::RenewInstall { .. }
            | Frame::RenewReply { .. }) => {
                // The service spawns work that outlives this call; it needs the mesh itself,
                // which is gone only once the node is.
                if let Some(mesh) = self.node.mesh() {
                    mesh.renewal_frame(link, frame);
                }
            }
            // Everything else is the control plane's.
            frame => {
                let inner = &self.node.inner;
                let live = |id| inner.inbox(id).is_some();
                let (result, outs) = link.step(|s| s.handle_frame(frame, &live));
                self.carry_out(link, outs);
                return result;
            }
        }
        Ok(())
    }

    fn apply(&self, link: &Arc<Link>, outputs: super::link::Outputs) {
        self.carry_out(link, outputs);
    }
}
