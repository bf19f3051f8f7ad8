//! `Address::send_batch` toward another node over real TLS: order, the chunk yields, waiting
//! for room toward a stalled peer, cancel safety (a dropped batch keeps exactly what was
//! not sent), and a failure part-way (the rest stays in the batch).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reign::SendErrorReason;
use serde::{Deserialize, Serialize};

use crate::mesh::{Mesh, Mode, seen_from, small_buffer_tunables};
use crate::support::{WAIT, bounded};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Bulk {
    n: u64,
    bytes: Vec<u8>,
}

/// Refuses to encode 13.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
struct Picky(u64);

impl Serialize for Picky {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            return Err(serde::ser::Error::custom("13 is not sent"));
        }
        self.0.serialize(s)
    }
}
/// Panics while it is being encoded when `boom`, after part of it was written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Boom {
    n: u64,
    boom: bool,
    pad: Vec<u8>,
}

impl Serialize for Boom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Boom", 3)?;
        st.serialize_field("n", &self.n)?;
        if self.boom {
            panic!("boom while encoding {}", self.n);
        }
        st.serialize_field("boom", &self.boom)?;
        st.serialize_field("pad", &self.pad)?;
        st.end()
    }
}
reign::message!(
    Bulk = "test.batch.Bulk",
    Picky = "test.batch.Picky",
    Boom = "test.batch.Boom"
);

/// Runs `f`, catching a panic raised while it is polled.
async fn catching<F: std::future::Future>(f: F) -> std::thread::Result<F::Output> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(r)) => std::task::Poll::Ready(Ok(r)),
            Err(p) => std::task::Poll::Ready(Err(p)),
        }
    })
    .await
}

fn bulk(n: u64, size: usize) -> Bulk {
    Bulk {
        n,
        bytes: vec![(n % 251) as u8; size],
    }
}

/// Batches of every size arrive whole and in order, interleaved with single sends from the
/// same address; each batch comes back empty with its capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_cross_in_order_and_come_back_empty() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut inbox, addr) = mesh.node("b").mailbox::<u64>();
    let remote = seen_from(mesh.node("a"), &addr);
    const N: u64 = 50_000;
    let sender = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(4096);
        let mut next = 0u64;
        let mut size = 1u64;
        while next < N {
            let k = size.min(N - next);
            if size.is_multiple_of(3) {
                // A single send between batches keeps its place in the order.
                remote.send(next).await.expect("send");
                next += 1;
                size += 1;
                continue;
            }
            batch.extend(next..next + k);
            remote.send_batch(&mut batch).await.expect("batch");
            assert!(batch.is_empty(), "a sent batch comes back empty");
            assert!(batch.capacity() >= 4096, "with its capacity");
            next += k;
            size = (size * 2) % 4001 + 1;
        }
    });
    for i in 0..N {
        let got = inbox.recv_timeout(WAIT).await.expect("message in time");
        assert_eq!(got, i);
    }
    bounded(sender).await.expect("sender");
    assert!(inbox.try_recv().is_none(), "nothing twice");
    mesh.shutdown().await;
}

/// A batch yields each time it completes a chunk of the link's buffer, as `send` does: on a
/// single-threaded runtime another task runs during a 2 MiB batch.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_lets_other_tasks_run() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut inbox, addr) = mesh.node("b").mailbox::<Bulk>();
    let remote = seen_from(mesh.node("a"), &addr);
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    const N: u64 = 2_000;
    let mut batch: Vec<Bulk> = (0..N).map(|n| bulk(n, 1000)).collect();
    let before = ticks.load(Ordering::Relaxed);
    remote.send_batch(&mut batch).await.expect("batch");
    let during = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    assert!(during >= 10, "the batch yielded only {during} times");
    for n in 0..N {
        assert_eq!(inbox.recv_timeout(WAIT).await.expect("in time").n, n);
    }
    mesh.shutdown().await;
}

