//! The parent's side of each scenario: its node(s) and raw clients, the rounds, the report.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use reign::{Address, Mailbox, Node};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream as ClientTls;

use super::control::Control;
use super::cpu::{self, Snapshot, Split};
use super::raw::raw_round_trips;
use super::stats::{Stats, median, spread};
use super::{
    BLOB, Blob, FRAME, PAYLOAD, Row, SENDERS, TAG, WARM_TRIPS, messages, node_config, node_id,
    raw_configs, raw_connect, rounds, trips, write_frames,
};

/// How long links may take to come up.
const WAIT: Duration = Duration::from_secs(20);

/// Starts the child of `role`, the parent's nodes `ids` (each with the child's node as its
/// one member) and waits for every link from both ends; returns the child, the nodes and
/// where the child's raw server listens.
async fn start(
    role: &str,
    dir: &Path,
    ids: &[String],
    peer: &str,
) -> (Control, Vec<Node>, SocketAddr) {
    let mut ctl = Control::spawn(role, dir);
    let node_addr = ctl.expect("node").await;
    let raw_addr = ctl.expect("raw").await.parse().expect("raw addr");
    let mut nodes = Vec::new();
    for id in ids {
        let members = [(peer.to_string(), node_addr.clone())];
        nodes.push(
            Node::start(node_config(dir, id, &members))
                .await
                .expect("parent node"),
        );
    }
    for n in &nodes {
        n.cluster()
            .wait_for(&node_id(peer), WAIT)
            .await
            .expect("link up");
    }
    ctl.send("wait").await;
    ctl.expect("linked").await;
    check_payload_size(&nodes[0]);
    (ctl, nodes, raw_addr)
}

/// The payload of a `Blob` is exactly `PAYLOAD` bytes, so that reign's frames are the raw
/// baseline's: `node` decodes 64 bytes into one and refuses 63 or 65 (as in `cluster.rs`).
fn check_payload_size(node: &Node) {
    let (mut inbox, addr) = node.mailbox::<Blob>();
    let target = addr.mailbox_ref();
    let mut bytes = [7u8; PAYLOAD + 1];
    bytes[0] = (PAYLOAD - 1) as u8; // the length, a one-byte varint
    let deliver = |n: usize| reign::__fuzz::deliver(node, &target, TAG, &bytes[..n]);
    assert!(deliver(PAYLOAD), "{PAYLOAD} bytes decode");
    assert_eq!(inbox.try_recv(), Some(BLOB));
    for n in [PAYLOAD - 1, PAYLOAD + 1] {
        assert!(!deliver(n), "{n} bytes are refused");
    }
}

async fn stop(ctl: Control, nodes: Vec<Node>) {
    for n in &nodes {
        n.shutdown().await;
    }
    ctl.quit().await;
}

/// The JSON of the address of a mailbox on the child's node, after `cmd`.
async fn child_mailbox(ctl: &mut Control, cmd: &str) -> String {
    ctl.send(cmd).await;
    ctl.expect("addr").await
}

/// That address as seen from `from` (sent by value, as in a message).
fn decode(from: &Node, json: &str) -> Address<Blob> {
    let remote: Address<Blob> =
        from.with_decode_scope(|| serde_json::from_str(json).expect("address"));
    assert!(!remote.is_local());
    remote
}

async fn raw_connections(dir: &Path, addr: SocketAddr, n: usize) -> Vec<ClientTls<TcpStream>> {
    let (client, _) = raw_configs(dir);
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(raw_connect(&client, addr).await);
    }
    conns
}

/// Per-round rates of both contenders, the line that sums them up, and the table's row.
fn throughput_row(name: &'static str, reign: &[f64], raw: &[f64], goal: &'static str) -> Row {
    let paired: Vec<f64> = reign.iter().zip(raw).map(|(r, w)| r / w).collect();
    let (r, w) = (median(reign), median(raw));
    println!(
        "  reign {} M msg/s, raw {} M frames/s, round ratios {} (min..max); ratio of medians {:.2}x",
        spread(reign, 3),
        spread(raw, 3),
        spread(&paired, 2),
        r / w
    );
    Row {
        name,
        reign: format!("{r:.3}"),
        raw: format!("{w:.3}"),
        ratio: median(&paired),
        goal,
    }
}

// ------------------------------------------------------------ stream

