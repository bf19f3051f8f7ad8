//! A member that is buggy or malicious cannot leave a zombie link, forge a call's reply or
//! take a cluster-wide name by what it says about time.

use reign::{Address, Down, DownReason, LinkDownReason, NameConflict, NodeEvent, Tunables};
use serde::{Deserialize, Serialize};

use crate::mesh::{Mesh, next_down, next_event, seen_from};
use crate::raw_member::{
    config, group_join, name_add, send, send_named, serve_echo, victim_and_member,
    victim_and_member_logged_at,
};
use crate::support::{Pki, WAIT, bounded, node, rank};

/// A message whose `Drop` panics once it has come over the wire with `boom` set: a bug in
/// code reign calls, inside a link's task.
#[derive(Serialize, Deserialize)]
struct Bomb {
    boom: bool,
    #[serde(skip, default = "yes")]
    armed: bool,
}
fn yes() -> bool {
    true
}
impl Drop for Bomb {
    fn drop(&mut self) {
        if self.armed && self.boom && !std::thread::panicking() {
            panic!("a message type's Drop panicked (on purpose, in a test)");
        }
    }
}
reign::message!(Bomb = "test.Bomb");

#[derive(Debug)]
enum Watched {
    Down(Down),
}
impl From<Down> for Watched {
    fn from(d: Down) -> Self {
        Watched::Down(d)
    }
}

/// Finding: a panic in a link task left a zombie (peer still up, monitors never fired, names
/// and groups kept, and on the dialing side the dial loop gone: a partition until restart).
#[tokio::test]
async fn a_panic_in_a_link_task_is_cleaned_up_and_the_dialer_redials() {
    let mesh = Mesh::start(&["a", "b"]).await;
    let (a, b) = (mesh.node("a").clone(), mesh.node("b").clone());
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    let mut events = a.cluster().events();
    // What a knows about b: a membership, and a monitor of one of b's mailboxes.
    let (_b_inbox, b_addr) = b.mailbox::<u64>();
    b.groups().join("g", &b_addr).unwrap();
    let mut g = a.groups().watch("g");
    bounded(g.wait_for(|m| m.len() == 1)).await.unwrap();
    let (mut w, _) = a.local_mailbox::<Watched>();
    w.monitor(&seen_from(&a, &b_addr));
    // a (the dialer) holds a bounded mailbox; b overfills it: the refused message is dropped
    // in a's link task, and its Drop panics there.
    let (_bombs, bombs) = a.bounded_mailbox::<Bomb>(1);
    let remote = seen_from(&b, &bombs);
    remote
        .try_send(Bomb {
            boom: false,
            armed: false,
        })
        .map_err(|_| "send")
        .unwrap();
    remote
        .try_send(Bomb {
            boom: true,
            armed: false,
        })
        .map_err(|_| "send")
        .unwrap();
    assert_eq!(
        next_down(&mut events, &node("b")).await,
        LinkDownReason::Panic
    );
    // Cleaned up like any link: b's entries gone before the Down, monitors fired.
    assert!(a.groups().member_refs("g").is_empty());
    let Some(Watched::Down(d)) = w.recv_timeout(WAIT).await else {
        panic!("the monitor did not fire");
    };
    assert_eq!(d.reason, DownReason::NoConnection);
    // The dial loop outlived the link: a redials and the pair works again.
    bounded(a.cluster().wait_for(&node("b"), WAIT))
        .await
        .unwrap();
    let (mut inbox, addr) = a.mailbox::<u64>();
    seen_from(&b, &addr).try_send(5).unwrap();
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(5));
    bounded(g.wait_for(|m| m.len() == 1)).await.unwrap();
    mesh.shutdown().await;
}

#[derive(Serialize, Deserialize)]
struct Request {
    reply: Address<u64>,
}
reign::message!(Request = "test.Request");

