//! The shared half of a mailbox: the incoming queue that senders push into, the parked
//! receiver's waker, and the monitor and name bookkeeping.
//!
//! Senders lock a `std::sync::Mutex` once per message (uncontended in the common case) and
//! wake the receiver only if it is parked. The receiver takes the whole queue in one lock
//! (see `Mailbox`), so it pays one lock per batch, not per message.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;

use crate::node::NodeInner;
mod vtable;
use crate::{
    Down, DownReason, MailboxId, MailboxRef, MonitorId, NodeId, SendError, SendErrorReason,
};
pub(crate) use vtable::{RemoteVTable, restricted_vtable, vtable};

/// One queued entry: a user message, or a system message (a monitor's `Down`), which is kept
/// apart so that `demonitor` can flush it and `call` can see it without a `From<Down>` type.
pub(crate) enum Item<M> {
    Msg(M),
    Sys(Box<SysItem<M>>),
}

pub(crate) struct SysItem<M> {
    pub(crate) monitor: MonitorId,
    down: Down,
    convert: Option<fn(Down) -> M>,
    /// Filled the first time a selective receive looks at it.
    converted: Option<M>,
}

impl<M> Item<M> {
    /// The message as the mailbox's type, converting a `Down` in place the first time;
    /// `None` for a `Down` that has no conversion (only `call`'s internal monitor).
    #[inline]
    pub(crate) fn as_user(&mut self) -> Option<&M> {
        match self {
            Item::Msg(m) => Some(m),
            Item::Sys(s) => {
                if s.converted.is_none()
                    && let Some(f) = s.convert
                {
                    s.converted = Some(f(s.down.clone()));
                }
                s.converted.as_ref()
            }
        }
    }

    /// The message as the mailbox's type, or the raw `Down` if it has no conversion.
    pub(crate) fn into_user(self) -> Result<M, Down> {
        match self {
            Item::Msg(m) => Ok(m),
            Item::Sys(s) => match (s.converted, s.convert) {
                (Some(m), _) => Ok(m),
                (None, Some(f)) => Ok(f(s.down)),
                (None, None) => Err(s.down),
            },
        }
    }

    pub(crate) fn monitor(&self) -> Option<MonitorId> {
        match self {
            Item::Msg(_) => None,
            Item::Sys(s) => Some(s.monitor),
        }
    }
}

/// What a monitor's watcher remembers about its target, to tear the monitor down.
pub(crate) enum TargetHandle {
    Local(Weak<dyn AnyInbox>),
    Remote(MailboxRef),
}

struct Watching {
    target: TargetHandle,
    /// `Option<fn(Down) -> W>` for the watcher's type `W`, erased so that this bookkeeping
    /// is not generic.
    convert: Option<Box<dyn Any + Send + Sync>>,
}

/// A monitor as its target keeps it: whom to tell.
pub(crate) struct Record {
    pub(crate) id: MonitorId,
    pub(crate) watcher: Weak<dyn AnyInbox>,
}

/// Rarely used state, allocated on first use so that an idle mailbox stays small.
///
/// Monitors in both directions are ordered maps by monitor ID: adding or removing one is
/// O(log n) however many a mailbox holds (a peer can hold up to its per-link cap of them on
/// one mailbox, and tears them all down at once when its link ends), and a mailbox that ends
/// fires them in the order they were set.
#[derive(Default)]
struct Extras {
    watched_by: BTreeMap<MonitorId, Weak<dyn AnyInbox>>,
    watching: BTreeMap<MonitorId, Watching>,
    names: Vec<Box<str>>,
    /// The only node whose links may deliver here (a call's reply mailbox), if restricted.
    only_from: Option<NodeId>,
}

struct State<M> {
    queue: VecDeque<Item<M>>,
    waker: Option<Waker>,
    extras: Option<Box<Extras>>,
    closed: bool,
}

impl<M> State<M> {
    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }
}

/// How the receiver takes messages from the shared queue.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Move every queued message (the receiver's own queue is empty, so this is a swap).
    All,
    /// Move one message (bounded mailboxes: capacity counts what the receiver has not taken).
    One,
}

/// What a bounded mailbox has more than an unbounded one.
struct Bound {
    capacity: usize,
    /// Woken when the receiver takes messages (room) or the mailbox ends, for senders
    /// waiting in [`Address::send`](crate::Address::send).
    room: tokio::sync::Notify,
}

pub(crate) struct Shared<M> {
    pub(crate) node: Arc<NodeInner>,
    pub(crate) id: MailboxId,
    /// `None` when unbounded (boxed, so that an unbounded mailbox pays one word for it).
    bound: Option<Box<Bound>>,
    remote: Option<&'static RemoteVTable>,
    state: Mutex<State<M>>,
}

