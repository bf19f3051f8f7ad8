//! The chat example (`examples/chat.rs`) as its users run it: one OS process per
//! participant, certificates made by the `reign-certgen` command-line tool, lines typed on
//! stdin, and what each participant prints read from its stdout. Every wait is bounded; every
//! child is killed when its guard drops, and a failing test prints what each one said.
//!
//! The binaries sit next to this test's executable (`target/<profile>/examples/chat`,
//! `target/<profile>/reign-certgen`). `cargo test` builds examples first, but
//! `cargo test --test it` does not, so the test runs `cargo build` for both (a no-op when
//! they are up to date).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reign::NodeConfig;

/// The bound of each wait for a child's output or exit.
const STEP: Duration = Duration::from_secs(10);
/// The bound of building the binaries (they are usually built already).
const BUILD: Duration = Duration::from_secs(600);

/// The nodes of the test cluster: three participants, and `ada`, who asks for the nickname
/// `alice`. Only a lower node ID dials a higher one, so each node is started after every
/// node it dials, and a node it does not dial is listed at a placeholder port.
const NODES: [&str; 4] = ["ada", "alice", "bob", "carol"];

/// Tunables of the test cluster: a lost peer shows within two seconds.
const TUNABLES: &str = "
[tunables]
heartbeat_interval_ms = 200
peer_silence_limit_ms = 1500
reconnect_backoff_min_ms = 50
reconnect_backoff_max_ms = 300
handshake_timeout_ms = 1000
shutdown_timeout_ms = 2000
";

struct Binaries {
    chat: PathBuf,
    certgen: PathBuf,
}

/// The example and the CLI, built with the profile of this test executable.
fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        // target/<profile>/deps/it-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "-p", "reign", "-p", "reign-certgen"])
            .args(["--example", "chat", "--bin", "reign-certgen"])
            // This test's own target folder, whatever CARGO_TARGET_DIR says now.
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("target/<profile>"));
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                cargo.arg("--release");
            }
            Some(other) => {
                cargo.args(["--profile", other]);
            }
            None => panic!("unexpected test path {}", exe.display()),
        }
        let mut build = cargo
            .stdin(Stdio::null())
            .spawn()
            .expect("running cargo build");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = build.try_wait().expect("waiting for cargo build") {
                break status;
            }
            if started.elapsed() > BUILD {
                let _ = build.kill();
                let _ = build.wait();
                panic!("cargo build of the chat example did not finish within {BUILD:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "cargo build failed: {status}");
        let exe = |name: &str| format!("{name}{}", std::env::consts::EXE_SUFFIX);
        let b = Binaries {
            chat: profile_dir.join("examples").join(exe("chat")),
            certgen: profile_dir.join(exe("reign-certgen")),
        };
        assert!(b.chat.exists(), "{} was not built", b.chat.display());
        assert!(b.certgen.exists(), "{} was not built", b.certgen.display());
        b
    })
}

/// Runs the `reign-certgen` CLI; panics with its output if it fails.
fn certgen(args: &[&str]) {
    let out = Command::new(&binaries().certgen)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running reign-certgen");
    assert!(
        out.status.success(),
        "reign-certgen {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder with `certs/` (made by the CLI) and the participants' configuration files.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        let certs = certs.to_str().expect("UTF-8 temp path");
        certgen(&["init", "--dir", certs, "--name", "chat"]);
        let mut issue = vec!["issue", "--dir", certs];
        issue.extend_from_slice(&NODES);
        certgen(&issue);
        Setup { dir }
    }

    /// Writes `<id>.toml`, listening on any port, the other nodes at `ports` (a node not
    /// listed there is never dialed by `id`; it gets port 1).
    fn config(&self, id: &str, ports: &[(&str, u16)]) -> PathBuf {
        let mut text = format!(
            "node_id = \"{id}\"\ncluster = \"chat\"\nlisten = \"127.0.0.1:0\"\n\
             [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/{id}.pem\"\nkey = \"certs/{id}.key\"\n"
        );
        for other in NODES.iter().filter(|o| **o != id) {
            let port = ports
                .iter()
                .find(|(o, _)| o == other)
                .map_or(1, |(_, p)| *p);
            text.push_str(&format!(
                "[[members]]\nid = \"{other}\"\naddr = \"127.0.0.1:{port}\"\n"
            ));
        }
        text.push_str(TUNABLES);
        let path = self.dir.path().join(format!("{id}.toml"));
        std::fs::write(&path, text).expect("writing a node config");
        // The file is what the example reads: check it here, where the error is clearer.
        NodeConfig::from_file(&path).expect("a valid node config");
        path
    }
}

