//! Why a link ends: the reasons the control plane and the link's driver give.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a link went down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkDownReason {
    /// The peer closed the connection without saying goodbye (crash, kill, network reset).
    ClosedByPeer,
    /// The peer is shutting down gracefully (it said GOODBYE).
    PeerShutDown,
    /// This node is shutting down.
    LocalShutdown,
    /// Nothing arrived from the peer within the peer-silence limit: stopped, blackholed or
    /// overloaded.
    HeartbeatTimeout,
    /// A newer connection from the same peer replaced this one (the peer restarted, or
    /// redialed after losing this link first).
    Replaced,
    /// The peer broke the link protocol (see [`ProtocolViolation`]); the link was closed.
    ProtocolError(ProtocolViolation),
    /// A socket error other than the peer closing the connection (end of file, reset, broken
    /// pipe or aborted, which are [`LinkDownReason::ClosedByPeer`]).
    Io(std::io::ErrorKind),
    /// The link's task panicked: a bug in reign or in code it called (a message type's
    /// `Deserialize` or `Drop`, say). The link was cleaned up like any other (monitors fired,
    /// the peer's names and groups dropped) and is redialed.
    Panic,
    /// The peer's certificate (or a certificate of its chain) expired while the link was up;
    /// the peer must reconnect with a valid one.
    CertificateExpired,
    /// After this node reloaded its TLS material ([`Node::reload_tls`](crate::Node::reload_tls)),
    /// the peer's certificate no longer passed: revoked, expired, or no longer chaining to
    /// the CA bundle (the reason says which, as a handshake would have refused it).
    CertificateRefused(reign_tls::Refusal),
    /// The peer sent a certificate update (CERT_UPDATE, after it renewed) that does not
    /// pass as a handshake's certificate would not: the reason says why.
    CertificateUpdateRefused(reign_tls::Refusal),
    /// The peer ended the link because it no longer accepts this node's certificate (it
    /// said so with GOODBYE reason 2 to 5): after it reloaded its TLS material, or at the
    /// certificate's expiry. Renew the certificate (or ask why the peer distrusts it).
    RefusedByPeer(CertificateVerdict),
    /// The peer is linked with another process holding this node's ID, whose life it keeps
    /// (GOODBYE 6): two processes run with the same certificate. The one with the higher
    /// incarnation is kept everywhere; the other is refused until it stops.
    DuplicateId,
    /// Another process holding the peer's ID, with a higher incarnation, connected while this
    /// link was alive: two processes run with the same certificate, and the higher
    /// incarnation is kept (the peer of this link is told so, GOODBYE 6).
    ReplacedByDuplicate,
    /// The acceptor refused the connection after this node, the dialer, had sent its
    /// ACCEPT: a handshake REFUSE (kind 0x02) arrived where the link's first frame was due.
    /// An acceptor does so when it evicts a handshake that had not read the ACCEPT yet (too
    /// many handshakes in progress, docs/PROTOCOL.md section 3); the link never came into
    /// service and is redialed with backoff. The REFUSE's code and text are not read: this
    /// says only that the peer refused, not why.
    RefusedAfterAccept,
}

/// Why a peer no longer accepts this node's certificate on a live link, as its GOODBYE
/// says (docs/PROTOCOL.md, section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateVerdict {
    /// Revoked by the peer's CRL (GOODBYE reason 2).
    Revoked,
    /// Expired, or not yet valid, by the peer's clock (reason 3).
    Expired,
    /// It no longer chains to the peer's CA bundle (reason 4).
    Untrusted,
    /// Refused for another reason a handshake would refuse it for (reason 5).
    Refused,
}

impl CertificateVerdict {
    /// The verdict a GOODBYE reason carries, if it is one of 2 to 5.
    pub(crate) fn from_goodbye(reason: u8) -> Option<Self> {
        Some(match reason {
            2 => Self::Revoked,
            3 => Self::Expired,
            4 => Self::Untrusted,
            5 => Self::Refused,
            _ => return None,
        })
    }

