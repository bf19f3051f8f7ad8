//! Errors: failed sends give the message back; calls, registry and remote delivery have
//! their own typed reasons.

use std::fmt;

use crate::{DownReason, MailboxRef};

/// Why a send failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SendErrorReason {
    /// The mailbox has ended (or never existed in this node's life).
    #[error("mailbox closed")]
    Closed,
    /// The mailbox is bounded and holds its capacity of messages.
    #[error("mailbox full")]
    Full,
    /// The mailbox is on another node, and that node cannot be reached.
    #[error("no connection to the mailbox's node")]
    NoConnection,
    /// The address was decoded outside any node's decode scope, so it is bound to no node
    /// and cannot route (see [`Node::enter_decode_scope`](crate::Node::enter_decode_scope)).
    #[error("address is detached: it was decoded outside a node's decode scope")]
    Detached,
    /// The address names a live mailbox of this node whose message type is not the
    /// address's type.
    #[error("the mailbox takes a different message type")]
    WrongType,
    /// The message could not be encoded for the wire.
    #[error("message could not be encoded")]
    Unencodable,
    /// The link to the mailbox's node holds its limit of unsent bytes (the peer is slow or
    /// stalled): the message was not queued. Retry later, or treat it as overload.
    #[error("link to the mailbox's node is full")]
    LinkFull,
    /// The encoded message exceeds the maximum frame size.
    #[error("message exceeds the maximum frame size")]
    TooLarge,
    /// No mailbox of this node is registered under the name sent to (a send by name to
    /// another node is checked there, and refused there, see
    /// [`Cluster::try_send_named`](crate::Cluster::try_send_named)).
    #[error("no mailbox is registered under that name")]
    NoSuchName,
}

/// A failed send: the reason, and the message, given back.
///
/// Its `Display` and `Debug` never need the message to be printable.
pub struct SendError<M> {
    reason: SendErrorReason,
    message: M,
}

impl<M> SendError<M> {
    pub(crate) fn new(reason: SendErrorReason, message: M) -> Self {
        Self { reason, message }
    }

    /// Why the send failed.
    pub fn reason(&self) -> SendErrorReason {
        self.reason
    }

    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        self.message
    }

    /// The reason and the message.
    pub fn into_parts(self) -> (SendErrorReason, M) {
        (self.reason, self.message)
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("reason", &self.reason)
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send failed: {}", self.reason)
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Why a [`call`](crate::Address::call) got no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No reply within the timeout.
    #[error("call timed out")]
    Timeout,
    /// The callee ended before replying.
    #[error("callee down: {0}")]
    Down(DownReason),
    /// The request could not be sent.
    #[error("request not sent: {0}")]
    Send(SendErrorReason),
    /// The callee dropped the request's [`ReplyTo`](crate::ReplyTo) without answering: its
    /// handler let it go, panicked, or the server ended with the request still queued.
    #[error("the callee dropped the reply handle without answering")]
    Dropped,
}

/// Why a name could not be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Another mailbox holds the name.
    #[error("name {name:?} is already registered to {holder}")]
    NameTaken {
        /// The name asked for.
        name: String,
        /// The mailbox that holds it.
        holder: MailboxRef,
    },
    /// The address is not a live mailbox of this node.
    #[error("{address} is not a mailbox of this node")]
    NotLocal {
        /// The address given.
        address: MailboxRef,
    },
    /// The mailbox has ended.
    #[error("{address} has ended")]
    Closed {
        /// The address given.
        address: MailboxRef,
    },
    /// Names are 1 to 255 bytes long.
    #[error("invalid name {name:?}: names are 1 to 255 bytes")]
    InvalidName {
        /// The name given.
        name: String,
    },
}

/// Why [`Names::whereis`](crate::Names::whereis) found no address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No mailbox holds the name.
    #[error("no mailbox is registered as {name:?}")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The name's mailbox takes another message type than the one asked for. For a mailbox
    /// on this node the types are named by their Rust names; for one on another node by
    /// their type tags ([`Message::TAG`](crate::Message::TAG)), the only names that travel.
    #[error("{name:?} takes messages of type {actual:?}, not {expected:?}")]
    WrongType {
        /// The name looked up.
        name: String,
        /// The message type asked for.
        expected: &'static str,
        /// The message type of the registered mailbox.
        actual: String,
    },
    /// There is no link to the node asked (it is down, not yet reached, or not a member of
    /// this node's cluster); `linked` says which nodes this node has a link with now.
    #[error(
        "no connection to {node} to look up {name:?} (linked now: {})",
        Linked(linked)
    )]
    NoConnection {
        /// The node.
        node: crate::NodeId,
        /// The name looked up.
        name: String,
        /// The nodes with a live link, sorted (empty for a node not started on a cluster).
        linked: Vec<crate::NodeId>,
    },
    /// The name did not appear within the timeout (see
    /// [`GlobalNames::wait_for`](crate::GlobalNames::wait_for)).
    #[error("no mailbox was registered cluster-wide as {name:?} within {timeout:?}")]
    NotRegisteredInTime {
        /// The name waited for.
        name: String,
        /// How long it was waited for.
        timeout: std::time::Duration,
    },
    /// The node did not answer within the timeout.
    #[error("{node} did not answer the lookup of {name:?} in time")]
    Timeout {
        /// The node.
        node: crate::NodeId,
        /// The name looked up.
        name: String,
    },
}

/// Why a message arriving from another node was not delivered
/// (see [`Node::deliver_remote`](crate::Node::deliver_remote)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RemoteDeliveryError {
    /// No live mailbox with that ID in this node's life.
    #[error("no such mailbox")]
    NoSuchMailbox,
    /// The mailbox is bounded and full.
    #[error("mailbox full")]
    Full,
    /// The mailbox was created with `local_mailbox` and takes no messages from other nodes.
    #[error("mailbox takes local messages only")]
    LocalOnly,
    /// The payload's type tag is not the mailbox's.
    #[error(
        "type tag {:?} does not match the mailbox's {expected:?}",
        reign_tls::ratelimit::Escaped(got)
    )]
    TagMismatch {
        /// The mailbox's tag.
        expected: &'static str,
        /// The tag that came with the payload.
        got: String,
    },
    /// The payload did not decode as the mailbox's type.
    #[error("payload does not decode: {0}")]
    Decode(crate::PayloadError),
}

/// A list of node IDs for a message: `a, b`, or `none`.
struct Linked<'a>(&'a [crate::NodeId]);

impl std::fmt::Display for Linked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}
