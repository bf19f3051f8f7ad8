//! Finding 5: an outsider must not lock members out. A flood of idle TCP connections,
//! reopened as they are dropped, from another address or from the member's own; log output
//! during the flood; a slowloris ClientHello.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reign::tls::{Refusal, RefusedBy, TlsEndpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::mesh::{Mesh, fast_tunables};
use crate::support::{Pki, bounded, node, serve};

/// Idle connections the flood keeps open at once (the old table had 256 slots).
const FLOOD: usize = 300;
/// How long a member may take to get its link through a flood from another address: less
/// than the handshake deadline (3 s), so it never waits for the flood's handshakes to time out.
const MEMBER_DEADLINE: Duration = Duration::from_secs(2);
/// The same through a flood from its own address (it may be evicted and have to redial).
const MEMBER_DEADLINE_SAME_ADDRESS: Duration = Duration::from_secs(10);

/// `FLOOD` tasks, each holding one idle connection from `from` to `to` and reopening it as
/// soon as it is dropped, until stopped.
struct Flood {
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Flood {
    fn start(from: [u8; 4], to: SocketAddr) -> Self {
        Self::start_with(FLOOD, move |_| from, to, None)
    }

    /// `n` connections, the `i`th from `from(i)`, each sending `first` (if any) once connected.
    fn start_with(
        n: usize,
        from: impl Fn(usize) -> [u8; 4],
        to: SocketAddr,
        first: Option<Arc<Vec<u8>>>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicU64::new(0));
        let tasks = (0..n)
            .map(|i| {
                let (stop, opened) = (stop.clone(), opened.clone());
                let (from, first) = (from(i), first.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let socket = TcpSocket::new_v4().expect("socket");
                        socket
                            .bind(SocketAddr::from((from, 0)))
                            .expect("bind a loopback source address");
                        let Ok(mut tcp) = socket.connect(to).await else {
                            // Out of ports or backlog full: yield and try again.
                            tokio::task::yield_now().await;
                            continue;
                        };
                        opened.fetch_add(1, Ordering::Relaxed);
                        if let Some(bytes) = &first
                            && tcp.write_all(bytes).await.is_err()
                        {
                            continue;
                        }
                        // Send nothing (more); wait for the node to drop it.
                        let mut buf = [0u8; 64];
                        while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
                    }
                })
            })
            .collect();
        Flood {
            stop,
            opened,
            tasks,
        }
    }

    /// Waits until the flood has opened at least `n` connections.
    async fn opened_at_least(&self, n: u64) {
        bounded(async {
            while self.opened.load(Ordering::Relaxed) < n {
                tokio::task::yield_now().await;
            }
        })
        .await;
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in &self.tasks {
            t.abort();
        }
        self.opened.load(Ordering::Relaxed)
    }
}

/// A tracing writer that keeps every line, for counting.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }
}

/// Node `b` alone, listening; `a` (the lower ID, so the dialer) not started yet.
async fn lone_b() -> Mesh {
    let mut mesh = Mesh::unstarted(&["a", "b"], fast_tunables(), false);
    mesh.launch("b").await;
    mesh
}

/// Starts `a`, which dials `b` from 127.0.0.1, and waits for its link to `b`.
async fn member_gets_through(mesh: &mut Mesh, deadline: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    let a = mesh.launch("a").await;
    a.cluster()
        .wait_for(&node("b"), deadline)
        .await
        .expect("a member must get a link through the flood");
    started.elapsed()
}

/// The flood comes from 127.0.0.2; the member dials from 127.0.0.1. With the per-source cap
/// the flood holds at most 32 slots; the member's handshake is never the one evicted. The
/// node's log output meanwhile stays within the rate-limit budgets.
#[tokio::test]
async fn a_member_gets_through_a_flood_from_another_address_and_logs_stay_bounded() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,reign_tls=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The runtime of this test is single-threaded: every task of both nodes logs here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut mesh = lone_b().await;
    let flood = Flood::start([127, 0, 0, 2], mesh.addrs["b"]);
    flood.opened_at_least(FLOOD as u64 * 2).await;
    let took = member_gets_through(&mut mesh, MEMBER_DEADLINE).await;
    // Keep flooding a while with the link up: it must stay up, and logging stay bounded.
    let more = flood.opened.load(Ordering::Relaxed) + FLOOD as u64 * 2;
    flood.opened_at_least(more).await;
    let opened = flood.stop();
    assert!(
        mesh.node("a")
            .cluster()
            .connected()
            .iter()
            .any(|(n, _)| *n == node("b")),
        "the link survived the flood"
    );
    mesh.shutdown().await;
    let lines = captured.lines();
    // A budget of 10 lines per 10 s per call site; the flood lasts a few seconds and touches
    // a handful of sites. Without the budgets every dropped connection wrote a line.
    assert!(
        lines <= 150,
        "{lines} log lines for {opened} flood connections (member in {took:?}):\n{}",
        String::from_utf8_lossy(&captured.0.lock().unwrap())
    );
    assert!(opened >= 4 * FLOOD as u64, "the flood ran: {opened}");
}

