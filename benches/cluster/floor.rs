//! The floor under a message layer's stream: the raw baseline with the hand-offs every
//! mailbox system makes, and nothing else of reign (no encoding, no decoding, no routing).
//!
//! - *Receive hand-off*: the raw server's reading task copies each frame's 63-byte payload
//!   into a queue shared with another task (one lock per read's worth of frames, a wake-up
//!   when the queue was empty), and that task takes the whole queue at once (a buffer swap)
//!   and counts what it took. A mailbox is read by its own task, not the socket's: this is
//!   about the least a delivery can cost. It locks about as often as reign's delivery (once
//!   per read here, once per run of frames to one mailbox there) and is cheaper on the
//!   receiving side: the counting task takes the whole queue by a swap and decodes nothing,
//!   where a mailbox's `recv` hands out one decoded message per call.
//! - *Both hand-offs*: as well, the client's sending task appends each frame to a buffer
//!   shared with a writing task (one lock per message, since any task may send on a link; a
//!   wake-up when the buffer was empty; waiting for room past the link limit, reign's default
//!   or `BENCH_LINK_LIMIT`; a yield per 64 KiB, as `Address::send` does), and the writing task
//!   takes the buffer at once (a swap) and writes it to the TLS stream.
//!
//! Each round opens a fresh connection and fresh shared buffers (the raw and reign rounds
//! keep theirs): the sending buffer grows from empty in every round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use super::raw::{Inbound, put_frame, raw_stream_round, write_frames};
use super::stats::{median, spread};
use super::{Bench, Blob, CHUNK, FRAME, PAYLOAD, Row, messages, rounds};

/// Where the sending task waits for room: reign's link buffer limit, its default
/// (`DEFAULT_LINK_BUFFER_LIMIT`, 16 MiB) or `BENCH_LINK_LIMIT`, as the reign rounds use.
fn limit() -> usize {
    super::env_count("BENCH_LINK_LIMIT").unwrap_or(16 * 1024 * 1024)
}

/// A buffer two tasks share, with the wake-ups of its consumer and its producer.
#[derive(Default)]
struct Handoff<T> {
    queue: Mutex<T>,
    /// Wakes the consumer (a permit is kept if it is not waiting).
    filled: Notify,
    /// Wakes a producer waiting for room.
    room: Notify,
    /// The producer is done: the consumer ends once it took the rest.
    done: AtomicBool,
}

impl<T> Handoff<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Bench {
    /// One round of `n` frames through raw TLS with the receive hand-off, and with both
    /// hand-offs if `send_hop`: the time from the first frame built until the receiving
    /// task counted the last one.
    pub(crate) async fn floor_round(&self, n: u64, send_hop: bool) -> Duration {
        let (end_tx, end_rx) = tokio::sync::oneshot::channel();
        let tls = self
            .raw_connection(move |tls| receive_with_handoff(tls, n, end_tx))
            .await;
        let client = self.sides.a.clone();
        let start = self
            .sides
            .a
            .spawn(async move {
                match send_hop {
                    true => send_with_handoff(&client, tls, n).await,
                    false => {
                        let mut tls = tls;
                        write_frames(&mut tls, n).await
                    }
                }
            })
            .await
            .expect("floor client");
        end_rx.await.expect("floor server") - start
    }
}

/// A sending task and a writing task sharing one buffer. Returns when sending started.
async fn send_with_handoff(
    side: &tokio::runtime::Handle,
    mut tls: impl tokio::io::AsyncWrite + Unpin + Send + 'static,
    n: u64,
) -> Instant {
    let shared = Arc::new(Handoff::<Vec<u8>>::default());
    let limit = limit();
    let writer = {
        let shared = shared.clone();
        side.spawn(async move {
            let mut batch = Vec::new();
            loop {
                let filled = shared.filled.notified();
                tokio::pin!(filled);
                filled.as_mut().enable();
                std::mem::swap(&mut *shared.lock(), &mut batch);
                if batch.is_empty() {
                    if shared.done.load(Ordering::Acquire) && shared.lock().is_empty() {
                        break;
                    }
                    filled.await;
                    continue;
                }
                tls.write_all(&batch).await.expect("floor write");
                tls.flush().await.expect("floor flush");
                batch.clear();
                shared.room.notify_waiters();
            }
            tls
        })
    };
    let start = Instant::now();
    let mut sent = 0usize;
    for _ in 0..n {
        loop {
            // `None`: no room; else whether the buffer was empty (the writer may wait).
            let queued = {
                let mut q = shared.lock();
                (q.len() < limit).then(|| {
                    let was_empty = q.is_empty();
                    put_frame(&mut q);
                    was_empty
                })
            };
            match queued {
                Some(true) => shared.filled.notify_one(),
                Some(false) => {}
                None => {
                    let room = shared.room.notified();
                    tokio::pin!(room);
                    room.as_mut().enable();
                    if shared.lock().len() >= limit {
                        room.await;
                    }
                    continue;
                }
            }
            break;
        }
        sent += FRAME;
        if sent >= CHUNK {
            sent = 0;
            tokio::task::yield_now().await;
        }
    }
    shared.done.store(true, Ordering::Release);
    shared.filled.notify_one();
    // The stream is closed only once the writer has handed every frame to the socket.
    let _tls = writer.await.expect("floor writer");
    start
}

