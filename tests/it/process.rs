//! Process-level checks: nodes run as separate OS processes of `examples/node.rs`, with
//! certificates made by the `reign-certgen` command-line tool. Each test reads the nodes'
//! stdout line by line (every wait bounded) and signals them with the `kill` command; every
//! child is killed when its guard drops, and a failing test prints what each child said.
//!
//! The binaries sit next to this test's executable (`target/<profile>/examples/node`,
//! `target/<profile>/reign-certgen`). `cargo test --workspace` builds both before running
//! tests; `cargo test -p reign --test it` alone builds neither, and the tests then say what
//! to build (see `procs::binary`).
//!
//! Also here: the echo frames of `docs/PROTOCOL.md` (its echo worked example) checked byte for byte on the wire.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::{Duration, Instant};

use reign::{NodeConfig, TlsFiles};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::procs::{Child, ClusterDir, HEARTBEAT_MS, SILENCE_MS, binary, certgen};
use crate::support::{Pki, WAIT, bounded, hello_frame, node, raw_client_config, raw_connect};

#[path = "../../examples/echo/mod.rs"]
mod echo;

/// The process cluster's folder (see [`ClusterDir`]).
struct Cluster(ClusterDir);

impl Cluster {
    fn new(ids: &[&'static str]) -> Cluster {
        Cluster(ClusterDir::new("proc", ids))
    }

    fn write_config(&self, id: &str, port: u16, addrs: &[(&str, u16)]) -> std::path::PathBuf {
        self.0.write_config(id, port, addrs)
    }

    fn write_memberless(&self, id: &str, tunables: &str) -> std::path::PathBuf {
        self.0.write_memberless(id, tunables)
    }

    /// Starts every node, highest ID first, each on a port of its choosing (read from its
    /// `ready:` line), and waits until every node reports the others up. `extra` adds
    /// command-line flags per node.
    fn start(&self, extra: &[(&str, &[&str])]) -> Vec<Proc> {
        let mut started: Vec<Proc> = Vec::new();
        let mut ports: Vec<(&str, u16)> = Vec::new();
        for id in self.0.ids.iter().rev() {
            let config = self.write_config(id, 0, &ports);
            let args = extra
                .iter()
                .find(|(n, _)| n == id)
                .map_or(&[][..], |(_, a)| *a);
            let p = Proc::spawn(id, &config, args);
            ports.push((id, p.port));
            started.push(p);
        }
        started.reverse();
        for p in &mut started {
            let me = p.name.clone();
            for other in self.0.ids.iter().filter(|o| **o != me) {
                p.expect(&format!("{other} up"), |l| {
                    l.starts_with(&format!("event: {other} up "))
                });
            }
        }
        started
    }
}

/// A process of the example node (see [`Child`]), with what its `ready:` line said.
struct Proc {
    child: Child,
    port: u16,
    incarnation: String,
}

impl Proc {
    /// Starts `node --config <config> <args>` and waits for its `ready:` line.
    fn spawn(name: &str, config: &Path, args: &[&str]) -> Proc {
        let mut argv: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
        argv.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        let mut child = Child::spawn(name, &binary("node"), &argv, "info");
        // ready: node c listening on 127.0.0.1:41234 (incarnation 5f0c...)
        let ready = child.expect("ready", |l| l.starts_with("ready: "));
        let (addr, incarnation) = ready
            .split_once(" listening on ")
            .and_then(|(_, rest)| rest.split_once(" (incarnation "))
            .unwrap_or_else(|| panic!("unexpected ready line {ready:?}"));
        let port = addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {ready:?}"));
        Proc {
            port,
            incarnation: incarnation.trim_end_matches(')').to_owned(),
            child,
        }
    }
}

impl Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// Three processes form a mesh, and a calls c's echo mailbox across processes.
#[test]
fn three_processes_mesh_and_echo_across_them() {
    let cluster = Cluster::new(&["a", "b", "c"]);
    let mut nodes = cluster.start(&[("a", &["--send-echo", "c", "--text", "across processes"])]);
    let a = &mut nodes[0];
    a.expect("the call", |l| l.starts_with("echo: calling <c@"));
    a.expect("the echo reply", |l| l == "echo reply: across processes");
}

/// A stopped (SIGSTOP) peer is declared down by heartbeat within the configured limit, and
/// comes back up, same life, when it continues.
#[test]
fn a_stopped_peer_is_detected_by_heartbeat_and_comes_back() {
    // With every default, a silent peer is declared down within 5 s.
    assert!(reign::DEFAULT_PEER_SILENCE_LIMIT <= Duration::from_secs(5));
    let cluster = Cluster::new(&["a", "b", "c"]);
    let mut nodes = cluster.start(&[("a", &["--monitor", "c"])]);
    nodes[0].expect("the monitor", |l| l.starts_with("monitoring <c@"));
    let [a, b, c] = &mut nodes[..] else {
        unreachable!()
    };
    a.mark();
    b.mark();
    c.signal("STOP");
    let stopped = Instant::now();
    let limit = Duration::from_millis(SILENCE_MS);
    for peer in [&mut *a, &mut *b] {
        peer.expect("c down by heartbeat", |l| {
            l == "event: c down: heartbeat timeout"
        });
        let took = stopped.elapsed();
        // At least the silence limit less one heartbeat interval (the last heartbeat may
        // have arrived just before the stop), and not much more than the limit.
        assert!(
            took >= limit - Duration::from_millis(HEARTBEAT_MS + 100),
            "{} declared c down after {took:?}, before the silence limit {limit:?}",
            peer.name
        );
        assert!(
            took <= limit + Duration::from_millis(1500),
            "{} declared c down after {took:?}; the silence limit is {limit:?}",
            peer.name
        );
    }
    // a's monitor of c's echo mailbox says c went silent: it may still run.
    a.expect("the monitor's Down", |l| {
        l.starts_with("down: no connection (<c@")
            && l.ends_with("; the link: heartbeat timeout (it went silent: it may still run)")
    });
    let same_life = format!("event: c up (incarnation {})", c.incarnation);
    c.signal("CONT");
    a.expect("c up again", |l| l == same_life);
    b.expect("c up again", |l| l == same_life);
}

/// A node whose application blocks every worker thread of its runtime for 10 s (far past
/// the 1.5 s silence limit) is not declared down: its links and heartbeats run on the node's
/// own thread. Nothing goes down on either side, during the block or in the 3 s after it,
/// and messages flow both ways once it is over.
#[test]
fn a_node_whose_application_blocks_every_worker_is_not_declared_down() {
    const BLOCK_MS: u64 = 10_000;
    const _: () = assert!(BLOCK_MS > 5 * SILENCE_MS);
    let cluster = Cluster::new(&["a", "b"]);
    let block = BLOCK_MS.to_string();
    let b_args: &[&str] = &[
        "--block-workers-after",
        "500",
        "--block-for",
        &block,
        "--send-echo",
        "a",
        "--text",
        "after the block",
    ];
    let mut nodes = cluster.start(&[("a", &["--monitor", "b"]), ("b", b_args)]);
    let [a, b] = &mut nodes[..] else {
        unreachable!()
    };
    a.expect("the monitor", |l| l.starts_with("monitoring <b@"));
    let blocking = b.expect("every worker blocked", |l| l.starts_with("blocking "));
    let blocked_at = Instant::now();
    b.expect("the block over", |l| l == "unblocked");
    assert!(
        blocked_at.elapsed() >= Duration::from_millis(BLOCK_MS - 500),
        "{blocking:?}, yet unblocked after {:?}",
        blocked_at.elapsed()
    );
    b.expect("the echo reply after the block", |l| {
        l == "echo reply: after the block"
    });
    b.expect("the echo reply 3 s later", |l| {
        l == "echo reply: after the block again"
    });
    let down = |l: &str| l.contains(" down") || l.starts_with("down: ");
    assert!(!a.printed(down), "a saw b go down: {:?}", a.seen);
    assert!(!b.printed(down), "b saw a go down: {:?}", b.seen);
}

/// A killed peer restarted on the same port is a new life: its peers see another
/// incarnation, and a monitor of its old echo mailbox fired with "no connection".
#[test]
fn a_killed_peer_restarted_is_a_new_life() {
    let cluster = Cluster::new(&["a", "b", "c"]);
    let mut nodes = cluster.start(&[("a", &["--monitor", "c"])]);
    nodes[0].expect("the monitor", |l| l.starts_with("monitoring <c@"));
    let old = nodes.pop().expect("c");
    let (port, old_life) = (old.port, old.incarnation.clone());
    let [a, b] = &mut nodes[..] else {
        unreachable!()
    };
    a.mark();
    b.mark();
    old.signal("KILL");
    let killed = Instant::now();
    for peer in [&mut *a, &mut *b] {
        let down = peer.expect("c down", |l| l.starts_with("event: c down: "));
        // The kernel closed the dead process's sockets: no waiting for a timeout.
        assert!(
            !down.contains("heartbeat timeout"),
            "{}: {down:?}, though the connection was closed",
            peer.name
        );
    }
    assert!(
        killed.elapsed() < Duration::from_millis(SILENCE_MS),
        "the peers saw the kill after {:?}",
        killed.elapsed()
    );
    // ...and says c's connection closed (its process ended), not that it went silent.
    let down = a.expect("the monitor's Down", |l| {
        l.starts_with("down: no connection (<c@")
    });
    assert!(
        down.contains("; the link: ") && !down.contains("went silent"),
        "{down:?}"
    );
    drop(old);

    let config = cluster.write_config("c", port, &[]);
    let c = Proc::spawn("c", &config, &[]);
    assert_eq!(c.port, port, "c restarted on its old port");
    assert_ne!(
        c.incarnation, old_life,
        "a restarted node has a new incarnation"
    );
    let new_life = format!("event: c up (incarnation {})", c.incarnation);
    a.expect("c's new life up", |l| l == new_life);
    b.expect("c's new life up", |l| l == new_life);
}

/// SIGTERM stops a node cleanly: it prints `stopped`, exits 0, and its peers see a
/// shutdown, not a timeout.
#[test]
fn sigterm_is_a_clean_shutdown() {
    let cluster = Cluster::new(&["a", "b", "c"]);
    let mut nodes = cluster.start(&[]);
    let [a, b, c] = &mut nodes[..] else {
        unreachable!()
    };
    a.mark();
    b.mark();
    let asked = Instant::now();
    c.signal("TERM");
    c.expect("stopped", |l| l == "stopped");
    let status = c.wait_exit();
    assert!(status.success(), "c exited with {status}");
    for peer in [&mut *a, &mut *b] {
        peer.expect("c down: peer shut down", |l| {
            l == "event: c down: peer shut down"
        });
        assert!(
            !peer.printed(|l| l.contains("heartbeat timeout")),
            "{} saw a timeout",
            peer.name
        );
    }
    // Well before any heartbeat limit: the peers were told.
    assert!(
        asked.elapsed() < Duration::from_millis(SILENCE_MS),
        "the shutdown took {:?}",
        asked.elapsed()
    );
}

/// SIGHUP reloads a node's TLS material and prints one line saying what it holds and what
/// became of its links. After `reign-certgen revoke c` rewrote the CRL, the reload ends a's
/// link to c with the reason and keeps the one to b; a certificate file that no longer loads
/// is refused with its name, and the old material stays in use.
#[test]
fn sighup_reloads_the_tls_material_and_ends_the_links_it_now_refuses() {
    let cluster = Cluster(ClusterDir::new("proc", &["a", "b", "c"]).with_crl());
    let mut nodes = cluster.start(&[]);
    let [a, b, _c] = &mut nodes[..] else {
        unreachable!()
    };
    a.mark();
    b.mark();
    a.signal("HUP");
    let line = a.expect("a reload that changes nothing", |l| {
        l.starts_with("reloaded: ")
    });
    assert!(
        line.starts_with("reloaded: cert serial ")
            && line.ends_with(", ca bundle 1 certificate, crl 0 entries; links kept 2, ended 0"),
        "{line}"
    );

    certgen(&["revoke", "--dir", cluster.0.certs(), "c"]);
    assert!(!a.printed(|l| l.starts_with("event: b down")), "a lost b");
    a.mark();
    a.signal("HUP");
    let line = a.expect("a reload after the revocation", |l| {
        l.starts_with("reloaded: ")
    });
    assert!(
        line.contains(", crl 1 entry; links kept 1, ended 1 (c: ") && line.contains("revoked"),
        "{line}"
    );
    let down = a.expect("c down", |l| l.starts_with("event: c down: "));
    assert!(down.contains("revoked"), "{down}");

    let cert = cluster.0.dir.path().join("certs").join("a.pem");
    std::fs::write(&cert, "not a certificate\n").expect("overwriting a.pem");
    assert!(!a.printed(|l| l.starts_with("event: b down")), "a lost b");
    a.mark();
    a.signal("HUP");
    let refused = a.expect("a refused reload", |l| l.starts_with("reload refused: "));
    assert!(refused.contains("a.pem"), "{refused}");
    // The link to b never dropped, on either side.
    assert!(!a.printed(|l| l.starts_with("event: b down")), "a lost b");
    assert!(!b.printed(|l| l.starts_with("event: a down")), "b lost a");
}

/// The SEND_NAMED and SEND frames of `docs/PROTOCOL.md` (its echo worked example), checked on the wire: a plain
/// TLS client holding `a`'s certificate (incarnation `0x0102030405060708`) sends the
/// documented request to a real node `b`, whose echo mailbox answers with exactly the
/// documented reply.
#[tokio::test]
async fn echo_frames_on_the_wire_are_the_documented_bytes() {
    #[rustfmt::skip]
    const REQUEST: &[u8] = &[
        0x00, 0x00, 0x00, 0x28,
        0x11,
        0x04, 0x65, 0x63, 0x68, 0x6f,
        0x12, 0x72, 0x65, 0x69, 0x67, 0x6e, 0x2e, 0x65, 0x63, 0x68, 0x6f, 0x2e,
              0x52, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74,
        0x02, 0x68, 0x69,
        0x01, 0x61,
        0xfd, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0x05,
    ];
    #[rustfmt::skip]
    const REPLY: &[u8] = &[
        0x00, 0x00, 0x00, 0x25,
        0x10,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x10, 0x72, 0x65, 0x69, 0x67, 0x6e, 0x2e, 0x65, 0x63, 0x68, 0x6f, 0x2e,
              0x52, 0x65, 0x70, 0x6c, 0x79,
        0x02, 0x68, 0x69,
    ];
    const INCARNATION: u64 = 0x0102_0304_0506_0708;

    let pki = Pki::new("demo", &["a", "b"]);
    let tls = TlsFiles {
        ca: pki.path("ca.pem"),
        cert: pki.path("b.pem"),
        key: pki.path("b.key"),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    };
    let config = NodeConfig::new(node("b"), "demo", "127.0.0.1:0".parse().unwrap(), tls)
        // Never dialed: a's ID is lower, so a dials.
        .with_member(node("a"), "127.0.0.1:1");
    let b = bounded(reign::Node::start(config)).await.expect("b starts");
    echo::spawn(&b).expect("echo registered");

    let client = raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("a.pem"), &pki.path("a.key"))),
    );
    let addr = b.cluster().local_addr().expect("b listens");
    let mut wire = bounded(raw_connect(client, addr, "b"))
        .await
        .expect("TLS with b");
    bounded(wire.write_all(&hello_frame(1, INCARNATION, "demo", "a")))
        .await
        .unwrap();
    let hello = bounded(read_frame(&mut wire)).await;
    assert_eq!(hello[4], 0x01, "b answers with its HELLO: {hello:02x?}");
    bounded(wire.write_all(&[0, 0, 0, 1, 0x03])).await.unwrap(); // ACCEPT
    // No names or groups to announce: SYNCED at once puts the link in service.
    bounded(wire.write_all(&[0, 0, 0, 1, 0x5f])).await.unwrap(); // SYNCED
    let up = b
        .cluster()
        .wait_for(&node("a"), WAIT)
        .await
        .expect("link up");
    assert_eq!(up.get(), INCARNATION);

    bounded(wire.write_all(REQUEST)).await.unwrap();
    bounded(wire.flush()).await.unwrap();
    let reply = bounded(async {
        loop {
            let frame = read_frame(&mut wire).await;
            // Heartbeats and any other link traffic are not the reply.
            if frame[4] == 0x10 {
                return frame;
            }
        }
    })
    .await;
    assert_eq!(
        reply, REPLY,
        "the reply SEND frame, as docs/PROTOCOL.md shows it"
    );
    // Closed first: a peer that never answers GOODBYE would hold b's shutdown for its
    // whole timeout.
    drop(wire);
    bounded(b.shutdown()).await;
}

