//! The hook the cluster fills in: how a node reaches mailboxes on other nodes.
//!
//! Without a router (a node running alone) a send to another node's mailbox fails with
//! [`SendErrorReason::NoConnection`] and a monitor of one fires at once with
//! [`DownReason::NoConnection`]. This module is internal plumbing: its shape will change when
//! the cluster lands.

use std::any::Any;

use bytes::BytesMut;

use std::collections::VecDeque;

use crate::inbox::{Item, Shared};
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

    /// Signalled whenever the link toward the node makes room in its outbound buffer (for
    /// an awaitable send).
    fn room(&self) -> std::sync::Arc<tokio::sync::Notify>;
}

/// Decodes several payloads for the mailbox and queues them under one lock. The last
/// argument keeps an emptied batch buffer between calls (for the same mailbox type), so that
/// a stream allocates nothing per run.
type DeliverManyFn =
    fn(&(dyn Any + Send + Sync), &[&[u8]], &mut Option<Box<dyn Any + Send>>) -> BatchOutcome;

/// The most entries an idle batch buffer keeps room for.
const SPARE_ROOM: usize = 4096;

/// What became of a run of payloads delivered with one [`RemoteVTable::deliver_many`] call.
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

/// What a mailbox of a [`Message`] type knows about taking messages from the wire.
pub(crate) struct RemoteVTable {
    pub(crate) tag: &'static str,
    pub(crate) deliver_many: DeliverManyFn,
    /// Whether the mailbox takes remote messages from one node only (a call's reply mailbox:
    /// which node is kept with the mailbox). Known from the table, so the receive path looks
    /// at the mailbox's state only for such a mailbox.
    pub(crate) restricted: bool,
}

/// The table for mailboxes of type `M`.
pub(crate) fn vtable<M: Message>() -> &'static RemoteVTable {
    const {
        &RemoteVTable {
            tag: M::TAG,
            deliver_many: deliver_many::<M>,
            restricted: false,
        }
    }
}

/// The table for mailboxes of type `M` that take remote messages from one node only.
pub(crate) fn restricted_vtable<M: Message>() -> &'static RemoteVTable {
    const {
        &RemoteVTable {
            tag: M::TAG,
            deliver_many: deliver_many::<M>,
            restricted: true,
        }
    }
}

fn deliver_many<M: Message>(
    inbox: &(dyn Any + Send + Sync),
    payloads: &[&[u8]],
    spare: &mut Option<Box<dyn Any + Send>>,
) -> BatchOutcome {
    let Some(shared) = inbox.downcast_ref::<Shared<M>>() else {
        return BatchOutcome {
            closed: payloads.len(),
            ..BatchOutcome::default()
        };
    };
    let mut batch: Box<VecDeque<Item<M>>> = spare
        .take()
        .and_then(|b| b.downcast().ok())
        .unwrap_or_default();
    batch.reserve(payloads.len());
    // Refusals are counted here and logged once per run by the caller.
    let mut undecodable = 0;
    let mut decode_error = None;
    for p in payloads {
        match crate::codec::decode::<M>(p) {
            Ok(m) => batch.push_back(Item::Msg(m)),
            Err(e) => {
                undecodable += 1;
                decode_error.get_or_insert(e);
            }
        }
    }
    let n = batch.len();
    let (full, closed) = shared.push_many(&mut batch);
    if batch.capacity() > SPARE_ROOM {
        batch.shrink_to(SPARE_ROOM);
    }
    *spare = Some(batch);
    BatchOutcome {
        delivered: n - full - closed,
        undecodable,
        full,
        closed,
        decode_error,
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
