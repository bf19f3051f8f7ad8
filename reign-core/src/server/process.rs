//! A server's task: the process table, exit signals, and the loop that feeds the handlers.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::catch::catch;
use super::ctx::{Ctx, Next};
use super::envelope::Envelope;
use super::{ExitSignal, Info, Server, ServerRef, SpawnError};
use crate::node::NodeInner;
pub(crate) use crate::process::{Process, Signal};
use crate::{DownReason, MailboxId, MailboxRef, Node};

impl NodeInner {
    /// The running server `target` names, if it is one of this node's.
    pub(crate) fn process(&self, target: &MailboxRef) -> Option<Arc<Process>> {
        if !self.owns(target) {
            return None;
        }
        self.processes.get(target.id)
    }

    /// Sends `signal` to the server `target`; false if there is none (it ended, or the
    /// address is not a server of this node).
    pub(crate) fn signal(&self, target: &MailboxRef, signal: Signal) -> bool {
        self.process(target)
            .is_some_and(|p| p.signals().send(signal).is_ok())
    }

    /// Sends `signal` to this node's server `id`, if it is one (from a link's control plane:
    /// what the peer's servers tell this node's).
    pub(crate) fn signal_id(&self, id: MailboxId, signal: Signal) -> bool {
        self.processes
            .get(id)
            .is_some_and(|p| p.signals().send(signal).is_ok())
    }

    /// Kills the server `target` where it is (at its next await); false if there is none.
    pub(crate) fn kill(&self, target: &MailboxRef) -> bool {
        match self.process(target).and_then(|p| p.abort()) {
            Some(abort) => {
                abort.abort();
                true
            }
            None => false,
        }
    }
}

/// A new server's mailbox and address.
pub(crate) type Made<M> = (crate::Mailbox<Envelope<M>>, crate::Address<Envelope<M>>);

/// Starts server `S` on `made` (its mailbox): its entry in the process table, its task;
/// waits for its `init`. With `parent` (the parent's identity and links), the two are
/// linked before `init` runs, and unlinked without an exit signal if it fails.
pub(crate) async fn spawn<S: Server>(
    node: &Node,
    made: Made<S::Msg>,
    args: S::Args,
    parent: Option<(
        &MailboxRef,
        &mut HashMap<MailboxRef, Option<crate::MonitorRef>>,
    )>,
) -> Result<ServerRef<S>, SpawnError> {
    let (mailbox, addr) = made;
    let me = mailbox.mailbox_ref();
    let (tx, rx) = mpsc::unbounded_channel();
    let process = Arc::new(Process::new(tx));
    node.inner.processes.insert(me.id, process.clone());
    let mut ctx = Ctx::new(mailbox, rx, process.clone());
    let parent_links = match parent {
        Some((parent, links)) => {
            links.insert(me.clone(), None);
            ctx.set_parent(parent.clone());
            Some(links)
        }
        None => None,
    };
    let (started_tx, started_rx) = oneshot::channel();
    let task = tokio::spawn(run::<S>(args, ctx, started_tx));
    process.set_abort(task.abort_handle());
    let result = started_rx
        .await
        .unwrap_or(Err(DownReason::Killed))
        .map_err(SpawnError::Init);
    if result.is_err()
        && let Some(links) = parent_links
    {
        links.remove(&me);
    }
    result.map(|()| ServerRef::new(addr))
}

/// The server's task: `init`, then one message or signal at a time until it ends.
async fn run<S: Server>(
    args: S::Args,
    mut ctx: Ctx<S>,
    started: oneshot::Sender<Result<(), DownReason>>,
) {
    let mut state = match catch(S::init(args, &mut ctx)).await {
        Ok(Ok(state)) => {
            let _ = started.send(Ok(()));
            state
        }
        failed => {
            let reason = match failed {
                Ok(Err(exit)) => exit.reason,
                Err(panic) => DownReason::Panic(panic),
                Ok(Ok(_)) => DownReason::Normal,
            };
            // The parent hears of it from the spawn's result, not as an exit signal.
            ctx.unlink_parent_quietly();
            ctx.set_exit_reason(reason.clone());
            let _ = started.send(Err(reason));
            return;
        }
    };
    let (reason, terminate) = loop {
        let next = match ctx.next().await {
            // The `Down` of a link's monitor is the link's exit signal.
            Next::Msg(Envelope::Down(d)) => match ctx.link_exit(&d) {
                Some(signal) => Next::Signal(signal),
                None => Next::Msg(Envelope::Down(d)),
            },
            next => next,
        };
        let outcome = match next {
            Next::Msg(Envelope::Msg(m)) => catch(state.handle(m, &mut ctx)).await,
            Next::Msg(Envelope::Down(d)) => catch(state.handle_info(Info::Down(d), &mut ctx)).await,
            Next::Msg(Envelope::NameConflict(c)) => {
                catch(state.handle_info(Info::NameConflict(c), &mut ctx)).await
            }
            Next::Timeout => catch(state.handle_info(Info::Timeout, &mut ctx)).await,
            Next::Signal(signal) => match ctx.on_signal(signal) {
                SignalOutcome::Handled => Ok(Ok(())),
                SignalOutcome::Trapped(exit) => {
                    catch(state.handle_info(Info::Exit(exit), &mut ctx)).await
                }
                SignalOutcome::Stop(reason) => break (reason, true),
                SignalOutcome::Die(reason) => break (reason, false),
            },
        };
        match outcome {
            Ok(Ok(())) => {
                if let Some(reason) = ctx.take_stop() {
                    break (reason, true);
                }
            }
            Ok(Err(exit)) => break (exit.reason, true),
            Err(panic) => break (DownReason::Panic(panic), true),
        }
    };
    if terminate && let Err(panic) = catch(state.terminate(&reason, &mut ctx)).await {
        reign_tls::warn_limited!(server = %ctx.me(), panic = %reign_tls::ratelimit::Escaped(&panic), "a server's terminate panicked");
    }
    drop(state);
    ctx.set_exit_reason(reason);
    // Dropping `ctx` ends the server: see `Ctx`'s `Drop`.
}

/// What a signal does to the server that receives it.
pub(crate) enum SignalOutcome {
    /// Nothing more (a link added or removed, an exit signal ignored).
    Handled,
    /// A trapped exit signal, for `handle_info`.
    Trapped(ExitSignal),
    /// Stop after `terminate` (a trapped exit from the parent, as gen_server does).
    Stop(DownReason),
    /// End at once, without `terminate` (an exit signal not trapped).
    Die(DownReason),
}
