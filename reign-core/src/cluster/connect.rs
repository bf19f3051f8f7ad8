//! Making links: the accept loop, one dialer per peer this node is to dial, and running a
//! link from the handshake to its end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reign_tls::ratelimit::Escaped;
use reign_tls::{AuthenticatedStream, HandshakeError};
use tokio::net::TcpListener;

use super::events::{LinkDownReason, NodeEvent, UnreachableReason};
use super::link::{self, Link};
use super::link_tls::LinkTls;
use super::rescue;
use super::{Mesh, Peer};
use crate::proto::backoff::Backoff;

impl Mesh {
    /// What each link allows its peer, and its timers, from the tunables.
    pub(crate) fn limits(&self) -> crate::proto::link::Limits {
        let t = &self.config.tunables;
        crate::proto::link::Limits {
            heartbeat_interval: t.heartbeat_interval,
            silence_limit: t.peer_silence_limit,
            max_monitors: t.max_monitors_per_link,
            max_announced: t.max_announced_per_link,
        }
    }

    /// Whether this node is the one that dials `peer` (the lower node ID dials).
    pub(crate) fn dials(&self, peer: &Peer) -> bool {
        self.node.id() < &peer.id
    }

    /// Accepts connections until stopped; each handshake runs in its own task.
    pub(crate) async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                () = self.stop.cancelled() => return,
            };
            let tcp = match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(node = %self.node.id(), error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let me = self.clone();
            self.spawn(async move {
                let result = tokio::select! {
                    r = me.tls.accept(tcp) => r,
                    () = me.stop.cancelled() => return,
                };
                match result {
                    Ok(stream) => me.adopt(stream).await,
                    Err(e) => me.handshake_failed(None, &e),
                }
            });
        }
    }

    /// Takes an accepted, authenticated connection into service, or closes it if the pair
    /// already has a link and this connection does not come from the designated dialer.
    async fn adopt(self: &Arc<Self>, stream: AuthenticatedStream) {
        if stream.peer().kind == reign_tls::PeerKind::Operator {
            // Never a link, never announced: see cluster/operator.
            return self.serve_operator(stream).await;
        }
        let peer_id = stream.peer().node_id.clone();
        // reign-tls refused nodes this one does not admit already; a node it admits but does
        // not know joins here.
        let known = self.peers.get(&peer_id).or_else(|| {
            self.learn(
                &peer_id,
                None,
                super::AddrSource::Unknown,
                super::events::JoinedVia::Connected,
            )
        });
        let Some(peer) = known else {
            reign_tls::warn_limited!(node = %self.node.id(), peer = %peer_id, "connection from a node this node does not take closed");
            return;
        };
        let from_dialer = !self.dials(&peer);
        // Two processes with this ID (one certificate, run twice): while the live link's
        // peer is heard from, the higher incarnation is kept, whichever connected first and
        // whoever dials, so every node settles on the same one.
        let incoming = stream.peer().incarnation;
        let heard_within = self.config.tunables.heartbeat_interval * 2;
        if let Some(live) = peer.link()
            && let Some(verdict) = crate::proto::registry::duplicate(
                live.peer_incarnation,
                live.heard_within(heard_within),
                incoming,
            )
        {
            let (kept, refused) = (verdict.kept, verdict.refused);
            reign_tls::warn_limited!(node = %self.node.id(), peer = %peer_id, %kept, %refused, "two processes hold this node ID; keeping the higher incarnation");
            if self.refusal_events.admit().is_some() {
                self.emit(NodeEvent::DuplicateNode {
                    node: peer_id.clone(),
                    kept,
                    refused,
                });
            }
            if !verdict.incoming_wins {
                say_goodbye(stream, crate::proto::wire::GOODBYE_DUPLICATE_ID).await;
                return;
            }
            // The newcomer wins: it replaces the live link, which is told why.
            live.end(LinkDownReason::ReplacedByDuplicate);
            self.run_link(&peer, stream).await;
            return;
        }
        if !from_dialer && peer.link().is_some() {
            reign_tls::debug_limited!(node = %self.node.id(), peer = %peer_id, "second connection from a node that should be dialed; keeping the existing link");
            say_link_exists(stream).await;
            return;
        }
        self.run_link(&peer, stream).await;
    }

    /// Dials `peer` until stopped, redialling with capped exponential backoff and jitter
    /// whenever the link is lost or a dial fails. For a peer of a lower ID (the registry's
    /// fallback, see `RegistryLimits::fallback_after`) it ends once a link is in service.
    pub(crate) async fn dial_loop(self: Arc<Self>, peer: Arc<Peer>) {
        let t = &self.config.tunables;
        let designated = self.dials(&peer);
        let mut backoff = Backoff::new(t.reconnect_backoff_min, t.reconnect_backoff_max);
        // When the peer was last reported unreachable (None: not since the last link).
        let mut reported: Option<tokio::time::Instant> = None;
        loop {
            if self.stop.is_cancelled() || peer.retired.load(Ordering::Relaxed) {
                return;
            }
            // A link made another way (the peer dialed first, or this node reached it as a
            // seed) is kept: dial only once it is gone.
            if peer.link().is_some() {
                if !designated {
                    peer.dialing.store(false, Ordering::Release);
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(t.heartbeat_interval) => {}
                    () = self.stop.cancelled() => return,
                }
                continue;
            }
            let dialed = tokio::select! {
                r = self.dial(&peer) => r,
                () = self.stop.cancelled() => return,
            };
            let dialed = match dialed {
                Dialed::Busy => {
                    // Someone else dials that address (a seed round) or a link came: look
                    // again in a moment.
                    tokio::select! {
                        () = tokio::time::sleep(t.reconnect_backoff_min) => {}
                        () = self.stop.cancelled() => return,
                    }
                    continue;
                }
                Dialed::NoAddress => None,
                Dialed::Done(r) => Some(*r),
            };
            let hinted = self.hinted(&peer);
            let mut failed = true;
            let unreachable = match dialed {
                Some(Ok((stream, claim))) => {
                    // Installed before the claim goes, so that no seed round dials it again.
                    let link = self.start_link(&peer, stream);
                    drop(claim);
                    // A connection refused after the handshake (GOODBYE: the pair has a
                    // link already, or another process holds this ID) counts as a failure.
                    if link.await {
                        backoff.reset();
                        reported = None;
                        failed = false;
                        if !designated {
                            peer.dialing.store(false, Ordering::Release);
                            return;
                        }
                    }
                    None
                }
                Some(Err(HandshakeError::Io { source, .. })) => {
                    Some(UnreachableReason::Connect(source.kind()))
                }
                Some(Err(e)) => {
                    // Any failed dial counts toward forgetting a hinted node: a listener
                    // that accepts TCP and then fails the handshake included.
                    if !hinted || self.refusal_events.admit().is_some() {
                        self.handshake_failed(Some(&peer), &e);
                    }
                    None
                }
                None => Some(UnreachableReason::DoesNotResolve),
            };
            peer.dialed(unreachable);
            if failed && self.dial_failed(&peer) {
                // Forgotten: learned from a hint only, it never answered.
                peer.dialing.store(false, Ordering::Release);
                return;
            }
            // Only the designated dialer reports a peer unreachable (a fallback dial is the
            // other side's second try).
            if let Some(reason) = unreachable.filter(|_| designated) {
                let now = tokio::time::Instant::now();
                let every = t.reconnect_backoff_max * UNREACHABLE_REPORT_BACKOFFS;
                if reported.is_none_or(|at| now.duration_since(at) >= every) {
                    reported = Some(now);
                    let addr = self.addr_of(&peer.id);
                    tracing::warn!(node = %self.node.id(), peer = %peer.id, addr = %Escaped(&addr), %reason, "member unreachable; redialing");
                    self.emit(NodeEvent::Unreachable {
                        node: peer.id.clone(),
                        addr,
                        reason,
                    });
                }
            }
            let wait = backoff.failed(unit_random());
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return,
            }
        }
    }

    /// Resolves the peer's address and dials it. [`Dialed::NoAddress`] when it does not resolve
    /// (reported by the dial loop as unreachable, on its budget: it is the configuration's or
    /// the DNS's problem, not the peer's, and it repeats at every redial).
    async fn dial(self: &Arc<Self>, peer: &Peer) -> Dialed {
        let target = self.addr_of(&peer.id);
        let addr = match tokio::net::lookup_host(target.as_str()).await {
            Ok(mut addrs) => addrs.next(),
            Err(e) => {
                tracing::debug!(node = %self.node.id(), peer = %peer.id, addr = %Escaped(&target), error = %e, "the peer's address does not resolve");
                return Dialed::NoAddress;
            }
        };
        let Some(addr) = addr else {
            tracing::debug!(node = %self.node.id(), peer = %peer.id, addr = %Escaped(&target), "the peer's address resolves to nothing");
            return Dialed::NoAddress;
        };
        // One dial of an address at a time (this loop's, or a seed round's): two would make
        // two links, the second replacing the first (a Down and an Up for nothing).
        let Some(claim) = self.claim(addr) else {
            return Dialed::Busy;
        };
        if peer.link().is_some() {
            return Dialed::Busy;
        }
        let dialed = self.tls.connect(addr, &peer.id).await;
        Dialed::Done(Box::new(dialed.map(|s| (s, claim))))
    }

    /// Reports a failed handshake. A dial's refusal is always an event. A refused *accepted*
    /// connection is anyone's doing, so it is counted ([`ClusterStats::handshakes_refused`](super::ClusterStats))
    /// and reported on a budget: connection-level noise (no ClientHello in time, evicted,
    /// closed, not TLS) never becomes an event, and other refusals become at most
    /// [`BURST`](reign_tls::ratelimit::BURST) events per window, so no outsider can flood the
    /// node's event channel or its log.
    fn handshake_failed(&self, peer: Option<&Peer>, e: &HandshakeError) {
        if peer.is_none() && e.refusal().is_some() {
            super::bump(&self.counters.handshakes_refused);
        }
        match e.refusal() {
            Some((_, reason)) if peer.is_none() && is_noise(reason) => {
                reign_tls::debug_limited!(node = %self.node.id(), error = %e, "accepted connection closed during the handshake");
            }
            Some((by, reason)) if peer.is_some() || self.refusal_events.admit().is_some() => self
                .emit(NodeEvent::Refused {
                    // An accepted connection's dialer that refused is named by the ID its
                    // certificate proved.
                    node: peer
                        .map(|p| p.id.clone())
                        .or_else(|| e.proven_peer().cloned()),
                    by,
                    reason: reason.clone(),
                }),
            Some(_) => {}
            // Connection refused / unreachable: reported by the dial loop, on its budget.
            None => {
                tracing::debug!(node = %self.node.id(), peer = ?peer.map(|p| &p.id), error = %e, "dial failed")
            }
        }
    }

    /// Runs one link from installation to cleanup.
    ///
    /// The link runs in a task of its own, so that a panic in it (a bug in reign, or in code
    /// it calls such as a message type's `Drop`) ends only that link, reported with
    /// [`LinkDownReason::Panic`], and never the dial loop that made it. Its cleanup is a guard:
    /// it runs however this future ends (returned, panicked or dropped).
    /// Returns whether the link was in service (reported up) before it ended.
    pub(crate) async fn run_link(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        stream: AuthenticatedStream,
    ) -> bool {
        self.start_link(peer, stream).await
    }

    /// Installs the link at once (before this returns), then hands back the rest of
    /// [`run_link`](Self::run_link) as a future: a dialer that holds a claim on the address
    /// (see `Mesh::claim`) drops it once the link is in the peer's slot, so that nobody
    /// dials that peer again meanwhile.
    pub(crate) fn start_link(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        stream: AuthenticatedStream,
    ) -> impl std::future::Future<Output = bool> + Send + 'static {
        let info = stream.peer().clone();
        let proven = link::Proven {
            id: info.node_id.clone(),
            incarnation: info.incarnation,
            valid_until: info.valid_until,
            tls: Some(info),
        };
        let Some(app) = self.runtime.links() else {
            return self.start_link_with(peer, proven, Run::Here(stream));
        };
        // The link's I/O goes to the application's runtime, its socket to that runtime's
        // reactor; the node's thread watches it (see `rescue`).
        let raw = Arc::new(AtomicBool::new(false));
        let tls = {
            let _in_app = app.enter();
            LinkTls::new(stream.into_parts().0, raw.clone())
        };
        let run = match tls {
            Ok(tls) => Run::Watched(Box::new(tls), raw, app.clone()),
            Err(e) => {
                // On a budget: a member reconnecting while the cause lasts (no room for
                // another socket in the reactor, say) repeats it.
                reign_tls::warn_limited!(node = %self.node.id(), error = %e, "cannot move a link's socket to the application's runtime");
                Run::Failed(e.kind())
            }
        };
        self.start_link_with(peer, proven, run)
    }

    /// [`run_link`](Self::run_link) over any stream, with the identity the handshake proved:
    /// the peer `id` in its life `incarnation`, its certificate chain valid until
    /// `valid_until`.
    pub(crate) async fn run_link_over<S: link::Stream>(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        proven: link::Proven,
        stream: S,
    ) -> bool {
        self.start_link_over(peer, proven, stream).await
    }

    /// [`start_link`](Self::start_link) over any stream, run on the node's runtime.
    fn start_link_over<S: link::Stream>(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        proven: link::Proven,
        stream: S,
    ) -> impl std::future::Future<Output = bool> + Send + 'static {
        self.start_link_with(peer, proven, Run::Here(stream))
    }

    /// [`start_link`](Self::start_link), the link's I/O run as `run` says.
    fn start_link_with<S: link::Stream>(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        proven: link::Proven,
        run: Run<S>,
    ) -> impl std::future::Future<Output = bool> + Send + 'static {
        let t = &self.config.tunables;
        let id = proven.id.clone();
        let link = Arc::new(Link::new(
            proven,
            self.node.incarnation(),
            peer.out.clone(),
            t.max_frame_size,
            self.limits(),
        ));
        if let Some(old) = self.install(peer, link.clone()) {
            // The newer connection wins (see the module docs); the old one ends now.
            old.end(LinkDownReason::Replaced);
        }
        let mut cleanup = Cleanup {
            cluster: self.clone(),
            peer: peer.clone(),
            link: link.clone(),
            teardown: None,
            done: false,
        };
        if self.shutting_down.load(Ordering::Acquire) {
            link.close_gracefully();
        }
        self.announce(&link);
        let task = match run {
            Run::Here(stream) => self.spawn(link::run(link.clone(), stream, self.clone())),
            Run::Watched(tls, raw, app) => {
                let shared =
                    rescue::Shared::new(Box::pin(link::run(link.clone(), tls, self.clone())), raw);
                let tick = (t.heartbeat_interval / 4).max(Duration::from_millis(1));
                self.spawn(rescue::watch(
                    link.clone(),
                    shared.clone(),
                    self.clone(),
                    tick,
                ));
                self.spawn_link(rescue::drive(shared), &app)
            }
            Run::Failed(kind) => self.spawn(async move { LinkDownReason::Io(kind) }),
        };
        let me = self.clone();
        let peer = peer.clone();
        async move {
            let mut reason = match task.await {
                Ok(reason) => reason,
                Err(e) if e.is_panic() => {
                    tracing::error!(node = %me.node.id(), peer = %id, "link task panicked; the link is cleaned up and will be redialed");
                    LinkDownReason::Panic
                }
                // Cancelled: the runtime is shutting down.
                Err(_) => LinkDownReason::LocalShutdown,
            };
            if me.shutting_down.load(Ordering::Acquire) && reason != LinkDownReason::PeerShutDown {
                reason = LinkDownReason::LocalShutdown;
            }
            // A member can cause this line at will (by reconnecting): on a budget.
            reign_tls::info_limited!(node = %me.node.id(), peer = %id, %reason, "link down");
            link.end(reason.clone());
            link.finish();
            // What the peer built (up to its caps) goes in slices, with a yield between, so
            // that its teardown never holds this worker from other links' heartbeats for
            // long; the guard finishes it at once if this future is dropped meanwhile.
            let teardown = me.begin_teardown(&peer, &link, reason);
            let served = teardown.reported;
            cleanup.teardown = Some(teardown);
            while cleanup.teardown.as_mut().is_some_and(|t| t.step(&me)) {
                tokio::task::yield_now().await;
            }
            if let Some(t) = cleanup.teardown.take() {
                t.finish(&me);
            }
            cleanup.disarm();
            served
        }
    }
}

