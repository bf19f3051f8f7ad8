//! A link's task runs on the application's runtime, where its socket is registered: a
//! message crosses no thread on its way between the socket and the mailboxes (waking a
//! parked thread costs tens of microseconds on a virtual machine, more than the rest of a
//! round trip). When that runtime stalls (an application that blocks every worker), the
//! node's own thread takes the link over until it runs again, so that its heartbeats keep
//! flowing and its peer's bytes keep being read.
//!
//! The link's future lives in a [`Shared`] slot that two sides poll:
//!
//! - [`drive`], a task on the application's runtime, polls it with that task's waker: the
//!   normal case, every wake-up a reactor's or a sender's on that runtime;
//! - [`watch`], a task on the node's runtime, wakes every quarter heartbeat interval and asks
//!   the link's control plane for its next deadline. A deadline passed by more than that
//!   means the link's timer has not run: the application's runtime is not running the link.
//!   It then polls the same future itself, with the socket in raw mode (see
//!   [`super::link_tls`]), and runs the control plane's timers as the link's timer task
//!   would: what the peer sent is read and handled, heartbeats and whatever is queued are
//!   written, a silent peer is found silent.
//!
//! Whoever polls holds the slot's lock, so the two never poll at once, and neither ever
//! waits for it (`try_lock`): the watch leaves a link being driven alone, and the
//! application's task, finding the watch polling, returns and is woken by the watch when it
//! is done. (An outside test had a member's records hold an application worker in one poll
//! for seconds while the node's thread blocked on this lock: no handshake completed
//! meanwhile.) A poll is bounded however costly the peer's records are to open: the link's
//! TLS stream yields after 64 KiB of records in one poll, whatever they carry. The watch's waker
//! wakes the application's task, which therefore polls the future again when its runtime
//! resumes and puts its own wakers back where the watch's were.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::events::LinkDownReason;
use super::link::{FrameHandler, Link};
use super::signal::Signal;

/// A link's future, as the two sides share it.
type LinkFuture = Pin<Box<dyn Future<Output = LinkDownReason> + Send>>;

/// How many times the watch polls a stalled link's future on each side of running its
/// timers: each poll reads what the socket holds (a bounded amount of work, see the link's
/// reader) and writes what is queued.
const RESCUE_POLLS: usize = 8;

