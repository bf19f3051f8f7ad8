//! The node registry at scale: N nodes in one process on loopback, and how long until every
//! node sees every other up (the full mesh, N(N-1)/2 links), and until a cluster-wide name
//! registered on one node resolves on all.
//!
//! Run: `cargo bench --bench registry` (`BENCH_SIZES=16,32` for other sizes,
//! `BENCH_ROUNDS=<n>` for more rounds than 3).
//!
//! - Seeded: node 0 starts knowing nobody; each other node starts with node 0's address as
//!   its only seed (every node on port 0), and learns the rest from ADVERTISE and HINT.
//! - Baseline, in the same run: the same N nodes with static membership, every file listing
//!   every other node's address (started highest ID first, so each dials nodes already up).
//!
//! Both use one two-worker runtime, the default tunables but a 100 ms minimum redial delay,
//! and certificates made by reign-certgen (P-256). The clock starts when the first node
//! starts; the nodes start one after the other, as fast as `Node::start` returns.
#![allow(clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use reign::{Member, NameConflict, Node, NodeConfig, NodeId, TlsFiles};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
enum Probe {
    Conflict(NameConflict),
}
impl From<NameConflict> for Probe {
    fn from(c: NameConflict) -> Self {
        Probe::Conflict(c)
    }
}
reign::message!(Probe = "bench.registry.Probe");

fn id(i: usize) -> String {
    format!("n{i:03}")
}

fn config(dir: &std::path::Path, i: usize) -> NodeConfig {
    let n = id(i);
    let mut c = NodeConfig::new(
        n.parse().expect("id"),
        "bench",
        "127.0.0.1:0".parse().expect("addr"),
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{n}.pem")),
            key: dir.join(format!("{n}.key")),
            crl: None,
            pinned: Vec::new(),
            watch: false,
        },
    );
    c.tunables.reconnect_backoff_min = Duration::from_millis(100);
    c.tunables.handshake_timeout = Duration::from_secs(10);
    c
}

/// (time to the full mesh, time until the name resolves on every node).
async fn round(dir: &std::path::Path, n: usize, seeded: bool) -> (Duration, Duration) {
    let t0 = Instant::now();
    let mut nodes: Vec<Node> = Vec::with_capacity(n);
    if seeded {
        nodes.push(Node::start(config(dir, 0)).await.expect("start"));
        let seed = nodes[0].cluster().local_addr().expect("addr").to_string();
        for i in 1..n {
            let c = config(dir, i).with_seed(seed.clone());
            nodes.push(Node::start(c).await.expect("start"));
        }
    } else {
        // Highest first: each lists the nodes already up at their addresses (it has the
        // lower ID, so it dials them), and the ones still to start at an address it never
        // dials (they have lower IDs: they dial it).
        let mut addrs: Vec<(NodeId, String)> = Vec::new();
        for i in (0..n).rev() {
            let mut c = config(dir, i);
            for (other, addr) in &addrs {
                c.members.push(Member {
                    id: other.clone(),
                    addr: addr.clone(),
                });
            }
            for j in 0..i {
                c.members.push(Member {
                    id: id(j).parse().expect("id"),
                    addr: "127.0.0.1:1".into(),
                });
            }
            let node = Node::start(c).await.expect("start");
            addrs.push((
                node.id().clone(),
                node.cluster().local_addr().expect("addr").to_string(),
            ));
            nodes.push(node);
        }
    }
    let deadline = Duration::from_secs(120);
    for node in &nodes {
        for j in 0..n {
            let other: NodeId = id(j).parse().expect("id");
            if &other != node.id() {
                node.cluster()
                    .wait_for(&other, deadline)
                    .await
                    .unwrap_or_else(|e| panic!("{} and {other}: {e}", node.id()));
            }
        }
    }
    let linked = t0.elapsed();
    let t1 = Instant::now();
    let (_inbox, at) = nodes[n - 1].mailbox::<Probe>();
    nodes[n - 1]
        .global()
        .register("probe", &at)
        .expect("register");
    for node in &nodes {
        node.global()
            .wait_for::<Probe>("probe", deadline)
            .await
            .expect("the name resolves");
    }
    let named = t1.elapsed();
    for node in nodes {
        node.shutdown().await;
    }
    (linked, named)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![16, 32, 64]);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("registry: N nodes on loopback, {rounds} rounds each, medians (min..max)");
    for &n in &sizes {
        let ids: Vec<String> = (0..n).map(id).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let dir = common::pki(&refs);
        let (mut sl, mut sn, mut bl, mut bn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            // Alternate, so that the machine's drift hits both.
            let (l, m) = runtime.block_on(round(dir.path(), n, false));
            bl.push(l);
            bn.push(m);
            let (l, m) = runtime.block_on(round(dir.path(), n, true));
            sl.push(l);
            sn.push(m);
        }
        let span = |v: &[Duration]| {
            format!(
                "{:.2}..{:.2} s",
                v.iter().min().expect("a round").as_secs_f64(),
                v.iter().max().expect("a round").as_secs_f64()
            )
        };
        let (ms, mb) = (median(sl.clone()), median(bl.clone()));
        println!(
            "  {n:>3} nodes ({} links): one seed each: full mesh {:.2} s ({}), name on all {:.1} ms | static members: full mesh {:.2} s ({}), name on all {:.1} ms | seeded/static {:.2}x",
            n * (n - 1) / 2,
            ms.as_secs_f64(),
            span(&sl),
            median(sn).as_secs_f64() * 1e3,
            mb.as_secs_f64(),
            span(&bl),
            median(bn).as_secs_f64() * 1e3,
            ms.as_secs_f64() / mb.as_secs_f64()
        );
    }
}
