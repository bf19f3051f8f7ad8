//! A started node runs its links on a runtime of its own, driven by a thread of its own
//! (`reign-mesh-<node id>`): an application that blocks every worker of its runtime does not
//! stop the node's heartbeats, and the node's thread ends with the node (at `shutdown`, or
//! when the runtime that started it shuts down).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use reign::NodeEvent;

use crate::mesh::{Mesh, fast_tunables};
use crate::support::{WAIT, bounded, node};

/// Two nodes on one application runtime of two workers; both workers are blocked at once
/// (a `std::thread::sleep` in a task on each) for several silence limits. Neither node is
/// declared down by the other, and messages flow once the block is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_stay_up_while_the_application_blocks_every_worker() {
    let tunables = fast_tunables();
    let block = tunables.peer_silence_limit * 4;
    let mesh = Mesh::start_with(&["ra", "rb"], tunables).await;
    let (a, b) = (mesh.node("ra"), mesh.node("rb"));
    let mut a_events = a.cluster().events();
    let mut b_events = b.cluster().events();

    // This test's own future runs on the thread that called `block_on`, not on a worker:
    // the tasks spawned from here go to the runtime's shared queue, one per worker, and the
    // barrier holds them until both workers are blocked.
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    assert_eq!(workers, 2);
    let barrier = Arc::new(Barrier::new(workers + 1));
    let blockers: Vec<_> = (0..workers)
        .map(|_| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait();
                std::thread::sleep(block);
            })
        })
        .collect();
    // Taken before the barrier lets the workers go to sleep.
    let blocked_at = Instant::now();
    barrier.wait();
    for t in blockers {
        bounded(t).await.expect("the blocking task");
    }
    assert!(blocked_at.elapsed() >= block);

    for (events, name) in [(&mut a_events, "ra"), (&mut b_events, "rb")] {
        while let Ok(Some(event)) = events.try_recv() {
            assert!(
                !matches!(event, NodeEvent::Down { .. }),
                "{name}: {event} while the application was blocked"
            );
        }
    }
    assert_eq!(a.cluster().stats().links_down, 0);
    assert_eq!(b.cluster().stats().links_down, 0);

    let (mut inbox, at_b) = b.mailbox::<u64>();
    b.names().register("after", &at_b).unwrap();
    let remote = bounded(a.cluster().whereis_on::<u64>(&node("rb"), "after", WAIT))
        .await
        .expect("the lookup after the block");
    remote.try_send(7).expect("a send after the block");
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(7));
    mesh.shutdown().await;
}

/// The threads named `reign-mesh-<prefix>…` in this process (a thread's name is cut to 15
/// bytes: `reign-mesh-` and 4 more).
#[cfg(target_os = "linux")]
fn mesh_threads(prefix: &str) -> usize {
    let want = format!("reign-mesh-{prefix}");
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(&want))
        .count()
}

/// Waits (bounded by [`WAIT`]) until `mesh_threads(prefix)` is `n`: a thread is gone from
/// `/proc` a moment after it has said it is done, and nothing wakes a waiter when it is.
#[cfg(target_os = "linux")]
fn until_mesh_threads(prefix: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    while mesh_threads(prefix) != n {
        assert!(
            Instant::now() < deadline,
            "{} threads reign-mesh-{prefix}* after {WAIT:?}, not {n}",
            mesh_threads(prefix)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Twenty nodes started have a thread each; once shut down, none is left.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn every_node_thread_ends_at_shutdown() {
    let ids: Vec<String> = (0..20).map(|i| format!("tq{i:02}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(mesh_threads("tq"), 0);
    let mesh = Mesh::start_unlinked(&ids).await;
    assert_eq!(mesh_threads("tq"), 20, "one thread per node");
    mesh.shutdown().await;
    until_mesh_threads("tq", 0);
}

/// Nodes never shut down end with the runtime that started them (as when their tasks ran
/// on it): their threads are gone once it is dropped.
#[cfg(target_os = "linux")]
#[test]
fn node_threads_end_with_the_runtime_that_started_them() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let mesh = rt.block_on(Mesh::start_with(&["td0", "td1", "td2"], fast_tunables()));
    assert_eq!(mesh_threads("td"), 3, "one thread per node");
    drop(rt);
    until_mesh_threads("td", 0);
    drop(mesh);
}

/// With `Tunables::own_runtime` off, the nodes run on the runtime that started them, as
/// before: no thread of their own, and messages flow.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn with_own_runtime_off_a_node_has_no_thread_of_its_own() {
    let mut tunables = fast_tunables();
    tunables.own_runtime = false;
    let mesh = Mesh::start_with(&["to0", "to1"], tunables).await;
    assert_eq!(mesh_threads("to"), 0);
    let (mut inbox, at_1) = mesh.node("to1").mailbox::<u64>();
    mesh.node("to1").names().register("here", &at_1).unwrap();
    let remote = bounded(
        mesh.node("to0")
            .cluster()
            .whereis_on::<u64>(&node("to1"), "here", WAIT),
    )
    .await
    .expect("the lookup");
    remote.try_send(3).expect("a send");
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(3));
    mesh.shutdown().await;
}
