//! Cluster link benchmarks: two reign nodes on loopback over mutual TLS, side by side with raw
//! tokio-rustls carrying the same frames, measured in the same run on the same runtimes.
//!
//! Run: `cargo bench --bench cluster` (append `-- stream`, `-- ping`, `-- enqueue`, `-- large`,
//! `-- many` or `-- floor` to run one scenario).
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
//!   length-prefixed frames and counts them. Goal (issue 16): reign at least 0.8x the raw frames per
//!   second.
//! - Ping-pong: a mailbox on `a` sends to a mailbox on `b`, whose task sends the message back
//!   to `a`'s mailbox; sequential round trips. Baseline: a raw tokio-rustls client writes one
//!   frame of the same size and reads it back from an echo server. Goal: reign's mean round
//!   trip at most 1.15x the raw one.
//! - Enqueue (a diagnostic, no goal): what one remote `send` costs the sending task, against
//!   building the same frame into a buffer.
//! - Large (`large.rs`): `a` streams 1 MiB messages (2,000 a round, `BENCH_LARGE_MESSAGES=<n>`)
//!   to one mailbox on `b` with `Address::send`; baseline: raw tokio-rustls writing SEND frames
//!   of the same size to a server that parses and counts them. Goal: reign at least 0.9x the
//!   raw MiB/s. During each reign round a probe task on `a` sends a small message every 5 ms
//!   to a second mailbox on `b`; the largest gap between the probes' arrivals while the stream
//!   runs is printed beside the heartbeat interval, and no link may go down.
//! - Many (`many.rs`): `BENCH_MAILBOXES` (100,000) mailboxes on `b`, each with its own
//!   receiving task, and `a` sends `MESSAGES` messages round-robin over them (one address per
//!   mailbox, resolved before timing), against the one-mailbox stream in the same run, rounds
//!   interleaved. Goal: at least 0.7x the one-mailbox rate. The process's RSS is printed after
//!   the mailboxes are made. A reference follows with no reign and no network: as many tokio
//!   channels, a receiving task each, fed round-robin by one task, against one channel.
//! - Floor (`floor.rs`, a reference, no goal): the raw stream again, with the hand-offs every
//!   mailbox system makes and nothing else of reign: the server's reading task hands each
//!   payload to a counting task through a shared queue; then also the client's sending task
//!   hands each frame to a writing task through a shared buffer. Rounds interleave raw, the
//!   two hand-off variants and reign's stream, each ratio against the raw round before it:
//!   what the shape of a message layer costs before any of its own code runs.
//!
//! `BENCH_BATCH=<n>` sets how many messages each `send_batch` call of the batched stream rows
//! sends (64; in `floor`, given, it makes the reign stream batched); `BENCH_LINK_LIMIT=<bytes>` runs reign with another link buffer limit than the default;
//! `BENCH_ROUNDS=<n>` changes the number of timed rounds (9); `BENCH_MESSAGES=<n>` the messages
//! of a streaming (and `many`) round (`MESSAGES`, 2,000,000; the warm-up round streams a tenth);
//! `BENCH_TRIPS=<n>` the round trips of a ping-pong round (`ROUND_TRIPS`, 20,000; the warm-up
//! stays `WARM_TRIPS`); `BENCH_ONLY=reign` (or `=raw`) runs only that contender's rounds in
//! `stream` and `ping` (in `many`: the many-mailbox rounds alone, or the tokio reference
//! alone); `BENCH_RUNTIME=split` gives each side its own one-worker runtime
//! instead of one shared two-worker runtime, `BENCH_RUNTIME=one` one one-worker runtime to
//! both (all tasks on one thread: rates follow CPU time per message); `BENCH_NODE_RUNTIME=caller` runs each node's tasks
//! on its side's runtime (`Tunables::own_runtime` off) instead of on the node's own thread.
//!
//! Instructions per message, with callgrind: build with `cargo bench --bench cluster --no-run`
//! (it prints the binary's path), then run, for `C` each of `reign` and `raw`, and `N` then `2N`:
//!
//! ```text
//! BENCH_ONLY=C BENCH_ROUNDS=1 BENCH_MESSAGES=N valgrind --tool=callgrind \
//!     --callgrind-out-file=C-N.out <binary> stream
//! callgrind_annotate C-N.out | head -30     # the PROGRAM TOTALS line: instructions (Ir)
//! ```
//!
//! `stream` streams two message types, each a warm-up of N/10 and one round of N (at
//! `BENCH_ROUNDS=1`): 2.2N messages. So (total at 2N - total at N) / 2.2N is the instructions
//! per message of that contender, both sides of the link together, with start-up and the
//! idle nodes' costs cancelled out (a repeated run differs by about 0.1%). Callgrind counts
//! user space only: the system calls' and the kernel's loopback work are not in it; and it
//! runs the threads one at a time, and without AVX-512, so aws-lc takes another AES-GCM path
//! than it does natively. For `ping`, the warm-up is fixed, so the
//! difference over one round of `BENCH_TRIPS=T` and `=2T` divided by T is per round trip.
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
#[path = "cluster/enqueue.rs"]
mod enqueue;
#[path = "cluster/floor.rs"]
mod floor;
#[path = "cluster/large.rs"]
mod large;
#[path = "cluster/many.rs"]
mod many;
#[path = "cluster/ping.rs"]
mod ping;
#[path = "cluster/raw.rs"]
mod raw;
#[path = "cluster/stats.rs"]
mod stats;
use blob::{BLOB, Blob, Blob63, ByteBlob};
use raw::{Inbound, Job, raw_stream_round};
use stats::{median, spread};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reign::{Address, Mailbox, Node, NodeConfig, NodeId, SendErrorReason, TlsFiles};
use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream as ClientTls;
use tokio_rustls::server::TlsStream as ServerTls;

