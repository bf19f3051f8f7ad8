//! The many-mailboxes scenario: a stream spread round-robin over many mailboxes on b, each
//! with its own receiving task, against the one-mailbox stream in the same run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reign::Address;
use tokio::sync::oneshot;

use super::blob::{BLOB, Blob};
use super::stats::{median, spread};
use super::{Bench, FRAME, Row, env_count, messages, rounds};

/// Mailboxes on b (`BENCH_MAILBOXES=<n>` to change).
const MAILBOXES: usize = 100_000;

fn mailboxes() -> usize {
    env_count("BENCH_MAILBOXES").unwrap_or(MAILBOXES)
}

/// The process's resident set (`VmRSS` of /proc/self/status), in KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// What b's receiving tasks share: messages received so far, how many make the current
/// round, and where the task that takes the round's last message reports when it did.
struct Tally {
    received: AtomicU64,
    target: AtomicU64,
    done: Mutex<Option<oneshot::Sender<Instant>>>,
}

impl Bench {
    pub(super) async fn many(&self) -> Row {
        let (boxes, messages) = (mailboxes(), messages());
        println!(
            "many: {messages} messages of {FRAME}-byte frames a -> b, round-robin over {boxes} mailboxes on b \
             (a receiving task each), against one mailbox; {} rounds of each, interleaved (+1 warm-up)",
            rounds()
        );
        let rss_start = rss_kib().unwrap_or(0);
        let made = Instant::now();
        let tally = Arc::new(Tally {
            received: AtomicU64::new(0),
            target: AtomicU64::new(u64::MAX),
            done: Mutex::new(None),
        });
        // b: a mailbox and a task per mailbox, as an Erlang process would be.
        let mut local = Vec::with_capacity(boxes);
        let mut tasks = Vec::with_capacity(boxes);
        for _ in 0..boxes {
            let (mut inbox, addr) = self.b.mailbox::<Blob>();
            let tally = tally.clone();
            tasks.push(self.sides.b.spawn(async move {
                loop {
                    std::hint::black_box(inbox.recv().await);
                    let got = tally.received.fetch_add(1, Ordering::Relaxed) + 1;
                    if got == tally.target.load(Ordering::Relaxed) {
                        let at = Instant::now();
                        if let Some(done) = tally.done.lock().expect("tally").take() {
                            let _ = done.send(at);
                        }
                    }
                }
            }));
            local.push(addr);
        }
        let rss_boxes = rss_kib().unwrap_or(0);
        // a: each address resolved once, as one that arrives in a message is.
        let remote: Vec<Address<Blob>> = self.a.with_decode_scope(|| {
            local
                .iter()
                .map(|addr| {
                    let json = serde_json::to_value(addr).expect("address to json");
                    serde_json::from_value(json).expect("address")
                })
                .collect()
        });
        drop(local);
        assert!(remote.iter().all(|a| !a.is_local()));
        let remote = Arc::new(remote);
        let rss_addrs = rss_kib().unwrap_or(0);
        println!(
            "  {boxes} mailboxes and tasks on b and their addresses on a made in {:.2} s; RSS {:.1} MiB before, \
             {:.1} MiB after the mailboxes and tasks ({:.0} bytes each), {:.1} MiB with the addresses on a",
            made.elapsed().as_secs_f64(),
            mib(rss_start),
            mib(rss_boxes),
            rss_boxes.saturating_sub(rss_start) as f64 * 1024.0 / boxes as f64,
            mib(rss_addrs),
        );
        let (mut single_rates, mut many_rates) = (Vec::new(), Vec::new());
        for round in 0..=rounds() {
            let n = if round == 0 {
                (messages / 10).max(1)
            } else {
                messages
            };
            let (single, _) = self.reign_stream_round::<Blob>(n).await;
            let (many, sent) = self.many_round(&tally, &remote, n).await;
            if round == 0 {
                continue;
            }
            let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
            println!(
                "  round {round}: one mailbox {:.3} M msg/s, {boxes} mailboxes {:.3} M msg/s (the last send \
                 returned at {:.0}% of it), ratio {:.2}x",
                rate(single),
                rate(many),
                sent.as_secs_f64() / many.as_secs_f64() * 100.0,
                single.as_secs_f64() / many.as_secs_f64()
            );
            single_rates.push(rate(single));
            many_rates.push(rate(many));
        }
        let paired: Vec<f64> = many_rates
            .iter()
            .zip(&single_rates)
            .map(|(m, s)| m / s)
            .collect();
        let (m, s) = (median(&many_rates), median(&single_rates));
        println!(
            "  many {} M msg/s, one {} M msg/s, round ratios {} (min..max); ratio of medians {:.2}x; RSS after the rounds {:.1} MiB",
            spread(&many_rates, 3),
            spread(&single_rates, 3),
            spread(&paired, 2),
            m / s,
            mib(rss_kib().unwrap_or(0)),
        );
        println!(
            "  (in the table: the reign column is the many-mailbox rate, the raw TLS column the one-mailbox rate)"
        );
        for t in &tasks {
            t.abort();
        }
        Row {
            name: "many mailboxes / one mailbox (M msg/s)",
            reign: format!("{m:.3}"),
            raw: format!("{s:.3}"),
            ratio: Some(median(&paired)),
            goal: ">= 0.70x",
        }
    }

    /// One round: `n` messages round-robin over `remote`, each with `send(..).await`, timed
    /// from the first send until b's tasks have taken the last one: `(that time, the time
    /// until the last send returned)`.
    async fn many_round(
        &self,
        tally: &Arc<Tally>,
        remote: &Arc<Vec<Address<Blob>>>,
        n: u64,
    ) -> (Duration, Duration) {
        let (done_tx, done) = oneshot::channel();
        *tally.done.lock().expect("tally") = Some(done_tx);
        // Every earlier round is complete, so `received` is still.
        let target = tally.received.load(Ordering::Relaxed) + n;
        tally.target.store(target, Ordering::Relaxed);
        let remote = remote.clone();
        let sender = self.sides.a.spawn(async move {
            let start = Instant::now();
            for (_, to) in (0..n).zip(remote.iter().cycle()) {
                to.send(BLOB).await.expect("send");
            }
            (start, start.elapsed())
        });
        let (start, sent) = sender.await.expect("sender");
        let end = done.await.expect("the last message's task");
        (end - start, sent)
    }
}