/// Where a link's I/O runs.
enum Run<S> {
    /// On the node's runtime, over `S`.
    Here(S),
    /// On the application's runtime (the handle), over the TLS stream, watched from the
    /// node's thread through the stream's raw mode (see `rescue`).
    Watched(Box<LinkTls>, Arc<AtomicBool>, tokio::runtime::Handle),
    /// Nowhere: the socket could not be moved to the application's runtime.
    Failed(std::io::ErrorKind),
}

/// What a dial loop's attempt came to.
enum Dialed {
    /// The address does not resolve (or resolves to nothing).
    NoAddress,
    /// The address is being dialed by someone else, or a link is up: nothing was tried.
    Busy,
    /// A handshake took place: the stream, with the claim on its address (drop it once the
    /// link is installed), or why it failed.
    Done(Box<Result<(AuthenticatedStream, super::join::Claim), HandshakeError>>),
}

/// Finishes a link's teardown when dropped before `run_link` did: all of it, with
/// [`LinkDownReason::Panic`] (the code that was to find the reason never got there), or what
/// is left of a teardown begun.
struct Cleanup {
    cluster: Arc<Mesh>,
    peer: Arc<Peer>,
    link: Arc<Link>,
    teardown: Option<super::Teardown>,
    done: bool,
}

impl Cleanup {
    /// The link's teardown is done: nothing is left for the guard.
    fn disarm(&mut self) {
        self.done = true;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(t) = self.teardown.take() {
            t.finish(&self.cluster);
            return;
        }
        let reason = LinkDownReason::Panic;
        // Stops the link's task if it still runs (this future was dropped before it ended).
        self.link.end(reason.clone());
        self.link.finish();
        self.cluster.uninstall(&self.peer, &self.link, reason);
    }
}

