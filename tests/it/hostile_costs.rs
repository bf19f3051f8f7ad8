//! What a member can make a node spend: while a hand-made member floods the worst frame of
//! each kind, an honest member's echo round trips to the same node keep flowing, each well
//! within the heartbeat interval plus a small slack, and its link never goes down.
//!
//! The victim runs on a one-thread runtime of its own (see [`Isolated`]), so a frame whose
//! cost grows with what the node holds, or a reader that does not yield, shows as a stalled
//! round trip: on the code before these fixes each flood here stalled the victim for seconds
//! (GROUP_LEAVE and watched GROUP_JOIN scanned the group, a repeated MONITOR ID and a link's
//! teardown scanned the target's monitor list).

use std::time::Duration;

use reign::{
    DEFAULT_HEARTBEAT_INTERVAL, LinkDownReason, Node, NodeEvent, ProtocolViolation, Tunables,
};

use crate::mesh::next_down;
use crate::raw_member::{
    Isolated, RawMember, Watch, exit, group_join, group_leave, honest_c, link, monitor, name_add,
    name_remove, serve_echo, victim_b,
};
use crate::support::{Pki, WAIT, bounded, node};

/// The longest an honest round trip may take while a flood runs: one heartbeat interval plus
/// a slack for a loaded test machine. (The stalls these tests catch lasted seconds to minutes.)
const BOUND: Duration = DEFAULT_HEARTBEAT_INTERVAL.saturating_add(Duration::from_secs(1));

/// Victim `b` (isolated), honest member `c` (b dials it), hand-made member `a` (it dials b).
struct Scene {
    _pki: Pki,
    victim: Isolated,
    honest: Node,
    honest_events: reign::Events,
    victim_events: reign::Events,
    attacker: RawMember,
}

async fn scene() -> Scene {
    scene_with(|_| {}).await
}

/// [`scene`] with the victim's configuration changed by `edit`.
async fn scene_with(edit: impl FnOnce(&mut reign::NodeConfig)) -> Scene {
    scene_full(Pki::new("demo", &["a", "b", "c"]), edit, serve_echo).await
}

/// [`scene`] with the victim's services started by `serve` (the echo mailbox among them).
async fn scene_on(pki: Pki, serve: fn(&Node)) -> Scene {
    scene_full(pki, |_| {}, serve).await
}

async fn scene_full(
    pki: Pki,
    edit: impl FnOnce(&mut reign::NodeConfig),
    serve: fn(&Node),
) -> Scene {
    let honest = honest_c(&pki).await;
    let honest_events = honest.cluster().events();
    let mut victim_config = victim_b(&pki, &honest, Tunables::default());
    edit(&mut victim_config);
    let victim = Isolated::start(victim_config, serve);
    let mut victim_events = victim.node.cluster().events();
    bounded(honest.cluster().wait_for(&node("b"), WAIT))
        .await
        .expect("c meets b");
    let addr = victim.node.cluster().local_addr().unwrap();
    let attacker = RawMember::join(&pki, "a", "b", addr, &mut victim_events).await;
    Scene {
        _pki: pki,
        victim,
        honest,
        honest_events,
        victim_events,
        attacker,
    }
}

impl Scene {
    /// Writes `flood` while the honest member watches, and returns once the victim has handled
    /// all of it; asserts every round trip stayed within [`BOUND`].
    async fn flood_watched(&mut self, what: &str, flood: &[u8]) {
        let watch = Watch::start(&self.honest, "b");
        bounded(self.attacker.write(flood)).await.unwrap();
        self.attacker.barrier().await;
        self.assert_watch(what, watch).await;
    }

    async fn assert_watch(&mut self, what: &str, watch: Watch) {
        let (worst, n) = watch.finish().await;
        assert!(
            worst < BOUND,
            "{what}: an honest round trip took {worst:?} (bound {BOUND:?}, {n} round trips)"
        );
        assert!(n > 0, "{what}: no round trip completed");
        while let Ok(Some(e)) = self.honest_events.try_recv() {
            assert!(
                !matches!(e, NodeEvent::Down { .. }),
                "{what}: the honest member lost its link: {e}"
            );
        }
    }

