//! Cluster link benchmarks across two OS processes, the way reign is deployed: this binary
//! (the parent) re-executes itself as a child (`--child <role> <pki dir>`), runs its reign
//! node(s) on one side and the child's on the other, over loopback mutual TLS, and measures
//! them side by side with a raw tokio-rustls baseline carrying byte-identical frames between
//! the same two processes, in the same run.
//!
//! Run: `cargo bench --bench cluster_procs` (append `-- stream`, `-- ping` or `-- fanin` to run
//! one scenario). Each scenario has a child process of its own.
//!
//! - stream: (twice: with `send` per message, then with `Address::send_batch`, `BENCH_BATCH`
//!   (64) at a time) node `a` (parent) sends `BENCH_MESSAGES` (2,000,000) messages whose encoded
//!   payload is 64 bytes ([`Blob`], aligned to 8) with `Address::send(..).await` (which waits
//!   for room when the link's buffer is full) to one mailbox on node `b` (child). Timed from the
//!   first send until the parent has read the child's `done` line, which the child writes once
//!   its mailbox has received the last message (the line costs tens of microseconds, against
//!   rounds of 100 ms and more). Baseline: a raw tokio-rustls client in the parent writes the
//!   same SEND frames (`len | 0x10 | target | incarnation | tag_len | tag | payload`, 98
//!   bytes before TLS) in chunks of up to 64 KiB (reign's link writer batch) to a raw server in the child
//!   that parses the length-prefixed frames and counts them, timed the same way. Rounds
//!   alternate raw and reign (a warm-up round of a tenth of the messages, then `BENCH_ROUNDS`,
//!   9); the headline ratio is the median of the per-round ratios (each reign round against
//!   the raw round just before it, which cancels the machine's drift). Goal: >= 0.80x.
//! - ping: sequential round trips: the parent's task sends a [`Blob`] to a mailbox on `b`
//!   (`try_send`: one message in flight never fills the link), a task in the child sends it
//!   back to a mailbox on `a`, and the parent's task waits for it; `BENCH_TRIPS` (20,000) per
//!   round after 2,000 untimed ones. Baseline: the parent writes one frame of the same size
//!   to a raw TLS echo server in the child and reads it back. Mean, p50 and p99 per round;
//!   the table has the median round's. Goal: reign's mean at most 1.15x the raw one.
//! - fanin: the child runs one node, `z`, with one mailbox; the parent runs 8 nodes `s0..s7`,
//!   each streaming [`Blob`]s with `Address::send(..).await` from its own task to that mailbox
//!   at once, `BENCH_MESSAGES / 8` (250,000) each; timed from the first send until the
//!   child says the mailbox has all of them. Baseline: 8 raw TLS connections from the parent
//!   (one writer task each, as in stream) to a raw server in the child (one task per
//!   connection) that counts frames until each has its share. Reported: M msg/s for both and
//!   the ratio (no goal), and the child's CPU per round, per thread-name group (the node's
//!   thread `reign-mesh-z`, the runtime's workers `child-worker`, the control pipe's reader
//!   `child-control`, ...), user and system seconds, read by the parent from
//!   `/proc/<child pid>/task/*/stat` before and after each round (in clock ticks of 10 ms).
//!
//! Each process runs one multi-thread tokio runtime of `BENCH_WORKERS` workers (default 1:
//! two processes share this bench's two-core machine), named `parent-worker` and
//! `child-worker`; every timed task runs on a worker. Nodes use the default tunables (each
//! has its own thread, `reign-mesh-<id>`, and its links' I/O runs on its process's runtime).
//! Both contenders use the same certificates (made once by reign-certgen in a temporary folder
//! that the parent passes to the child), aws-lc-rs, TLS 1.3 and `TCP_NODELAY`. The child talks
//! to the parent in text lines over its stdin and stdout, exits when its stdin closes (so a
//! parent that dies leaves no child behind), and is killed when the parent's handle on it
//! drops.
#![allow(clippy::print_stdout)]

mod common;
use common::{pki, raw_configs};

// blob.rs and raw.rs are shared with `cluster.rs`; not every item is used here.
#[allow(dead_code)]
#[path = "cluster/blob.rs"]
mod blob;
#[allow(dead_code)]
#[path = "cluster/raw.rs"]
mod raw;
#[path = "cluster/stats.rs"]
mod stats;
use blob::{BLOB, Blob};

#[path = "cluster_procs/child.rs"]
mod child;
#[path = "cluster_procs/control.rs"]
mod control;
#[path = "cluster_procs/cpu.rs"]
mod cpu;
#[path = "cluster_procs/scenarios.rs"]
mod scenarios;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use reign::{NodeConfig, NodeId, TlsFiles};
use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream as ClientTls;

