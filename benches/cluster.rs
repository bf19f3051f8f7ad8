//! Cluster link benchmarks: two reign nodes on loopback over mutual TLS, side by side with raw
//! tokio-rustls carrying the same frames, measured in the same run on the same runtimes.
//!
//! Run: `cargo bench --bench cluster` (append `-- stream`, `-- ping` or `-- enqueue` to run
//! one scenario).
//!
//! - Streaming: node `a` sends `MESSAGES` messages of a type whose encoded payload is 64 bytes
//!   to one mailbox on node `b`, timed from the first send until `b`'s mailbox has received the
//!   last one; once with an 8-aligned message type, once with a bare `[u8; 63]` (see
//!   [`Blob63`]). Sends use `Address::send`, which waits for room when the link's bounded
//!   buffer is full. With `BENCH_FULL=sleep` (or `=yield`) they use `try_send` instead, and a send
//!   refused with `LinkFull` is retried after a 1 ms sleep (or a `yield_now`), and counted.
//!   Baseline: a raw tokio-rustls client writes the same SEND frames (same bytes:
//!   `len | 0x10 | target | incarnation | tag_len | tag | payload`) into a buffer, written in
//!   chunks of up to 64 KiB (reign's link writer batch); the server reads, parses the
//!   length-prefixed frames and counts them. Goal: reign at least 0.6x the raw frames per
//!   second.
//! - Ping-pong: a mailbox on `a` sends to a mailbox on `b`, whose task sends the message back
//!   to `a`'s mailbox; sequential round trips. Baseline: a raw tokio-rustls client writes one
//!   frame of the same size and reads it back from an echo server. Goal: reign's mean round
//!   trip at most 1.3x the raw one.
//! - Enqueue (a diagnostic, no goal): what one remote `send` costs the sending task, against
//!   building the same frame into a buffer.
//!
//! `BENCH_LINK_LIMIT=<bytes>` runs reign with another link buffer limit than the default;
//! `BENCH_ROUNDS=<n>` changes the number of timed rounds (9); `BENCH_RUNTIME=split` gives each
//! side its own one-worker runtime instead of one shared two-worker runtime;
//! `BENCH_NODE_RUNTIME=caller` runs each node's tasks on its side's runtime
//! (`Tunables::own_runtime` off) instead of on the node's own thread.
//!
//! Both contenders use the same certificates (made by reign-certgen in a temporary folder),
//! the same provider (aws-lc-rs), TLS 1.3, `TCP_NODELAY`, and the same runtimes. Rounds
//! alternate between the contenders so that machine noise hits both. The streaming ratio is
//! the median of the per-round ratios (each reign round against the raw round just before
//! it), which cancels the machine's drift; the medians of each contender and their ratio are
//! printed too.
#![allow(clippy::print_stdout)]

mod common;
use common::{pki, raw_configs};

#[path = "cluster/blob.rs"]
mod blob;
#[path = "cluster/raw.rs"]
mod raw;
#[path = "cluster/stats.rs"]
mod stats;
use blob::{BLOB, Blob, Blob63, ByteBlob};
use raw::{Inbound, Job, put_frame, raw_round_trips, raw_stream_round};
use stats::{Stats, median, spread};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reign::{Address, Mailbox, Node, NodeConfig, NodeId, SendErrorReason, TlsFiles};
use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream as ClientTls;
use tokio_rustls::server::TlsStream as ServerTls;

