//! Node events: a peer coming up or going down, with the reason.

use std::fmt;

use reign_tls::{Incarnation, NodeId, Refusal, RefusedBy};

pub(crate) use crate::proto::reason::io_reason;
pub use crate::proto::reason::{LinkDownReason, ProtocolViolation};

/// Something that happened to this node's link with another node. Subscribe with
/// [`Node::events`](crate::Node::events).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// An authenticated link to `node` is up, and this node has received the peer's
    /// cluster-wide names and process groups over it.
    Up {
        /// The peer.
        node: NodeId,
        /// The peer's life; a different value than last time means it restarted.
        incarnation: Incarnation,
    },
    /// The link to `node`, reported [`Up`](NodeEvent::Up) before, went down. Every monitor
    /// of a mailbox on it has fired with
    /// [`DownReason::NoConnection`](crate::DownReason::NoConnection).
    Down {
        /// The peer.
        node: NodeId,
        /// The life of the peer that link was with.
        incarnation: Incarnation,
        /// Why.
        reason: LinkDownReason,
    },
    /// A connection attempt to or from `node` was refused during the handshake.
    Refused {
        /// The peer, when known (the node dialed; an accepted connection's peer is unknown
        /// until its certificate is checked).
        node: Option<NodeId>,
        /// Who refused.
        by: RefusedBy,
        /// Why, as reign-tls tells it.
        reason: Refusal,
    },
}

impl fmt::Display for NodeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Up { node, incarnation } => write!(f, "{node} up (incarnation {incarnation})"),
            Self::Down { node, reason, .. } => write!(f, "{node} down: {reason}"),
            Self::Refused {
                node,
                by: RefusedBy::Us,
                reason,
            } => match node {
                Some(n) => write!(f, "refused {n}: {reason}"),
                None => write!(f, "refused a connection: {reason}"),
            },
            Self::Refused { node, reason, .. } => match node {
                Some(n) => write!(f, "{n} refused us: {reason}"),
                None => write!(f, "a peer refused us: {reason}"),
            },
        }
    }
}