    /// The GOODBYE reason that says it.
    pub(crate) fn goodbye(self) -> u8 {
        match self {
            Self::Revoked => 2,
            Self::Expired => 3,
            Self::Untrusted => 4,
            Self::Refused => 5,
        }
    }

    /// The verdict for a handshake refusal.
    pub(crate) fn of(refusal: &reign_tls::Refusal) -> Self {
        use reign_tls::Refusal as R;
        match refusal {
            R::Revoked => Self::Revoked,
            R::Expired { .. } | R::NotYetValid { .. } => Self::Expired,
            R::UnknownCa => Self::Untrusted,
            _ => Self::Refused,
        }
    }
}

impl fmt::Display for CertificateVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired or not yet valid",
            Self::Untrusted => "no longer trusted (not issued by a CA of its bundle)",
            Self::Refused => "refused",
        })
    }
}

impl LinkDownReason {
    /// The verdict to tell the peer with GOODBYE when this node ends the link because of the
    /// peer's certificate (reload or expiry).
    /// The GOODBYE reason this node sends when it ends a link for this reason, if it says
    /// one: a certificate verdict (2 to 5), or a duplicate replaced (6).
    pub(crate) fn last_goodbye(&self) -> Option<u8> {
        match self {
            Self::ReplacedByDuplicate => Some(crate::proto::wire::GOODBYE_DUPLICATE_ID),
            other => other.verdict().map(CertificateVerdict::goodbye),
        }
    }

    pub(crate) fn verdict(&self) -> Option<CertificateVerdict> {
        match self {
            Self::CertificateRefused(r) | Self::CertificateUpdateRefused(r) => {
                Some(CertificateVerdict::of(r))
            }
            Self::CertificateExpired => Some(CertificateVerdict::Expired),
            _ => None,
        }
    }
}

/// How a peer broke the link protocol, as [`LinkDownReason::ProtocolError`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// Bytes that are not a valid frame.
    #[error("undecodable frame: {0}")]
    Undecodable(#[from] crate::DecodeError),
    /// A MONITOR past the peer's cap of monitors on this node
    /// ([`Tunables::max_monitors_per_link`](crate::Tunables::max_monitors_per_link)).
    #[error("more than {max} monitors")]
    TooManyMonitors {
        /// The cap.
        max: usize,
    },
    /// A NAME_ADD or GROUP_JOIN past the peer's cap
    /// ([`Tunables::max_announced_per_link`](crate::Tunables::max_announced_per_link)).
    #[error("more than {max} names and group memberships announced")]
    TooManyAnnounced {
        /// The cap.
        max: usize,
    },
    /// The peer kept asking (MONITOR, LOOKUP, ...) without reading the answers, until they
    /// filled twice the link buffer.
    #[error("the peer does not read: outbound queue past twice its limit")]
    DoesNotRead,
    /// The peer sent CERT_UPDATE frames faster than their pace allows (docs/PROTOCOL.md,
    /// section 5: a burst of 2, then one per second).
    #[error("certificate updates faster than one per second")]
    CertificateUpdatesTooFast,
}

/// Why a link ends on a socket error: the peer closing the connection (however the socket
/// reports it: end of file, reset, broken pipe, aborted) is [`LinkDownReason::ClosedByPeer`];
/// anything else is [`LinkDownReason::Io`]. The one place that decides it, for reads and
/// writes alike.
pub(crate) fn io_reason(e: &std::io::Error) -> LinkDownReason {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => {
            LinkDownReason::ClosedByPeer
        }
        kind => LinkDownReason::Io(kind),
    }
}

