//! The control plane on the socket-free harness: virtual time, in-memory pipes, faults.
//! Every test here runs in microseconds of real time and never sleeps.

use std::time::Duration;

use super::sim::{Fault, Seen, Sim};
use crate::proto::reason::{LinkDownReason, ProtocolViolation};
use crate::proto::wire::{Frame, Text};
use crate::{DownReason, MonitorId};

const MS: Duration = Duration::from_millis(1);

fn ups(sim: &Sim, x: usize, y: usize) -> usize {
    sim.seen(x, y).iter().filter(|s| **s == Seen::Up).count()
}

#[test]
fn a_mesh_comes_up_and_heartbeats_keep_an_idle_link_up() {
    let mut sim = Sim::mesh(3, MS);
    for x in 0..3 {
        for y in 0..3 {
            if x != y {
                assert!(sim.is_up(x, y), "{x} -> {y}");
                assert_eq!(ups(&sim, x, y), 1);
            }
        }
    }
    // Ten minutes of nothing but heartbeats.
    sim.run_for(Duration::from_secs(600));
    assert!(sim.is_up(0, 1) && sim.is_up(1, 0));
    assert_eq!(sim.link_down(0, 1), None);
}

#[test]
fn silence_ends_the_link_at_the_exact_instant_the_limit_is_reached() {
    let mut sim = Sim::mesh(2, MS);
    sim.run_for(Duration::from_millis(1234));
    // From now on nothing from n1 reaches n0.
    sim.set_fault(1, 0, Fault::Blackhole);
    let last = sim.link(0, 1).last_received();
    let limit = sim.limits.silence_limit;
    sim.run_until(last + limit - Duration::from_nanos(1));
    assert!(sim.is_up(0, 1), "still up one nanosecond before the limit");
    sim.run_until(last + limit);
    assert_eq!(
        sim.link_down(0, 1),
        Some((last + limit, LinkDownReason::HeartbeatTimeout))
    );
    // n1 is told by the close... which the blackhole toward it does not hold.
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link_down(1, 0).map(|(_, r)| r),
        Some(LinkDownReason::ClosedByPeer)
    );
}

#[test]
fn delay_under_the_limit_is_not_silence_and_over_it_is() {
    // Heartbeats every 100 ms, limit 800 ms: a 700 ms one-way delay keeps the link up.
    let mut sim = Sim::mesh(2, Duration::from_millis(700));
    sim.run_for(Duration::from_secs(60));
    assert!(sim.is_up(0, 1) && sim.is_up(1, 0));
    // With 900 ms, both sides time out before anything arrives.
    let mut sim = Sim::new(2, Duration::from_millis(900));
    sim.connect(0, 1);
    sim.run_for(Duration::from_secs(5));
    assert_eq!(
        sim.link_down(0, 1).map(|(_, r)| r),
        Some(LinkDownReason::HeartbeatTimeout)
    );
    assert_eq!(ups(&sim, 0, 1), 0, "never in service, never reported up");
    assert!(
        sim.seen(0, 1)
            .iter()
            .all(|s| !matches!(s, Seen::LinkDown { reported: true, .. }))
    );
}

#[test]
fn lost_bytes_are_silence() {
    let mut sim = Sim::mesh(2, MS);
    sim.set_fault(1, 0, Fault::Drop);
    sim.set_fault(0, 1, Fault::Drop);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(
        sim.link_down(0, 1).map(|(_, r)| r),
        Some(LinkDownReason::HeartbeatTimeout)
    );
    assert_eq!(
        sim.link_down(1, 0).map(|(_, r)| r),
        Some(LinkDownReason::HeartbeatTimeout)
    );
}

#[test]
fn a_repeated_synced_is_reported_up_once() {
    let mut sim = Sim::mesh(2, MS);
    for _ in 0..5 {
        sim.transmit(1, 0, &Frame::Synced);
    }
    sim.run_for(10 * MS);
    assert_eq!(ups(&sim, 0, 1), 1);
    assert!(sim.is_up(0, 1));
}

