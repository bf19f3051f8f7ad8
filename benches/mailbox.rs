//! Local mailbox benchmarks: reign next to a raw `tokio::sync::mpsc` baseline, measured in
//! the same run. Run with `cargo bench --bench mailbox`.
//!
//! Each timed scenario runs `REPS` times on a two-worker multi-thread runtime; the median is
//! printed. Memory is measured in a child process per contender (so one's freed memory
//! cannot flatter the other): resident memory from /proc/self/statm before and after
//! creating 1,000,000 idle mailboxes (or channels) kept alive with their addresses.
#![allow(clippy::print_stdout, missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::process::Command;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use reign::Node;
use tokio::sync::mpsc;

const MESSAGES: u64 = 5_000_000;
const PRODUCERS: u64 = 4;
const ROUND_TRIPS: u64 = 200_000;
const NOISE: u64 = 1_000;
const SELECTIVE_ITERS: u64 = 20_000;
const LOOKUPS: u64 = 2_000_000;
const IDLE: usize = 1_000_000;
const REPS: usize = 5;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn node() -> Node {
    Node::new("bench".parse().expect("node id"))
}

/// Median of `REPS` runs of `f`, which returns its own measured duration.
fn median(mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..REPS).map(|_| f()).collect();
    times.sort();
    times[REPS / 2]
}

// ---------------------------------------------------------------- throughput

fn reign_producers(rt: &tokio::runtime::Runtime, producers: u64) -> Duration {
    let node = node();
    rt.block_on(async {
        let (mut inbox, addr) = node.mailbox::<u64>();
        let per = MESSAGES / producers;
        let start = Instant::now();
        for _ in 0..producers {
            let addr = addr.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    if addr.try_send(i).is_err() {
                        return;
                    }
                }
            });
        }
        let mut sum = 0u64;
        for _ in 0..per * producers {
            sum = sum.wrapping_add(inbox.recv().await);
        }
        black_box(sum);
        start.elapsed()
    })
}

fn tokio_producers(rt: &tokio::runtime::Runtime, producers: u64) -> Duration {
    rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        let per = MESSAGES / producers;
        let start = Instant::now();
        for _ in 0..producers {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    if tx.send(i).is_err() {
                        return;
                    }
                }
            });
        }
        let mut sum = 0u64;
        for _ in 0..per * producers {
            sum = sum.wrapping_add(rx.recv().await.expect("open"));
        }
        black_box(sum);
        start.elapsed()
    })
}

// ---------------------------------------------------------------- ping-pong

