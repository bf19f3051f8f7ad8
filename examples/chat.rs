//! A terminal chat: one process per participant, each a reign node with its own certificate.
//!
//! A participant's nickname is a cluster-wide name (`chat.nick.<nick>`), so a second `alice`
//! is refused; a room is a process group (`chat.room.<room>`); a line typed goes to every
//! member of the room; when a participant quits or its process dies, the others see
//! `alice left`, told by a monitor (nothing polls).
//!
//! ```console
//! $ cargo run --example chat -- --config alice.toml [--nick NAME] [--room ROOM]
//! ```
//!
//! # Three participants in three terminals
//!
//! Make a cluster CA and one certificate per participant (the certificate's Common Name is
//! the node ID):
//!
//! ```console
//! $ cargo run -p reign-certgen -- init --dir certs --name chat
//! $ cargo run -p reign-certgen -- issue --dir certs alice bob carol
//! ```
//!
//! Write one configuration file per participant beside `certs/` (relative paths are
//! resolved against the file's folder): its certificate and nothing else. `alice.toml`:
//!
//! ```toml
//! node_id = "alice"
//! cluster = "chat"
//! listen = "127.0.0.1:7101"
//!
//! [tls]
//! ca = "certs/ca.pem"
//! cert = "certs/alice.pem"
//! key = "certs/alice.key"
//! ```
//!
//! `bob.toml` and `carol.toml` are the same with their own `node_id`, certificate and key,
//! and `listen = "127.0.0.1:0"` (any free port: nobody needs to know it). With no member
//! list, any node with a certificate of the cluster's CA may join. Alice starts first; the
//! others join through her address as a seed and meet everyone from there:
//!
//! ```console
//! $ cargo run --example chat -- --config alice.toml
//! $ cargo run --example chat -- --config bob.toml --seed 127.0.0.1:7101
//! $ cargo run --example chat -- --config carol.toml --seed 127.0.0.1:7101
//! ```
//!
//! (The seed may be in the file instead: `seeds = ["127.0.0.1:7101"]`. A fixed
//! `[[members]]` list, each participant listing the others' addresses, works too.)
//!
//! Carol's terminal (started last), once alice typed `hello` and then `/quit`:
//!
//! ```text
//! node carol listening on 127.0.0.1:40513
//! ready: carol in lobby
//! alice is here
//! bob is here
//! alice: hello
//! alice left
//! ```
//!
//! Type a line in one terminal and the other two print it (`alice: hello`). `/quit` (or
//! Ctrl-D, or Ctrl-C) leaves: the others print `alice left`. Kill a participant
//! (`kill -9`) and the others print the same as soon as its connections close (or, if its
//! machine vanished, after the configured `peer_silence_limit_ms`). A second participant
//! asking for a nickname already in use is refused:
//! `nickname alice is already taken by <alice@5f0c:13793586303117011338>`, exit status 1.
//!
//! # What it prints
//!
//! On stdout, one line each, flushed at once:
//!
//! - `node <id> listening on <addr>` once the node listens (it then links with the others:
//!   at most `--wait-ms` for those that are up);
//! - `ready: <nick> in <room>` once it is in the room;
//! - `<nick> is here` for each participant already in the room at that moment;
//! - `<nick> joined` when a participant enters the room later;
//! - `<from>: <text>` for each line another participant typed;
//! - `<nick> left` when a participant in the room quit, died or became unreachable;
//! - `bye` after leaving cleanly (`/quit`, end of input, Ctrl-C); the exit status is then 0.
//!
//! On stderr: `nickname <nick> is already taken by <holder>` (exit status 1) when the
//! nickname is held by a reachable participant at start; `you lost the nickname <nick> to
//! <winner>` (exit status 1) when two participants took the same nickname while their
//! nodes could not reach each other, and the other claim won once they met (the claim of the
//! node that ranks first for the name wins, see `reign::NameConflict`; the loser leaves the room and stops rather than going on under a
//! nickname that now names someone else); `error: …` for anything else that stops it
//! (exit status 1). Logs also go to stderr, at `warn` unless `RUST_LOG` says otherwise.
//!
//! A line shows the nickname its sender wrote into it: reign does not tell a mailbox which
//! node a message came from, so a member of the cluster can post lines under another
//! participant's nickname (docs/SECURITY.md, "who sent a message"). What no member can do is
//! forge the `NameConflict` that makes a participant give up its nickname.
//!
//! # How it works
//!
//! Each participant is one mailbox of type [`ChatMsg`]. At start it waits (bounded by
//! `--wait-ms`) until it is linked with every node it knows of (the configured members, or
//! every node its seed introduced it to) and nothing new came for a moment, then for one
//! lookup round trip on each link (a peer sends its names and groups when a link comes up,
//! before it answers anything, so after the round trip this node knows them), then registers its
//! nickname cluster-wide and joins the room's group. It sends `Joined` to the members
//! already there and monitors each member it learns of, once: from the group's members at
//! start, from `Joined` messages and from changes of the group. A member's nickname is
//! taken from its `Joined` message, or from the cluster-wide names (its `chat.nick.*` name
//! resolves to its mailbox). The monitor's `Down` prints `<nick> left`.