#[test]
fn a_peer_cannot_spoof_a_down() {
    let mut sim = Sim::mesh(2, MS);
    let watcher = sim.mailbox(0);
    let target = sim.mailbox(1);
    let m = sim.monitor(0, watcher, 1, target).unwrap();
    sim.run_for(10 * MS);
    let inc1 = sim.nodes[1].incarnation;
    let down = |monitor: MonitorId, watcher: u64, target: u64, inc: u64| Frame::Down {
        monitor: monitor.0,
        watcher,
        target,
        target_incarnation: inc,
        reason: crate::proto::wire::DOWN_USER,
        text: Text::new("forged"),
    };
    // A monitor n0 never asked for; the real one with the wrong watcher, target or life.
    for f in [
        down(MonitorId(999), watcher, target, inc1),
        down(m, watcher + 1, target, inc1),
        down(m, watcher, target + 1, inc1),
        down(m, watcher, target, inc1 + 1),
    ] {
        sim.transmit(1, 0, &f);
    }
    sim.run_for(10 * MS);
    assert!(
        !sim.seen(0, 1)
            .iter()
            .any(|s| matches!(s, Seen::Down { .. })),
        "{:?}",
        sim.seen(0, 1)
    );
    // The real monitor still fires, once, with the real reason.
    sim.end_mailbox(1, target, DownReason::User("bye".into()));
    sim.run_for(10 * MS);
    let downs: Vec<Seen> = sim
        .seen(0, 1)
        .into_iter()
        .filter(|s| matches!(s, Seen::Down { .. }))
        .collect();
    assert_eq!(
        downs,
        vec![Seen::Down {
            watcher,
            monitor: m,
            target,
            reason: DownReason::User("bye".into()),
            link: None,
        }]
    );
    assert_eq!(sim.hooks(1), 0);
}

#[test]
fn a_lookup_reply_counts_only_from_the_peer_asked() {
    let mut sim = Sim::mesh(3, MS);
    sim.nodes[1]
        .registry
        .insert("svc".into(), (7, "tag".into()));
    let request = sim.lookup(0, 1, "svc").unwrap();
    // n2 answers first, with its own idea of the mailbox.
    sim.transmit(
        2,
        0,
        &Frame::LookupReply {
            request,
            found: Some((666, Text::new("tag"))),
        },
    );
    sim.run_for(10 * MS);
    let answers: Vec<Seen> = sim.nodes[0]
        .seen
        .iter()
        .filter(|(_, _, s)| matches!(s, Seen::LookupAnswered { .. }))
        .map(|(_, p, s)| {
            assert_eq!(*p, 1, "answered over the link asked");
            s.clone()
        })
        .collect();
    assert_eq!(
        answers,
        vec![Seen::LookupAnswered {
            request,
            found: Some((7, "tag".into()))
        }]
    );
    // A second reply to the same request is ignored.
    sim.transmit(
        1,
        0,
        &Frame::LookupReply {
            request,
            found: None,
        },
    );
    sim.run_for(10 * MS);
    assert_eq!(
        sim.seen(0, 1)
            .iter()
            .filter(|s| matches!(s, Seen::LookupAnswered { .. }))
            .count(),
        1
    );
}

#[test]
fn pending_lookups_and_monitors_end_with_their_link() {
    let mut sim = Sim::mesh(2, MS);
    let watcher = sim.mailbox(0);
    let target = sim.mailbox(1);
    let m = sim.monitor(0, watcher, 1, target).unwrap();
    let whole = sim.monitor(0, watcher, 1, 0).unwrap();
    // n1 never answers lookups (it is blackholed from here on).
    sim.set_fault(1, 0, Fault::Blackhole);
    let request = sim.lookup(0, 1, "x").unwrap();
    sim.run_for(Duration::from_secs(1));
    let mut seen = sim.seen(0, 1);
    seen.retain(|s| !matches!(s, Seen::Up));
    seen.sort_by_key(|s| format!("{s:?}"));
    let no_connection = |monitor| Seen::Down {
        watcher,
        monitor,
        target: if monitor == m { target } else { 0 },
        reason: DownReason::NoConnection,
        // The peer went silent: it may still run.
        link: Some(LinkDownReason::HeartbeatTimeout),
    };
    let mut want = vec![
        no_connection(m),
        no_connection(whole),
        Seen::LookupAbandoned { request },
        Seen::LinkDown {
            reason: LinkDownReason::HeartbeatTimeout,
            reported: true,
        },
    ];
    want.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(seen, want);
    // A monitor asked after the end fails at once; no lookup can be sent.
    assert_eq!(
        sim.monitor(0, watcher, 1, target),
        Err(DownReason::NoConnection)
    );
    assert_eq!(sim.lookup(0, 1, "x"), None);
    // On n1, the hook of n0's monitor went with the link.
    sim.set_fault(1, 0, Fault::Deliver);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.hooks(1), 0);
}

