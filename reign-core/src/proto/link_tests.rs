//! Links between servers of two nodes on the link harness: LINK, EXIT, UNLINK and the
//! end of the link, and what a peer cannot do with them.

use std::time::Duration;

use super::sim::{Seen, Sim};
use crate::proto::reason::{LinkDownReason, ProtocolViolation};
use crate::proto::wire::{Frame, Text};
use crate::{DownReason, MonitorId};

const MS: Duration = Duration::from_millis(1);

fn links_seen(sim: &Sim, x: usize, y: usize) -> Vec<Seen> {
    sim.seen(x, y)
        .into_iter()
        .filter(|s| {
            matches!(
                s,
                Seen::Unlinked { .. } | Seen::Exit { .. } | Seen::Down { .. }
            )
        })
        .collect()
}

#[test]
fn a_link_reports_either_end_to_the_other_side() {
    let mut sim = Sim::mesh(2, MS);
    let (l, r) = (sim.mailbox(0), sim.mailbox(1));
    let m = sim.link_server(0, l, 1, r).unwrap();
    sim.run_for(10 * MS);
    // A link the peer made costs the server nothing until it ends: the record is here.
    assert_eq!(links_seen(&sim, 1, 0), []);
    assert_eq!(sim.hooks(1), 1);
    // r ends: l's monitor reports it with r's reason.
    sim.end_mailbox(1, r, DownReason::Panic("boom".into()));
    sim.run_for(10 * MS);
    assert_eq!(
        links_seen(&sim, 0, 1),
        [Seen::Down {
            watcher: l,
            monitor: m,
            target: r,
            reason: DownReason::Panic("boom".into()),
            link: None,
        }]
    );
    // Another link; now l ends: EXIT reaches r, and the link's record is gone.
    let r2 = sim.mailbox(1);
    let m2 = sim.link_server(0, l, 1, r2).unwrap();
    sim.run_for(10 * MS);
    sim.clear_seen();
    sim.server_exit(0, l, 1, r2, m2, &DownReason::user("crash"));
    sim.run_for(10 * MS);
    assert_eq!(
        links_seen(&sim, 1, 0),
        [Seen::Exit {
            target: r2,
            from: l,
            reason: DownReason::user("crash"),
        }]
    );
    assert_eq!(sim.hooks(1), 0);
    assert_eq!(sim.link(1, 0).held().0, 0);
}

#[test]
fn a_lost_link_is_an_exit_noconnection_on_both_sides() {
    let mut sim = Sim::mesh(2, MS);
    let (l, r) = (sim.mailbox(0), sim.mailbox(1));
    let m = sim.link_server(0, l, 1, r).unwrap();
    sim.run_for(10 * MS);
    sim.clear_seen();
    sim.end_link(1, 0, LinkDownReason::HeartbeatTimeout);
    sim.end_link(0, 1, LinkDownReason::ClosedByPeer);
    assert!(links_seen(&sim, 1, 0).contains(&Seen::Exit {
        target: r,
        from: l,
        reason: DownReason::NoConnection,
    }));
    assert!(links_seen(&sim, 0, 1).contains(&Seen::Down {
        watcher: l,
        monitor: m,
        target: r,
        reason: DownReason::NoConnection,
        link: Some(LinkDownReason::ClosedByPeer),
    }));
}

#[test]
fn unlink_from_either_side() {
    let mut sim = Sim::mesh(2, MS);
    let (l, r) = (sim.mailbox(0), sim.mailbox(1));
    // The side that linked cancels the LINK's monitor: the record goes, no exit follows.
    let m = sim.link_server(0, l, 1, r).unwrap();
    sim.run_for(10 * MS);
    sim.demonitor(0, 1, m);
    sim.run_for(10 * MS);
    assert_eq!(sim.hooks(1), 0);
    sim.end_link(1, 0, LinkDownReason::ClosedByPeer);
    assert_eq!(links_seen(&sim, 1, 0), [], "no exit for a link undone");
    // The other side sends UNLINK: the side that linked cancels its monitor and is told,
    // once; another UNLINK, or one for no link, does nothing.
    let mut sim = Sim::mesh(2, MS);
    let (l, r) = (sim.mailbox(0), sim.mailbox(1));
    sim.link_server(0, l, 1, r).unwrap();
    sim.run_for(10 * MS);
    for _ in 0..3 {
        sim.server_unlink(1, r, 0, l);
    }
    sim.server_unlink(1, r + 100, 0, l);
    sim.run_for(10 * MS);
    assert_eq!(
        links_seen(&sim, 0, 1),
        [Seen::Unlinked { target: l, from: r }]
    );
    assert_eq!(sim.link(0, 1).held().1, 0, "the LINK's monitor is gone");
    assert_eq!(sim.hooks(1), 0, "and its DEMONITOR went");
}

