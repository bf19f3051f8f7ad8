//! Quickstart: a three-node reign cluster in one process, from its keys to an impostor.
//!
//! Run it with `cargo run --example quickstart`; it needs no setup and ends on its own. It
//!
//! 1. makes a cluster CA and certificates for nodes `a`, `b` and `c` in a temporary folder
//!    (with the `reign_certgen` library) and checks each node's files;
//! 2. starts the three nodes on loopback, each with the others as members, and waits for
//!    the links;
//! 3. has `a` call `b`'s `echo` mailbox and get the answer (a remote send and its reply);
//! 4. has `a` send `b` a message carrying the address of a mailbox on `c`, which `b` uses;
//! 5. has `a` monitor that mailbox on `c`, stops `c`, and shows the `Down` that `a` receives;
//! 6. shows impostors refused, with the typed reason: a node started with another node's
//!    certificate, a holder of `b`'s valid certificate claiming to be `c`, and a node
//!    answering where `b` was expected.
//!
//! Every wait is bounded; on any failure it says why and exits non-zero. Logs (refusals are
//! logged as warnings) go to stderr; `RUST_LOG=info` shows more.

// A demo talks to the person running it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "echo/mod.rs"]
mod echo;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use reign::tls::{HandshakeError, Refusal, RefusedBy, TlsConfig, TlsEndpoint, TlsError};
use reign::{Address, Down, DownReason, Node, NodeConfig, NodeEvent, NodeId, TlsFiles};
use reign_certgen::{DoctorOptions, InitOptions, IssueOptions, Outcome};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use echo::{EchoReply, EchoRequest};

/// The nodes of the demo cluster.
const NODES: [&str; 3] = ["a", "b", "c"];
/// The cluster's name (in the CA's subject and in every hello).
const CLUSTER: &str = "quickstart";
/// The bound of every wait in the demo.
const WAIT: Duration = Duration::from_secs(10);

