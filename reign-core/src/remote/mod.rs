//! The hook the cluster fills in: how a node reaches mailboxes on other nodes.
//!
//! Without a router (a node running alone) a send to another node's mailbox fails with
//! [`SendErrorReason::NoConnection`] and a monitor of one fires at once with
//! [`DownReason::NoConnection`]. The other direction, how a mailbox takes decoded messages
//! from the wire, is its [`RemoteVTable`](crate::inbox::RemoteVTable), beside the mailbox.

use bytes::BytesMut;

use crate::{
    DownReason, MailboxRef, Message, MonitorId, NodeId, RemoteDeliveryError, SendErrorReason,
};

/// Carries messages and monitor requests to other nodes. Installed with
/// [`Node::set_remote_router`](crate::Node::set_remote_router).
pub(crate) trait RemoteRouter: Send + Sync + 'static {
    /// Sends one message toward `target` on another node: `write` appends its encoded bytes
    /// (of type `tag`) to the buffer it is given, so a link can encode straight into its
    /// outbound buffer. The receiving node hands it to
    /// [`Node::deliver_remote`](crate::Node::deliver_remote).
    fn route(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        write: &mut dyn FnMut(&mut BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<(), SendErrorReason>;

    /// Asks `target`'s node to report its end to `watcher` (a local mailbox) as monitor
    /// `monitor`; the answer comes back through
    /// [`Node::deliver_down`](crate::Node::deliver_down). An error fires the monitor at once
    /// with that reason.
    fn monitor(
        &self,
        watcher: &MailboxRef,
        monitor: MonitorId,
        target: &MailboxRef,
    ) -> Result<(), DownReason>;

    /// Cancels a monitor set up with [`RemoteRouter::monitor`].
    fn demonitor(&self, watcher: &MailboxRef, monitor: MonitorId, target: &MailboxRef);

    /// Links local server `watcher` with server `target` of another node: a monitor, as
    /// [`RemoteRouter::monitor`], that `target`'s node also records as a link (LINK). The
    /// default, for a router without links, fails it with `NoConnection`.
    fn link(
        &self,
        _watcher: &MailboxRef,
        _monitor: MonitorId,
        _target: &MailboxRef,
    ) -> Result<(), DownReason> {
        Err(DownReason::NoConnection)
    }

    /// Local server `from`, linked with `target` by its own [`RemoteRouter::link`], ended
    /// with `reason`: the exit signal (EXIT). Sent before the link's monitor is cancelled.
    fn exit(&self, _from: &MailboxRef, _target: &MailboxRef, _reason: &DownReason) {}

    /// Local server `from` removes the link `target` made with it (UNLINK).
    fn unlink(&self, _from: &MailboxRef, _target: &MailboxRef) {}

    /// The route to `node` itself, for a remote address to keep: resolved at an address's
    /// first send, so that later sends skip the router. It must stay valid for the router's
    /// whole life (a link going down or coming back included). `None`, the default, sends
    /// every message through [`RemoteRouter::route`], and `send` then never waits.
    fn peer(&self, _node: &NodeId) -> Option<std::sync::Arc<dyn PeerRoute>> {
        None
    }
}

/// One other node, as remote addresses reach it: see [`RemoteRouter::peer`].
pub(crate) trait PeerRoute: Send + Sync + 'static {
    /// As [`RemoteRouter::route`]. `Ok(true)` means the send completed a chunk of the link's
    /// outbound buffer: an awaitable send yields then, so that the link's writer gets to run.
    fn send(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        write: &mut dyn FnMut(&mut BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<bool, SendErrorReason>;

    /// [`PeerRoute::send`] for `count` messages to one target, in order: `write(i, buf)`
    /// encodes message `i`, and `done` counts each one sent as it is sent (so that it is right
    /// even if an encoding panics). Stops after the message that completes a chunk
    /// (`Ok(true)`), at the first that fails (its reason; the ones before it are sent), or
    /// after the last (`Ok(false)`). The default sends one at a time; a route with a queue
    /// takes its lock once for all of them.
    fn send_many(
        &self,
        target: &MailboxRef,
        tag: &'static str,
        count: usize,
        write: &mut dyn FnMut(usize, &mut BytesMut) -> Result<(), SendErrorReason>,
        done: &mut usize,
    ) -> Result<bool, SendErrorReason> {
        for i in 0..count {
            let chunk_done = self.send(target, tag, &mut |b| write(i, b))?;
            *done += 1;
            if chunk_done {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Signalled whenever the link toward the node makes room in its outbound buffer (for
    /// an awaitable send).
    fn room(&self) -> std::sync::Arc<tokio::sync::Notify>;

    /// Whether the router dropped this route (its node left and was forgotten): an
    /// address that kept it goes through the router again, which knows the node's route if
    /// it came back.
    fn retired(&self) -> bool {
        false
    }
}

/// What became of a run of payloads delivered with one [`RemoteVTable::deliver_many`](crate::inbox::RemoteVTable::deliver_many) call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    pub(crate) delivered: usize,
    pub(crate) undecodable: usize,
    pub(crate) full: usize,
    pub(crate) closed: usize,
    /// Why the first undecodable payload did not decode.
    pub(crate) decode_error: Option<crate::PayloadError>,
}

impl BatchOutcome {
    /// The outcome of a run of one payload, as a single delivery's result.
    pub(crate) fn single(self) -> Result<(), RemoteDeliveryError> {
        if self.delivered > 0 {
            Ok(())
        } else if self.undecodable > 0 {
            Err(RemoteDeliveryError::Decode(
                self.decode_error.unwrap_or(crate::PayloadError::Truncated),
            ))
        } else if self.full > 0 {
            Err(RemoteDeliveryError::Full)
        } else {
            Err(RemoteDeliveryError::NoSuchMailbox)
        }
    }
}

/// Appends the encoded `msg` to `buf` (for [`RemoteRouter::route`]); nothing on failure.
pub(crate) fn encode_into<M: Message>(msg: &M, buf: &mut BytesMut) -> Result<(), SendErrorReason> {
    crate::codec::encode_into(msg, buf).map_err(|e| {
        tracing::warn!(tag = M::TAG, error = %e, "message could not be encoded");
        SendErrorReason::Unencodable
    })
}

#[cfg(test)]
mod payload_tests;
#[cfg(test)]
mod tests;