thread_local! {
    /// How many times a link's future was polled on this thread (by [`drive`] or a takeover).
    static POLLS: Cell<u64> = const { Cell::new(0) };
    /// Set while a takeover polls a link's future on this thread.
    static TAKING_OVER: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is polling a link's future in a takeover (its application's runtime
/// not running it: none of that runtime's tasks, the link's mailboxes' receivers among them,
/// runs meanwhile).
pub(crate) fn taking_over() -> bool {
    TAKING_OVER.with(Cell::get)
}

/// Marks this thread as polling a link's future in a takeover (or no longer).
pub(crate) fn set_taking_over(on: bool) {
    TAKING_OVER.with(|t| t.set(on));
}

/// Whether this thread is still in the poll of a link's future that `seen` was taken in (at
/// first, from [`poll_number`]); when not, `seen` becomes the current one.
///
/// The reader's bounds on work between yields count within one poll, so that work done
/// before the task last gave its worker back (its read found the socket empty, say) does not
/// count: a ping-pong that yielded every 256 round trips paid a needless trip through the
/// scheduler each time, often with a parked worker woken for nothing (tens of microseconds
/// on a virtual machine). The number changes between two polls of the same future and never
/// within one: a poll runs on one thread, and no link's poll is nested in another's. A task
/// moved to another thread may find the same number there and yield once more than it
/// needed to, never less. Outside a link's task (the sans-IO harness, tests) the number
/// never changes, and the bounds count from the last yield.
pub(crate) fn still_in(seen: &mut u64) -> bool {
    let now = poll_number();
    std::mem::replace(seen, now) == now
}

/// How many times a link's future was polled on this thread so far (see [`still_in`]).
pub(crate) fn poll_number() -> u64 {
    POLLS.with(Cell::get)
}

/// Counts one poll of a link's future on this thread.
fn polling() {
    POLLS.with(|p| p.set(p.get().wrapping_add(1)));
}

/// The link's future and what its two drivers share (see the module docs).
pub(crate) struct Shared {
    slot: Mutex<Slot>,
    /// The application task's waker, as of its last poll.
    app: Mutex<Option<Waker>>,
    /// The socket's raw mode, set while the watch polls.
    raw: Arc<AtomicBool>,
    /// Set once the future ended or was dropped (read without the slot's lock, which
    /// whoever polls holds).
    ended: AtomicBool,
    /// Wakes the watch when the future ends, so that it ends too instead of sleeping out
    /// its tick (a quarter heartbeat interval, which a node's shutdown waited for).
    ended_signal: Signal,
}

enum Slot {
    Running(LinkFuture),
    /// The future ended (its result, until the application's task takes it), or was
    /// dropped with that task.
    Done(Option<LinkDownReason>),
}

impl Shared {
    /// Shares the link future `fut`, whose socket's raw mode is `raw`.
    pub(crate) fn new(fut: LinkFuture, raw: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Self {
            slot: Mutex::new(Slot::Running(fut)),
            app: Mutex::new(None),
            raw,
            ended: AtomicBool::new(false),
            ended_signal: Signal::default(),
        })
    }

    fn lock_app(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.app.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Records the end of the future (its result, if the application's task is to take it).
    fn end(&self, slot: &mut Slot, result: Option<LinkDownReason>) {
        *slot = Slot::Done(result);
        self.ended.store(true, Ordering::Release);
        self.ended_signal.notify();
    }

    fn poll_app(&self, cx: &mut Context<'_>) -> Poll<LinkDownReason> {
        {
            let mut app = self.lock_app();
            if !app.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *app = Some(cx.waker().clone());
            }
        }
        let mut slot = match self.slot.try_lock() {
            Ok(slot) => slot,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            // The watch is polling the link: it wakes this task when it is done.
            Err(std::sync::TryLockError::WouldBlock) => return Poll::Pending,
        };
        match &mut *slot {
            Slot::Running(fut) => {
                polling();
                let r = std::task::ready!(fut.as_mut().poll(cx));
                self.end(&mut slot, None);
                Poll::Ready(r)
            }
            Slot::Done(r) => Poll::Ready(r.take().unwrap_or(LinkDownReason::LocalShutdown)),
        }
    }
}

/// Drives the link on the runtime this task runs on, until it ends. Dropped (its runtime
/// shutting down), it drops the link's future, as the link's own task would have been.
pub(crate) async fn drive(shared: Arc<Shared>) -> LinkDownReason {
    struct DropFuture(Arc<Shared>);
    impl Drop for DropFuture {
        fn drop(&mut self) {
            let mut slot = self.0.slot.lock().unwrap_or_else(PoisonError::into_inner);
            if matches!(*slot, Slot::Running(_)) {
                self.0.end(&mut slot, None);
            }
        }
    }
    let guard = DropFuture(shared);
    std::future::poll_fn(|cx| guard.0.poll_app(cx)).await
}

/// The watch's waker: wakes the application's task (which then polls again, once its
/// runtime runs, and registers its own wakers), and notes that the link's future asked to be
/// polled again (it yielded with work left: a budget of its reader or of its TLS stream).
struct WakeApp {
    app: Option<Waker>,
    again: AtomicBool,
}

impl Wake for WakeApp {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.again.store(true, Ordering::Release);
        if let Some(w) = &self.app {
            w.wake_by_ref();
        }
    }
}

/// Watches the link from the node's runtime and takes it over while the application's
/// runtime does not run it (see the module docs). Ends with the link.
pub(crate) async fn watch(
    link: Arc<Link>,
    shared: Arc<Shared>,
    handler: Arc<dyn FrameHandler>,
    tick: Duration,
) {
    let mut next = tokio::time::Instant::now() + tick;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = shared.ended_signal.wait() => return,
        }
        if link.is_dead() || shared.ended() {
            return;
        }
        let now = std::time::Instant::now();
        let last = link.last_received();
        let (due, _) = link.step(|s| {
            s.received(last);
            s.poll_timeout(now, std::time::SystemTime::now())
        });
        let Some(due) = due else { return };
        if now < due + tick {
            // Looked at again a tick from now, or a tick past the deadline if that comes
            // first: a takeover begins a tick after a deadline the link's timer missed, not
            // up to two ticks after (the looks ran on a grid of their own, which drifts
            // against the link's deadlines: the first gap between heartbeats in a block was
            // anywhere from 1.25 to 1.5 heartbeat intervals).
            next = tokio::time::Instant::from_std(next_look(now, due, tick));
            continue;
        }
        rescue(&link, &shared, &*handler).await;
        next = tokio::time::Instant::now() + tick;
    }
}

/// When the watch looks at a link next, at `now`, its control plane's next deadline being
/// `due` (not passed by a tick yet): a tick from now, or a tick past the deadline if that is
/// sooner.
fn next_look(
    now: std::time::Instant,
    due: std::time::Instant,
    tick: Duration,
) -> std::time::Instant {
    (now + tick).min(due + tick)
}

/// What one poll of a taken-over link came to.
enum Polled {
    /// Pending; `again`: it asked to be polled again (it yielded with work left).
    Pending { again: bool },
    /// It ended, or the application's task is polling it: the takeover is over.
    Over,
}