/// Closes a connection from the higher node of a pair that already has a link: GOODBYE with
/// reason [`GOODBYE_LINK_EXISTS`](crate::proto::wire::GOODBYE_LINK_EXISTS), then close_notify,
/// bounded in time (a peer that does not read gets nothing more).
async fn say_link_exists(stream: AuthenticatedStream) {
    say_goodbye(stream, crate::proto::wire::GOODBYE_LINK_EXISTS).await;
}

/// GOODBYE with `reason` on a connection that never became a link, then close_notify,
/// within 200 ms.
async fn say_goodbye(mut stream: AuthenticatedStream, reason: u8) {
    use tokio::io::AsyncWriteExt;
    let mut bye = bytes::BytesMut::new();
    crate::proto::wire::encode(&crate::proto::wire::Frame::Goodbye { reason }, &mut bye);
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        stream.write_all(&bye).await?;
        stream.shutdown().await
    })
    .await;
}

/// Refusals of accepted connections that say nothing about any identity: the cost of being
/// reachable, not news.
fn is_noise(reason: &reign_tls::Refusal) -> bool {
    use reign_tls::Refusal as R;
    matches!(
        reason,
        R::HandshakeTimeout | R::Evicted | R::ClosedDuringHandshake | R::TlsFailure { .. }
    )
}

/// `d` scaled by a random factor in [0.5, 1.0), so that nodes that lost each other at the
/// same moment do not redial in lockstep.
/// How often a member that stays unreachable is reported again, in longest redial delays
/// (12 × 5 s: a minute, by default).
const UNREACHABLE_REPORT_BACKOFFS: u32 = 12;

/// A random number in [0, 1), for the redial jitter.
pub(crate) fn unit_random() -> f64 {
    (reign_tls::Incarnation::random().get() % 1_000_000) as f64 / 1_000_000.0
}