#[test]
fn a_monitor_of_a_mailbox_gone_or_of_another_life_is_answered_no_such_mailbox() {
    let mut sim = Sim::mesh(2, MS);
    let watcher = sim.mailbox(0);
    let target = sim.mailbox(1);
    sim.end_mailbox(1, target, DownReason::Normal);
    let gone = sim.monitor(0, watcher, 1, target).unwrap();
    // Another life: n0 asks with an incarnation n1 does not have (a hostile frame).
    sim.transmit(
        0,
        1,
        &Frame::Monitor {
            monitor: 77,
            watcher,
            target,
            target_incarnation: 5,
        },
    );
    sim.run_for(10 * MS);
    let downs: Vec<Seen> = sim
        .seen(0, 1)
        .into_iter()
        .filter(|s| matches!(s, Seen::Down { .. }))
        .collect();
    assert_eq!(
        downs,
        vec![Seen::Down {
            watcher,
            monitor: gone,
            target,
            reason: DownReason::NoSuchMailbox,
            link: None,
        }]
    );
    assert_eq!(sim.hooks(1), 0);
}

#[test]
fn demonitor_means_no_down_and_no_hook_left() {
    let mut sim = Sim::mesh(2, MS);
    let watcher = sim.mailbox(0);
    let target = sim.mailbox(1);
    let m = sim.monitor(0, watcher, 1, target).unwrap();
    sim.run_for(10 * MS);
    assert_eq!(sim.hooks(1), 1);
    sim.demonitor(0, 1, m);
    sim.run_for(10 * MS);
    assert_eq!(sim.hooks(1), 0);
    sim.end_mailbox(1, target, DownReason::Normal);
    sim.run_for(10 * MS);
    assert!(
        !sim.seen(0, 1)
            .iter()
            .any(|s| matches!(s, Seen::Down { .. }))
    );
}

#[test]
fn the_monitor_cap_ends_the_link_and_a_repeat_is_not_one_more() {
    let mut sim = Sim::mesh(2, MS);
    let target = sim.mailbox(1);
    let inc1 = sim.nodes[1].incarnation;
    let monitor = |id: u64| Frame::Monitor {
        monitor: id,
        watcher: 1,
        target,
        target_incarnation: inc1,
    };
    let max = sim.limits.max_monitors as u64;
    for id in 0..max {
        sim.transmit(0, 1, &monitor(id));
    }
    // Repeats of held IDs replace them.
    for id in 0..max {
        sim.transmit(0, 1, &monitor(id));
    }
    sim.run_for(10 * MS);
    assert!(sim.is_up(1, 0));
    assert_eq!(sim.link(1, 0).held().0, max as usize);
    assert_eq!(sim.hooks(1), max as usize);
    // At the cap, a MONITOR of a mailbox that has ended holds nothing: answered, not counted.
    let gone = sim.mailbox(1);
    sim.end_mailbox(1, gone, DownReason::Normal);
    sim.transmit(
        0,
        1,
        &Frame::Monitor {
            monitor: 1000,
            watcher: 1,
            target: gone,
            target_incarnation: inc1,
        },
    );
    sim.run_for(10 * MS);
    assert!(
        sim.is_up(1, 0),
        "a monitor of an ended mailbox is not one more"
    );
    assert_eq!(sim.link(1, 0).held().0, max as usize);
    sim.transmit(0, 1, &monitor(max));
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link_down(1, 0).map(|(_, r)| r),
        Some(LinkDownReason::ProtocolError(
            ProtocolViolation::TooManyMonitors { max: max as usize }
        ))
    );
    assert_eq!(sim.hooks(1), 0, "the link's hooks went with it");
}

