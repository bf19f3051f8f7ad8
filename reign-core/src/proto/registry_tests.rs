//! The registry's gossip on the harness: joins, leaves, hints, partitions, duplicate IDs.

use std::time::{Duration, Instant};

use super::*;
use crate::proto::registry::GONE_FOR;

const MS: Duration = Duration::from_millis(1);

fn id(s: &str) -> NodeId {
    s.parse().expect("a valid node ID")
}

/// Started from one seed each, 16 processes become a full mesh within a few round trips,
/// each learning of every other exactly once, and each pair with exactly one link.
#[test]
fn one_seed_each_links_every_node_with_every_other() {
    let mut net = Net::seeded(16, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    let took = net.now;
    net.run_for(Duration::from_secs(30));
    assert!(net.full_mesh());
    for p in &net.procs {
        assert_eq!(p.linked().len(), 15);
        for q in &net.procs {
            if p.id != q.id {
                let joined = p.count(|s| matches!(s, Seen::Joined { node, .. } if node == &q.id));
                assert_eq!(joined, 1, "{} learned of {} {joined} times", p.id, q.id);
            }
        }
        // Nothing went down, nothing was ignored.
        assert_eq!(
            p.count(|s| matches!(s, Seen::Down { .. } | Seen::Ignored { .. })),
            0
        );
    }
    let _ = took;
}

/// A HINT frame: `node` is at `addr`.
fn hint(node: &str, addr: &str) -> Frame {
    Frame::Hint {
        node: wire::Text::new(node),
        addr: wire::Text::new(addr),
    }
}

/// How many nodes process `i` knows.
fn known(net: &Net, i: usize) -> usize {
    net.procs[i].reg.len()
}

/// A member floods HINTs of 10,000 made-up nodes at made-up addresses: the node takes them
/// at the budget's rate only, dials each it took at most `hinted_dials` times, forgets them
/// all, and stays linked with the honest nodes throughout.
#[test]
fn a_hint_flood_is_taken_at_the_budget_rate_and_forgotten() {
    let mut net = Net::seeded(3, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    let t0 = net.now;
    let n0 = id("n0");
    for k in 0..10_000 {
        let frame = hint(
            &format!("zghost{k}"),
            &format!("10.9.{}.{}:7000", k / 250, k % 250),
        );
        assert!(net.inject(2, &n0, &frame));
    }
    net.run_for(Duration::from_secs(20));
    let p = &net.procs[0];
    let ghosts =
        p.count(|s| matches!(s, Seen::Joined { node, .. } if node.as_str().starts_with("zghost")));
    let secs = net.now.duration_since(t0).as_secs() as usize;
    // All arrived at once: the burst (less n2's own ADVERTISE), and nothing more (the rest
    // were ignored at once).
    assert_eq!(ghosts, 63, "ghosts learned");
    assert!(ghosts <= 64 + secs);
    let ignored = p.count(|s| {
        matches!(
            s,
            Seen::Ignored {
                why: Ignored::OverBudget,
                ..
            }
        )
    });
    assert_eq!(ignored, 10_000 - 63);
    // Each ghost dialed at most 3 times ("zghost…" > "n0": n0 dials them), then forgotten.
    let dials = p.count(|s| matches!(s, Seen::Dialed { addr } if addr.starts_with("10.9.")));
    assert!(dials <= 3 * ghosts, "{dials} dials");
    let left = p.count(|s| matches!(s, Seen::Left { node, reason: LeftReason::Unreachable } if node.as_str().starts_with("zghost")));
    assert_eq!(left, ghosts);
    assert_eq!(known(&net, 0), 2);
    assert!(net.full_mesh());
    assert_eq!(net.procs[0].count(|s| matches!(s, Seen::Down { .. })), 0);
}

/// A member cannot redirect where a node dials another: a HINT never replaces an address,
/// and a HINT that names a new node at a known node's address is ignored.
#[test]
fn a_hint_cannot_redirect_or_impersonate() {
    let mut net = Net::seeded(3, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    let (n0, n1) = (id("n0"), id("n1"));
    let before = net.procs[0].reg.addr(&n1).to_owned();
    // n2 says n1 is elsewhere, and that "n9" listens where n1 does.
    for (node, addr) in [("n1", "10.7.7.7:7000"), ("n9", before.as_str())] {
        let frame = hint(node, addr);
        assert!(net.inject(2, &n0, &frame));
    }
    net.run_for(Duration::from_secs(20));
    let p = &net.procs[0];
    assert_eq!(p.reg.addr(&n1), before);
    assert!(!p.reg.knows(&id("n9")));
    // "n9" at n1's address is not even learned: one node per address.
    assert_eq!(
        p.count(|s| matches!(s, Seen::Joined { node, .. } if node.as_str() == "n9")),
        0
    );
    assert_eq!(
        p.count(|s| matches!(
            s,
            Seen::Ignored {
                why: Ignored::AddrTaken,
                ..
            }
        )),
        1
    );
    assert_eq!(
        p.count(|s| matches!(s, Seen::Dialed { addr } if addr == "10.7.7.7:7000")),
        0
    );
    assert!(net.full_mesh());
    assert_eq!(net.procs[1].count(|s| matches!(s, Seen::Down { .. })), 0);
}

/// A node that leaves gracefully is forgotten by every node at once and never redialed; one
/// that crashes is redialed, and forgotten after `forget_after`; one that restarts before that
/// rejoins in its new life, with nothing changed in anyone's file.
#[test]
fn leaves_crashes_and_restarts() {
    let mut net = Net::seeded(6, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    let (n3, n4) = (id("n3"), id("n4"));
    let marks: Vec<usize> = net.procs.iter().map(|p| p.seen.len()).collect();
    net.kill(3, true);
    net.run_for(Duration::from_secs(10));
    for (i, p) in net.procs.iter().enumerate().filter(|(i, _)| *i != 3) {
        let left = p.count(
            |s| matches!(s, Seen::Left { node, reason: LeftReason::ShutDown } if node == &n3),
        );
        assert_eq!(left, 1, "n{i}");
        assert!(
            !p.reg.knows(&n3) && !p.dialing(&n3),
            "n{i}: {:?}",
            &p.seen[marks[i]..]
        );
        let dials: Vec<_> = p.seen[marks[i]..].iter().filter(|(_, s)| matches!(s, Seen::Dialed { addr } if addr == &net.procs[3].addr().to_string())).collect();
        assert!(
            dials.is_empty(),
            "n{i}: {dials:?} {:?}",
            p.seen.iter().rev().take(5).collect::<Vec<_>>()
        );
    }
    // A crash: the lower IDs redial it...
    net.kill(4, false);
    net.run_for(Duration::from_secs(30));
    let addr4 = net.procs[4].addr().to_string();
    assert!(net.procs[0].reg.knows(&n4) && net.procs[0].dialing(&n4));
    assert!(net.procs[0].count(|s| matches!(s, Seen::Dialed { addr } if addr == &addr4)) >= 3);
    // ...and it comes back in a new life before forget_after: everyone links with it.
    net.restart(4, 5000);
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.procs
            .iter()
            .filter(|p| p.alive && p.id != n4)
            .all(|p| p.linked().contains(&n4))
    }));
    assert_eq!(
        net.procs[0].count(|s| matches!(s, Seen::Up { node, incarnation: 5000 } if node == &n4)),
        1
    );
    // A crash for good: forgotten forget_after after the link went down (60 s here).
    net.kill(4, false);
    let down = net.now;
    assert!(net.run_until(Duration::from_secs(90), |n| {
        n.procs
            .iter()
            .filter(|p| p.alive)
            .all(|p| !p.reg.knows(&n4))
    }));
    let gone = net.now.duration_since(down);
    assert!(
        gone >= limits().forget_after && gone < limits().forget_after + Duration::from_secs(1),
        "{gone:?}"
    );
    for p in net.procs.iter().filter(|p| p.alive) {
        assert!(!p.dialing(&n4));
        assert_eq!(
            p.count(
                |s| matches!(s, Seen::Left { node, reason: LeftReason::Unreachable } if node == &n4)
            ),
            1
        );
    }
}

/// Cut in two, each side keeps its own links and, after `forget_after`, forgets the other;
/// healed, the side whose seed is across dials it again and the whole mesh comes back.
#[test]
fn a_partition_heals_even_after_both_sides_forgot_each_other() {
    let mut net = Net::seeded(6, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    let (a, b) = ([0, 1, 2], [3, 4, 5]);
    net.partition(&a, &b);
    net.run_for(limits().forget_after + Duration::from_secs(5));
    for &x in &a {
        for &y in &b {
            let (px, py) = (&net.procs[x], &net.procs[y]);
            assert!(!px.reg.knows(&py.id) && !py.reg.knows(&px.id), "n{x} n{y}");
        }
    }
    // Each side is whole on its own.
    for &x in a.iter().chain(&b) {
        assert_eq!(net.procs[x].linked().len(), 2, "n{x}");
    }
    net.heal();
    assert!(net.run_until(Duration::from_secs(12), Net::full_mesh));
    for p in &net.procs {
        assert_eq!(p.linked().len(), 5);
    }
}

/// A partition shorter than `forget_after` heals by the ordinary redials.
#[test]
fn a_short_partition_heals_by_redialing() {
    let mut net = Net::seeded(4, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    net.partition(&[0, 1], &[2, 3]);
    net.run_for(Duration::from_secs(20));
    assert!(!net.full_mesh());
    net.heal();
    assert!(net.run_until(Duration::from_secs(6), Net::full_mesh));
    // Nobody forgot anybody.
    for p in &net.procs {
        assert_eq!(p.count(|s| matches!(s, Seen::Left { .. })), 0);
    }
}

/// An allow-list: a node it does not match is never learned, not when it connects and not
/// from a hint, while the others mesh as usual.
#[test]
fn a_node_outside_the_allow_list_is_never_learned() {
    let mut net = Net::new(5 * MS);
    let seed = net.procs.len();
    net.spawn("n0", 1, &[]);
    let s = net.procs[seed].addr();
    net.spawn("n1", 2, &[s]);
    net.spawn("x9", 3, &[s]);
    net.spawn("n2", 4, &[s]);
    // n1 and n2 take only n*; n0 takes anyone.
    let only_n = |id: &NodeId| id.as_str().starts_with('n');
    net.procs[1].admits = only_n;
    net.procs[3].admits = only_n;
    let x9 = id("x9");
    assert!(net.run_until(Duration::from_secs(5), |n| {
        n.procs[1].linked().len() == 2
            && n.procs[3].linked().len() == 2
            && n.procs[2].linked().len() == 1
    }));
    net.run_for(Duration::from_secs(20));
    for i in [1, 3] {
        assert!(!net.procs[i].reg.knows(&x9));
        assert_eq!(
            net.procs[i].count(|s| matches!(s, Seen::Joined { node, .. } if node == &x9)),
            0
        );
    }
    assert!(net.procs[0].linked().contains(&x9));
}

/// Two processes hold one node ID (the same certificate run twice): every node ends linked
/// with the one of the higher incarnation, whichever started first, and reports it.
#[test]
fn duplicate_ids_settle_on_the_higher_incarnation_everywhere() {
    for newer_first in [false, true] {
        let mut net = Net::seeded(5, 5 * MS);
        let n2 = id("n2");
        let seed = net.procs[0].addr();
        if newer_first {
            // The one already running is the newer: the second is refused everywhere.
            net.procs[2].incarnation = 9000;
        }
        assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
        let twin = net.spawn("n2", 5000, &[seed]);
        let kept = if newer_first { 2 } else { twin };
        let kept_inc = net.procs[kept].incarnation;
        let ok = net.run_until(Duration::from_secs(30), |n| {
            n.procs
                .iter()
                .enumerate()
                .filter(|(i, p)| p.id != n2 && *i != twin)
                .all(|(_, p)| p.links.get(&n2).is_some_and(|e| e.proc == kept))
        });
        let view: Vec<_> = net
            .procs
            .iter()
            .map(|p| (p.id.clone(), p.links.get(&n2).map(|e| e.incarnation)))
            .collect();
        assert!(ok, "newer_first {newer_first}: {view:?}");
        net.run_for(Duration::from_secs(30));
        for p in net.procs.iter().filter(|p| p.id != n2) {
            assert_eq!(
                p.links.get(&n2).map(|e| e.incarnation),
                Some(kept_inc),
                "{}",
                p.id
            );
        }
    }
}

/// The machine alone: where an address may come from. A hint fills only an unknown
/// address; the node's own word replaces a hint; the configuration's beats both.
#[test]
fn a_hint_only_fills_an_unknown_address() {
    let t0 = Instant::now();
    let mut r = Registry::new(id("a"), limits());
    let (b, c) = (id("b"), id("c"));
    assert!(r.learn(
        &b,
        None,
        AddrSource::Unknown,
        JoinedVia::Connected,
        true,
        t0
    ));
    assert_eq!(r.addr(&b), "");
    r.hint(&c, "b", "10.0.0.2:7001", |_| true, t0);
    // c is not known: its frames are not taken.
    assert_eq!(r.addr(&b), "");
    assert!(r.learn(
        &c,
        Some("10.0.0.3:7001"),
        AddrSource::Peer,
        JoinedVia::Seed,
        true,
        t0
    ));
    r.hint(&c, "b", "10.0.0.2:7001", |_| true, t0);
    assert_eq!(r.addr(&b), "10.0.0.2:7001");
    // Another hint (a hostile member's, say) does not redirect it...
    r.hint(&c, "b", "127.0.0.1:9", |_| true, t0);
    assert_eq!(r.addr(&b), "10.0.0.2:7001");
    // ...the node's own word does (an unspecified host is the link's source), and then no
    // hint at all.
    r.advertise(&b, "0.0.0.0:7002", Some("10.0.0.2".parse().unwrap()), t0);
    assert_eq!(r.addr(&b), "10.0.0.2:7002");
    r.hint(&c, "b", "127.0.0.1:9", |_| true, t0);
    assert_eq!(r.addr(&b), "10.0.0.2:7002");
    // The configuration's beats both.
    let d = id("d");
    r.configure(d.clone(), "h:1", t0);
    r.advertise(&d, "h:2", None, t0);
    r.hint(&c, "d", "h:3", |_| true, t0);
    assert_eq!(r.addr(&d), "h:1");
    // What was handed back: b and c joined; a dials b and d (lower ID) each time an
    // address became known or changed, but not c, which answered at a seed (that very
    // connection becomes the link); nothing was sent (nothing in service).
    let actions: Vec<Action> = std::iter::from_fn(|| r.poll()).collect();
    let dials: Vec<&NodeId> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { node } => Some(node),
            _ => None,
        })
        .collect();
    assert_eq!(dials, [&b, &b, &d], "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Send { .. })));
}

/// Timers on the machine alone: a node that joined at run time is forgotten `forget_after`
/// after its link ends (never while one is installed, never if configured); a HINT of it is
/// ignored for a while after, a connection from it is not.
#[test]
fn forgetting_and_what_comes_after() {
    let l = limits();
    let t0 = Instant::now();
    let mut r = Registry::new(id("a"), l);
    let (b, m) = (id("b"), id("m"));
    r.configure(m.clone(), "h:1", t0);
    assert!(r.learn(&b, Some("h:2"), AddrSource::Peer, JoinedVia::Seed, true, t0));
    assert_eq!(r.poll_timeout(), Some(t0 + l.forget_after));
    r.link_installed(&b);
    r.link_up(&b, Some("h:0"));
    assert_eq!(
        r.poll_timeout(),
        None,
        "nothing to forget while a link is installed"
    );
    let t1 = t0 + Duration::from_secs(1000);
    r.handle_timeout(t1);
    assert!(r.knows(&b));
    r.link_removed(&b, t1);
    assert_eq!(r.poll_timeout(), Some(t1 + l.forget_after));
    r.handle_timeout(t1 + l.forget_after - MS);
    assert!(r.knows(&b));
    r.handle_timeout(t1 + l.forget_after);
    assert!(!r.knows(&b) && r.knows(&m));
    let t2 = t1 + l.forget_after;
    // A hint of b now is a stale one.
    assert!(r.learn(
        &m,
        None,
        AddrSource::Unknown,
        JoinedVia::Connected,
        true,
        t2
    ));
    r.link_installed(&m);
    r.link_up(&m, None);
    r.hint(&m, "b", "h:2", |_| true, t2 + MS);
    assert!(!r.knows(&b));
    // At another address (it restarted on a new port) it is news at once...
    r.hint(&m, "b", "h:3", |_| true, t2 + MS);
    assert!(r.knows(&b));
    r.link_installed(&b);
    r.link_removed(&b, t2);
    r.said_goodbye(&b, t2);
    assert!(!r.knows(&b));
    // ...and at the same address, once any hint in flight has surely arrived.
    r.hint(&m, "b", "h:3", |_| true, t2 + GONE_FOR - MS);
    assert!(!r.knows(&b));
    r.hint(&m, "b", "h:3", |_| true, t2 + GONE_FOR);
    assert!(r.knows(&b));
    let left: Vec<Action> = std::iter::from_fn(|| r.poll())
        .filter(|a| matches!(a, Action::Left { .. }))
        .collect();
    assert_eq!(
        left,
        vec![
            Action::Left {
                node: b.clone(),
                reason: LeftReason::Unreachable
            },
            Action::Left {
                node: b.clone(),
                reason: LeftReason::ShutDown
            }
        ]
    );
}

/// The higher ID dials a lower one that has not linked with it for `fallback_after`, once
/// per link lost; the lower dials at once.
#[test]
fn the_higher_id_dials_only_after_the_fallback_delay() {
    let l = limits();
    let t0 = Instant::now();
    let mut r = Registry::new(id("m"), l);
    let (a, z) = (id("a"), id("z"));
    r.learn(
        &a,
        Some("h:1"),
        AddrSource::Peer,
        JoinedVia::Connected,
        true,
        t0,
    );
    r.learn(
        &z,
        Some("h:2"),
        AddrSource::Peer,
        JoinedVia::Connected,
        true,
        t0,
    );
    let dials = |r: &mut Registry| -> Vec<NodeId> {
        std::iter::from_fn(|| r.poll())
            .filter_map(|a| match a {
                Action::Dial { node } => Some(node),
                _ => None,
            })
            .collect()
    };
    assert_eq!(dials(&mut r), vec![z.clone()]);
    assert_eq!(r.poll_timeout(), Some(t0 + l.fallback_after));
    r.handle_timeout(t0 + l.fallback_after - MS);
    assert!(dials(&mut r).is_empty());
    r.handle_timeout(t0 + l.fallback_after);
    assert_eq!(dials(&mut r), vec![a.clone()]);
    // Once only, until a link comes and goes.
    r.handle_timeout(t0 + 3 * l.fallback_after);
    assert!(dials(&mut r).is_empty());
    let t1 = t0 + 4 * l.fallback_after;
    r.link_installed(&a);
    r.link_up(&a, None);
    r.link_removed(&a, t1);
    r.handle_timeout(t1 + l.fallback_after);
    assert_eq!(dials(&mut r), vec![a]);
}

/// Many made-up IDs aimed at one address (spelled several ways) make one node known there,
/// dialed at most `hinted_dials` times: the bound is per target as well as per peer.
#[test]
fn many_ids_at_one_address_cost_one_node() {
    let mut net = Net::seeded(2, 5 * MS);
    assert!(net.run_until(Duration::from_secs(3), Net::full_mesh));
    let n0 = id("n0");
    for (k, addr) in ["10.9.9.9:7000", "10.9.9.9:07000", "010.9.9.9:7000"]
        .iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        let frame = hint(&format!("zghost{k}"), addr);
        assert!(net.inject(1, &n0, &frame));
    }
    net.run_for(Duration::from_secs(10));
    let p = &net.procs[0];
    let ghosts: Vec<String> = p
        .seen
        .iter()
        .filter_map(|(_, s)| match s {
            Seen::Joined { node, .. } if node.as_str().starts_with("zghost") => {
                Some(node.to_string())
            }
            _ => None,
        })
        .collect();
    // "10.9.9.9:07000" is the same place as the first; "010.9.9.9" is a host name (no IP
    // has a leading zero), so it is another: two at most.
    assert!(ghosts.len() <= 2, "{ghosts:?}");
    let dials = p.count(|s| matches!(s, Seen::Dialed { addr } if addr.contains("9.9.9")));
    assert!(dials <= 3 * ghosts.len(), "{dials} dials");
}

/// One place, however it is spelled: IPs as parsed, host names without regard to case or a
/// final dot; another port or another host is another place.
#[test]
fn same_place_compares_addresses_as_places() {
    use crate::proto::address::same_place;
    assert!(same_place("10.0.0.1:7000", "10.0.0.1:07000"));
    assert!(same_place("[::1]:7000", "[0:0::1]:7000"));
    assert!(same_place("Node.Example:7000", "node.example.:7000"));
    assert!(!same_place("10.0.0.1:7000", "10.0.0.1:7001"));
    assert!(!same_place("10.0.0.1:7000", "[::ffff:10.0.0.1]:7000"));
    assert!(!same_place("a.example:7000", "b.example:7000"));
}