/// The stream; reign's sender uses `send_batch` with batches of `batch` messages when
/// given, `send` per message otherwise.
pub(crate) async fn stream(dir: &Path, batch: Option<usize>) -> Row {
    let total = messages();
    println!(
        "stream: {total} messages of {FRAME}-byte frames a (parent) -> b (child), {} rounds (+1 warm-up){}",
        rounds(),
        batch.map_or(String::new(), |b| format!(
            ", reign sending {b} at a time with send_batch"
        ))
    );
    let (mut ctl, nodes, raw_addr) = start("stream", dir, &["a".into()], "b").await;
    let a = &nodes[0];
    let mut conn = raw_connections(dir, raw_addr, 1).await.remove(0);
    let (mut reign_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for round in 0..=rounds() {
        let n = if round == 0 {
            (total / 10).max(1)
        } else {
            total
        };
        ctl.send(&format!("raw {n}")).await;
        let start = Instant::now();
        write_frames(&mut conn, n).await;
        ctl.expect("done").await;
        let raw = start.elapsed();

        let remote = decode(a, &child_mailbox(&mut ctl, &format!("reign {n}")).await);
        let start = Instant::now();
        match batch {
            None => {
                for _ in 0..n {
                    remote.send(BLOB).await.expect("send");
                }
            }
            Some(size) => {
                let mut msgs = Vec::with_capacity(size);
                let mut left = n;
                while left > 0 {
                    let k = left.min(size as u64);
                    msgs.extend((0..k).map(|_| BLOB));
                    remote.send_batch(&mut msgs).await.expect("send");
                    left -= k;
                }
            }
        }
        ctl.expect("done").await;
        let reign = start.elapsed();

        if round == 0 {
            continue;
        }
        let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
        println!(
            "  round {round}: reign {:.3} M msg/s, raw {:.3} M frames/s, ratio {:.2}x",
            rate(reign),
            rate(raw),
            raw.as_secs_f64() / reign.as_secs_f64()
        );
        reign_rates.push(rate(reign));
        raw_rates.push(rate(raw));
    }
    drop(conn);
    stop(ctl, nodes).await;
    throughput_row(
        match batch {
            None => "stream 64 B a -> b (M msg/s)",
            Some(_) => "stream 64 B a -> b, send_batch (M msg/s)",
        },
        &reign_rates,
        &raw_rates,
        ">= 0.80x",
    )
}

// ------------------------------------------------------------ ping

pub(crate) async fn ping(dir: &Path) -> Vec<Row> {
    let trips = trips();
    println!(
        "ping: {trips} sequential round trips of {FRAME}-byte frames a (parent) -> b (child) -> a, {} rounds (after {WARM_TRIPS} warm-up)",
        rounds()
    );
    let (mut ctl, nodes, raw_addr) = start("ping", dir, &["a".into()], "b").await;
    let a = &nodes[0];
    // reign: a's task -> b's mailbox, whose task sends it back to a's mailbox.
    let (at_a, to_a) = a.mailbox::<Blob>();
    let to_a = serde_json::to_string(&to_a).expect("address to json");
    let to_b = decode(a, &child_mailbox(&mut ctl, &format!("echo {to_a}")).await);
    let mut raw = raw_connections(dir, raw_addr, 1).await.remove(0);
    let mut reign = (to_b, at_a);
    let (mut reign_rounds, mut raw_rounds) = (Vec::new(), Vec::new());
    for round in 0..=rounds() {
        let n = if round == 0 { WARM_TRIPS } else { trips };
        let raw_times;
        (raw_times, raw) = raw_round_trips(raw, n).await;
        let reign_times;
        (reign_times, reign) = reign_round_trips(reign, n).await;
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
    drop((raw, reign));
    stop(ctl, nodes).await;
    let pick = |v: &[Stats], f: fn(&Stats) -> f64| v.iter().map(f).collect::<Vec<_>>();
    let mut rows = Vec::new();
    for (name, f, goal) in [
        (
            "ping round trip, mean (us)",
            (|s: &Stats| s.mean) as fn(&Stats) -> f64,
            "<= 1.15x",
        ),
        ("ping round trip, p50 (us)", |s: &Stats| s.p50, "-"),
        ("ping round trip, p99 (us)", |s: &Stats| s.p99, "-"),
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

// ------------------------------------------------------------ fan-in

pub(crate) async fn fanin(dir: &Path) -> Row {
    let per = (messages() / SENDERS as u64).max(1);
    println!(
        "fanin: {SENDERS} nodes s0..s{} (parent) -> one mailbox on z (child), {per} messages each ({} per round), {} rounds (+1 warm-up)",
        SENDERS - 1,
        per * SENDERS as u64,
        rounds()
    );
    let ids: Vec<String> = (0..SENDERS).map(|i| format!("s{i}")).collect();
    let (mut ctl, senders, raw_addr) = start("fanin", dir, &ids, "z").await;
    let pid = ctl.pid();
    let mut conns = raw_connections(dir, raw_addr, SENDERS).await;
    let (mut reign_rates, mut raw_rates) = (Vec::new(), Vec::new());
    // The child's CPU per round, then the parent's.
    let (mut reign_cpu, mut raw_cpu) = (Vec::new(), Vec::new());
    let (mut reign_own, mut raw_own) = (Vec::new(), Vec::new());
    let me = std::process::id();
    for round in 0..=rounds() {
        let n = if round == 0 { (per / 10).max(1) } else { per };
        let total = n * SENDERS as u64;

        let (before, own) = (Snapshot::take(pid), Snapshot::take(me));
        ctl.send(&format!("raw {n}")).await;
        let start = Instant::now();
        let writers: Vec<_> = conns
            .drain(..)
            .map(|mut c| {
                tokio::spawn(async move {
                    write_frames(&mut c, n).await;
                    c
                })
            })
            .collect();
        for w in writers {
            conns.push(w.await.expect("raw writer"));
        }
        ctl.expect("done").await;
        let raw = start.elapsed();
        let (raw_split, raw_mine) = (
            Snapshot::take(pid).since(&before),
            Snapshot::take(me).since(&own),
        );

        let json = child_mailbox(&mut ctl, &format!("reign {total}")).await;
        let remotes: Vec<Address<Blob>> = senders.iter().map(|s| decode(s, &json)).collect();
        let (before, own) = (Snapshot::take(pid), Snapshot::take(me));
        let start = Instant::now();
        let tasks: Vec<_> = remotes
            .into_iter()
            .map(|remote| {
                tokio::spawn(async move {
                    for _ in 0..n {
                        remote.send(BLOB).await.expect("send");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("sender");
        }
        ctl.expect("done").await;
        let reign = start.elapsed();
        let (reign_split, reign_mine) = (
            Snapshot::take(pid).since(&before),
            Snapshot::take(me).since(&own),
        );

        if round == 0 {
            continue;
        }
        let rate = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
        println!(
            "  round {round}: reign {:.3} M msg/s, raw {:.3} M frames/s, ratio {:.2}x",
            rate(reign),
            rate(raw),
            raw.as_secs_f64() / reign.as_secs_f64()
        );
        println!("    child CPU, reign: {}", cpu::format(&reign_split));
        println!("    child CPU, raw:   {}", cpu::format(&raw_split));
        reign_rates.push(rate(reign));
        raw_rates.push(rate(raw));
        reign_cpu.push(reign_split);
        raw_cpu.push(raw_split);
        reign_own.push(reign_mine);
        raw_own.push(raw_mine);
    }
    drop(conns);
    stop(ctl, senders).await;
    println!(
        "  CPU per round (median of each group, seconds user/system), child, reign: {}",
        cpu::format(&median_split(&reign_cpu))
    );
    println!(
        "  CPU per round, child, raw:    {}",
        cpu::format(&median_split(&raw_cpu))
    );
    println!(
        "  CPU per round, parent, reign: {}",
        cpu::format(&median_split(&reign_own))
    );
    println!(
        "  CPU per round, parent, raw:   {}",
        cpu::format(&median_split(&raw_own))
    );
    throughput_row(
        "fanin 8 nodes -> 1 mailbox (M msg/s)",
        &reign_rates,
        &raw_rates,
        "-",
    )
}

/// The median of each group's user and system seconds over the rounds (0 in a round that
/// had no such thread).
fn median_split(rounds: &[Split]) -> Split {
    let mut groups: Vec<&String> = rounds.iter().flat_map(|s| s.keys()).collect();
    groups.sort();
    groups.dedup();
    groups
        .into_iter()
        .map(|g| {
            let get = |f: fn(&(f64, f64)) -> f64| {
                let v: Vec<f64> = rounds.iter().map(|s| s.get(g).map_or(0.0, f)).collect();
                median(&v)
            };
            (g.clone(), (get(|t| t.0), get(|t| t.1)))
        })
        .collect()
}