fn reign_ping_pong(rt: &tokio::runtime::Runtime) -> Duration {
    let node = node();
    rt.block_on(async {
        let (mut ping, ping_addr) = node.mailbox::<u64>();
        let (mut pong, pong_addr) = node.mailbox::<u64>();
        tokio::spawn(async move {
            for _ in 0..ROUND_TRIPS {
                let n = pong.recv().await;
                if ping_addr.try_send(n + 1).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        let mut n = 0;
        for _ in 0..ROUND_TRIPS {
            pong_addr.try_send(n).expect("pong alive");
            n = ping.recv().await;
        }
        black_box(n);
        start.elapsed()
    })
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<u64>();
        let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<u64>();
        tokio::spawn(async move {
            for _ in 0..ROUND_TRIPS {
                let Some(n) = pong_rx.recv().await else {
                    return;
                };
                if ping_tx.send(n + 1).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        let mut n = 0;
        for _ in 0..ROUND_TRIPS {
            pong_tx.send(n).expect("pong alive");
            n = ping_rx.recv().await.expect("ping open");
        }
        black_box(n);
        start.elapsed()
    })
}

// ---------------------------------------------------------------- selective receive

/// Noise values are below `NOISE`; each reply is a distinct value above.
fn reign_selective(rt: &tokio::runtime::Runtime) -> Duration {
    let node = node();
    rt.block_on(async {
        let (mut inbox, addr) = node.mailbox::<u64>();
        for i in 0..NOISE {
            addr.try_send(i).expect("open");
        }
        let start = Instant::now();
        for i in 0..SELECTIVE_ITERS {
            let reply = NOISE + i;
            addr.try_send(reply).expect("open");
            let got = inbox.recv_matching(|m| *m == reply).await;
            black_box(got);
        }
        start.elapsed()
    })
}

/// The same with a raw channel: the receiver keeps its own save queue.
fn tokio_selective(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        let mut saved: VecDeque<u64> = VecDeque::new();
        for i in 0..NOISE {
            tx.send(i).expect("open");
        }
        let start = Instant::now();
        for i in 0..SELECTIVE_ITERS {
            let reply = NOISE + i;
            tx.send(reply).expect("open");
            let got = match saved.iter().position(|m| *m == reply) {
                Some(pos) => saved.remove(pos),
                None => loop {
                    let m = rx.recv().await.expect("open");
                    if m == reply {
                        break Some(m);
                    }
                    saved.push_back(m);
                },
            };
            black_box(got);
        }
        start.elapsed()
    })
}

// ---------------------------------------------------------------- registry

fn reign_lookup() -> Duration {
    let node = node();
    let mut keep = Vec::new();
    for i in 0..1_000 {
        let (inbox, addr) = node.mailbox::<u64>();
        node.names()
            .register(format!("service-{i}"), &addr)
            .expect("register");
        keep.push(inbox);
    }
    let start = Instant::now();
    for _ in 0..LOOKUPS {
        let addr = node
            .names()
            .whereis::<u64>("service-500")
            .expect("registered");
        black_box(&addr);
    }
    start.elapsed()
}

/// Baseline: a `RwLock<HashMap<String, UnboundedSender<u64>>>` lookup and sender clone.
fn tokio_lookup() -> Duration {
    let names: RwLock<HashMap<String, mpsc::UnboundedSender<u64>>> = RwLock::default();
    let mut keep = Vec::new();
    for i in 0..1_000 {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        names
            .write()
            .expect("lock")
            .insert(format!("service-{i}"), tx);
        keep.push(rx);
    }
    let start = Instant::now();
    for _ in 0..LOOKUPS {
        let tx = names
            .read()
            .expect("lock")
            .get("service-500")
            .expect("registered")
            .clone();
        black_box(&tx);
    }
    start.elapsed()
}

// ---------------------------------------------------------------- memory

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Runs in a child process: prints the bytes per idle mailbox (or channel).
fn memory_child(which: &str) {
    let per = match which {
        "reign" => {
            let node = node();
            let mut v = Vec::with_capacity(IDLE);
            let before = resident_bytes();
            for _ in 0..IDLE {
                v.push(node.mailbox::<u64>());
            }
            let after = resident_bytes();
            black_box(&v);
            (after - before) as f64 / IDLE as f64
        }
        "tokio-unbounded" => {
            let mut v = Vec::with_capacity(IDLE);
            let before = resident_bytes();
            for _ in 0..IDLE {
                v.push(mpsc::unbounded_channel::<u64>());
            }
            let after = resident_bytes();
            black_box(&v);
            (after - before) as f64 / IDLE as f64
        }
        "tokio-bounded" => {
            let mut v = Vec::with_capacity(IDLE);
            let before = resident_bytes();
            for _ in 0..IDLE {
                v.push(mpsc::channel::<u64>(32));
            }
            let after = resident_bytes();
            black_box(&v);
            (after - before) as f64 / IDLE as f64
        }
        other => panic!("unknown memory scenario {other}"),
    };
    println!("{per}");
}

fn memory(which: &str) -> f64 {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .env("REIGN_BENCH_MEMORY", which)
        .output()
        .expect("memory child");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("memory child output")
}

// ---------------------------------------------------------------- report

fn row(scenario: &str, unit: &str, reign: f64, tokio: f64, goal: &str) {
    println!(
        "{scenario:<44} {reign:>12.1} {tokio:>12.1} {unit:<9} {:>6.2}x   {goal}",
        reign / tokio
    );
}

fn per_second(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64() / 1e6
}

fn nanos_each(n: u64, d: Duration) -> f64 {
    d.as_nanos() as f64 / n as f64
}

fn main() {
    if let Ok(which) = std::env::var("REIGN_BENCH_MEMORY") {
        memory_child(&which);
        return;
    }
    println!(
        "{:<44} {:>12} {:>12} {:<9} {:>7}   goal",
        "scenario", "reign", "tokio-mpsc", "unit", "ratio"
    );

    // `cargo bench --bench mailbox -- WORD` runs only the scenarios whose name contains WORD.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));

    let rt = runtime();
    if run("producer") {
        let r = median(|| reign_producers(&rt, 1));
        let t = median(|| tokio_producers(&rt, 1));
        row(
            "1 producer -> 1 mailbox (5M u64)",
            "M msg/s",
            per_second(MESSAGES, r),
            per_second(MESSAGES, t),
            ">= 0.90x",
        );
    }
    if run("producers") {
        let r = median(|| reign_producers(&rt, PRODUCERS));
        let t = median(|| tokio_producers(&rt, PRODUCERS));
        row(
            "4 producers -> 1 mailbox (5M u64)",
            "M msg/s",
            per_second(MESSAGES, r),
            per_second(MESSAGES, t),
            ">= 0.90x",
        );
    }
    if run("ping-pong") {
        let r = median(|| reign_ping_pong(&rt));
        let t = median(|| tokio_ping_pong(&rt));
        row(
            "ping-pong round trip (2 worker threads)",
            "ns",
            nanos_each(ROUND_TRIPS, r),
            nanos_each(ROUND_TRIPS, t),
            "<= 1.20x",
        );
    }
    if run("ping-pong") {
        let single = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let r = median(|| reign_ping_pong(&single));
        let t = median(|| tokio_ping_pong(&single));
        row(
            "ping-pong round trip (current-thread rt)",
            "ns",
            nanos_each(ROUND_TRIPS, r),
            nanos_each(ROUND_TRIPS, t),
            "<= 1.20x",
        );
        drop(single);
    }
    if run("selective") {
        let r = median(|| reign_selective(&rt));
        let t = median(|| tokio_selective(&rt));
        row(
            "selective receive behind 1,000 queued",
            "ns",
            nanos_each(SELECTIVE_ITERS, r),
            nanos_each(SELECTIVE_ITERS, t),
            "(baseline: hand-made save queue)",
        );
    }
    if run("lookup") {
        let r = median(reign_lookup);
        let t = median(tokio_lookup);
        row(
            "registry lookup (1,000 names)",
            "ns",
            nanos_each(LOOKUPS, r),
            nanos_each(LOOKUPS, t),
            "(baseline: RwLock<HashMap<String, Sender>>)",
        );
    }
    drop(rt);
    if !run("memory") {
        return;
    }

    let r = memory("reign");
    let t = memory("tokio-unbounded");
    let b = memory("tokio-bounded");
    row(
        "memory: idle Mailbox<u64> + Address (1M)",
        "B each",
        r,
        t,
        "<= 256 B",
    );
    row("  vs idle bounded tokio channel(32)", "B each", r, b, "");
}
