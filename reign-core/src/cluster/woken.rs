//! A future polled only when its own waker fired: for a branch of a link's task that is
//! rarely ready (its timers), which `select!` would otherwise poll on every wake-up of the
//! task, twice per message hop in a ping-pong (a `Sleep`'s poll and its waker's registration
//! are some 250 instructions each time).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Wraps `F` so that polling it does nothing unless `F`'s waker fired since its last poll
/// (or it was never polled).
pub(crate) struct WhenWoken<F> {
    inner: Pin<Box<F>>,
    flag: Arc<Flag>,
    /// The waker `F` is polled with: it sets the flag and wakes whoever polled last.
    waker: Waker,
}

struct Flag {
    woken: AtomicBool,
    outer: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.outer.wake();
    }
}

impl<F: Future> WhenWoken<F> {
    pub(crate) fn new(inner: F) -> Self {
        let flag = Arc::new(Flag {
            woken: AtomicBool::new(true),
            outer: AtomicWaker::new(),
        });
        Self {
            inner: Box::pin(inner),
            waker: Waker::from(flag.clone()),
            flag,
        }
    }
}

impl<F: Future> Future for WhenWoken<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Registered before the flag is read: a wake-up after the read wakes this waker.
        this.flag.outer.register(cx.waker());
        if !this.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        this.inner
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// A future that counts its polls and is ready once told.
    struct Counted {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Counted {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Polls of the wrapper between wake-ups of the inner future do not reach it; its wake-up
    /// wakes whoever polled the wrapper last, and the next poll reaches it.
    #[test]
    fn only_its_own_wake_up_reaches_the_inner_future() {
        let polls = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicBool::new(false));
        let inner_waker = Arc::new(std::sync::Mutex::new(None));
        let mut f = WhenWoken::new(Counted {
            polls: polls.clone(),
            ready: ready.clone(),
            waker: inner_waker.clone(),
        });
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (first, second) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let (w1, w2) = (Waker::from(first.clone()), Waker::from(second.clone()));
        let mut poll = |w: &Waker| Pin::new(&mut f).poll(&mut Context::from_waker(w));
        assert!(poll(&w1).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 1, "the first poll reaches it");
        for _ in 0..10 {
            assert!(poll(&w1).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1, "spurious polls do not");
        // Polled last by another waker (the node's thread driving a stalled link, say).
        assert!(poll(&w2).is_pending());
        ready.store(true, Ordering::SeqCst);
        inner_waker.lock().unwrap().take().unwrap().wake();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(
            second.0.load(Ordering::SeqCst),
            1,
            "the last poller is woken"
        );
        assert!(poll(&w1).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    /// A timer inside fires as it would alone.
    #[tokio::test(start_paused = true)]
    async fn a_sleep_inside_fires() {
        let start = tokio::time::Instant::now();
        WhenWoken::new(tokio::time::sleep(Duration::from_secs(3))).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
