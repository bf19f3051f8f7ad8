//! Cluster-wide names: lookup cost beside a plain `DashMap` lookup in the same run, and the
//! time for a registration on one node to become visible on two others over loopback TLS.
//!
//! Run: `cargo bench --bench names`.
#![allow(clippy::print_stdout)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use reign::{Address, NameConflict, Node, NodeConfig, TlsFiles};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
enum Msg {
    Conflict(NameConflict),
}
impl From<NameConflict> for Msg {
    fn from(c: NameConflict) -> Self {
        Msg::Conflict(c)
    }
}
reign::message!(Msg = "bench.Msg");

const LOOKUPS: usize = 2_000_000;
const NAMES: usize = 1_000;
const REGISTRATIONS: usize = 300;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    lookup_cost();
    visibility().await;
}

fn lookup_cost() {
    let node = Node::new("a".parse().expect("id"));
    let mut keep = Vec::new();
    let map = dashmap::DashMap::new();
    for i in 0..NAMES {
        let (mb, addr) = node.mailbox::<Msg>();
        let name = format!("service-{i}");
        node.global().register(&name, &addr).expect("register");
        map.insert(name, addr.clone());
        keep.push(mb);
    }
    let names: Vec<String> = (0..NAMES).map(|i| format!("service-{i}")).collect();
    let per = |d: Duration| d.as_nanos() as f64 / LOOKUPS as f64;
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        for i in 0..LOOKUPS {
            let a: Address<Msg> = map
                .get(&names[i % NAMES])
                .map(|e| e.value().clone())
                .expect("present");
            black_box(a);
        }
        best.1 = best.1.min(per(t.elapsed()));
        let t = Instant::now();
        for i in 0..LOOKUPS {
            let a: Address<Msg> = node.global().whereis(&names[i % NAMES]).expect("present");
            black_box(a);
        }
        best.0 = best.0.min(per(t.elapsed()));
    }
    println!("lookup of one of {NAMES} names, {LOOKUPS} lookups, best of 3");
    println!("{:<48} {:>10}", "scenario", "ns/lookup");
    println!(
        "{:<48} {:>10.1}",
        "DashMap<String, Address> get + clone", best.1
    );
    println!(
        "{:<48} {:>10.1}",
        "reign global().whereis (typed, local copy)", best.0
    );
    println!("ratio: {:.2}x", best.0 / best.1);
}

async fn visibility() {
    let ids = ["a", "b", "c"];
    let dir = common::pki(&ids);
    let mut addrs = std::collections::HashMap::new();
    let mut nodes = std::collections::HashMap::new();
    for id in ["c", "b", "a"] {
        let tls = TlsFiles {
            ca: dir.path().join("ca.pem"),
            cert: dir.path().join(format!("{id}.pem")),
            key: dir.path().join(format!("{id}.key")),
            crl: None,
            pinned: Vec::new(),
            watch: false,
        };
        let mut config = NodeConfig::new(
            id.parse().expect("id"),
            "bench",
            "127.0.0.1:0".parse().expect("addr"),
            tls,
        );
        for other in ids.iter().filter(|o| **o != id) {
            let addr = addrs
                .get(*other)
                .map(|a: &std::net::SocketAddr| a.to_string())
                .unwrap_or_else(|| "127.0.0.1:1".into());
            config = config.with_member(other.parse().expect("id"), addr);
        }
        let node = Node::start(config).await.expect("start");
        addrs.insert(id, node.cluster().local_addr().expect("addr"));
        nodes.insert(id, node);
    }
    for (x, y) in [("a", "b"), ("a", "c"), ("b", "c")] {
        nodes[x]
            .cluster()
            .wait_for(&y.parse().expect("id"), Duration::from_secs(10))
            .await
            .expect("link");
    }
    let (a, b, c) = (&nodes["a"], &nodes["b"], &nodes["c"]);
    let mut times = Vec::with_capacity(REGISTRATIONS);
    let mut keep = Vec::new();
    for i in 0..REGISTRATIONS {
        let name = format!("visible-{i}");
        let (mut wb, mut wc) = (b.global().watch(&name), c.global().watch(&name));
        let (mb, addr) = a.mailbox::<Msg>();
        let t = Instant::now();
        a.global().register(&name, &addr).expect("register");
        let seen = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(wb.changed(), wc.changed())
        })
        .await
        .expect("visible in time");
        times.push(t.elapsed());
        assert!(seen.0.is_some() && seen.1.is_some());
        keep.push(mb);
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!();
    println!("registration on a, visible on b and c (loopback TLS), {REGISTRATIONS} names");
    println!(
        "median {:?}   p90 {:?}   p99 {:?}   max {:?}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        times[times.len() - 1]
    );
    for n in nodes.values() {
        n.shutdown().await;
    }
}
