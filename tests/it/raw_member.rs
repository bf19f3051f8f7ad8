//! A hand-made member, written from docs/PROTOCOL.md: it holds a valid member certificate,
//! completes the handshake and then sends whatever frames a test wants; and a victim node on a
//! one-thread runtime of its own, so that any work it does without yielding shows as a stall
//! of everything else it serves.

use std::net::SocketAddr;
use std::time::Duration;

use reign::{Node, NodeConfig, NodeEvent, TlsFiles, Tunables};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;

use crate::mesh::next_event;
use crate::support::{Pki, WAIT, bounded, hello_frame, node, raw_client_config, raw_connect};

/// One link frame: length, kind, body.
pub(crate) fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + body.len());
    f.extend_from_slice(&(body.len() as u32 + 1).to_be_bytes());
    f.push(kind);
    f.extend_from_slice(body);
    f
}

fn text8(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn group_join(group: &str, mailbox: u64, tag: &str) -> Vec<u8> {
    let mut b = Vec::new();
    text8(&mut b, group);
    b.extend_from_slice(&mailbox.to_be_bytes());
    text8(&mut b, tag);
    frame(0x58, &b)
}

pub(crate) fn group_leave(group: &str, mailbox: u64) -> Vec<u8> {
    let mut b = Vec::new();
    text8(&mut b, group);
    b.extend_from_slice(&mailbox.to_be_bytes());
    frame(0x59, &b)
}

pub(crate) fn name_add(name: &str, mailbox: u64, tag: &str, registered_at: u64) -> Vec<u8> {
    let mut b = Vec::new();
    text8(&mut b, name);
    b.extend_from_slice(&mailbox.to_be_bytes());
    text8(&mut b, tag);
    b.extend_from_slice(&registered_at.to_be_bytes());
    frame(0x50, &b)
}

pub(crate) fn name_remove(name: &str, mailbox: u64) -> Vec<u8> {
    let mut b = Vec::new();
    text8(&mut b, name);
    b.extend_from_slice(&mailbox.to_be_bytes());
    frame(0x51, &b)
}

pub(crate) fn monitor(monitor: u64, watcher: u64, target: u64, incarnation: u64) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [monitor, watcher, target, incarnation] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    frame(0x20, &b)
}

/// LINK: as MONITOR (the peer's server `watcher` links with `target`).
pub(crate) fn link(monitor: u64, watcher: u64, target: u64, incarnation: u64) -> Vec<u8> {
    let mut f = self::monitor(monitor, watcher, target, incarnation);
    f[4] = 0x23;
    f
}

/// EXIT from the peer's server `from` to `target`, with a DOWN reason code and no text.
pub(crate) fn exit(from: u64, target: u64, incarnation: u64, reason: u8) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [from, target, incarnation] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.push(reason);
    b.extend_from_slice(&0u16.to_be_bytes());
    frame(0x24, &b)
}

pub(crate) fn send(target: u64, incarnation: u64, tag: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&target.to_be_bytes());
    b.extend_from_slice(&incarnation.to_be_bytes());
    text8(&mut b, tag);
    b.extend_from_slice(payload);
    frame(0x10, &b)
}

pub(crate) fn send_named(name: &str, tag: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    text8(&mut b, name);
    text8(&mut b, tag);
    b.extend_from_slice(payload);
    frame(0x11, &b)
}

pub(crate) fn lookup(request: u64, name: &str) -> Vec<u8> {
    let mut b = request.to_be_bytes().to_vec();
    text8(&mut b, name);
    frame(0x40, &b)
}

/// A member connected by hand, its link in service on the victim.
pub(crate) struct RawMember {
    wr: WriteHalf<TlsStream<TcpStream>>,
    /// Every frame the victim sent (kind byte first), but heartbeats.
    frames: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Frames read past by [`barrier`](Self::barrier), for [`next_of`](Self::next_of).
    held: std::collections::VecDeque<Vec<u8>>,
    reader: tokio::task::JoinHandle<()>,
    next_request: u64,
}