/// Reads one frame (length field included).
async fn read_frame(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let len = r.read_u32().await.expect("a frame's length");
    assert!((1..=1 << 20).contains(&len), "frame length {len}");
    let mut frame = len.to_be_bytes().to_vec();
    frame.resize(4 + len as usize, 0);
    r.read_exact(&mut frame[4..]).await.expect("a frame's body");
    frame
}

/// Three processes, each on a port of its own choosing (0), whose files list no member: b
/// and c are given a's address with `--seed` (c as `localhost`, a host name), and all three
/// link with each other, b and c through what a tells them.
#[test]
fn processes_join_through_one_seed_on_ports_of_their_choosing() {
    let cluster = Cluster::new(&["a", "b", "c"]);
    let write = |id: &str| cluster.write_memberless(id, "");
    let mut a = Proc::spawn("a", &write("a"), &[]);
    let seed = format!("127.0.0.1:{}", a.port);
    let by_name = format!("localhost:{}", a.port);
    let mut b = Proc::spawn("b", &write("b"), &["--seed", &seed]);
    let mut c = Proc::spawn("c", &write("c"), &["--seed", &by_name]);
    for (p, others) in [
        (&mut a, ["b", "c"]),
        (&mut b, ["a", "c"]),
        (&mut c, ["a", "b"]),
    ] {
        for other in others {
            p.expect(&format!("{other} up"), |l| {
                l.starts_with(&format!("event: {other} up "))
            });
        }
    }
    a.expect("b joined", |l| {
        l.starts_with("event: b joined (it connected)")
    });
}

