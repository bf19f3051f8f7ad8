//! Request and reply: [`Address::call`], built from a one-off mailbox, a monitor and a
//! timed receive.

use std::future::poll_fn;
use std::task::{Poll, ready};
use std::time::Duration;

use crate::{Address, CallError, Message, Node};

impl<M: Send + 'static> Address<M> {
    /// Sends a request and waits at most `timeout` for its reply.
    ///
    /// `request` builds the request from a one-off reply address; the callee answers by
    /// sending one `R` to it. Underneath, `call` creates a mailbox for the reply on the node
    /// this address routes through, monitors the callee (so it fails fast with
    /// [`CallError::Down`] if the callee ends first), sends, and receives with a timeout;
    /// then it removes the monitor and drops the reply mailbox, so a late reply is refused
    /// with [`Closed`](crate::SendErrorReason::Closed). A reply sent before the callee ended
    /// wins over the `Down`, since both arrive in one mailbox in order.
    ///
    /// If the request cannot be sent, the error carries the reason ([`CallError::Send`]) and
    /// the request is dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use reign_core::{Address, Node};
    ///
    /// // A request carrying where to reply.
    /// struct Double {
    ///     n: u64,
    ///     reply: Address<u64>,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let node = Node::new("a".parse().unwrap());
    /// let (mut server, server_addr) = node.local_mailbox::<Double>();
    /// tokio::spawn(async move {
    ///     let req = server.recv().await;
    ///     let _ = req.reply.try_send(req.n * 2);
    /// });
    ///
    /// let answer = server_addr
    ///     .call(|reply| Double { n: 21, reply }, Duration::from_secs(1))
    ///     .await;
    /// assert_eq!(answer, Ok(42));
    /// # }
    /// ```
    pub async fn call<R: Message>(
        &self,
        request: impl FnOnce(Address<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let node = Node {
            inner: self.routing_node().map_err(CallError::Send)?.clone(),
        };
        // From other nodes, the reply mailbox takes messages from the callee's node only.
        let (mut reply_box, reply) = node.reply_mailbox::<R>(self.node_id());
        // No conversion: this monitor's Down stays a raw Down in the reply mailbox.
        let monitor = reply_box.monitor_inner(self, None);
        if let Err(e) = self.try_send(request(reply)) {
            return Err(CallError::Send(e.reason()));
        }
        let outcome = tokio::time::timeout(
            timeout,
            poll_fn(|cx| {
                loop {
                    match ready!(reply_box.poll_item(cx)).into_user() {
                        Ok(answer) => return Poll::Ready(Ok(answer)),
                        Err(down) if monitor.fired(&down) => {
                            return Poll::Ready(Err(CallError::Down(down.reason)));
                        }
                        Err(_) => {}
                    }
                }
            }),
        )
        .await;
        reply_box.demonitor(&monitor);
        outcome.unwrap_or_else(|_| {
            tracing::debug!(callee = %self, ?timeout, "call timed out");
            Err(CallError::Timeout)
        })
    }
}