/// Messages per streaming round.
const MESSAGES: u64 = 2_000_000;
/// Round trips per ping-pong round (after `WARM_TRIPS` untimed ones).
const ROUND_TRIPS: usize = 20_000;
const WARM_TRIPS: usize = 2_000;
/// Timed rounds per scenario (`BENCH_ROUNDS=<n>` to change): where tokio places the two
/// contenders' tasks on its two workers changes from round to round and moves a round's rate
/// by up to 2x for both contenders, so the median of several rounds is reported.
fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(9)
}
/// reign's link writer batch (`reign-core/src/cluster/link.rs`, `CHUNK`).
const CHUNK: usize = 64 * 1024;
const TAG: &str = "bench.Blob64";
/// [`ByteBlob`]'s tag: as long as [`TAG`], so that its frames have the same size.
const BYTE_TAG: &str = "bench.Byte64";
const _: () = assert!(TAG.len() == BYTE_TAG.len());
/// The encoded payload size: one length byte (bincode's varint) and 63 bytes.
const PAYLOAD: usize = 64;
/// A SEND frame: length, kind, target, target incarnation, tag length, tag, payload.
const FRAME: usize = 4 + 1 + 8 + 8 + 1 + TAG.len() + PAYLOAD;
const KIND_SEND: u8 = 0x10;

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let build = |workers, name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("runtime")
    };
    // Both sides on one two-worker runtime, unless BENCH_RUNTIME=split gives each side its own
    // one-worker runtime (as two processes would have).
    let split = std::env::var("BENCH_RUNTIME").is_ok_and(|v| v == "split");
    let rt_a = build(
        if split { 1 } else { 2 },
        if split { "side-a" } else { "bench" },
    );
    let rt_b = split.then(|| build(1, "side-b"));
    let sides = Sides {
        a: rt_a.handle().clone(),
        b: rt_b
            .as_ref()
            .map_or_else(|| rt_a.handle().clone(), |rt| rt.handle().clone()),
    };
    println!(
        "runtime: {}",
        if split {
            "one one-worker runtime per side (BENCH_RUNTIME=split)"
        } else {
            "one two-worker runtime for both sides"
        }
    );
    rt_a.block_on(async {
        let bench = Bench::start(sides).await;
        println!(
            "SEND frame: {FRAME} bytes on the wire before TLS ({PAYLOAD}-byte payload, tag {TAG:?})"
        );
        let mut rows = Vec::new();
        if wants("stream") {
            rows.push(
                bench
                    .streaming::<Blob>("stream 64 B, 8-aligned type (M msg/s)")
                    .await,
            );
            rows.push(
                bench
                    .streaming::<ByteBlob>("stream 64 B, [u8; 63] type (M msg/s)")
                    .await,
            );
        }
        if wants("ping") {
            rows.extend(bench.ping_pong().await);
        }
        if wants("enqueue") {
            rows.push(bench.enqueue().await);
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
        bench.a.shutdown().await;
        bench.b.shutdown().await;
    });
}

struct Row {
    name: &'static str,
    reign: String,
    raw: String,
    ratio: f64,
    goal: &'static str,
}

/// Where each side's tasks run: node `a`, its senders and the raw clients on `a`; node `b`,
/// its receivers and the raw servers on `b`.
#[derive(Clone)]
struct Sides {
    a: tokio::runtime::Handle,
    b: tokio::runtime::Handle,
}

struct Bench {
    _dir: tempfile::TempDir,
    sides: Sides,
    a: Node,
    b: Node,
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
}

