//! Monitors that cross a link, on both ends.
//!
//! *Outgoing*: a local mailbox watches a mailbox on the peer. Remembered per peer so that
//! every one fires `NoConnection` when the link drops.
//!
//! *Incoming*: the peer watches one of our mailboxes. The target keeps an ordinary monitor
//! record whose "watcher" is a [`RemoteWatcher`] that turns the `Down` into a DOWN frame on
//! the link it came from. The link's table holds the only strong reference, so when the link
//! goes, the watcher goes, and the target's record is removed.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::link::Link;
use crate::inbox::{AnyInbox, Record};
use crate::remote::RemoteVTable;
use crate::wire::{self, Frame, Text};
use crate::{Down, DownReason, MailboxId, MailboxRef, MonitorId};

/// A peer's monitor of one of our mailboxes.
pub(crate) struct RemoteWatcher {
    link: Weak<Link>,
    /// The peer's monitor ID and watcher mailbox, echoed in the DOWN frame.
    remote_monitor: u64,
    remote_watcher: u64,
}

impl AnyInbox for RemoteWatcher {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn remote(&self) -> Option<&'static RemoteVTable> {
        None
    }

    fn add_watched_by(&self, rec: Record) -> Result<(), Record> {
        Err(rec)
    }

    fn remove_watched_by(&self, _id: MonitorId) {}

    fn deliver_down(&self, down: Down) {
        if let Some(link) = self.link.upgrade() {
            // The target has ended: its record is gone, and so must ours be.
            link.monitors.forget_incoming(self.remote_monitor);
            link.send_ordered(&down_frame(
                self.remote_monitor,
                self.remote_watcher,
                &down.target,
                &down.reason,
            ));
        }
    }

    fn add_name(&self, _name: &str) -> bool {
        false
    }

    fn remove_name(&self, _name: &str) {}
}

/// The DOWN frame for the peer's monitor `monitor` of `target`.
pub(crate) fn down_frame(
    monitor: u64,
    watcher: u64,
    target: &MailboxRef,
    reason: &DownReason,
) -> Frame {
    let (code, text) = match reason {
        DownReason::Normal => (wire::DOWN_NORMAL, ""),
        DownReason::User(t) => (wire::DOWN_USER, t.as_str()),
        DownReason::NoSuchMailbox => (wire::DOWN_NO_SUCH_MAILBOX, ""),
        _ => (wire::DOWN_NO_CONNECTION, ""),
    };
    Frame::Down {
        monitor,
        watcher,
        target: target.id().get(),
        target_incarnation: target.incarnation().get(),
        reason: code,
        text: Text::new(text),
    }
}

/// The reason a DOWN frame carries.
pub(crate) fn down_reason(code: u8, text: &str) -> DownReason {
    match code {
        wire::DOWN_NORMAL => DownReason::Normal,
        wire::DOWN_USER => DownReason::User(text.to_owned()),
        wire::DOWN_NO_SUCH_MAILBOX => DownReason::NoSuchMailbox,
        _ => DownReason::NoConnection,
    }
}

struct Incoming {
    /// Our own monitor ID for the record on the target (IDs from the peer may collide with
    /// ours, so the target's list never sees them).
    local: MonitorId,
    target: Weak<dyn AnyInbox>,
    _watcher: Arc<RemoteWatcher>,
}

/// The monitors crossing one link, both directions.
#[derive(Default)]
pub(crate) struct LinkMonitors {
    /// Ours, on the peer's mailboxes: monitor -> (watcher, target).
    outgoing: Mutex<HashMap<MonitorId, (MailboxId, MailboxRef)>>,
    /// The peer's, on ours: the peer's monitor ID -> record.
    incoming: Mutex<HashMap<u64, Incoming>>,
}

impl LinkMonitors {
    pub(crate) fn add_outgoing(&self, monitor: MonitorId, watcher: MailboxId, target: MailboxRef) {
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(monitor, (watcher, target));
    }

    pub(crate) fn remove_outgoing(&self, monitor: MonitorId) -> Option<(MailboxId, MailboxRef)> {
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&monitor)
    }

    /// Every outgoing monitor, removed (the link is gone: each fires `NoConnection`).
    pub(crate) fn drain_outgoing(&self) -> Vec<(MonitorId, MailboxId, MailboxRef)> {
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(m, (w, t))| (m, w, t))
            .collect()
    }

    /// Records the peer's monitor `remote_monitor` (for its mailbox `remote_watcher`) of our
    /// mailbox `target`. Returns false if the target has already ended.
    pub(crate) fn add_incoming(
        &self,
        link: &Arc<Link>,
        local: MonitorId,
        remote_monitor: u64,
        remote_watcher: u64,
        target: Arc<dyn AnyInbox>,
    ) -> bool {
        let watcher = Arc::new(RemoteWatcher {
            link: Arc::downgrade(link),
            remote_monitor,
            remote_watcher,
        });
        let as_inbox: Arc<dyn AnyInbox> = watcher.clone();
        let record = Record {
            id: local,
            watcher: Arc::downgrade(&as_inbox),
        };
        // Keep the strong reference first, so the record's weak one is live when it fires.
        self.incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                remote_monitor,
                Incoming {
                    local,
                    target: Arc::downgrade(&target),
                    _watcher: watcher,
                },
            );
        if target.add_watched_by(record).is_err() {
            self.incoming
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&remote_monitor);
            return false;
        }
        true
    }

    /// The peer cancelled its monitor.
    pub(crate) fn remove_incoming(&self, remote_monitor: u64) {
        let removed = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&remote_monitor);
        if let Some(i) = removed
            && let Some(t) = i.target.upgrade()
        {
            t.remove_watched_by(i.local);
        }
    }

    /// The target of the peer's monitor ended (its record went with it).
    fn forget_incoming(&self, remote_monitor: u64) {
        let removed = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&remote_monitor);
        // Dropped outside the lock.
        drop(removed);
    }

    /// The link is gone: forget every monitor the peer held on our mailboxes.
    pub(crate) fn clear_incoming(&self) {
        let all: Vec<Incoming> = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, i)| i)
            .collect();
        for i in all {
            if let Some(t) = i.target.upgrade() {
                t.remove_watched_by(i.local);
            }
        }
    }
}
