//! Cluster-wide names (Erlang's `global`) and process groups (Erlang's `pg`).
//!
//! Each node is the only writer of its own names and memberships. It announces every change
//! to its peers and sends its whole set when a link comes up; a node's entries vanish from
//! the others when its link goes down. Every node thus holds a copy, and answers lookups from
//! it without a round trip.
//!
//! **Conflicts.** Two nodes that were partitioned may both hold a name when they meet. Every
//! node picks the same winner with no further message, from facts that every node sees alike
//! and that no claimant chooses when it claims: the claim whose node **ranks first for that
//! name** wins, the rank being the 64-bit FNV-1a hash of the name, a zero byte and the node
//! ID (lower wins; equal hashes: lower node ID). A node's ID is fixed by its certificate, so
//! nothing a node says about time or order (its clock, a sequence number) can win it a name;
//! and the rank is spread over names, so no node wins every conflict. The loser's node drops
//! its claim and tells the losing mailbox with a [`NameConflict`] message (it keeps running:
//! Erlang's notify strategy, without killing anything).
//!
//! *Threat model.* A name held by a live member can change hands only through a conflict. A
//! malicious member can make one at will (claims are announced per link, with no consensus
//! round): by cutting its link to the holder and claiming meanwhile, or by announcing its
//! claim only to some nodes, in which case the holder is never told and the nodes' views
//! differ. It wins only names its node ranks first for: about half the names of any one
//! other node, never names of its choosing. docs/SECURITY.md states this in full.

pub(crate) mod groups;

pub(crate) mod names;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use groups::GroupWatch;

pub(crate) use groups::GroupTable;
pub(crate) use names::NameTable;

/// What ends one of our own claims or memberships when its mailbox ends: detaching it stops
/// the end-of-mailbox callback (the tables hold it without knowing what it is).
pub(crate) trait Detach: Send + Sync {
    /// Removes the callback from its mailbox, if the mailbox still exists.
    fn detach(&self);
}

use crate::MailboxRef;

/// Told to a mailbox that held a cluster-wide name and lost it to another claim after a
/// partition healed. The mailbox no longer holds the name; `winner` does.
///
/// A mailbox type opts in to cluster-wide names by implementing `From<NameConflict>`.
///
/// Made only by the node that delivers it: one inside a message from another node does not
/// decode (the message is refused and counted as undecodable), so no peer can make a mailbox
/// believe it lost its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NameConflict {
    /// The name.
    pub name: String,
    /// The mailbox that holds it now.
    pub winner: MailboxRef,
}

impl<'de> Deserialize<'de> for NameConflict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::codec::refuse_from_peer("NameConflict")?;
        #[derive(Deserialize)]
        #[serde(rename = "NameConflict")]
        struct Wire {
            name: String,
            winner: MailboxRef,
        }
        let w = Wire::deserialize(d)?;
        Ok(NameConflict {
            name: w.name,
            winner: w.winner,
        })
    }
}

crate::message!(NameConflict = "reign.NameConflict");

impl fmt::Display for NameConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name {:?} lost to {}", self.name, self.winner)
    }
}

/// A change of one cluster-wide name, as [`NameWatch::changed`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameChange {
    /// The name now resolves to this mailbox (it resolved to nothing before).
    Registered(MailboxRef),
    /// The name moved from one mailbox to another (e.g. a conflict was resolved).
    Moved {
        /// The previous holder.
        from: MailboxRef,
        /// The new holder.
        to: MailboxRef,
    },
    /// The name resolves to nothing any more.
    Gone(MailboxRef),
}

/// Follows one cluster-wide name. Made by [`GlobalNames::watch`](crate::GlobalNames::watch).
#[derive(Debug)]
pub struct NameWatch {
    rx: watch::Receiver<Option<MailboxRef>>,
    last: Option<MailboxRef>,
}

impl NameWatch {
    pub(crate) fn new(rx: watch::Receiver<Option<MailboxRef>>) -> Self {
        let last = rx.borrow().clone();
        Self { rx, last }
    }

    /// The mailbox the name resolves to now, if any.
    pub fn current(&self) -> Option<MailboxRef> {
        self.rx.borrow().clone()
    }

    /// Waits for the next change of the name. Changes that come and go faster than they are
    /// read are merged (the watch reports where the name went, from where it was last seen).
    /// Returns `None` when the node is gone.
    pub async fn changed(&mut self) -> Option<NameChange> {
        loop {
            self.rx.changed().await.ok()?;
            let now = self.rx.borrow_and_update().clone();
            let change = match (self.last.take(), now.clone()) {
                (None, Some(to)) => Some(NameChange::Registered(to)),
                (Some(from), Some(to)) if from != to => Some(NameChange::Moved { from, to }),
                (Some(from), None) => Some(NameChange::Gone(from)),
                (same, _) => {
                    self.last = same;
                    None
                }
            };
            if let Some(c) = change {
                self.last = now;
                return Some(c);
            }
        }
    }
}

/// Tells the followers of `key` its value `now` (only if it changed), and forgets the watch
/// once nobody follows it: the one way names and groups publish.
fn publish<T: PartialEq>(watches: &mut HashMap<Arc<str>, watch::Sender<T>>, key: &str, now: T) {
    let Some(tx) = watches.get(key) else { return };
    tx.send_if_modified(|v| {
        if *v == now {
            false
        } else {
            *v = now;
            true
        }
    });
    if tx.receiver_count() == 0 {
        watches.remove(key);
    }
}
