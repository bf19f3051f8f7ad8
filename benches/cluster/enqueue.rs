//! The enqueue diagnostic: what one remote `send` costs the sending task.

use std::time::{Duration, Instant};

use super::blob::{BLOB, Blob};
use super::raw::put_frame;
use super::stats::{median, spread};
use super::{Bench, CHUNK, FRAME, Row, rounds};

impl Bench {
    /// What one remote send costs the sending task: `ENQUEUED` plain `send`s of a `Blob` to a
    /// mailbox on `b` in a loop, timed alone (the link fits them all, so none waits), against
    /// building the same frames into a buffer as the raw client does. A diagnostic: it has no
    /// goal, and the link writer may run on the other worker meanwhile.
    pub(super) async fn enqueue(&self) -> Row {
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
            ratio: Some(r / w),
            goal: "-",
        }
    }
}
