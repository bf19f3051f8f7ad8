//! [`Singleton`]: one instance of a server cluster-wide, under a cluster-wide name, started
//! again on another node when its node goes (Akka's cluster singleton).

use std::sync::Arc;
use std::time::Duration;

use super::{Ctx, Exit, Info, Server, ServerRef};
use crate::{DownReason, MailboxRef, Message};

/// How to run a singleton: its cluster-wide name and how to make its arguments.
pub struct SingletonSpec<S: Server> {
    name: String,
    args: Arc<dyn Fn() -> S::Args + Send + Sync>,
    stop_timeout: Duration,
}

impl<S: Server> Clone for SingletonSpec<S> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            args: self.args.clone(),
            stop_timeout: self.stop_timeout,
        }
    }
}

impl<S: Server> SingletonSpec<S> {
    /// Server `S` under cluster-wide name `name`, started with the arguments `args` makes.
    pub fn new(
        name: impl Into<String>,
        args: impl Fn() -> S::Args + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            args: Arc::new(args),
            stop_timeout: Duration::from_secs(5),
        }
    }
}

/// What a singleton's manager takes (local only).
#[derive(Debug)]
#[non_exhaustive]
pub enum SingletonMsg {
    /// The name changed (its watch says so).
    Changed,
}

/// The manager of a singleton on one node (Akka's cluster singleton, Erlang's distributed
/// applications, built from [cluster-wide names](crate::GlobalNames) and links).
///
/// Spawn one on every node that may run the singleton, with the same [`SingletonSpec`]
/// (with [`Node::spawn_local`](crate::Node::spawn_local), or as a supervisor's child with
/// [`ChildSpec::local`](crate::ChildSpec::local)). The managers follow the name: while no
/// server holds it, each starts an instance (after a random delay of up to 250 ms) and
/// registers it; the cluster-wide names' rule keeps one claim, and a manager whose instance
/// lost stops it. When the node of the instance goes (or the instance ends), the name is
/// free again and another node's manager starts one. Clients find the instance with
/// [`GlobalNames::whereis_server`](crate::GlobalNames::whereis_server).
///
/// **At most one, eventually.** During a failover, and while a partition lasts, two
/// instances may run for a moment (a new one may start before the old one's node is known
/// to be gone: after the peer-silence limit for a node that went silent). Make the
/// singleton's effects idempotent, or fence them by the instance's identity.
pub struct Singleton<S: Server> {
    spec: SingletonSpec<S>,
    instance: Option<ServerRef<S>>,
}

impl<S: Server> Singleton<S>
where
    S::Msg: Message,
{
    /// The holder of the name, as this node knows it.
    fn holder(&self, ctx: &Ctx<Self>) -> Option<MailboxRef> {
        ctx.node().global().watch(&self.spec.name).current()
    }

    /// Starts an instance if nobody holds the name; stops this node's if another holds it.
    async fn settle(&mut self, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let holder = self.holder(ctx);
        match (&holder, &self.instance) {
            (None, None) => {
                // Not all at once: a random delay, then look again.
                tokio::time::sleep(jitter()).await;
                if self.holder(ctx).is_some() {
                    return Ok(());
                }
                let instance = match ctx.spawn_link::<S>((self.spec.args)()).await {
                    Ok(s) => s,
                    Err(e) => return Err(Exit::user(format!("singleton failed to start: {e}"))),
                };
                match ctx
                    .node()
                    .global()
                    .register_server(&self.spec.name, &instance)
                {
                    Ok(()) => {
                        tracing::info!(node = %ctx.node().id(), name = %reign_tls::ratelimit::Escaped(&self.spec.name), server = %instance, "singleton started here");
                        self.instance = Some(instance);
                    }
                    Err(_) => self.stop_instance(ctx, instance).await,
                }
            }
            (Some(h), Some(mine)) if *h != mine.mailbox_ref() => {
                tracing::info!(node = %ctx.node().id(), name = %reign_tls::ratelimit::Escaped(&self.spec.name), holder = %h, "singleton runs elsewhere: this node's instance stops");
                if let Some(mine) = self.instance.take() {
                    self.stop_instance(ctx, mine).await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn stop_instance(&mut self, ctx: &mut Ctx<Self>, instance: ServerRef<S>) {
        ctx.unlink(&instance);
        if !instance
            .stop(DownReason::Shutdown, self.spec.stop_timeout)
            .await
        {
            instance.kill();
        }
    }
}

/// Up to 250 ms, at random.
fn jitter() -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    Duration::from_millis(u64::from(u16::from_le_bytes(b)) % 250)
}

impl<S: Server> Server for Singleton<S>
where
    S::Msg: Message,
{
    type Msg = SingletonMsg;
    type Args = SingletonSpec<S>;

    async fn init(spec: SingletonSpec<S>, ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        ctx.trap_exit(true);
        let mut watch = ctx.node().global().watch(&spec.name);
        let me = ctx.myself();
        tokio::spawn(async move {
            while watch.changed().await.is_some() {
                if me.cast(SingletonMsg::Changed).is_err() {
                    break;
                }
            }
        });
        let mut s = Singleton {
            spec,
            instance: None,
        };
        s.settle(ctx).await?;
        Ok(s)
    }

    async fn handle(&mut self, msg: SingletonMsg, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            SingletonMsg::Changed => self.settle(ctx).await,
        }
    }

    async fn handle_info(&mut self, info: Info, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        // (A trapped exit from the parent stops this manager before it gets here.)
        if let Info::Exit(e) = info
            && self
                .instance
                .as_ref()
                .is_some_and(|i| i.mailbox_ref() == e.from)
        {
            self.instance = None;
            self.settle(ctx).await?;
        }
        Ok(())
    }

    async fn terminate(&mut self, _: &DownReason, ctx: &mut Ctx<Self>) {
        if let Some(mine) = self.instance.take() {
            self.stop_instance(ctx, mine).await;
        }
    }
}
