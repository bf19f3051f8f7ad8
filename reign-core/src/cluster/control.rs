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
use crate::process::Signal;
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
                link,
            } => node.deliver_down(watcher, monitor, target, reason, link),
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
            Output::Unlinked { target, from } => {
                let from = link.peer_ref.with_id(MailboxId(from));
                node.inner.signal_id(target, Signal::Unlink(from));
            }
            Output::Exit {
                target,
                from,
                reason,
            } => {
                let from = link.peer_ref.with_id(MailboxId(from));
                node.inner.signal_id(target, Signal::LinkExit(from, reason));
            }
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
            Output::SendCertificateUpdate => self.send_certificate_update(link),
            Output::VerifyCertificateUpdate {
                scheme,
                signature,
                chain,
            } => self.verify_certificate_update(link, scheme, &signature, chain),
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
            let ((), outs) = link.step(|s| s.local_down(peer_monitor, token, &down.reason));
            // Only DOWN frames come of it.
            for o in outs {
                if let Output::Send(f) = o {
                    link.send_ordered(&f);
                }
            }
        })
    }

    /// Sends the peer this node's current chain and its proof (CERT_UPDATE), ahead of
    /// queued messages. Nothing over an in-memory pipe (no TLS session to bind it to).
    fn send_certificate_update(&self, link: &Arc<Link>) {
        let Some(peer) = link.tls_peer() else { return };
        let Some(update) = self.tls.certificate_update(&peer) else {
            tracing::warn!(node = %self.node.id(), peer = %link.peer, "this node's key offers no signature scheme peers verify; the peer keeps checking the old certificate");
            return;
        };
        link.send_urgent(&Frame::CertUpdate {
            scheme: update.scheme,
            signature: update.signature.into(),
            chain: update
                .chain
                .into_iter()
                .map(|c| bytes::Bytes::copy_from_slice(c.as_ref()))
                .collect(),
        });
        tracing::debug!(node = %self.node.id(), peer = %link.peer, "certificate update sent");
    }

    /// Checks the peer's certificate update as a handshake would; records it if it passes,
    /// ends the link (telling the peer why) if not.
    fn verify_certificate_update(
        &self,
        link: &Arc<Link>,
        scheme: u16,
        signature: &[u8],
        chain: Vec<bytes::Bytes>,
    ) {
        let Some(peer) = link.tls_peer() else {
            reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, "certificate update on a link without TLS: ignored");
            return;
        };
        let update = reign_tls::CertificateUpdate::new(
            chain.iter().map(|c| c.to_vec()),
            scheme,
            signature.to_vec(),
        );
        match self.tls.accept_certificate_update(&peer, &update) {
            Ok(updated) => {
                reign_tls::info_limited!(node = %self.node.id(), peer = %link.peer, serial = %updated.certificate.serial_hex, issuer = %updated.certificate.issuer, "the peer's certificate was updated on the live link");
                let valid_until = updated.valid_until;
                let certificate = updated.certificate.clone();
                link.set_tls_peer(updated);
                self.emit(super::NodeEvent::PeerCertificateUpdated {
                    node: link.peer.clone(),
                    certificate,
                });
                let ((), outs) = link.step(|s| s.set_valid_until(valid_until));
                self.carry_out(link, outs);
            }
            Err(refusal) => {
                reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, reason = %refusal, "closing link: the peer's certificate update is refused");
                link.end(crate::LinkDownReason::CertificateUpdateRefused(refusal));
            }
        }
    }
}
