//! Node events: a peer coming up or going down, with the reason.

use std::fmt;

use reign_tls::{Incarnation, NodeId, Refusal, RefusedBy};

pub(crate) use crate::proto::reason::io_reason;
pub use crate::proto::reason::{
    CertificateVerdict, JoinedVia, LeftReason, LinkDownReason, ProtocolViolation,
};

/// Something that happened to this node's link with another node. Subscribe with
/// [`Cluster::events`](crate::Cluster::events).
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
    /// A certificate of this node's material (its own, or a CA of its bundle) is within its
    /// warning window ([`Tunables::certificate_expiry_warning`](crate::Tunables::certificate_expiry_warning))
    /// or past its not-after. Reported at start, after each reload and then once per
    /// [`Tunables::certificate_check_interval`](crate::Tunables::certificate_check_interval)
    /// while it lasts; renew it and [reload](crate::Node::reload_tls).
    CertificateExpiring(reign_tls::Expiring),
    /// `node` proved, on its live link, that it now holds `certificate` (its CERT_UPDATE
    /// after it renewed and reloaded): the link is checked against this certificate from
    /// now on, as after a new handshake.
    PeerCertificateUpdated {
        /// The peer.
        node: NodeId,
        /// Its new leaf certificate.
        certificate: reign_tls::CertificateDetails,
    },
    /// This node could not reach member `node` at `addr` (nothing answered, the address
    /// does not resolve, ...): no handshake took place. Reported at the first failure after
    /// the node started or the last link with it ended, then again every 12 longest redial
    /// delays while the failures last (a minute, with the default
    /// [`Tunables::reconnect_backoff_max`](crate::Tunables::reconnect_backoff_max)); the node
    /// keeps redialing in between. Only the node that dials (the lower ID) reports it.
    Unreachable {
        /// The member.
        node: NodeId,
        /// The address dialed, as configured.
        addr: String,
        /// Why.
        reason: UnreachableReason,
    },
    /// A node this node did not know joined: it connected, answered at a seed address, or a
    /// member told of it (then it is dialed or waited for, and `Up` follows once linked).
    Joined {
        /// The node.
        node: NodeId,
        /// Where it is dialed, when known (empty: not yet; it advertises its own).
        addr: String,
        /// How it was learned of.
        how: JoinedVia,
    },
    /// A node that joined at run time is forgotten: it shut down (GOODBYE), or stayed
    /// unreachable for [`Tunables::forget_after`](crate::Tunables::forget_after) (or, learned
    /// only from a hint, failed its first dials). This node stops dialing it; it is learned
    /// again if it comes back. (`[[members]]` entries are never forgotten.)
    Left {
        /// The node.
        node: NodeId,
        /// Why.
        reason: LeftReason,
    },
    /// Two processes hold `node`'s ID at once (the same certificate runs twice): this node
    /// keeps the one with the higher incarnation, and refuses the other (GOODBYE 6) while
    /// the one it keeps is alive. Reported on a budget, as it repeats at each redial.
    DuplicateNode {
        /// The node ID both hold.
        node: NodeId,
        /// The life kept.
        kept: Incarnation,
        /// The life refused.
        refused: Incarnation,
    },
    /// A connection attempt to or from `node` was refused during the handshake.
    Refused {
        /// The peer, when known: the node dialed, or the node ID an accepted connection's
        /// certificate proved when that dialer refused after TLS (a connection this node
        /// refused, or one refused before TLS, has no proven peer).
        node: Option<NodeId>,
        /// Who refused.
        by: RefusedBy,
        /// Why, as reign-tls tells it. When the peer refused ([`RefusedBy::Peer`]), this is
        /// what its REFUSE said: the peer's word, checked by nothing on this side (a peer's
        /// "certificate CN does not match" is its claim about our certificate, not a fact).
        reason: Refusal,
    },
}

