//! The control plane as a whole, on the stable toolchain: sequences of frames from one peer
//! applied to a started node without a socket (`reign::__harness::PeerFeed`), after which
//! nothing the link brought may be left and no per-link cap may have been passed. Replays the
//! fuzz corpus (`fuzz/corpus/control_plane/`, made by the cargo-fuzz target of the same name)
//! and a fixed number of seeded random sequences, so CI runs it without nightly.

use reign::__fuzz::Rng;
use reign::__harness::{PeerFeed, Targets};
use reign::{Node, Tunables};

use crate::raw_member::{
    config, frame, group_join, group_leave, monitor, name_add, name_remove, send, send_named,
};
use crate::support::{Pki, bounded, node};

/// Mostly small numbers (they collide, as a hostile peer's would), sometimes any.
fn num(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 => r.next_u64(),
        _ => r.below(8),
    }
}

/// A short string that often names something that exists.
fn text(r: &mut Rng) -> String {
    const WORDS: [&str; 6] = ["g", "t0", "t1", "n", "u64", "test.Ping"];
    WORDS[r.below(WORDS.len() as u64) as usize].to_owned()
}

/// One random frame: any kind, fields drawn so that they often hit what exists.
fn random_frame(r: &mut Rng) -> Vec<u8> {
    let be = |v: u64| v.to_be_bytes();
    match r.below(16) {
        0 => send(num(r), num(r), "u64", &[r.below(256) as u8]),
        1 => send_named(&text(r), "u64", &[r.below(300) as u8]),
        2 | 3 => monitor(num(r), num(r), num(r), num(r)),
        4 => frame(0x21, &be(num(r))),
        5 => {
            let mut b = Vec::new();
            for _ in 0..4 {
                b.extend_from_slice(&be(num(r)));
            }
            b.push(r.below(5) as u8);
            b.extend_from_slice(&[0, 1, b'x']);
            frame(0x22, &b)
        }
        6 => frame(0x30, &be(r.next_u64())),
        7 => {
            let mut b = be(num(r)).to_vec();
            let t = text(r);
            b.push(t.len() as u8);
            b.extend_from_slice(t.as_bytes());
            frame(0x40, &b)
        }
        8 => {
            let mut b = be(num(r)).to_vec();
            b.push(r.below(2) as u8);
            if b[8] == 0 {
                b.extend_from_slice(&be(num(r)));
                b.extend_from_slice(&[3, b'u', b'6', b'4']);
            }
            frame(0x41, &b)
        }
        9 | 10 => name_add(&text(r), num(r), &text(r), r.next_u64()),
        11 => name_remove(&text(r), num(r)),
        12 | 13 => group_join(&text(r), num(r), &text(r)),
        14 => group_leave(&text(r), num(r)),
        _ => match r.below(8) {
            0 => frame(0x31, &[0]),
            // Garbage: an unknown kind ends the link.
            1 => frame(r.below(256) as u8, &be(r.next_u64())),
            _ => frame(0x5f, &[]),
        },
    }
}

fn corpus() -> Vec<Vec<u8>> {
    reign::__fuzz::corpus(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/control_plane"),
    )
}

#[tokio::test]
async fn frames_from_a_peer_leave_nothing_behind_and_stay_within_the_caps() {
    let pki = Pki::new("demo", &["a", "b"]);
    // b accepts a, never dials it: the harness plays a's links.
    let mut tunables = Tunables::default();
    tunables.max_monitors_per_link = 6;
    tunables.max_announced_per_link = 5;
    let b = bounded(Node::start(config(
        &pki,
        "b",
        &[("a", "127.0.0.1:1".into())],
        tunables,
    )))
    .await
    .unwrap();
    let targets = Targets::new(&b);
    let peer = node("a");
    for (i, input) in corpus().iter().enumerate() {
        let mut feed = PeerFeed::new(&b, &peer, &targets).unwrap();
        feed.feed(input)
            .unwrap_or_else(|e| panic!("corpus input {i}: {e}"));
        feed.end()
            .unwrap_or_else(|e| panic!("corpus input {i}: {e}"));
    }
    // `REIGN_WRITE_CORPUS=<dir>` also writes the first sequences there, as the fuzz target's
    // seed corpus.
    let seeds_to = std::env::var_os("REIGN_WRITE_CORPUS").map(std::path::PathBuf::from);
    for seed in 1..=3_000u64 {
        let mut r = Rng::new(seed);
        let mut feed = PeerFeed::new(&b, &peer, &targets).unwrap();
        let mut whole = Vec::new();
        for _ in 0..r.below(40) {
            // Split writes at random points, as reads would.
            let f = random_frame(&mut r);
            whole.extend_from_slice(&f);
            let cut = r.below(f.len() as u64 + 1) as usize;
            feed.feed(&f[..cut])
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            feed.feed(&f[cut..])
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
        feed.end().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        if let Some(dir) = &seeds_to
            && seed <= 64
        {
            // The target's first byte says where to split the stream.
            whole.insert(0, r.below(256) as u8);
            std::fs::write(dir.join(format!("seed-{seed:03}")), &whole).expect("write a seed");
        }
    }
    // The node still serves.
    let (mut inbox, addr) = b.mailbox::<u64>();
    addr.try_send(1).unwrap();
    assert_eq!(inbox.try_recv(), Some(1));
    bounded(b.shutdown()).await;
}