impl RawMember {
    /// Connects to `addr` (node `server`) as member `id` (HELLO, the server's HELLO, ACCEPT,
    /// SYNCED) and waits until the server reports it up on `events`.
    pub(crate) async fn join(
        pki: &Pki,
        id: &str,
        server: &str,
        addr: SocketAddr,
        events: &mut reign::Events,
    ) -> RawMember {
        let wire = Self::handshake(pki, id, server, addr, events).await;
        let (rd, wr) = tokio::io::split(wire);
        let (tx, frames) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_frames(rd, tx));
        RawMember {
            wr,
            frames,
            reader,
            held: Default::default(),
            next_request: 1 << 60,
        }
    }

    /// [`join`](Self::join)'s handshake: the TLS stream once the server reports the member
    /// up.
    pub(crate) async fn handshake(
        pki: &Pki,
        id: &str,
        server: &str,
        addr: SocketAddr,
        events: &mut reign::Events,
    ) -> TlsStream<TcpStream> {
        Self::handshake_with(pki, id, server, addr, events, |_| {}).await
    }

    /// [`handshake`](Self::handshake) with the client's TLS configuration changed by `edit`.
    pub(crate) async fn handshake_with(
        pki: &Pki,
        id: &str,
        server: &str,
        addr: SocketAddr,
        events: &mut reign::Events,
        edit: impl FnOnce(&mut rustls::ClientConfig),
    ) -> TlsStream<TcpStream> {
        let mut client = (*raw_client_config(
            &pki.path("ca.pem"),
            Some((
                &pki.path(&format!("{id}.pem")),
                &pki.path(&format!("{id}.key")),
            )),
        ))
        .clone();
        edit(&mut client);
        let client = std::sync::Arc::new(client);
        let mut wire = bounded(raw_connect(client, addr, server)).await.unwrap();
        bounded(wire.write_all(&hello_frame(1, 9, &pki.cluster, id)))
            .await
            .unwrap();
        let mut len = [0u8; 4];
        bounded(wire.read_exact(&mut len)).await.unwrap();
        let mut hello = vec![0u8; u32::from_be_bytes(len) as usize];
        bounded(wire.read_exact(&mut hello)).await.unwrap();
        assert_eq!(hello[0], 0x01, "the server's HELLO");
        // ACCEPT, SYNCED.
        bounded(wire.write_all(&[0, 0, 0, 1, 0x03, 0, 0, 0, 1, 0x5f]))
            .await
            .unwrap();
        next_event(
            events,
            |e| matches!(e, NodeEvent::Up { node: n, .. } if *n == node(id)),
        )
        .await;
        wire
    }

    /// Writes `bytes` (frames) to the victim.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.wr.write_all(bytes).await?;
        self.wr.flush().await
    }

    /// Returns once the victim has handled everything written so far: a LOOKUP is answered
    /// in order after the frames before it.
    pub(crate) async fn barrier(&mut self) {
        self.next_request += 1;
        let request = self.next_request;
        self.write(&lookup(request, "barrier")).await.unwrap();
        bounded(async {
            while let Some(f) = self.frames.recv().await {
                if f[0] == 0x41 && f[1..9] == request.to_be_bytes() {
                    return;
                }
                self.held.push_back(f);
            }
            panic!("the link closed before the barrier came back");
        })
        .await;
    }

    /// The next frame from the victim (heartbeats skipped) whose body starts with `kind`;
    /// frames of other kinds on the way are dropped.
    pub(crate) async fn next_of(&mut self, kind: u8) -> Vec<u8> {
        while let Some(f) = self.held.pop_front() {
            if f[0] == kind {
                return f;
            }
        }
        bounded(async {
            while let Some(f) = self.frames.recv().await {
                if f[0] == kind {
                    return f;
                }
            }
            panic!("the link closed before a frame of kind {kind:#04x}");
        })
        .await
    }

    /// Waits until the victim closed the connection.
    pub(crate) async fn closed(&mut self) {
        bounded(async { while self.frames.recv().await.is_some() {} }).await;
    }
}