/// The raw server's reading task handing payloads to a counting task; reports when that
/// task has counted `n`.
async fn receive_with_handoff<S>(mut tls: S, n: u64, end: tokio::sync::oneshot::Sender<Instant>)
where
    S: tokio::io::AsyncRead + Unpin,
{
    let shared = Arc::new(Handoff::<Vec<[u8; PAYLOAD - 1]>>::default());
    let counter = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut taken = Vec::new();
            let mut count = 0u64;
            while count < n {
                let filled = shared.filled.notified();
                tokio::pin!(filled);
                filled.as_mut().enable();
                std::mem::swap(&mut *shared.lock(), &mut taken);
                if taken.is_empty() {
                    filled.await;
                    continue;
                }
                for payload in taken.drain(..) {
                    std::hint::black_box(payload);
                    count += 1;
                }
            }
            let _ = end.send(Instant::now());
        })
    };
    let mut buf = Inbound::default();
    let mut read = 0u64;
    while read < n {
        assert!(buf.read_from(&mut tls).await, "floor stream ended early");
        let mut q = shared.lock();
        let was_empty = q.is_empty();
        while let Some(frame) = buf.next_frame() {
            let mut payload = [0u8; PAYLOAD - 1];
            payload.copy_from_slice(&frame[frame.len() - (PAYLOAD - 1)..]);
            q.push(payload);
            read += 1;
        }
        drop(q);
        if was_empty {
            shared.filled.notify_one();
        }
    }
    counter.await.expect("floor counter");
}

impl Bench {
    /// The floor scenario: raw, raw with the receive hand-off, raw with both hand-offs and
    /// reign (the 8-aligned type), rounds interleaved in that order; each ratio is against
    /// the raw round of the same round.
    pub(crate) async fn floor(&self) -> Vec<Row> {
        let messages = messages();
        println!(
            "floor: {messages} messages of {FRAME}-byte frames a -> b, {} rounds (+1 warm-up): raw, raw + receive hand-off, raw + both hand-offs, reign",
            rounds()
        );
        // BENCH_FLOOR=raw|receive|both|reign runs that variant alone, for callgrind.
        let only = std::env::var("BENCH_FLOOR").ok().map(|v| match v.as_str() {
            "raw" => 0,
            "receive" => 1,
            "both" => 2,
            "reign" => 3,
            other => panic!("BENCH_FLOOR={other:?}: expected raw, receive, both or reign"),
        });
        let (mut conn, jobs) = self.raw_stream_connection().await;
        let names = ["raw + receive hand-off", "raw + both hand-offs", "reign"];
        let mut rates: [Vec<f64>; 4] = Default::default();
        let mut ratios: [Vec<f64>; 3] = Default::default();
        for round in 0..=rounds() {
            let n = if round == 0 { messages / 10 } else { messages };
            if let Some(only) = only {
                // One variant alone, for callgrind's count.
                match only {
                    0 => (_, conn) = raw_stream_round(&self.sides.a, conn, &jobs, n).await,
                    1 | 2 => _ = self.floor_round(n, only == 2).await,
                    _ => {
                        _ = self
                            .reign_stream_round::<Blob>(n, super::env_count("BENCH_BATCH"))
                            .await
                    }
                }
                continue;
            }
            let raw;
            (raw, conn) = raw_stream_round(&self.sides.a, conn, &jobs, n).await;
            let times = [
                raw,
                self.floor_round(n, false).await,
                self.floor_round(n, true).await,
                self.reign_stream_round::<Blob>(n, super::env_count("BENCH_BATCH"))
                    .await
                    .0,
            ];
            if round == 0 {
                continue;
            }
            let rate = |d: &Duration| n as f64 / d.as_secs_f64() / 1e6;
            let line: Vec<String> = times[1..]
                .iter()
                .zip(names)
                .map(|(t, name)| {
                    format!(
                        "{name} {:.3} ({:.2}x)",
                        rate(t),
                        raw.as_secs_f64() / t.as_secs_f64()
                    )
                })
                .collect();
            println!(
                "  round {round} (M msg/s): raw {:.3}, {}",
                rate(&raw),
                line.join(", ")
            );
            for (i, t) in times.iter().enumerate() {
                rates[i].push(rate(t));
                if i > 0 {
                    ratios[i - 1].push(raw.as_secs_f64() / t.as_secs_f64());
                }
            }
        }
        if only.is_some() {
            return Vec::new();
        }
        let rows = [
            "floor: raw + receive hand-off (M msg/s)",
            "floor: raw + both hand-offs (M msg/s)",
            "floor: reign, same rounds (M msg/s)",
        ];
        let raw_rate = median(&rates[0]);
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                println!(
                    "  {}: {} M msg/s, round ratios {} (min..max)",
                    names[i],
                    spread(&rates[i + 1], 3),
                    spread(&ratios[i], 2)
                );
                Row {
                    name: row,
                    reign: format!("{:.3}", median(&rates[i + 1])),
                    raw: format!("{raw_rate:.3}"),
                    ratio: Some(median(&ratios[i])),
                    goal: "-",
                }
            })
            .collect()
    }
}
