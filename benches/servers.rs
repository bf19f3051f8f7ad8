//! A call through a server (`ServerRef::call` to a `Server`) against the same call on the
//! mailbox layer beneath it (`Address::call` to a task that loops on its mailbox), in one
//! process and across two nodes over loopback TLS. Both make a reply mailbox and a monitor
//! per call; the difference is the server layer: its envelope, the reply handle, the
//! handler's panic guard and the signal check of its loop.
//!
//! Run: `cargo bench --bench servers`. Prints ns per call for each, best of the rounds, and
//! the ratio (server / mailbox) from the same run.
#![allow(clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use reign::{Address, Ctx, Exit, Node, NodeConfig, ReplyTo, Server, TlsFiles};
use serde::{Deserialize, Serialize};

const LOCAL_CALLS: usize = 100_000;
const REMOTE_CALLS: usize = 20_000;
const ROUNDS: usize = 5;
const WAIT: Duration = Duration::from_secs(10);

/// The mailbox layer's request: the reply address travels in it.
#[derive(Serialize, Deserialize)]
struct Double {
    n: u64,
    reply: Address<u64>,
}
reign::message!(Double = "bench.Double");

/// The server layer's request: a call variant with its reply handle.
#[derive(Serialize, Deserialize)]
enum DoubleMsg {
    Double(u64, ReplyTo<u64>),
}
reign::message!(DoubleMsg = "bench.DoubleMsg");

struct Doubler;

impl Server for Doubler {
    type Msg = DoubleMsg;
    type Args = ();
    async fn init(_: (), _: &mut Ctx<Self>) -> Result<Self, Exit> {
        Ok(Doubler)
    }
    async fn handle(&mut self, msg: DoubleMsg, _: &mut Ctx<Self>) -> Result<(), Exit> {
        let DoubleMsg::Double(n, reply) = msg;
        reply.send(n * 2);
        Ok(())
    }
}

/// A task answering `Double` on a mailbox of `node`.
fn raw_server(node: &Node) -> Address<Double> {
    let (mut inbox, addr) = node.mailbox::<Double>();
    tokio::spawn(async move {
        loop {
            let req = inbox.recv().await;
            let _ = req.reply.try_send(req.n * 2);
        }
    });
    addr
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let local = Node::new("a".parse().expect("id"));
    let raw = raw_server(&local);
    let server = local.spawn::<Doubler>(()).await.expect("spawn");
    compare(
        "in one process",
        LOCAL_CALLS,
        || {
            let raw = raw.clone();
            async move {
                raw.call(|reply| Double { n: 21, reply }, WAIT)
                    .await
                    .expect("call");
            }
        },
        || {
            let server = server.clone();
            async move {
                server
                    .call(|r| DoubleMsg::Double(21, r), WAIT)
                    .await
                    .expect("call");
            }
        },
    )
    .await;

    let (a, b) = two_nodes().await;
    let seen_raw: Address<Double> = a.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(raw_server(&b)).expect("encode"))
            .expect("decode")
    });
    let b_server = b.spawn::<Doubler>(()).await.expect("spawn");
    let seen_server: reign::ServerRef<Doubler> = a.with_decode_scope(|| {
        serde_json::from_value(serde_json::to_value(&b_server).expect("encode")).expect("decode")
    });
    compare(
        "across two nodes (loopback TLS)",
        REMOTE_CALLS,
        || {
            let raw = seen_raw.clone();
            async move {
                raw.call(|reply| Double { n: 21, reply }, WAIT)
                    .await
                    .expect("call");
            }
        },
        || {
            let server = seen_server.clone();
            async move {
                server
                    .call(|r| DoubleMsg::Double(21, r), WAIT)
                    .await
                    .expect("call");
            }
        },
    )
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

/// Runs `calls` calls of each, alternating rounds, and prints the best round of each.
async fn compare<R, S, FR, FS>(what: &str, calls: usize, raw: R, server: S)
where
    R: Fn() -> FR,
    S: Fn() -> FS,
    FR: std::future::Future<Output = ()>,
    FS: std::future::Future<Output = ()>,
{
    let per = |d: Duration| d.as_nanos() as f64 / calls as f64;
    let (mut best_raw, mut best_server) = (f64::MAX, f64::MAX);
    let (mut raws, mut servers) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..calls {
            raw().await;
        }
        let r = per(t.elapsed());
        let t = Instant::now();
        for _ in 0..calls {
            server().await;
        }
        let s = per(t.elapsed());
        raws.push(r);
        servers.push(s);
        best_raw = best_raw.min(r);
        best_server = best_server.min(s);
    }
    println!("call round trip {what}, {calls} calls per round, {ROUNDS} rounds");
    println!("{:<40} {:>10} {:>24}", "scenario", "best ns", "rounds");
    let show = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{:<40} {:>10.0} {:>24}",
        "mailbox: Address::call",
        best_raw,
        show(&raws)
    );
    println!(
        "{:<40} {:>10.0} {:>24}",
        "server: ServerRef::call",
        best_server,
        show(&servers)
    );
    println!("ratio (server / mailbox): {:.3}x", best_server / best_raw);
    println!();
}

async fn two_nodes() -> (Node, Node) {
    let dir = common::pki(&["a", "b"]);
    let config = |id: &str| {
        let tls = TlsFiles {
            ca: dir.path().join("ca.pem"),
            cert: dir.path().join(format!("{id}.pem")),
            key: dir.path().join(format!("{id}.key")),
            crl: None,
            pinned: Vec::new(),
            watch: false,
        };
        NodeConfig::new(
            id.parse().expect("id"),
            "bench",
            "127.0.0.1:0".parse().expect("addr"),
            tls,
        )
    };
    let b = Node::start(config("b").with_member("a".parse().expect("id"), "127.0.0.1:1"))
        .await
        .expect("start b");
    let b_addr = b.cluster().local_addr().expect("addr").to_string();
    let a = Node::start(config("a").with_member("b".parse().expect("id"), b_addr))
        .await
        .expect("start a");
    a.cluster()
        .wait_for(&"b".parse().expect("id"), WAIT)
        .await
        .expect("link");
    // The pki's folder may go: the nodes have read their files.
    drop(dir);
    (a, b)
}