    async fn finish(self) {
        let Scene { victim, honest, .. } = self;
        victim.stop().await;
        drop(honest);
    }

    /// The victim's echo mailbox (number, incarnation), as a peer learns it by LOOKUP.
    fn echo(&self) -> (u64, u64) {
        let id = self
            .victim
            .node
            .names()
            .whereis::<crate::raw_member::Ping>("echo")
            .expect("echo is registered")
            .id()
            .get();
        (id, self.victim.node.incarnation().get())
    }
}

fn frames(n: std::ops::Range<u64>, f: impl Fn(u64) -> Vec<u8>) -> Vec<u8> {
    n.flat_map(f).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_leave_flood_does_not_scan_the_group() {
    let mut s = scene().await;
    let members = 16_000;
    bounded(
        s.attacker
            .write(&frames(1..members + 1, |m| group_join("g", m, "t"))),
    )
    .await
    .unwrap();
    s.attacker.barrier().await;
    assert_eq!(
        s.victim.node.groups().member_refs("g").len(),
        members as usize
    );
    // Leaves of mailboxes that are not members: each one used to scan the whole group.
    let flood = frames(0..100_000, |m| group_leave("g", 1_000_000 + m));
    s.flood_watched("GROUP_LEAVE", &flood).await;
    assert_eq!(
        s.victim.node.groups().member_refs("g").len(),
        members as usize
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_join_flood_into_a_watched_group_does_not_rebuild_it() {
    let mut s = scene().await;
    // The chat's room: a watched group. Each JOIN used to rebuild and sort its member list.
    let mut room = s.victim.node.groups().watch("room");
    let members = 16_000;
    let mut flood = frames(1..members + 1, |m| group_join("room", m, "t"));
    // Repeats change nothing a reader sees and are not counted against the cap.
    flood.extend(frames(0..100_000, |m| {
        group_join("room", 1 + m % members, "t")
    }));
    s.flood_watched("GROUP_JOIN", &flood).await;
    let now = bounded(room.wait_for(|m| m.len() == members as usize))
        .await
        .expect("the node is alive");
    assert!(now.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_monitor_id_does_not_scan_the_targets_monitors() {
    let mut s = scene().await;
    let (echo, inc) = s.echo();
    let held = 60_000;
    bounded(
        s.attacker
            .write(&frames(1..held + 1, |m| monitor(m, 7, echo, inc))),
    )
    .await
    .unwrap();
    s.attacker.barrier().await;
    // The same monitor ID again and again: each replacement used to scan the echo mailbox's
    // 60,000 monitor records.
    let flood = frames(0..100_000, |m| monitor(1 + m % 8, 7, echo, inc));
    s.flood_watched("MONITOR (repeated ID)", &flood).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_past_the_cap_ends_the_link_and_its_teardown_does_not_stall() {
    let mut s = scene().await;
    let (echo, inc) = s.echo();
    let cap = reign::DEFAULT_MAX_MONITORS_PER_LINK as u64;
    let watch = Watch::start(&s.honest, "b");
    // One past the cap, all on one mailbox: the link ends, and its teardown removes 65,536
    // monitors from one mailbox (each removal used to scan its list).
    bounded(
        s.attacker
            .write(&frames(1..cap + 2, |m| monitor(m, 7, echo, inc))),
    )
    .await
    .unwrap();
    let down = next_down(&mut s.victim_events, &node("a")).await;
    assert!(
        matches!(
            down,
            LinkDownReason::ProtocolError(ProtocolViolation::TooManyMonitors { .. })
        ),
        "{down}"
    );
    s.attacker.closed().await;
    s.assert_watch("MONITOR past the cap, then teardown", watch)
        .await;
    s.finish().await;
}

/// A CERT_UPDATE frame with a chain of the 8 certificates the protocol allows, each the
/// largest real one at hand, and a signature that does not verify.
fn cert_update(der: &[u8]) -> Vec<u8> {
    let mut body = vec![0x60];
    body.extend_from_slice(&0x0403u16.to_be_bytes());
    let sig = [0x5a; 72];
    body.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    body.extend_from_slice(&sig);
    body.push(reign::tls::MAX_UPDATE_CHAIN as u8);
    for _ in 0..reign::tls::MAX_UPDATE_CHAIN {
        body.extend_from_slice(&(der.len() as u16).to_be_bytes());
        body.extend_from_slice(der);
    }
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// The worst CERT_UPDATE a member can send costs the victim a path verification over a
/// chain of 8 and a signature check, at most twice per link (the pace's burst; frames
/// already read are handled before the refusal's end of the link takes effect), then the
/// link: refused (GOODBYE 5) or past the pace, whichever the reader reaches first. The
/// honest member's round trips stay within the bound throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_certificate_update_burst_costs_two_verifications_and_the_link() {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut s = scene().await;
    let leaf = CertificateDer::from_pem_file(s._pki.path("a.pem")).unwrap();
    let watch = Watch::start(&s.honest, "b");
    let update = cert_update(leaf.as_ref());
    let burst: Vec<u8> = std::iter::repeat_n(update, 10).flatten().collect();
    bounded(s.attacker.write(&burst)).await.unwrap();
    let down = next_down(&mut s.victim_events, &node("a")).await;
    assert!(
        matches!(
            down,
            LinkDownReason::CertificateUpdateRefused(_)
                | LinkDownReason::ProtocolError(ProtocolViolation::CertificateUpdatesTooFast)
        ),
        "{down}"
    );
    s.attacker.closed().await;
    s.assert_watch("forged CERT_UPDATE burst", watch).await;
    s.finish().await;
}

/// A RENEW_INSTALL (a forwarded renewal, PROTOCOL.md section 8) with a chain of the 8
/// certificates allowed, each `der`.
fn renew_install(request: u64, der: &[u8]) -> Vec<u8> {
    let mut body = request.to_be_bytes().to_vec();
    body.extend_from_slice(&0u64.to_be_bytes());
    body.push(8);
    for _ in 0..8 {
        body.extend_from_slice(&(der.len() as u16).to_be_bytes());
        body.extend_from_slice(der);
    }
    crate::raw_member::frame(0x69, &body)
}

/// What a member can make a node do with the renewal frames it may forward: one key a
/// second, and a chain check only for a key it made for that member. Here one RENEW_PREPARE
/// is let through (a key is made, its CSR comes back), then 2,000 RENEW_INSTALLs of 8
/// certificates each (the first takes the key and is refused, the rest find no renewal),
/// 50,000 RENEW_PREPAREs (too soon: one more a second at most) and 50,000 RENEW_REPLYs that
/// answer nothing. Every request is answered, a chain is checked only for a key made for
/// this member; the honest member's round trips stay within the bound and the victim's
/// certificate is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_frame_flood_costs_one_key_and_one_chain_check() {
    use crate::raw_member::frame;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut s = scene().await;
    let before = std::fs::read(s._pki.path("b.pem")).unwrap();
    let leaf = CertificateDer::from_pem_file(s._pki.path("a.pem")).unwrap();
    bounded(
        s.attacker
            .write(&frame(0x68, &[1u64.to_be_bytes(), [0; 8]].concat())),
    )
    .await
    .unwrap();
    let a = node("a");
    let csr = tokio::select! {
        f = s.attacker.next_of(0x6a) => f,
        d = next_down(&mut s.victim_events, &a) => panic!("{d}"),
    };
    assert_eq!(csr[9], 0x73, "a CSR comes back: {:?}", &csr[..12]);

    let installs = 2_000u64;
    let mut flood = frames(0..installs, |r| renew_install(r, leaf.as_ref()));
    // Each a session of its own: the pace is the member's, whatever session it names.
    flood.extend(frames(0..50_000, |r| {
        frame(0x68, &[r.to_be_bytes(), r.to_be_bytes()].concat())
    }));
    flood.extend(frames(0..50_000, |r| {
        let mut b = r.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x7f, 0, 2, 0, 0]);
        frame(0x6a, &b)
    }));
    let started = std::time::Instant::now();
    s.flood_watched("RENEW_* frames", &flood).await;
    // Every RENEW_PREPARE and RENEW_INSTALL is answered. A RENEW_PREPARE is let through at
    // most once a second (on a loaded machine the flood may take more than one), and only
    // a key made for this member makes a RENEW_INSTALL cost a chain check.
    let (mut csr, mut refused, mut no_pending, mut busy) = (0u64, 0u64, 0u64, 0u64);
    for _ in 0..installs + 50_000 {
        let f = s.attacker.next_of(0x6a).await;
        match (f[9], u16::from_be_bytes([f[10], f[11]])) {
            (0x73, _) => csr += 1,
            (0x7f, 3) => refused += 1,
            (0x7f, 8) => no_pending += 1,
            (0x7f, 4) => busy += 1,
            (k, c) => panic!("reply kind {k:#04x}, code {c}"),
        }
    }
    let seconds = started.elapsed().as_secs();
    assert_eq!(csr + busy, 50_000);
    assert_eq!(refused + no_pending, installs);
    assert!(csr <= 1 + seconds, "{csr} keys made in {seconds} s");
    assert!(
        (1..=1 + csr).contains(&refused),
        "{refused} chain checks for {csr} more keys"
    );
    assert_eq!(std::fs::read(s._pki.path("b.pem")).unwrap(), before);
    s.finish().await;
}

/// A member telling of nodes that do not exist (PROTOCOL.md section 4, *Joining*), to a
/// victim whose membership is open: 100,000 HINTs of distinct node IDs at addresses nobody
/// answers, and 100,000 ADVERTISEs of changing addresses. The victim takes the first 64
/// frames and then one a second (the rest are ignored), so it learns at most that many
/// nodes, dials each at most 3 times and forgets it; the honest member's round trips stay
/// within the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_flood_costs_a_bounded_number_of_dials() {
    use crate::raw_member::frame;
    let mut s = scene_with(|c| c.seeds.push("127.0.0.1:1".into())).await;
    let text8 = |b: &mut Vec<u8>, t: &str| {
        b.push(t.len() as u8);
        b.extend_from_slice(t.as_bytes());
    };
    // Half the ghosts at an address nobody answers, half at a listener that takes the TCP
    // connection and drops it (a failed handshake counts as a failed dial too). One node per
    // address is learned: two ghosts at most.
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = sink.local_addr().unwrap().to_string();
    let _sink = tokio::spawn(async move {
        while let Ok((tcp, _)) = sink.accept().await {
            drop(tcp);
        }
    });
    let started = std::time::Instant::now();
    let mut flood = frames(0..100_000, |i| {
        let mut b = Vec::new();
        text8(&mut b, &format!("ghost-{i}"));
        text8(
            &mut b,
            if i % 2 == 0 {
                "127.0.0.1:1"
            } else {
                &sink_addr
            },
        );
        frame(0x63, &b)
    });
    flood.extend(frames(0..100_000, |i| {
        let mut b = Vec::new();
        text8(
            &mut b,
            &format!("10.{}.{}.{}:7001", i >> 16, (i >> 8) & 255, i & 255),
        );
        frame(0x62, &b)
    }));
    s.flood_watched("HINT / ADVERTISE flood", &flood).await;
    let known = s.victim.node.cluster().members().len() as u64;
    let seconds = started.elapsed().as_secs();
    // a, c, and at most one ghost per address (two), far below the budget's worth.
    assert!(
        known <= 2 + 2 && known <= 2 + 64 + seconds,
        "{known} nodes known after {seconds} s"
    );
    // The ghosts are forgotten once their dials fail.
    bounded(async {
        while s.victim.node.cluster().members().len() > 2 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_floods_and_their_teardown_cost_what_they_brought() {
    let mut s = scene().await;
    let names = 16_000;
    let mut flood = frames(1..names + 1, |m| name_add(&format!("n{m}"), m, "t", 0));
    flood.extend(frames(0..100_000, |m| name_remove(&format!("x{m}"), m)));
    flood.extend(frames(0..50_000, |m| {
        name_add(&format!("n{}", 1 + m % names), m, "t", 0)
    }));
    s.flood_watched("NAME_ADD / NAME_REMOVE", &flood).await;
    assert_eq!(s.victim.node.global().list().len(), names as usize);
    // The teardown of the link drops exactly its names.
    let watch = Watch::start(&s.honest, "b");
    drop(std::mem::replace(
        &mut s.attacker,
        // A second member connection replaces the first (a dials b): the old link's names go.
        RawMember::join(
            &s._pki,
            "a",
            "b",
            s.victim.node.cluster().local_addr().unwrap(),
            &mut s.victim_events,
        )
        .await,
    ));
    // Names go before the old link's Down is reported.
    assert_eq!(
        next_down(&mut s.victim_events, &node("a")).await,
        LinkDownReason::Replaced
    );
    assert!(s.victim.node.global().list().is_empty());
    s.assert_watch("names teardown", watch).await;
    s.finish().await;
}

/// The process's resident memory, in bytes (Linux).
/// A server on the victim, registered as `linked` (it traps nothing).
struct Target;

impl reign::Server for Target {
    type Msg = ();
    type Args = ();
    async fn init(_: (), ctx: &mut reign::Ctx<Self>) -> Result<Self, reign::Exit> {
        ctx.node()
            .names()
            .register_server("linked", &ctx.myself())?;
        Ok(Target)
    }
    async fn handle(&mut self, _: (), _: &mut reign::Ctx<Self>) -> Result<(), reign::Exit> {
        Ok(())
    }
}

fn serve_echo_and_target(node: &Node) {
    serve_echo(node);
    let node = node.clone();
    tokio::spawn(async move { node.spawn_local::<Target>(()).await });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_and_exit_floods_and_their_teardown_cost_what_they_brought() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let mut s = scene_on(pki, serve_echo_and_target).await;
    let (_, inc) = s.echo();
    let target = bounded(async {
        loop {
            if let Ok(t) = s.victim.node.names().whereis_server::<Target>("linked") {
                return t.mailbox_ref().id().get();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let cap = reign::DEFAULT_MAX_MONITORS_PER_LINK as u64;
    // The cap's worth of links to one server (each a link signal it handles), then EXITs
    // for no link (ignored), then a normal EXIT through each link (each ends its link; a
    // normal reason does not end the server).
    s.flood_watched(
        "LINK to the cap",
        &frames(1..cap + 1, |m| link(m, m, target, inc)),
    )
    .await;
    s.flood_watched(
        "EXIT for no link",
        &frames(0..100_000, |m| exit(cap + 1 + m, target, inc, 1)),
    )
    .await;
    s.flood_watched(
        "EXIT through each link",
        &frames(1..cap + 1, |m| exit(m, target, inc, 0)),
    )
    .await;
    assert!(
        s.victim
            .node
            .names()
            .whereis_server::<Target>("linked")
            .is_ok(),
        "a normal exit signal does not end a server"
    );
    // The cap again, one past it: the link ends, and its teardown gives each link's server
    // its noconnection exit.
    let watch = Watch::start(&s.honest, "b");
    bounded(
        s.attacker
            .write(&frames(1..cap + 2, |m| link(m, m, target, inc))),
    )
    .await
    .unwrap();
    let down = next_down(&mut s.victim_events, &node("a")).await;
    assert!(
        matches!(
            down,
            LinkDownReason::ProtocolError(ProtocolViolation::TooManyMonitors { .. })
        ),
        "{down}"
    );
    s.attacker.closed().await;
    s.assert_watch("LINK past the cap, then teardown", watch)
        .await;
    s.finish().await;
}

/// The victim's echo, and 50,000 more mailboxes held until the victim stops: a table the
/// size of a busy node's.
fn serve_echo_and_many(node: &Node) {
    serve_echo(node);
    let node = node.clone();
    tokio::spawn(async move {
        let held: Vec<_> = (0..50_000).map(|_| node.mailbox::<u64>()).collect();
        std::future::pending::<()>().await;
        drop(held);
    });
}

/// The mailbox table takes a mailbox number as its own hash (docs/SECURITY.md, the SEND
/// row): SEND floods at numbers a member chooses (close to a number it learned, in its low
/// bits or its high bits, or random), each frame for another mailbox so that every frame is
/// a lookup, cost the victim no more than any other refused SEND, with 50,000 mailboxes in
/// its table; also runs of one alternating between a live mailbox (an undecodable payload)
/// and its neighbour, so that the delivery cache is refilled per frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_floods_at_chosen_mailbox_numbers_cost_a_lookup_each() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let mut s = scene_on(pki, serve_echo_and_many).await;
    bounded(async {
        while s.victim.node.mailbox_count() < 50_000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let (echo, inc) = s.echo();
    let tag = "test.Ping";
    let n = 200_000;
    // splitmix64: numbers nobody was given.
    let random = |k: u64| {
        let mut z = k.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    type Numbers = Box<dyn Fn(u64) -> u64>;
    let patterns: [(&str, Numbers); 5] = [
        ("random numbers", Box::new(random)),
        (
            "low bits of a known number",
            Box::new(move |k| echo ^ (k + 1)),
        ),
        (
            "high bits of a known number",
            Box::new(move |k| echo ^ ((k + 1) << 40)),
        ),
        (
            "next to a known number",
            Box::new(move |k| echo.wrapping_add(k + 1)),
        ),
        (
            "a live mailbox and its neighbour, in turn",
            Box::new(move |k| if k % 2 == 0 { echo } else { echo ^ 1 }),
        ),
    ];
    for (what, number) in &patterns {
        s.flood_watched(
            what,
            &frames(0..n, |k| {
                crate::raw_member::send(number(k), inc, tag, &[0xff; 3])
            }),
        )
        .await;
    }
    let refused = s.victim.node.cluster().stats();
    assert!(
        refused.refused_no_mailbox >= 4 * n,
        "every frame for no mailbox was refused and counted: {refused:?}"
    );
    s.finish().await;
}

fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Measures what one member can make a node hold at each per-link cap, at its worst (the
/// longest names, groups and tags): the figures docs/SECURITY.md quotes. A measurement, not
/// a check: `cargo test -p reign --test it memory_at_the_caps -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Ignored because it measures the whole process's resident memory, which the tests running
// beside it in the same binary move by far more than what it measures: run it alone. What CI
// can check of it runs anyway: the caps themselves (`cluster_hostile`, `hostile_member`,
// `proto::tests`, the control-plane corpus replay) and that a link's end leaves nothing
// behind (`fuzz_control`, `a_node_shut_down_and_no_longer_referenced_is_freed`).
#[ignore = "a measurement of process RSS: run alone, by hand"]
#[allow(clippy::print_stderr)]
async fn memory_at_the_caps() {
    let mut s = scene().await;
    let long = |m: u64, c: char| format!("{m:c>255}").replace(' ', &c.to_string());
    let tag: String = "t".repeat(255);
    let announced = reign::DEFAULT_MAX_ANNOUNCED_PER_LINK as u64;
    let (echo, inc) = s.echo();
    let report = |what: &str, before: usize, n: u64| {
        let after = rss();
        eprintln!(
            "{what}: {n} entries, {} KiB resident, {} bytes each",
            (after.saturating_sub(before)) / 1024,
            after.saturating_sub(before) as u64 / n
        );
    };
    let before = rss();
    let names = frames(1..announced + 1, |m| name_add(&long(m, 'n'), m, &tag, 0));
    bounded(s.attacker.write(&names)).await.unwrap();
    s.attacker.barrier().await;
    drop(names);
    report("names (255-byte name and tag)", before, announced);
    // Withdraw them (NAME_REMOVE), then the same number of group memberships.
    let removes = frames(1..announced + 1, |m| name_remove(&long(m, 'n'), m));
    bounded(s.attacker.write(&removes)).await.unwrap();
    s.attacker.barrier().await;
    let before = rss();
    let joins = frames(1..announced + 1, |m| group_join(&long(m, 'g'), m, &tag));
    bounded(s.attacker.write(&joins)).await.unwrap();
    s.attacker.barrier().await;
    drop(joins);
    report(
        "group memberships (255-byte group and tag)",
        before,
        announced,
    );
    let cap = reign::DEFAULT_MAX_MONITORS_PER_LINK as u64;
    let before = rss();
    let monitors = frames(1..cap + 1, |m| monitor(m, 7, echo, inc));
    bounded(s.attacker.write(&monitors)).await.unwrap();
    s.attacker.barrier().await;
    drop(monitors);
    report("monitors (all on one mailbox)", before, cap);
    s.finish().await;
}

/// Identities (addresses, `MailboxRef`s) in payloads: the decoder's remembered node key.
#[path = "hostile_costs_identities.rs"]
mod identities;