impl fmt::Display for NodeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Left { node, reason } => write!(f, "{node} left ({reason})"),
            Self::DuplicateNode {
                node,
                kept,
                refused,
            } => write!(
                f,
                "two processes hold node ID {node}: kept incarnation {kept}, refused {refused}"
            ),
            Self::Joined { node, addr, how } => write!(
                f,
                "{node} joined ({how}){}",
                if addr.is_empty() {
                    String::new()
                } else {
                    format!(", at {}", reign_tls::ratelimit::Escaped(addr))
                }
            ),
            Self::Up { node, incarnation } => write!(f, "{node} up (incarnation {incarnation})"),
            Self::CertificateExpiring(e) => write!(f, "certificate expiring: {e}"),
            Self::PeerCertificateUpdated { node, certificate } => write!(
                f,
                "{node} renewed its certificate on the live link: serial {}, issuer {}, until {}",
                certificate.serial_hex,
                certificate.issuer,
                reign_tls::format_time(certificate.not_after)
            ),
            Self::Down { node, reason, .. } => write!(f, "{node} down: {reason}"),
            Self::Unreachable { node, addr, reason } => {
                write!(
                    f,
                    "{node} unreachable at {}: {reason}",
                    reign_tls::ratelimit::Escaped(addr)
                )
            }
            Self::Refused {
                node,
                by: RefusedBy::Us,
                reason,
            } => match node {
                Some(n) => write!(f, "refused {n}: {reason}"),
                None => write!(f, "refused a connection: {reason}"),
            },
            Self::Refused { node, reason, .. } => match node {
                Some(n) => write!(f, "{n} refused us, saying: {reason}"),
                None => write!(f, "a peer refused us, saying: {reason}"),
            },
        }
    }
}

/// Why a member could not be reached ([`NodeEvent::Unreachable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnreachableReason {
    /// The address does not resolve, or resolves to nothing.
    DoesNotResolve,
    /// The connection failed (refused, unreachable, reset, timed out, ...) before TLS.
    Connect(std::io::ErrorKind),
}

impl fmt::Display for UnreachableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoesNotResolve => f.write_str("the address does not resolve"),
            Self::Connect(kind) => write!(f, "cannot connect: {kind}"),
        }
    }
}

/// This node's events, as a subscriber receives them (made by
/// [`Cluster::events`](crate::Cluster::events)). Each subscriber gets every event from the moment
/// it subscribed, in order; one that falls more than
/// [`Tunables::event_capacity`](crate::Tunables::event_capacity) events behind misses the
/// oldest and is told how many ([`EventsError::Lagged`]), then goes on with the rest.
#[derive(Debug)]
pub struct Events {
    rx: tokio::sync::broadcast::Receiver<NodeEvent>,
}

/// Why [`Events`] gave no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The subscriber fell behind and this many events were dropped for it; the next call
    /// returns the oldest event still held.
    #[error("{0} node events missed (the subscriber fell behind)")]
    Lagged(u64),
    /// The node was never started on a cluster, or has shut down: no event will come.
    #[error("no more node events: the node is not started")]
    Closed,
}

impl Events {
    pub(crate) fn new(rx: tokio::sync::broadcast::Receiver<NodeEvent>) -> Self {
        Self { rx }
    }

    /// Waits for the next event.
    pub async fn recv(&mut self) -> Result<NodeEvent, EventsError> {
        use tokio::sync::broadcast::error::RecvError;
        self.rx.recv().await.map_err(|e| match e {
            RecvError::Lagged(n) => EventsError::Lagged(n),
            RecvError::Closed => EventsError::Closed,
        })
    }

    /// The next event if one is waiting (`Ok(None)` if none is).
    pub fn try_recv(&mut self) -> Result<Option<NodeEvent>, EventsError> {
        use tokio::sync::broadcast::error::TryRecvError;
        match self.rx.try_recv() {
            Ok(e) => Ok(Some(e)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Lagged(n)) => Err(EventsError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(EventsError::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(i: u64) -> NodeEvent {
        NodeEvent::Up {
            node: "b".parse().unwrap(),
            incarnation: Incarnation(i),
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_how_many_it_missed() {
        let (tx, rx) = tokio::sync::broadcast::channel(2);
        let mut events = Events::new(rx);
        for i in 0..5 {
            tx.send(up(i)).unwrap();
        }
        assert_eq!(events.recv().await, Err(EventsError::Lagged(3)));
        assert_eq!(events.recv().await, Ok(up(3)));
        assert_eq!(events.try_recv(), Ok(Some(up(4))));
        assert_eq!(events.try_recv(), Ok(None));
        drop(tx);
        assert_eq!(events.recv().await, Err(EventsError::Closed));
        assert_eq!(events.try_recv(), Err(EventsError::Closed));
    }
}
