//! The `reign` operator tool against running nodes, over real sockets: `reign status` (text
//! and JSON), `reign renew` of the node it connects to and of a node through it, the
//! errors (no connection, not an operator), and an operator never becoming a member. The
//! tool runs as an OS process; the nodes run in this process, each with its files in a
//! folder of its own, as on separate machines.

use std::path::{Path, PathBuf};

use reign::tls::operator::{self, OperatorErrorCode, OperatorReply, OperatorRequest};
use reign::tls::{HandshakeError, Refusal, TlsConfig, TlsEndpoint};
use reign::{Node, NodeConfig, NodeEvent, TlsFiles};
use tokio::io::AsyncWriteExt;

use crate::mesh::fast_tunables;
use crate::procs::binary;
use crate::support::{Pki, WAIT, bounded, node};

/// Nodes `ids` of one cluster, every one a member of the others, `ops` their operator.
struct Ops {
    pki: Pki,
    work: tempfile::TempDir,
    nodes: Vec<(String, Node)>,
}

fn files(work: &Path, id: &str) -> TlsFiles {
    let dir = work.join(id);
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        crl: Some(dir.join("crl.pem")),
        pinned: Vec::new(),
        watch: false,
    }
}

impl Ops {
    /// Starts `running` (highest first, so each dials nodes already up); `members` are every
    /// node's members (those not running get an address nobody answers).
    async fn start(members: &[&str], running: &[&str]) -> Ops {
        let mut all: Vec<&str> = members.to_vec();
        all.push("ops");
        let pki = Pki::new("test", &all);
        // A first CRL (revoking a certificate of nobody's), so that a revocation published
        // later reaches a node at its next reload.
        reign_certgen::issue(pki.dir.path(), &["nobody"], &Default::default()).unwrap();
        reign_certgen::revoke(
            pki.dir.path(),
            reign_certgen::RevokeTarget::Node("nobody".into()),
            reign_certgen::RevocationReason::Superseded,
        )
        .unwrap();
        let work = tempfile::tempdir().unwrap();
        for id in members {
            let dir = work.path().join(id);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(pki.path("crl.pem"), dir.join("crl.pem")).unwrap();
            std::fs::copy(pki.path("ca.pem"), dir.join("ca.pem")).unwrap();
            std::fs::copy(pki.path(&format!("{id}.pem")), dir.join("cert.pem")).unwrap();
            std::fs::copy(pki.path(&format!("{id}.key")), dir.join("key.pem")).unwrap();
        }
        let mut ops = Ops {
            pki,
            work,
            nodes: Vec::new(),
        };
        let mut order = running.to_vec();
        order.sort();
        order.reverse();
        for id in order {
            let mut c = NodeConfig::new(
                node(id),
                "test",
                "127.0.0.1:0".parse().unwrap(),
                files(ops.work.path(), id),
            )
            .with_operator(node("ops"));
            for other in members.iter().filter(|o| **o != id) {
                let addr = ops
                    .nodes
                    .iter()
                    .find(|(n, _)| n == other)
                    .map_or("127.0.0.1:1".to_string(), |(_, n)| {
                        n.cluster().local_addr().unwrap().to_string()
                    });
                c = c.with_member(node(other), addr);
            }
            c.tunables = fast_tunables();
            let n = bounded(Node::start(c)).await.expect("start");
            ops.nodes.push((id.to_string(), n));
        }
        for (i, (x, nx)) in ops.nodes.iter().enumerate() {
            for (y, _) in &ops.nodes[..i] {
                let _ = x;
                bounded(nx.cluster().wait_for(&node(y), WAIT))
                    .await
                    .unwrap();
            }
        }
        ops
    }

    fn node(&self, id: &str) -> &Node {
        &self.nodes.iter().find(|(n, _)| n == id).unwrap().1
    }

    fn addr(&self, id: &str) -> String {
        self.node(id).cluster().local_addr().unwrap().to_string()
    }

