//! Test helpers for clusters: nodes started in one process over real TLS on loopback, and a
//! TCP proxy that can cut or blackhole the traffic between two of them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use reign::{LinkDownReason, Node, NodeConfig, NodeEvent, NodeId, TlsFiles, Tunables};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::{Pki, WAIT, bounded, node};

/// Tunables that make failures show within a second.
pub(crate) fn fast_tunables() -> Tunables {
    let mut t = Tunables::default();
    t.heartbeat_interval = Duration::from_millis(100);
    t.peer_silence_limit = Duration::from_millis(800);
    t.reconnect_backoff_min = Duration::from_millis(20);
    t.reconnect_backoff_max = Duration::from_millis(300);
    t.shutdown_timeout = Duration::from_secs(3);
    t
}

/// [`fast_tunables`] for a link a test fills toward a stalled peer: a 256 KiB buffer, 64 KiB
/// frames, and a silence limit long enough that the link stays up while the peer is
/// blackholed.
pub(crate) fn small_buffer_tunables() -> Tunables {
    let mut t = fast_tunables();
    t.link_buffer_limit = 256 * 1024;
    t.max_frame_size = 64 * 1024;
    t.peer_silence_limit = Duration::from_secs(20);
    t
}

/// `addr` as node `at` binds it after receiving it by value in a message.
pub(crate) fn seen_from<M: reign::Message>(
    at: &Node,
    addr: &reign::Address<M>,
) -> reign::Address<M> {
    at.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(addr).expect("encode")).expect("decode")
    })
}

/// A cluster of nodes in this process.
pub(crate) struct Mesh {
    pub(crate) pki: Pki,
    pub(crate) ids: Vec<String>,
    pub(crate) nodes: HashMap<String, Node>,
    pub(crate) addrs: HashMap<String, SocketAddr>,
    pub(crate) tunables: Tunables,
    /// `(a, b)` -> the address `a` dials for `b`, when not `b`'s own.
    pub(crate) via: HashMap<(String, String), String>,
    /// Whether every node's configuration names the cluster's `crl.pem`.
    pub(crate) crl: bool,
}

impl Mesh {
    /// Starts every node of `ids`, all members of each other, and waits for the full mesh.
    pub(crate) async fn start(ids: &[&str]) -> Mesh {
        Self::start_with(ids, fast_tunables()).await
    }

    /// [`Mesh::start`] with the given tunables.
    pub(crate) async fn start_with(ids: &[&str], tunables: Tunables) -> Mesh {
        Self::start_inner(ids, &[], tunables, false).await.0
    }

    /// Nodes `ids` configured (certificates made, all members of each other), none started.
    /// With `crl`, every node reads the cluster's CRL (`crl.pem`, made here by revoking a
    /// certificate issued for no member), so that a revocation published later reaches a
    /// node at its next [`Node::reload_tls`].
    pub(crate) fn unstarted(ids: &[&str], tunables: Tunables, crl: bool) -> Mesh {
        let mesh = Mesh {
            pki: Pki::new("test", ids),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            nodes: HashMap::new(),
            addrs: HashMap::new(),
            tunables,
            via: HashMap::new(),
            crl,
        };
        if crl {
            let dir = mesh.pki.dir.path();
            reign_certgen::issue(dir, &["nobody"], &Default::default()).expect("issue");
            reign_certgen::revoke(
                dir,
                reign_certgen::RevokeTarget::Node("nobody".into()),
                reign_certgen::RevocationReason::Superseded,
            )
            .expect("a first CRL");
        }
        mesh
    }

    /// Starts every node of `ids`, all members of each other at an address nobody answers,
    /// so that no link comes up by itself (for links made by hand, in memory).
    pub(crate) async fn start_unlinked(ids: &[&str]) -> Mesh {
        let mut mesh = Self::unstarted(ids, fast_tunables(), false);
        let configs: Vec<_> = ids.iter().map(|id| (*id, mesh.config(id))).collect();
        for (id, config) in configs {
            let n = bounded(Node::start(config)).await.expect("node starts");
            mesh.nodes.insert(id.to_string(), n);
        }
        mesh
    }

    /// Like [`Mesh::start`], every node reading the cluster's CRL (see [`Mesh::unstarted`]).
    pub(crate) async fn start_with_crl(ids: &[&str]) -> Mesh {
        Self::start_inner(ids, &[], fast_tunables(), true).await.0
    }

    /// Like [`Mesh::start`], but `from` reaches `to` through a [`Proxy`] (`from` must be the
    /// lower ID: it is the one that dials).
    pub(crate) async fn start_proxied(
        ids: &[&str],
        pair: (&str, &str),
        tunables: Tunables,
    ) -> (Mesh, Proxy) {
        let (mesh, mut proxies) = Self::start_inner(ids, &[pair], tunables, false).await;
        (mesh, proxies.remove(0))
    }

    /// Like [`Mesh::start_proxied`] for several pairs; the proxies come back in order.
    pub(crate) async fn start_proxied_pairs(
        ids: &[&str],
        pairs: &[(&str, &str)],
        tunables: Tunables,
    ) -> (Mesh, Vec<Proxy>) {
        Self::start_inner(ids, pairs, tunables, false).await
    }

