//! Authenticated connects per second: reign's connect + mutual TLS + hello, side by side
//! with a raw tokio-rustls mutual-TLS handshake on the same certificates, same provider
//! (aws-lc-rs), same key exchange (X25519MLKEM768), resumption off on both.
//!
//! Run: `cargo bench --bench tls_handshake`. Prints each side's rate and the ratio of their
//! per-handshake costs (goal: reign at most 1.15x the raw handshake).
#![allow(clippy::print_stdout)]

mod common;
use common::raw_configs;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reign::tls::{NodeId, TlsConfig, TlsEndpoint};
use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};

const PER_ROUND: usize = 300;
const ROUNDS: usize = 5;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = common::pki(&["a", "b"]);
    let endpoint = |id: &str| {
        let id: NodeId = id.parse().expect("id");
        TlsEndpoint::new(TlsConfig::from_dir(dir.path(), id, "bench")).expect("endpoint")
    };
    let (a, b) = (endpoint("a"), endpoint("b"));
    let (client, server) = raw_configs(dir.path());

    let reign_addr = serve_reign(b).await;
    let raw_addr = serve_raw(server).await;
    let b_id: NodeId = "b".parse().expect("id");

    // Warm up both paths.
    for _ in 0..20 {
        reign_once(&a, reign_addr, &b_id).await;
        raw_once(&client, raw_addr).await;
    }
    let mut reign_best = Duration::MAX;
    let mut raw_best = Duration::MAX;
    // Interleave rounds so that machine noise hits both sides alike; keep each side's best.
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            raw_once(&client, raw_addr).await;
        }
        raw_best = raw_best.min(t.elapsed());
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            reign_once(&a, reign_addr, &b_id).await;
        }
        reign_best = reign_best.min(t.elapsed());
    }
    let per = |d: Duration| d.as_secs_f64() / PER_ROUND as f64;
    let (r, w) = (per(reign_best), per(raw_best));
    println!("authenticated connect, sequential, {PER_ROUND} per round, best of {ROUNDS} rounds");
    println!("{:<44} {:>10} {:>12}", "scenario", "conn/s", "us/conn");
    println!(
        "{:<44} {:>10.0} {:>12.1}",
        "raw tokio-rustls mTLS handshake",
        1.0 / w,
        w * 1e6
    );
    println!(
        "{:<44} {:>10.0} {:>12.1}",
        "reign connect (mTLS + identity + hello)",
        1.0 / r,
        r * 1e6
    );
    println!(
        "ratio (reign cost / raw cost): {:.3}x (goal <= 1.15x)",
        r / w
    );
}

async fn reign_once(a: &TlsEndpoint, addr: SocketAddr, b: &NodeId) {
    let s = a.connect(addr, b).await.expect("reign connect");
    assert_eq!(s.peer().node_id, *b);
}

async fn raw_once(client: &Arc<rustls::ClientConfig>, addr: SocketAddr) {
    let tcp = TcpStream::connect(addr).await.expect("tcp");
    tcp.set_nodelay(true).expect("nodelay");
    let name = ServerName::try_from("b").expect("name");
    let mut tls = tokio_rustls::TlsConnector::from(client.clone())
        .connect(name, tcp)
        .await
        .expect("raw connect");
    // Wait for the server's one-byte "accepted" so both sides have finished, as reign does.
    let mut byte = [0u8; 1];
    tokio::io::AsyncReadExt::read_exact(&mut tls, &mut byte)
        .await
        .expect("raw ack");
}

async fn serve_reign(b: TlsEndpoint) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let b = b.clone();
            tokio::spawn(async move {
                let _ = b.accept(tcp).await.expect("reign accept");
            });
        }
    });
    addr
}

async fn serve_raw(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                tcp.set_nodelay(true).expect("nodelay");
                let mut tls = acceptor.accept(tcp).await.expect("raw accept");
                tokio::io::AsyncWriteExt::write_all(&mut tls, b"!")
                    .await
                    .expect("raw ack");
                tokio::io::AsyncWriteExt::flush(&mut tls)
                    .await
                    .expect("flush");
            });
        }
    });
    addr
}