/// Finding: mailbox numbers were sequential and a call took its reply from anyone, so a third
/// member spraying replies made another node's `call` return a forged value. Here the forger
/// even knows the reply mailbox's number: its reply is still refused.
#[tokio::test]
async fn a_call_takes_its_reply_only_from_the_callees_node() {
    let mesh = Mesh::start(&["a", "b", "c"]).await;
    let (a, b, c) = (
        mesh.node("a").clone(),
        mesh.node("b").clone(),
        mesh.node("c").clone(),
    );
    for (x, y) in [(&a, "b"), (&b, "c")] {
        bounded(x.cluster().wait_for(&node(y), WAIT)).await.unwrap();
    }
    let (mut service, service_addr) = c.mailbox::<Request>();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let req = service.recv().await;
        let _ = seen_tx.send(req.reply.clone());
        let _ = go_rx.await;
        req.reply.try_send(42).unwrap();
    });
    let callee = seen_from(&b, &service_addr);
    let call = tokio::spawn(async move { callee.call(|reply| Request { reply }, WAIT).await });
    let reply_addr = bounded(seen_rx).await.unwrap();
    assert_eq!(reply_addr.node_id(), &node("b"));
    // The forger, a third member, sends a reply of its own to the reply mailbox.
    let before = b.cluster().stats().refused_no_mailbox;
    seen_from(&a, &reply_addr).try_send(666).unwrap();
    // Its link is ordered: once this probe arrives, the forged reply has been handled.
    let (mut probe, probe_addr) = b.mailbox::<u64>();
    seen_from(&a, &probe_addr).try_send(1).unwrap();
    assert_eq!(probe.recv_timeout(WAIT).await, Some(1));
    assert_eq!(b.cluster().stats().refused_no_mailbox, before + 1);
    go_tx.send(()).unwrap();
    assert_eq!(bounded(call).await.unwrap(), Ok(42));
    mesh.shutdown().await;
}

#[derive(Debug, Serialize, Deserialize)]
enum Named {
    Conflict(NameConflict),
}
impl From<NameConflict> for Named {
    fn from(c: NameConflict) -> Self {
        Named::Conflict(c)
    }
}
reign::message!(Named = "test.Named");

/// Finding: the conflict rule trusted the claimant's own `registered_at`, so one NAME_ADD with
/// `registered_at = 0` took the chat's `alice` from its holder. Now what a claimant says about
/// time changes nothing: a name goes to the node that ranks first for it, whatever the claim
/// says, and the loser is told.
#[tokio::test]
async fn what_a_claimant_says_about_time_cannot_win_it_a_name() {
    let (_pki, victim, _log, mut attacker) = victim_and_member(|_| {}).await;
    let b = victim.node.clone();
    // Names the holder b ranks first for, and names a ranks first for.
    let kept: Vec<String> = (0..)
        .map(|i| format!("alice{i}"))
        .filter(|n| rank(n, "b") < rank(n, "a"))
        .take(3)
        .collect();
    let lost: Vec<String> = (0..)
        .map(|i| format!("bob{i}"))
        .filter(|n| rank(n, "a") < rank(n, "b"))
        .take(3)
        .collect();
    let (mut inbox, addr) = b.mailbox::<Named>();
    for n in kept.iter().chain(&lost) {
        b.global().register(n, &addr).unwrap();
    }
    // Claims "registered" at the dawn of time, and at its end.
    let mut claims = Vec::new();
    for (i, n) in kept.iter().chain(&lost).enumerate() {
        let at = if i % 2 == 0 { 0 } else { u64::MAX };
        claims.extend(name_add(n, 5, "test.Named", at));
    }
    bounded(attacker.write(&claims)).await.unwrap();
    attacker.barrier().await;
    for n in &kept {
        assert_eq!(
            b.global().whereis::<Named>(n).unwrap(),
            addr,
            "{n}: a member took a name its holder ranks first for"
        );
    }
    for n in &lost {
        let winner = b.global().whereis::<Named>(n).unwrap();
        assert_eq!(winner.node_id(), &node("a"), "{n}");
    }
    // The holder is told of each name it lost, and of no other.
    // (They were queued before the barrier's answer.)
    let mut told = Vec::new();
    while let Some(Named::Conflict(c)) = inbox.try_recv() {
        told.push(c.name);
    }
    told.sort();
    let mut expected = lost.clone();
    expected.sort();
    assert_eq!(told, expected);
    drop(attacker);
    victim.stop().await;
}

