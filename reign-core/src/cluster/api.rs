//! The cluster's public face: starting and stopping a node on the mesh, its events, waiting
//! for peers, names on a given node, and node monitors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use reign_tls::{Incarnation, NodeId, TlsEndpoint, TlsError};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::events::Events;
use super::{ClusterStats, Counters, Mesh, Peer, Peers};
use crate::cluster::config::{ConfigError, NodeConfig};
use crate::{
    Address, Down, LookupError, Mailbox, MailboxId, MailboxRef, Message, MonitorRef, Node,
    SendError, SendErrorReason,
};

/// How long [`Node::shutdown`] waits for the node's thread to have shut its runtime down.
const RUNTIME_STOP_WAIT: Duration = Duration::from_secs(2);

/// Why [`Node::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS material could not be loaded or is not this node's.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The node's own runtime, or the thread that drives it, could not be made (or, with
    /// [`Tunables::own_runtime`](crate::Tunables::own_runtime) off, `start` was not called
    /// on a tokio runtime).
    #[error("cannot start the node's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// What [`Node::reload_tls`] did. It displays as one line, e.g. `reloaded: cert serial 5c1e…
/// not-after 2027-03-01T00:00:00Z, ca bundle 2 certificates, crl 1 entry; links kept 2,
/// ended 1 (a: certificate revoked)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsReload {
    /// What the new material holds.
    pub material: reign_tls::MaterialSummary,
    /// The live links whose peer's certificate still passes: they stay up.
    pub kept: Vec<NodeId>,
    /// The live links whose peer's certificate is now refused, and why: each is ended
    /// (reported down with [`LinkDownReason::CertificateRefused`](crate::LinkDownReason::CertificateRefused)).
    pub ended: Vec<(NodeId, reign_tls::Refusal)>,
}

impl std::fmt::Display for TlsReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reloaded: {}; links kept {}, ended {}",
            self.material,
            self.kept.len(),
            self.ended.len()
        )?;
        if !self.ended.is_empty() {
            let ended: Vec<String> = self
                .ended
                .iter()
                .map(|(node, why)| format!("{node}: {why}"))
                .collect();
            write!(f, " ({})", ended.join(", "))?;
        }
        Ok(())
    }
}

/// Why [`Node::reload_tls`] did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The node is not started on a cluster (or has shut down).
    #[error("the node is not started on a cluster")]
    NotStarted,
    /// The material could not be loaded (the file and why are named); the previous material
    /// stays in use and no link was touched.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Why [`Cluster::wait_for`] returned without a link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The node is not a member of this node's cluster configuration (or this node was not
    /// started on a cluster).
    #[error("{0} is not a member of this cluster")]
    NotAMember(NodeId),
    /// No link came up within the timeout.
    #[error("no link to {0} within the timeout")]
    Timeout(NodeId),
}