impl fmt::Display for LinkDownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClosedByPeer => f.write_str("closed by peer"),
            Self::PeerShutDown => f.write_str("peer shut down"),
            Self::LocalShutdown => f.write_str("shut down"),
            Self::HeartbeatTimeout => f.write_str("heartbeat timeout"),
            Self::Replaced => f.write_str("replaced by a newer connection"),
            Self::ProtocolError(e) => write!(f, "protocol error: {e}"),
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Panic => f.write_str("internal error: the link's task panicked"),
            Self::CertificateExpired => f.write_str("the peer's certificate expired"),
            Self::CertificateRefused(r) => {
                write!(
                    f,
                    "after a TLS reload, the peer's certificate is refused: {r}"
                )
            }
            Self::CertificateUpdateRefused(r) => {
                write!(f, "the peer's certificate update is refused: {r}")
            }
            Self::RefusedByPeer(v) => {
                write!(f, "the peer no longer accepts this node's certificate: {v}")
            }
            Self::ReplacedByDuplicate => f.write_str(
                "another process holding the peer's ID (same certificate, higher incarnation) replaced it",
            ),
            Self::DuplicateId => f.write_str(
                "the peer is linked with another process holding this node's ID (same certificate, higher incarnation)",
            ),
            Self::RefusedAfterAccept => f.write_str(
                "the peer refused the connection at the end of its handshake (a REFUSE where the link's first frame was due, as an acceptor sends when it evicts a handshake; its code and text are not read)",
            ),
        }
    }
}
/// Why a node was forgotten ([`NodeEvent::Left`](crate::NodeEvent::Left)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeftReason {
    /// It shut down, saying so (GOODBYE).
    ShutDown,
    /// It could not be reached for `forget_after`, or, known only from a hint, at its first
    /// dials.
    Unreachable,
}

impl fmt::Display for LeftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ShutDown => "it shut down",
            Self::Unreachable => "it could not be reached",
        })
    }
}

/// How a node that joined was learned of ([`NodeEvent::Joined`](crate::NodeEvent::Joined)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinedVia {
    /// It connected to this node.
    Connected,
    /// It answered at one of this node's seed addresses.
    Seed,
    /// A member it is linked to told of it (HINT).
    Hint,
}

impl fmt::Display for JoinedVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connected => "it connected",
            Self::Seed => "it answered at a seed address",
            Self::Hint => "a member told of it",
        })
    }
}

/// Why a monitored mailbox is gone, as told by [`Down`](crate::Down).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DownReason {
    /// The mailbox was dropped, or closed with this reason: it ended as planned.
    Normal,
    /// The mailbox was closed with a reason of the program's own
    /// ([`Mailbox::close`](crate::Mailbox::close)).
    User(String),
    /// The mailbox did not exist (or had already ended) when the monitor was set up.
    NoSuchMailbox,
    /// The node holding the mailbox cannot be reached, so its fate is unknown.
    NoConnection,
    /// A [server](crate::Server) was asked to shut down (by its supervisor, or an exit signal
    /// of this reason) and did: an expected end, not a failure, though a link still carries
    /// it (Erlang's `shutdown`).
    Shutdown,
    /// A server was killed: stopped where it was, without running its `terminate` (a
    /// supervisor's shutdown timeout ran out, or [`Ctx::kill`](crate::Ctx::kill)).
    Killed,
    /// A server's handler panicked; the text is the panic's message.
    Panic(String),
}

impl DownReason {
    /// A reason of the program's own.
    pub fn user(reason: impl Into<String>) -> Self {
        Self::User(reason.into())
    }

    /// Whether this is [`DownReason::Normal`]: the one reason that does not end the servers
    /// linked to the one that ended (unless they trap exits).
    pub fn is_normal(&self) -> bool {
        matches!(self, Self::Normal)
    }
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::User(r) => write!(f, "user: {}", reign_tls::ratelimit::Escaped(r)),
            Self::NoSuchMailbox => f.write_str("no such mailbox"),
            Self::NoConnection => f.write_str("no connection"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::Killed => f.write_str("killed"),
            Self::Panic(r) => write!(f, "panic: {}", reign_tls::ratelimit::Escaped(r)),
        }
    }
}
