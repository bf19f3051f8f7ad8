//! The large-message scenario: 1 MiB messages a -> b, against raw TLS writing frames of the
//! same size; and, beside the stream, small probes on the same link.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reign::{Address, ClusterStats, Events, NodeEvent};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::client::TlsStream as ClientTls;

use super::blob::Blob;
use super::raw::Job;
use super::stats::{median, spread};
use super::{Bench, KIND_SEND, PAYLOAD, Row, env_count, rounds};

/// Bytes of one large message.
const BIG: usize = 1 << 20;
/// Messages per large round (`BENCH_LARGE_MESSAGES=<n>` to change); 2 GiB a round.
const LARGE_MESSAGES: u64 = 2_000;
const BIG_TAG: &str = "bench.Big1MiB";
/// bincode's varint of a length from 2^16 to 2^32 - 1: the marker 252, then the length as a
/// little-endian `u32`.
const BIG_LEN: [u8; 5] = {
    let l = (BIG as u32).to_le_bytes();
    [252, l[0], l[1], l[2], l[3]]
};
/// The encoded payload: the length and the bytes.
const BIG_PAYLOAD: usize = BIG_LEN.len() + BIG;
/// A SEND frame of it: length, kind, target, target incarnation, tag length, tag, payload.
const BIG_FRAME: usize = 4 + 1 + 8 + 8 + 1 + BIG_TAG.len() + BIG_PAYLOAD;
const _: () = assert!(BIG_FRAME <= reign::DEFAULT_MAX_FRAME_SIZE);
/// How often the probe task sends its small message.
const PROBE_EVERY: Duration = Duration::from_millis(5);

fn large_messages() -> u64 {
    env_count("BENCH_LARGE_MESSAGES").unwrap_or(LARGE_MESSAGES)
}

/// 1 MiB of bytes, serialized as serde bytes (as `serde_bytes` does: one length and the bytes,
/// not a sequence of `u8`s). Shared behind an `Arc`, so that the sender hands the same bytes
/// to every send as the raw client does (a clone costs a count, not a copy); each received
/// message is a fresh `Vec`, as it would be for any owned message type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Arc<Vec<u8>>);
reign::message!(Big = BIG_TAG);

