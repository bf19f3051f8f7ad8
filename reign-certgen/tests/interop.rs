//! Interoperability: the real `openssl` CLI and rustls' own WebPKI verifiers agree with what
//! certgen makes, and doctor gives the right verdict on certificates openssl makes.
//!
//! These tests need `openssl` on PATH and fail (not skip) without it.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{certgen, cluster, p, stdout, write};
use reign_certgen::{
    CertAuthority, DoctorOptions, InitOptions, IssueOptions, KeyType, Outcome, RevocationReason,
    RevokeTarget,
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
