//! The future of [`Address::send`]: a hand-written state machine, so that the common case
//! (the message queued at the first poll) costs a call and a move, not an `async` block's
//! states; what has to wait (a full link or mailbox, the yield after a chunk of a stream) is
//! boxed, once per wait.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Address;
use crate::SendError;

/// What a send still waits for after its first attempt.
pub(crate) type Wait<'a, M> = Pin<Box<dyn Future<Output = Result<(), SendError<M>>> + Send + 'a>>;

/// The future [`Address::send`] returns: resolves once the message is queued (or refused;
/// see there). Cancel-safe: dropping it drops the message if it was not sent yet.
#[must_use = "a send does nothing unless awaited"]
pub struct Sending<'a, M: Send + 'static> {
    addr: &'a Address<M>,
    /// The message until the first poll.
    msg: Option<M>,
    /// What the send waits for after the first poll, if anything.
    wait: Option<Wait<'a, M>>,
}

impl<'a, M: Send + 'static> Sending<'a, M> {
    pub(super) fn new(addr: &'a Address<M>, msg: M) -> Self {
        Self {
            addr,
            msg: Some(msg),
            wait: None,
        }
    }
}

// The message is only ever moved out, never pinned: the future is `Unpin` whatever `M` is.
impl<M: Send + 'static> Unpin for Sending<'_, M> {}

impl<M: Send + 'static> Future for Sending<'_, M> {
    type Output = Result<(), SendError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(msg) = this.msg.take() {
            match this.addr.start_send(msg) {
                Ok(None) => return Poll::Ready(Ok(())),
                Ok(Some(wait)) => this.wait = Some(wait),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        match this.wait.as_mut() {
            Some(wait) => {
                let r = std::task::ready!(wait.as_mut().poll(cx));
                this.wait = None;
                Poll::Ready(r)
            }
            // Polled again after it completed: there is nothing more to do.
            None => Poll::Pending,
        }
    }
}

impl<M: Send + 'static> std::fmt::Debug for Sending<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sending")
            .field("address", self.addr)
            .field("started", &self.msg.is_none())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use crate::{Node, SendErrorReason};

    fn node() -> Node {
        Node::new("sending-test".parse().expect("id"))
    }

    fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn the_future_is_send_and_unpin_whatever_the_message() {
        fn check<T: Send + Unpin>(_: &T) {}
        struct NotUnpin(u64, std::marker::PhantomPinned);
        crate::message!(NotUnpin = "test.NotUnpin");
        impl serde::Serialize for NotUnpin {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
        impl<'de> serde::Deserialize<'de> for NotUnpin {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                u64::deserialize(d).map(|n| NotUnpin(n, std::marker::PhantomPinned))
            }
        }
        let node = node();
        let (_inbox, addr) = node.mailbox::<NotUnpin>();
        check(&addr.send(NotUnpin(1, std::marker::PhantomPinned)));
    }

    #[test]
    fn nothing_is_sent_before_the_first_poll_and_a_dropped_send_drops_its_message() {
        let node = node();
        let (mut inbox, addr) = node.mailbox::<u64>();
        let unpolled = addr.send(1);
        assert!(inbox.try_recv().is_none(), "lazy: nothing sent yet");
        drop(unpolled);
        assert!(
            inbox.try_recv().is_none(),
            "dropped before its first poll: not sent"
        );
        let mut sent = addr.send(2);
        assert!(matches!(poll(&mut sent), Poll::Ready(Ok(()))));
        assert!(
            poll(&mut sent).is_pending(),
            "polled after completion: no panic, no resend"
        );
        assert_eq!(inbox.try_recv(), Some(2));
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn a_send_to_a_full_mailbox_waits_for_room_and_a_closed_one_returns_the_message() {
        let node = node();
        let (mut inbox, addr) = node.bounded_mailbox::<u64>(1);
        addr.try_send(1).expect("room for one");
        let mut waiting = addr.send(2);
        assert!(poll(&mut waiting).is_pending(), "full: waits");
        assert_eq!(inbox.try_recv(), Some(1));
        assert!(
            matches!(poll(&mut waiting), Poll::Ready(Ok(()))),
            "room: queued"
        );
        assert_eq!(inbox.try_recv(), Some(2));
        drop(inbox);
        let mut closed = addr.send(3);
        match poll(&mut closed) {
            Poll::Ready(Err(e)) => {
                assert_eq!(e.reason(), SendErrorReason::Closed);
                assert_eq!(e.into_inner(), 3);
            }
            other => panic!("expected Closed, got {:?}", other.map(|r| r.is_ok())),
        }
    }
}
