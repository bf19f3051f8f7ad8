//! [`Down`], the message a monitor delivers, and why a mailbox ended ([`DownReason`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::proto::reason::LinkDownReason;
use crate::{MailboxRef, MonitorId};

pub use crate::proto::reason::DownReason;

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
    /// For [`DownReason::NoConnection`] fired because this node's link with the target's
    /// node ended: why it ended. It tells a node that is gone from one that may still run:
    /// [`LinkDownReason::PeerShutDown`] (it said it shuts down) and
    /// [`LinkDownReason::ClosedByPeer`] (its connection was closed: its process exited or was
    /// killed, or a network reset) against [`LinkDownReason::HeartbeatTimeout`] (it went
    /// silent: stopped, overloaded or cut off, and it may still act on what it was sent; see
    /// [`went_silent`](Self::went_silent)). `None` otherwise: another reason, the target's node
    /// reported the end itself, or there was no link when the monitor was set up.
    #[serde(skip)]
    pub link: Option<LinkDownReason>,
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
        Ok(Down::new(w.monitor, w.target, w.reason, None))
    }
}

impl Down {
    pub(crate) fn new(
        monitor: MonitorId,
        target: MailboxRef,
        reason: DownReason,
        link: Option<LinkDownReason>,
    ) -> Self {
        Self {
            monitor,
            target,
            reason,
            link,
        }
    }

    /// Whether the monitor fired because the target's node went silent (nothing arrived
    /// for the peer-silence limit) rather than because its mailbox or its node ended for
    /// sure: the target may still be running and may still act on messages it was sent (a
    /// worker that finishes its job late, say). Make such work idempotent (see the guide,
    /// "Exactly-once results on at-most-once delivery").
    pub fn went_silent(&self) -> bool {
        self.link == Some(LinkDownReason::HeartbeatTimeout)
    }
}

impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "down {} ({}): {}",
            self.target, self.monitor, self.reason
        )?;
        match &self.link {
            Some(l) => write!(f, " ({l})"),
            None => Ok(()),
        }
    }
}

crate::message!(Down = "reign.Down");