    fn cert_file(&self, id: &str) -> PathBuf {
        self.work.path().join(id).join("cert.pem")
    }

    /// The operator's arguments: `--cert`, `--key` of `who` (normally `ops`).
    fn creds(&self, who: &str) -> Vec<String> {
        vec![
            "--cert".into(),
            self.pki.path(&format!("{who}.pem")).display().to_string(),
            "--key".into(),
            self.pki.path(&format!("{who}.key")).display().to_string(),
        ]
    }
}

/// Runs `reign` with `args`, bounded; returns (success, stdout, stderr).
pub(crate) async fn reign_tool(args: &[String]) -> (bool, String, String) {
    let child = tokio::process::Command::new(binary("reign"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = bounded(child).await.expect("running reign");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn linked(n: &Node) -> Vec<String> {
    n.cluster()
        .connected()
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_over_an_operator_connection_as_text_and_json() {
    let ops = Ops::start(&["a", "b"], &["a", "b"]).await;
    let mut events = ops.node("b").cluster().events();
    // A message a refuses (its mailbox is gone by the time it arrives): STATUS counts it.
    let json = {
        let (_inbox, addr) = ops.node("a").mailbox::<u64>();
        serde_json::to_string(&addr).unwrap()
    };
    let gone: reign::Address<u64> = ops
        .node("b")
        .with_decode_scope(|| serde_json::from_str(&json).unwrap());
    gone.try_send(7).unwrap();
    bounded(async {
        while ops.node("a").cluster().stats().refused_no_mailbox == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let ca = ops.pki.path("ca.pem").display().to_string();
    let mut a = args(&["status", "--node", &ops.addr("a"), "--ca", &ca]);
    a.extend(ops.creds("ops"));
    let (ok, out, err) = reign_tool(&a).await;
    assert!(ok, "{err}");
    let own = ops.node("a").tls_status().unwrap();
    assert!(
        out.starts_with("node a (cluster test, incarnation "),
        "{out}"
    );
    assert!(out.contains(&own.material.own.serial_hex), "{out}");
    assert!(out.contains("link b "), "{out}");
    assert!(out.contains(", 1 no mailbox, "), "{out}");

    a.push("--json".into());
    let (ok, out, err) = reign_tool(&a).await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["node"], "a");
    assert_eq!(v["cluster"], "test");
    assert_eq!(
        v["certificate"]["serial"],
        own.material.own.serial_hex.as_str()
    );
    assert_eq!(v["certificate"]["common_name"], "a");
    assert!(v["certificate"]["seconds_left"].as_i64().unwrap() > 86_400 * 300);
    assert_eq!(v["ca_bundle"]["certificates"], 1);
    let links = v["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "the operator is not a link: {v}");
    assert_eq!(links[0]["node"], "b");
    assert_eq!(links[0]["key_exchange_group"], "X25519MLKEM768");
    assert!(links[0]["bytes_in"].as_u64().unwrap() > 0);
    assert_eq!(v["messages"]["refused_no_mailbox"], 1, "{v}");
    assert_eq!(v["messages"]["refused_full"], 0, "{v}");
    assert!(v["handshakes_refused"].is_u64(), "{v}");

    // Never a member, never announced: a still has one peer, and b heard of nobody new.
    assert_eq!(linked(ops.node("a")), ["b"]);
    while let Ok(Some(e)) = events.try_recv() {
        assert!(!e.to_string().contains("ops"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_a_node_directly_and_through_a_peer_without_dropping_a_link() {
    // c is a member nobody runs.
    let ops = Ops::start(&["a", "b", "c"], &["a", "b"]).await;
    let mut a_events = ops.node("a").cluster().events();
    let ca_dir = ops.pki.dir.path().display().to_string();
    let old_b = std::fs::read_to_string(ops.cert_file("b")).unwrap();
    let old_serial = ops.node("b").tls_status().unwrap().material.own.serial_hex;

    // b, through a.
    let mut r = args(&["renew", "b", "--via", &ops.addr("a"), "--ca-dir", &ca_dir]);
    r.extend(ops.creds("ops"));
    let (ok, out, err) = reign_tool(&r).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("renewed b (through a): serial "), "{out}");
    let serial = out
        .split("serial ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .to_owned();
    assert_ne!(serial, old_serial);
    // b uses it, its old files are the backup, its new key is private.
    let b_status = ops.node("b").tls_status().unwrap();
    assert_eq!(b_status.material.own.serial_hex, serial);
    let dir = ops.work.path().join("b");
    assert_eq!(
        std::fs::read_to_string(dir.join("cert.pem.bak")).unwrap(),
        old_b
    );
    assert!(dir.join("key.pem.bak").exists());
    use std::os::unix::fs::PermissionsExt;
    for f in ["key.pem", "key.pem.bak"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // a was told on the live link (CERT_UPDATE), which never dropped.
    let e = crate::mesh::next_event(&mut a_events, |e| {
        assert!(!matches!(e, NodeEvent::Down { .. }), "{e}");
        matches!(e, NodeEvent::PeerCertificateUpdated { node: p, .. } if p.as_str() == "b")
    })
    .await;
    assert!(e.to_string().contains(&serial), "{e}");
    // The CA's records know the new certificate, as installed.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ops.pki.path("certgen-state.json")).unwrap())
            .unwrap();
    let entry = state["issued"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["serial"] == serial.as_str())
        .expect("recorded");
    assert_eq!(
        entry["cert_file"], "(installed by reign renew) node b",
        "{entry}"
    );

    // a itself.
    let mut r = args(&["renew", "a", "--via", &ops.addr("a"), "--ca-dir", &ca_dir]);
    r.extend(ops.creds("ops"));
    let (ok, out, err) = reign_tool(&r).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("renewed a: serial "), "{out}");

    // c is not connected: said so, and which nodes are.
    let mut r = args(&["renew", "c", "--via", &ops.addr("a"), "--ca-dir", &ca_dir]);
    r.extend(ops.creds("ops"));
    let (ok, _, err) = reign_tool(&r).await;
    assert!(!ok);
    assert!(err.contains("no connection with c (linked: b)"), "{err}");
    assert_eq!(linked(ops.node("a")), ["b"]);
    while let Ok(Some(e)) = a_events.try_recv() {
        assert!(!matches!(e, NodeEvent::Down { .. }), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_operate_and_an_operator_never_joins() {
    let ops = Ops::start(&["a", "b"], &["a"]).await;
    let ca = ops.pki.path("ca.pem").display().to_string();
    // A member's certificate is not an operator's.
    let mut s = args(&["status", "--node", &ops.addr("a"), "--ca", &ca]);
    s.extend(ops.creds("b"));
    let (ok, _, err) = reign_tool(&s).await;
    assert!(!ok);
    assert!(
        err.contains("\"b\" is not an operator of this node"),
        "{err}"
    );
    // The operator's certificate does not make a node.
    let ep = ops.pki.endpoint("ops");
    let addr = ops.addr("a").parse().unwrap();
    match bounded(ep.connect(addr, &node("a"))).await {
        Err(HandshakeError::RefusedByPeer {
            reason: Refusal::UnknownNode { node },
            ..
        }) => assert_eq!(node, "ops"),
        other => panic!("{other:?}"),
    }
    assert!(ops.node("a").cluster().connected().is_empty());
    // The wrong cluster: said which one the node is in.
    let mut s = args(&[
        "status",
        "--node",
        &ops.addr("a"),
        "--ca",
        &ca,
        "--cluster",
        "prod",
    ]);
    s.extend(ops.creds("ops"));
    let (ok, _, err) = reign_tool(&s).await;
    assert!(!ok);
    assert!(
        err.contains("the node's cluster is \"test\", not \"prod\": pass --cluster \"test\""),
        "{err}"
    );
    // A CA folder whose CA the nodes do not trust: refused before anything is signed.
    let foreign = Pki::new("test", &[]);
    let mut r = args(&[
        "renew",
        "a",
        "--via",
        &ops.addr("a"),
        "--ca-dir",
        &foreign.dir.path().display().to_string(),
        "--ca",
        &ca,
    ]);
    r.extend(ops.creds("ops"));
    let (ok, _, err) = reign_tool(&r).await;
    assert!(!ok);
    assert!(
        err.contains("the nodes would refuse what it signs"),
        "{err}"
    );
    assert!(
        !foreign.path("certgen-state.json").exists() || {
            let st = std::fs::read_to_string(foreign.path("certgen-state.json")).unwrap();
            !st.contains("reign renew")
        }
    );
    // The help shows examples.
    let (ok, out, _) = reign_tool(&args(&["--help"])).await;
    assert!(ok);
    assert!(
        out.contains("Examples:") && out.contains("reign renew b --via"),
        "{out}"
    );
}

/// One operator session over the library, to reach what the tool never sends.
async fn session(ops: &Ops, id: &str) -> reign::tls::AuthenticatedStream {
    let ep =
        TlsEndpoint::new(TlsConfig::from_dir(ops.pki.dir.path(), node("ops"), "test")).unwrap();
    bounded(ep.connect_operator(ops.addr(id).parse().unwrap()))
        .await
        .expect("operator connection")
}

async fn ask(s: &mut reign::tls::AuthenticatedStream, r: &OperatorRequest) -> OperatorReply {
    bounded(async {
        s.write_all(&operator::encode_request(r)).await.unwrap();
        let body = operator::read_frame(s, operator::MAX_OPERATOR_REPLY)
            .await
            .unwrap();
        operator::decode_reply(&body).unwrap()
    })
    .await
}

fn code(r: &OperatorReply) -> OperatorErrorCode {
    match r {
        OperatorReply::Error { code, .. } => *code,
        other => panic!("not an error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_certificate_leaves_the_old_material_in_use() {
    let ops = Ops::start(&["a", "b"], &["a", "b"]).await;
    let before = std::fs::read(ops.cert_file("a")).unwrap();
    let serial = ops.node("a").tls_status().unwrap().material.own.serial_hex;
    let mut s = session(&ops, "a").await;
    let a = node("a");
    // Install before any prepare.
    let r = ask(
        &mut s,
        &OperatorRequest::RenewInstall {
            node: a.clone(),
            chain: vec![vec![1u8].into()],
        },
    )
    .await;
    assert_eq!(code(&r), OperatorErrorCode::NoPendingRenewal);

    let csr = match ask(&mut s, &OperatorRequest::RenewPrepare { node: a.clone() }).await {
        OperatorReply::Csr { csr, .. } => csr,
        other => panic!("{other:?}"),
    };
    // A second prepare within the second is refused, and keeps nothing.
    let r = ask(&mut s, &OperatorRequest::RenewPrepare { node: a.clone() }).await;
    assert_eq!(code(&r), OperatorErrorCode::Busy);

    // Signed by a CA the bundle does not hold.
    let foreign = Pki::new("test", &[]);
    let params = reign_certgen::NodeCertParams::new("a");
    let other = foreign.ca().sign_request(&csr, &params).unwrap();
    let r = ask(
        &mut s,
        &OperatorRequest::RenewInstall {
            node: a.clone(),
            chain: vec![other.cert_der],
        },
    )
    .await;
    assert_eq!(code(&r), OperatorErrorCode::Refused, "{r:?}");
    // The refusal ended that renewal: the right certificate now finds no key waiting.
    let right = ops.pki.ca().sign_request(&csr, &params).unwrap();
    let r = ask(
        &mut s,
        &OperatorRequest::RenewInstall {
            node: a.clone(),
            chain: vec![right.cert_der.clone()],
        },
    )
    .await;
    assert_eq!(code(&r), OperatorErrorCode::NoPendingRenewal);

    // A certificate of the cluster CA for another key (one the node did not make), on a new
    // operator connection (a requester of its own).
    drop(s);
    let mut s = session(&ops, "a").await;
    match ask(&mut s, &OperatorRequest::RenewPrepare { node: a.clone() }).await {
        OperatorReply::Csr { .. } => {}
        other => panic!("{other:?}"),
    }
    let r = ask(
        &mut s,
        &OperatorRequest::RenewInstall {
            node: a.clone(),
            chain: vec![right.cert_der],
        },
    )
    .await;
    match &r {
        OperatorReply::Error {
            code: OperatorErrorCode::Refused,
            text,
        } => {
            assert!(text.contains("not the key this node made"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing changed.
    assert_eq!(std::fs::read(ops.cert_file("a")).unwrap(), before);
    assert_eq!(
        ops.node("a").tls_status().unwrap().material.own.serial_hex,
        serial
    );
    assert_eq!(linked(ops.node("a")), ["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_connections_are_capped_and_a_malformed_request_ends_one() {
    let ops = Ops::start(&["a", "b"], &["a"]).await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut s = session(&ops, "a").await;
        // Served: each answers.
        let r = ask(
            &mut s,
            &OperatorRequest::Status {
                format: operator::StatusFormat::Text,
            },
        )
        .await;
        assert!(matches!(r, OperatorReply::Status { .. }), "{r:?}");
        open.push(s);
    }
    // The ninth is told why and closed, without a request.
    let mut ninth = session(&ops, "a").await;
    let body = bounded(operator::read_frame(
        &mut ninth,
        operator::MAX_OPERATOR_REPLY,
    ))
    .await
    .unwrap();
    assert_eq!(
        code(&operator::decode_reply(&body).unwrap()),
        OperatorErrorCode::Busy
    );
    // One closes: there is room again.
    drop(open.pop());
    let mut s = bounded(async {
        loop {
            let mut s = session(&ops, "a").await;
            s.write_all(&operator::encode_request(&OperatorRequest::Status {
                format: operator::StatusFormat::Json,
            }))
            .await
            .unwrap();
            let body = operator::read_frame(&mut s, operator::MAX_OPERATOR_REPLY)
                .await
                .unwrap();
            // The closed one may not have been counted out yet: try again.
            if let OperatorReply::Status { .. } = operator::decode_reply(&body).unwrap() {
                return s;
            }
        }
    })
    .await;
    // A malformed request: ERROR 1, then the end of the connection.
    s.write_all(&[0, 0, 0, 2, 0x70, 9]).await.unwrap();
    let body = bounded(operator::read_frame(&mut s, operator::MAX_OPERATOR_REPLY))
        .await
        .unwrap();
    assert_eq!(
        code(&operator::decode_reply(&body).unwrap()),
        OperatorErrorCode::Malformed
    );
    assert!(
        bounded(operator::read_frame(&mut s, 1024)).await.is_err(),
        "closed"
    );
    assert!(linked(ops.node("a")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_revoked_since_it_connected_is_served_no_more() {
    let ops = Ops::start(&["a", "b"], &["a"]).await;
    let mut s = session(&ops, "a").await;
    let status = OperatorRequest::Status {
        format: operator::StatusFormat::Text,
    };
    assert!(matches!(
        ask(&mut s, &status).await,
        OperatorReply::Status { .. }
    ));
    reign_certgen::revoke(
        ops.pki.dir.path(),
        reign_certgen::RevokeTarget::Node("ops".into()),
        reign_certgen::RevocationReason::KeyCompromise,
    )
    .unwrap();
    std::fs::copy(
        ops.pki.path("crl.pem"),
        ops.work.path().join("a").join("crl.pem"),
    )
    .unwrap();
    ops.node("a").reload_tls().unwrap();
    match ask(&mut s, &status).await {
        OperatorReply::Error {
            code: OperatorErrorCode::CertificateRefused,
            text,
        } => assert!(text.contains("revoked"), "{text}"),
        other => panic!("{other:?}"),
    }
    assert!(
        bounded(operator::read_frame(&mut s, 1024)).await.is_err(),
        "and the connection ends"
    );
}
