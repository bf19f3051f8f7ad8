//! Interoperability: the real `openssl` CLI and rustls' own WebPKI verifiers agree with what
//! certgen makes, other tools' parsers (pyca/cryptography, Go's crypto/x509) read every kind
//! of file it writes, and doctor gives the right verdict on certificates openssl makes.
//!
//! These tests need `openssl` on PATH and fail (not skip) without it. The pyca/cryptography
//! and Go tests need `python3` with `cryptography` and `go`: on CI (`CI=true`) a missing one
//! fails its test, elsewhere the test is skipped with the reason on stderr.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{certgen, cluster, p, stdout, write};
use reign_certgen::{
    CertAuthority, DoctorOptions, InitOptions, Inspected, IssueOptions, KeyType, Outcome,
    RenewOptions, RevocationReason, RevokeTarget,
};
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};

/// Runs openssl; panics with its stderr when it fails.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI must be installed for the interop tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

#[test]
fn openssl_verifies_what_certgen_makes() {
    for key_type in KeyType::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        reign_certgen::init(
            d,
            &InitOptions {
                key_type,
                cluster_name: "prod".into(),
                ..Default::default()
            },
        )
        .unwrap();
        reign_certgen::issue(
            d,
            &["a", "1"],
            &IssueOptions {
                key_type,
                sans: vec!["10.0.0.7".into()],
                ..Default::default()
            },
        )
        .unwrap();
        for id in ["a", "1"] {
            let out = openssl(d, &["verify", "-CAfile", "ca.pem", &format!("{id}.pem")]);
            assert!(out.contains(": OK"), "{key_type}: {out}");
            // The key and the certificate hold the same public key.
            let from_key = openssl(d, &["pkey", "-in", &format!("{id}.key"), "-pubout"]);
            assert!(from_key.contains("BEGIN PUBLIC KEY"), "{from_key}");
            let from_cert = openssl(
                d,
                &["x509", "-in", &format!("{id}.pem"), "-noout", "-pubkey"],
            );
            assert_eq!(from_key, from_cert, "{key_type} {id}");
        }
        let text = openssl(d, &["x509", "-in", "a.pem", "-noout", "-text"]);
        for needle in [
            "Version: 3 (0x2)",
            "Subject: CN = a",
            "Issuer: CN = prod",
            "X509v3 Key Usage: critical",
            "Digital Signature",
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "DNS:a, IP Address:10.0.0.7",
            "CA:FALSE",
        ] {
            assert!(
                text.contains(needle),
                "{key_type}: {needle:?} not in\n{text}"
            );
        }
        let ca_text = openssl(d, &["x509", "-in", "ca.pem", "-noout", "-text"]);
        for needle in [
            "Version: 3 (0x2)",
            "X509v3 Basic Constraints: critical",
            "CA:TRUE",
            "Certificate Sign, CRL Sign",
            "Subject: CN = prod",
        ] {
            assert!(
                ca_text.contains(needle),
                "{key_type}: {needle:?} not in\n{ca_text}"
            );
        }
        // The key files are PKCS#8 that openssl reads, the CA key included.
        assert!(
            std::fs::read_to_string(d.join("a.key"))
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        let ca_pub = openssl(d, &["pkey", "-in", "ca.key", "-pubout"]);
        assert_eq!(
            ca_pub,
            openssl(d, &["x509", "-in", "ca.pem", "-noout", "-pubkey"]),
            "{key_type}"
        );

        // The CRL verifies against the CA and lists the revoked serial.
        let r = reign_certgen::revoke(
            d,
            RevokeTarget::Node("a".into()),
            RevocationReason::KeyCompromise,
        )
        .unwrap();
        let out = openssl(
            d,
            &[
                "crl", "-CAfile", "ca.pem", "-in", "crl.pem", "-noout", "-text",
            ],
        );
        assert!(out.contains("verify OK"), "{out}");
        assert!(out.to_lowercase().contains(&r.revoked[0].0), "{out}");
        assert!(
            out.contains("Key Compromise") && out.contains("Next Update"),
            "{out}"
        );
        // And openssl's own chain check refuses the revoked certificate with the CRL.
        let refused = Command::new("openssl")
            .args([
                "verify",
                "-crl_check",
                "-CAfile",
                "ca.pem",
                "-CRLfile",
                "crl.pem",
                "a.pem",
            ])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stdout).contains("revoked")
                || String::from_utf8_lossy(&refused.stderr).contains("revoked")
        );
    }
}

