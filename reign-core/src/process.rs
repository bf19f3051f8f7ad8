//! The node's running servers as the node itself knows them: how to signal each, kill it and
//! see it end, and the slot for its factories. Kept apart from `server`, which builds on the
//! node, so that the node does not depend on it.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{DownReason, MailboxId, MailboxRef};

/// What one server tells another, outside its mailbox (Erlang's signals). Handled before
/// the mailbox's next message, never in the middle of a handler.
pub(crate) enum Signal {
    /// `from` linked itself to the receiver.
    Link(MailboxRef),
    /// `from` removed its link.
    Unlink(MailboxRef),
    /// An exit signal: `from` ended with this reason (through a link), or sent it.
    Exit(MailboxRef, DownReason),
    /// An exit signal through a link `from`, a server of another node, made with the
    /// receiver (the link's record is in the link's control plane, not in the server).
    LinkExit(MailboxRef, DownReason),
    /// Stop with this reason, after `terminate` (gen_server's `stop`).
    Stop(DownReason),
}

/// A running server as its node knows it: how to signal it, kill it, and see it end.
pub(crate) struct Process {
    signals: mpsc::UnboundedSender<Signal>,
    abort: OnceLock<tokio::task::AbortHandle>,
    /// Cancelled when the server has ended (its cleanup ran).
    pub(crate) done: CancellationToken,
}

impl Process {
    pub(crate) fn new(signals: mpsc::UnboundedSender<Signal>) -> Self {
        Self {
            signals,
            abort: OnceLock::new(),
            done: CancellationToken::new(),
        }
    }

    pub(crate) fn signals(&self) -> &mpsc::UnboundedSender<Signal> {
        &self.signals
    }

    /// The handle that aborts its task (set once the task exists).
    pub(crate) fn set_abort(&self, abort: tokio::task::AbortHandle) {
        let _ = self.abort.set(abort);
    }

    pub(crate) fn abort(&self) -> Option<tokio::task::AbortHandle> {
        self.abort.get().cloned()
    }
}

/// The node's running servers, by mailbox, and its factories.
#[derive(Default)]
pub(crate) struct ProcessTable {
    running: DashMap<MailboxId, Arc<Process>>,
    /// The node's factories for remote spawn (`server::remote_spawn`'s table), made at the
    /// first use.
    pub(crate) factories: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl ProcessTable {
    pub(crate) fn insert(&self, id: MailboxId, process: Arc<Process>) {
        self.running.insert(id, process);
    }

    pub(crate) fn get(&self, id: MailboxId) -> Option<Arc<Process>> {
        self.running.get(&id).map(|p| p.clone())
    }

    pub(crate) fn remove(&self, id: MailboxId) {
        self.running.remove(&id);
    }
}
