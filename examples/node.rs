//! A generic reign node, configured by a TOML file: it joins its cluster, hosts an `echo`
//! mailbox, prints every link going up or down, stops cleanly on Ctrl-C or SIGTERM, and
//! reloads its TLS material on SIGHUP.
//!
//! ```console
//! $ cargo run --example node -- --config a.toml
//! $ cargo run --example node -- --config a.toml --send-echo c --text "hi c"
//! $ cargo run --example node -- --config a.toml --monitor c
//! ```
//!
//! `examples/README.md` walks through a three-node cluster in three terminals.
//!
//! # What it prints (stdout, one line each, flushed at once)
//!
//! - `ready: node a listening on 127.0.0.1:7001 (incarnation 5f0c…)` once it listens;
//! - `event: b up (incarnation 91d2…)`, `event: b down: heartbeat timeout`,
//!   `event: refused a connection: …` for every node event;
//! - with `--send-echo NODE`: `echo reply: <text>` (or `echo failed: <why>`);
//! - with `--block-workers-after MS --block-for MS`: `blocking <n> workers for <ms> ms` once
//!   every worker of the application's runtime is blocked, then `unblocked`;
//! - with `--monitor NODE`: `monitoring <c@91d2:4410825907719552037>`, then `down: <reason> (<c@91d2:4410825907719552037>)`
//!   when NODE's echo mailbox ends or NODE becomes unreachable (`down: no connection (…); the
//!   link: closed by peer`, or `…; the link: heartbeat timeout (it went silent: it may still
//!   run)`);
//! - `stopped` after a clean shutdown; the exit status is then 0.
//!
//! Logs go to stderr, at `info` unless `RUST_LOG` says otherwise.
//!
//! # Configuration reference
//!
//! Every key of [`reign::NodeConfig`]; relative paths are resolved against the file's folder.
//!
//! ```toml
//! node_id = "a"                    # required: exactly the CN of this node's certificate
//! cluster = "demo"                 # required: 1 to 255 bytes; peers of another cluster are refused
//! listen = "127.0.0.1:7001"        # required: socket address (port 0 picks a free port)
//! # advertise = "a.example:7001"   # optional: the address peers should dial (Cluster::advertised_addr)
//! # seeds = ["10.0.0.5:7001"]      # optional: join through these (the others are learned)
//! # allow = ["worker-*"]           # optional: who may join (default: any node of the CA)
//! # operators = ["ops"]            # optional: CNs that may run `reign status` / `reign renew`
//!
//! [tls]                            # required
//! ca = "certs/ca.pem"              # the CA bundle
//! cert = "certs/a.pem"             # this node's certificate (CN = node_id)
//! key = "certs/a.key"              # its private key
//! # crl = "certs/crl.pem"          # optional: revocation list
//! # pinned = []                    # optional: SHA-256 (hex) of peers' SubjectPublicKeyInfo
//! # watch = false                  # optional: reload these files when they change (SIGHUP does too)
//!
//! [[members]]                      # every other node (not this one)
//! id = "b"
//! addr = "127.0.0.1:7002"          # host:port; the node with the lower ID dials
//!
//! [[members]]
//! id = "c"
//! addr = "127.0.0.1:7003"
//!
//! [tunables]                       # optional; every key optional; defaults shown
//! heartbeat_interval_ms = 1000     # heartbeat on an idle link
//! peer_silence_limit_ms = 4000     # silence before a peer is declared down (heartbeat timeout)
//! reconnect_backoff_min_ms = 100   # first redial delay, doubling ...
//! reconnect_backoff_max_ms = 5000  # ... up to this
//! handshake_timeout_ms = 3000      # TLS handshake plus hello
//! max_frame_size = 8388608         # bytes
//! link_buffer_limit = 16777216     # bytes queued for one peer before senders are pushed back
//! shutdown_timeout_ms = 5000       # time given to links to flush and say goodbye
//! max_monitors_per_link = 65536    # monitors a peer may hold here over one link
//! max_announced_per_link = 16384   # names and group memberships a peer may hold here
//! client_hello_timeout_ms = 1000   # time an accepted connection has for its ClientHello
//! max_pending_handshakes = 256     # handshakes in progress at once ...
//! max_pending_handshakes_per_source = 32  # ... and from one IPv4 address or IPv6 /64
//! event_capacity = 1024            # events a subscriber may fall behind by
//! # certificate_expiry_warning_hours = 720  # warn this long before a certificate's end
//! #                                # (default: the last third of its life or 30 days, the sooner)
//! certificate_check_interval_ms = 3600000  # how often certificates' ends are checked (>= 1 s)
//! own_runtime = true               # the node's tasks on a thread of its own, which drives a link while the app's runtime is blocked (false: all on the app's runtime, no such watch)
//! ```