#[test]
fn an_exit_without_a_link_does_nothing() {
    let mut sim = Sim::mesh(2, MS);
    let (l, r, other) = (sim.mailbox(0), sim.mailbox(1), sim.mailbox(1));
    sim.link_server(0, l, 1, r).unwrap();
    sim.run_for(10 * MS);
    sim.clear_seen();
    let inc1 = sim.nodes[1].incarnation;
    let exit = |from: u64, target: u64, incarnation: u64| Frame::Exit {
        from,
        target,
        target_incarnation: incarnation,
        reason: 1,
        text: Text::new("forged"),
    };
    // Another sender than the linked server, another target, another life: ignored.
    for f in [
        exit(l + 100, r, inc1),
        exit(l, other, inc1),
        exit(l, r, inc1 ^ 1),
    ] {
        sim.transmit(0, 1, &f);
    }
    sim.run_for(10 * MS);
    assert_eq!(links_seen(&sim, 1, 0), []);
    assert!(sim.is_up(1, 0));
    assert_eq!(sim.hooks(1), 1, "the real link is still there");
    // A DEMONITOR of a plain monitor is not an unlink.
    let watcher = sim.mailbox(0);
    let plain = sim.monitor(0, watcher, 1, other).unwrap();
    sim.demonitor(0, 1, plain);
    sim.run_for(10 * MS);
    assert_eq!(links_seen(&sim, 1, 0), []);
}

#[test]
fn links_count_against_the_monitor_cap() {
    let mut sim = Sim::mesh(2, MS);
    let target = sim.mailbox(1);
    let inc1 = sim.nodes[1].incarnation;
    let max = sim.limits.max_monitors as u64;
    for id in 0..max {
        sim.transmit(
            0,
            1,
            &Frame::Link {
                monitor: id,
                watcher: id,
                target,
                target_incarnation: inc1,
            },
        );
    }
    sim.run_for(10 * MS);
    assert!(sim.is_up(1, 0));
    assert_eq!(sim.link(1, 0).held().0, max as usize);
    sim.transmit(
        0,
        1,
        &Frame::Monitor {
            monitor: max,
            watcher: 1,
            target,
            target_incarnation: inc1,
        },
    );
    sim.run_for(10 * MS);
    assert_eq!(
        sim.link_down(1, 0).map(|(_, r)| r),
        Some(LinkDownReason::ProtocolError(
            ProtocolViolation::TooManyMonitors { max: max as usize }
        ))
    );
    // Each link's server hears of the end.
    let exits = sim
        .seen(1, 0)
        .iter()
        .filter(|s| {
            matches!(
                s,
                Seen::Exit {
                    reason: DownReason::NoConnection,
                    ..
                }
            )
        })
        .count();
    assert_eq!(exits, max as usize);
    let _ = MonitorId(0);
}

#[test]
fn a_link_replaced_by_a_repeated_monitor_id_leaves_one_link() {
    // An outside test grew a server's links past the cap with LINKs under one monitor ID,
    // each naming a new server of the peer: the peer holds one link, and its end is one exit.
    let mut sim = Sim::mesh(2, MS);
    let target = sim.mailbox(1);
    let inc1 = sim.nodes[1].incarnation;
    for watcher in 1..=1000 {
        sim.transmit(
            0,
            1,
            &Frame::Link {
                monitor: 1,
                watcher,
                target,
                target_incarnation: inc1,
            },
        );
    }
    sim.run_for(10 * MS);
    assert_eq!(sim.link(1, 0).held().0, 1);
    sim.end_link(1, 0, LinkDownReason::ClosedByPeer);
    assert_eq!(
        links_seen(&sim, 1, 0),
        [Seen::Exit {
            target,
            from: 1000,
            reason: DownReason::NoConnection
        }]
    );
}
