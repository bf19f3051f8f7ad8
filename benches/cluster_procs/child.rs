//! The child process: its node, its raw TLS server, and its answers to the parent's commands.
//!
//! It writes `node <addr>` (where its node listens) and `raw <addr>` (where its raw server
//! listens), then answers, one line each:
//! - `wait`: `linked` once its node has a link with each of its peers;
//! - `reign <n>`: `addr <json>`, the address of a new mailbox, then `done` once that mailbox
//!   has received `n` messages;
//! - `raw <n>`: `done` once each raw connection has carried `n` more frames;
//! - `echo <json>`: `addr <json>`, the address of a new mailbox whose task sends every
//!   message it gets to the address given;
//! - `quit`: shuts its node down and exits.
//!
//! The raw server takes as many connections as the role has senders: it counts frames on
//! each (`stream`, `fanin`) or echoes them (`ping`).

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use reign::{Address, Node};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::server::TlsStream as ServerTls;

use super::raw::{Inbound, Job};
use super::{Blob, NEVER_DIALED, SENDERS, node_config, node_id, raw_configs, runtime};

struct Role {
    /// This node's ID.
    id: &'static str,
    /// The nodes that dial it (lower IDs), from the parent.
    peers: Vec<String>,
    /// Raw connections the parent makes.
    conns: usize,
    /// Whether the raw server echoes frames (else it counts them).
    echo: bool,
}

impl Role {
    fn of(role: &str) -> Role {
        let a = || vec!["a".to_string()];
        match role {
            "stream" => Role {
                id: "b",
                peers: a(),
                conns: 1,
                echo: false,
            },
            "ping" => Role {
                id: "b",
                peers: a(),
                conns: 1,
                echo: true,
            },
            "fanin" => Role {
                id: "z",
                peers: (0..SENDERS).map(|i| format!("s{i}")).collect(),
                conns: SENDERS,
                echo: false,
            },
            other => panic!("unknown child role {other:?}"),
        }
    }
}

pub(crate) fn main(role: &str, dir: &Path) {
    let role = Role::of(role);
    // A panic anywhere (a task's included) ends the child, so the parent sees its pipe close
    // instead of waiting for an answer that never comes.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::exit(101);
    }));
    // The control pipe's reader has a thread of its own (not a worker of the runtime, whose
    // CPU time is measured), and ends the process once the parent's end closes.
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    std::thread::Builder::new()
        .name("child-control".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
            std::process::exit(0);
        })
        .expect("control thread");
    let rt = runtime("child-worker");
    let dir = dir.to_path_buf();
    rt.block_on(async move { tokio::spawn(serve(role, dir, rx)).await })
        .expect("child");
}

/// Writes one line to the parent; exits if the parent is gone.
fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

async fn serve(role: Role, dir: std::path::PathBuf, mut commands: mpsc::UnboundedReceiver<String>) {
    // The peers have lower IDs: they dial this node, which is given dummy addresses for them.
    let members: Vec<(String, String)> = role
        .peers
        .iter()
        .map(|p| (p.clone(), NEVER_DIALED.to_string()))
        .collect();
    let node = Node::start(node_config(&dir, role.id, &members))
        .await
        .expect("child node");
    say(format_args!(
        "node {}",
        node.cluster().local_addr().expect("listens")
    ));

    let (_, server) = raw_configs(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    say(format_args!(
        "raw {}",
        listener.local_addr().expect("raw addr")
    ));
    let (jobs, mut job_queues): (Vec<_>, Vec<_>) = (0..role.conns)
        .map(|_| mpsc::unbounded_channel::<Job>())
        .unzip();
    let echo = role.echo;
    tokio::spawn(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        for queue in job_queues.drain(..) {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.expect("raw accept");
                if echo {
                    super::raw::raw_echo(tls).await;
                } else {
                    raw_count(tls, queue).await;
                }
            });
        }
    });

    while let Some(line) = commands.recv().await {
        let (cmd, arg) = line.split_once(' ').unwrap_or((&line, ""));
        match cmd {
            "wait" => {
                for p in &role.peers {
                    node.cluster()
                        .wait_for(&node_id(p), Duration::from_secs(20))
                        .await
                        .expect("link up");
                }
                say("linked");
            }
            "reign" => {
                let n: u64 = arg.parse().expect("reign <n>");
                let (mut inbox, addr) = node.mailbox::<Blob>();
                tokio::spawn(async move {
                    for _ in 0..n {
                        std::hint::black_box(inbox.recv().await);
                    }
                    say("done");
                });
                say(format_args!("addr {}", json(&addr)));
            }
            "raw" => {
                let n: u64 = arg.parse().expect("raw <n>");
                let done: Vec<_> = jobs
                    .iter()
                    .map(|job| {
                        let (tx, rx) = oneshot::channel();
                        job.send((n, tx)).expect("raw server");
                        rx
                    })
                    .collect();
                tokio::spawn(async move {
                    for d in done {
                        d.await.expect("raw server");
                    }
                    say("done");
                });
            }
            "echo" => {
                let back: Address<Blob> =
                    node.with_decode_scope(|| serde_json::from_str(arg).expect("address"));
                assert!(!back.is_local());
                let (mut inbox, addr) = node.mailbox::<Blob>();
                tokio::spawn(async move {
                    loop {
                        let m = inbox.recv().await;
                        if back.try_send(m).is_err() {
                            return;
                        }
                    }
                });
                say(format_args!("addr {}", json(&addr)));
            }
            "quit" => break,
            other => panic!("unknown command {other:?}"),
        }
    }
    node.shutdown().await;
}

fn json(addr: &Address<Blob>) -> String {
    serde_json::to_string(addr).expect("address to json")
}

/// Counts the frames of one raw connection; for each job, waits until `n` more have come.
async fn raw_count(
    mut tls: ServerTls<tokio::net::TcpStream>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let mut buf = Inbound::default();
    let mut count = 0u64;
    while let Some((n, done)) = jobs.recv().await {
        while count < n {
            count += buf.parse_frames();
            if count >= n {
                break;
            }
            if !buf.read_from(&mut tls).await {
                return;
            }
        }
        count -= n;
        let _ = done.send(Instant::now());
    }
}
