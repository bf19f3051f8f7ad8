//! The node registry driven by arbitrary operations (see [`registry`]).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use reign_tls::NodeId;

use crate::proto::reason::JoinedVia;
use crate::proto::registry::{Action, AddrSource, Registry, RegistryLimits};

/// Reads `data` as operations on one node's registry (small limits, so that inputs reach
/// them): learning nodes, links installed, up and removed, ADVERTISE and HINT frames with
/// arbitrary text, failed dials, GOODBYEs, seeds, and time passing. After each operation it
/// checks what the machine hands back against a model of who is known: a node joins only
/// when unknown and leaves only when known, the table never exceeds its bound, frames go only
/// to nodes in service, and a HINT never changes an address a node already had.
pub fn registry(data: &[u8]) {
    let limits = RegistryLimits {
        max_nodes: 6,
        hint_burst: 4,
        hint_every: Duration::from_millis(500),
        hinted_dials: 2,
        forget_after: Duration::from_secs(5),
        fallback_after: Duration::from_secs(2),
    };
    let me: NodeId = "n5".parse().expect("a valid node ID");
    let mut r = Registry::new(me.clone(), limits);
    let mut now = Instant::now();
    let mut known: BTreeSet<NodeId> = BTreeSet::new();
    let mut in_service: BTreeSet<NodeId> = BTreeSet::new();
    let mut bytes = data.iter().copied();
    let id_of = |b: u8| -> NodeId { format!("n{}", b % 10).parse().expect("a valid node ID") };
    let text = |bytes: &mut dyn Iterator<Item = u8>| -> String {
        let len = usize::from(bytes.next().unwrap_or(0) % 24);
        let raw: Vec<u8> = bytes.take(len).collect();
        String::from_utf8_lossy(&raw).into_owned()
    };
    while let Some(op) = bytes.next() {
        let id = id_of(bytes.next().unwrap_or(0));
        // A hinted node and the address it had (a HINT may fill an empty one only).
        let mut hinted: Option<(NodeId, String)> = None;
        match op % 11 {
            0 => {
                let addr = text(&mut bytes);
                let source = [AddrSource::Unknown, AddrSource::Hint, AddrSource::Peer]
                    [usize::from(op / 11 % 3)];
                let how = [JoinedVia::Connected, JoinedVia::Seed, JoinedVia::Hint]
                    [usize::from(op / 33 % 3)];
                let addr = (!addr.is_empty()).then_some(addr.as_str());
                r.learn(&id, addr, source, how, op & 0x80 == 0, now);
            }
            1 => r.link_installed(&id),
            2 => r.link_up(&id, Some("10.0.0.5:7000")),
            3 => r.link_removed(&id, now),
            4 => {
                let addr = text(&mut bytes);
                let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, op));
                r.advertise(&id, &addr, Some(ip), now);
            }
            5 => {
                let node = text(&mut bytes);
                let addr = text(&mut bytes);
                hinted = node.parse::<NodeId>().ok().map(|n| {
                    let had = r.addr(&n).to_owned();
                    (n, had)
                });
                r.hint(&id, &node, &addr, |n| n.as_str() != "n9", now);
            }
            6 => {
                r.dial_failed(&id, now);
            }
            7 => r.said_goodbye(&id, now),
            8 => {
                let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), u16::from(op));
                if r.seed_wanted(addr) {
                    r.seed_answered(addr, &id);
                }
            }
            9 => now += Duration::from_millis(u64::from(op) * 50),
            _ => {
                if let Some(t) = r.poll_timeout() {
                    now = now.max(t);
                }
                r.handle_timeout(now);
            }
        }
        if let Some((n, had)) = hinted
            && !had.is_empty()
        {
            assert_eq!(r.addr(&n), had, "a HINT changed a known address");
        }
        while let Some(action) = r.poll() {
            match action {
                Action::Joined { node, .. } => {
                    assert!(node != me, "this node joined itself");
                    assert!(known.insert(node), "a known node joined again");
                }
                Action::Left { node, .. } => {
                    assert!(known.remove(&node), "an unknown node left");
                    in_service.remove(&node);
                }
                Action::Send { to, .. } => {
                    assert!(known.contains(&to), "a frame for an unknown node");
                }
                Action::Dial { node } => {
                    assert!(!r.addr(&node).is_empty(), "a dial with no address");
                }
                Action::Ignored { .. } => {}
            }
        }
        if op % 11 == 2 && r.in_service(&id) {
            in_service.insert(id);
        }
        assert!(
            known.len() <= limits.max_nodes,
            "the table passed its bound"
        );
    }
}
