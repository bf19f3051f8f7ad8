//! Shared fixtures: a cluster folder, hand-made bad certificates, and the doctor failure
//! scenarios used by both the library and the CLI tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use reign_certgen::{
    CaParams, CertAuthority, DoctorOptions, InitOptions, IssueOptions, NodeCertParams,
    RevocationReason, RevokeTarget,
};
use reign_tls::{HandshakeError, NodeId, Refusal, RefusedBy, TlsConfig, TlsEndpoint};
use time::{Duration, OffsetDateTime};

/// A cluster folder with a CA and nodes `a`, `b`, `c`.
pub fn cluster(dir: &Path) -> CertAuthority {
    reign_certgen::init(dir, &InitOptions::default()).unwrap();
    reign_certgen::issue(dir, &["a", "b", "c"], &IssueOptions::default()).unwrap();
    CertAuthority::load(dir).unwrap()
}

pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> PathBuf {
    std::fs::write(path, contents).unwrap();
    path.to_owned()
}

/// Signs a certificate for a fresh key with the CA, after `edit` changes the usual node
/// parameters. Returns (cert PEM, key PEM).
pub fn custom_cert(
    ca: &CertAuthority,
    edit: impl FnOnce(&mut CertificateParams),
) -> (String, String) {
    let issuer =
        Issuer::from_ca_cert_pem(ca.cert_pem(), KeyPair::from_pem(ca.key_pem()).unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "a");
    p.distinguished_name = dn;
    p.subject_alt_names = vec![SanType::DnsName("a".try_into().unwrap())];
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(30);
    edit(&mut p);
    let cert = p.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Gives the certificate a malformed subjectAltName extension: a GeneralNames SEQUENCE whose
/// dNSName claims 5 bytes but holds 1. (A node never reads it: reign matches the CN.)
pub fn malformed_san(p: &mut CertificateParams) {
    p.subject_alt_names.clear();
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[2, 5, 29, 17],
        vec![0x30, 0x03, 0x82, 0x05, b'a'],
    )];
}

/// The TLS configuration of a node that runs with doctor's files (bundle, certificate, key,
/// CRL; the node ID is `opts.node_id`).
pub fn node_config(opts: &DoctorOptions) -> TlsConfig {
    let id = opts.node_id.as_deref().expect("a node ID").parse().unwrap();
    let c = TlsConfig::new(
        id,
        "doctor",
        opts.ca.clone(),
        opts.cert.clone(),
        opts.key.clone(),
    );
    match &opts.crl {
        Some(crl) => c.with_crl(crl.clone()),
        None => c,
    }
}

/// A real reign handshake over loopback: the node with `dialer`'s files dials the node with
/// `acceptor`'s. Returns (the dialer's result, the acceptor's result).
pub fn handshake(
    dialer: &DoctorOptions,
    acceptor: &DoctorOptions,
) -> (Result<(), HandshakeError>, Result<(), HandshakeError>) {
    let d = TlsEndpoint::new(node_config(dialer)).expect("the dialer starts");
    let a = TlsEndpoint::new(node_config(acceptor)).expect("the acceptor starts");
    let expected: NodeId = acceptor.node_id.as_deref().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialed, accepted) = tokio::join!(d.connect(addr, &expected), async {
            let (tcp, _) = listener.accept().await.unwrap();
            a.accept(tcp).await
        });
        (dialed.map(drop), accepted.map(drop))
    })
}

/// Whether a node with `peer`'s files accepts the certificate of `node` in a real handshake,
/// in both directions (as acceptor, then as dialer). Panics if the two directions disagree.
/// The node under test runs without a CRL: only the peer's verdict on its certificate is
/// asked (and a node whose own certificate fails the policy, other than by its dates or a
/// revocation, does not start).
pub fn node_accepts(node: &DoctorOptions, peer: &DoctorOptions) -> Result<(), Refusal> {
    let node = &DoctorOptions {
        crl: None,
        ..node.clone()
    };
    let refusal = |r: Result<(), HandshakeError>| match r {
        Ok(()) => Ok(()),
        Err(e) => match e.refusal() {
            Some((RefusedBy::Us, reason)) => Err(reason.clone()),
            _ => panic!("not a refusal by the peer's node: {e}"),
        },
    };
    let (_, accepted) = handshake(node, peer);
    let (dialed, _) = handshake(peer, node);
    let (as_acceptor, as_dialer) = (refusal(accepted), refusal(dialed));
    assert_eq!(as_acceptor, as_dialer, "the two directions disagree");
    as_acceptor
}

/// One way a node's files can be wrong, and what doctor must say.
pub struct Scenario {
    pub name: &'static str,
    pub opts: DoctorOptions,
    /// The check that must fail.
    pub check: &'static str,
    /// Text the failure must contain.
    pub reason: &'static str,
}

