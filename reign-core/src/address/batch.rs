//! [`Address::send_batch`]: many messages to one mailbox, each as [`Address::send`] would
//! send it, with one lock of the link's queue per chunk of the stream instead of one per
//! message when the mailbox is on another node.

use bytes::BytesMut;

use super::{Address, RemoteRoute, Route};
use crate::SendErrorReason;

impl<M: Send + 'static> Address<M> {
    /// Sends the messages in `batch`, in order, as [`Address::send`] would send them one by
    /// one (the same waiting for room on a full link or bounded mailbox, the same yield
    /// after each 64 KiB chunk of a stream toward another node), and leaves `batch` empty
    /// (its capacity kept, for the next batch).
    ///
    /// To a mailbox on another node, the messages are encoded into the link's queue under
    /// one lock per chunk (up to 64 KiB of frames) instead of one lock and one check of the
    /// link per message: the cheaper way to stream many small messages. Order and delivery
    /// are as for `send`: messages from one sender to one mailbox arrive in the order sent,
    /// at most once. Each message's `Serialize` runs while the link's queue is locked, as it
    /// does for `send`, here for up to a chunk of messages in a row: an encoding that takes
    /// long keeps the link's writer (and other senders to that node) waiting that long, and
    /// one that sends to that node itself deadlocks, as it would in `send`. One that panics
    /// leaves the link's queue as it was before that message (the panic goes on to the
    /// caller), and `batch` holds the messages not sent, the one that panicked first.
    ///
    /// On failure the reason is returned, and `batch` holds the messages not sent, the first
    /// of them the one that failed: nothing is lost. Cancel-safe in the same way: dropped
    /// while it waits, the future leaves in `batch` exactly the messages not sent yet.
    ///
    /// ```
    /// use reign_core::Node;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let node = Node::new("a".parse().unwrap());
    /// let (mut inbox, addr) = node.mailbox::<u64>();
    /// let mut batch = vec![1, 2, 3];
    /// addr.send_batch(&mut batch).await.unwrap();
    /// assert!(batch.is_empty());
    /// assert_eq!(inbox.recv().await, 1);
    /// assert_eq!(inbox.recv().await, 2);
    /// assert_eq!(inbox.recv().await, 3);
    /// # }
    /// ```
    pub async fn send_batch(&self, batch: &mut Vec<M>) -> Result<(), SendErrorReason> {
        match &self.route {
            Route::Remote(r) => {
                let mut sent = SentPrefix { batch, n: 0 };
                let result = r.send_batch(&mut sent).await;
                // The guard removes what was sent, here or if the future is dropped.
                drop(sent);
                result
            }
            Route::Local(shared) => {
                let rest = Reversed::new(batch);
                while let Some(msg) = rest.0.pop() {
                    let Err(e) = shared.push_user(msg) else {
                        continue;
                    };
                    let (reason, msg) = e.into_parts();
                    rest.0.push(msg);
                    let Some(room) = shared.room().filter(|_| reason == SendErrorReason::Full)
                    else {
                        return Err(reason);
                    };
                    // Registered before the retry, so that room made in between is not
                    // missed; the message waits in the batch, so a drop loses nothing.
                    let notified = room.notified();
                    let mut notified = std::pin::pin!(notified);
                    notified.as_mut().enable();
                    let msg = rest.0.pop().expect("just pushed");
                    match shared.push_user(msg) {
                        Ok(()) => {}
                        Err(e) if e.reason() == SendErrorReason::Full => {
                            rest.0.push(e.into_inner());
                            notified.await;
                        }
                        Err(e) => {
                            let (reason, msg) = e.into_parts();
                            rest.0.push(msg);
                            return Err(reason);
                        }
                    }
                }
                Ok(())
            }
            Route::Unroutable(u) => Err(u.reason),
        }
    }
}

/// The messages of a batch sent so far (`n`, at its front); removed from the batch when
/// this is dropped: when the send ends, or when its future is dropped while it waits. They
/// are dropped then, outside any lock.
struct SentPrefix<'b, M> {
    batch: &'b mut Vec<M>,
    n: usize,
}

impl<M> Drop for SentPrefix<'_, M> {
    fn drop(&mut self) {
        self.batch.drain(..self.n);
    }
}

/// A batch in reverse order, so that its next message is popped from the end; put back in
/// order when dropped (with the messages not sent).
struct Reversed<'b, M>(&'b mut Vec<M>);

impl<'b, M> Reversed<'b, M> {
    fn new(batch: &'b mut Vec<M>) -> Self {
        batch.reverse();
        Self(batch)
    }
}

impl<M> Drop for Reversed<'_, M> {
    fn drop(&mut self) {
        self.0.reverse();
    }
}