#[test]
fn the_announce_cap_counts_what_the_peer_holds_over_the_link() {
    let mut sim = Sim::mesh(2, MS);
    let max = sim.limits.max_announced;
    let add = |i: usize| Frame::NameAdd {
        name: Text::new(&format!("name{i}")),
        mailbox: 1,
        tag: Text::new("t"),
        registered_at: 0,
    };
    let join = |i: usize| Frame::GroupJoin {
        group: Text::new("g"),
        mailbox: i as u64,
        tag: Text::new("t"),
    };
    for i in 0..max / 2 {
        sim.transmit(0, 1, &add(i));
        sim.transmit(0, 1, &join(i));
    }
    // Repeats, and a claim moved to another mailbox, are not more.
    for i in 0..max / 2 {
        sim.transmit(0, 1, &add(i));
        sim.transmit(0, 1, &join(i));
    }
    sim.transmit(
        0,
        1,
        &Frame::NameAdd {
            name: Text::new("name0"),
            mailbox: 2,
            tag: Text::new("t"),
            registered_at: 0,
        },
    );
    sim.run_for(10 * MS);
    assert_eq!(sim.link(1, 0).held().2, max);
    // Withdrawing makes room; a withdrawal of what it does not hold does not.
    sim.transmit(
        0,
        1,
        &Frame::NameRemove {
            name: Text::new("name0"),
            mailbox: 1,
        },
    );
    sim.transmit(
        0,
        1,
        &Frame::GroupLeave {
            group: Text::new("g"),
            mailbox: 999,
        },
    );
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link(1, 0).held().2,
        max,
        "name0 is claimed for mailbox 2"
    );
    sim.transmit(
        0,
        1,
        &Frame::NameRemove {
            name: Text::new("name0"),
            mailbox: 0,
        },
    );
    sim.transmit(0, 1, &add(100));
    sim.run_for(10 * MS);
    assert!(sim.is_up(1, 0));
    assert_eq!(sim.link(1, 0).held().2, max);
    // One more ends the link; the frame past the cap is not applied.
    sim.transmit(0, 1, &add(101));
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link_down(1, 0).map(|(_, r)| r),
        Some(LinkDownReason::ProtocolError(
            ProtocolViolation::TooManyAnnounced { max }
        ))
    );
    assert!(!sim.seen(1, 0).contains(&Seen::NameAdd {
        name: "name101".into(),
        mailbox: 1
    }));
    // And the node forgets exactly what the link held.
    assert!(sim.seen(1, 0).contains(&Seen::Forgot {
        names: max / 2,
        memberships: max / 2
    }));
}

#[test]
fn garbage_ends_the_link_as_undecodable_and_the_peer_sees_the_close() {
    let mut sim = Sim::mesh(2, MS);
    // A frame of length 3 whose type byte is unknown.
    sim.inject(1, 0, &[0, 0, 0, 3, 0xEE, 1, 2]);
    sim.run_for(10 * MS);
    assert!(matches!(
        sim.link_down(0, 1).map(|(_, r)| r),
        Some(LinkDownReason::ProtocolError(
            ProtocolViolation::Undecodable(_)
        ))
    ));
    assert_eq!(
        sim.link_down(1, 0).map(|(_, r)| r),
        Some(LinkDownReason::ClosedByPeer)
    );
}

#[test]
fn goodbye_ends_the_link_as_a_shutdown() {
    let mut sim = Sim::mesh(2, MS);
    sim.transmit(1, 0, &Frame::Goodbye { reason: 0 });
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link_down(0, 1).map(|(_, r)| r),
        Some(LinkDownReason::PeerShutDown)
    );
}

/// GOODBYE 2 to 5 say which verdict on this node's certificate ended the link, 6 that the
/// peer keeps another process holding this node's ID; any other value is the end of the
/// link as a shutdown.
#[test]
fn goodbye_says_why_the_peer_refuses_this_nodes_certificate() {
    use crate::proto::reason::CertificateVerdict as V;
    for (reason, expected) in [
        (1, LinkDownReason::PeerShutDown),
        (2, LinkDownReason::RefusedByPeer(V::Revoked)),
        (3, LinkDownReason::RefusedByPeer(V::Expired)),
        (4, LinkDownReason::RefusedByPeer(V::Untrusted)),
        (5, LinkDownReason::RefusedByPeer(V::Refused)),
        (6, LinkDownReason::DuplicateId),
        (7, LinkDownReason::PeerShutDown),
        (255, LinkDownReason::PeerShutDown),
    ] {
        let mut sim = Sim::mesh(2, MS);
        sim.transmit(1, 0, &Frame::Goodbye { reason });
        sim.run_for(10 * MS);
        assert_eq!(
            sim.link_down(0, 1).map(|(_, r)| r),
            Some(expected),
            "GOODBYE {reason}"
        );
    }
    for v in [V::Revoked, V::Expired, V::Untrusted, V::Refused] {
        assert_eq!(V::from_goodbye(v.goodbye()), Some(v));
    }
}

