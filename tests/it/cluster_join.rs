//! The node registry over real sockets: nodes that start from one seed address each (every
//! one on port 0) become linked with every node, through the seed's ADVERTISE and HINT
//! frames; a seed given as a host name; an allow-list of ID patterns.

use std::time::Duration;

use reign::{JoinedVia, NameConflict, Node, NodeConfig, NodeEvent};
use serde::{Deserialize, Serialize};

use crate::mesh::{fast_tunables, next_event};
use crate::support::{Pki, WAIT, bounded, node};

#[derive(Debug, Serialize, Deserialize)]
enum Sink {
    Conflict(NameConflict),
}
impl From<NameConflict> for Sink {
    fn from(c: NameConflict) -> Self {
        Sink::Conflict(c)
    }
}
reign::message!(Sink = "test.join.Sink");

/// Node `id` of `pki` on port 0 with no member, joining through `seeds`.
fn config(pki: &Pki, id: &str, seeds: &[String]) -> NodeConfig {
    let mut c = crate::raw_member::config(pki, id, &[], fast_tunables());
    c.seeds = seeds.to_vec();
    c
}

async fn start(c: NodeConfig) -> Node {
    bounded(Node::start(c)).await.expect("node starts")
}

async fn linked(a: &Node, b: &str) {
    bounded(a.cluster().wait_for(&node(b), WAIT))
        .await
        .unwrap_or_else(|e| panic!("{} never linked with {b}: {e}", a.id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_from_one_seed_each_link_with_every_node() {
    let ids = ["a", "b", "c", "d"];
    let pki = Pki::new("test", &ids);
    // a knows nobody; the others only a's address.
    let a = start(config(&pki, "a", &[])).await;
    let mut a_events = a.cluster().events();
    let seed = a.cluster().local_addr().unwrap().to_string();
    let mut others = Vec::new();
    for id in &ids[1..] {
        others.push(start(config(&pki, id, std::slice::from_ref(&seed))).await);
    }
    let all: Vec<&Node> = std::iter::once(&a).chain(others.iter()).collect();
    for x in &all {
        for y in ids {
            if x.id().as_str() != y {
                linked(x, y).await;
            }
        }
    }
    // a saw them join by connecting.
    let e = next_event(
        &mut a_events,
        |e| matches!(e, NodeEvent::Joined { node: n, .. } if n.as_str() == "b"),
    )
    .await;
    assert!(
        matches!(
            e,
            NodeEvent::Joined {
                how: JoinedVia::Connected,
                ..
            }
        ),
        "{e}"
    );
    // Every node knows every other, with an address to dial it at.
    for x in &all {
        let members = x.cluster().members();
        assert_eq!(members.len(), ids.len() - 1, "{}", x.id());
        for m in members {
            assert!(
                m.addr.starts_with("127.0.0.1:"),
                "{} knows {} at {:?}",
                x.id(),
                m.node,
                m.addr
            );
        }
    }
    // No link was made twice on the way (a node that answered at a seed is not dialed
    // again while that connection becomes the link): nothing went down.
    for x in &all {
        assert_eq!(x.cluster().stats().links_down, 0, "{}", x.id());
    }
    // A global name registered on d is seen on b.
    let (_inbox, at_d) = others[2].mailbox::<Sink>();
    others[2].global().register("sink", &at_d).unwrap();
    bounded(others[0].global().wait_for::<Sink>("sink", WAIT))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_may_be_a_host_name_and_a_restarted_seed_is_found_again() {
    let pki = Pki::new("test", &["a", "b"]);
    let a = start(config(&pki, "a", &[])).await;
    let port = a.cluster().local_addr().unwrap().port();
    let b = start(config(&pki, "b", &[format!("localhost:{port}")])).await;
    linked(&b, "a").await;
    // a stops; b, alone, goes back to its seed; a comes back on the same port.
    let mut b_events = b.cluster().events();
    a.shutdown().await;
    next_event(&mut b_events, |e| matches!(e, NodeEvent::Down { .. })).await;
    let mut again = config(&pki, "a", &[]);
    again.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let a = bounded(async {
        loop {
            // The port may take a moment to be free again.
            match Node::start(again.clone()).await {
                Ok(n) => return n,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    linked(&b, "a").await;
    linked(&a, "b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_list_admits_only_matching_nodes() {
    let pki = Pki::new("test", &["coord", "worker-1", "intruder"]);
    let mut c = config(&pki, "coord", &[]);
    c.allow = vec![reign::tls::IdPattern::new("worker-*").unwrap()];
    let coord = start(c).await;
    let seed = coord.cluster().local_addr().unwrap().to_string();
    let worker = start(config(&pki, "worker-1", std::slice::from_ref(&seed))).await;
    linked(&worker, "coord").await;
    let intruder = start(config(&pki, "intruder", &[seed])).await;
    let mut events = intruder.cluster().events();
    let refused = next_event(&mut events, |e| matches!(e, NodeEvent::Refused { .. })).await;
    assert!(refused.to_string().contains("not a member"), "{refused}");
    assert!(
        coord
            .cluster()
            .members()
            .iter()
            .all(|m| m.node.as_str() != "intruder")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_with_one_id_settle_on_the_higher_incarnation_and_are_reported() {
    let pki = Pki::new("test", &["a", "x"]);
    let a = start(config(&pki, "a", &[])).await;
    let mut events = a.cluster().events();
    let seed = a.cluster().local_addr().unwrap().to_string();
    let x1 = start(config(&pki, "x", std::slice::from_ref(&seed))).await;
    linked(&a, "x").await;
    // The same certificate, started again elsewhere.
    let x2 = start(config(&pki, "x", std::slice::from_ref(&seed))).await;
    let (hi, lo) = if x1.incarnation().get() > x2.incarnation().get() {
        (x1.incarnation(), x2.incarnation())
    } else {
        (x2.incarnation(), x1.incarnation())
    };
    let e = next_event(&mut events, |e| {
        matches!(e, NodeEvent::DuplicateNode { .. })
    })
    .await;
    assert_eq!(
        e,
        NodeEvent::DuplicateNode {
            node: node("x"),
            kept: hi,
            refused: lo
        }
    );
    // The lower one redials and is refused again: the same verdict, every time.
    let again = next_event(&mut events, |e| {
        matches!(e, NodeEvent::DuplicateNode { .. })
    })
    .await;
    assert_eq!(again, e);
    // a ends up linked with the higher one.
    bounded(async {
        loop {
            if a.cluster().connected() == vec![(node("x"), hi)] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Three nodes, then a second process holding `x` with a higher incarnation. `a` (the seed)
/// sees the newcomer connect and keeps it; `m` (lower than `x`, so it is the one to dial
/// `x`) keeps its link with the older process and would never dial again: the newer one dials
/// `m` itself once `m` has not linked with it for the fallback delay, and `m` then keeps the
/// newer too. Every node ends on the same process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_duplicate_reaches_every_node_even_one_that_dials_it() {
    let pki = Pki::new("test", &["a", "m", "x"]);
    let a = start(config(&pki, "a", &[])).await;
    let seed = a.cluster().local_addr().unwrap().to_string();
    let m = start(config(&pki, "m", std::slice::from_ref(&seed))).await;
    let x1 = start(config(&pki, "x", std::slice::from_ref(&seed))).await;
    for (n, other) in [(&a, "m"), (&a, "x"), (&m, "x"), (&x1, "m")] {
        linked(n, other).await;
    }
    // The same certificate, started again: until its incarnation (random) is the higher.
    let x2 = bounded(async {
        loop {
            let x2 = start(config(&pki, "x", std::slice::from_ref(&seed))).await;
            if x2.incarnation().get() > x1.incarnation().get() {
                return x2;
            }
            x2.shutdown().await;
        }
    })
    .await;
    let hi = x2.incarnation();
    bounded(async {
        loop {
            let on_hi = |n: &Node| n.cluster().connected().contains(&(node("x"), hi));
            if on_hi(&a) && on_hi(&m) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // And the newer is linked with both.
    linked(&x2, "a").await;
    linked(&x2, "m").await;
}

/// A node that joined at run time and leaves is reported left by the others at once, and
/// is no longer among their members (nor dialed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_leaves_is_forgotten_at_once() {
    let pki = Pki::new("test", &["a", "b"]);
    let a = start(config(&pki, "a", &[])).await;
    let seed = a.cluster().local_addr().unwrap().to_string();
    let b = start(config(&pki, "b", &[seed])).await;
    linked(&a, "b").await;
    let mut events = a.cluster().events();
    b.leave().await;
    let e = next_event(&mut events, |e| matches!(e, NodeEvent::Left { .. })).await;
    assert_eq!(
        e,
        NodeEvent::Left {
            node: node("b"),
            reason: reign::LeftReason::ShutDown
        }
    );
    assert!(a.cluster().members().is_empty());
}

/// A ring of seeds (a's seed is b, b's is c, c's is a), started one after the other: a node
/// that dials a seed of a higher ID makes its link of that connection and does not dial the
/// node again meanwhile, so no link is made twice and nothing goes down on the way. (Started
/// all at once, a node may still learn of a joiner from a HINT while the joiner's own seed
/// dial to it is under way; both connections are made and the designated dialer's replaces
/// the other, a brief Down and Up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_of_seeds_links_without_replacing_a_link() {
    let ids = ["a", "b", "c"];
    let pki = Pki::new("test", &ids);
    // Fixed ports, so that each file can name the next node's before it starts.
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut c = config(&pki, id, &[format!("127.0.0.1:{}", ports[(i + 1) % 3])]);
        c.listen = format!("127.0.0.1:{}", ports[i]).parse().unwrap();
        let n = start(c).await;
        if i == 1 {
            linked(&n, "a").await;
        }
        nodes.push(n);
    }
    for x in &nodes {
        for y in ids {
            if x.id().as_str() != y {
                linked(x, y).await;
            }
        }
    }
    for x in &nodes {
        assert_eq!(x.cluster().stats().links_down, 0, "{}", x.id());
    }
}