/// Toward a peer that reads nothing, a batch far larger than the link's limit waits for room
/// (it neither fails nor grows the queue); dropped while it waits, the batch holds exactly
/// the messages not sent, in order; once the peer reads again, sending the rest delivers
/// every message once, in order.
#[tokio::test]
async fn a_batch_toward_a_stalled_peer_waits_and_a_dropped_one_keeps_the_rest() {
    let (mesh, proxy) = Mesh::start_proxied(&["a", "b"], ("a", "b"), small_buffer_tunables()).await;
    let (a, b) = (mesh.node("a"), mesh.node("b"));
    let (mut inbox, addr) = b.mailbox::<Bulk>();
    let remote = seen_from(a, &addr);
    proxy.set(Mode::Blackhole);
    // 40 MB: more than the link's limit, the kernel's socket buffers and the proxy hold.
    const N: u64 = 40_000;
    let mut batch: Vec<Bulk> = (0..N).map(|n| bulk(n, 1000)).collect();
    // Whatever point the wait has reached when it is dropped, the batch must be exact.
    let waited =
        tokio::time::timeout(Duration::from_millis(500), remote.send_batch(&mut batch)).await;
    assert!(waited.is_err(), "40 MB cannot fit toward a stalled peer");
    let sent = N - batch.len() as u64;
    assert!(sent > 0, "the link took some before it filled");
    assert!(
        sent < 20_000,
        "{sent} KB went toward a stalled peer: the wait is not bounded by the link's limit"
    );
    for (i, m) in batch.iter().enumerate() {
        assert_eq!(m.n, sent + i as u64, "the unsent suffix, in order");
    }
    proxy.set(Mode::Forward);
    let receiver = tokio::spawn(async move {
        for n in 0..N {
            let m = inbox.recv_timeout(WAIT).await.expect("message in time");
            assert_eq!(m.n, n);
            assert_eq!(m.bytes, vec![(n % 251) as u8; 1000]);
        }
        assert!(inbox.try_recv().is_none(), "nothing twice");
    });
    bounded(remote.send_batch(&mut batch)).await.expect("rest");
    assert!(batch.is_empty());
    bounded(receiver).await.expect("receiver");
    mesh.shutdown().await;
}

/// A message that cannot be encoded stops the batch there: those before it are sent, it and
/// those after it stay in the batch, and the reason comes back.
#[tokio::test]
async fn a_failure_part_way_leaves_the_rest_in_the_batch() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (mut inbox, addr) = mesh.node("b").mailbox::<Picky>();
    let remote = seen_from(mesh.node("a"), &addr);
    let mut batch: Vec<Picky> = (10..17).map(Picky).collect();
    let err = bounded(remote.send_batch(&mut batch))
        .await
        .expect_err("13 is refused");
    assert_eq!(err, SendErrorReason::Unencodable);
    assert_eq!(batch, vec![Picky(13), Picky(14), Picky(15), Picky(16)]);
    batch.remove(0);
    bounded(remote.send_batch(&mut batch)).await.expect("rest");
    for n in [10, 11, 12, 14, 15, 16] {
        assert_eq!(inbox.recv_timeout(WAIT).await, Some(Picky(n)));
    }
    mesh.shutdown().await;
}

/// A message whose `Serialize` panics half-way (code reign calls, under the link's queue
/// lock): the panic reaches the caller, the frame it began is taken back out of the link's
/// queue (the link stays up: no torn frame reaches the peer), and a batch holds exactly the
/// unsent messages, the one that panicked first; the messages before it arrive once, and
/// later sends and batches arrive in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serialize_that_panics_takes_its_frame_back_and_leaves_the_rest() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let a = mesh.node("a");
    let (mut inbox, addr) = mesh.node("b").mailbox::<Boom>();
    let remote = seen_from(a, &addr);
    let boom = |n: u64, b: bool| Boom {
        n,
        boom: b,
        pad: vec![7; 50],
    };
    assert!(catching(remote.send(boom(100, true))).await.is_err());
    let mut batch: Vec<Boom> = (0..10).map(|n| boom(n, n == 5)).collect();
    assert!(
        catching(remote.send_batch(&mut batch)).await.is_err(),
        "the panic reaches the caller"
    );
    let left: Vec<u64> = batch.iter().map(|m| m.n).collect();
    assert_eq!(
        left,
        (5..10).collect::<Vec<_>>(),
        "exactly the unsent are left"
    );
    let mut rest: Vec<Boom> = (200..210).map(|n| boom(n, false)).collect();
    bounded(remote.send_batch(&mut rest))
        .await
        .expect("a batch after the panic");
    bounded(remote.send(boom(300, false)))
        .await
        .expect("a send after the panic");
    let mut got = Vec::new();
    loop {
        let Some(m) = inbox.recv_timeout(WAIT).await else {
            panic!("after {got:?}: nothing more in time");
        };
        got.push(m.n);
        if m.n == 300 {
            break;
        }
    }
    let want: Vec<u64> = (0..5).chain(200..210).chain([300]).collect();
    // (A torn frame in the link's queue would have closed the link: the sends after the
    // panic would have failed with `NoConnection`, or their messages been lost.)
    assert_eq!(got, want, "what was sent arrives once, in order");
    mesh.shutdown().await;
}
