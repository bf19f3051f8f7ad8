//! [`Cluster::members`](crate::Cluster::members): every node this node knows, with its
//! state and when it was last heard from: the configured members, and, where membership is
//! open, every node that joined and is not forgotten.

use std::sync::PoisonError;
use std::time::SystemTime;

use reign_tls::{Incarnation, NodeId};

use super::events::{LinkDownReason, UnreachableReason};
use super::{Mesh, Peer};

/// One member as this node knows it ([`Cluster::members`](crate::Cluster::members)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberStatus {
    /// The member's node ID.
    pub node: NodeId,
    /// Where this node dials it (empty: not known yet): as configured, as the node itself
    /// advertised, or as another member hinted until it says otherwise. The lower ID dials;
    /// the higher only when the pair has had no link for a while (docs/PROTOCOL.md
    /// section 4, *Joining*).
    pub addr: String,
    /// Where its link stands.
    pub state: MemberState,
    /// When bytes last arrived from it (`None`: never, in this node's life).
    pub last_seen: Option<SystemTime>,
}

/// Where a member's link stands ([`MemberStatus::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberState {
    /// No link yet, and none was lost: this node is dialing it (it has the lower ID) or
    /// waiting for it to dial; `unreachable` says why the last dial failed, if one did.
    Connecting {
        /// Why the last dial failed.
        unreachable: Option<UnreachableReason>,
    },
    /// A link is up (in service).
    Up {
        /// The member's life.
        incarnation: Incarnation,
        /// Since when.
        since: SystemTime,
    },
    /// Its last link went down; this node redials it (or waits for it to dial).
    Down {
        /// The life that link was with.
        incarnation: Incarnation,
        /// When it went down.
        since: SystemTime,
        /// Why.
        reason: LinkDownReason,
        /// Why the last dial since failed, if one did.
        unreachable: Option<UnreachableReason>,
    },
}

/// What a peer's record keeps between links.
#[derive(Debug, Default)]
pub(crate) struct History {
    down: Option<(Incarnation, SystemTime, LinkDownReason)>,
    unreachable: Option<UnreachableReason>,
    last_seen: Option<SystemTime>,
}

impl Peer {
    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The link with it went down.
    pub(crate) fn went_down(&self, incarnation: Incarnation, reason: LinkDownReason) {
        let mut h = self.history();
        h.down = Some((incarnation, SystemTime::now(), reason));
        h.unreachable = None;
    }

    /// A dial failed before any handshake (or succeeded: `None`).
    pub(crate) fn dialed(&self, unreachable: Option<UnreachableReason>) {
        self.history().unreachable = unreachable;
    }

    /// Bytes arrived from it at `at` (recorded when its link ends; a live link is asked).
    pub(crate) fn seen(&self, at: SystemTime) {
        let mut h = self.history();
        if h.last_seen.is_none_or(|l| l < at) {
            h.last_seen = Some(at);
        }
    }
}

impl Mesh {
    /// Every known node, sorted by ID.
    pub(crate) fn members(&self) -> Vec<MemberStatus> {
        self.peers
            .values()
            .map(|p| {
                let link = p.link();
                let h = p.history();
                let live = link.as_ref().filter(|_| p.up.borrow().is_some());
                let (state, last_seen) = match live {
                    Some(l) => (
                        MemberState::Up {
                            incarnation: l.peer_incarnation,
                            since: l.up_since,
                        },
                        Some(l.last_seen()),
                    ),
                    None => (
                        match &h.down {
                            Some((incarnation, since, reason)) => MemberState::Down {
                                incarnation: *incarnation,
                                since: *since,
                                reason: reason.clone(),
                                unreachable: h.unreachable,
                            },
                            None => MemberState::Connecting {
                                unreachable: h.unreachable,
                            },
                        },
                        h.last_seen,
                    ),
                };
                MemberStatus {
                    node: p.id.clone(),
                    addr: self.addr_of(&p.id),
                    state,
                    last_seen,
                }
            })
            .collect()
    }
}
