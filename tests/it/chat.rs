//! The chat example (`examples/chat.rs`) as its users run it: one OS process per
//! participant, certificates made by the `reign-certgen` command-line tool, lines typed on
//! stdin, and what each participant prints read from its stdout. Every wait is bounded; every
//! child is killed when its guard drops, and a failing test prints what each one said.
//!
//! The binaries sit next to this test's executable (`target/<profile>/examples/chat`,
//! `target/<profile>/reign-certgen`). `cargo test --workspace` builds both first;
//! `cargo test --test it` alone does not, and the test then says what to build.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::procs::{Child, ClusterDir, binary};

/// The nodes of the test cluster: three participants, and `ada`, who asks for the nickname
/// `alice`. Each file holds only its certificate; carol starts first, and the others join
/// with `--seed` and her address, as the walkthrough does.
const NODES: [&str; 4] = ["ada", "alice", "bob", "carol"];

/// A folder with `certs/` (made by the CLI) and the participants' configuration files.
struct Setup(ClusterDir);

impl Setup {
    fn new() -> Setup {
        Setup(ClusterDir::new("chat", &NODES))
    }

    /// Writes `<id>.toml`: its certificate, any port, no member.
    fn config(&self, id: &str) -> PathBuf {
        self.0.write_memberless(id, "")
    }
}

/// One chat process (see [`Child`]), with the port its node listens on.
struct Chat {
    child: Child,
    port: u16,
}

impl Deref for Chat {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for Chat {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Chat {
    /// Starts `chat --config <config> <args>` and waits until its node listens.
    fn spawn(name: &str, config: &Path, args: &[&str]) -> Chat {
        let mut argv: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
        argv.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        let mut child = Child::spawn(name, &binary("chat"), &argv, "warn");
        // node carol listening on 127.0.0.1:41234
        let prefix = format!("node {name} listening on 127.0.0.1:");
        let listening = child.expect("listening", |l| l.starts_with(&prefix));
        let port = listening[prefix.len()..]
            .parse()
            .unwrap_or_else(|_| panic!("no port in {listening:?}"));
        Chat { child, port }
    }

    /// The first line printed (since the start) equal to `line`, waiting up to [`STEP`].
    fn expect_line(&mut self, line: &str) {
        self.expect(line, |l| l == line);
    }

    /// Waits until the participant has met each of `others`, at start (`<nick> is here`)
    /// or later (`<nick> joined`).
    fn expect_met(&mut self, others: &[&str]) {
        for other in others {
            let (here, joined) = (format!("{other} is here"), format!("{other} joined"));
            self.expect(&format!("{other} met"), |l| l == here || l == joined);
        }
    }

    /// Every stdout line so far, but the `listening` line (its port varies), with each
    /// `<x> is here` written `<x> joined` (which of the two a participant prints depends on
    /// who entered the room first).
    fn transcript(&mut self) -> Vec<String> {
        self.drain();
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
    // carol first, alone; bob and alice join through her address and meet each other
    // through her. They connect and enter the room concurrently.
    let mut carol = Chat::spawn("carol", &setup.config("carol"), &["--wait-ms", "1000"]);
    let seed = format!("127.0.0.1:{}", carol.port);
    let joiner = ["--wait-ms", "3000", "--seed", &seed];
    let mut bob = Chat::spawn("bob", &setup.config("bob"), &joiner);
    let mut alice = Chat::spawn("alice", &setup.config("alice"), &joiner);
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

    // A fourth participant with a certificate of its own asks for the nickname `alice`: it
    // learns of alice through the seed, and sees the name taken.
    let args = ["--nick", "alice", "--wait-ms", "3000", "--seed", &seed];
    let mut ada = Chat::spawn("ada", &setup.config("ada"), &args);
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
    bob.signal("KILL");
    let _ = bob.wait_exit();
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
