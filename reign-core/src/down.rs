//! [`Down`], the message a monitor delivers, and why a mailbox ended ([`DownReason`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{MailboxRef, MonitorId};

/// Why a monitored mailbox is gone, as told by [`Down`].
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
}

impl DownReason {
    /// A reason of the program's own.
    pub fn user(reason: impl Into<String>) -> Self {
        Self::User(reason.into())
    }
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::User(r) => write!(f, "user: {}", reign_tls::ratelimit::Escaped(r)),
            Self::NoSuchMailbox => f.write_str("no such mailbox"),
            Self::NoConnection => f.write_str("no connection"),
        }
    }
}

/// The message a monitor delivers when its target ends.
///
/// It arrives in the watcher's own mailbox, in order with the watcher's other messages, so
/// a selective receive can wait for it. A mailbox type opts in to monitors by implementing
/// `From<Down>`; see [`Mailbox::monitor`](crate::Mailbox::monitor).
///
/// A `Down` is made only by the node that delivers it: one inside a message from another node
/// does not decode (the message is refused and counted as undecodable), so no peer can forge
/// a monitor's notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Down {
    /// The monitor that fired (the [`MonitorRef`](crate::MonitorRef) its creation returned).
    pub monitor: MonitorId,
    /// The mailbox that ended.
    pub target: MailboxRef,
    /// Why it ended.
    pub reason: DownReason,
}

impl<'de> Deserialize<'de> for Down {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::codec::refuse_from_peer("Down")?;
        #[derive(Deserialize)]
        #[serde(rename = "Down")]
        struct Wire {
            monitor: MonitorId,
            target: MailboxRef,
            reason: DownReason,
        }
        let w = Wire::deserialize(d)?;
        Ok(Down::new(w.monitor, w.target, w.reason))
    }
}

impl Down {
    pub(crate) fn new(monitor: MonitorId, target: MailboxRef, reason: DownReason) -> Self {
        Self {
            monitor,
            target,
            reason,
        }
    }
}

impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "down {} ({}): {}",
            self.target, self.monitor, self.reason
        )
    }
}

crate::message!(Down = "reign.Down");