fn roots(ca: &CertAuthority) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    Arc::new(roots)
}

fn cert_der(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

#[test]
fn rustls_verifiers_accept_issued_certificates_and_reject_revoked_ones() {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = cluster(d);
    let now = UnixTime::now();

    let client =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(&ca), provider.clone())
            .build()
            .unwrap();
    let server =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots(&ca), provider.clone())
            .build()
            .unwrap();
    for id in ["a", "b", "c"] {
        let leaf = cert_der(&d.join(format!("{id}.pem")));
        client.verify_client_cert(&leaf, &[], now).unwrap();
        let name = ServerName::try_from(id.to_owned()).unwrap();
        server
            .verify_server_cert(&leaf, &[], &name, &[], now)
            .unwrap();
        // The name check really looks at the SAN.
        let wrong = ServerName::try_from("zz").unwrap();
        assert!(
            server
                .verify_server_cert(&leaf, &[], &wrong, &[], now)
                .is_err()
        );
    }

    reign_certgen::revoke(
        d,
        RevokeTarget::Node("b".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    let crl = CertificateRevocationListDer::from_pem_file(d.join("crl.pem")).unwrap();
    let client =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(&ca), provider.clone())
            .with_crls([crl.clone()])
            .build()
            .unwrap();
    let server = rustls::client::WebPkiServerVerifier::builder_with_provider(roots(&ca), provider)
        .with_crls([crl])
        .build()
        .unwrap();
    let revoked = rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked);
    let b = cert_der(&d.join("b.pem"));
    assert_eq!(
        client.verify_client_cert(&b, &[], now).unwrap_err(),
        revoked
    );
    let name = ServerName::try_from("b").unwrap();
    assert_eq!(
        server
            .verify_server_cert(&b, &[], &name, &[], now)
            .unwrap_err(),
        revoked
    );
    // The others still pass with the CRL.
    let a = cert_der(&d.join("a.pem"));
    client.verify_client_cert(&a, &[], now).unwrap();
    server
        .verify_server_cert(&a, &[], &ServerName::try_from("a").unwrap(), &[], now)
        .unwrap();
}

/// A CA made by openssl, and a node certificate signed by it with `extfile` (if any).
/// `reign-certgen doctor` on these files, with `extra` arguments.
fn doctor_cli(ca: &Path, cert: &Path, key: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["doctor", "--ca", p(ca), "--cert", p(cert), "--key", p(key)];
    args.extend_from_slice(extra);
    certgen(&args)
}