/// Nodes that joined at run time are forgotten when they leave: at once when one shuts down
/// (SIGTERM: it says GOODBYE), after `forget_after_ms` when one is killed; and one that
/// comes back joins again.
#[test]
fn joined_nodes_that_leave_are_forgotten_and_rejoin() {
    let cluster = Cluster::new(&["a", "b", "c"]);
    let write = |id: &str| cluster.write_memberless(id, "forget_after_ms = 500\n");
    let mut a = Proc::spawn("a", &write("a"), &[]);
    let seed = format!("127.0.0.1:{}", a.port);
    let mut b = Proc::spawn("b", &write("b"), &["--seed", &seed]);
    let mut c = Proc::spawn("c", &write("c"), &["--seed", &seed]);
    for other in ["b", "c"] {
        a.expect(&format!("{other} up"), |l| {
            l.starts_with(&format!("event: {other} up "))
        });
    }
    b.expect("c up", |l| l.starts_with("event: c up "));
    // b shuts down: it has left, at once.
    b.signal("TERM");
    a.expect("b left", |l| l == "event: b left (it shut down)");
    c.expect("b left", |l| l == "event: b left (it shut down)");
    // c is killed (its sockets close without a GOODBYE): down, then forgotten after
    // forget_after_ms unreachable.
    c.signal("KILL");
    a.expect("c down", |l| l.starts_with("event: c down: "));
    a.expect("c left", |l| l == "event: c left (it could not be reached)");
    // b comes back: it joins again.
    let _b = Proc::spawn("b", &write("b"), &["--seed", &seed]);
    a.expect("b joined again", |l| l.starts_with("event: b joined"));
    a.expect("b up again", |l| l.starts_with("event: b up "));
}
