//! A wake-up for one waiting task: what a link's writer waits on for queued bytes, and what
//! ends a link at once.
//!
//! tokio's `Notify` serves any number of waiters, so each poll of a `Notified` that has not
//! fired takes the waiter list's lock to check its waker; a link's task polls both of its
//! signals on every wake-up (its branches are polled together), four times per ping-pong
//! round trip. One waiter needs only a flag and an [`AtomicWaker`]: a poll is two atomic
//! operations when nothing changed.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

/// A flag with one waiter (see the module docs). Like `Notify::notify_one`, a notification
/// with nobody waiting is kept for the next wait.
#[derive(Default)]
pub(crate) struct Signal {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Sets the flag and wakes the waiter, if any.
    pub(crate) fn notify(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready (and the flag cleared) once the flag is set.
    pub(crate) fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.set.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A notification between the check and the registration woke the previous waker.
        if self.set.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Waits until the flag is set, and clears it.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| self.poll_wait(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Signal;

    #[tokio::test]
    async fn a_notification_before_the_wait_is_kept_and_taken_once() {
        let s = Signal::default();
        s.notify();
        s.notify();
        tokio::time::timeout(Duration::from_secs(5), s.wait())
            .await
            .expect("kept");
        let again = tokio::time::timeout(Duration::from_millis(20), s.wait()).await;
        assert!(again.is_err(), "two notifications are one");
    }

    /// The waiter's waker is woken by a notification, and the next poll is ready.
    #[test]
    fn a_notification_wakes_the_registered_waker() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::{Context, Poll, Wake, Waker};
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let s = Signal::default();
        assert_eq!(s.poll_wait(&mut cx), Poll::Pending);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        s.notify();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken");
        assert_eq!(s.poll_wait(&mut cx), Poll::Ready(()));
        assert_eq!(s.poll_wait(&mut cx), Poll::Pending, "taken once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_notification_from_another_thread_wakes_the_waiter() {
        let s = Arc::new(Signal::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..10_000u32 {
                    s.wait().await;
                    tx.send(i).expect("ack");
                }
            })
        };
        for i in 0..10_000u32 {
            s.notify();
            let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("woken")
                .expect("ack");
            assert_eq!(got, i);
        }
        waiter.await.expect("waiter");
    }
}