/// One chat process, killed when dropped.
struct Chat {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    lines: Receiver<String>,
    /// Every stdout line so far.
    seen: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Chat {
    /// Starts `chat --config <config> <args>` and waits until its node listens.
    fn spawn(name: &str, config: &Path, args: &[&str]) -> Chat {
        let mut child = Command::new(&binaries().chat)
            .arg("--config")
            .arg(config)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the chat example");
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        let stdin = child.stdin.take();
        let mut c = Chat {
            name: name.to_owned(),
            child,
            stdin,
            port: 0,
            lines,
            seen: Vec::new(),
            stderr,
        };
        // node carol listening on 127.0.0.1:41234
        let prefix = format!("node {name} listening on 127.0.0.1:");
        let listening = c.expect("listening", |l| l.starts_with(&prefix));
        c.port = listening[prefix.len()..]
            .parse()
            .unwrap_or_else(|_| panic!("no port in {listening:?}"));
        c
    }

    /// Types `line` (and Enter).
    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("writing to the chat's stdin");
        stdin.flush().expect("flushing the chat's stdin");
    }

    /// The first line printed (since the start) equal to `line`, waiting up to [`STEP`].
    fn expect_line(&mut self, line: &str) {
        self.expect(line, |l| l == line);
    }

    /// The first line printed (since the start) matching `pred`, waiting up to [`STEP`].
    fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STEP;
        let mut checked = 0;
        loop {
            if let Some(line) = self.seen[checked..].iter().find(|l| pred(l)) {
                return line.clone();
            }
            checked = self.seen.len();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: no {what:?} within {STEP:?}", self.name)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: stdout closed before {what:?}", self.name)
                }
            }
        }
    }

    /// Waits until the participant has met each of `others`, at start (`<nick> is here`)
    /// or later (`<nick> joined`).
    fn expect_met(&mut self, others: &[&str]) {
        for other in others {
            let (here, joined) = (format!("{other} is here"), format!("{other} joined"));
            self.expect(&format!("{other} met"), |l| l == here || l == joined);
        }
    }

    /// Waits for the process to exit, up to [`STEP`], then for its stdout to close, and
    /// returns its status.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {STEP:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.drain_to_end();
        status
    }

    /// Reads stdout until it closes (the process has exited), up to [`STEP`].
    fn drain_to_end(&mut self) {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: stdout still open {STEP:?} after exiting", self.name)
                }
            }
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Every stdout line so far, but the `listening` line (its port varies), with each
    /// `<x> is here` written `<x> joined` (which of the two a participant prints depends on
    /// who entered the room first).
    fn transcript(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .filter(|l| !l.starts_with("node "))
            .map(|l| match l.strip_suffix(" is here") {
                Some(nick) => format!("{nick} joined"),
                None => l.clone(),
            })
            .collect()
    }
}

impl Drop for Chat {
    // A failing test shows what each child said (the test harness captures it).
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            eprintln!(
                "---- {} stdout:\n{}\n---- {} stderr:\n{}",
                self.name,
                self.seen.join("\n"),
                self.name,
                self.stderr()
            );
        }
    }
}

/// Sorts the lines of a transcript from index `from` on (lines whose relative order is
/// not fixed), keeping the first ones in place.
fn sorted_from(mut v: Vec<String>, from: usize) -> Vec<String> {
    if from < v.len() {
        v[from..].sort();
    }
    v
}

