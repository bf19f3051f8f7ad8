//! Monitors that cross a link, on both ends.
//!
//! *Outgoing*: a local mailbox watches a mailbox on the peer. Remembered per peer so that
//! every one fires `NoConnection` when the link drops.
//!
//! *Incoming*: the peer watches one of our mailboxes. The target keeps an ordinary monitor
//! record whose "watcher" is a hook that turns the `Down` into a DOWN frame on the link it
//! came from. The link's table holds the hook; when the link goes, the hooks are detached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::link::Link;
use crate::global::hook::HookHandle;
use crate::inbox::AnyInbox;
use crate::wire::{self, Frame, Text};
use crate::{Down, DownReason, MailboxId, MailboxRef, MonitorId};

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

/// What became of a peer's MONITOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// Recorded (or replaced the peer's monitor of the same ID).
    Added,
    /// The target has ended: answered with DOWN "no such mailbox".
    Gone,
    /// The peer already holds its cap of monitors on this link (`max_monitors_per_link`).
    OverCap,
}

/// A peer's monitor of one of our mailboxes: a hook on the target (under our own monitor ID,
/// since IDs from the peer may collide with ours) that sends the DOWN frame.
struct IncomingMonitor {
    hook: HookHandle,
}

/// The monitors crossing one link, both directions.
#[derive(Default)]
pub(crate) struct LinkMonitors {
    /// Ours, on the peer's mailboxes: monitor -> (watcher, target).
    outgoing: Mutex<HashMap<MonitorId, (MailboxId, MailboxRef)>>,
    /// The peer's, on ours: the peer's monitor ID -> record.
    incoming: Mutex<HashMap<u64, IncomingMonitor>>,
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
    /// mailbox `target`, unless the peer holds `cap` monitors already. O(log n) in the
    /// monitors the target has (its ordered map) and O(1) here (a hash map); a repeated ID
    /// replaces the earlier monitor at the same cost.
    pub(crate) fn add_incoming(
        &self,
        link: &Arc<Link>,
        local: MonitorId,
        remote_monitor: u64,
        remote_watcher: u64,
        target: Arc<dyn AnyInbox>,
        cap: usize,
    ) -> Incoming {
        {
            let incoming = self.incoming.lock().unwrap_or_else(PoisonError::into_inner);
            if incoming.len() >= cap && !incoming.contains_key(&remote_monitor) {
                return Incoming::OverCap;
            }
        }
        let weak: Weak<Link> = Arc::downgrade(link);
        let hook = HookHandle::attach(local, &target, move |down: &Down| {
            if let Some(link) = weak.upgrade() {
                // The target has ended: its record is gone, and so must ours be.
                link.monitors.forget_incoming(remote_monitor);
                link.send_ordered(&down_frame(
                    remote_monitor,
                    remote_watcher,
                    &down.target,
                    &down.reason,
                ));
            }
        });
        let Some(hook) = hook else {
            return Incoming::Gone;
        };
        // Only this link's reader adds, so the cap checked above still holds.
        let old = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(remote_monitor, IncomingMonitor { hook });
        if let Some(old) = old {
            old.hook.detach();
        }
        Incoming::Added
    }

    /// How many monitors cross the link: (the peer's on ours, ours on the peer's).
    pub(crate) fn held(&self) -> (usize, usize) {
        let incoming = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let outgoing = self
            .outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        (incoming, outgoing)
    }

    /// The peer cancelled its monitor.
    pub(crate) fn remove_incoming(&self, remote_monitor: u64) {
        let removed = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&remote_monitor);
        if let Some(i) = removed {
            i.hook.detach();
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
        let all: Vec<IncomingMonitor> = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, i)| i)
            .collect();
        for i in all {
            i.hook.detach();
        }
    }
}
