//! Payloads full of identities (`MailboxRef`s), the way a member picks them to defeat the
//! decoder's remembered node key (docs/SECURITY.md, "Payloads"): each identity naming
//! another node, or the same node at alternating incarnations, or a valid run ended by an
//! invalid ID. Each costs the victim a decode bounded by the bytes it sent, no more, while
//! the honest member's round trips keep flowing; what was delivered is what was sent.

use std::sync::atomic::{AtomicU64, Ordering};

use reign::{MailboxRef, Node};
use serde::{Deserialize, Serialize};

use super::{frames, scene_on};
use crate::raw_member::serve_echo;
use crate::support::{Pki, bounded};

#[derive(Serialize, Deserialize)]
struct Refs(Vec<MailboxRef>);
reign::message!(Refs = "test.Refs");

/// Identities the victim's `refs` mailbox took, and how many they named.
static TAKEN: AtomicU64 = AtomicU64::new(0);
static NAMED: AtomicU64 = AtomicU64::new(0);

fn serve_echo_and_refs(node: &Node) {
    serve_echo(node);
    let (mut inbox, addr) = node.mailbox::<Refs>();
    node.names().register("refs", &addr).expect("register refs");
    tokio::spawn(async move {
        loop {
            let Refs(refs) = inbox.recv().await;
            NAMED.fetch_add(refs.len() as u64, Ordering::Relaxed);
            TAKEN.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// bincode's varint (the payload encoding, docs/PROTOCOL.md).
fn varint(b: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => b.push(v as u8),
        251..=0xffff => {
            b.push(251);
            b.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            b.push(252);
            b.extend_from_slice(&(v as u32).to_le_bytes());
        }
        _ => {
            b.push(253);
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A `Refs` payload of the identities `(name, incarnation, id)`.
fn refs(ids: impl Iterator<Item = (String, u64, u64)>) -> Vec<u8> {
    let ids: Vec<_> = ids.collect();
    let mut b = Vec::new();
    varint(&mut b, ids.len() as u64);
    for (name, inc, id) in ids {
        varint(&mut b, name.len() as u64);
        b.extend_from_slice(name.as_bytes());
        varint(&mut b, inc);
        varint(&mut b, id);
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_of_identities_chosen_against_the_remembered_key_cost_their_bytes() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let mut s = scene_on(pki, serve_echo_and_refs).await;
    let to = s
        .victim
        .node
        .names()
        .whereis::<Refs>("refs")
        .expect("refs is registered")
        .id()
        .get();
    let inc = s.victim.node.incarnation().get();
    let tag = "test.Refs";
    // 400 frames of 1,000 identities (about 25 KB each: 10 MB in all) per pattern.
    let (n, per) = (400u64, 1_000u64);
    let ids = move |f: u64, i: u64| f * per + i;
    let long = |k: u64| format!("{k:x>63}");
    type Payload = Box<dyn Fn(u64) -> Vec<u8>>;
    let patterns: [(&str, Payload, bool); 3] = [
        (
            "every identity another node (63-byte IDs)",
            Box::new(move |f| refs((0..per).map(|i| (long(ids(f, i)), 1, i + 1)))),
            true,
        ),
        (
            "one node at alternating incarnations",
            Box::new(move |f| refs((0..per).map(|i| (long(f), i % 2, i + 1)))),
            true,
        ),
        (
            "the remembered node's ID, then one character more, invalid",
            Box::new(move |f| {
                refs((0..per).map(|i| {
                    let name = if i + 1 == per {
                        format!("{} ", long(f))
                    } else {
                        long(f)
                    };
                    (name, 1, i + 1)
                }))
            }),
            false,
        ),
    ];
    for (what, payload, valid) in &patterns {
        let (taken, named) = (TAKEN.load(Ordering::Relaxed), NAMED.load(Ordering::Relaxed));
        let refused = s.victim.node.cluster().stats().refused_other;
        s.flood_watched(
            what,
            &frames(0..n, |f| crate::raw_member::send(to, inc, tag, &payload(f))),
        )
        .await;
        if *valid {
            // Delivered whole: every message and every identity in it, as sent.
            bounded(async {
                while TAKEN.load(Ordering::Relaxed) < taken + n {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
            .await;
            assert_eq!(NAMED.load(Ordering::Relaxed) - named, n * per, "{what}");
        } else {
            let stats = s.victim.node.cluster().stats();
            assert_eq!(
                stats.refused_other - refused,
                n,
                "{what}: each payload refused"
            );
            assert_eq!(
                TAKEN.load(Ordering::Relaxed),
                taken,
                "{what}: nothing delivered"
            );
        }
    }
    s.finish().await;
}
