//! Calls: [`ReplyTo`], the handle a server answers a call with, and the caller's side.

use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, ready};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::envelope::Envelope;
use crate::{Address, CallError, MailboxRef, Message, Node, NodeId, SendErrorReason};

/// What a call may answer: any type serde can carry between nodes (it needs no
/// [`Message`] tag of its own: `Option<T>`, `Vec<T>`, tuples, `Result<T, E>` all qualify).
/// Implemented for every such type.
pub trait Reply: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Reply for T {}

/// What a call's reply mailbox takes: the answer, or word that the handle was dropped
/// unanswered. On the wire it is an `Option<R>` (`None`: dropped) under the tag
/// `reign.Reply`: the request's type fixes `R` on both sides, and a reply mailbox takes
/// messages only from the callee's node.
pub(crate) enum Answer<R> {
    Answer(R),
    Dropped,
}

impl<R: Serialize> Serialize for Answer<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Answer(r) => s.serialize_some(r),
            Answer::Dropped => s.serialize_none(),
        }
    }
}

impl<'de, R: Deserialize<'de>> Deserialize<'de> for Answer<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<R>::deserialize(d)? {
            Some(r) => Answer::Answer(r),
            None => Answer::Dropped,
        })
    }
}

impl<R: Reply> Message for Answer<R> {
    const TAG: &'static str = "reign.Reply";
}

/// The handle a [server](crate::Server) answers one call with: the reply type `R` is fixed by
/// the request that carries it, so a handler cannot answer with another type.
///
/// A request of a call holds its `ReplyTo<R>` (see [`ServerRef::call`](crate::ServerRef::call)).
/// Answer with [`ReplyTo::send`], at once or later: the handle can be kept (in the server's
/// state, say) and answered from another handler or given to another task of the same node.
/// **Dropping it unanswered fails the call at once** with [`CallError::Dropped`] (not at the
/// caller's timeout), which is also what happens to the calls queued in a server that ends
/// and to a call whose handler panics.
///
/// It knows who called: [`ReplyTo::caller_node`], the node the call came from (as its
/// certificate proved, for a call from another node), and [`ReplyTo::caller`], the calling
/// server when the call was made with [`Ctx::call`](crate::Ctx::call). A handle decoded
/// from another node's message must name that node, or the message does not decode: no peer
/// can have a server answer a third node's mailbox, or pass for another caller.
pub struct ReplyTo<R: Reply> {
    to: Address<Answer<R>>,
    caller: Option<MailboxRef>,
    /// Answered, or handed on: once serialized (sent to another node inside its request),
    /// the copy on the wire answers, and this one's drop says nothing.
    answered: AtomicBool,
}

impl<R: Reply> ReplyTo<R> {
    /// Answers the call. If the caller no longer waits (it timed out, or its node is gone),
    /// the answer is dropped, logged at `debug`; use [`ReplyTo::try_send`] to see why.
    pub fn send(self, answer: R) {
        if let Err(reason) = self.try_send(answer) {
            tracing::debug!(%reason, "reply not delivered");
        }
    }

    /// Answers the call; fails if the answer cannot be delivered: the caller gave up
    /// ([`Closed`](crate::SendErrorReason::Closed)), or its node cannot be reached.
    pub fn try_send(self, answer: R) -> Result<(), SendErrorReason> {
        self.answered.store(true, Ordering::Relaxed);
        self.to
            .try_send(Answer::Answer(answer))
            .map_err(|e| e.reason())
    }

    /// The node the call came from.
    pub fn caller_node(&self) -> &NodeId {
        self.to.node_id()
    }

    /// The server that called, if the call was made with [`Ctx::call`](crate::Ctx::call)
    /// (a call from a plain task is anonymous: only its node is known). Monitor or link it to
    /// act when the caller ends.
    pub fn caller(&self) -> Option<&MailboxRef> {
        self.caller.as_ref()
    }
}

impl<R: Reply> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        if !*self.answered.get_mut() {
            tracing::trace!(caller = %self.to, "reply handle dropped unanswered");
            let _ = self.to.try_send(Answer::Dropped);
        }
    }
}

impl<R: Reply> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("to", &self.to)
            .field("caller", &self.caller)
            .field("answered", &self.answered)
            .finish()
    }
}

impl<R: Reply> Serialize for ReplyTo<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.answered.store(true, Ordering::Relaxed);
        (&self.to, &self.caller).serialize(s)
    }
}

impl<'de, R: Reply> Deserialize<'de> for ReplyTo<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (to, caller) = <(Address<Answer<R>>, Option<MailboxRef>)>::deserialize(d)?;
        let foreign = |node: &NodeId| crate::scope::sender_is(node) == Some(false);
        if foreign(to.node_id()) || caller.as_ref().is_some_and(|c| foreign(c.node())) {
            // A plain address: dropping it sends nothing.
            return Err(serde::de::Error::custom(
                "a reply handle that names another node than its sender",
            ));
        }
        Ok(ReplyTo {
            to,
            caller,
            answered: AtomicBool::new(false),
        })
    }
}

/// Sends the request `request` builds to `target` and waits at most `timeout` for the
/// answer (the body of [`ServerRef::call`](crate::ServerRef::call) and
/// [`Ctx::call`](crate::Ctx::call)).
pub(crate) async fn call<M: Send + 'static, R: Reply>(
    target: &Address<Envelope<M>>,
    caller: Option<MailboxRef>,
    request: impl FnOnce(ReplyTo<R>) -> M,
    timeout: Duration,
) -> Result<R, CallError> {
    let node = Node {
        inner: target.routing_node().map_err(CallError::Send)?.clone(),
    };
    // From other nodes, the reply mailbox takes messages from the callee's node only.
    let (mut reply_box, reply) = node.reply_mailbox::<Answer<R>>(target.node_id());
    let monitor = reply_box.monitor_inner(target, None);
    let handle = ReplyTo {
        to: reply,
        caller,
        answered: AtomicBool::new(false),
    };
    if let Err(e) = target.try_send(Envelope::Msg(request(handle))) {
        reply_box.demonitor(&monitor);
        return Err(CallError::Send(e.reason()));
    }
    let outcome = tokio::time::timeout(
        timeout,
        poll_fn(|cx| {
            loop {
                match ready!(reply_box.poll_item(cx)).into_user() {
                    Ok(Answer::Answer(answer)) => return Poll::Ready(Ok(answer)),
                    Ok(Answer::Dropped) => return Poll::Ready(Err(CallError::Dropped)),
                    Err(down) if monitor.fired(&down) => {
                        return Poll::Ready(Err(CallError::Down(down.reason)));
                    }
                    Err(_) => {}
                }
            }
        }),
    )
    .await;
    reply_box.demonitor(&monitor);
    outcome.unwrap_or_else(|_| {
        tracing::debug!(callee = %target, ?timeout, "call timed out");
        Err(CallError::Timeout)
    })
}