/// One node's files, as a node is configured with them.
struct NodeFiles {
    id: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// What `b`'s relay mailbox takes: some text and the address to send it to.
#[derive(Debug, Serialize, Deserialize)]
struct Relay {
    text: String,
    to: Address<String>,
}
reign::message!(Relay = "quickstart.Relay");

/// The cluster's PKI: a CA and a certificate per node, in `dir`, each node checked by doctor.
///
/// This is all a cluster needs before it starts; the nodes below are configured with the
/// returned files.
fn make_cluster_pki(dir: &Path, nodes: &[&str]) -> Result<Vec<NodeFiles>> {
    let ca = reign_certgen::init(
        dir,
        &InitOptions {
            cluster_name: CLUSTER.into(),
            ..InitOptions::default()
        },
    )
    .context("creating the cluster CA")?;
    println!(
        "   Created the cluster CA \"{}\" ({} key) in {}.",
        ca.subject,
        ca.key_type,
        dir.display()
    );
    println!(
        "   {} is the CA's secret: it is needed only to issue, revoke and renew.",
        ca.key_path.display()
    );

    let issued = reign_certgen::issue(dir, nodes, &IssueOptions::default())
        .context("issuing the node certificates")?;
    let mut files = Vec::new();
    for node in issued {
        files.push(NodeFiles {
            id: node.node_id,
            ca: ca.cert_path.clone(),
            cert: node.cert_path,
            key: node.key_path,
        });
    }

    for node in &files {
        let report = reign_certgen::doctor(&DoctorOptions {
            ca: node.ca.clone(),
            cert: node.cert.clone(),
            key: node.key.clone(),
            crl: None,
            node_id: Some(node.id.clone()),
        });
        if !report.passed() {
            bail!("node {} failed its checks:\n{report}", node.id);
        }
        let validity = report.check("validity").map(|c| match &c.outcome {
            Outcome::Pass(text) | Outcome::Fail(text) => text.clone(),
        });
        println!(
            "   Node {}: {} and {}; all {} checks passed ({}).",
            node.id,
            file_name(&node.cert),
            file_name(&node.key),
            report.checks.len(),
            validity.unwrap_or_default()
        );
    }
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn id(s: &str) -> Result<NodeId> {
    s.parse().with_context(|| format!("node ID {s:?}"))
}

/// Bounds `what` by [`WAIT`].
async fn bounded<T>(step: &str, what: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(WAIT, what)
        .await
        .map_err(|_| anyhow!("{step}: nothing within {WAIT:?}"))
}

/// Starts the nodes, highest ID first: the node with the lower ID dials, so every node a
/// node dials is already listening. Members not yet started are listed with an address
/// that is never dialed.
async fn start_nodes(files: &[NodeFiles]) -> Result<Vec<Node>> {
    let mut addrs: Vec<(String, SocketAddr)> = Vec::new();
    let mut nodes = Vec::new();
    for me in files.iter().rev() {
        let tls = TlsFiles {
            ca: me.ca.clone(),
            cert: me.cert.clone(),
            key: me.key.clone(),
            crl: None,
            pinned: Vec::new(),
            watch: false,
        };
        let mut config = NodeConfig::new(id(&me.id)?, CLUSTER, "127.0.0.1:0".parse()?, tls);
        for other in files.iter().filter(|f| f.id != me.id) {
            let addr = addrs
                .iter()
                .find(|(id, _)| *id == other.id)
                .map_or_else(|| "127.0.0.1:1".to_owned(), |(_, a)| a.to_string());
            config = config.with_member(id(&other.id)?, addr);
        }
        let node = bounded("starting a node", Node::start(config))
            .await?
            .with_context(|| format!("starting node {}", me.id))?;
        let addr = node
            .cluster()
            .local_addr()
            .context("a started node listens")?;
        println!(
            "   Node {} is listening on {addr} (incarnation {}).",
            me.id,
            node.incarnation()
        );
        addrs.push((me.id.clone(), addr));
        nodes.push(node);
    }
    nodes.reverse();
    Ok(nodes)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let started = Instant::now();
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;

    println!("1. The cluster's keys");
    let files = make_cluster_pki(tmp.path(), &NODES)?;

    println!("2. Three nodes on loopback");
    let nodes = start_nodes(&files).await?;
    let [a, b, c] = [&nodes[0], &nodes[1], &nodes[2]];
    let mut a_events = a.cluster().events();
    let t = Instant::now();
    for (x, y) in [(a, b), (a, c), (b, c)] {
        x.cluster()
            .wait_for(y.id(), WAIT)
            .await
            .with_context(|| format!("link {}-{}", x.id(), y.id()))?;
        y.cluster()
            .wait_for(x.id(), WAIT)
            .await
            .with_context(|| format!("link {}-{}", y.id(), x.id()))?;
    }
    println!(
        "   Links up: a-b, a-c, b-c, each one mutual TLS checked both ways ({} ms).",
        t.elapsed().as_millis()
    );

    println!("3. A remote send and its reply");
    let echo_at_b = echo::spawn(b).context("registering echo on b")?;
    println!("   b registered its mailbox {echo_at_b} as \"echo\".");
    let echo: Address<EchoRequest> = bounded(
        "a looks up echo on b",
        a.cluster().whereis_on(b.id(), echo::NAME, WAIT),
    )
    .await??;
    println!("   a looked up \"echo\" on b: {echo}.");
    let t = Instant::now();
    let text = "hello from a".to_owned();
    let EchoReply { text: answer } = echo
        .call(
            |reply| EchoRequest {
                text: text.clone(),
                reply,
            },
            WAIT,
        )
        .await
        .context("a calls b's echo")?;
    ensure!(answer == text, "echo answered {answer:?}, not {text:?}");
    println!(
        "   a sent {text:?} with a reply address; b answered {answer:?} ({} µs).",
        t.elapsed().as_micros()
    );

    println!("4. An address inside a message, used from a third node");
    let (mut sink, sink_addr) = c.mailbox::<String>();
    c.names().register("sink", &sink_addr)?;
    let (mut relay, relay_addr) = b.mailbox::<Relay>();
    b.names().register("relay", &relay_addr)?;
    // b's relay: sends each text to the address that came with it.
    tokio::spawn(async move {
        loop {
            let Relay { text, to } = relay.recv().await;
            println!("   b received an address in a message, {to}, and sends it {text:?}.");
            if let Err(e) = to.try_send(text) {
                println!("   b could not send: {e}");
            }
        }
    });
    let sink_at_a: Address<String> = bounded(
        "a looks up sink on c",
        a.cluster().whereis_on(c.id(), "sink", WAIT),
    )
    .await??;
    let relay_at_a: Address<Relay> = bounded(
        "a looks up relay on b",
        a.cluster().whereis_on(b.id(), "relay", WAIT),
    )
    .await??;
    println!("   a sends b a message carrying the address of c's mailbox {sink_at_a}.");
    relay_at_a
        .try_send(Relay {
            text: "hello c, from a via b".into(),
            to: sink_at_a.clone(),
        })
        .map_err(|e| anyhow!("a sends to b's relay: {e}"))?;
    let got = sink
        .recv_timeout(WAIT)
        .await
        .context("c's mailbox got nothing")?;
    println!("   c's mailbox received {got:?}.");

    println!("5. A monitor, when the node it watches stops");
    let (mut watcher, _) = a.mailbox::<Down>();
    let monitor = watcher.monitor(&sink_at_a);
    println!("   a monitors {sink_at_a} on c; now c shuts down.");
    bounded("c shuts down", c.shutdown()).await?;
    let down = watcher
        .recv_timeout(WAIT)
        .await
        .context("a's monitor did not fire")?;
    ensure!(monitor.fired(&down), "a Down from another monitor: {down}");
    ensure!(
        down.reason == DownReason::NoConnection,
        "the monitor fired with {:?}, not NoConnection",
        down.reason
    );
    println!(
        "   a's mailbox received Down {{ target: {}, reason: {:?} }}: \"{}\".",
        down.target, down.reason, down.reason
    );
    drop(sink);

    println!("6. Impostors are refused, with the reason");
    let b_files = &files[1];
    let a_addr = a.cluster().local_addr().context("a listens")?;
    // (a) A node cannot even start with another node's certificate.
    let as_c_with_b_cert = TlsConfig::new(
        id("c")?,
        CLUSTER,
        b_files.ca.as_path(),
        b_files.cert.as_path(),
        b_files.key.as_path(),
    );
    match TlsEndpoint::new(as_c_with_b_cert) {
        Err(e @ TlsError::OwnCnMismatch { .. }) => {
            println!("   Starting as c with b's certificate: refused at start: {e}.")
        }
        Err(e) => bail!("starting as c with b's certificate failed, but not for its CN: {e}"),
        Ok(_) => bail!("an endpoint started as c with b's certificate"),
    }
    // (b) A program holding b's valid certificate and key dials a and claims to be c.
    println!("   Someone with b's valid certificate and key dials a, claiming to be c:");
    let told = impostor_claims(a_addr, b_files, "c").await?;
    let refused = bounded(
        "a's refusal event",
        next_refusal(&mut a_events, RefusedBy::Us),
    )
    .await??;
    let want = Refusal::CnMismatch {
        claimed: "c".into(),
        proven: "b".into(),
    };
    ensure!(
        refused == want,
        "a refused it for {refused:?}, not {want:?}"
    );
    println!("     a refused it with Refusal::{refused:?}:");
    println!("       {refused};");
    println!("     the impostor was told {told}, and was disconnected.");
    // (c) A node that dials a's address expecting b refuses whoever answers there.
    let dialer = TlsEndpoint::new(TlsConfig::from_dir(tmp.path(), id("c")?, CLUSTER))?;
    match bounded("dialing a, expecting b", dialer.connect(a_addr, &id("b")?)).await? {
        Err(HandshakeError::Refused { reason, .. }) => println!(
            "   A node dialing a's address, expecting b there, refuses what answers:\n     \
             Refusal::{reason:?}."
        ),
        Err(e) => bail!("dialing a expecting b failed, but not with a refusal: {e}"),
        Ok(_) => bail!("dialing a expecting b was accepted"),
    }

    for node in [a, b] {
        bounded("shutting down", node.shutdown()).await?;
    }
    println!(
        "Done in {:.1} s; the temporary folder is removed.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The next refusal decided by `by` among `events`.
async fn next_refusal(events: &mut reign::Events, by: RefusedBy) -> Result<Refusal> {
    loop {
        match events.recv().await? {
            NodeEvent::Refused {
                by: who, reason, ..
            } if who == by => return Ok(reason),
            _ => {}
        }
    }
}

/// An impostor: a plain TLS client (not reign) that presents `files`' certificate, which is
/// valid, and then claims in its HELLO to be `claim`. Returns what the node answered, as
/// `docs/PROTOCOL.md` describes its REFUSE message.
async fn impostor_claims(addr: SocketAddr, files: &NodeFiles, claim: &str) -> Result<String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.ca)? {
        roots.add(cert?)?;
    }
    let chain = CertificateDer::pem_file_iter(&files.cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&files.key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![b"reign/1".to_vec()];

    let talk = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("a")?, tcp)
            .await?;
        // HELLO: version 1, an incarnation, the cluster, and the claimed node ID.
        let mut body = vec![0x01, 0, 1];
        body.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        for text in [CLUSTER, claim] {
            body.push(text.len() as u8);
            body.extend_from_slice(text.as_bytes());
        }
        tls.write_all(&(body.len() as u32).to_be_bytes()).await?;
        tls.write_all(&body).await?;
        tls.flush().await?;
        let len = tls.read_u32().await? as usize;
        ensure!((1..=512).contains(&len), "a handshake frame of {len} bytes");
        let mut frame = vec![0; len];
        tls.read_exact(&mut frame).await?;
        // After a REFUSE the node closes the connection: nothing more arrives.
        let mut more = [0u8; 1];
        if let Ok(n @ 1..) = tls.read(&mut more).await {
            bail!("the node sent {n} more byte(s) after its answer");
        }
        anyhow::Ok(frame)
    };
    let frame = bounded("the impostor's handshake", talk).await??;
    describe_refuse(&frame)
}

/// `REFUSE code 9 ["c", "b"]` for a REFUSE frame body (kind, code u16, count u8, fields).
fn describe_refuse(frame: &[u8]) -> Result<String> {
    let (&kind, rest) = frame.split_first().context("an empty frame")?;
    ensure!(
        kind == 0x02,
        "a handshake message of kind {kind:#04x}, not REFUSE"
    );
    ensure!(rest.len() >= 3, "a truncated REFUSE");
    let code = u16::from_be_bytes([rest[0], rest[1]]);
    let mut fields = Vec::new();
    let mut rest = &rest[3..];
    for _ in 0..frame[3] {
        ensure!(rest.len() >= 2, "a truncated REFUSE field");
        let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let text = rest.get(2..2 + n).context("a truncated REFUSE field")?;
        fields.push(String::from_utf8_lossy(text).into_owned());
        rest = &rest[2 + n..];
    }
    Ok(format!("REFUSE code {code} {fields:?}"))
}