impl Node {
    /// Starts a node on the cluster mesh: loads and checks its TLS material, listens, dials
    /// the members it is to dial (those with a higher node ID) and accepts the others.
    ///
    /// The node's links come up in the background; [`Cluster::events`] reports them and
    /// [`Cluster::wait_for`] waits for one. Stop it with [`Node::shutdown`].
    ///
    /// The node has a thread of its own: a one-thread tokio runtime made here, driven by an
    /// OS thread named `reign-mesh-<node id>`, runs the node's tasks (accepting, handshakes,
    /// dials, the registry's timers, the certificate watchers, operator connections). Each
    /// link's I/O runs on the runtime that calls `start` (a message crosses no thread
    /// between its socket and a mailbox), watched from the node's thread: while that runtime
    /// does not run the link (an application that blocks every worker), the node's thread
    /// reads it, writes its heartbeats and what is queued, and its peers do not declare the
    /// node down. What does stall is the application's own work (its mailboxes are served by
    /// its tasks): run CPU-heavy or blocking work with `tokio::task::spawn_blocking`. The
    /// thread ends at [`Node::shutdown`], or when the runtime that called `start` shuts down
    /// (a node never shut down ends with it).
    /// [`Tunables::own_runtime`](crate::Tunables::own_runtime) off runs everything on the
    /// caller's runtime instead, with no watch (no liveness while the application blocks).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use reign_core::{Node, NodeConfig};
    /// let node = Node::start(NodeConfig::from_file("a.toml".as_ref())?).await?;
    /// node.cluster().wait_for(&"b".parse()?, std::time::Duration::from_secs(5)).await?;
    /// node.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn start(config: NodeConfig) -> Result<Node, StartError> {
        config.validate()?;
        let node = Node::new(config.node_id.clone());
        let tls = TlsEndpoint::new(config.tls_config(node.incarnation()))?;
        let runtime = if config.tunables.own_runtime {
            super::runtime::MeshRuntime::start(node.id().as_str())
        } else {
            super::runtime::MeshRuntime::caller()
        }
        .map_err(StartError::Runtime)?;
        // Bound inside the node's runtime, whose I/O driver polls it.
        let listen = config.listen;
        let bound = runtime.handle().spawn(async move {
            let listener = TcpListener::bind(listen).await?;
            let local_addr = listener.local_addr()?;
            std::io::Result::Ok((listener, local_addr))
        });
        let bind_failed = |source| StartError::Bind {
            addr: listen,
            source,
        };
        let (listener, local_addr) = match bound.await {
            Ok(r) => r.map_err(bind_failed)?,
            Err(e) => return Err(bind_failed(std::io::Error::other(e))),
        };
        let t = &config.tunables;
        let peers = Peers::new(
            config
                .members
                .iter()
                .map(|m| {
                    Arc::new(Peer::new(
                        m.id.clone(),
                        t.link_buffer_limit,
                        t.max_frame_size,
                    ))
                })
                .collect(),
        );
        let mut registry =
            crate::proto::registry::Registry::new(node.id().clone(), super::join::limits(t));
        let now = std::time::Instant::now();
        for m in &config.members {
            registry.configure(m.id.clone(), &m.addr, now);
        }
        // The configured members' dials are handed back; they start once the mesh exists.
        let cluster = Arc::new(Mesh {
            node: node.clone(),
            tls,
            local_addr,
            peers,
            events: broadcast::channel(config.tunables.event_capacity).0,
            tracker: TaskTracker::new(),
            runtime,
            stop: CancellationToken::new(),
            shutting_down: AtomicBool::new(false),
            next_request: AtomicU64::new(1),
            lookups: DashMap::new(),
            counters: Counters::default(),
            refusal_events: reign_tls::ratelimit::Limiter::new(),
            operators: Default::default(),
            joined: tokio::sync::Notify::new(),
            registry: std::sync::Mutex::new(registry),
            connecting: Default::default(),
            config,
        });
        // Fails only if set twice, which cannot happen for a node made here.
        let layer: Arc<dyn crate::node::ClusterLayer> = cluster.clone();
        let _ = node.inner.cluster.set(Arc::downgrade(&layer));
        node.set_remote_router(Some(cluster.clone()));
        tracing::info!(node = %node.id(), incarnation = %node.incarnation(), listen = %local_addr, advertised = %node.cluster().advertised_addr().unwrap_or_default(), "node started");
        cluster.spawn(cluster.clone().accept_loop(listener));
        cluster.spawn(cluster.clone().watch_expiry());
        if cluster.config.tls.watch {
            cluster.spawn(cluster.clone().watch_tls_files());
        }
        // Carries out what the registry handed back while the members were configured:
        // their dials.
        cluster.with_registry(|_| ());
        if !cluster.config.seeds.is_empty() {
            cluster.spawn(cluster.clone().seed_loop());
        }
        cluster.spawn(cluster.clone().registry_timers());
        Ok(node)
    }

    /// The cluster layer while the node is started (until [`Node::shutdown`] has returned).
    pub(crate) fn mesh(&self) -> Option<Arc<Mesh>> {
        let layer: Arc<dyn std::any::Any + Send + Sync> = self.layer()?;
        layer.downcast::<Mesh>().ok()
    }

    /// Stops the node gracefully: stops accepting and dialing, flushes what every link has
    /// queued, says GOODBYE (peers see [`LinkDownReason::PeerShutDown`](crate::LinkDownReason::PeerShutDown),
    /// not a timeout), closes the links, and returns once every task of the node has ended.
    /// Links that do not finish within the configured shutdown timeout are cut.
    ///
    /// Afterwards the node is as one never started: mailboxes stay usable locally,
    /// [`Cluster::events`] is closed and [`Cluster::stats`] is zero, and the cluster layer
    /// no longer refers to the node, so it is freed once the application drops its handles.
    /// Calling it again, or on a node that was not started on a cluster, does nothing more.
    pub async fn shutdown(&self) {
        let Some(c) = self.mesh() else {
            return;
        };
        if !c.shutting_down.swap(true, Ordering::AcqRel) {
            tracing::info!(node = %self.id(), "shutting down");
            for peer in c.peers.values() {
                if let Some(link) = peer.link() {
                    link.close_gracefully();
                }
            }
            c.stop.cancel();
            c.tracker.close();
        }
        let deadline = c.config.tunables.shutdown_timeout;
        if tokio::time::timeout(deadline, c.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(node = %self.id(), "links did not close within the shutdown timeout; cutting them");
            for peer in c.peers.values() {
                if let Some(link) = peer.link() {
                    link.end(super::events::LinkDownReason::LocalShutdown);
                }
            }
            c.tracker.wait().await;
        }
        self.set_remote_router(None);
        // Every task has ended: the node's thread and runtime go too.
        c.runtime.stop(RUNTIME_STOP_WAIT).await;
        tracing::info!(node = %self.id(), "shut down");
    }

    /// Leaves the cluster gracefully, as Akka's `Cluster::leave` and Erlang's
    /// `net_kernel:stop/0` do: the same as [`shutdown`](Self::shutdown), under the name one
    /// looks for. Every peer sees the links end with
    /// [`LinkDownReason::PeerShutDown`](crate::LinkDownReason::PeerShutDown); a peer this node
    /// joined at run time (not one that lists it in `[[members]]`) reports it
    /// [`NodeEvent::Left`](crate::NodeEvent::Left) with
    /// [`LeftReason::ShutDown`](crate::LeftReason::ShutDown), stops dialing it and forgets it at
    /// once. The node's mailboxes stay usable locally; to join again, start a new node.
    pub async fn leave(&self) {
        self.shutdown().await;
    }

    /// Reads the configured CA bundle, certificate, key and CRL again and swaps them in
    /// atomically; then checks every live link's peer certificate against the new material,
    /// as a handshake would. A link whose peer is now revoked, expired or no longer chains to
    /// the bundle ends at once ([`LinkDownReason::CertificateRefused`](crate::LinkDownReason::CertificateRefused));
    /// every other link stays up and loses nothing. New handshakes use the new material
    /// (this node's own new certificate included), and when this node's certificate
    /// changed, every kept link's peer is sent the new chain with proof of its key
    /// (CERT_UPDATE), so the peer checks the new certificate from then on, as after a new
    /// handshake: this is what lets a CA rotation drop the old CA without ending a link. A
    /// file that does not load is refused with a typed error naming it, and the old
    /// material stays in use.
    ///
    /// It reads files (blocking, bounded: regular files of at most
    /// [`MAX_MATERIAL_FILE`](reign_tls::MAX_MATERIAL_FILE) bytes, opened without blocking):
    /// from async code, call it with `tokio::task::spawn_blocking`.
    pub fn reload_tls(&self) -> Result<TlsReload, ReloadError> {
        let c = self.mesh().ok_or(ReloadError::NotStarted)?;
        let before = c.tls.own_certificate().sha256_fingerprint;
        let material = c.tls.reload()?;
        let renewed = material.own.sha256_fingerprint != before;
        let now = tokio::time::Instant::now().into_std();
        let mut report = TlsReload {
            material,
            kept: Vec::new(),
            ended: Vec::new(),
        };
        for peer in c.peers.values() {
            let Some(link) = peer.link() else { continue };
            let Some(info) = link.tls_peer() else {
                continue;
            };
            match c.tls.recheck(&info) {
                Ok(valid_until) => {
                    report.kept.push(peer.id.clone());
                    // The chain's end may have moved (a CA of its path renewed), and a new
                    // certificate of this node's is told to the peer (CERT_UPDATE).
                    let ((), outs) = link.step(|s| {
                        s.set_valid_until(valid_until);
                        if renewed {
                            s.own_certificate_changed(now);
                        }
                    });
                    c.carry_out(&link, outs);
                }
                Err(refusal) => {
                    tracing::warn!(node = %self.id(), peer = %peer.id, reason = %refusal, "closing link: after the TLS reload the peer's certificate is refused");
                    link.end(super::events::LinkDownReason::CertificateRefused(
                        refusal.clone(),
                    ));
                    report.ended.push((peer.id.clone(), refusal));
                }
            }
        }
        tracing::info!(node = %self.id(), %report, "TLS material reloaded; live links checked again");
        c.check_expiry();
        Ok(report)
    }
}