fn openssl_pki(d: &Path, node: &str, extfile: Option<&str>) {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=ossl-ca",
            "-days",
            "30",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{node}.key"),
            "-out",
            &format!("{node}.csr"),
            "-subj",
            &format!("/CN={node}"),
        ],
    );
    let mut args = vec![
        "x509".to_owned(),
        "-req".into(),
        "-in".into(),
        format!("{node}.csr"),
        "-CA".into(),
        "ca.pem".into(),
        "-CAkey".into(),
        "ca.key".into(),
        "-CAcreateserial".into(),
        "-out".into(),
        format!("{node}.pem"),
        "-days".into(),
        "10".into(),
    ];
    if let Some(ext) = extfile {
        write(&d.join("v3.ext"), ext);
        args.extend(["-extfile".into(), "v3.ext".into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(d, &args);
}

const PROPER_V3: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:n1\n";

#[test]
fn doctor_passes_openssl_certificates_with_proper_v3_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_pki(d, "n1", Some(PROPER_V3));
    assert!(openssl(d, &["x509", "-in", "n1.pem", "-noout", "-text"]).contains("Version: 3"));
    let opts = DoctorOptions {
        node_id: Some("n1".into()),
        crl: None,
        ..DoctorOptions::for_node(d, "n1")
    };
    let report = reign_certgen::doctor(&opts);
    assert!(report.passed(), "{report}");
    let o = doctor_cli(&opts.ca, &opts.cert, &opts.key, &["--node-id", "n1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // certgen can also take over a CA made by openssl: issue, revoke, and the CRL verifies.
    reign_certgen::issue(d, &["n2"], &IssueOptions::default()).unwrap();
    assert!(reign_certgen::doctor(&DoctorOptions::for_node(d, "n2")).passed());
    assert!(openssl(d, &["verify", "-CAfile", "ca.pem", "n2.pem"]).contains("OK"));
    reign_certgen::revoke(
        d,
        RevokeTarget::Node("n1".into()),
        RevocationReason::Superseded,
    )
    .unwrap();
    assert!(
        openssl(d, &["crl", "-CAfile", "ca.pem", "-in", "crl.pem", "-noout"]).contains("verify OK")
    );
    let report = reign_certgen::doctor(&DoctorOptions::for_node(d, "n1"));
    assert!(
        matches!(&report.check("revocation").unwrap().outcome, Outcome::Fail(m) if m.contains("revoked")),
        "{report}"
    );
    assert!(reign_certgen::doctor(&DoctorOptions::for_node(d, "n2")).passed());
}

#[test]
fn doctor_passes_openssl_certificates_without_a_san() {
    // Issue 3: proper v3 extensions but no subjectAltName still pass; reign matches the CN.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ext = PROPER_V3.replace("subjectAltName=DNS:n1\n", "");
    openssl_pki(d, "n1", Some(&ext));
    assert!(
        !openssl(d, &["x509", "-in", "n1.pem", "-noout", "-text"])
            .contains("Subject Alternative Name")
    );
    let opts = DoctorOptions {
        crl: None,
        ..DoctorOptions::for_node(d, "n1")
    };
    let report = reign_certgen::doctor(&opts);
    assert!(report.passed(), "{report}");
    assert!(
        matches!(&report.check("subject-alt-name").unwrap().outcome, Outcome::Pass(m) if m.contains("no DNS:n1 subjectAltName")),
        "{report}"
    );
    let o = doctor_cli(&opts.ca, &opts.cert, &opts.key, &["--node-id", "n1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("PASS subject-alt-name:") && l.contains("reign matches the CN")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn doctor_fails_openssl_v1_certificates_with_the_v1_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_pki(d, "n1", None);
    assert!(openssl(d, &["x509", "-in", "n1.pem", "-noout", "-text"]).contains("Version: 1 (0x0)"));
    let report = reign_certgen::doctor(&DoctorOptions::for_node(d, "n1"));
    let Outcome::Fail(msg) = &report.check("x509-version").unwrap().outcome else {
        panic!("v1 passed:\n{report}")
    };
    for needle in [
        "X.509 v1",
        "refuse",
        "openssl x509 -req",
        "-extfile",
        "reign-certgen issue",
        "extendedKeyUsage=serverAuth,clientAuth",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    assert!(
        matches!(&report.check("chain").unwrap().outcome, Outcome::Fail(m) if m.contains("v1")),
        "{report}"
    );
    // The key still matches; the failure is precise.
    assert!(report.check("key-match").unwrap().passed());

    let o = doctor_cli(&d.join("ca.pem"), &d.join("n1.pem"), &d.join("n1.key"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL x509-version:") && l.contains("X.509 v1")),
        "{out}"
    );
}

#[test]
fn doctor_fails_openssl_certificates_missing_usages() {
    let cases = [
        (
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:n1\n",
            "extended-key-usage",
            "no extendedKeyUsage",
        ),
        (
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:n1\n",
            "extended-key-usage",
            "lacks clientAuth",
        ),
        (
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:n1\n",
            "key-usage",
            "no keyUsage",
        ),
    ];
    for (ext, check, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        openssl_pki(dir.path(), "n1", Some(ext));
        let report = reign_certgen::doctor(&DoctorOptions::for_node(dir.path(), "n1"));
        match &report.check(check).unwrap().outcome {
            Outcome::Fail(m) => assert!(m.contains(reason), "{m}"),
            Outcome::Pass(m) => panic!("{check} passed ({m}) for\n{ext}"),
        }
        assert_eq!(report.failures().count(), 1, "{report}");
    }
}

#[test]
fn doctor_follows_intermediates() {
    // root (certgen) -> intermediate (openssl) -> node (openssl), bundle = root + intermediate.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    reign_certgen::init(d, &InitOptions::default()).unwrap();
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
            "-subj",
            "/CN=intermediate",
        ],
    );
    write(
        &d.join("int.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "int.pem",
            "-days",
            "30",
            "-extfile",
            "int.ext",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "n1.key",
            "-out",
            "n1.csr",
            "-subj",
            "/CN=n1",
        ],
    );
    write(&d.join("v3.ext"), PROPER_V3);
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "n1.csr",
            "-CA",
            "int.pem",
            "-CAkey",
            "int.key",
            "-CAcreateserial",
            "-out",
            "n1.pem",
            "-days",
            "10",
            "-extfile",
            "v3.ext",
        ],
    );
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(d.join("ca.pem")).unwrap(),
        std::fs::read_to_string(d.join("int.pem")).unwrap()
    );
    write(&d.join("bundle.pem"), bundle);
    let opts = DoctorOptions {
        ca: d.join("bundle.pem"),
        ..DoctorOptions::for_node(d, "n1")
    };
    let report = reign_certgen::doctor(&opts);
    assert!(report.passed(), "{report}");
    // Without the intermediate the chain is broken, and doctor says so.
    let report = reign_certgen::doctor(&DoctorOptions::for_node(d, "n1"));
    assert!(
        matches!(&report.check("chain").unwrap().outcome, Outcome::Fail(m) if m.contains("add the intermediate")),
        "{report}"
    );
}

// Other tools' parsers (issue 13): pyca/cryptography refuses DER that breaks the rules (a
// DEFAULT value written out, a non-minimal integer, ...), so every kind of file certgen
// writes goes through it, through Go's crypto/x509 and through openssl.

/// How long one run of an outside tool may take (`go run` compiles first).
const TOOL_LIMIT: Duration = Duration::from_secs(300);

/// Runs `cmd` (stdin closed, output captured) and kills it if it runs past `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{cmd:?} still ran after {limit:?}; killed"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    })
}

/// Whether this run is CI's (`CI` set, and not to `0` or `false`).
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Whether `what` runs here, by running `probe`. When it does not: on CI the test fails (CI
/// installs every tool the tests use: .ci/run); elsewhere it is skipped, and says why on
/// stderr (written directly, so the test harness's capture does not hide it).
fn tool_present(what: &str, probe: &mut Command) -> bool {
    use std::io::Write;
    let why = match run_bounded(probe, Duration::from_secs(60)) {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "{probe:?} failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("{probe:?}: {e}"),
    };
    assert!(
        !on_ci(),
        "{what} is missing on CI ({why}); .ci/run installs it"
    );
    let _ = writeln!(
        std::io::stderr(),
        "skipping: {what} is not available here ({why}); .ci/run installs it on CI"
    );
    false
}

/// A folder of every kind of file certgen writes, and what a parser must read in them.
struct EveryKind {
    /// The CA, then the other files, in the order they are given to a parser.
    files: Vec<PathBuf>,
    /// The lines tests/parsers/parse.go and parse.py print for `files` (formats there).
    expected: Vec<String>,
}

/// Makes, for `key_type`: the CA; twelve node certificates with extra IP and DNS names (so,
/// all but surely, serials with the top bit set, which DER writes with a leading zero); one
/// valid past 2049 (where X.509 switches from UTCTime to GeneralizedTime); a renewed one; an
/// empty CRL; and a CRL listing one certificate per revocation reason, numbered 128 (again a
/// leading zero byte).
fn every_kind_of_file(d: &Path, key_type: KeyType) -> EveryKind {
    reign_certgen::init(
        d,
        &InitOptions {
            key_type,
            cluster_name: "prod".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let nodes: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
    let ids: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let opts = IssueOptions {
        key_type,
        sans: vec!["10.0.0.7".into(), "::1".into(), "n.example".into()],
        ..Default::default()
    };
    let mut serials: Vec<String> = reign_certgen::issue(d, &ids, &opts)
        .unwrap()
        .into_iter()
        .map(|f| f.serial_hex)
        .collect();
    let far = IssueOptions {
        days: 36_000,
        ..opts
    };
    let far_serial = reign_certgen::issue(d, &["far"], &far).unwrap()[0]
        .serial_hex
        .clone();
    let renewed = reign_certgen::renew(
        d,
        &RenewOptions {
            node_ids: vec!["n0".into()],
            ..Default::default()
        },
    )
    .unwrap();
    serials[0] = renewed.renewed[0].files.serial_hex.clone();
    assert_ne!(renewed.renewed[0].old_serial.as_ref(), Some(&serials[0]));

    let empty = reign_certgen::refresh_crl(d, 0).unwrap();
    assert_eq!((empty.number, empty.revoked_count), (1, 0));
    std::fs::copy(d.join("crl.pem"), d.join("crl-empty.pem")).unwrap();
    let mut entries = Vec::new();
    for (node, reason) in nodes[1..].iter().zip(RevocationReason::ALL) {
        let r = reign_certgen::revoke(d, RevokeTarget::Node(node.clone()), reason).unwrap();
        // RFC 5280 5.3.1: no reasonCode extension for `unspecified`.
        let (reason, ext) = match reason {
            RevocationReason::Unspecified => ("none".to_owned(), 0),
            r => (r.as_str().to_owned(), 1),
        };
        entries.push(format!(
            "entry crl.pem {} reason={reason} ext={ext}",
            r.revoked[0].0
        ));
    }
    let state = d.join(reign_certgen::STATE_FILE);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    json["crl_number"] = 127.into();
    write(&state, serde_json::to_string(&json).unwrap());
    assert_eq!(reign_certgen::refresh_crl(d, 0).unwrap().number, 128);

    let ca_serial = match &reign_certgen::inspect_file(&d.join("ca.pem")).unwrap()[..] {
        [Inspected::Certificate(c)] => c.serial.clone(),
        other => panic!("{other:?}"),
    };
    let node = |name: &str, serial: &str| {
        format!(
            "cert {name}.pem ca=false bc=critical pathlen=none serial={serial} ext=6 signed-by-ca=yes"
        )
    };
    let mut files = vec![d.join("ca.pem")];
    let mut expected = vec![format!(
        "cert ca.pem ca=true bc=critical pathlen=none serial={ca_serial} ext=3 signed-by-ca=yes"
    )];
    for (name, serial) in nodes.iter().zip(&serials) {
        files.push(d.join(format!("{name}.pem")));
        expected.push(node(name, serial));
    }
    files.push(d.join("far.pem"));
    expected.push(node("far", &far_serial));
    files.push(d.join("crl-empty.pem"));
    expected.push("crl crl-empty.pem number=1 revoked=0 ext=2 signed-by-ca=yes".into());
    files.push(d.join("crl.pem"));
    expected.push(format!(
        "crl crl.pem number=128 revoked={} ext=2 signed-by-ca=yes",
        entries.len()
    ));
    expected.extend(entries);
    EveryKind { files, expected }
}

/// Runs a parser of tests/parsers on every kind of file, for every key type, and checks
/// that it reads what certgen wrote.
fn parser_reads_every_kind_of_file(what: &str, parser: impl Fn(&[PathBuf]) -> Command) {
    for key_type in KeyType::ALL {
        let dir = tempfile::tempdir().unwrap();
        let pki = every_kind_of_file(dir.path(), key_type);
        // The CA first: the one the others are checked against.
        let mut args = vec![pki.files[0].clone()];
        args.extend(pki.files.iter().cloned());
        let mut cmd = parser(&args);
        let out = run_bounded(cmd.current_dir(dir.path()), TOOL_LIMIT)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{what} refused a file certgen wrote ({key_type}):\n{}\n{text}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let mut lines: Vec<&str> = text.lines().collect();
        // The CA was given twice: once as the reference, once as a file to read.
        assert_eq!(lines.first(), Some(&pki.expected[0].as_str()), "{what}");
        lines.remove(0);
        assert_eq!(lines, pki.expected, "{what} ({key_type})");
    }
}

fn parsers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parsers")
}

#[test]
fn pyca_cryptography_reads_every_kind_of_file_certgen_writes() {
    let what = "python3 with pyca/cryptography";
    let mut probe = Command::new("python3");
    probe.args(["-c", "import cryptography; print(cryptography.__version__)"]);
    if !tool_present(what, &mut probe) {
        return;
    }
    let script = parsers_dir().join("parse.py");
    parser_reads_every_kind_of_file(what, |files| {
        let mut c = Command::new("python3");
        c.arg(&script).args(files);
        c
    });
}

#[test]
fn go_crypto_x509_reads_every_kind_of_file_certgen_writes() {
    let what = "Go (crypto/x509)";
    if !tool_present(what, Command::new("go").arg("version")) {
        return;
    }
    let program = parsers_dir().join("parse.go");
    parser_reads_every_kind_of_file(what, |files| {
        let mut c = Command::new("go");
        c.arg("run").arg(&program).args(files);
        // Standard library only: never reach for a module proxy or another toolchain.
        c.env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env("GOWORK", "off")
            .env("GOTOOLCHAIN", "local");
        if ["GOCACHE", "XDG_CACHE_HOME", "HOME"]
            .iter()
            .all(|v| std::env::var_os(v).is_none())
        {
            c.env(
                "GOCACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build"),
            );
        }
        c
    });
}

#[test]
fn openssl_reads_every_kind_of_file_certgen_writes() {
    for key_type in KeyType::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pki = every_kind_of_file(d, key_type);
        for file in &pki.files {
            let f = p(file);
            if f.contains("crl") {
                let out = openssl(
                    d,
                    &["crl", "-in", f, "-noout", "-text", "-CAfile", "ca.pem"],
                );
                assert!(out.contains("verify OK"), "{key_type} {f}: {out}");
                assert!(out.contains("X509v3 CRL Number"), "{key_type} {f}: {out}");
                continue;
            }
            let out = openssl(d, &["x509", "-in", f, "-noout", "-text"]);
            let (bc, want) = if f.ends_with("ca.pem") {
                (
                    "X509v3 Basic Constraints: critical\n                CA:TRUE",
                    true,
                )
            } else {
                (
                    "X509v3 Basic Constraints: critical\n                CA:FALSE",
                    false,
                )
            };
            assert!(out.contains(bc), "{key_type} {f}: {bc:?} not in\n{out}");
            if !want {
                let v = openssl(d, &["verify", "-CAfile", "ca.pem", f]);
                assert!(v.contains(": OK"), "{key_type} {f}: {v}");
            }
        }
        // The CRL lists every revoked serial with the reason.
        let out = openssl(d, &["crl", "-in", "crl.pem", "-noout", "-text"]);
        assert!(
            out.contains("Key Compromise") && out.contains("Superseded"),
            "{out}"
        );
        assert_eq!(out.matches("Serial Number:").count(), 9, "{out}");
    }
}