/// Findings: peer text reached log lines unescaped (a type tag with ESC bytes or newlines
/// forged whole lines), and anything a peer can trigger was logged once per frame. Now
/// every such line is on a budget per call site and shows peer text escaped.
#[tokio::test]
async fn peer_text_is_escaped_and_refusals_are_logged_on_a_budget() {
    let (_pki, victim, log, mut attacker) = victim_and_member(serve_echo).await;
    let b = victim.node.clone();
    let evil = "x\n\x1b[2J\nevent: z up (incarnation 1)\u{202e}";
    let inc = b.incarnation().get();
    let mut flood = Vec::new();
    for i in 0..5_000u64 {
        // A tag no mailbox has, to a mailbox that does not exist, and to a name nobody holds.
        flood.extend(send(i, inc, evil, b"\x01"));
        flood.extend(send_named(evil, "test.Ping", b"\x01"));
    }
    bounded(attacker.write(&flood)).await.unwrap();
    attacker.barrier().await;
    let text = log.text();
    let lines = text.lines().count();
    assert!(lines > 0, "the refusals were logged");
    assert!(
        lines <= 4 * reign::tls::ratelimit::BURST as usize,
        "{lines} lines for 10,000 refusals:\n{text}"
    );
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && (c.is_control() || c == '\u{202e}')),
        "raw control characters reached the log:\n{text:?}"
    );
    assert!(
        text.lines().all(|l| !l.starts_with("event:")),
        "a forged line:\n{text}"
    );
    assert_eq!(b.cluster().stats().refused_no_mailbox, 10_000);
    drop(attacker);
    victim.stop().await;
}