impl Bench {
    async fn start(sides: Sides) -> Bench {
        let dir = pki(&["a", "b"]);
        let config = |id: &str, other: &str, other_addr: String| {
            let tls = TlsFiles {
                ca: dir.path().join("ca.pem"),
                cert: dir.path().join(format!("{id}.pem")),
                key: dir.path().join(format!("{id}.key")),
                crl: None,
                pinned: Vec::new(),
                watch: false,
            };
            let mut c = NodeConfig::new(
                node_id(id),
                "bench",
                "127.0.0.1:0".parse().expect("addr"),
                tls,
            )
            .with_member(node_id(other), other_addr);
            // BENCH_LINK_LIMIT=<bytes> tries another link buffer limit than the default.
            if let Some(limit) = std::env::var("BENCH_LINK_LIMIT")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                c.tunables.link_buffer_limit = limit;
                c.tunables.max_frame_size = c.tunables.max_frame_size.min(limit);
            }
            // BENCH_NODE_RUNTIME=caller runs each node's tasks on its side's runtime
            // (`Tunables::own_runtime` off) instead of on the node's own thread.
            if std::env::var("BENCH_NODE_RUNTIME").is_ok_and(|v| v == "caller") {
                c.tunables.own_runtime = false;
            }
            c
        };
        // The lower ID dials: start b first; a (never dialed) gets a dummy address for b.
        let b = sides
            .b
            .spawn(Node::start(config("b", "a", "127.0.0.1:1".into())))
            .await
            .expect("join")
            .expect("node b");
        let b_addr = b.cluster().local_addr().expect("b listens");
        let a = sides
            .a
            .spawn(Node::start(config("a", "b", b_addr.to_string())))
            .await
            .expect("join")
            .expect("node a");
        let wait = Duration::from_secs(20);
        a.cluster()
            .wait_for(&node_id("b"), wait)
            .await
            .expect("a -> b");
        b.cluster()
            .wait_for(&node_id("a"), wait)
            .await
            .expect("b -> a");
        let (client, server) = raw_configs(dir.path());
        let bench = Bench {
            _dir: dir,
            sides,
            a,
            b,
            client,
            server,
        };
        bench.check_payload_size::<Blob>();
        bench.check_payload_size::<ByteBlob>();
        bench
    }

    /// The payload of a `Blob` is exactly `PAYLOAD` bytes: `b` decodes 64 bytes into one and
    /// refuses 63 or 65.
    fn check_payload_size<M: Blob63>(&self) {
        let (mut inbox, addr) = self.b.mailbox::<M>();
        let target = addr.mailbox_ref();
        let mut bytes = [7u8; PAYLOAD + 1];
        bytes[0] = (PAYLOAD - 1) as u8; // the length, a one-byte varint
        let deliver = |n: usize| reign::__fuzz::deliver(&self.b, &target, M::TAG, &bytes[..n]);
        assert!(deliver(PAYLOAD), "{PAYLOAD} bytes decode");
        assert_eq!(inbox.try_recv(), Some(M::VALUE));
        for n in [PAYLOAD - 1, PAYLOAD + 1] {
            assert!(!deliver(n), "{n} bytes are refused");
        }
    }

    /// A mailbox on `to` and its address as seen from `from` (sent by value, as in a message).
    fn remote_mailbox<M: Blob63>(from: &Node, to: &Node) -> (Mailbox<M>, Address<M>) {
        let (inbox, addr) = to.mailbox::<M>();
        let json = serde_json::to_value(&addr).expect("address to json");
        let remote: Address<M> =
            from.with_decode_scope(|| serde_json::from_value(json).expect("address"));
        assert!(!remote.is_local());
        (inbox, remote)
    }

    // ------------------------------------------------------------ streaming

    async fn streaming<M: Blob63>(&self, name: &'static str) -> Row {
        println!(
            "{name}: {MESSAGES} messages of {FRAME}-byte frames a -> b, {} rounds (+1 warm-up)",
            rounds()
        );
        let (mut raw_conn, raw_jobs) = self.raw_stream_connection().await;
        let mut reign_rates = Vec::new();
        let mut raw_rates = Vec::new();
        for round in 0..=rounds() {
            let n = if round == 0 { MESSAGES / 10 } else { MESSAGES };
            let raw;
            (raw, raw_conn) = raw_stream_round(&self.sides.a, raw_conn, &raw_jobs, n).await;
            let (reign, full) = self.reign_stream_round::<M>(n).await;
            let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
            if round == 0 {
                continue;
            }
            println!(
                "  round {round}: reign {:.3} M msg/s ({full} LinkFull retries), raw {:.3} M frames/s, ratio {:.2}x",
                rate(reign),
                rate(raw),
                raw.as_secs_f64() / reign.as_secs_f64()
            );
            reign_rates.push(rate(reign));
            raw_rates.push(rate(raw));
        }
        let (r, w) = (median(&reign_rates), median(&raw_rates));
        // The machine's speed drifts between rounds and moves both contenders together, so
        // each reign round is compared with the raw round run just before it.
        let paired: Vec<f64> = reign_rates
            .iter()
            .zip(&raw_rates)
            .map(|(r, w)| r / w)
            .collect();
        println!(
            "  reign {} M msg/s, raw {} M frames/s, round ratios {} (min..max); ratio of medians {:.2}x",
            spread(&reign_rates, 3),
            spread(&raw_rates, 3),
            spread(&paired, 2),
            r / w
        );
        Row {
            name,
            reign: format!("{r:.3}"),
            raw: format!("{w:.3}"),
            ratio: median(&paired),
            goal: ">= 0.60x",
        }
    }

    /// One streaming round on the reign link: `(time, LinkFull retries)`. The sender runs on
    /// a worker of the runtime, as the raw client does.
    async fn reign_stream_round<M: Blob63>(&self, n: u64) -> (Duration, u64) {
        let (mut inbox, remote) = Self::remote_mailbox::<M>(&self.a, &self.b);
        let receiver = self.sides.b.spawn(async move {
            for _ in 0..n {
                std::hint::black_box(inbox.recv().await);
            }
            Instant::now()
        });
        let sender = self.sides.a.spawn(async move {
            let start = Instant::now();
            let mut full = 0u64;
            let retry = std::env::var_os("BENCH_FULL").is_some();
            for _ in 0..n {
                let mut msg = M::VALUE;
                if !retry {
                    // Backpressure as the API offers it: wait for room on the link.
                    remote.send(msg).await.expect("send");
                    continue;
                }
                loop {
                    match remote.try_send(msg) {
                        Ok(()) => break,
                        Err(e) if e.reason() == SendErrorReason::LinkFull => {
                            full += 1;
                            msg = e.into_inner();
                            on_link_full().await;
                        }
                        Err(e) => panic!("send failed: {:?}", e.reason()),
                    }
                }
            }
            (start, full)
        });
        let (start, full) = sender.await.expect("sender");
        let end = receiver.await.expect("receiver");
        (end - start, full)
    }

    /// A raw TLS connection whose server counts frames and reports when it has `n` of them.
    async fn raw_stream_connection(&self) -> (ClientTls<TcpStream>, mpsc::UnboundedSender<Job>) {
        let (jobs_tx, mut jobs) = mpsc::unbounded_channel::<Job>();
        let conn = self
            .raw_connection(|mut tls| async move {
                let mut buf = Inbound::default();
                let mut count = 0u64;
                while let Some((n, done)) = jobs.recv().await {
                    while count < n {
                        count += buf.parse_frames();
                        if count >= n {
                            break;
                        }
                        if !buf.read_from(&mut tls).await {
                            return;
                        }
                    }
                    count -= n;
                    let _ = done.send(Instant::now());
                }
            })
            .await;
        (conn, jobs_tx)
    }

    /// A raw TLS connection from side `a` to a server on side `b` that runs `serve` on its end.
    async fn raw_connection<F, Fut>(&self, serve: F) -> ClientTls<TcpStream>
    where
        F: FnOnce(ServerTls<TcpStream>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.server.clone());
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        self.sides.b.spawn(async move {
            // Bound and accepted on b's runtime, so that the socket is driven there.
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("addr");
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            serve(acceptor.accept(tcp).await.expect("raw accept")).await;
        });
        let addr: SocketAddr = addr_rx.await.expect("raw server");
        let connector = tokio_rustls::TlsConnector::from(self.client.clone());
        self.sides
            .a
            .spawn(async move {
                let tcp = TcpStream::connect(addr).await.expect("tcp");
                tcp.set_nodelay(true).expect("nodelay");
                connector
                    .connect(ServerName::try_from("b").expect("name"), tcp)
                    .await
                    .expect("raw connect")
            })
            .await
            .expect("join")
    }

    // ------------------------------------------------------------ enqueue

    /// What one remote send costs the sending task: `ENQUEUED` plain `send`s of a `Blob` to a
    /// mailbox on `b` in a loop, timed alone (the link fits them all, so none waits), against
    /// building the same frames into a buffer as the raw client does. A diagnostic: it has no
    /// goal, and the link writer may run on the other worker meanwhile.
    async fn enqueue(&self) -> Row {
        const ENQUEUED: usize = 100_000;
        const BATCH: usize = 500;
        println!(
            "enqueue: {ENQUEUED} sends of a {FRAME}-byte frame, {} rounds",
            rounds()
        );
        let (mut reign_ns, mut raw_ns) = (Vec::new(), Vec::new());
        for round in 0..=rounds() {
            let (mut inbox, remote) = Self::remote_mailbox::<Blob>(&self.a, &self.b);
            let receiver = self.sides.b.spawn(async move {
                for _ in 0..ENQUEUED {
                    std::hint::black_box(inbox.recv().await);
                }
            });
            let (reign, raw) = self
                .sides
                .a
                .spawn(async move {
                    // In batches that fit one chunk, with a yield between them so the link
                    // writer (on this worker when sides are split) drains: steady state.
                    let mut reign = Duration::ZERO;
                    for _ in 0..ENQUEUED / BATCH {
                        let t = Instant::now();
                        for _ in 0..BATCH {
                            remote.try_send(std::hint::black_box(BLOB)).expect("send");
                        }
                        reign += t.elapsed();
                        tokio::task::yield_now().await;
                    }
                    let mut buf = Vec::with_capacity(CHUNK + FRAME);
                    let t = Instant::now();
                    for _ in 0..ENQUEUED {
                        put_frame(&mut buf);
                        if buf.len() >= CHUNK {
                            std::hint::black_box(&buf);
                            buf.clear();
                        }
                    }
                    (reign, t.elapsed())
                })
                .await
                .expect("sender");
            receiver.await.expect("receiver");
            let ns = |d: Duration| d.as_nanos() as f64 / ENQUEUED as f64;
            if round > 0 {
                reign_ns.push(ns(reign));
                raw_ns.push(ns(raw));
            }
        }
        println!(
            "  reign {} ns per send, raw frame building {} ns (min..max)",
            spread(&reign_ns, 1),
            spread(&raw_ns, 1)
        );
        let (r, w) = (median(&reign_ns), median(&raw_ns));
        Row {
            name: "enqueue one send (ns)",
            reign: format!("{r:.1}"),
            raw: format!("{w:.1}"),
            ratio: r / w,
            goal: "-",
        }
    }

    // ------------------------------------------------------------ ping-pong

    async fn ping_pong(&self) -> Vec<Row> {
        println!(
            "ping-pong: {ROUND_TRIPS} sequential round trips of {FRAME}-byte frames, {} rounds (after {WARM_TRIPS} warm-up)",
            rounds()
        );
        // reign: a's mailbox -> b's mailbox, b's task sends it back to a's mailbox.
        let (mut at_b, to_b) = Self::remote_mailbox(&self.a, &self.b);
        let (at_a, to_a) = Self::remote_mailbox(&self.b, &self.a);
        let echo = self.sides.b.spawn(async move {
            loop {
                let m = at_b.recv().await;
                if to_a.try_send(m).is_err() {
                    return;
                }
            }
        });
        let mut raw = self.raw_echo_connection().await;
        let mut reign = (to_b, at_a);
        let mut reign_rounds = Vec::new();
        let mut raw_rounds = Vec::new();
        for round in 0..=rounds() {
            let trips = if round == 0 { WARM_TRIPS } else { ROUND_TRIPS };
            // Both clients run on side a, the echo servers on side b.
            let raw_times;
            (raw_times, raw) = self
                .sides
                .a
                .spawn(raw_round_trips(raw, trips))
                .await
                .expect("raw client");
            let reign_times;
            (reign_times, reign) = self
                .sides
                .a
                .spawn(reign_round_trips(reign, trips))
                .await
                .expect("reign client");
            if round == 0 {
                continue;
            }
            let (r, w) = (Stats::of(reign_times), Stats::of(raw_times));
            println!(
                "  round {round}: reign mean {:.1} us (p50 {:.1}, p99 {:.1}), raw mean {:.1} us (p50 {:.1}, p99 {:.1})",
                r.mean, r.p50, r.p99, w.mean, w.p50, w.p99
            );
            reign_rounds.push(r);
            raw_rounds.push(w);
        }
        echo.abort();
        let pick = |v: &[Stats], f: fn(&Stats) -> f64| v.iter().map(f).collect::<Vec<_>>();
        let mut rows = Vec::new();
        for (name, f, goal) in [
            (
                "ping-pong round trip, mean (us)",
                (|s: &Stats| s.mean) as fn(&Stats) -> f64,
                "<= 1.30x",
            ),
            ("ping-pong round trip, p50 (us)", |s: &Stats| s.p50, "-"),
            ("ping-pong round trip, p99 (us)", |s: &Stats| s.p99, "-"),
        ] {
            let (r, w) = (pick(&reign_rounds, f), pick(&raw_rounds, f));
            println!(
                "  {name}: reign {}, raw {} (min..max)",
                spread(&r, 1),
                spread(&w, 1)
            );
            rows.push(Row {
                name,
                reign: format!("{:.1}", median(&r)),
                raw: format!("{:.1}", median(&w)),
                ratio: median(&r) / median(&w),
                goal,
            });
        }
        rows
    }

    /// A raw TLS connection to a server that echoes every frame.
    async fn raw_echo_connection(&self) -> ClientTls<TcpStream> {
        self.raw_connection(|mut tls| async move {
            let mut buf = Inbound::default();
            loop {
                let Some(frame) = buf.next_frame() else {
                    if !buf.read_from(&mut tls).await {
                        return;
                    }
                    continue;
                };
                if tls.write_all(frame).await.is_err() || tls.flush().await.is_err() {
                    return;
                }
            }
        })
        .await
    }
}

/// `trips` sequential round trips: a's task sends to b's mailbox and waits for the message
/// that b's task sends back to a's mailbox.
async fn reign_round_trips(
    (to_b, mut at_a): (Address<Blob>, Mailbox<Blob>),
    trips: usize,
) -> (Vec<Duration>, (Address<Blob>, Mailbox<Blob>)) {
    let mut times = Vec::with_capacity(trips);
    for _ in 0..trips {
        let t = Instant::now();
        to_b.try_send(BLOB).expect("send to b");
        std::hint::black_box(at_a.recv().await);
        times.push(t.elapsed());
    }
    (times, (to_b, at_a))
}

async fn on_link_full() {
    if std::env::var_os("BENCH_FULL").is_some_and(|v| v == "yield") {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn node_id(id: &str) -> NodeId {
    id.parse().expect("node id")
}