/// A node whose certificate changes tells each peer once, and again no sooner than its pace
/// allows, whatever the number of reloads; the peer hands each update to its driver.
#[test]
fn certificate_updates_go_at_their_pace() {
    let mut sim = Sim::mesh(2, MS);
    sim.run_for(10 * MS);
    sim.clear_seen();
    for _ in 0..5 {
        sim.certificate_changed(0);
        sim.run_for(100 * MS);
    }
    let updates = |sim: &Sim| {
        sim.seen(1, 0)
            .iter()
            .filter(|s| matches!(s, Seen::CertificateUpdate { certificates: 1 }))
            .count()
    };
    assert_eq!(
        updates(&sim),
        1,
        "five reloads in half a second: one update at once"
    );
    sim.run_for(Duration::from_secs(2));
    assert_eq!(updates(&sim), 2, "and the latest once the period passed");
    sim.run_for(Duration::from_secs(10));
    assert_eq!(updates(&sim), 2, "then nothing more");
    assert!(sim.is_up(0, 1) && sim.is_up(1, 0));
}

/// A peer sending certificate updates past its budget (a burst of two, then one per second)
/// loses its link: each costs the receiver a chain and a signature check.
#[test]
fn certificate_updates_faster_than_their_pace_end_the_link() {
    let mut sim = Sim::mesh(2, MS);
    sim.run_for(10 * MS);
    let update = Frame::CertUpdate {
        scheme: 0x0403,
        signature: bytes::Bytes::from_static(b"sig"),
        chain: vec![bytes::Bytes::from_static(b"cert")],
    };
    for _ in 0..2 {
        sim.transmit(1, 0, &update);
    }
    sim.run_for(10 * MS);
    assert!(sim.is_up(0, 1), "a burst of two is within the budget");
    sim.run_for(Duration::from_millis(1100));
    sim.transmit(1, 0, &update);
    sim.run_for(10 * MS);
    assert!(sim.is_up(0, 1), "one more after a second is too");
    sim.transmit(1, 0, &update);
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link_down(0, 1).map(|(_, r)| r),
        Some(LinkDownReason::ProtocolError(
            ProtocolViolation::CertificateUpdatesTooFast
        ))
    );
}

#[test]
fn a_partition_ends_the_links_across_it_and_a_heal_brings_them_back() {
    let mut sim = Sim::mesh(3, MS);
    let watcher = sim.mailbox(2);
    let target = sim.mailbox(0);
    sim.monitor(2, watcher, 0, target).unwrap();
    sim.run_for(10 * MS);
    sim.clear_seen();
    sim.partition(&[0, 1], &[2]);
    sim.run_for(Duration::from_secs(2));
    for (x, y) in [(0, 2), (2, 0), (1, 2), (2, 1)] {
        assert_eq!(
            sim.link_down(x, y).map(|(_, r)| r),
            Some(LinkDownReason::HeartbeatTimeout),
            "{x} -> {y}"
        );
    }
    assert!(
        sim.is_up(0, 1) && sim.is_up(1, 0),
        "inside a side, links stay"
    );
    assert!(sim.seen(2, 0).contains(&Seen::Down {
        watcher,
        monitor: MonitorId(1),
        target,
        reason: DownReason::NoConnection,
        link: Some(LinkDownReason::HeartbeatTimeout),
    }));
    assert_eq!(sim.hooks(0), 0, "n2's monitor left no hook behind on n0");
    sim.heal();
    sim.run_for(10 * MS);
    for x in 0..3 {
        for y in 0..3 {
            if x != y {
                assert!(sim.is_up(x, y), "{x} -> {y} after the heal");
            }
        }
    }
}