    async fn start_inner(
        ids: &[&str],
        pairs: &[(&str, &str)],
        tunables: Tunables,
        crl: bool,
    ) -> (Mesh, Vec<Proxy>) {
        for (from, to) in pairs {
            assert!(from < to, "the lower ID dials");
        }
        let mut mesh = Self::unstarted(ids, tunables, crl);
        let mut proxies: Vec<Option<Proxy>> = pairs.iter().map(|_| None).collect();
        // The lower ID dials, so start from the highest: every node a node dials is up.
        let mut order: Vec<&str> = ids.to_vec();
        order.sort();
        order.reverse();
        for id in order {
            for (i, (from, to)) in pairs.iter().enumerate() {
                if *from == id {
                    let p = Proxy::start(mesh.addrs[*to]).await;
                    mesh.via
                        .insert((from.to_string(), to.to_string()), p.addr.to_string());
                    proxies[i] = Some(p);
                }
            }
            mesh.launch(id).await;
        }
        for a in ids {
            for b in ids {
                if a < b {
                    mesh.node(a)
                        .cluster()
                        .wait_for(&node(b), WAIT)
                        .await
                        .expect("link up");
                    mesh.node(b)
                        .cluster()
                        .wait_for(&node(a), WAIT)
                        .await
                        .expect("link up");
                }
            }
        }
        (
            mesh,
            proxies.into_iter().map(|p| p.expect("proxy")).collect(),
        )
    }

    /// Starts (or restarts) node `id`, on the port it had before if it ran already.
    pub(crate) async fn launch(&mut self, id: &str) -> Node {
        let mut config = self.config(id);
        if let Some(addr) = self.addrs.get(id) {
            config.listen = *addr;
        }
        let n = bounded(Node::start(config)).await.expect("node starts");
        self.addrs
            .insert(id.to_string(), n.cluster().local_addr().expect("listening"));
        self.nodes.insert(id.to_string(), n.clone());
        n
    }

    /// The configuration of `id`: listen on port 0, every other node a member.
    pub(crate) fn config(&self, id: &str) -> NodeConfig {
        let via = &self.via;
        let dir = self.pki.dir.path();
        let tls = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{id}.pem")),
            key: dir.join(format!("{id}.key")),
            crl: self.crl.then(|| dir.join("crl.pem")),
            pinned: Vec::new(),
            watch: false,
        };
        let mut c = NodeConfig::new(node(id), "test", "127.0.0.1:0".parse().unwrap(), tls);
        for other in &self.ids {
            if other == id {
                continue;
            }
            let addr = via
                .get(&(id.to_string(), other.clone()))
                .cloned()
                .or_else(|| self.addrs.get(other).map(|a| a.to_string()))
                // Never dialed: only lower IDs dial, and those start later.
                .unwrap_or_else(|| "127.0.0.1:1".to_string());
            c = c.with_member(node(other), addr);
        }
        c.tunables = self.tunables.clone();
        c
    }

    pub(crate) fn node(&self, id: &str) -> &Node {
        &self.nodes[id]
    }

    pub(crate) async fn shutdown(&self) {
        for n in self.nodes.values() {
            bounded(n.shutdown()).await;
        }
    }
}

/// Waits for the first event matching `pred`.
pub(crate) async fn next_event(
    rx: &mut reign::Events,
    pred: impl Fn(&NodeEvent) -> bool,
) -> NodeEvent {
    bounded(async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(reign::EventsError::Lagged(_)) => {}
                Err(e) => panic!("event channel closed: {e}"),
            }
        }
    })
    .await
}

/// Waits for `peer` to go down on `rx`, returning the reason.
pub(crate) async fn next_down(rx: &mut reign::Events, peer: &NodeId) -> LinkDownReason {
    match next_event(
        rx,
        |e| matches!(e, NodeEvent::Down { node, .. } if node == peer),
    )
    .await
    {
        NodeEvent::Down { reason, .. } => reason,
        _ => unreachable!(),
    }
}

/// What a [`Proxy`] does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Forward,
    /// Holds every byte, keeps the sockets open: a peer that went silent.
    Blackhole,
    /// Closes new connections at once (with [`Proxy::cut`]: a partition).
    Reject,
    /// Forwards at most this many bytes per second in each direction: a slow network.
    Throttle(u32),
}

/// A TCP proxy to `target`: forwards, blackholes, or cuts every connection through it.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Bumped to cut every live connection.
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Forward);
        let (cut, _) = watch::channel(0u64);
        let (mode_tx, cut_tx) = (mode.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *mode_tx.borrow() == Mode::Reject {
                    drop(inbound);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                let generation = *cut_tx.borrow();
                for (r, w) in [(ri, wo), (ro, wi)] {
                    let mode = mode_tx.subscribe();
                    let cut = cut_tx.subscribe();
                    tokio::spawn(pipe(r, w, mode, cut, generation));
                }
            }
        });
        Proxy {
            addr,
            mode,
            cut,
            task,
        }
    }

    pub(crate) fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// A partition: cuts every connection and refuses new ones until [`Proxy::heal`].
    pub(crate) fn partition(&self) {
        self.set(Mode::Reject);
        self.cut();
    }

    /// Ends a partition.
    pub(crate) fn heal(&self) {
        self.set(Mode::Forward);
    }

    /// Closes every connection through the proxy (new ones are accepted).
    pub(crate) fn cut(&self) {
        self.cut.send_modify(|g| *g += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn pipe(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    mut cut: watch::Receiver<u64>,
    generation: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = r.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = cut.wait_for(|g| *g != generation) => return,
        };
        // Hold the bytes while blackholed.
        tokio::select! {
            _ = mode.wait_for(|m| !matches!(m, Mode::Blackhole | Mode::Reject)) => {}
            _ = cut.wait_for(|g| *g != generation) => return,
        }
        let rate = match *mode.borrow() {
            Mode::Throttle(rate) => Some(rate),
            _ => None,
        };
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(rate) = rate {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / f64::from(rate.max(1)))).await;
        }
    }
}
