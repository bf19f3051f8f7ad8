//! The echo service shared by the examples (and by `tests/it/process.rs`, which checks its
//! bytes on the wire): a mailbox that answers each [`EchoRequest`] with an [`EchoReply`]
//! carrying the same text, sent to the reply address inside the request.
//!
//! `docs/PROTOCOL.md` (its echo worked example) shows both messages byte by byte as they travel between nodes.

// Each example uses a different part of this module.
#![allow(dead_code)]

use reign::{Address, Mailbox, Node, RegistryError};
use serde::{Deserialize, Serialize};

/// How many requests the echo mailbox holds before it refuses more.
const QUEUE: usize = 1024;

/// The name the echo mailbox is registered under on its node.
pub(crate) const NAME: &str = "echo";

/// A request: "send `text` back to `reply`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EchoRequest {
    /// The text to echo.
    pub(crate) text: String,
    /// Where the answer goes; usually a mailbox on another node.
    pub(crate) reply: Address<EchoReply>,
}

/// The answer to an [`EchoRequest`]: the same text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EchoReply {
    /// The text of the request.
    pub(crate) text: String,
}

reign::message!(
    EchoRequest = "reign.echo.Request",
    EchoReply = "reign.echo.Reply"
);

/// Creates the echo mailbox on `node`, registers it as [`NAME`] and serves it in a task
/// until the node's process ends. Returns the mailbox's address.
pub(crate) fn spawn(node: &Node) -> Result<Address<EchoRequest>, RegistryError> {
    // Bounded: anything peers can reach should be, so that a peer sending faster than the
    // echo answers is refused (counted on this node) instead of growing its memory.
    let (inbox, addr) = node.bounded_mailbox::<EchoRequest>(QUEUE);
    node.names().register(NAME, &addr)?;
    tokio::spawn(serve(inbox));
    Ok(addr)
}

/// Answers every request that arrives in `inbox`, forever. A reply that cannot be sent
/// (its node went away) is dropped: delivery is at most once.
pub(crate) async fn serve(mut inbox: Mailbox<EchoRequest>) {
    loop {
        let EchoRequest { text, reply } = inbox.recv().await;
        if let Err(e) = reply.try_send(EchoReply { text }) {
            // A peer decides whether its replies can be sent: logged on a budget.
            reign::tls::warn_limited!(to = %reply, error = %e, "echo reply not sent");
        }
    }
}
