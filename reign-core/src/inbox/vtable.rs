//! A mailbox's face toward the wire: how a mailbox of a [`Message`] type takes messages
//! decoded from another node's bytes (the receive half of the remote path; the send half is
//! [`RemoteRouter`](crate::remote::RemoteRouter)).

use std::any::Any;
use std::collections::VecDeque;

use super::{Item, Shared};
use crate::Message;
use crate::remote::BatchOutcome;

/// Decodes several payloads for the mailbox and queues them under one lock. The last
/// argument keeps an emptied batch buffer between calls (for the same mailbox type), so that
/// a stream allocates nothing per run.
type DeliverManyFn =
    fn(&(dyn Any + Send + Sync), &[&[u8]], &mut Option<Box<dyn Any + Send>>) -> BatchOutcome;

/// The most entries an idle batch buffer keeps room for.
const SPARE_ROOM: usize = 4096;

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
    // Refusals are counted here and logged once per run by the caller.
    let mut undecodable = 0;
    let mut decode_error = None;
    let mut refused = |e| {
        undecodable += 1;
        decode_error.get_or_insert(e);
    };
    if let [_] = payloads {
        // A run of one (a stream spread over many mailboxes is made of them): queued as a
        // single send, without the batch buffer.
        let mut single = None;
        crate::codec::decode_each::<M>(payloads, |m| single = Some(m), &mut refused);
        let (delivered, full, closed) = match single.map(|m| shared.push_one(m)) {
            None => (0, 0, 0),
            Some(Ok(())) => (1, 0, 0),
            Some(Err(e)) if e.reason() == crate::SendErrorReason::Full => (0, 1, 0),
            Some(Err(_)) => (0, 0, 1),
        };
        return BatchOutcome {
            delivered,
            undecodable,
            full,
            closed,
            decode_error,
        };
    }
    let mut batch: Box<VecDeque<Item<M>>> = spare
        .take()
        .and_then(|b| b.downcast().ok())
        .unwrap_or_default();
    batch.reserve(payloads.len());
    crate::codec::decode_each::<M>(payloads, |m| batch.push_back(Item::Msg(m)), &mut refused);
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