/// Messages from a link that a full mailbox refuses are counted and logged per run, on a
/// budget, even at the debug level: a member's runs of one (here SEND_NAMED frames, each
/// delivered alone) to a full mailbox do not print a line each.
#[tokio::test]
async fn runs_of_one_to_a_full_mailbox_are_logged_on_a_budget() {
    fn serve_full(node: &reign::Node) {
        let (inbox, addr) = node.bounded_mailbox::<u64>(1);
        node.names().register("full", &addr).expect("register full");
        // Kept, never read: full after the first message.
        tokio::spawn(async move {
            let _inbox = inbox;
            std::future::pending::<()>().await;
        });
    }
    let (_pki, victim, log, mut attacker) =
        victim_and_member_logged_at(serve_full, tracing::Level::DEBUG).await;
    let b = victim.node.clone();
    let mut flood = Vec::new();
    for _ in 0..5_000 {
        flood.extend(send_named("full", "u64", b"\x01"));
    }
    bounded(attacker.write(&flood)).await.unwrap();
    attacker.barrier().await;
    let stats = b.cluster().stats();
    assert_eq!((stats.messages_delivered, stats.refused_full), (1, 4_999));
    let text = log.text();
    // How many of the run's refusal lines get through depends on other tests too: a call
    // site's budget is the process's, and tests that fill mailboxes run beside this one. What
    // this test checks is the ceiling, and that no line is per message.
    let refusals = text.lines().filter(|l| l.contains("refused")).count();
    assert!(
        refusals <= 4 * reign::tls::ratelimit::BURST as usize,
        "{refusals} lines for 4,999 refusals"
    );
    assert!(
        !text.contains("mailbox full"),
        "a line per refused message:\n{}",
        text.lines()
            .filter(|l| l.contains("mailbox full"))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(attacker);
    victim.stop().await;
}

/// Finding: certificates were checked once, so a link whose peer's certificate expired while
/// connected carried on. Now the link ends at the peer's not-after, with a typed reason, and
/// the peer cannot come back with that certificate.
#[tokio::test]
async fn a_link_ends_when_the_peers_certificate_expires() {
    let pki = Pki::new("demo", &["a", "b"]);
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let mut p = reign_certgen::NodeCertParams::new("a");
    p.not_after = Some(not_after.replace_nanosecond(0).unwrap());
    pki.issue_custom(&p);
    let b = bounded(reign::Node::start(config(
        &pki,
        "b",
        &[("a", "127.0.0.1:1".into())],
        Tunables::default(),
    )))
    .await
    .unwrap();
    let mut b_events = b.cluster().events();
    let a = bounded(reign::Node::start(config(
        &pki,
        "a",
        &[("b", b.cluster().local_addr().unwrap().to_string())],
        Tunables::default(),
    )))
    .await
    .unwrap();
    let mut a_events = a.cluster().events();
    bounded(b.cluster().wait_for(&node("a"), WAIT))
        .await
        .unwrap();
    assert_eq!(
        next_down(&mut b_events, &node("a")).await,
        LinkDownReason::CertificateExpired
    );
    // a redials with its expired certificate and is refused.
    let refused = next_event(&mut a_events, |e| matches!(e, NodeEvent::Refused { .. })).await;
    assert!(
        matches!(
            refused,
            NodeEvent::Refused {
                reason: reign::tls::Refusal::Expired { .. },
                ..
            }
        ),
        "{refused}"
    );
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

/// Finding: payload decoding was unbounded: a 10-byte SEND_NAMED whose string length said
/// 2^45 aborted the process (the allocation failed), 2^63 panicked. Now such payloads are
/// refused and counted, the link stays up, and the node serves on.
#[tokio::test]
async fn a_payload_declaring_a_huge_length_is_refused_and_the_link_stays() {
    let (_pki, victim, _log, mut attacker) = victim_and_member(serve_echo).await;
    let b = victim.node.clone();
    // A Ping is (n: u64, reply: (node: string, incarnation: u64, mailbox: u64)): n = 0,
    // then the node string's varint length as a u64 (marker 253).
    let mut flood = Vec::new();
    for len in [1u64 << 45, 1 << 63, u64::MAX] {
        let mut payload = vec![0, 253];
        payload.extend_from_slice(&len.to_le_bytes());
        payload.push(b'x');
        flood.extend(send_named("echo", "test.Ping", &payload));
    }
    bounded(attacker.write(&flood)).await.unwrap();
    attacker.barrier().await;
    assert_eq!(b.cluster().stats().refused_other, 3);
    // The link is still in service, and the echo answers a well-formed request.
    let (mut inbox, reply) = b.mailbox::<u64>();
    let mut ping = vec![7];
    ping.push(1);
    ping.push(b'b');
    let encoded = |v: u64| {
        let mut out = Vec::new();
        match v {
            0..=250 => out.push(v as u8),
            _ => {
                out.push(253);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    };
    ping.extend(encoded(b.incarnation().get()));
    ping.extend(encoded(reply.id().get()));
    bounded(attacker.write(&send_named("echo", "test.Ping", &ping)))
        .await
        .unwrap();
    assert_eq!(inbox.recv_timeout(WAIT).await, Some(7));
    assert!(b.cluster().connected().iter().any(|(n, _)| *n == node("a")));
    drop(attacker);
    victim.stop().await;
}

/// At the cap, a repeat of a name or membership the member already holds is not one more
/// (an outside test had the repeat end the link); the first new one past the cap ends it, and
/// changes nothing on its way out.
#[tokio::test]
async fn at_the_cap_a_repeat_is_not_one_more() {
    let (_pki, victim, _log, mut attacker) = victim_and_member(serve_echo).await;
    let b = victim.node.clone();
    let mut events = b.cluster().events();
    let cap = reign::DEFAULT_MAX_ANNOUNCED_PER_LINK as u64;
    let mut frames: Vec<u8> = (1..cap).flat_map(|m| group_join("g", m, "t")).collect();
    frames.extend(name_add("held", 1, "t", 0));
    // At the cap: repeats of both, with other details.
    for m in 1..100 {
        frames.extend(group_join("g", m, "t"));
        frames.extend(name_add("held", 1 + m % 2, "t", m));
    }
    bounded(attacker.write(&frames)).await.unwrap();
    attacker.barrier().await;
    assert_eq!(b.groups().member_refs("g").len() as u64, cap - 1);
    // One more, new: the link ends, and the newcomer's name never resolves.
    bounded(attacker.write(&name_add("new", 9, "t", 0)))
        .await
        .unwrap();
    let down = next_down(&mut events, &node("a")).await;
    assert!(
        matches!(
            down,
            LinkDownReason::ProtocolError(reign::ProtocolViolation::TooManyAnnounced { .. })
        ),
        "{down}"
    );
    assert!(b.global().list().is_empty());
    drop(attacker);
    victim.stop().await;
}

/// A message type that takes system messages as variants, as the chat's does.
#[derive(Debug, Serialize, Deserialize)]
enum Chatty {
    Line(String),
    Down(Down),
    Conflict(NameConflict),
}
reign::message!(Chatty = "test.Chatty");

/// Finding (outside test of the chat): a member sent a `NameConflict` inside an ordinary
/// message, and the participant believed it had lost its nickname and quit. `Down` and
/// `NameConflict` are made only by the node that delivers them: inside a message from another
/// node they do not decode, and the message is refused.
#[tokio::test]
async fn a_peer_cannot_forge_a_down_or_a_name_conflict_inside_a_message() {
    let (_pki, victim, _log, mut attacker) = victim_and_member(|_| {}).await;
    let b = victim.node.clone();
    let (mut inbox, addr) = b.mailbox::<Chatty>();
    b.names().register("chatty", &addr).unwrap();
    let before = b.cluster().stats().refused_other;
    let mut frames = Vec::new();
    // Line("hi")
    frames.extend(send_named("chatty", "test.Chatty", &[0, 2, b'h', b'i']));
    // Down { monitor: 5, target: ("a", 9, 7), reason: Normal }
    frames.extend(send_named(
        "chatty",
        "test.Chatty",
        &[1, 5, 1, b'a', 9, 7, 0],
    ));
    // NameConflict { name: "n", winner: ("a", 9, 7) }
    frames.extend(send_named(
        "chatty",
        "test.Chatty",
        &[2, 1, b'n', 1, b'a', 9, 7],
    ));
    bounded(attacker.write(&frames)).await.unwrap();
    attacker.barrier().await;
    assert!(matches!(inbox.try_recv(), Some(Chatty::Line(l)) if l == "hi"));
    assert!(
        inbox.try_recv().is_none(),
        "a forged system message was delivered"
    );
    assert_eq!(b.cluster().stats().refused_other, before + 2);
    drop(attacker);
    victim.stop().await;
}

/// The higher node of a pair does not dial; a connection from it while the pair has a link is
/// completed (the certificate and HELLO are valid) and then closed with GOODBYE reason 1 ("a
/// link exists") and close_notify, as PROTOCOL.md section 4 says; the existing link stays.
#[tokio::test]
async fn a_second_connection_from_the_higher_node_is_told_a_link_exists() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new("demo", &["a", "b"]);
    let victim = crate::raw_member::Isolated::start(
        crate::raw_member::config(
            &pki,
            "a",
            &[("b", "127.0.0.1:1".into())],
            Tunables::default(),
        ),
        |_| {},
    );
    let mut events = victim.node.cluster().events();
    let addr = victim.node.cluster().local_addr().unwrap();
    let mut first = crate::raw_member::RawMember::join(&pki, "b", "a", addr, &mut events).await;
    // A second connection as b, in the same life (another incarnation while the first link
    // is alive would be another process holding b's ID: cluster_join's duplicate test).
    let client = crate::support::raw_client_config(
        &pki.path("ca.pem"),
        Some((&pki.path("b.pem"), &pki.path("b.key"))),
    );
    let mut wire = bounded(crate::support::raw_connect(client, addr, "a"))
        .await
        .unwrap();
    bounded(wire.write_all(&crate::support::hello_frame(1, 9, &pki.cluster, "b")))
        .await
        .unwrap();
    let mut len = [0u8; 4];
    bounded(wire.read_exact(&mut len)).await.unwrap();
    let mut hello = vec![0u8; u32::from_be_bytes(len) as usize];
    bounded(wire.read_exact(&mut hello)).await.unwrap();
    assert_eq!(hello[0], 0x01, "a's HELLO: the handshake was accepted");
    bounded(wire.write_all(&[0, 0, 0, 1, 0x03])).await.unwrap();
    // Then GOODBYE 1, then the end of the stream (close_notify: a clean EOF).
    let mut rest = Vec::new();
    bounded(wire.read_to_end(&mut rest)).await.unwrap();
    assert_eq!(
        rest,
        [0, 0, 0, 2, 0x31, 1],
        "GOODBYE reason 1, then close_notify"
    );
    // The first link is still in service.
    first.barrier().await;
    assert_eq!(victim.node.cluster().connected().len(), 1);
    victim.stop().await;
}