/// Polls the link's future once in raw mode, if nobody else is polling it.
fn poll_once(shared: &Shared, waker: &Arc<WakeApp>) -> Polled {
    let Ok(mut slot) = shared.slot.try_lock() else {
        // The application's task is polling the link: it runs.
        return Polled::Over;
    };
    let Slot::Running(fut) = &mut *slot else {
        return Polled::Over;
    };
    struct TakingOver<'a>(&'a AtomicBool);
    impl Drop for TakingOver<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
            set_taking_over(false);
        }
    }
    waker.again.store(false, Ordering::Release);
    let w = Waker::from(waker.clone());
    let mut cx = Context::from_waker(&w);
    shared.raw.store(true, Ordering::Release);
    set_taking_over(true);
    let over = TakingOver(&shared.raw);
    polling();
    let r = fut.as_mut().poll(&mut cx);
    drop(over);
    match r {
        Poll::Ready(r) => {
            shared.end(&mut slot, Some(r));
            Polled::Over
        }
        Poll::Pending => Polled::Pending {
            again: waker.again.load(Ordering::Acquire),
        },
    }
}

/// One takeover: reads and handles what the peer sent, runs the link's timers, writes what
/// is queued.
///
/// The node's thread watches every link, and takes over those whose deadlines passed, one
/// after another: a takeover gives the thread back (a yield to the node's runtime) after
/// each poll that left work to do, so that a link whose peer keeps its polls busy (a poll
/// handles up to 64 KiB of records, say of one byte each, some 3 ms of work) delays another
/// link's takeover by one poll at most, not by its whole takeover (an outside test's five
/// such members, whose takeovers came first, delayed the others' heartbeats by some 220 ms).
/// A link with nothing more to read never yields: its takeover is done at once.
async fn rescue(link: &Arc<Link>, shared: &Shared, handler: &dyn FrameHandler) {
    if shared.slot.try_lock().is_err() {
        // The application's task is polling the link: it runs.
        return;
    }
    reign_tls::debug_limited!(peer = %link.peer, "the application's runtime is not running this link: the node's thread drives it");
    let waker = Arc::new(WakeApp {
        app: shared.lock_app().clone(),
        again: AtomicBool::new(false),
    });
    'pass: for round in 0..2 {
        if round == 1 {
            // What the link's timer task does at a deadline (`link::timers`).
            let last = link.last_received();
            let (r, outs) = link.step(|s| {
                s.received(last);
                s.handle_timeout(std::time::Instant::now(), std::time::SystemTime::now())
            });
            handler.apply(link, outs);
            if let Err(reason) = r {
                link.end(reason);
            }
        }
        for _ in 0..RESCUE_POLLS {
            match poll_once(shared, &waker) {
                Polled::Over => break 'pass,
                Polled::Pending { again: true } => tokio::task::yield_now().await,
                Polled::Pending { again: false } => {}
            }
        }
    }
    // The application's task polls again once its runtime runs: its wakers replace the
    // watch's, and an ended link's result is taken. Its waker as of now: a poll that found
    // the slot taken stored it before trying.
    if let Some(w) = shared.lock_app().clone() {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each poll of a link's future, by its task or by a takeover, is a new poll for the
    /// reader's bounds; within one poll it stays the same.
    #[tokio::test(flavor = "current_thread")]
    async fn every_poll_of_the_link_is_a_new_one_for_the_bounds() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let mut polls = 0;
        let fut: LinkFuture = Box::pin(std::future::poll_fn(move |cx| {
            let mut at = poll_number();
            assert!(still_in(&mut at), "the same poll throughout");
            record.lock().unwrap().push(at);
            polls += 1;
            if polls == 3 {
                return Poll::Ready(LinkDownReason::LocalShutdown);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }));
        let shared = Shared::new(fut, Arc::new(AtomicBool::new(false)));
        assert_eq!(drive(shared).await, LinkDownReason::LocalShutdown);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        let mut first = seen[0];
        assert!(!still_in(&mut first), "a later poll is a new one");
        assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    }

    /// A link made for a test (no socket): its first heartbeat is due at once.
    fn test_link() -> Arc<Link> {
        use crate::cluster::outbound::Outbound;
        use reign_tls::{Incarnation, NodeId};
        let proven = crate::cluster::link::Proven {
            id: NodeId::new("a").unwrap(),
            incarnation: Incarnation(3),
            valid_until: std::time::SystemTime::now() + Duration::from_secs(3600),
            tls: None,
        };
        Arc::new(Link::new(
            proven,
            Incarnation(7),
            Arc::new(Outbound::new(1 << 20, 1 << 16)),
            1 << 16,
            crate::proto::sim::test_limits(),
        ))
    }

    /// Records how far a busy link's takeovers had got when this link's heartbeat was
    /// queued.
    struct Beats {
        busy_polls: Arc<std::sync::atomic::AtomicU64>,
        seen: Mutex<Option<tokio::sync::oneshot::Sender<u64>>>,
    }

    impl FrameHandler for Beats {
        fn apply(&self, _: &Arc<Link>, outs: crate::cluster::link::Outputs) {
            let beat = outs.iter().any(|o| {
                matches!(
                    o,
                    crate::proto::link::Output::SendUrgent(
                        crate::proto::wire::Frame::Heartbeat { .. }
                    )
                )
            });
            if beat && let Some(tx) = self.seen.lock().unwrap().take() {
                let _ = tx.send(self.busy_polls.load(Ordering::Relaxed));
            }
        }
        fn handle(
            &self,
            _: &Arc<Link>,
            _: crate::proto::wire::Frame,
        ) -> Result<(), LinkDownReason> {
            Ok(())
        }
        fn handle_sends(
            &self,
            _: &Link,
            _: &mut crate::node::DeliveryCache,
            _: u64,
            _: u64,
            _: &[u8],
            _: &[&[u8]],
        ) -> bool {
            false
        }
    }

    /// The node's thread takes over one link after another. A link whose every poll is
    /// costly and leaves work (a peer's records that fill each poll's budget) gives the
    /// thread back after each of them, so that another link's takeover, and its heartbeat,
    /// wait for one of its polls, not for its whole takeover (2 x 8 polls: five such links
    /// ahead of it delayed an honest link's heartbeat by some 220 ms in an outside test).
    #[tokio::test(flavor = "current_thread")]
    async fn a_costly_takeover_gives_the_thread_to_other_links_between_its_polls() {
        let busy_polls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (tx, seen) = tokio::sync::oneshot::channel();
        let tick = Duration::from_millis(1);
        // The quiet link's watch starts inside the busy link's first takeover poll: it can
        // run only when that takeover gives the thread back.
        let quiet = test_link();
        let quiet_shared = Shared::new(
            Box::pin(std::future::pending()),
            Arc::new(AtomicBool::new(false)),
        );
        let quiet_handler: Arc<dyn FrameHandler> = Arc::new(Beats {
            busy_polls: busy_polls.clone(),
            seen: Mutex::new(Some(tx)),
        });
        let mut start_quiet = Some(move || {
            tokio::spawn(watch(quiet, quiet_shared, quiet_handler, tick));
        });
        let counted = busy_polls.clone();
        let busy: LinkFuture = Box::pin(std::future::poll_fn(move |cx| {
            if let Some(start) = start_quiet.take() {
                start();
            }
            // A costly poll (longer than the quiet link's tick), that leaves work.
            std::thread::sleep(Duration::from_millis(5));
            counted.fetch_add(1, Ordering::Relaxed);
            cx.waker().wake_by_ref();
            Poll::Pending
        }));
        let busy_link = test_link();
        let busy_handler: Arc<dyn FrameHandler> = Arc::new(Beats {
            busy_polls: busy_polls.clone(),
            seen: Mutex::new(None),
        });
        let busy_watch = tokio::spawn(watch(
            busy_link,
            Shared::new(busy, Arc::new(AtomicBool::new(false))),
            busy_handler,
            tick,
        ));
        let polls = tokio::time::timeout(Duration::from_secs(20), seen)
            .await
            .expect("the quiet link was taken over")
            .unwrap();
        assert!(
            polls < 2 * RESCUE_POLLS as u64,
            "the quiet link's heartbeat waited for the busy link's whole takeover ({polls} polls)"
        );
        busy_watch.abort();
    }

    /// The watch looks again a tick from now, or a tick past the link's deadline if sooner,
    /// so that a takeover begins a tick after a missed deadline.
    #[test]
    fn the_watch_looks_a_tick_past_the_deadline() {
        let now = std::time::Instant::now();
        let tick = Duration::from_millis(250);
        let ms = Duration::from_millis;
        let later = now + ms(1000);
        // The deadline ahead: a tick from now.
        assert_eq!(next_look(later, later + ms(900), tick), later + tick);
        assert_eq!(next_look(later, later + ms(10), tick), later + tick);
        assert_eq!(next_look(later, later, tick), later + tick);
        // The deadline passed by less than a tick: a tick past it, not a tick from now.
        assert_eq!(next_look(later, later - ms(11), tick), later + ms(239));
        assert_eq!(next_look(later, later - ms(249), tick), later + ms(1));
    }

    /// Outside a link's task the number does not change, so the bounds count from the last
    /// yield.
    #[test]
    fn outside_a_link_task_the_poll_stays_the_same() {
        let mut at = poll_number();
        assert!(still_in(&mut at));
        assert!(still_in(&mut at));
        polling();
        assert!(!still_in(&mut at));
        assert!(still_in(&mut at));
    }
}