// A command-line program talks to its user.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "reload/mod.rs"]
mod reload;

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use reign::{
    Address, Down, DownReason, Mailbox, MailboxRef, MemberState, MonitorRef, NameConflict, Node,
    NodeConfig, RegistryError,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// The prefix of a nickname's cluster-wide name.
const NICK_PREFIX: &str = "chat.nick.";
/// The prefix of a room's process group.
const ROOM_PREFIX: &str = "chat.room.";

/// A participant of a chat room on a reign cluster. Type a line to send it to the room;
/// `/quit`, end of input or Ctrl-C leaves.
#[derive(Debug, Parser)]
#[command(
    name = "chat",
    after_help = "The walkthrough is at the top of examples/chat.rs."
)]
struct Args {
    /// The node's configuration (TOML, as for examples/node.rs); its node_id is the default
    /// nickname.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// The nickname, unique in the cluster. Default: the node ID.
    #[arg(long, value_name = "NAME")]
    nick: Option<String>,

    /// The room to join.
    #[arg(long, value_name = "ROOM", default_value = "lobby")]
    room: String,

    /// A seed address (`host:port`) to join through, added to the file's `seeds`; may be
    /// given several times.
    #[arg(long, value_name = "ADDR")]
    seed: Vec<String>,

    /// How long to wait at start for the others to be linked. Participants that are not up
    /// by then are met when they come (a participant may be alone).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    wait_ms: u64,
}

/// What a participant's mailbox takes.
#[derive(Debug, Serialize, Deserialize)]
enum ChatMsg {
    /// A line typed by participant `from`.
    Line { from: String, text: String },
    /// A participant entered the room: sent to the members already there.
    Joined {
        nick: String,
        addr: Address<ChatMsg>,
    },
    /// A monitored participant is gone.
    Down(Down),
    /// This participant lost its nickname to an earlier claim (after a partition healed).
    Conflict(NameConflict),
}

reign::message!(ChatMsg = "reign.chat.Msg");

impl From<Down> for ChatMsg {
    fn from(d: Down) -> Self {
        ChatMsg::Down(d)
    }
}

impl From<NameConflict> for ChatMsg {
    fn from(c: NameConflict) -> Self {
        ChatMsg::Conflict(c)
    }
}

/// Prints one line on stdout and flushes it, so that a program reading this one's output
/// sees each line at once. A closed stdout is ignored.
fn say(line: impl Display) {
    let mut out = std::io::stdout().lock();
    // Lines show what peers sent (nicknames, text): escaped, so no peer can forge a line or
    // drive the terminal.
    let line = line.to_string();
    let _ = writeln!(out, "{}", reign::tls::ratelimit::EscapedAll(&line));
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match run(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    });
    // The stdin reader may be blocked in a read that cannot be cancelled: do not wait for it.
    runtime.shutdown_background();
    code
}

/// One member of the room, as this participant knows it.
struct Member {
    nick: Option<String>,
    /// The monitor watching it: its `Down` (and no other) means this member left.
    monitor: MonitorRef,
}

/// A participant: its node, mailbox and what it knows of the room.
struct Participant {
    node: Node,
    inbox: Mailbox<ChatMsg>,
    me: Address<ChatMsg>,
    nick: String,
    room: String,
    group: String,
    members: HashMap<MailboxRef, Member>,
    /// Members whose mailbox ended (they quit): never met again, even if a late group
    /// update still lists them. (A member lost with its connection may come back.)
    ended: HashSet<MailboxRef>,
}

