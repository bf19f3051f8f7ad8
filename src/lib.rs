//! reign: Erlang-style mailboxes, monitors and names for distributed Rust, on an
//! identity-checked mutual-TLS mesh.
//!
//! A server (Erlang's `gen_server`), supervised, called from any node:
//!
//! ```no_run
//! use std::time::Duration;
//! use reign::{ChildSpec, Ctx, Exit, Node, NodeConfig, ReplyTo, Server, Strategy, Supervisor, SupervisorSpec};
//!
//! struct Counter(u64);
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! enum Msg {
//!     Add(u64),                  // a cast
//!     Get(ReplyTo<u64>),         // a call: the variant fixes its reply type
//! }
//! reign::message!(Msg = "myapp.Counter");      // a stable type tag for the wire
//!
//! impl Server for Counter {
//!     type Msg = Msg;
//!     type Args = u64;
//!     async fn init(start: u64, ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
//!         ctx.node().global().register_server("counter", &ctx.myself())?; // for every node
//!         Ok(Counter(start))
//!     }
//!     async fn handle(&mut self, msg: Msg, _: &mut Ctx<Self>) -> Result<(), Exit> {
//!         match msg {
//!             Msg::Add(n) => self.0 += n,
//!             Msg::Get(reply) => reply.send(self.0), // dropping `reply` fails the call at once
//!         }
//!         Ok(())                 // an error (any `?`) or a panic ends it, with the reason
//!     }
//! }
//!
//! async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let node = Node::start(NodeConfig::from_file("a.toml".as_ref())?).await?;
//!     // Supervised: restarted if it fails, up to 3 times in 5 s.
//!     let tree = SupervisorSpec::new(Strategy::OneForOne)
//!         .intensity(3, Duration::from_secs(5))
//!         .child(ChildSpec::new::<Counter>("counter", || 0));
//!     node.spawn::<Supervisor>(tree).await?;
//!
//!     // Anywhere in the cluster, the same calls, local or remote:
//!     let counter = node.global().wait_for_server::<Counter>("counter", Duration::from_secs(5)).await?;
//!     counter.cast(Msg::Add(2))?;
//!     let n: u64 = counter.call(Msg::Get, Duration::from_secs(1)).await?;
//!     assert_eq!(n, 2);
//!     Ok(())
//! }
//! ```
//!
//! Beneath servers, the mailbox layer. A node starts from a small config and three PEM
//! files; its mailboxes are reached by address from any node of the cluster:
//!
//! ```no_run
//! use std::time::Duration;
//! use reign::{Down, NameConflict, Node, NodeConfig};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! enum Msg { Hello(String), Down(Down), Conflict(NameConflict) }
//! impl From<Down> for Msg { fn from(d: Down) -> Self { Msg::Down(d) } }
//! impl From<NameConflict> for Msg { fn from(c: NameConflict) -> Self { Msg::Conflict(c) } }
//! reign::message!(Msg = "myapp.Msg");          // a stable type tag for the wire
//!
//! async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let node = Node::start(NodeConfig::from_file("a.toml".as_ref())?).await?;
//!     let (mut inbox, addr) = node.mailbox::<Msg>();
//!     node.global().register("greeter", &addr)?;     // resolvable from every node
//!
//!     // Anywhere in the cluster: look it up (from the node's own copy), send, monitor.
//!     let greeter = node.global().wait_for::<Msg>("greeter", Duration::from_secs(5)).await?;
//!     greeter.try_send(Msg::Hello("hi".into()))?;  // never waits; a failure gives the message back
//!     let _watch = inbox.monitor(&greeter);        // a Down arrives if it ends or its node goes
//!
//!     // Selective receive: the first message that matches; the rest stay queued, in order.
//!     let _hello = inbox.recv_matching(|m| matches!(m, Msg::Hello(_))).await;
//!     node.shutdown().await;                       // flushes, says goodbye, waits for its tasks
//!     Ok(())
//! }
//! ```
//!
//! See the README for the security model, and `docs/PROTOCOL.md` for the wire.
#![forbid(unsafe_code)]

/// Certificate authority tooling (re-export of `reign-certgen`; feature `certgen`).
#[cfg(feature = "certgen")]
pub use reign_certgen as certgen;
pub use reign_core::*;
/// Identity-checked mutual TLS (re-export of `reign-tls`).
pub use reign_tls as tls;
