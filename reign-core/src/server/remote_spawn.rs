//! Remote spawn: a node registers factories by name ([`Factories`]); another node starts a
//! server from one ([`Node::spawn_remote`]) and gets its address.
//!
//! On the wire it is a call to the server the node keeps under the local name
//! [`SPAWNER_NAME`] once it has a factory: the request (tag `reign.Spawn`) names the
//! factory and carries the arguments' bytes; the answer is the new server's identity and
//! message tag, or why not (docs/PROTOCOL.md, section 6).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Ctx, Exit, ReplyTo, Server, ServerRef, SpawnError};
use crate::address::Address;
use crate::{DownReason, MailboxRef, Message, Node, NodeId};

/// The local name of a node's spawner (the server that answers remote spawns).
pub const SPAWNER_NAME: &str = "reign.spawn";

/// A request to start a server from a factory.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SpawnRequest {
    factory: String,
    /// The message tag of the servers the caller expects.
    msg_tag: String,
    args_tag: String,
    #[serde(with = "serde_bytes_compat")]
    args: Vec<u8>,
    reply: ReplyTo<Result<Spawned, SpawnRefused>>,
}
crate::message!(SpawnRequest = "reign.Spawn");

/// `Vec<u8>` as serde bytes (one length, then the bytes), without another crate.
mod serde_bytes_compat {
    pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// The started server, as the spawner answers.
#[derive(Debug, Serialize, Deserialize)]
struct Spawned {
    server: MailboxRef,
    tag: String,
}

/// Why a node refused to start a server from a factory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnRefused {
    /// The node has no factory of that name.
    #[error("no such factory")]
    NoSuchFactory,
    /// The factory does not take spawns from the calling node.
    #[error("the factory does not allow this node")]
    NotAllowed,
    /// The arguments are not of the factory's type (their tag differs, or they did not
    /// decode).
    #[error("arguments of the wrong type: the factory takes {expected:?}")]
    WrongArguments {
        /// The tag of the arguments the factory takes.
        expected: String,
    },
    /// The factory makes servers of another type: their requests have this tag.
    #[error("the factory makes servers whose requests are {makes:?}")]
    WrongServer {
        /// The tag of the factory's servers' requests.
        makes: String,
    },
    /// The factory runs as many servers as it may.
    #[error("the factory runs its maximum of {max} servers")]
    TooMany {
        /// Its maximum.
        max: usize,
    },
    /// The server's `init` failed with this reason.
    #[error("init failed: {0}")]
    Init(DownReason),
}

/// Who may start servers from a factory, and how many may run at once.
#[derive(Clone, Debug)]
pub struct FactoryOptions {
    allow: Option<Vec<NodeId>>,
    max_running: usize,
}

impl Default for FactoryOptions {
    fn default() -> Self {
        Self {
            allow: None,
            max_running: 1024,
        }
    }
}

impl FactoryOptions {
    /// Any member node, at most 1024 servers at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these nodes may start servers from it (this node always may).
    pub fn allow(mut self, nodes: impl IntoIterator<Item = NodeId>) -> Self {
        self.allow = Some(nodes.into_iter().collect());
        self
    }

    /// At most this many of its servers run at once; a spawn past it is refused with
    /// [`SpawnRefused::TooMany`]. A peer that may spawn can make this node run that many.
    pub fn max_running(mut self, max: usize) -> Self {
        self.max_running = max;
        self
    }
}

/// A factory as the spawner runs it: typed inside, erased here.
trait Factory: Send + Sync {
    fn allows(&self, node: &NodeId, own: &NodeId) -> bool;
    fn start(self: Arc<Self>, node: Node, req: SpawnRequest);
}

struct Typed<S: Server> {
    options: FactoryOptions,
    running: Arc<AtomicUsize>,
    _s: std::marker::PhantomData<fn() -> S>,
}