/// reign's link writer batch (`reign-core/src/cluster/link.rs`, `CHUNK`).
const CHUNK: usize = 64 * 1024;
const TAG: &str = "bench.Blob64";
/// Only for blob.rs's second layout, not streamed here.
const BYTE_TAG: &str = "bench.Byte64";
/// The encoded payload size: one length byte (bincode's varint) and 63 bytes.
const PAYLOAD: usize = 64;
/// A SEND frame: length, kind, target, target incarnation, tag length, tag, payload.
const FRAME: usize = 4 + 1 + 8 + 8 + 1 + TAG.len() + PAYLOAD;
const KIND_SEND: u8 = 0x10;
/// Untimed round trips before the ping rounds.
const WARM_TRIPS: usize = 2_000;
/// Senders (parent nodes, or raw connections) in the fan-in scenario.
const SENDERS: usize = 8;
/// The address given for a member that never has to be dialed (the higher node ID of a
/// pair is dialed, it does not dial).
const NEVER_DIALED: &str = "127.0.0.1:1";

fn env_or<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > T::default())
        .unwrap_or(default)
}

/// Timed rounds per scenario (`BENCH_ROUNDS`, 9), after one warm-up round.
fn rounds() -> usize {
    env_or("BENCH_ROUNDS", 9)
}

/// Messages per stream round, and per fan-in round all senders together (`BENCH_MESSAGES`).
fn messages() -> u64 {
    env_or("BENCH_MESSAGES", 2_000_000)
}

/// Round trips per ping round (`BENCH_TRIPS`).
fn trips() -> usize {
    env_or("BENCH_TRIPS", 20_000)
}

/// Worker threads of each process's runtime (`BENCH_WORKERS`, 1).
fn workers() -> usize {
    env_or("BENCH_WORKERS", 1)
}

fn runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .thread_name(name)
        .enable_all()
        .build()
        .expect("runtime")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The child's arguments come first: `--child <role> <pki dir>`.
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let role = args.get(i + 1).expect("--child <role> <dir>");
        let dir = args.get(i + 2).expect("--child <role> <dir>");
        return child::main(role, Path::new(dir));
    }
    // cargo bench passes `--bench`; the first other argument filters the scenarios.
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let rt = runtime("parent-worker");
    // All of the parent's work runs on a worker, as the child's does.
    rt.block_on(async move { tokio::spawn(parent(filter)).await })
        .expect("parent");
}

async fn parent(filter: Option<String>) {
    let wants = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let mut ids = vec!["a".to_string(), "b".into(), "z".into()];
    ids.extend((0..SENDERS).map(|i| format!("s{i}")));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let dir = pki(&ids);
    println!(
        "two processes, {} runtime worker(s) each (BENCH_WORKERS); SEND frame: {FRAME} bytes before TLS ({PAYLOAD}-byte payload, tag {TAG:?})",
        workers()
    );
    let mut rows = Vec::new();
    if wants("stream") {
        rows.push(scenarios::stream(dir.path(), None).await);
        rows.push(scenarios::stream(dir.path(), Some(env_or("BENCH_BATCH", 64))).await);
    }
    if wants("ping") {
        rows.extend(scenarios::ping(dir.path()).await);
    }
    if wants("fanin") {
        rows.push(scenarios::fanin(dir.path()).await);
    }
    println!();
    println!(
        "{:<46} {:>12} {:>12} {:>8} {:>10}",
        "scenario (median round; median round ratio)", "reign", "raw TLS", "ratio", "goal"
    );
    for r in &rows {
        println!(
            "{:<46} {:>12} {:>12} {:>7.2}x {:>10}",
            r.name, r.reign, r.raw, r.ratio, r.goal
        );
    }
}

struct Row {
    name: &'static str,
    reign: String,
    raw: String,
    ratio: f64,
    goal: &'static str,
}

fn node_id(id: &str) -> NodeId {
    id.parse().expect("node id")
}

/// A node's configuration with the PKI in `dir`, default tunables, listening on a free port
/// of loopback, and `members` (ID, address to dial it at).
fn node_config(dir: &Path, id: &str, members: &[(String, String)]) -> NodeConfig {
    let tls = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{id}.pem")),
        key: dir.join(format!("{id}.key")),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    };
    let mut c = NodeConfig::new(
        node_id(id),
        "bench",
        "127.0.0.1:0".parse().expect("addr"),
        tls,
    );
    for (m, addr) in members {
        c = c.with_member(node_id(m), addr.clone());
    }
    c
}

/// A raw TLS client connection to the child's raw server (its certificate is `b`'s).
async fn raw_connect(client: &Arc<rustls::ClientConfig>, addr: SocketAddr) -> ClientTls<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("tcp");
    tcp.set_nodelay(true).expect("nodelay");
    tokio_rustls::TlsConnector::from(client.clone())
        .connect(ServerName::try_from("b").expect("name"), tcp)
        .await
        .expect("raw connect")
}

/// Writes `n` SEND frames, batched in chunks of up to 64 KiB, as raw.rs's
/// `raw_stream_round` does (whose server side is in the same process).
async fn write_frames(tls: &mut ClientTls<TcpStream>, n: u64) {
    let mut buf = Vec::with_capacity(CHUNK + FRAME);
    for _ in 0..n {
        raw::put_frame(&mut buf);
        if buf.len() >= CHUNK {
            tls.write_all(&buf).await.expect("raw write");
            buf.clear();
        }
    }
    tls.write_all(&buf).await.expect("raw write");
    tls.flush().await.expect("raw flush");
}