impl<M: Send + 'static> Shared<M> {
    pub(crate) fn new(
        node: Arc<NodeInner>,
        id: MailboxId,
        capacity: usize,
        remote: Option<&'static RemoteVTable>,
        only_from: Option<NodeId>,
    ) -> Self {
        let extras = only_from.map(|n| {
            Box::new(Extras {
                only_from: Some(n),
                ..Extras::default()
            })
        });
        Self {
            node,
            id,
            bound: (capacity != usize::MAX).then(|| {
                Box::new(Bound {
                    capacity,
                    room: tokio::sync::Notify::new(),
                })
            }),
            remote,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                waker: None,
                extras,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // No code panics while holding this lock, but never turn a poisoned lock into a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn mailbox_ref(&self) -> MailboxRef {
        MailboxRef {
            node: self.node.key.clone(),
            id: self.id,
        }
    }

    pub(crate) fn is_bounded(&self) -> bool {
        self.bound.is_some()
    }

    /// How many messages the receiver may leave untaken (`usize::MAX`: unbounded).
    #[inline]
    fn capacity(&self) -> usize {
        self.bound.as_ref().map_or(usize::MAX, |b| b.capacity)
    }

    /// What a sender waiting for room waits on (bounded mailboxes only).
    pub(crate) fn room(&self) -> Option<&tokio::sync::Notify> {
        self.bound.as_ref().map(|b| &b.room)
    }

    /// A user send: refused when closed or (bounded) full. Never blocks beyond the lock.
    #[inline]
    pub(crate) fn push_user(&self, msg: M) -> Result<(), SendError<M>> {
        let r = self.push_one(msg);
        if let Err(e) = &r
            && e.reason() == SendErrorReason::Full
        {
            tracing::debug!(mailbox = %self.id, "send refused: mailbox full");
        }
        r
    }

    /// [`Shared::push_user`] without its log line: for a message from a link, whose
    /// refusals the link counts and logs once per run, on a budget (a peer's runs of one to a
    /// full mailbox must not print a line each).
    #[inline]
    pub(crate) fn push_one(&self, msg: M) -> Result<(), SendError<M>> {
        let waker = {
            let mut st = self.lock();
            if st.closed {
                drop(st);
                return Err(SendError::new(SendErrorReason::Closed, msg));
            }
            if st.queue.len() >= self.capacity() {
                drop(st);
                return Err(SendError::new(SendErrorReason::Full, msg));
            }
            st.queue.push_back(Item::Msg(msg));
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Several user sends under one lock and at most one wake (a run of messages from a
    /// link). Each message is queued or refused as [`Shared::push_user`] would; returns how
    /// many were refused as `Full` and as `Closed`. `items` holds only `Item::Msg`s and is
    /// left empty (with room, for the next batch).
    pub(crate) fn push_many(&self, items: &mut VecDeque<Item<M>>) -> (usize, usize) {
        let (mut full, mut closed) = (0, 0);
        let (waker, dropped) = {
            let mut st = self.lock();
            let mut dropped = VecDeque::new();
            if st.closed {
                closed = items.len();
                // Dropped outside the lock: their destructors may send.
                std::mem::swap(&mut dropped, items);
            } else if st.queue.len() + items.len() <= self.capacity() {
                // The common case: every message fits. A receiver that keeps up has taken
                // the queue, so the batch becomes the queue (and the empty queue the next
                // batch); otherwise it is appended.
                if st.queue.is_empty() {
                    std::mem::swap(&mut st.queue, items);
                } else {
                    st.queue.append(items);
                }
            } else {
                for item in items.drain(..) {
                    if st.queue.len() >= self.capacity() {
                        full += 1;
                        dropped.push_back(item);
                    } else {
                        st.queue.push_back(item);
                    }
                }
            }
            let waker = if st.queue.is_empty() {
                None
            } else {
                st.waker.take()
            };
            (waker, dropped)
        };
        drop(dropped);
        if let Some(w) = waker {
            w.wake();
        }
        (full, closed)
    }

    /// The receiver's visit: moves messages into `local` (see [`Take`]). If there are none,
    /// parks `waker` (when given) and returns false.
    pub(crate) fn take(
        &self,
        local: &mut VecDeque<Item<M>>,
        how: Take,
        waker: Option<&Waker>,
    ) -> bool {
        let mut st = self.lock();
        if st.queue.is_empty() {
            if let Some(w) = waker {
                match &st.waker {
                    Some(old) if old.will_wake(w) => {}
                    _ => st.waker = Some(w.clone()),
                }
            }
            return false;
        }
        st.waker = None;
        match how {
            Take::One => local.extend(st.queue.pop_front()),
            Take::All if local.is_empty() => std::mem::swap(local, &mut st.queue),
            Take::All => local.append(&mut st.queue),
        }
        drop(st);
        if let Some(room) = self.room() {
            room.notify_waiters();
        }
        true
    }

    /// Queues a `Down` for monitor `down.monitor` if this mailbox still watches it
    /// (so nothing arrives after `demonitor`), bypassing the capacity.
    fn push_down(&self, down: Down) {
        let waker = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            let Some(ex) = st.extras.as_mut() else { return };
            let Some(w) = ex.watching.remove(&down.monitor) else {
                return;
            };
            let convert = w
                .convert
                .and_then(|c| c.downcast::<Option<fn(Down) -> M>>().ok())
                .and_then(|c| *c);
            tracing::debug!(watcher = %self.id, target = %down.target, reason = %down.reason, "monitor fired");
            st.queue.push_back(Item::Sys(Box::new(SysItem {
                monitor: down.monitor,
                down,
                convert,
                converted: None,
            })));
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Records that this mailbox watches `target` with monitor `id`. False if closed.
    pub(crate) fn add_watching(
        &self,
        id: MonitorId,
        target: TargetHandle,
        convert: Option<fn(Down) -> M>,
    ) -> bool {
        let mut st = self.lock();
        if st.closed {
            return false;
        }
        let convert = convert.map(|c| Box::new(Some(c)) as Box<dyn Any + Send + Sync>);
        st.extras()
            .watching
            .insert(id, Watching { target, convert });
        true
    }

    /// Stops watching with monitor `id`. Returns the target if the monitor had not fired;
    /// otherwise removes its `Down` from the shared queue and returns `None`.
    pub(crate) fn remove_watching(&self, id: MonitorId) -> Option<TargetHandle> {
        let mut st = self.lock();
        if let Some(ex) = st.extras.as_mut()
            && let Some(w) = ex.watching.remove(&id)
        {
            return Some(w.target);
        }
        st.queue.retain(|item| item.monitor() != Some(id));
        None
    }

    /// Ends the mailbox: refuses later sends, drops queued messages, leaves the node's table
    /// and registry, and fires its monitors. Runs once; later calls do nothing.
    pub(crate) fn terminate(&self, reason: DownReason) {
        let (queue, extras) = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            st.waker = None;
            (std::mem::take(&mut st.queue), st.extras.take())
        };
        // Messages are dropped outside the lock: their destructors may send.
        drop(queue);
        // Senders waiting for room see that it is closed.
        if let Some(room) = self.room() {
            room.notify_waiters();
        }
        self.node.forget_mailbox(self.id);
        tracing::trace!(mailbox = %self.id, %reason, "mailbox terminated");
        let Some(ex) = extras else { return };
        for name in &ex.names {
            self.node.registry.remove_if_holder(name, self.id);
        }
        if !ex.watched_by.is_empty() {
            let target = self.mailbox_ref();
            for (id, watcher) in ex.watched_by {
                if let Some(w) = watcher.upgrade() {
                    w.deliver_down(Down::new(id, target.clone(), reason.clone(), None));
                }
            }
        }
        for (id, w) in ex.watching {
            match w.target {
                TargetHandle::Local(t) => {
                    if let Some(t) = t.upgrade() {
                        t.remove_watched_by(id);
                    }
                }
                TargetHandle::Remote(target) => {
                    self.node.remote_demonitor(&self.mailbox_ref(), id, &target);
                }
            }
        }
    }
}

/// The type-erased face of a mailbox, as the node's table, the registry and monitors see it.
pub(crate) trait AnyInbox: Send + Sync + 'static {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn remote(&self) -> Option<&'static RemoteVTable>;
    /// The only other node that may deliver to this mailbox, when restricted.
    fn only_from(&self) -> Option<NodeId> {
        None
    }
    /// How many monitors (and hooks) watch this mailbox.
    fn watched_by_count(&self) -> usize {
        0
    }
    /// Adds a monitor of this mailbox; gives it back if the mailbox has ended.
    fn add_watched_by(&self, rec: Record) -> Result<(), Record>;
    fn remove_watched_by(&self, id: MonitorId);
    /// Delivers a `Down` to this mailbox as a watcher.
    fn deliver_down(&self, down: Down);
    /// Records a registered name (for removal at the end). False if the mailbox has ended.
    fn add_name(&self, name: &str) -> bool;
    fn remove_name(&self, name: &str);
}

impl<M: Send + 'static> AnyInbox for Shared<M> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn remote(&self) -> Option<&'static RemoteVTable> {
        self.remote
    }

    fn only_from(&self) -> Option<NodeId> {
        self.lock().extras.as_ref()?.only_from.clone()
    }

    fn watched_by_count(&self) -> usize {
        self.lock()
            .extras
            .as_ref()
            .map_or(0, |e| e.watched_by.len())
    }

    fn add_watched_by(&self, rec: Record) -> Result<(), Record> {
        let mut st = self.lock();
        if st.closed {
            return Err(rec);
        }
        st.extras().watched_by.insert(rec.id, rec.watcher);
        Ok(())
    }

    fn remove_watched_by(&self, id: MonitorId) {
        let mut st = self.lock();
        if let Some(ex) = st.extras.as_mut() {
            ex.watched_by.remove(&id);
        }
    }

    fn deliver_down(&self, down: Down) {
        self.push_down(down);
    }

    fn add_name(&self, name: &str) -> bool {
        let mut st = self.lock();
        if st.closed {
            return false;
        }
        st.extras().names.push(name.into());
        true
    }

    fn remove_name(&self, name: &str) {
        let mut st = self.lock();
        if let Some(ex) = st.extras.as_mut()
            && let Some(pos) = ex.names.iter().position(|n| &**n == name)
        {
            ex.names.swap_remove(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;
    use crate::Node;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn shared(capacity: usize) -> Shared<u32> {
        let node = Node::new("t".parse().unwrap());
        Shared::new(node.inner.clone(), MailboxId(1), capacity, None, None)
    }

    fn values(q: &mut VecDeque<Item<u32>>) -> Vec<u32> {
        q.drain(..).filter_map(|i| i.into_user().ok()).collect()
    }

    #[test]
    fn wakes_only_a_parked_receiver_once() {
        let s = shared(usize::MAX);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut local = VecDeque::new();
        s.push_user(1).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "nobody parked");
        assert!(s.take(&mut local, Take::All, Some(&waker)));
        assert!(!s.take(&mut local, Take::All, Some(&waker)), "parks");
        s.push_user(2).unwrap();
        s.push_user(3).unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "one wake for the parked receiver"
        );
        assert!(s.take(&mut local, Take::All, None));
        assert_eq!(values(&mut local), [1, 2, 3]);
    }

    #[test]
    fn take_all_moves_the_batch_and_take_one_moves_one() {
        let s = shared(usize::MAX);
        for i in 0..4 {
            s.push_user(i).unwrap();
        }
        let mut local = VecDeque::new();
        assert!(s.take(&mut local, Take::One, None));
        assert_eq!(local.len(), 1);
        assert!(s.take(&mut local, Take::All, None));
        assert_eq!(values(&mut local), [0, 1, 2, 3]);
        assert!(!s.take(&mut local, Take::All, None));
    }

    #[test]
    fn capacity_counts_untaken_messages_and_close_refuses() {
        let s = shared(2);
        s.push_user(1).unwrap();
        s.push_user(2).unwrap();
        assert_eq!(s.push_user(3).unwrap_err().reason(), SendErrorReason::Full);
        let mut local = VecDeque::new();
        assert!(s.take(&mut local, Take::One, None));
        s.push_user(3).unwrap();
        s.terminate(DownReason::Normal);
        assert_eq!(
            s.push_user(4).unwrap_err().reason(),
            SendErrorReason::Closed
        );
        s.terminate(DownReason::Normal); // twice is harmless
    }

    #[test]
    fn a_down_without_conversion_stays_raw() {
        let s = shared(usize::MAX);
        s.add_watching(MonitorId(9), TargetHandle::Remote(s.mailbox_ref()), None);
        s.deliver_down(Down::new(
            MonitorId(9),
            s.mailbox_ref(),
            DownReason::Normal,
            None,
        ));
        // A second Down for the same monitor is ignored.
        s.deliver_down(Down::new(
            MonitorId(9),
            s.mailbox_ref(),
            DownReason::Normal,
            None,
        ));
        let mut local = VecDeque::new();
        assert!(s.take(&mut local, Take::All, None));
        assert_eq!(local.len(), 1);
        let mut item = local.pop_front().unwrap();
        assert!(item.as_user().is_none());
        assert_eq!(item.into_user().unwrap_err().monitor, MonitorId(9));
    }
}

#[cfg(test)]
mod size_tests {
    /// The idle-memory goal (≤ 256 B per mailbox with its address, table entry included)
    /// rests on these sizes: the shared allocation (two reference counts plus `Shared`) must
    /// stay within glibc's 128-byte chunk, the handles small.
    #[test]
    fn idle_mailbox_parts_stay_small() {
        use std::mem::size_of;
        assert!(
            size_of::<super::Shared<u64>>() + 16 <= 120,
            "{}",
            size_of::<super::Shared<u64>>()
        );
        assert_eq!(size_of::<crate::Address<u64>>(), 16);
        assert_eq!(size_of::<crate::Mailbox<u64>>(), 40);
    }
}