impl Serialize for Big {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Big {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Big;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{BIG} bytes")
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Big, E> {
                match v.len() {
                    BIG => Ok(Big(Arc::new(v))),
                    n => Err(E::invalid_length(n, &self)),
                }
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Big, E> {
                self.visit_byte_buf(v.to_vec())
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

/// Appends one SEND frame of a large message, laid out as [`super::raw::put_frame`] lays out
/// a small one.
fn put_big_frame(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&((BIG_FRAME - 4) as u32).to_be_bytes());
    buf.push(KIND_SEND);
    buf.extend_from_slice(&1u64.to_be_bytes()); // target mailbox
    buf.extend_from_slice(&0x1234_5678_9abc_def0u64.to_be_bytes()); // target incarnation
    buf.push(BIG_TAG.len() as u8);
    buf.extend_from_slice(BIG_TAG.as_bytes());
    buf.extend_from_slice(&BIG_LEN);
    buf.extend_from_slice(bytes);
}

/// A probe: the time it was sent (nanoseconds after the round's base instant), and whether it
/// is the last of the round.
fn probe(sent: Duration, last: bool) -> Blob {
    let mut bytes = [0; PAYLOAD - 1];
    bytes[..8].copy_from_slice(&(sent.as_nanos() as u64).to_le_bytes());
    bytes[8] = u8::from(last);
    Blob(bytes)
}

/// What the probes of one reign round saw.
struct Probes {
    /// The largest gap between two probes' arrivals at b, of those overlapping the stream.
    max_gap: Duration,
    /// The longest a probe sent during the stream took from its send to its arrival.
    max_latency: Duration,
    /// Probes that arrived while the stream ran.
    during: usize,
}

/// One reign round of the large stream.
struct LargeRound {
    time: Duration,
    probes: Probes,
}

impl Bench {
    pub(super) async fn large(&self) -> Vec<Row> {
        self.check_big_payload();
        let messages = large_messages();
        let heartbeat = reign::DEFAULT_HEARTBEAT_INTERVAL; // the bench leaves it at its default
        println!(
            "large: {messages} messages of 1 MiB ({BIG_FRAME}-byte frames) a -> b, {} rounds (+1 warm-up); \
             a small probe every {PROBE_EVERY:?} a -> b beside each reign round; heartbeat interval {heartbeat:?}",
            rounds()
        );
        let bytes = Arc::new(vec![7u8; BIG]);
        let mut events = (self.a.cluster().events(), self.b.cluster().events());
        let (mut raw_conn, raw_jobs) = self.raw_stream_connection().await;
        let (mut reign_rates, mut raw_rates, mut gaps) = (Vec::new(), Vec::new(), Vec::new());
        let mut downs_total = 0;
        for round in 0..=rounds() {
            let n = if round == 0 {
                (messages / 10).max(1)
            } else {
                messages
            };
            let downs_before = links_down(&self.a.cluster().stats(), &self.b.cluster().stats());
            let raw;
            (raw, raw_conn) = raw_big_round(&self.sides.a, raw_conn, &raw_jobs, &bytes, n).await;
            let reign = self.reign_big_round(Big(bytes.clone()), n).await;
            let downs = links_down(&self.a.cluster().stats(), &self.b.cluster().stats())
                - downs_before
                + went_down(&mut events.0)
                + went_down(&mut events.1);
            downs_total += downs;
            assert_eq!(self.a.cluster().connected().len(), 1, "a's link to b is up");
            // Payload MiB/s: each message is 1 MiB.
            let rate = |d: Duration| n as f64 / d.as_secs_f64();
            if round == 0 {
                continue;
            }
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let p = &reign.probes;
            println!(
                "  round {round}: reign {:.0} MiB/s, raw {:.0} MiB/s, ratio {:.2}x; probes: max gap {:.1} ms \
                 (heartbeat interval {:.0} ms), max latency {:.1} ms, {} during the stream; links down {downs}",
                rate(reign.time),
                rate(raw),
                raw.as_secs_f64() / reign.time.as_secs_f64(),
                ms(p.max_gap),
                ms(heartbeat),
                ms(p.max_latency),
                p.during,
            );
            reign_rates.push(rate(reign.time));
            raw_rates.push(rate(raw));
            gaps.push(ms(p.max_gap));
        }
        let (r, w) = (median(&reign_rates), median(&raw_rates));
        let paired: Vec<f64> = reign_rates
            .iter()
            .zip(&raw_rates)
            .map(|(r, w)| r / w)
            .collect();
        println!(
            "  reign {} MiB/s, raw {} MiB/s, round ratios {} (min..max); ratio of medians {:.2}x",
            spread(&reign_rates, 0),
            spread(&raw_rates, 0),
            spread(&paired, 2),
            r / w
        );
        println!(
            "  probe max gap per round {} ms (min..max), heartbeat interval {:.0} ms; links down in all rounds: {downs_total}",
            spread(&gaps, 1),
            heartbeat.as_secs_f64() * 1e3
        );
        assert_eq!(downs_total, 0, "a link went down during the large stream");
        vec![
            Row {
                name: "large 1 MiB messages (MiB/s)",
                reign: format!("{r:.0}"),
                raw: format!("{w:.0}"),
                ratio: Some(median(&paired)),
                goal: ">= 0.90x",
            },
            Row {
                name: "large: probe max gap, worst round (ms)",
                reign: format!("{:.1}", gaps.iter().copied().fold(0.0, f64::max)),
                raw: "-".into(),
                ratio: None,
                goal: "hb 1000 ms",
            },
        ]
    }

    /// The payload of a [`Big`] is exactly `BIG_PAYLOAD` bytes: `b` decodes them into one and
    /// refuses one byte fewer or more; the raw frame has the size of reign's.
    fn check_big_payload(&self) {
        let (mut inbox, addr) = self.b.mailbox::<Big>();
        let target = addr.mailbox_ref();
        let mut bytes = BIG_LEN.to_vec();
        bytes.resize(BIG_PAYLOAD + 1, 7);
        let deliver = |n: usize| reign::__fuzz::deliver(&self.b, &target, BIG_TAG, &bytes[..n]);
        assert!(deliver(BIG_PAYLOAD), "{BIG_PAYLOAD} bytes decode");
        assert_eq!(inbox.try_recv(), Some(Big(Arc::new(vec![7; BIG]))));
        for n in [BIG_PAYLOAD - 1, BIG_PAYLOAD + 1] {
            assert!(!deliver(n), "{n} bytes are refused");
        }
        let mut frame = Vec::new();
        put_big_frame(&mut frame, &bytes[BIG_LEN.len()..BIG_PAYLOAD]);
        assert_eq!(frame.len(), BIG_FRAME);
    }

    /// One reign round: `n` large messages to a fresh mailbox on b, timed from the first send
    /// until b's mailbox has the last; meanwhile a probe every `PROBE_EVERY` to another.
    async fn reign_big_round(&self, msg: Big, n: u64) -> LargeRound {
        let (mut inbox, remote) = Self::remote_mailbox::<Big>(&self.a, &self.b);
        let (mut probes_in, probes_to) = Self::remote_mailbox::<Blob>(&self.a, &self.b);
        let base = Instant::now();
        // b: each probe's arrival and how long it took; the last one's arrival closes the list.
        let probe_rx = self.sides.b.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let p = probes_in.recv().await;
                let at = Instant::now();
                let sent = u64::from_le_bytes(p.0[..8].try_into().expect("8 bytes"));
                seen.push((at, at - (base + Duration::from_nanos(sent))));
                if p.0[8] == 1 {
                    return seen;
                }
            }
        });
        let (stop, mut stopped) = oneshot::channel::<()>();
        let probe_tx = self.sides.a.spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => break,
                }
                probes_to
                    .send(probe(base.elapsed(), false))
                    .await
                    .expect("probe");
            }
            probes_to
                .send(probe(base.elapsed(), true))
                .await
                .expect("probe");
        });
        // A few probes before the stream starts.
        tokio::time::sleep(4 * PROBE_EVERY).await;
        let receiver = self.sides.b.spawn(async move {
            for _ in 0..n {
                std::hint::black_box(inbox.recv().await.0.len());
            }
            Instant::now()
        });
        let sender = self.sides.a.spawn(send_all(remote, msg, n));
        let start = sender.await.expect("sender");
        let end = receiver.await.expect("receiver");
        let _ = stop.send(());
        probe_tx.await.expect("probe sender");
        let seen = probe_rx.await.expect("probe receiver");
        LargeRound {
            time: end - start,
            probes: probes_during(&seen, start, end),
        }
    }
}