impl<S: Server> Factory for Typed<S>
where
    S::Msg: Message,
    S::Args: Message,
{
    fn allows(&self, node: &NodeId, own: &NodeId) -> bool {
        node == own || self.options.allow.as_ref().is_none_or(|a| a.contains(node))
    }

    fn start(self: Arc<Self>, node: Node, req: SpawnRequest) {
        let SpawnRequest {
            msg_tag,
            args_tag,
            args,
            reply,
            ..
        } = req;
        // Nothing is started for a caller that would refuse it.
        if msg_tag != <S::Msg as Message>::TAG {
            return reply.send(Err(SpawnRefused::WrongServer {
                makes: <S::Msg as Message>::TAG.to_owned(),
            }));
        }
        let wrong = || SpawnRefused::WrongArguments {
            expected: <S::Args as Message>::TAG.to_owned(),
        };
        if args_tag != <S::Args as Message>::TAG {
            return reply.send(Err(wrong()));
        }
        // The arguments came from the caller's node: decoded as its messages are.
        let mut from = Some(reply.caller_node().clone());
        let decoded = node.with_decode_scope(|| {
            crate::scope::with_sender(&mut from, || crate::codec::decode::<S::Args>(&args))
        });
        let Ok(args) = decoded else {
            return reply.send(Err(wrong()));
        };
        let max = self.options.max_running;
        if self
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return reply.send(Err(SpawnRefused::TooMany { max }));
        }
        let running = self.running.clone();
        tokio::spawn(async move {
            match node.spawn::<S>(args).await {
                Ok(server) => {
                    let done = node
                        .inner
                        .process(&server.mailbox_ref())
                        .map(|p| p.done.clone());
                    reply.send(Ok(Spawned {
                        server: server.mailbox_ref(),
                        tag: <S::Msg as Message>::TAG.to_owned(),
                    }));
                    if let Some(done) = done {
                        done.cancelled().await;
                    }
                }
                Err(SpawnError::Init(reason)) => reply.send(Err(SpawnRefused::Init(reason))),
                Err(_) => reply.send(Err(SpawnRefused::Init(DownReason::Killed))),
            }
            running.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// A node's factories, by name.
#[derive(Default)]
pub(crate) struct FactoryTable {
    factories: Mutex<HashMap<String, Arc<dyn Factory>>>,
    spawner: Mutex<Option<ServerRef<Spawner>>>,
}

/// The server that answers remote spawns on a node with factories.
struct Spawner;

impl Server for Spawner {
    type Msg = SpawnRequest;
    type Args = ();

    async fn init(_: (), _: &mut Ctx<Self>) -> Result<Self, Exit> {
        Ok(Spawner)
    }

    async fn handle(&mut self, req: SpawnRequest, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let node = ctx.node();
        let found = table(&node).and_then(|t| {
            t.factories
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&req.factory)
                .cloned()
        });
        let Some(factory) = found else {
            reign_tls::debug_limited!(node = %node.id(), from = %req.reply.caller_node(), factory = %reign_tls::ratelimit::Escaped(&req.factory), "spawn refused: no such factory");
            req.reply.send(Err(SpawnRefused::NoSuchFactory));
            return Ok(());
        };
        if !factory.allows(req.reply.caller_node(), node.id()) {
            reign_tls::warn_limited!(node = %node.id(), from = %req.reply.caller_node(), factory = %reign_tls::ratelimit::Escaped(&req.factory), "spawn refused: the factory does not allow this node");
            req.reply.send(Err(SpawnRefused::NotAllowed));
            return Ok(());
        }
        factory.start(node, req);
        Ok(())
    }
}

/// The factories of a node: made by [`Node::factories`].
pub struct Factories<'a> {
    node: &'a Node,
}

/// The node's factory table, made at the first use.
fn table(node: &Node) -> Option<&FactoryTable> {
    node.inner
        .processes
        .factories
        .get_or_init(|| Box::new(FactoryTable::default()))
        .downcast_ref::<FactoryTable>()
}

impl Node {
    /// This node's factories: the servers other nodes may start here by name.
    pub fn factories(&self) -> Factories<'_> {
        Factories { node: self }
    }

    /// Starts a server on `node` from its factory `factory` (registered there with
    /// [`Factories::register`]) with `args`, and returns its address once its `init`
    /// succeeded (Erlang's `spawn/4` by a name the other node's code registered). Waits at
    /// most `timeout` in all.
    ///
    /// The server is not linked to anything: link or monitor it (or use
    /// [`Ctx::spawn_link_remote`](crate::Ctx::spawn_link_remote)). Fails with
    /// [`SpawnError::Refused`] when the node refuses (no such factory, not allowed, too many,
    /// wrong arguments, or `init` failed there), [`SpawnError::WrongType`] when the factory
    /// makes servers of another type than `S`, [`SpawnError::Call`] when the node cannot be
    /// asked.
    pub async fn spawn_remote<S: Server>(
        &self,
        node: &NodeId,
        factory: &str,
        args: S::Args,
        timeout: Duration,
    ) -> Result<ServerRef<S>, SpawnError>
    where
        S::Msg: Message,
        S::Args: Message,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let spawner: Address<super::Envelope<SpawnRequest>> = if node == self.id() {
            self.names()
                .whereis(SPAWNER_NAME)
                .map_err(|_| SpawnError::Refused(SpawnRefused::NoSuchFactory))?
        } else {
            match self.cluster().whereis_on(node, SPAWNER_NAME, timeout).await {
                Ok(a) => a,
                Err(crate::LookupError::NotFound { .. }) => {
                    return Err(SpawnError::Refused(SpawnRefused::NoSuchFactory));
                }
                Err(crate::LookupError::Timeout { .. }) => {
                    return Err(SpawnError::Call(crate::CallError::Timeout));
                }
                Err(_) => {
                    return Err(SpawnError::Call(crate::CallError::Send(
                        crate::SendErrorReason::NoConnection,
                    )));
                }
            }
        };
        let mut bytes = bytes::BytesMut::new();
        crate::remote::encode_into(&args, &mut bytes)
            .map_err(|r| SpawnError::Call(crate::CallError::Send(r)))?;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let answer = super::reply::call(
            &spawner,
            None,
            |reply| SpawnRequest {
                factory: factory.to_owned(),
                msg_tag: <S::Msg as Message>::TAG.to_owned(),
                args_tag: <S::Args as Message>::TAG.to_owned(),
                args: bytes.to_vec(),
                reply,
            },
            left,
        )
        .await
        .map_err(SpawnError::Call)?;
        let spawned = answer.map_err(|refused| match refused {
            SpawnRefused::WrongServer { makes } => SpawnError::WrongType {
                expected: <S::Msg as Message>::TAG,
                found: makes,
            },
            other => SpawnError::Refused(other),
        })?;
        if spawned.tag != <S::Msg as Message>::TAG {
            return Err(SpawnError::WrongType {
                expected: <S::Msg as Message>::TAG,
                found: spawned.tag,
            });
        }
        let addr = self.with_decode_scope(|| Address::resolve(spawned.server));
        Ok(ServerRef::new(addr))
    }
}