// A command-line program talks to its user.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "echo/mod.rs"]
mod echo;
#[path = "reload/mod.rs"]
mod reload;

use std::collections::HashMap;
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use reign::{Down, Incarnation, Node, NodeConfig, NodeEvent, NodeId};

use echo::{EchoReply, EchoRequest};

const AFTER_HELP: &str = "\
Example, a three-node cluster on one machine (see examples/README.md for the files):
  cargo run -p reign-certgen -- init --dir certs --name demo
  cargo run -p reign-certgen -- issue --dir certs a b c
  cargo run --example node -- --config c.toml
  cargo run --example node -- --config b.toml
  cargo run --example node -- --config a.toml --send-echo c --text 'hello c' --monitor c

Stdout lines: `ready: ...`, `event: ...` (links up and down), `echo reply: ...`,
`monitoring ...`, `down: ...`, `stopped`. Logs go to stderr (RUST_LOG, default info).";

/// A reign node: joins the cluster of its configuration file, hosts an `echo` mailbox and
/// prints its links going up and down. Stops cleanly on Ctrl-C or SIGTERM; reloads its TLS material on SIGHUP.
#[derive(Debug, Parser)]
#[command(name = "node", after_help = AFTER_HELP)]
struct Args {
    /// The node's configuration (TOML: node_id, cluster, listen, [tls], [[members]],
    /// [tunables]; the reference is at the top of examples/node.rs).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// A seed address (`host:port`) to join through, added to the file's `seeds`; may be
    /// given several times. With seeds, membership is open (any node of the CA).
    #[arg(long, value_name = "ADDR")]
    seed: Vec<String>,

    /// Once the link to NODE is up, look up NODE's `echo` mailbox and call it with --text;
    /// prints `echo reply: <text>` (or `echo failed: <why>`).
    #[arg(long, value_name = "NODE")]
    send_echo: Option<NodeId>,

    /// The text --send-echo sends.
    #[arg(long, value_name = "TEXT", default_value = "hello")]
    text: String,

    /// Once the link to NODE is up, monitor NODE's `echo` mailbox; prints `down: <reason>`
    /// when it ends or NODE becomes unreachable (`down: no connection`).
    #[arg(long, value_name = "NODE")]
    monitor: Option<NodeId>,

    /// How long --send-echo and --monitor wait for the link, the lookup and the reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    wait: u64,

    /// This long after the `ready:` line (after the link to the --send-echo node is up, with
    /// one), block every worker thread of the application's
    /// runtime at once (a `std::thread::sleep` in async code on each) for --block-for; prints
    /// `blocking <n> workers for <ms> ms`, then `unblocked`. The node's links run on a thread
    /// of their own, so its peers do not declare it down. With --send-echo, the call is made
    /// once the block is over, and again 3 s later.
    #[arg(long, value_name = "MS", requires = "block_for")]
    block_workers_after: Option<u64>,

    /// How long --block-workers-after blocks the workers.
    #[arg(long, value_name = "MS", requires = "block_workers_after")]
    block_for: Option<u64>,
}

/// Prints one line on stdout and flushes it, so that a program reading this one's output
/// sees each line at once. A closed stdout is ignored (a node keeps running without it).
fn say(line: impl Display) {
    // Lines show what peers sent (echo replies, reasons): escaped, so no peer can forge a
    // line or drive the terminal.
    print_line(reign::tls::ratelimit::EscapedAll(&line.to_string()));
}