impl Drop for RawMember {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames(mut rd: ReadHalf<TlsStream<TcpStream>>, tx: mpsc::UnboundedSender<Vec<u8>>) {
    loop {
        let mut len = [0u8; 4];
        if rd.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut f = vec![0u8; u32::from_be_bytes(len) as usize];
        if rd.read_exact(&mut f).await.is_err() {
            return;
        }
        if f.first() != Some(&0x30) && tx.send(f).is_err() {
            return;
        }
    }
}

/// A node running on a one-thread runtime of its own, the way a small node runs: work it does
/// without yielding stalls its heartbeats and everything else it serves.
pub(crate) struct Isolated {
    pub(crate) node: Node,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Isolated {
    /// Starts a node from `config` on its own thread; `serve` runs on its runtime once started
    /// (to spawn the node's services there).
    pub(crate) fn start(config: NodeConfig, serve: fn(&Node)) -> Isolated {
        Self::start_inner(config, serve, None)
    }

    /// [`Isolated::start`], with everything the node logs at `warn` and above captured.
    pub(crate) fn start_logged(config: NodeConfig, serve: fn(&Node)) -> (Isolated, Log) {
        Self::start_logged_at(config, serve, tracing::Level::WARN)
    }

    /// [`Isolated::start_logged`], capturing at `level` and above.
    pub(crate) fn start_logged_at(
        config: NodeConfig,
        serve: fn(&Node),
        level: tracing::Level,
    ) -> (Isolated, Log) {
        let log = Log::default();
        (
            Self::start_inner(config, serve, Some((log.clone(), level))),
            log,
        )
    }

    fn start_inner(
        config: NodeConfig,
        serve: fn(&Node),
        log: Option<(Log, tracing::Level)>,
    ) -> Isolated {
        let (node_tx, node_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            // The node's tasks all run on this thread: a thread-local subscriber sees them all.
            let _guard = log.map(|(log, level)| {
                let subscriber = tracing_subscriber::fmt()
                    .with_max_level(level)
                    .with_ansi(false)
                    .with_writer(log)
                    .finish();
                tracing::subscriber::set_default(subscriber)
            });
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let node = Node::start(config).await.expect("the victim starts");
                serve(&node);
                node_tx.send(node.clone()).expect("test alive");
                let _ = stop_rx.await;
                tokio::time::timeout(WAIT, node.shutdown())
                    .await
                    .expect("the victim shuts down in time");
            });
        });
        let node = node_rx
            .recv_timeout(WAIT)
            .expect("the victim started in time");
        Isolated {
            node,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Shuts the node down and waits for its thread, leaving the caller's runtime free
    /// meanwhile (its tasks, such as a raw member's reader being dropped, must run for the
    /// victim's links to close).
    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            bounded(tokio::task::spawn_blocking(move || t.join()))
                .await
                .expect("joined")
                .expect("the victim's thread ended cleanly");
        }
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Victim `b` (isolated, its log captured, `serve` run on its runtime) with hand-made member
/// `a` (it dials b) connected and in service; `b` lists only `a`.
pub(crate) async fn victim_and_member(serve: fn(&Node)) -> (Pki, Isolated, Log, RawMember) {
    victim_and_member_logged_at(serve, tracing::Level::WARN).await
}

/// [`victim_and_member`], the victim's log captured at `level` and above.
pub(crate) async fn victim_and_member_logged_at(
    serve: fn(&Node),
    level: tracing::Level,
) -> (Pki, Isolated, Log, RawMember) {
    let pki = Pki::new("demo", &["a", "b"]);
    let (victim, log) = Isolated::start_logged_at(
        config(
            &pki,
            "b",
            &[("a", "127.0.0.1:1".into())],
            Tunables::default(),
        ),
        serve,
        level,
    );
    let mut events = victim.node.cluster().events();
    let addr = victim.node.cluster().local_addr().unwrap();
    let member = RawMember::join(&pki, "a", "b", addr, &mut events).await;
    (pki, victim, log, member)
}

/// What a node logged (see [`Isolated::start_logged`]).
#[derive(Clone, Default)]
pub(crate) struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Log {
    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A configuration for node `id` of `pki` listening on port 0, with these members.
pub(crate) fn config(
    pki: &Pki,
    id: &str,
    members: &[(&str, String)],
    tunables: Tunables,
) -> NodeConfig {
    let tls = TlsFiles {
        ca: pki.path("ca.pem"),
        cert: pki.path(&format!("{id}.pem")),
        key: pki.path(&format!("{id}.key")),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    };
    let mut c = NodeConfig::new(node(id), &pki.cluster, "127.0.0.1:0".parse().unwrap(), tls);
    for (m, addr) in members {
        c = c.with_member(node(m), addr.clone());
    }
    c.tunables = tunables;
    c
}

/// The honest member `c` of a victim `b` (which it knows at no address: `b` dials it), started.
pub(crate) async fn honest_c(pki: &Pki) -> Node {
    bounded(Node::start(config(
        pki,
        "c",
        &[("b", "127.0.0.1:1".into())],
        Tunables::default(),
    )))
    .await
    .expect("c starts")
}

/// The victim `b`'s configuration beside [`honest_c`]: its members are the hand-made `a`
/// (which dials it) and `honest`.
pub(crate) fn victim_b(pki: &Pki, honest: &Node, tunables: Tunables) -> NodeConfig {
    config(
        pki,
        "b",
        &[
            ("a", "127.0.0.1:1".into()),
            ("c", honest.cluster().local_addr().unwrap().to_string()),
        ],
        tunables,
    )
}

/// Keeps one honest round trip in flight at a time to the victim's `echo` and records the
/// longest; also the longest time between two heartbeats, as the honest node's link saw it
/// (any frame counts), through the absence of a `Down`.
pub(crate) struct Watch {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<(Duration, u64)>,
}

impl Watch {
    pub(crate) fn start(honest: &Node, victim: &str) -> Watch {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (honest, victim) = (honest.clone(), node(victim));
        let task = tokio::spawn(async move {
            let (mut inbox, reply) = honest.mailbox::<u64>();
            let (mut worst, mut n) = (Duration::ZERO, 0u64);
            let mut pace = tokio::time::interval(Duration::from_millis(20));
            while !*stopped.borrow_and_update() {
                let t = tokio::time::Instant::now();
                honest
                    .cluster()
                    .try_send_named(
                        &victim,
                        "echo",
                        Ping {
                            n,
                            reply: reply.clone(),
                        },
                    )
                    .expect("the honest node's link stays up");
                assert_eq!(inbox.recv_timeout(WAIT).await, Some(n), "echo answered");
                worst = worst.max(t.elapsed());
                n += 1;
                tokio::select! {
                    _ = pace.tick() => {}
                    _ = stopped.changed() => {}
                }
            }
            (worst, n)
        });
        Watch { stop, task }
    }

    /// The longest round trip seen, and how many there were.
    pub(crate) async fn finish(self) -> (Duration, u64) {
        let _ = self.stop.send(true);
        bounded(self.task).await.expect("the watch ran")
    }
}

/// An echo request: the victim answers `n` to `reply`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Ping {
    pub(crate) n: u64,
    pub(crate) reply: reign::Address<u64>,
}
reign::message!(Ping = "test.Ping");

/// Spawns the victim's `echo` (answers every [`Ping`]).
pub(crate) fn serve_echo(node: &Node) {
    let (mut inbox, addr) = node.mailbox::<Ping>();
    node.names().register("echo", &addr).expect("register echo");
    tokio::spawn(async move {
        loop {
            let p = inbox.recv().await;
            let _ = p.reply.try_send(p.n);
        }
    });
}