impl Factories<'_> {
    /// Registers server type `S` as factory `name`: other nodes (those `options` allows)
    /// may start servers of it here with [`Node::spawn_remote`], giving its arguments. The
    /// first factory starts the node's spawner (a server under the local name
    /// [`SPAWNER_NAME`]). Replaces a factory of the same name.
    pub async fn register<S: Server>(
        &self,
        name: &str,
        options: FactoryOptions,
    ) -> Result<(), SpawnError>
    where
        S::Msg: Message,
        S::Args: Message,
    {
        let Some(table) = table(self.node) else {
            return Err(SpawnError::Refused(SpawnRefused::NoSuchFactory));
        };
        let factory: Arc<dyn Factory> = Arc::new(Typed::<S> {
            options,
            running: Arc::new(AtomicUsize::new(0)),
            _s: std::marker::PhantomData,
        });
        table
            .factories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), factory);
        let running = table
            .spawner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|s| self.node.inner.process(&s.mailbox_ref()).is_some());
        if !running {
            let spawner = self.node.spawn::<Spawner>(()).await?;
            // Another register may have won the race: the name is taken then, and its
            // spawner serves.
            if self
                .node
                .names()
                .register_server(SPAWNER_NAME, &spawner)
                .is_ok()
            {
                *table.spawner.lock().unwrap_or_else(PoisonError::into_inner) = Some(spawner);
            }
        }
        Ok(())
    }

    /// Removes factory `name`; true if there was one. Servers it started keep running.
    pub fn unregister(&self, name: &str) -> bool {
        table(self.node).is_some_and(|t| {
            t.factories
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(name)
                .is_some()
        })
    }
}