#[test]
fn an_expired_peer_certificate_ends_the_link_at_its_not_after() {
    let mut sim = Sim::new(2, MS);
    let expires = sim.wall() + Duration::from_secs(7200) + Duration::from_millis(5);
    sim.valid_until = expires;
    // Hours of virtual time: fewer heartbeats, so the test stays quick.
    sim.limits.heartbeat_interval = Duration::from_secs(60);
    sim.limits.silence_limit = Duration::from_secs(300);
    sim.connect(0, 1);
    let started = sim.now;
    sim.run_for(Duration::from_secs(3 * 3600));
    let (at, reason) = sim.link_down(0, 1).expect("the link ended");
    assert_eq!(reason, LinkDownReason::CertificateExpired);
    assert_eq!(
        at - started,
        Duration::from_secs(7200) + Duration::from_millis(5)
    );
}

#[test]
fn a_watch_that_races_the_end_of_its_mailbox_sends_one_down() {
    use super::link::{LinkState, Output};
    let now = std::time::Instant::now();
    let wall = std::time::SystemTime::now() + Duration::from_secs(86400);
    let mut l: LinkState<u32> = LinkState::new(
        now,
        "p".parse().unwrap(),
        1,
        2,
        super::sim::test_limits(),
        wall,
    );
    let monitor = Frame::Monitor {
        monitor: 5,
        watcher: 9,
        target: 3,
        target_incarnation: 2,
    };
    l.handle_frame(monitor.clone(), &|_| true).unwrap();
    let Some(Output::Watch { token, .. }) = l.poll() else {
        panic!("a watch")
    };
    // The hook is attached, and fires before the driver reports it.
    l.local_down(5, token, &DownReason::Normal);
    assert!(matches!(
        l.poll(),
        Some(Output::Send(Frame::Down {
            monitor: 5,
            watcher: 9,
            target: 3,
            ..
        }))
    ));
    l.watched(5, token, Some(42));
    // The late hook is detached; no second DOWN.
    assert!(matches!(l.poll(), Some(Output::Unwatch(42))));
    assert!(l.poll().is_none());
    // A repeated ID replaces the earlier watch; the old token's hook no longer counts.
    l.handle_frame(monitor.clone(), &|_| true).unwrap();
    let Some(Output::Watch { token: t1, .. }) = l.poll() else {
        panic!("a watch")
    };
    l.watched(5, t1, Some(1));
    l.handle_frame(monitor, &|_| true).unwrap();
    assert!(matches!(l.poll(), Some(Output::Unwatch(1))));
    let Some(Output::Watch { token: t2, .. }) = l.poll() else {
        panic!("a watch")
    };
    assert_ne!(t1, t2);
    l.local_down(5, t1, &DownReason::Normal);
    assert!(
        l.poll().is_none(),
        "the replaced watch's hook fires nothing"
    );
    assert_eq!(l.held().0, 1);
}

/// A mailbox type that can hold a cluster-wide name (and so be told it lost one).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Svc {
    Conflict(crate::NameConflict),
}
impl From<crate::NameConflict> for Svc {
    fn from(c: crate::NameConflict) -> Self {
        Svc::Conflict(c)
    }
}
crate::message!(Svc = "test.Svc");

fn resolves(sim: &Sim, x: usize, name: &str) -> Option<crate::MailboxRef> {
    sim.nodes[x]
        .node
        .global()
        .whereis::<Svc>(name)
        .ok()
        .map(|a| a.mailbox_ref())
}