/// Every doctor failure that needs no openssl, laid out in `dir` (which gets a cluster).
pub fn doctor_scenarios(dir: &Path) -> Vec<Scenario> {
    let ca = cluster(dir);
    let base = |id: &str| DoctorOptions::for_node(dir, id);
    let mut v = Vec::new();
    let f = |name: &str| dir.join(name);

    // Files that are not what they should be.
    write(&f("garbage.pem"), "this is not a certificate\n");
    v.push(Scenario {
        name: "cert not PEM",
        opts: DoctorOptions {
            cert: f("garbage.pem"),
            ..base("a")
        },
        check: "cert-file",
        reason: "not a PEM file",
    });
    v.push(Scenario {
        name: "key where the certificate belongs",
        opts: DoctorOptions {
            cert: f("a.key"),
            ..base("a")
        },
        check: "cert-file",
        reason: "holds a PRIVATE KEY, expected a CERTIFICATE",
    });
    v.push(Scenario {
        name: "certificate where the key belongs",
        opts: DoctorOptions {
            key: f("a.pem"),
            ..base("a")
        },
        check: "key-file",
        reason: "holds a CERTIFICATE, expected a PRIVATE KEY",
    });
    write(&f("empty.pem"), "");
    v.push(Scenario {
        name: "empty CA file",
        opts: DoctorOptions {
            ca: f("empty.pem"),
            ..base("a")
        },
        check: "ca-file",
        reason: "the file is empty",
    });
    v.push(Scenario {
        name: "missing key file",
        opts: DoctorOptions {
            key: f("missing.key"),
            ..base("a")
        },
        check: "key-file",
        reason: "No such file",
    });
    v.push(Scenario {
        name: "CRL file is a certificate",
        opts: DoctorOptions {
            crl: Some(f("a.pem")),
            ..base("a")
        },
        check: "crl-file",
        reason: "expected an X509 CRL",
    });

    // Wrong CA.
    let other_dir = dir.join("other");
    reign_certgen::init(
        &other_dir,
        &InitOptions {
            cluster_name: "other".into(),
            ..Default::default()
        },
    )
    .unwrap();
    v.push(Scenario {
        name: "wrong CA",
        opts: DoctorOptions {
            ca: other_dir.join("ca.pem"),
            ..base("a")
        },
        check: "chain",
        reason: "not issued by a CA in the bundle",
    });
    // Same CA name, different key.
    let imposter = CertAuthority::generate(&CaParams::default()).unwrap();
    write(&f("imposter-ca.pem"), imposter.cert_pem());
    v.push(Scenario {
        name: "CA with the same name but another key",
        opts: DoctorOptions {
            ca: f("imposter-ca.pem"),
            ..base("a")
        },
        check: "chain",
        reason: "signed by another CA with the same name",
    });

    // Key of another node.
    v.push(Scenario {
        name: "key mismatch",
        opts: DoctorOptions {
            key: f("b.key"),
            ..base("a")
        },
        check: "key-match",
        reason: "does not belong to",
    });

    // Usages.
    let custom = |file: &str, edit: &dyn Fn(&mut CertificateParams)| -> DoctorOptions {
        let (c, k) = custom_cert(&ca, |p| edit(p));
        let cert = write(&f(&format!("{file}.pem")), c);
        let key = write(&f(&format!("{file}.key")), k);
        DoctorOptions {
            cert,
            key,
            ..base("a")
        }
    };
    v.push(Scenario {
        name: "no extendedKeyUsage",
        opts: custom("no-eku", &|p| p.extended_key_usages.clear()),
        check: "extended-key-usage",
        reason: "no extendedKeyUsage extension",
    });
    v.push(Scenario {
        name: "serverAuth only",
        opts: custom("server-only", &|p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
        }),
        check: "extended-key-usage",
        reason: "lacks clientAuth",
    });
    v.push(Scenario {
        name: "no keyUsage",
        opts: custom("no-ku", &|p| p.key_usages.clear()),
        check: "key-usage",
        reason: "no keyUsage extension",
    });
    v.push(Scenario {
        name: "keyUsage without digitalSignature",
        opts: custom("ku-no-ds", &|p| {
            p.key_usages = vec![KeyUsagePurpose::KeyEncipherment]
        }),
        check: "key-usage",
        reason: "lacks digitalSignature",
    });
    v.push(Scenario {
        name: "CN is not a valid node ID",
        opts: DoctorOptions {
            node_id: None,
            ..custom("bad-cn", &|p| {
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, "node a");
                p.distinguished_name = dn;
            })
        },
        check: "node-id",
        reason: "has the character ' ' at position 4",
    });
    v.push(Scenario {
        name: "CN differs from --node-id",
        opts: DoctorOptions {
            node_id: Some("b".into()),
            ..base("a")
        },
        check: "node-id",
        reason: "the Common Name is \"a\" but the node ID is \"b\"",
    });
    // Dates.
    let now = OffsetDateTime::now_utc();
    let dated = |file: &str, nb: OffsetDateTime, na: OffsetDateTime| -> DoctorOptions {
        let cert = ca
            .issue(&NodeCertParams {
                not_before: Some(nb),
                not_after: Some(na),
                ..NodeCertParams::new("a")
            })
            .unwrap();
        DoctorOptions {
            cert: write(&f(&format!("{file}.pem")), &cert.cert_pem),
            key: write(&f(&format!("{file}.key")), &cert.key_pem),
            ..base("a")
        }
    };
    v.push(Scenario {
        name: "expired",
        opts: dated(
            "expired",
            now - Duration::days(40),
            now - Duration::days(10),
        ),
        check: "validity",
        reason: "expired at",
    });
    v.push(Scenario {
        name: "not yet valid",
        opts: dated("future", now + Duration::days(3), now + Duration::days(40)),
        check: "validity",
        reason: "not valid yet",
    });

    // Revoked.
    let revoked = reign_certgen::revoke(
        dir,
        RevokeTarget::Node("c".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    assert_eq!(revoked.revoked.len(), 1);
    v.push(Scenario {
        name: "revoked",
        opts: base("c"),
        check: "revocation",
        reason: "revoked: serial",
    });
    v
}

/// Runs the built `reign-certgen` binary.
pub fn certgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reign-certgen"))
        .args(args)
        .output()
        .expect("run reign-certgen")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the run failed with `code`, one stderr line mentioning `needle`, and no panic.
pub fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {err}\nstdout: {}",
        stdout(o)
    );
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}