/// Messages per streaming round (`BENCH_MESSAGES=<n>` to change, see [`messages`]).
const MESSAGES: u64 = 2_000_000;
/// Round trips per ping-pong round (after `WARM_TRIPS` untimed ones; `BENCH_TRIPS=<n>` to
/// change, see [`round_trips`]).
const ROUND_TRIPS: usize = 20_000;
const WARM_TRIPS: usize = 2_000;
/// Timed rounds per scenario (`BENCH_ROUNDS=<n>` to change): where tokio places the two
/// contenders' tasks on its two workers changes from round to round and moves a round's rate
/// by up to 2x for both contenders, so the median of several rounds is reported.
fn rounds() -> usize {
    env_count("BENCH_ROUNDS").unwrap_or(9)
}
/// Messages per streaming round: `BENCH_MESSAGES`, or [`MESSAGES`].
fn messages() -> u64 {
    env_count("BENCH_MESSAGES").unwrap_or(MESSAGES)
}
/// Round trips per ping-pong round: `BENCH_TRIPS`, or [`ROUND_TRIPS`].
fn round_trips() -> usize {
    env_count("BENCH_TRIPS").unwrap_or(ROUND_TRIPS)
}
/// A count above zero from the environment variable `name`, if it holds one.
/// Messages per `send_batch` call in the batched stream rows (`BENCH_BATCH=<n>`; 64).
fn batch_size() -> usize {
    env_count("BENCH_BATCH").unwrap_or(64)
}

fn env_count<T: std::str::FromStr + Default + PartialOrd>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > T::default())
}

/// Which contenders run their rounds in `stream` and `ping`: both, or the one `BENCH_ONLY`
/// names (`reign` or `raw`), so that callgrind can count each alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contenders {
    Both,
    Reign,
    Raw,
}