#[test]
fn after_a_partition_heals_every_node_resolves_the_same_winner_and_the_loser_is_told() {
    use crate::global::names::rank;
    let mut sim = Sim::mesh(3, MS);
    // A name that n2 ranks first for, so that the claim made on the majority side loses.
    let name = (0..)
        .map(|i| format!("leader{i}"))
        .find(|n| rank(n, &sim.nodes[2].id) < rank(n, &sim.nodes[0].id))
        .unwrap();
    sim.partition(&[0, 1], &[2]);
    sim.run_for(Duration::from_secs(2));
    assert!(!sim.is_up(0, 2) && !sim.is_up(2, 1));
    let (mut first, at_0) = sim.nodes[0].node.mailbox::<Svc>();
    sim.nodes[0].node.global().register(&name, &at_0).unwrap();
    let (mut second, at_2) = sim.nodes[2].node.mailbox::<Svc>();
    sim.nodes[2].node.global().register(&name, &at_2).unwrap();
    sim.run_for(10 * MS);
    // Each side sees its own claim.
    assert_eq!(resolves(&sim, 0, &name), Some(at_0.mailbox_ref()));
    assert_eq!(resolves(&sim, 1, &name), Some(at_0.mailbox_ref()));
    assert_eq!(resolves(&sim, 2, &name), Some(at_2.mailbox_ref()));

    sim.heal();
    sim.run_for(10 * MS);
    for x in 0..3 {
        assert_eq!(
            resolves(&sim, x, &name),
            Some(at_2.mailbox_ref()),
            "n{x} resolves the winner"
        );
    }
    // The loser is told, once; the winner is told nothing.
    match first.try_recv() {
        Some(Svc::Conflict(c)) => {
            assert_eq!(c.name, name);
            assert_eq!(c.winner, at_2.mailbox_ref());
        }
        other => panic!("expected the conflict, got {other:?}"),
    }
    assert!(first.try_recv().is_none());
    assert!(second.try_recv().is_none());
    // The loser no longer holds the name: when the winner goes, it is gone everywhere.
    drop(second);
    sim.run_for(10 * MS);
    for x in 0..3 {
        assert_eq!(resolves(&sim, x, &name), None, "n{x}");
    }
}

#[test]
fn a_nodes_names_and_groups_go_with_its_link_and_come_back_with_the_next() {
    let mut sim = Sim::mesh(2, MS);
    let (_svc, at_1) = sim.nodes[1].node.mailbox::<Svc>();
    sim.nodes[1].node.global().register("svc", &at_1).unwrap();
    sim.nodes[1].node.groups().join("room", &at_1).unwrap();
    sim.run_for(10 * MS);
    assert_eq!(resolves(&sim, 0, "svc"), Some(at_1.mailbox_ref()));
    assert_eq!(
        sim.nodes[0].node.groups().member_refs("room"),
        [at_1.mailbox_ref()]
    );
    // Silence: the link ends, and with it what n1 announced over it.
    sim.set_fault(1, 0, Fault::Blackhole);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(resolves(&sim, 0, "svc"), None);
    assert!(sim.nodes[0].node.groups().member_refs("room").is_empty());
    // A new link brings them back, before it is reported up.
    sim.heal();
    sim.run_for(10 * MS);
    assert!(sim.is_up(0, 1));
    assert_eq!(resolves(&sim, 0, "svc"), Some(at_1.mailbox_ref()));
    assert_eq!(
        sim.nodes[0].node.groups().member_refs("room"),
        [at_1.mailbox_ref()]
    );
}

/// A monitor fired by a lost link says why the link was lost: a peer whose connection
/// closed (its process ended) against one that went silent (it may still run).
#[test]
fn a_down_for_a_lost_link_says_whether_the_peer_closed_it_or_went_silent() {
    let link_of = |sim: &Sim| -> Vec<Option<LinkDownReason>> {
        sim.seen(0, 1)
            .into_iter()
            .filter_map(|s| match s {
                Seen::Down { link, .. } => Some(link),
                _ => None,
            })
            .collect()
    };
    // n1 closes the connection (as the kernel does for a killed process).
    let mut sim = Sim::mesh(2, MS);
    let (watcher, target) = (sim.mailbox(0), sim.mailbox(1));
    sim.monitor(0, watcher, 1, target).unwrap();
    sim.run_for(10 * MS);
    sim.end_link(1, 0, LinkDownReason::LocalShutdown);
    sim.run_for(10 * MS);
    assert_eq!(link_of(&sim), [Some(LinkDownReason::ClosedByPeer)]);
    // n1 goes silent.
    let mut sim = Sim::mesh(2, MS);
    let (watcher, target) = (sim.mailbox(0), sim.mailbox(1));
    sim.monitor(0, watcher, 1, target).unwrap();
    sim.run_for(10 * MS);
    sim.set_fault(1, 0, Fault::Blackhole);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(link_of(&sim), [Some(LinkDownReason::HeartbeatTimeout)]);
}
