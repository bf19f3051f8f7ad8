//! [`Mailbox`]: the receiving end, with plain, timed and selective receive.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::address::Address;
use crate::inbox::{Item, Shared, Take};
use crate::{DownReason, MailboxRef, Node};

/// The receiving end of a mailbox, owned by one task.
///
/// Created with its [`Address`] by [`Node::mailbox`] (or its bounded and local-only
/// variants). Messages from one sender arrive in the order sent. Receiving waits for ever
/// if nothing comes (more senders can always appear, from the registry or a decoded
/// address), so bound a wait with the `_timeout` variants.
///
/// The mailbox ends when it is dropped (reason [`DownReason::Normal`]) or closed with
/// [`Mailbox::close`]: later sends fail with [`Closed`](crate::SendErrorReason::Closed),
/// monitors fire, and its registered names disappear.
///
/// ```
/// use std::time::Duration;
/// use reign_core::Node;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::new("a".parse().unwrap());
/// let (mut inbox, addr) = node.mailbox::<u64>();
/// tokio::spawn(async move {
///     for i in 0..3 {
///         addr.try_send(i).unwrap();
///     }
/// });
/// assert_eq!(inbox.recv().await, 0);
/// assert_eq!(inbox.recv_timeout(Duration::from_secs(1)).await, Some(1));
/// assert_eq!(inbox.recv().await, 2);
/// assert_eq!(inbox.try_recv(), None);
/// # }
/// ```
///
/// # Selective receive
///
/// [`Mailbox::recv_matching`] waits for the first message that matches a predicate and
/// leaves every other message queued in its original order, like Erlang's `receive` with
/// patterns. While one selective receive waits, it does not examine again the messages it
/// has already passed over: waiting behind K queued messages costs O(K) once.
///
/// ```
/// use reign_core::Node;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::new("a".parse().unwrap());
/// let (mut inbox, addr) = node.mailbox::<String>();
/// for word in ["apple", "banana", "cherry"] {
///     addr.try_send(word.to_string()).unwrap();
/// }
/// let b = inbox.recv_matching(|w| w.starts_with('b')).await;
/// assert_eq!(b, "banana");
/// // The others are still there, in order.
/// assert_eq!(inbox.recv().await, "apple");
/// assert_eq!(inbox.recv().await, "cherry");
/// # }
/// ```
pub struct Mailbox<M: Send + 'static> {
    pub(crate) shared: Arc<Shared<M>>,
    /// Messages taken from the shared queue and not yet received; during a selective
    /// receive, the messages it passed over (Erlang's save queue).
    pub(crate) local: VecDeque<Item<M>>,
}

/// Messages of a backlog read per unit of tokio's cooperative budget (see
/// `Mailbox::poll_item`): a task reading a backlog yields at least every 128 × this many.
/// (One unit per message, as tokio's channels charge, cost the cluster stream a third of
/// its rate: it made the receiver yield in the middle of every run.)
const BACKLOG_PER_UNIT: usize = 32;