/// [`say`] for a line whose parts already escape what peers sent (a node event's
/// `Display` does): escaping it all again would show a peer's newline as `\\n`.
/// [`EscapedControls`](reign::tls::ratelimit::EscapedControls) still escapes control and
/// bidirectional characters, so a part that did not escape its text cannot forge a line or
/// drive the terminal either.
fn say_escaped(line: impl Display) {
    print_line(reign::tls::ratelimit::EscapedControls(&line.to_string()));
}

/// Writes `shown` and a newline to stdout and flushes it (see [`say`]).
fn print_line(shown: impl Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{shown}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause its parent already quotes.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

async fn run(args: Args) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let mut config = NodeConfig::from_file(&args.config)?;
    config.seeds.extend(args.seed.iter().cloned());
    config.validate().context("--seed")?;
    let id = config.node_id.clone();
    let node = Node::start(config)
        .await
        .with_context(|| format!("starting node {id}"))?;
    // Subscribed before anything can be missed but the links already up, which are
    // reported first.
    let events = node.cluster().events();
    let listening = node
        .cluster()
        .local_addr()
        .context("a started node listens somewhere")?;
    echo::spawn(&node).context("registering the echo mailbox")?;
    reload::on_sighup(&node, |line| say(line));
    say(format_args!(
        "ready: node {id} listening on {listening} (incarnation {})",
        node.incarnation()
    ));
    let (stop_events, stopping) = tokio::sync::oneshot::channel();
    let printer = tokio::spawn(print_events(node.clone(), events, stopping));

    let wait = Duration::from_secs(args.wait);
    if let (Some(after), Some(block)) = (args.block_workers_after, args.block_for) {
        let echo = args.send_echo.clone().map(|peer| (peer, args.text.clone()));
        tokio::spawn(block_workers(
            node.clone(),
            Duration::from_millis(after),
            Duration::from_millis(block),
            echo,
            wait,
        ));
    } else if let Some(peer) = args.send_echo.clone() {
        tokio::spawn(send_echo(node.clone(), peer, args.text.clone(), wait));
    }
    if let Some(peer) = args.monitor.clone() {
        tokio::spawn(monitor(node.clone(), peer, wait));
    }

    let signal = stop_signal().await?;
    tracing::info!(%signal, "stopping");
    node.shutdown().await;
    // The links' last events (`down: shut down`) are printed before `stopped`.
    let _ = stop_events.send(());
    let _ = printer.await;
    say("stopped");
    Ok(())
}

/// Prints one `event: ...` line per node event, starting with the links already up, until
/// `stopping` fires; then prints the events still queued and returns.
async fn print_events(
    node: Node,
    mut events: reign::Events,
    mut stopping: tokio::sync::oneshot::Receiver<()>,
) {
    // The live link each peer was last reported with, so an Up that was already printed
    // from `cluster().connected()` is not printed twice.
    let mut up: HashMap<NodeId, Incarnation> = HashMap::new();
    for (peer, incarnation) in node.cluster().connected() {
        say(format_args!("event: {peer} up (incarnation {incarnation})"));
        up.insert(peer, incarnation);
    }
    let mut draining = false;
    loop {
        let next = if draining {
            match events.try_recv() {
                Ok(Some(event)) => Ok(event),
                Ok(None) => return,
                Err(e) => Err(e),
            }
        } else {
            tokio::select! {
                r = events.recv() => r,
                _ = &mut stopping => {
                    draining = true;
                    continue;
                }
            }
        };
        match next {
            Ok(event) => {
                let reported = match &event {
                    NodeEvent::Up {
                        node: peer,
                        incarnation,
                    } => up.insert(peer.clone(), *incarnation) == Some(*incarnation),
                    NodeEvent::Down { node: peer, .. } => {
                        up.remove(peer);
                        false
                    }
                    _ => false,
                };
                if !reported {
                    say_escaped(format_args!("event: {event}"));
                }
            }
            Err(reign::EventsError::Lagged(n)) => say(format_args!("event: ({n} events missed)")),
            Err(_) => return,
        }
    }
}

