//! The many-mailboxes scenario: a stream spread round-robin over many mailboxes on b, each
//! with its own receiving task, against the one-mailbox stream in the same run.
//!
//! Beside it, the same shape with no reign and no network: one task sending round-robin
//! into as many tokio channels (unbounded, each with its receiving task), against one
//! channel. Each message to one of many receivers wakes a parked task whose state is out of
//! cache; that reference shows what the wake and the poll alone cost on this machine,
//! whatever carries the message. Its sender yields after each 64 KiB worth of frames, as
//! reign's link reader does.
//!
//! `BENCH_ONLY=reign` runs the many-mailbox rounds alone (no one-mailbox rounds, no
//! reference), for instruction counts; `BENCH_ONLY=raw` runs the tokio reference alone (for
//! the same counts of what the reference does, and of its simulated cache misses).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reign::Address;
use tokio::sync::{mpsc, oneshot};

use super::blob::{BLOB, Blob};
use super::stats::{median, spread};
use super::{Bench, Contenders, FRAME, Row, env_count, messages, one_sided, rounds};

/// Mailboxes on b (`BENCH_MAILBOXES=<n>` to change).
const MAILBOXES: usize = 100_000;

/// How many messages the reference's sender sends between yields: a 64 KiB read's worth of
/// frames, where reign's link reader yields (without yields the sender would run a whole
/// round before any receiver, which then each take a batch: not the shape under test).
const TOKIO_YIELD: u64 = (64 * 1024 / FRAME) as u64;

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

/// What b's receiving tasks share. Each round gives every mailbox the same number of
/// messages (`quota`); a task counts its own and touches the shared counter once per round,
/// when it has its quota (a shared counter bumped per message would bounce its cache line
/// between the two workers on every message, a cost of the bench and not of what it
/// measures). The task that completes the round reports when it did.
struct Tally {
    quota: AtomicU64,
    /// Tasks that have their quota this round.
    finished: AtomicU64,
    tasks: u64,
    done: Mutex<Option<oneshot::Sender<Instant>>>,
}

impl Tally {
    fn new(tasks: usize) -> Arc<Self> {
        Arc::new(Tally {
            quota: AtomicU64::new(u64::MAX),
            finished: AtomicU64::new(0),
            tasks: tasks as u64,
            done: Mutex::new(None),
        })
    }

    /// Counts one message taken by a task that has taken `mine` this round (reset at its
    /// quota).
    fn took(&self, mine: &mut u64) {
        *mine += 1;
        if *mine < self.quota.load(Ordering::Relaxed) {
            return;
        }
        *mine = 0;
        if self.finished.fetch_add(1, Ordering::AcqRel) + 1 == self.tasks {
            let at = Instant::now();
            if let Some(done) = self.done.lock().expect("tally").take() {
                let _ = done.send(at);
            }
        }
    }

    /// Arms the next round of `quota` messages per task; the receiver fires when all took it.
    fn arm(&self, quota: u64) -> oneshot::Receiver<Instant> {
        let (done_tx, done) = oneshot::channel();
        *self.done.lock().expect("tally") = Some(done_tx);
        self.finished.store(0, Ordering::Release);
        self.quota.store(quota, Ordering::Release);
        done
    }
}