impl<M: Send + 'static> Mailbox<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>) -> Self {
        Self {
            shared,
            local: VecDeque::new(),
        }
    }

    /// This mailbox's address.
    pub fn address(&self) -> Address<M> {
        Address::local(self.shared.clone())
    }

    /// This mailbox's untyped identity.
    pub fn mailbox_ref(&self) -> MailboxRef {
        self.shared.mailbox_ref()
    }

    /// The node that owns this mailbox.
    pub fn node(&self) -> Node {
        Node {
            inner: self.shared.node.clone(),
        }
    }

    fn take_mode(&self) -> Take {
        if self.shared.is_bounded() {
            Take::One
        } else {
            Take::All
        }
    }

    /// The next queued entry, user message or system message.
    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Item<M>> {
        loop {
            let n = self.local.len();
            if n > 0 {
                // A backlog taken in one batch (a peer's flood, say) is read without visiting
                // the shared queue: one unit of tokio's cooperative budget per
                // `BACKLOG_PER_UNIT` messages of it, so the task still yields to the rest of
                // the runtime (after 128 units) without paying for it on every message.
                if n.is_multiple_of(BACKLOG_PER_UNIT) {
                    ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                }
                if let Some(item) = self.local.pop_front() {
                    return Poll::Ready(item);
                }
            }
            // One unit per visit to the shared queue.
            let coop = ready!(tokio::task::coop::poll_proceed(cx));
            let how = self.take_mode();
            if !self.shared.take(&mut self.local, how, Some(cx.waker())) {
                return Poll::Pending;
            }
            coop.made_progress();
        }
    }

    /// Polls for the next message; for use in hand-written futures.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<M> {
        loop {
            match ready!(self.poll_item(cx)) {
                // Matched here, so that a user message is not moved through a `Result`.
                Item::Msg(msg) => return Poll::Ready(msg),
                // A `Down` without a conversion only exists in `call`'s private mailbox.
                sys => {
                    if let Ok(msg) = sys.into_user() {
                        return Poll::Ready(msg);
                    }
                }
            }
        }
    }

    /// Waits for the next message.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no message is lost.
    pub async fn recv(&mut self) -> M {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next message if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<M> {
        loop {
            let item = match self.local.pop_front() {
                Some(item) => item,
                None => {
                    let how = self.take_mode();
                    if !self.shared.take(&mut self.local, how, None) {
                        return None;
                    }
                    continue;
                }
            };
            if let Ok(msg) = item.into_user() {
                return Some(msg);
            }
        }
    }

    /// Waits for the next message at most `timeout`; `None` if none came.
    ///
    /// Uses tokio's timer: call it inside a runtime with time enabled.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<M> {
        tokio::time::timeout(timeout, self.recv()).await.ok()
    }

    /// Waits for the first message for which `matches` returns true, and returns it; all
    /// other messages stay queued in their order. See the [type-level docs](Mailbox#selective-receive).
    ///
    /// `matches` sees each message once per call. Cancel-safe: dropping the future leaves
    /// every message queued in order.
    pub async fn recv_matching(&mut self, mut matches: impl FnMut(&M) -> bool) -> M {
        let mut scanned = 0;
        poll_fn(|cx| self.poll_matching(cx, &mut matches, &mut scanned)).await
    }

    /// [`Mailbox::recv_matching`] bounded by `timeout`; `None` if no message matched in time.
    pub async fn recv_matching_timeout(
        &mut self,
        timeout: Duration,
        matches: impl FnMut(&M) -> bool,
    ) -> Option<M> {
        tokio::time::timeout(timeout, self.recv_matching(matches))
            .await
            .ok()
    }

    /// The first queued message that matches, without waiting; the others stay in order.
    pub fn try_recv_matching(&mut self, mut matches: impl FnMut(&M) -> bool) -> Option<M> {
        let mut scanned = 0;
        loop {
            if let Some(msg) = self.scan(&mut matches, &mut scanned) {
                return Some(msg);
            }
            if !self.shared.take(&mut self.local, Take::All, None) {
                return None;
            }
        }
    }

    fn poll_matching(
        &mut self,
        cx: &mut Context<'_>,
        matches: &mut impl FnMut(&M) -> bool,
        scanned: &mut usize,
    ) -> Poll<M> {
        loop {
            if let Some(msg) = self.scan(matches, scanned) {
                return Poll::Ready(msg);
            }
            let coop = ready!(tokio::task::coop::poll_proceed(cx));
            if !self
                .shared
                .take(&mut self.local, Take::All, Some(cx.waker()))
            {
                return Poll::Pending;
            }
            coop.made_progress();
        }
    }

    /// Examines `local[*scanned..]`, advancing `scanned` past messages that do not match.
    fn scan(&mut self, matches: &mut impl FnMut(&M) -> bool, scanned: &mut usize) -> Option<M> {
        let start = (*scanned).min(self.local.len());
        // User messages are tested directly; a `Down` goes through its conversion first.
        let found = self.local.range_mut(start..).position(|item| match item {
            Item::Msg(m) => matches(m),
            sys => sys_matches(sys, matches),
        });
        let Some(offset) = found else {
            *scanned = self.local.len();
            return None;
        };
        *scanned = start + offset;
        // `as_user` matched, so `into_user` is `Ok`.
        self.local.remove(*scanned)?.into_user().ok()
    }

    /// Ends the mailbox with `reason`: monitors receive `Down` with this reason, later sends
    /// fail with [`Closed`](crate::SendErrorReason::Closed), and queued messages are dropped.
    /// Dropping a mailbox is `close(DownReason::Normal)`.
    pub fn close(self, reason: DownReason) {
        self.shared.terminate(reason);
    }
}

/// A system message seen by a selective receive: converted (once) and tested. Kept out of
/// line so the scan loop over user messages stays tight.
#[cold]
#[inline(never)]
fn sys_matches<M>(item: &mut Item<M>, matches: &mut impl FnMut(&M) -> bool) -> bool {
    item.as_user().is_some_and(matches)
}

impl<M: Send + 'static> Drop for Mailbox<M> {
    fn drop(&mut self) {
        self.shared.terminate(DownReason::Normal);
    }
}

impl<M: Send + 'static> fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("address", &self.shared.mailbox_ref())
            .field("type", &std::any::type_name::<M>())
            .finish()
    }
}