impl<M: Send + 'static> RemoteRoute<M> {
    /// Sends what of the batch is not sent yet, counting what was handed to the link,
    /// waiting for room as [`Address::send`] does and yielding after each chunk. (No borrow
    /// of the messages is held across a wait: the future is `Send` for any `M: Send`.)
    async fn send_batch(&self, sent: &mut SentPrefix<'_, M>) -> Result<(), SendErrorReason> {
        while sent.n < sent.batch.len() {
            // Registered before the attempt, so room made in between is not missed (one
            // registration per chunk of the stream, not per message).
            let room = self.peer().filter(|p| !p.retired()).map(|p| p.room());
            let notified = room.as_ref().map(|r| r.notified());
            let mut notified = std::pin::pin!(notified);
            if let Some(n) = notified.as_mut().as_pin_mut() {
                n.enable();
            }
            let before = sent.n;
            let r = self.try_send_many(&sent.batch[sent.n..], &mut sent.n);
            let n = sent.n - before;
            match r {
                // A chunk done: the link's writer gets to run, as after `send`'s.
                Ok(true) => tokio::task::yield_now().await,
                Ok(false) => {}
                Err(SendErrorReason::LinkFull) if n == 0 => match notified.as_pin_mut() {
                    Some(n) => n.await,
                    // No route of its own to wait on (through the router): as `send`.
                    None => return Err(SendErrorReason::LinkFull),
                },
                // Some went; the rest is tried again (and waits if still full).
                Err(SendErrorReason::LinkFull) => {}
                Err(reason) => return Err(reason),
            }
        }
        Ok(())
    }

    /// Sends the front of `msgs` as far as it goes under one lock of the peer's queue,
    /// counting each message sent in `done` as it is sent (so that the count is right even if
    /// a message's `Serialize` panics): `Ok(true)` if a chunk completed, `Ok(false)` if all
    /// were sent, or why the next one was not.
    fn try_send_many(&self, msgs: &[M], done: &mut usize) -> Result<bool, SendErrorReason> {
        if let Some(peer) = self.peer() {
            let encode = self.encode;
            let mut write = |i: usize, buf: &mut BytesMut| encode(&msgs[i], buf);
            let before = *done;
            match peer.send_many(&self.target, self.tag, msgs.len(), &mut write, done) {
                // A route the router dropped: one at a time through the router, below.
                Err(SendErrorReason::NoConnection) if *done == before && peer.retired() => {}
                r => return r,
            }
        }
        for m in msgs {
            let chunk_done = self.try_send(m)?;
            *done += 1;
            if chunk_done {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::{Node, SendErrorReason};

    fn node() -> Node {
        Node::new("batch-test".parse().expect("id"))
    }

    fn poll<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_local_batch_is_queued_in_order_and_comes_back_empty() {
        let node = node();
        let (mut inbox, addr) = node.mailbox::<u64>();
        let mut batch: Vec<u64> = (0..100).collect();
        let cap = batch.capacity();
        assert!(poll(pin!(addr.send_batch(&mut batch))).is_ready());
        assert!(batch.is_empty());
        assert_eq!(batch.capacity(), cap, "capacity kept");
        for i in 0..100 {
            assert_eq!(inbox.try_recv(), Some(i));
        }
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn a_full_bounded_mailbox_makes_it_wait_and_a_drop_keeps_what_was_not_sent() {
        let node = node();
        let (mut inbox, addr) = node.bounded_mailbox::<u64>(2);
        let mut batch: Vec<u64> = (0..5).collect();
        {
            let mut sending = pin!(addr.send_batch(&mut batch));
            assert!(poll(sending.as_mut()).is_pending(), "room for two only");
            assert_eq!(inbox.try_recv(), Some(0));
            assert!(poll(sending.as_mut()).is_pending(), "room for one more");
        }
        assert_eq!(
            batch,
            vec![3, 4],
            "dropped while waiting: exactly the unsent, in order"
        );
        assert_eq!(inbox.try_recv(), Some(1));
        assert_eq!(inbox.try_recv(), Some(2));
        assert!(matches!(
            poll(pin!(addr.send_batch(&mut batch))),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(inbox.try_recv(), Some(3));
        assert_eq!(inbox.try_recv(), Some(4));
        assert!(batch.is_empty());
    }

    #[test]
    fn a_closed_mailbox_returns_the_reason_and_the_batch_untouched() {
        let node = node();
        let (inbox, addr) = node.mailbox::<u64>();
        drop(inbox);
        let mut batch = vec![1, 2, 3];
        match poll(pin!(addr.send_batch(&mut batch))) {
            Poll::Ready(Err(reason)) => assert_eq!(reason, SendErrorReason::Closed),
            other => panic!("expected Closed, got {other:?}"),
        }
        assert_eq!(batch, vec![1, 2, 3]);
    }

    #[test]
    fn the_future_is_send_for_a_message_that_is_not_sync() {
        fn check<T: Send>(_: &T) {}
        #[derive(serde::Serialize, serde::Deserialize)]
        struct NotSync(std::cell::Cell<u64>);
        crate::message!(NotSync = "test.NotSync");
        let node = node();
        let (_inbox, addr) = node.mailbox::<NotSync>();
        let mut batch = vec![NotSync(std::cell::Cell::new(1))];
        check(&addr.send_batch(&mut batch));
    }
}