/// How a member came to be known, which decides what is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Met {
    /// It was in the room when this participant entered.
    AtStart,
    /// It entered later.
    Later,
}

async fn run(args: Args) -> Result<ExitCode> {
    let mut config = NodeConfig::from_file(&args.config)?;
    config.seeds.extend(args.seed.iter().cloned());
    config.validate().context("--seed")?;
    let nick = args
        .nick
        .clone()
        .unwrap_or_else(|| config.node_id.as_str().to_owned());
    // Alone by design (no seed, no member): nobody to wait for.
    let expects_others = !config.seeds.is_empty() || !config.members.is_empty();
    let id = config.node_id.clone();
    let node = Node::start(config)
        .await
        .with_context(|| format!("starting node {id}"))?;
    reload::on_sighup(&node, |line| say(line));
    if let Some(addr) = node.cluster().local_addr() {
        say(format_args!("node {id} listening on {addr}"));
    }
    if expects_others {
        sync_with_peers(&node, Duration::from_millis(args.wait_ms)).await;
    }

    let (inbox, me) = node.mailbox::<ChatMsg>();
    let name = format!("{NICK_PREFIX}{nick}");
    match node.global().register(&name, &me) {
        Ok(()) => {}
        Err(RegistryError::NameTaken { holder, .. }) => {
            eprintln!("nickname {nick} is already taken by {holder}");
            drop(inbox);
            node.shutdown().await;
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            drop(inbox);
            node.shutdown().await;
            return Err(e).with_context(|| format!("registering the nickname {nick}"));
        }
    }
    let group = format!("{ROOM_PREFIX}{}", args.room);
    // Followed before joining, so that no later arrival is missed.
    let watch = node.groups().watch(&group);
    node.groups()
        .join(&group, &me)
        .with_context(|| format!("joining the room {}", args.room))?;

    let mut p = Participant {
        node: node.clone(),
        inbox,
        me,
        nick,
        room: args.room,
        group,
        members: HashMap::new(),
        ended: HashSet::new(),
    };
    let code = p.enter_and_talk(watch).await;
    drop(p);
    node.shutdown().await;
    if code == ExitCode::SUCCESS {
        say("bye");
    }
    Ok(code)
}

/// How long nothing new must happen before this node counts itself linked with everyone
/// (a node that just came up introduces the others right after).
const SETTLE: Duration = Duration::from_millis(300);

/// Waits, up to `wait` in all, until every node this one knows of is linked and nothing new
/// happened for [`SETTLE`], then for one lookup round trip on each link: a peer sends its
/// cluster-wide names and group members when the link comes up, before answering anything,
/// so afterwards this node knows them (and a nickname taken there is seen as taken here).
async fn sync_with_peers(node: &Node, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    let cluster = node.cluster();
    let mut events = cluster.events();
    loop {
        let members = cluster.members();
        let all_up = !members.is_empty()
            && members
                .iter()
                .all(|m| matches!(m.state, MemberState::Up { .. }));
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let look = if all_up { SETTLE.min(left) } else { left };
        // Settled: linked with everyone known, and nothing new for a moment.
        if tokio::time::timeout(look, events.recv()).await.is_err() && all_up {
            break;
        }
    }
    let mut waits = tokio::task::JoinSet::new();
    for m in cluster.members() {
        if !matches!(m.state, MemberState::Up { .. }) {
            continue;
        }
        let node = node.clone();
        waits.spawn(async move {
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .max(Duration::from_millis(500));
            // The answer (surely "not found") does not matter, only that it came.
            let _ = node
                .cluster()
                .whereis_on::<ChatMsg>(&m.node, "chat.sync", left)
                .await;
        });
    }
    while waits.join_next().await.is_some() {}
}

