//! A callback run when a local mailbox ends, built on the mailbox's ordinary monitor records:
//! how cluster-wide names and group memberships vanish with their mailbox, and how a peer's
//! monitor of a local mailbox becomes a DOWN frame.

use std::any::Any;
use std::sync::{Arc, Weak};

use crate::inbox::RemoteVTable;
use crate::inbox::{AnyInbox, Record};
use crate::{Down, MonitorId};

type Callback = Box<dyn Fn(&Down) + Send + Sync>;

/// Runs its callback when the mailbox it is attached to ends. Whoever holds the returned
/// [`HookHandle`] keeps it alive; dropping the handle (after [`HookHandle::detach`]) cancels it.
struct EndHook {
    callback: Callback,
}

impl AnyInbox for EndHook {
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
        (self.callback)(&down);
    }

    fn add_name(&self, _name: &str) -> bool {
        false
    }

    fn remove_name(&self, _name: &str) {}
}

/// An attached end-of-mailbox callback.
pub(crate) struct HookHandle {
    id: MonitorId,
    target: Weak<dyn AnyInbox>,
    _hook: Arc<EndHook>,
}

impl HookHandle {
    /// Attaches `callback` to `target`, to run once when it ends. `None` if it has ended.
    pub(crate) fn attach(
        id: MonitorId,
        target: &Arc<dyn AnyInbox>,
        callback: impl Fn(&Down) + Send + Sync + 'static,
    ) -> Option<Self> {
        let hook = Arc::new(EndHook {
            callback: Box::new(callback),
        });
        let as_inbox: Arc<dyn AnyInbox> = hook.clone();
        let record = Record {
            id,
            watcher: Arc::downgrade(&as_inbox),
        };
        target.add_watched_by(record).ok()?;
        Some(Self {
            id,
            target: Arc::downgrade(target),
            _hook: hook,
        })
    }

    /// Removes the callback from its mailbox (if it still exists).
    pub(crate) fn detach(&self) {
        if let Some(t) = self.target.upgrade() {
            t.remove_watched_by(self.id);
        }
    }
}

impl crate::global::Detach for HookHandle {
    fn detach(&self) {
        HookHandle::detach(self);
    }
}