/// `--block-workers-after`: `after` after the link to the `--send-echo` node is up (or after
/// the start, without one), blocks every worker of this runtime for `block`
/// (each inside a task, all at once: a barrier holds them until every worker has one), then,
/// with `--send-echo`, calls the echo mailbox, and again 3 s later.
async fn block_workers(
    node: Node,
    after: Duration,
    block: Duration,
    echo: Option<(NodeId, String)>,
    wait: Duration,
) {
    if let Some((peer, _)) = &echo {
        let _ = node.cluster().wait_for(peer, wait).await;
    }
    tokio::time::sleep(after).await;
    let runtime = tokio::runtime::Handle::current();
    let workers = runtime.metrics().num_workers();
    // Spawned from outside the workers (they go to the runtime's shared queue, so each idle
    // worker takes one); the barrier makes sure that every worker is blocked at once.
    let blocked = tokio::task::spawn_blocking(move || {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(workers + 1));
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let barrier = barrier.clone();
                runtime.spawn(async move {
                    barrier.wait();
                    // Blocking inside async code, on purpose: what this flag demonstrates.
                    std::thread::sleep(block);
                })
            })
            .collect();
        barrier.wait();
        say(format_args!(
            "blocking {workers} workers for {} ms",
            block.as_millis()
        ));
        tasks
    })
    .await;
    if let Ok(tasks) = blocked {
        for t in tasks {
            let _ = t.await;
        }
    }
    say("unblocked");
    if let Some((peer, text)) = echo {
        send_echo(node.clone(), peer.clone(), text.clone(), wait).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        send_echo(node, peer, format!("{text} again"), wait).await;
    }
}

/// `--send-echo`: one call to `peer`'s echo mailbox.
async fn send_echo(node: Node, peer: NodeId, text: String, wait: Duration) {
    let result = async {
        node.cluster().wait_for(&peer, wait).await?;
        let service = node
            .cluster()
            .whereis_on::<EchoRequest>(&peer, echo::NAME, wait)
            .await?;
        say(format_args!("echo: calling {service} with {text:?}"));
        let EchoReply { text } = service
            .call(|reply| EchoRequest { text, reply }, wait)
            .await?;
        anyhow::Ok(text)
    }
    .await;
    match result {
        Ok(text) => say(format_args!("echo reply: {text}")),
        // reign's errors escape what the peer sent in them: escaped once more, a peer's
        // newline would show as `\\n`.
        Err(e) => say_escaped(format_args!("echo failed: {e:#}")),
    }
}

/// `--monitor`: watches `peer`'s echo mailbox until it is down.
async fn monitor(node: Node, peer: NodeId, wait: Duration) {
    let result = async {
        node.cluster().wait_for(&peer, wait).await?;
        let service = node
            .cluster()
            .whereis_on::<EchoRequest>(&peer, echo::NAME, wait)
            .await?;
        let (mut watcher, _) = node.mailbox::<Down>();
        watcher.monitor(&service);
        say(format_args!("monitoring {service}"));
        anyhow::Ok(watcher.recv().await)
    }
    .await;
    match result {
        Ok(down) => {
            // Why the link was lost, if that is why it fired: a peer that went silent may
            // still run (and act on what it was sent).
            let link = match (&down.link, down.went_silent()) {
                (Some(l), true) => format!("; the link: {l} (it went silent: it may still run)"),
                (Some(l), false) => format!("; the link: {l}"),
                (None, _) => String::new(),
            };
            // The reason's and the link's texts escape what the peer sent.
            say_escaped(format_args!(
                "down: {} ({}){link}",
                down.reason, down.target
            ))
        }
        Err(e) => say_escaped(format_args!("monitor failed: {e:#}")),
    }
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM; returns which.
async fn stop_signal() -> Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").context("listening for Ctrl-C"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("listening for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}
