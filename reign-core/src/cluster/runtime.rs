//! The node's own runtime: the tasks of a started node (the accept loop, handshakes, dial
//! loops, the links' watches, the registry's timers, the seed loop, the certificate
//! watchers, operator connections) run on a one-thread tokio runtime driven by an OS thread
//! of the node's (`reign-mesh-<node id>`), never on the application's workers. A link's I/O
//! runs on the runtime that started the node ([`MeshRuntime::links`]), watched from here
//! (see [`super::rescue`]): an application that blocks every one of its workers (a long
//! computation, or a blocking call inside `async` code) stops its own tasks, not the node's
//! heartbeats: its peers do not declare it down.
//!
//! The thread owns the runtime: it drives it until told to stop, then shuts it down (outside
//! any async context, so no `Drop` of a runtime ever runs inside one). It is told to stop
//! when [`Node::shutdown`](crate::Node::shutdown) has ended every task, or when the runtime
//! that started the node shuts down (a guard task there), since before the node had its own
//! runtime its tasks lived on that one and ended with it.
//!
//! [`Tunables::own_runtime`](crate::Tunables::own_runtime) off spawns every task on the
//! runtime that calls `Node::start` instead: no thread of the node's, no watch, and no
//! liveness once the application blocks its workers.

use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// How long the node's thread gives tasks still running, and `spawn_blocking` work, when
/// it shuts its runtime down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

std::thread_local! {
    /// The subscriber a thread of the node's blocking pool logs to, for its life.
    static BLOCKING_DISPATCH: std::cell::RefCell<Option<tracing::dispatcher::DefaultGuard>> =
        const { std::cell::RefCell::new(None) };
}

/// Where a started node's tasks run: its own runtime and the thread that drives it, or
/// (with [`Tunables::own_runtime`](crate::Tunables::own_runtime) off) the caller's runtime.
pub(crate) struct MeshRuntime {
    handle: Handle,
    /// The runtime that started the node, when it has a runtime of its own: links run there
    /// (see [`super::rescue`]).
    caller: Option<Handle>,
    /// The node's own thread, when it has one.
    own: Option<Own>,
}

/// The signals between a node and its own thread.
struct Own {
    /// Tells the thread to shut the runtime down.
    stop: CancellationToken,
    /// Cancelled by the thread once the runtime is shut down.
    ended: CancellationToken,
}

impl MeshRuntime {
    /// The runtime that calls this (`own_runtime` off): the node's tasks run beside the
    /// application's, and end with that runtime.
    pub(crate) fn caller() -> std::io::Result<MeshRuntime> {
        let handle = Handle::try_current().map_err(std::io::Error::other)?;
        Ok(MeshRuntime {
            handle,
            caller: None,
            own: None,
        })
    }

    /// Starts the runtime and its thread, named for `node`; with a guard task on the
    /// caller's runtime (if there is one) that stops it when that runtime shuts down.
    pub(crate) fn start(node: &str) -> std::io::Result<MeshRuntime> {
        let name = format!("reign-mesh-{node}");
        // The node logs where the code that started it logs: the caller's default
        // subscriber (thread-local, or else the global one) is made the default on the
        // node's threads too.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let for_blocking = dispatch.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name(name.clone())
            .on_thread_start(move || {
                let guard = tracing::dispatcher::set_default(&for_blocking);
                BLOCKING_DISPATCH.with(|d| *d.borrow_mut() = Some(guard));
            })
            .build()?;
        let handle = rt.handle().clone();
        let stop = CancellationToken::new();
        let ended = CancellationToken::new();
        let (s, e) = (stop.clone(), ended.clone());
        std::thread::Builder::new().name(name).spawn(move || {
            let _logs = tracing::dispatcher::set_default(&dispatch);
            rt.block_on(s.cancelled());
            rt.shutdown_timeout(SHUTDOWN_GRACE);
            e.cancel();
        })?;
        let caller = Handle::try_current().ok();
        if let Some(caller) = &caller {
            let s = stop.clone();
            caller.spawn(async move {
                // Dropped with this task when the caller's runtime shuts down.
                let _guard = s.clone().drop_guard();
                s.cancelled().await;
            });
        }
        Ok(MeshRuntime {
            handle,
            caller,
            own: Some(Own { stop, ended }),
        })
    }

    /// The runtime's handle: what the node's tasks are spawned on.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Where links run, when not on [`handle`](Self::handle): the runtime that started a
    /// node that has its own (see [`super::rescue`]).
    pub(crate) fn links(&self) -> Option<&Handle> {
        self.caller.as_ref()
    }

    /// Stops the runtime (its remaining tasks are dropped) and waits, up to `bound`, for the
    /// thread to have shut it down.
    pub(crate) async fn stop(&self, bound: Duration) {
        let Some(own) = &self.own else { return };
        own.stop.cancel();
        if tokio::time::timeout(bound, own.ended.cancelled())
            .await
            .is_err()
        {
            tracing::warn!(
                "the node's runtime did not shut down within {bound:?}; leaving it to end alone"
            );
        }
    }
}

impl Drop for MeshRuntime {
    /// The mesh is gone (its last task ended): its thread has nothing left to run.
    fn drop(&mut self) {
        if let Some(own) = &self.own {
            own.stop.cancel();
        }
    }
}