impl Bench {
    pub(super) async fn many(&self) -> Vec<Row> {
        let boxes = mailboxes();
        // Every mailbox gets the same number of messages a round (see `Tally`).
        let messages = (messages() / boxes as u64).max(1) * boxes as u64;
        println!(
            "many: {messages} messages of {FRAME}-byte frames a -> b, round-robin over {boxes} mailboxes on b \
             (a receiving task each), against one mailbox; {} rounds of each, interleaved (+1 warm-up); \
             then the same with tokio channels and no network",
            rounds()
        );
        Contenders::from_env().announce();
        if Contenders::from_env() == Contenders::Raw {
            return vec![self.many_tokio(boxes, messages).await.0];
        }
        let rss_start = rss_kib().unwrap_or(0);
        let made = Instant::now();
        let tally = Tally::new(boxes);
        let only_many = Contenders::from_env() == Contenders::Reign;
        // b: a mailbox and a task per mailbox, as an Erlang process would be.
        let mut local = Vec::with_capacity(boxes);
        let mut tasks = Vec::with_capacity(boxes);
        for _ in 0..boxes {
            let (mut inbox, addr) = self.b.mailbox::<Blob>();
            let tally = tally.clone();
            tasks.push(self.sides.b.spawn(async move {
                let mut mine = 0;
                loop {
                    std::hint::black_box(inbox.recv().await);
                    tally.took(&mut mine);
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
                (messages / 10 / boxes as u64).max(1) * boxes as u64
            } else {
                messages
            };
            // `BENCH_ONLY=reign`: the many-mailbox rounds alone (for callgrind).
            let single = match only_many {
                true => Duration::ZERO,
                false => self.reign_stream_round::<Blob>(n, None).await.0,
            };
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
        let name = "many mailboxes / one mailbox (M msg/s)";
        let row = match only_many {
            true => one_sided(name, &many_rates, &[], "M msg/s", 3),
            false => ratio_row(
                "reign",
                "mailboxes",
                &many_rates,
                &single_rates,
                name,
                ">= 0.70x",
            ),
        };
        println!(
            "  RSS after the rounds {:.1} MiB; (in the table: the reign column is the many-mailbox rate, \
             the raw TLS column the one-mailbox rate)",
            mib(rss_kib().unwrap_or(0)),
        );
        for t in &tasks {
            t.abort();
        }
        drop(tasks);
        if only_many {
            return vec![row];
        }
        let (reference, tokio_many, tokio_one) = self.many_tokio(boxes, messages).await;
        // What the goal leaves for spreading, against what spreading costs tokio's own channels
        // on this machine in this run (nanoseconds per message, from the median rates).
        let ns = |rate: f64| 1e3 / rate;
        let one = median(&single_rates);
        println!(
            "  per message (medians): reign's spread stream takes {:.0} ns more than its one-mailbox \
             stream; 0.70x allows {:.0} ns more; tokio's channels take {:.0} ns more spread than one \
             (the wake and poll of a parked task per message, with no lookup and no network)",
            ns(median(&many_rates)) - ns(one),
            ns(one) * (1.0 / 0.7 - 1.0),
            ns(tokio_many) - ns(tokio_one),
        );
        vec![row, reference]
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
        let done = tally.arm(n / remote.len() as u64);
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

    /// The reference: the same rounds through tokio channels, no reign and no network, `boxes`
    /// receivers against one, the sender on a's runtime and the receivers on b's.
    /// Returns the row and the median rates, many channels and one.
    async fn many_tokio(&self, boxes: usize, messages: u64) -> (Row, f64, f64) {
        type Payload = [u8; 64];
        let spawn_receivers = |count: usize, tally: &Arc<Tally>| {
            (0..count)
                .map(|_| {
                    let (tx, mut rx) = mpsc::unbounded_channel::<Payload>();
                    let tally = tally.clone();
                    let task = self.sides.b.spawn(async move {
                        let mut mine = 0;
                        while let Some(m) = rx.recv().await {
                            std::hint::black_box(m);
                            tally.took(&mut mine);
                        }
                    });
                    (tx, task)
                })
                .unzip::<_, _, Vec<_>, Vec<_>>()
        };
        let (many_tally, one_tally) = (Tally::new(boxes), Tally::new(1));
        let (many_tx, many_tasks) = spawn_receivers(boxes, &many_tally);
        let (one_tx, one_tasks) = spawn_receivers(1, &one_tally);
        let (many_tx, one_tx) = (Arc::new(many_tx), Arc::new(one_tx));
        let round = |tally: &Arc<Tally>, to: &Arc<Vec<mpsc::UnboundedSender<Payload>>>, n: u64| {
            let done = tally.arm(n / to.len() as u64);
            let to = to.clone();
            let sender = self.sides.a.spawn(async move {
                let start = Instant::now();
                for (i, tx) in (1..=n).zip(to.iter().cycle()) {
                    tx.send(std::hint::black_box([7u8; 64])).expect("send");
                    // As reign's link reader does after each 64 KiB of frames.
                    if i % TOKIO_YIELD == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                start
            });
            async move {
                let start = sender.await.expect("sender");
                done.await.expect("the last message's task") - start
            }
        };
        let (mut one_rates, mut many_rates) = (Vec::new(), Vec::new());
        for r in 0..=rounds() {
            let n = if r == 0 {
                (messages / 10 / boxes as u64).max(1) * boxes as u64
            } else {
                messages
            };
            let one = round(&one_tally, &one_tx, n).await;
            let many = round(&many_tally, &many_tx, n).await;
            if r > 0 {
                let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
                one_rates.push(rate(one));
                many_rates.push(rate(many));
                println!(
                    "  tokio round {r}: one channel {:.3} M msg/s, {boxes} channels {:.3} M msg/s",
                    rate(one),
                    rate(many)
                );
            }
        }
        drop((many_tx, one_tx));
        for t in many_tasks.into_iter().chain(one_tasks) {
            let _ = t.await;
        }
        let row = ratio_row(
            "tokio",
            "channels",
            &many_rates,
            &one_rates,
            "reference: tokio channels, many / one",
            "-",
        );
        (row, median(&many_rates), median(&one_rates))
    }
}

/// The summary line and table row of a many-against-one comparison.
fn ratio_row(
    who: &str,
    what: &str,
    many: &[f64],
    one: &[f64],
    name: &'static str,
    goal: &'static str,
) -> Row {
    let paired: Vec<f64> = many.iter().zip(one).map(|(m, s)| m / s).collect();
    let (m, s) = (median(many), median(one));
    println!(
        "  {who}: many {what} {} M msg/s, one {} M msg/s, round ratios {} (min..max); ratio of medians {:.2}x",
        spread(many, 3),
        spread(one, 3),
        spread(&paired, 2),
        m / s,
    );
    Row {
        name,
        reign: format!("{m:.3}"),
        raw: format!("{s:.3}"),
        ratio: Some(median(&paired)),
        goal,
    }
}