/// Three participants chat; a fourth asking for a nickname in use is refused; a killed
/// participant and one who quits are seen leaving by the others.
#[test]
// The timings are printed for whoever runs it with --nocapture.
#[allow(clippy::print_stderr)]
fn three_participants_chat_and_see_each_other_leave() {
    let started = Instant::now();
    let setup = Setup::new();
    // Highest ID first: carol dials no one, bob dials carol, alice dials both. Each is
    // started once the previous one listens; they connect and enter the room concurrently.
    let wait = ["--wait-ms", "1000"];
    let mut carol = Chat::spawn("carol", &setup.config("carol", &[]), &wait);
    let mut bob = Chat::spawn("bob", &setup.config("bob", &[("carol", carol.port)]), &wait);
    let mut alice = Chat::spawn(
        "alice",
        &setup.config("alice", &[("bob", bob.port), ("carol", carol.port)]),
        &wait,
    );
    alice.expect_line("ready: alice in lobby");
    bob.expect_line("ready: bob in lobby");
    carol.expect_line("ready: carol in lobby");
    // Everyone knows everyone before anyone speaks (rooms are eventually consistent).
    alice.expect_met(&["bob", "carol"]);
    bob.expect_met(&["alice", "carol"]);
    carol.expect_met(&["alice", "bob"]);

    alice.say("hello");
    bob.expect_line("alice: hello");
    carol.expect_line("alice: hello");
    carol.say("hi all");
    alice.expect_line("carol: hi all");
    bob.expect_line("carol: hi all");

    // A fourth participant with a certificate of its own asks for the nickname `alice`.
    let ports = [
        ("alice", alice.port),
        ("bob", bob.port),
        ("carol", carol.port),
    ];
    let mut ada = Chat::spawn("ada", &setup.config("ada", &ports), &["--nick", "alice"]);
    let status = ada.wait_exit();
    assert_eq!(status.code(), Some(1), "ada exited with {status}");
    let stderr = ada.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("nickname alice is already taken by <alice@")),
        "ada's stderr: {stderr}"
    );
    let ada_out = ada.transcript();
    assert!(ada_out.is_empty(), "ada printed {ada_out:?}");

    // bob's process dies: the others are told by their monitors.
    let killed = Instant::now();
    bob.child.kill().expect("killing bob");
    let _ = bob.child.wait();
    alice.expect_line("bob left");
    carol.expect_line("bob left");
    let bob_left_after = killed.elapsed();
    // The kernel closed the dead process's connections: no waiting for the silence limit.
    assert!(
        bob_left_after < Duration::from_millis(1500),
        "bob's departure was seen {bob_left_after:?} after the kill"
    );

    // carol quits: she says bye and exits 0, and alice sees her leave.
    carol.say("/quit");
    let status = carol.wait_exit();
    assert!(status.success(), "carol exited with {status}");
    alice.expect_line("carol left");

    // Exactly these lines, nothing else (the order of the first meetings varies).
    let alice_out = alice.transcript();
    let bob_out = bob.transcript();
    let carol_out = carol.transcript();
    assert_eq!(
        sorted_from(alice_out[..3].to_vec(), 1),
        ["ready: alice in lobby", "bob joined", "carol joined"]
    );
    assert_eq!(alice_out[3..], ["carol: hi all", "bob left", "carol left"]);
    assert_eq!(
        sorted_from(bob_out[..3].to_vec(), 1),
        ["ready: bob in lobby", "alice joined", "carol joined"]
    );
    assert_eq!(bob_out[3..], ["alice: hello", "carol: hi all"]);
    assert_eq!(
        sorted_from(carol_out[..3].to_vec(), 1),
        ["ready: carol in lobby", "alice joined", "bob joined"]
    );
    assert_eq!(carol_out[3..], ["alice: hello", "bob left", "bye"]);
    assert!(
        carol.stderr().is_empty(),
        "carol's stderr: {}",
        carol.stderr()
    );
    eprintln!(
        "chat test: bob left seen {bob_left_after:?} after the kill; whole test {:?}",
        started.elapsed()
    );
}