/// The flood comes from 127.0.0.1, the member's own address. The member's connection shares
/// that address's 32 slots; it is evicted only if 32 newer connections from 127.0.0.1 are
/// admitted before its ClientHello is read, and never afterwards by an idle one (those go
/// first). If it is evicted the member redials with its backoff.
#[tokio::test]
async fn a_member_gets_through_a_flood_from_its_own_address() {
    let mut mesh = lone_b().await;
    let flood = Flood::start([127, 0, 0, 1], mesh.addrs["b"]);
    flood.opened_at_least(FLOOD as u64 * 2).await;
    member_gets_through(&mut mesh, MEMBER_DEADLINE_SAME_ADDRESS).await;
    flood.stop();
    mesh.shutdown().await;
}

/// A real TLS ClientHello (with a key share), as bytes, to send on many connections.
fn client_hello(pki: &Pki) -> Arc<Vec<u8>> {
    let config = crate::support::raw_client_config(&pki.path("ca.pem"), None);
    let mut conn = rustls::ClientConnection::new(config, "b".try_into().unwrap()).unwrap();
    let mut bytes = Vec::new();
    conn.write_tls(&mut bytes).unwrap();
    Arc::new(bytes)
}

/// The outside tester's flood: every slot held by connections from 256 other addresses, each
/// of which sent a real ClientHello and then stalls (the node works on each until its
/// deadline or an eviction). A member dialing meanwhile is not the one evicted. (Against a
/// node short of CPU, an outside test lost 55-73% of a member's handshakes this way before
/// the grace for connections between accept and ClientHello; this node keeps up, so the rule
/// itself is pinned by the unit test `a_member_between_accept_and_client_hello_is_not_the_first_to_go`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_gets_through_a_flood_of_stalled_client_hellos_from_many_addresses() {
    let mesh = lone_b().await;
    let to = mesh.addrs["b"];
    let flood = Flood::start_with(
        256,
        |i| [127, 0, 2, 1 + (i % 254) as u8],
        to,
        Some(client_hello(&mesh.pki)),
    );
    flood.opened_at_least(2 * 256).await;
    let a = mesh.pki.endpoint("a");
    for i in 0..10 {
        bounded(a.connect(to, &node("b")))
            .await
            .unwrap_or_else(|e| panic!("member handshake {i} through the flood: {e}"));
    }
    flood.stop();
    mesh.shutdown().await;
}

/// A ClientHello sent one byte per second is cut at the pre-TLS deadline, long before the
/// handshake deadline.
#[tokio::test]
async fn a_slowloris_client_hello_is_cut_at_the_pre_tls_deadline() {
    let pki = Pki::new("demo", &["a", "b"]);
    let a = TlsEndpoint::new(
        pki.config("a")
            .with_handshake_timeout(Duration::from_secs(15))
            .with_client_hello_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let (addr, mut results) = serve(a).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let started = tokio::time::Instant::now();
    let dribbler = tokio::spawn(async move {
        // A TLS handshake record header announcing a 512-byte ClientHello, then its body.
        let mut hello = vec![
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        hello.resize(5 + 512, 0);
        for b in hello {
            if tcp.write_all(&[b]).await.is_err() {
                return tcp;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        tcp
    });
    let r = bounded(results.recv()).await.unwrap();
    let elapsed = started.elapsed();
    match r {
        Err(e) => assert_eq!(
            e.refusal(),
            Some((RefusedBy::Us, &Refusal::HandshakeTimeout)),
            "{e}"
        ),
        Ok(s) => panic!("a slowloris got a connection: {s:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(3),
        "cut after {elapsed:?}, not at the 500 ms pre-TLS deadline"
    );
    // The node closed it: the dribbler's writes fail or its read sees the end.
    let mut tcp = bounded(dribbler).await.unwrap();
    let mut buf = [0u8; 8];
    assert!(matches!(bounded(tcp.read(&mut buf)).await, Ok(0) | Err(_)));
}