/// Sends `n` copies of `msg` (each a clone of the `Arc`), waiting for room on the link;
/// returns when the first send started.
async fn send_all(remote: Address<Big>, msg: Big, n: u64) -> Instant {
    let start = Instant::now();
    for _ in 0..n {
        if let Err(e) = remote.send(msg.clone()).await {
            panic!("send of 1 MiB failed: {:?}", e.reason());
        }
    }
    start
}

/// The probes' gaps and delays over the stream's span `[start, end]`: a gap counts when it
/// overlaps the span, a delay when its probe arrived within it.
fn probes_during(seen: &[(Instant, Duration)], start: Instant, end: Instant) -> Probes {
    let mut p = Probes {
        max_gap: Duration::ZERO,
        max_latency: Duration::ZERO,
        during: 0,
    };
    for w in seen.windows(2) {
        let ((before, _), (after, delay)) = (w[0], w[1]);
        if after >= start && before <= end {
            p.max_gap = p.max_gap.max(after - before);
        }
        if after >= start && after <= end {
            p.max_latency = p.max_latency.max(delay);
            p.during += 1;
        }
    }
    p
}

/// Links that went down, by the two nodes' counters.
fn links_down(a: &ClusterStats, b: &ClusterStats) -> u64 {
    a.links_down + b.links_down
}

/// `Down` events waiting on `events` (each missed event counted as one, to be safe).
fn went_down(events: &mut Events) -> u64 {
    let mut downs = 0;
    loop {
        match events.try_recv() {
            Ok(Some(NodeEvent::Down { .. })) => downs += 1,
            Ok(Some(_)) => {}
            Ok(None) => return downs,
            Err(reign::EventsError::Lagged(n)) => downs += n,
            Err(_) => return downs, // closed
        }
    }
}

/// The raw baseline: `n` frames of `bytes`, each built into a buffer (one copy, as reign's
/// encoder makes) and written whole, from a worker of the runtime; the time until the server
/// parsed the last one.
async fn raw_big_round(
    side: &tokio::runtime::Handle,
    tls: ClientTls<TcpStream>,
    jobs: &mpsc::UnboundedSender<Job>,
    bytes: &Arc<Vec<u8>>,
    n: u64,
) -> (Duration, ClientTls<TcpStream>) {
    let (done_tx, done) = oneshot::channel();
    jobs.send((n, done_tx)).expect("raw server");
    let bytes = bytes.clone();
    let client = side.spawn(async move {
        let mut tls = tls;
        let mut buf = Vec::with_capacity(BIG_FRAME);
        let start = Instant::now();
        for _ in 0..n {
            buf.clear();
            put_big_frame(&mut buf, &bytes);
            tls.write_all(&buf).await.expect("raw write");
        }
        tls.flush().await.expect("raw flush");
        (start, tls)
    });
    let (start, tls) = client.await.expect("raw client");
    let end = done.await.expect("raw server");
    (end - start, tls)
}
