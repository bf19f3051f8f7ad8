//! The control plane as a whole: the input is the byte stream of one link from peer `a` to a
//! started node `b` (frames, split wherever libFuzzer likes), applied without a socket through
//! `reign_core::__harness::PeerFeed`. After every frame no per-link cap may be passed; after
//! the link ends nothing it brought may be left (`PeerFeed::run`: the first byte splits the
//! rest into two reads). Any violation panics (a crash to libFuzzer).
//! The caps are set small (6 monitors, 5 names and memberships) so that inputs reach them.
#![no_main]

use std::sync::OnceLock;

use reign_core::__harness::{PeerFeed, Targets};
use reign_core::{Node, NodeConfig, NodeId, TlsFiles};

struct World {
    rt: tokio::runtime::Runtime,
    node: Node,
    targets: Targets,
    peer: NodeId,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("reign-fuzz-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        reign_certgen::init(
            &dir,
            &reign_certgen::InitOptions {
                cluster_name: "fuzz".into(),
                ..Default::default()
            },
        )
        .expect("CA");
        reign_certgen::issue(&dir, &["a", "b"], &reign_certgen::IssueOptions::default())
            .expect("certificates");
        let tls = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("b.pem"),
            key: dir.join("b.key"),
            crl: None,
            pinned: Vec::new(),
            watch: false,
        };
        let peer: NodeId = "a".parse().expect("id");
        // b never dials a (a is lower): the harness plays a's links.
        let mut config = NodeConfig::new(
            "b".parse().expect("id"),
            "fuzz",
            "127.0.0.1:0".parse().expect("addr"),
            tls,
        )
        .with_member(peer.clone(), "127.0.0.1:1");
        config.tunables.max_monitors_per_link = 6;
        config.tunables.max_announced_per_link = 5;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let node = rt.block_on(Node::start(config)).expect("b starts");
        let targets = Targets::new(&node);
        World {
            rt,
            node,
            targets,
            peer,
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let w = world();
    let _enter = w.rt.enter();
    if let Err(e) = PeerFeed::run(&w.node, &w.peer, &w.targets, data) {
        panic!("{e}");
    }
});
