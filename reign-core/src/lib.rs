//! reign's mailboxes, addresses, monitors, registry and node.
//!
//! The pieces, as an Erlang programmer knows them:
//!
//! | Erlang | reign |
//! |---|---|
//! | a node | [`Node`] (several can live in one process) |
//! | a process's mailbox | [`Mailbox<M>`], typed, owned by one task |
//! | a pid | [`Address<M>`]: cheap to clone, comparable, serializable |
//! | `Pid ! Msg` | [`Address::try_send`]: never waits, gives the message back on failure; [`Address::send`]`.await` waits for room |
//! | `receive` with patterns | [`Mailbox::recv_matching`] (selective receive) |
//! | `receive ... after T` | [`Mailbox::recv_timeout`], [`Mailbox::recv_matching_timeout`] |
//! | `monitor/2`, `'DOWN'` | [`Mailbox::monitor`], [`Down`] |
//! | `demonitor(Ref, [flush])` | [`Mailbox::demonitor`] |
//! | `gen_server` | [`Server`], [`Node::spawn`], [`ServerRef::call`] and [`ServerRef::cast`], [`ReplyTo`] |
//! | `link`, `spawn_link`, `process_flag(trap_exit, true)`, `exit/2` | [`Ctx::link`], [`Ctx::spawn_link`], [`Ctx::trap_exit`], [`Ctx::exit`], [`Ctx::kill`] |
//! | `supervisor` | [`Supervisor`], [`SupervisorSpec`], [`ChildSpec`] |
//! | `spawn(Node, M, F, A)` | [`Node::spawn_remote`] from a factory the node registered ([`Node::factories`]) |
//! | `gen_server:call` on the mailbox layer | [`Address::call`] |
//! | `register`, `whereis` | [`Node::names`]: [`Names::register`], [`Names::whereis`] |
//! | `global:register_name`, `global:whereis_name` | [`Node::global`]: [`GlobalNames::register`], [`GlobalNames::whereis`] |
//! | `pg:join`, `pg:get_members` | [`Node::groups`]: [`Groups::join`], [`Groups::members`] |
//! | `nodes()`, `net_kernel:monitor_nodes` | [`Node::cluster`]: [`Cluster::connected`], [`Cluster::events`] |
//!
//! Types that travel between nodes implement [`Message`] (serde plus a stable type tag);
//! [`Node::local_mailbox`] takes any `Send` type for mailboxes that stay in-process.
//!
//! Everything is logged through `tracing` (lifecycle at `debug`/`trace`); nothing is printed.
//!
//! ```
//! use std::time::Duration;
//! use reign_core::Node;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let node = Node::new("node-a".parse().unwrap());
//! let (mut inbox, addr) = node.mailbox::<String>();
//! node.names().register("greeter", &addr).unwrap();
//!
//! let greeter = node.names().whereis::<String>("greeter").unwrap();
//! greeter.try_send("hello".into()).unwrap();
//! assert_eq!(inbox.recv_timeout(Duration::from_secs(1)).await.as_deref(), Some("hello"));
//! # }
//! ```
#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod __fuzz;
mod address;
mod call;
mod cluster;
mod codec;

mod down;
mod error;
mod global;
mod handles;
mod hook;
mod ids;
mod inbox;
mod mailbox;
mod message;
mod monitor;
mod node;
mod process;
mod proto;
mod remote;
mod scope;
mod server;

/// Drives a started node's control plane with a peer's frames, without a socket (for the
/// fuzz target and its replay test). Not a stable API.
#[doc(hidden)]
pub mod __harness {
    pub use crate::cluster::harness::{Inconsistency, PeerFeed, Targets, link_in_memory};
}

pub use address::{Address, Sending};
pub use cluster::config::{
    AddressProblem, ConfigError, DEFAULT_CERTIFICATE_CHECK_INTERVAL, DEFAULT_CLIENT_HELLO_TIMEOUT,
    DEFAULT_EVENT_CAPACITY, DEFAULT_FORGET_AFTER, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LINK_BUFFER_LIMIT, DEFAULT_MAX_ANNOUNCED_PER_LINK,
    DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MONITORS_PER_LINK, DEFAULT_MAX_PENDING_HANDSHAKES,
    DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE, DEFAULT_PEER_SILENCE_LIMIT,
    DEFAULT_RECONNECT_BACKOFF_MAX, DEFAULT_RECONNECT_BACKOFF_MIN, DEFAULT_SHUTDOWN_TIMEOUT,
    InvalidValue, Member, NodeConfig, TlsFiles, Tunables, ValueUnit,
};
pub use cluster::{
    CertificateVerdict, Cluster, ClusterStats, Events, EventsError, JoinedVia, LeftReason,
    LinkDownReason, LinkStatus, MemberState, MemberStatus, NodeEvent, ProtocolViolation,
    ReloadError, StartError, TlsReload, TlsStatus, UnreachableReason, WaitError,
};
pub use codec::{MAX_EMPTY_ELEMENTS, MAX_PAYLOAD_DEPTH, PayloadError};
pub use down::{Down, DownReason};
pub(crate) use error::RemoteDeliveryError;
pub use error::{CallError, LookupError, RegistryError, SendError, SendErrorReason};
pub use global::{GroupWatch, NameChange, NameConflict, NameWatch};
pub use handles::Names;
pub use handles::{GlobalNames, Groups};
pub use ids::MAX_NAME_LEN;
pub use ids::{MailboxId, MailboxRef, MonitorId};
pub use mailbox::Mailbox;
pub use message::Message;
pub use monitor::MonitorRef;
pub use node::{Node, WeakNode};
pub use proto::wire::DecodeError;
pub use reign_tls::{Incarnation, NodeId, NodeIdError, Refusal, RefusedBy};
#[doc(hidden)]
pub use scope::DecodeScope;
pub use server::{
    AsMailboxRef, ChildInfo, ChildSpec, Children, Ctx, Exit, ExitSignal, Factories, FactoryOptions,
    Info, MAX_RESTART_INTENSITY, Reply, ReplyTo, Restart, SPAWNER_NAME, Server, ServerRef,
    Shutdown, Singleton, SingletonMsg, SingletonSpec, SpawnError, SpawnRefused, Strategy,
    Supervisor, SupervisorMsg, SupervisorSpec,
};