impl Contenders {
    fn from_env() -> Contenders {
        match std::env::var("BENCH_ONLY").as_deref() {
            Err(_) | Ok("") => Contenders::Both,
            Ok("reign") => Contenders::Reign,
            Ok("raw") => Contenders::Raw,
            Ok(other) => panic!("BENCH_ONLY={other:?}: expected `reign` or `raw`"),
        }
    }
    fn reign(self) -> bool {
        self != Contenders::Raw
    }
    fn raw(self) -> bool {
        self != Contenders::Reign
    }
    /// Says which contender alone runs, if one does.
    fn announce(self) {
        if self != Contenders::Both {
            let only = if self.reign() { "reign" } else { "raw" };
            println!("  BENCH_ONLY={only}: the other contender's rounds are skipped");
        }
    }
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
    // one-worker runtime (as two processes would have), or BENCH_RUNTIME=one puts both on one
    // one-worker runtime (every task of both contenders on one thread: a round's rate is then
    // one over the CPU time a message costs, whatever tokio's placement; a judge for changes).
    let layout = std::env::var("BENCH_RUNTIME").unwrap_or_default();
    let split = layout == "split";
    let one = layout == "one";
    let rt_a = build(
        if split || one { 1 } else { 2 },
        if split {
            "side-a"
        } else if one {
            "one"
        } else {
            "bench"
        },
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
        } else if one {
            "one one-worker runtime for both sides (BENCH_RUNTIME=one)"
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
            // The same streams sent with `Address::send_batch`, BATCH messages at a time.
            let batch = Some(batch_size());
            rows.push(
                bench
                    .streaming_with::<Blob>("stream 64 B, 8-aligned, send_batch (M msg/s)", batch)
                    .await,
            );
            rows.push(
                bench
                    .streaming_with::<ByteBlob>(
                        "stream 64 B, [u8; 63], send_batch (M msg/s)",
                        batch,
                    )
                    .await,
            );
        }
        if wants("ping") {
            rows.extend(bench.ping_pong().await);
        }
        if wants("enqueue") {
            rows.push(bench.enqueue().await);
        }
        if wants("large") {
            rows.extend(bench.large().await);
        }
        if wants("many") {
            rows.extend(bench.many().await);
        }
        if wants("floor") {
            rows.extend(bench.floor().await);
        }
        println!();
        println!(
            "{:<46} {:>12} {:>12} {:>8} {:>10}",
            "scenario (median round; median round ratio)", "reign", "raw TLS", "ratio", "goal"
        );
        for r in &rows {
            let ratio = r
                .ratio
                .map_or_else(|| format!("{:>8}", "-"), |x| format!("{x:>7.2}x"));
            println!(
                "{:<46} {:>12} {:>12} {ratio} {:>10}",
                r.name, r.reign, r.raw, r.goal
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
    /// `None` where there is no ratio to give (a contender was skipped, or a side figure).
    ratio: Option<f64>,
    goal: &'static str,
}

/// The row of a scenario one contender of which was skipped (`BENCH_ONLY`): its medians, no
/// ratio; the spread of the one that ran is printed.
fn one_sided(name: &'static str, reign: &[f64], raw: &[f64], unit: &str, digits: usize) -> Row {
    let show = |v: &[f64]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.digits$}", median(v))
        }
    };
    for (who, v) in [("reign", reign), ("raw", raw)] {
        if !v.is_empty() {
            println!("  {name}: {who} {} {unit} (min..max)", spread(v, digits));
        }
    }
    Row {
        name,
        reign: show(reign),
        raw: show(raw),
        ratio: None,
        goal: "-",
    }
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
    fn remote_mailbox<M: reign::Message>(from: &Node, to: &Node) -> (Mailbox<M>, Address<M>) {
        let (inbox, addr) = to.mailbox::<M>();
        let json = serde_json::to_value(&addr).expect("address to json");
        let remote: Address<M> =
            from.with_decode_scope(|| serde_json::from_value(json).expect("address"));
        assert!(!remote.is_local());
        (inbox, remote)
    }

    // ------------------------------------------------------------ streaming

    async fn streaming<M: Blob63>(&self, name: &'static str) -> Row {
        self.streaming_with::<M>(name, None).await
    }

    /// A streaming scenario; reign's sender uses `send_batch` with batches of `batch`
    /// messages when given, `send` per message otherwise.
    async fn streaming_with<M: Blob63>(&self, name: &'static str, batch: Option<usize>) -> Row {
        let (messages, who) = (messages(), Contenders::from_env());
        println!(
            "{name}: {messages} messages of {FRAME}-byte frames a -> b, {} rounds (+1 warm-up){}",
            rounds(),
            batch.map_or(String::new(), |b| format!(", reign sending {b} at a time"))
        );
        who.announce();
        let mut raw_link = match who.raw() {
            true => Some(self.raw_stream_connection().await),
            false => None,
        };
        let mut reign_rates = Vec::new();
        let mut raw_rates = Vec::new();
        for round in 0..=rounds() {
            let n = if round == 0 { messages / 10 } else { messages };
            let mut raw = None;
            if let Some((conn, jobs)) = raw_link.take() {
                let (time, conn) = raw_stream_round(&self.sides.a, conn, &jobs, n).await;
                (raw, raw_link) = (Some(time), Some((conn, jobs)));
            }
            let reign = match who.reign() {
                true => Some(self.reign_stream_round::<M>(n, batch).await),
                false => None,
            };
            let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
            if round == 0 {
                continue;
            }
            match (reign, raw) {
                (Some((reign, full)), Some(raw)) => println!(
                    "  round {round}: reign {:.3} M msg/s ({full} LinkFull retries), raw {:.3} M frames/s, ratio {:.2}x",
                    rate(reign),
                    rate(raw),
                    raw.as_secs_f64() / reign.as_secs_f64()
                ),
                (Some((reign, full)), None) => println!(
                    "  round {round}: reign {:.3} M msg/s ({full} LinkFull retries)",
                    rate(reign)
                ),
                (None, Some(raw)) => println!("  round {round}: raw {:.3} M frames/s", rate(raw)),
                (None, None) => unreachable!("no contender"),
            }
            reign_rates.extend(reign.map(|(d, _)| rate(d)));
            raw_rates.extend(raw.map(rate));
        }
        if who != Contenders::Both {
            return one_sided(name, &reign_rates, &raw_rates, "M msg/s", 3);
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
            ratio: Some(median(&paired)),
            goal: ">= 0.80x",
        }
    }

    /// One streaming round on the reign link: `(time, LinkFull retries)`. The sender runs on
    /// a worker of the runtime, as the raw client does.
    async fn reign_stream_round<M: Blob63>(&self, n: u64, batch: Option<usize>) -> (Duration, u64) {
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
            if let Some(size) = batch {
                // `send_batch`, `size` messages at a time.
                let mut batch = Vec::with_capacity(size);
                let mut left = n;
                while left > 0 {
                    let k = left.min(size as u64);
                    batch.extend((0..k).map(|_| M::VALUE));
                    remote.send_batch(&mut batch).await.expect("send");
                    left -= k;
                }
                return (start, full);
            }
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