impl Participant {
    /// Greets the room, then relays typed lines and prints what arrives until the user
    /// leaves (success) or the nickname is lost (failure).
    async fn enter_and_talk(&mut self, mut watch: reign::GroupWatch) -> ExitCode {
        let already: Vec<Address<ChatMsg>> = self.others();
        for member in &already {
            self.meet(member.mailbox_ref(), None, Met::AtStart);
            let hello = ChatMsg::Joined {
                nick: self.nick.clone(),
                addr: self.me.clone(),
            };
            if let Err(e) = member.try_send(hello) {
                tracing::warn!(%member, reason = %e.reason(), "could not greet a member");
            }
        }
        say(format_args!("ready: {} in {}", self.nick, self.room));
        for member in &already {
            let r = member.mailbox_ref();
            say(format_args!("{} is here", self.name_of(&r)));
        }

        let mut lines = stdin_lines();
        let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            tokio::select! {
                msg = self.inbox.recv() => {
                    if let Some(code) = self.handle(msg) {
                        return code;
                    }
                }
                line = lines.recv() => match line {
                    Some(line) if line.trim() == "/quit" => return ExitCode::SUCCESS,
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => self.send_line(line),
                    // End of input: leave.
                    None => return ExitCode::SUCCESS,
                },
                changed = watch.changed() => {
                    if changed.is_none() {
                        eprintln!("error: the node stopped");
                        return ExitCode::FAILURE;
                    }
                    for member in self.others() {
                        self.meet(member.mailbox_ref(), None, Met::Later);
                    }
                }
                _ = &mut stop => return ExitCode::SUCCESS,
            }
        }
    }

    /// The room's chat members other than this one, as this node knows them now.
    fn others(&self) -> Vec<Address<ChatMsg>> {
        let mut v = self.node.groups().members::<ChatMsg>(&self.group);
        v.retain(|a| *a != self.me);
        v
    }

    /// Handles one message; `Some(code)` when the participant must stop.
    fn handle(&mut self, msg: ChatMsg) -> Option<ExitCode> {
        match msg {
            ChatMsg::Line { from, text } => say(format_args!("{from}: {text}")),
            ChatMsg::Joined { nick, addr } => {
                self.meet(addr.mailbox_ref(), Some(nick), Met::Later);
            }
            ChatMsg::Down(down) => {
                if down.reason != DownReason::NoConnection {
                    self.ended.insert(down.target.clone());
                }
                let current = self
                    .members
                    .get(&down.target)
                    .is_some_and(|m| m.monitor.fired(&down));
                if current && let Some(gone) = self.members.remove(&down.target) {
                    let who = gone.nick.unwrap_or_else(|| down.target.to_string());
                    say(format_args!("{who} left"));
                }
            }
            ChatMsg::Conflict(c) => {
                eprintln!("you lost the nickname {} to {}", self.nick, c.winner);
                return Some(ExitCode::FAILURE);
            }
        }
        None
    }

    /// Takes note of member `r` (monitoring it, once), with its nickname if known; prints
    /// `<nick> joined` for a member met after the start.
    fn meet(&mut self, r: MailboxRef, nick: Option<String>, how: Met) {
        if r == self.me.mailbox_ref() || self.ended.contains(&r) {
            return;
        }
        if let Some(m) = self.members.get_mut(&r) {
            if m.nick.is_none() {
                m.nick = nick;
            }
            return;
        }
        let nick = nick.or_else(|| self.nick_from_names(&r));
        let monitor = self.inbox.monitor_ref(&r);
        let shown = nick.clone().unwrap_or_else(|| r.to_string());
        self.members.insert(r, Member { nick, monitor });
        if how == Met::Later {
            say(format_args!("{shown} joined"));
        }
    }

    /// The nickname that resolves to `r` cluster-wide, if any.
    fn nick_from_names(&self, r: &MailboxRef) -> Option<String> {
        self.node
            .global()
            .list()
            .into_iter()
            .find(|(name, holder)| holder == r && name.starts_with(NICK_PREFIX))
            .map(|(name, _)| name[NICK_PREFIX.len()..].to_owned())
    }

    /// How member `r` is shown: its nickname, or its address.
    fn name_of(&self, r: &MailboxRef) -> String {
        self.members
            .get(r)
            .and_then(|m| m.nick.clone())
            .unwrap_or_else(|| r.to_string())
    }

    /// Sends a typed line to every other member of the room.
    fn send_line(&self, text: String) {
        for member in self.others() {
            let line = ChatMsg::Line {
                from: self.nick.clone(),
                text: text.clone(),
            };
            if let Err(e) = member.try_send(line) {
                tracing::warn!(%member, reason = %e.reason(), "a line was not sent");
            }
        }
    }
}

/// Lines typed on stdin, read by a task of their own; the channel closes at end of input.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).await.is_err() {
                return;
            }
        }
    });
    rx
}