/// This node's view of the cluster: its links, its events, and names on other nodes. Made
/// by [`Node::cluster`]; on a node not started on a cluster (or shut down) it is empty:
/// no links, no events, zero counters.
#[derive(Clone, Copy)]
pub struct Cluster<'a> {
    node: &'a Node,
}

impl std::fmt::Debug for Cluster<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", self.node.id())
            .finish()
    }
}

impl Node {
    /// The cluster as this node sees it: links up and down, events, counters, and names
    /// registered on other nodes.
    pub fn cluster(&self) -> Cluster<'_> {
        Cluster { node: self }
    }
}

impl Cluster<'_> {
    /// Every member of this node's cluster configuration, sorted by ID: the address it is
    /// dialed at, whether its link is up (since when, which life), down (since when, why,
    /// and why the last redial failed) or not made yet, and when bytes last arrived from it.
    /// Empty for a node not started on a cluster.
    pub fn members(&self) -> Vec<super::MemberStatus> {
        self.node.mesh().map(|m| m.members()).unwrap_or_default()
    }

    /// Subscribes to this node's events: links up and down with the reason, and refused
    /// handshakes, from now on. A subscriber that falls behind by more than
    /// [`Tunables::event_capacity`](crate::Tunables::event_capacity) misses the oldest and is
    /// told how many ([`EventsError::Lagged`](crate::EventsError::Lagged)). A node not started
    /// on a cluster, or shut down, has no events ([`EventsError::Closed`](crate::EventsError::Closed)).
    pub fn events(&self) -> Events {
        Events::new(match self.node.mesh() {
            Some(c) => c.events.subscribe(),
            None => broadcast::channel(1).1,
        })
    }

    /// The address this node listens on (useful after binding port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.node.mesh().map(|c| c.local_addr)
    }

    /// The `host:port` other nodes should dial to reach this one: the configuration's
    /// `advertise`, or else the address it listens on (after binding port 0, the port it
    /// got). `None` for a node not started on a cluster.
    pub fn advertised_addr(&self) -> Option<String> {
        let c = self.node.mesh()?;
        Some(
            c.config
                .advertise
                .clone()
                .unwrap_or_else(|| c.local_addr.to_string()),
        )
    }

    /// The nodes this node has a live link with, and their incarnations.
    pub fn connected(&self) -> Vec<(NodeId, Incarnation)> {
        let Some(c) = self.node.mesh() else {
            return Vec::new();
        };
        let mut v: Vec<_> = c
            .peers
            .values()
            .filter_map(|p| p.link().map(|l| (p.id.clone(), l.peer_incarnation)))
            .collect();
        v.sort();
        v
    }

    /// Waits until a link to `node` is up (at once if it is), returning the peer's incarnation.
    /// "Up" includes having received the peer's cluster-wide names and process groups, so a
    /// `global().register` made after this sees the names the peer holds.
    pub async fn wait_for(
        &self,
        node: &NodeId,
        timeout: Duration,
    ) -> Result<Incarnation, WaitError> {
        let mesh = self
            .node
            .mesh()
            .ok_or_else(|| WaitError::NotAMember(node.clone()))?;
        let deadline = tokio::time::Instant::now() + timeout;
        // A node not known yet may still join, where membership is open.
        let peer = loop {
            let joined = mesh.joined.notified();
            if let Some(p) = mesh.peers.get(node) {
                break p;
            }
            if !mesh.config.open_membership() || !mesh.tls.admits(node) {
                return Err(WaitError::NotAMember(node.clone()));
            }
            if tokio::time::timeout_at(deadline, joined).await.is_err() {
                return Err(WaitError::Timeout(node.clone()));
            }
        };
        let mut rx = peer.up.subscribe();
        let waited = tokio::time::timeout_at(deadline, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(inc)) => inc.ok_or_else(|| WaitError::Timeout(node.clone())),
            _ => Err(WaitError::Timeout(node.clone())),
        }
    }

    /// Counters of what this node's links carried and refused (all zero for a node not
    /// started on a cluster).
    pub fn stats(&self) -> ClusterStats {
        self.node.mesh().map(|c| c.stats()).unwrap_or_default()
    }

    /// Looks up `name` in the registry of `node` (Erlang's `whereis` on another node), with
    /// one round trip bounded by `timeout`. On this node's own ID it is [`Names::whereis`](crate::Names::whereis).
    ///
    /// The answer is typed: a name whose mailbox takes another message type (by
    /// [`Message::TAG`]) is [`LookupError::WrongType`].
    pub async fn whereis_on<M: Message>(
        &self,
        node: &NodeId,
        name: &str,
        timeout: Duration,
    ) -> Result<Address<M>, LookupError> {
        if node == self.node.id() {
            return self.node.names().whereis(name);
        }
        let no_connection = || LookupError::NoConnection {
            node: node.clone(),
            name: name.to_owned(),
            linked: self.connected().into_iter().map(|(n, _)| n).collect(),
        };
        let c = self.node.mesh().ok_or_else(no_connection)?;
        let link = c.link_to(node).ok_or_else(no_connection)?;
        let request = c.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        c.lookups.insert(request, tx);
        let (asked, outs) = link.step(|s| s.lookup(request, name));
        c.carry_out(&link, outs);
        if !asked {
            c.lookups.remove(&request);
            return Err(no_connection());
        }
        let answer = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            // Abandoned: the link ended.
            Ok(Err(_)) => return Err(no_connection()),
            Err(_) => {
                c.lookups.remove(&request);
                let ((), _) = link.step(|s| s.forget_lookup(request));
                return Err(LookupError::Timeout {
                    node: node.clone(),
                    name: name.to_owned(),
                });
            }
        };
        let Some((id, tag)) = answer else {
            return Err(LookupError::NotFound {
                name: name.to_owned(),
            });
        };
        if tag != M::TAG {
            return Err(LookupError::WrongType {
                name: name.to_owned(),
                expected: M::TAG,
                actual: tag,
            });
        }
        let target = MailboxRef::new(node.clone(), link.peer_incarnation, MailboxId(id));
        Ok(self.node.with_decode_scope(|| Address::resolve(target)))
    }

    /// Sends `msg` to the mailbox registered as `name` on `node` (Erlang's
    /// `{Name, Node} ! Msg`), without a lookup round trip. The receiving node checks the
    /// name and the type tag; a refusal there is logged and counted on that node
    /// (at most once delivery). On this node's own ID it is a local send.
    pub fn try_send_named<M: Message>(
        &self,
        node: &NodeId,
        name: &str,
        msg: M,
    ) -> Result<(), SendError<M>> {
        if node == self.node.id() {
            return match self.node.names().whereis::<M>(name) {
                Ok(addr) => addr.try_send(msg),
                Err(LookupError::WrongType { .. }) => {
                    Err(SendError::new(SendErrorReason::WrongType, msg))
                }
                // Registered, but its mailbox ended a moment ago, or not registered.
                Err(_) => Err(SendError::new(SendErrorReason::NoSuchName, msg)),
            };
        }
        let Some(c) = self.node.mesh() else {
            return Err(SendError::new(SendErrorReason::NoConnection, msg));
        };
        let result = c.route_named(node, name, M::TAG, &mut |buf| {
            crate::remote::encode_into(&msg, buf)
        });
        result.map_err(|reason| SendError::new(reason, msg))
    }
}

impl<M: Send + 'static> Mailbox<M> {
    /// Monitors a whole node: this mailbox receives one [`Down`] when the link to `node`
    /// goes down (reason [`DownReason::NoConnection`](crate::DownReason::NoConnection)), at
    /// once if there is no link now. The `Down`'s target is
    /// `MailboxRef::new(node, incarnation, MailboxId(0))`: mailbox ID 0 names the node itself.
    pub fn monitor_node(&self, node: &NodeId) -> MonitorRef
    where
        M: From<Down>,
    {
        let incarnation = self
            .node()
            .mesh()
            .and_then(|c| c.link_to(node))
            .map_or(Incarnation(0), |l| l.peer_incarnation);
        self.monitor_ref(&MailboxRef::new(node.clone(), incarnation, MailboxId(0)))
    }
}
