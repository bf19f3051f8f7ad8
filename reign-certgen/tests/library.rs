//! The library API: CA, node certificates, folder operations, revocation, inspect, doctor,
//! renew, and every kind of bad input.

mod common;
#[path = "library/crl_merge.rs"]
mod crl_merge;
#[path = "library/doctor_policy.rs"]
mod doctor_policy;
#[path = "library/doctor_renew.rs"]
mod doctor_renew;

use std::os::unix::fs::PermissionsExt;

use common::{cluster, write};
use reign_certgen::{
    CaParams, CertAuthority, CertgenError, DoctorOptions, InitOptions, Inspected, IssueOptions,
    KeyType, NodeCertParams, NodeIdError, RevocationReason, RevokeTarget,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;

fn parse(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn ca_has_the_required_shape_for_every_key_type() {
    for key_type in KeyType::ALL {
        let ca = CertAuthority::generate(&CaParams {
            cluster_name: "prod".into(),
            days: 100,
            key_type,
        })
        .unwrap();
        let der = parse(ca.cert_pem());
        let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(c.version().0, 2, "v3");
        assert_eq!(c.subject().to_string(), "CN=prod");
        assert_eq!(c.issuer(), c.subject());
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
        let ku = c.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        let days = (c.validity().not_after.to_datetime() - OffsetDateTime::now_utc()).whole_days();
        assert!((99..=100).contains(&days), "{days}");
        assert!(ca.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(ca.key_type(), Some(key_type));
        // Round trip through PEM.
        CertAuthority::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
    }
}

#[test]
fn node_certificate_has_the_required_shape() {
    let ca = CertAuthority::generate(&CaParams::default()).unwrap();
    let cert = ca
        .issue(&NodeCertParams {
            sans: vec!["10.1.2.3".into(), "a.internal".into(), "::1".into()],
            ..NodeCertParams::new("node-a.eu")
        })
        .unwrap();
    let der = parse(&cert.cert_pem);
    let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(c.version().0, 2);
    assert_eq!(c.subject().to_string(), "CN=node-a.eu");
    assert_eq!(c.issuer().to_string(), "CN=reign");
    assert!(!c.is_ca());
    let ku = c.key_usage().unwrap().unwrap();
    assert!(ku.critical && ku.value.digital_signature() && !ku.value.key_cert_sign());
    let eku = c.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    let san = c.subject_alternative_name().unwrap().unwrap().value;
    let names: Vec<String> = san.general_names.iter().map(|g| format!("{g}")).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0].contains("node-a.eu"), "{names:?}");
    // A random 128-bit serial, the same as reported.
    let serial = c.raw_serial().iter().skip_while(|b| **b == 0).count();
    assert_eq!(serial, 16);
    assert_eq!(cert.serial_hex.len(), 32);
    assert_eq!(
        c.raw_serial_as_string()
            .replace(':', "")
            .trim_start_matches("00"),
        cert.serial_hex
    );
    let left = (c.validity().not_after.to_datetime() - OffsetDateTime::now_utc()).whole_days();
    assert!((364..=365).contains(&left), "{left}");
    assert_eq!(c.validity().not_after.to_datetime(), cert.not_after);
    assert!(cert.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    // Two certificates never share a serial.
    let other = ca.issue(&NodeCertParams::new("node-a.eu")).unwrap();
    assert_ne!(other.serial_hex, cert.serial_hex);
    // The authority key identifier points at the CA.
    let aki = c.iter_extensions().any(|e| {
        matches!(
            e.parsed_extension(),
            ParsedExtension::AuthorityKeyIdentifier(_)
        )
    });
    assert!(aki);
}

/// The basicConstraints extension of a DER certificate: (critical, its value's bytes).
fn basic_constraints(der: &[u8]) -> (bool, Vec<u8>) {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    let mut found = c
        .iter_extensions()
        .filter(|e| e.oid == x509_parser::oid_registry::OID_X509_EXT_BASIC_CONSTRAINTS);
    let e = found.next().expect("a basicConstraints extension");
    assert!(found.next().is_none(), "one basicConstraints extension");
    (e.critical, e.value.to_vec())
}

#[test]
fn basic_constraints_are_der() {
    // Issue 13: DER omits a DEFAULT value, so a node's `cA FALSE` is an empty SEQUENCE (30 00),
    // not SEQUENCE { BOOLEAN FALSE } (30 03 01 01 00), which strict parsers such as
    // pyca/cryptography refuse. Critical, like the CA's. The CA keeps cA TRUE, no pathLen.
    const EMPTY: &[u8] = &[0x30, 0x00];
    const CA_TRUE: &[u8] = &[0x30, 0x03, 0x01, 0x01, 0xff];
    for key_type in KeyType::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        reign_certgen::init(
            d,
            &InitOptions {
                key_type,
                ..Default::default()
            },
        )
        .unwrap();
        let ca = CertAuthority::load(d).unwrap();
        assert_eq!(basic_constraints(ca.cert_der()), (true, CA_TRUE.to_vec()));
        let node = ca.issue(&NodeCertParams::new("x")).unwrap();
        assert_eq!(
            basic_constraints(&parse(&node.cert_pem)),
            (true, EMPTY.to_vec())
        );
        // Through the folder operations: issue, then renew.
        let opts = IssueOptions {
            key_type,
            ..Default::default()
        };
        reign_certgen::issue(d, &["a"], &opts).unwrap();
        let file = |id: &str| parse(&std::fs::read_to_string(d.join(format!("{id}.pem"))).unwrap());
        assert_eq!(basic_constraints(&file("a")), (true, EMPTY.to_vec()));
        let renewed = reign_certgen::renew(
            d,
            &reign_certgen::RenewOptions {
                node_ids: vec!["a".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(renewed.renewed.len(), 1);
        assert_eq!(basic_constraints(&file("a")), (true, EMPTY.to_vec()));
        // Still read as an end-entity certificate (and the CA as a CA).
        let der = file("a");
        let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(!c.is_ca());
        assert!(!c.basic_constraints().unwrap().unwrap().value.ca);
    }
}

#[test]
fn node_ids_follow_the_rules() {
    let ca = CertAuthority::generate(&CaParams::default()).unwrap();
    for ok in ["1", "a", "node_1", "A.b-c", &"x".repeat(63)] {
        ca.issue(&NodeCertParams::new(ok)).unwrap();
    }
    let cases: [(&str, &str); 5] = [
        ("", "empty"),
        ("a/b", "'/' at position 1"),
        (".a", "starts with '.'"),
        ("-a", "starts with '-'"),
        ("ü", "'ü' at position 0"),
    ];
    for (bad, msg) in cases {
        let err = ca.issue(&NodeCertParams::new(bad)).unwrap_err();
        assert!(
            matches!(err, CertgenError::InvalidNodeId(_)),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains(msg), "{bad}: {err}");
        assert!(err.is_usage());
    }
    assert!(matches!(
        reign_certgen::validate_node_id(&"x".repeat(64)),
        Err(NodeIdError::TooLong { len: 64 })
    ));
    let err = ca
        .issue(&NodeCertParams {
            sans: vec!["bad name".into()],
            ..NodeCertParams::new("a")
        })
        .unwrap_err();
    assert!(err.to_string().contains("' ' at position 3"), "{err}");
}

#[test]
fn key_types_for_nodes() {
    let ca = CertAuthority::generate(&CaParams {
        key_type: KeyType::Ed25519,
        ..Default::default()
    })
    .unwrap();
    for (kt, name) in [
        (KeyType::P256, "ECDSA P-256"),
        (KeyType::P384, "ECDSA P-384"),
        (KeyType::Ed25519, "Ed25519"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cert = ca
            .issue(&NodeCertParams {
                key_type: kt,
                ..NodeCertParams::new("a")
            })
            .unwrap();
        let path = write(&dir.path().join("a.pem"), &cert.cert_pem);
        let Inspected::Certificate(info) = &reign_certgen::inspect_file(&path).unwrap()[0] else {
            panic!("not a certificate")
        };
        assert_eq!(info.key_type, name);
        assert_eq!(info.signature_algorithm, "ED25519");
        // The key loads in rustls and matches: doctor passes the whole set.
        write(&dir.path().join("a.key"), &cert.key_pem);
        write(&dir.path().join("ca.pem"), ca.cert_pem());
        let report = reign_certgen::doctor(&DoctorOptions::for_node(dir.path(), "a"));
        assert!(report.passed(), "{kt}: {report}");
    }
    assert_eq!("p384".parse::<KeyType>().unwrap(), KeyType::P384);
    assert!(
        "rsa"
            .parse::<KeyType>()
            .unwrap_err()
            .to_string()
            .contains("p256, p384 or ed25519")
    );
}

#[test]
fn ca_key_must_match_ca_certificate() {
    let a = CertAuthority::generate(&CaParams::default()).unwrap();
    let b = CertAuthority::generate(&CaParams::default()).unwrap();
    let err = CertAuthority::from_pem(a.cert_pem(), b.key_pem()).unwrap_err();
    assert!(matches!(err, CertgenError::KeyMismatch { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    reign_certgen::init(dir.path(), &InitOptions::default()).unwrap();
    write(&dir.path().join("ca.key"), b.key_pem());
    let err = CertAuthority::load(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ca.key") && msg.contains("does not match") && msg.contains("ca.pem"),
        "{msg}"
    );
    // issue refuses too, and writes nothing.
    let err = reign_certgen::issue(dir.path(), &["a"], &IssueOptions::default()).unwrap_err();
    assert!(matches!(err, CertgenError::KeyMismatch { .. }));
    assert!(!dir.path().join("a.pem").exists());

    // A node certificate is not a CA.
    let node = a.issue(&NodeCertParams::new("a")).unwrap();
    let err = CertAuthority::from_pem(&node.cert_pem, &node.key_pem).unwrap_err();
    assert!(err.to_string().contains("not a CA certificate"), "{err}");
}

#[test]
fn init_writes_files_with_the_right_modes_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let r = reign_certgen::init(
        &pki,
        &InitOptions {
            cluster_name: "prod".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.subject, "CN=prod");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&r.key_path), 0o600);
    assert_eq!(mode(&r.cert_path), 0o644);
    let before = std::fs::read(&r.cert_path).unwrap();
    let err = reign_certgen::init(&pki, &InitOptions::default()).unwrap_err();
    assert!(
        matches!(&err, CertgenError::AlreadyExists { path } if path.ends_with("ca.key")),
        "{err}"
    );
    assert!(err.to_string().contains("--force"));
    assert_eq!(std::fs::read(&r.cert_path).unwrap(), before);
    reign_certgen::init(
        &pki,
        &InitOptions {
            force: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(std::fs::read(&r.cert_path).unwrap(), before);
    assert_eq!(mode(&r.key_path), 0o600);
    // Only the expected files; no temp files left.
    let mut names: Vec<String> = std::fs::read_dir(&pki)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.key", "ca.pem", "certgen-state.json"]);
}

#[test]
fn issue_writes_each_node_and_refuses_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nodes");
    reign_certgen::init(dir.path(), &InitOptions::default()).unwrap();
    let opts = IssueOptions {
        out: Some(out.clone()),
        sans: vec!["10.0.0.1".into()],
        ..Default::default()
    };
    let written = reign_certgen::issue(dir.path(), &["a", "1"], &opts).unwrap();
    assert_eq!(written.len(), 2);
    for w in &written {
        assert!(w.cert_path.starts_with(&out) && w.key_path.starts_with(&out));
        let mode = std::fs::metadata(&w.key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let before = std::fs::read(out.join("a.pem")).unwrap();
    // b is new but a exists: nothing is written at all.
    let err = reign_certgen::issue(dir.path(), &["b", "a"], &opts).unwrap_err();
    assert!(
        err.to_string().contains("a.key") && err.to_string().contains("already exists"),
        "{err}"
    );
    assert!(!out.join("b.pem").exists());
    assert_eq!(std::fs::read(out.join("a.pem")).unwrap(), before);
    reign_certgen::issue(
        dir.path(),
        &["a"],
        &IssueOptions {
            force: true,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_ne!(std::fs::read(out.join("a.pem")).unwrap(), before);
    // Bad input refused before anything is written.
    let err = reign_certgen::issue(dir.path(), &["d", "bad/id"], &opts).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("'/'"), "{err}");
    let err = reign_certgen::issue(dir.path(), &["d", "d"], &opts).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let err = reign_certgen::issue(
        dir.path(),
        &["d"],
        &IssueOptions {
            sans: vec!["a b".into()],
            ..opts.clone()
        },
    )
    .unwrap_err();
    assert!(matches!(err, CertgenError::InvalidSan { .. }), "{err}");
    assert!(!out.join("d.pem").exists());
    let err = reign_certgen::issue(dir.path(), &["ca"], &IssueOptions::default()).unwrap_err();
    assert!(err.to_string().contains("CA's own files"), "{err}");
    assert!(
        reign_certgen::issue(dir.path(), &[], &opts)
            .unwrap_err()
            .is_usage()
    );
}

#[test]
fn revoke_and_crl_numbers_increase() {
    let dir = tempfile::tempdir().unwrap();
    cluster(dir.path());
    let crl_number = |p: &std::path::Path| match &reign_certgen::inspect_file(p).unwrap()[0] {
        Inspected::Crl(c) => c.clone(),
        _ => panic!("not a CRL"),
    };
    let r = reign_certgen::revoke(
        dir.path(),
        RevokeTarget::Node("b".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    assert_eq!(r.revoked.len(), 1);
    assert_eq!(r.revoked[0].1.as_deref(), Some("b"));
    assert_eq!(r.crl.number, 1);
    assert!(r.crl.next_update > OffsetDateTime::now_utc() + Duration::days(29));
    let crl = crl_number(&r.crl.path);
    assert_eq!(crl.number.as_deref(), Some("1"));
    assert_eq!(crl.revoked.len(), 1);
    assert_eq!(crl.revoked[0].serial, r.revoked[0].0);
    assert_eq!(crl.revoked[0].reason.as_deref(), Some("keyCompromise"));

    // Revoking again reports it, and the number still increases.
    let again = reign_certgen::revoke(
        dir.path(),
        RevokeTarget::Node("b".into()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    assert!(again.revoked.is_empty());
    assert_eq!(again.already_revoked.len(), 1);
    assert_eq!(again.crl.number, 2);

    // By serial, in any usual spelling.
    let c_serial = match &reign_certgen::inspect_file(&dir.path().join("c.pem")).unwrap()[0] {
        Inspected::Certificate(c) => c.serial.clone(),
        _ => panic!(),
    };
    let spelled = c_serial
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let r = reign_certgen::revoke(
        dir.path(),
        RevokeTarget::Serial(spelled),
        RevocationReason::Superseded,
    )
    .unwrap();
    assert_eq!(r.revoked, vec![(c_serial.clone(), Some("c".to_owned()))]);
    assert_eq!(r.crl.number, 3);
    assert_eq!(crl_number(&r.crl.path).revoked.len(), 2);

    let refreshed = reign_certgen::refresh_crl(dir.path(), 7).unwrap();
    assert_eq!(refreshed.number, 4);
    assert_eq!(refreshed.revoked_count, 2);
    let left = (refreshed.next_update - OffsetDateTime::now_utc()).whole_days();
    assert!((6..=7).contains(&left), "{left}");
    // The 7 days are remembered.
    let r = reign_certgen::refresh_crl(dir.path(), 0).unwrap();
    assert_eq!(r.number, 5);
    assert!((r.next_update - OffsetDateTime::now_utc()).whole_days() <= 7);

    // Unknown node and bad serial.
    let err = reign_certgen::revoke(
        dir.path(),
        RevokeTarget::Node("zz".into()),
        RevocationReason::Unspecified,
    )
    .unwrap_err();
    assert!(
        matches!(err, CertgenError::NotFound { .. }) && err.to_string().contains("--serial"),
        "{err}"
    );
    let err = reign_certgen::revoke(
        dir.path(),
        RevokeTarget::Serial("xyz".into()),
        RevocationReason::Unspecified,
    )
    .unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("'x'"), "{err}");
    assert_eq!(
        "superseded".parse::<RevocationReason>().unwrap(),
        RevocationReason::Superseded
    );
    assert!("nope".parse::<RevocationReason>().is_err());

    // Losing the state file never makes the CRL number go back.
    std::fs::remove_file(dir.path().join(reign_certgen::STATE_FILE)).unwrap();
    assert_eq!(reign_certgen::refresh_crl(dir.path(), 0).unwrap().number, 6);
}

#[test]
fn inspect_describes_certificates() {
    let dir = tempfile::tempdir().unwrap();
    cluster(dir.path());
    let items = reign_certgen::inspect_file(&dir.path().join("ca.pem")).unwrap();
    let Inspected::Certificate(ca) = &items[0] else {
        panic!()
    };
    assert!(ca.is_ca);
    assert_eq!(ca.key_usage, ["keyCertSign", "cRLSign"]);
    let Inspected::Certificate(a) =
        &reign_certgen::inspect_file(&dir.path().join("a.pem")).unwrap()[0]
    else {
        panic!()
    };
    assert_eq!(a.version, 3);
    assert_eq!(a.subject, "CN=a");
    assert_eq!(a.common_name.as_deref(), Some("a"));
    assert_eq!(a.issuer, "CN=reign");
    assert_eq!((a.key_type.as_str(), a.key_bits), ("ECDSA P-256", 256));
    assert_eq!(a.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(a.key_usage, ["digitalSignature"]);
    assert_eq!(a.extended_key_usage, ["serverAuth", "clientAuth"]);
    assert_eq!(a.sans, ["DNS:a"]);
    assert!(!a.is_ca);
    assert!((363..=365).contains(&a.days_left));
    assert_eq!(a.sha256_fingerprint.len(), 32 * 3 - 1);
    // A bundle yields every certificate; JSON has the fields.
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(dir.path().join("a.pem")).unwrap(),
        std::fs::read_to_string(dir.path().join("ca.pem")).unwrap()
    );
    let path = write(&dir.path().join("bundle.pem"), bundle);
    let items = reign_certgen::inspect_file(&path).unwrap();
    assert_eq!(items.len(), 2);
    let json = serde_json::to_value(&items).unwrap();
    assert_eq!(json[0]["kind"], "certificate");
    assert_eq!(json[0]["subject"], "CN=a");
    assert!(json[0]["not_after"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn bad_input_gives_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    cluster(dir.path());
    let d = dir.path();
    let inspect_err = |name: &str| reign_certgen::inspect_file(&d.join(name)).unwrap_err();

    let e = inspect_err("missing.pem");
    assert!(
        matches!(e, CertgenError::Io { .. }) && e.to_string().contains("missing.pem"),
        "{e}"
    );
    write(&d.join("empty.pem"), "");
    let e = inspect_err("empty.pem");
    assert!(
        matches!(e, CertgenError::EmptyFile { .. }) && e.to_string().contains("empty.pem"),
        "{e}"
    );
    write(&d.join("garbage.pem"), [0u8, 159, 146, 150, 1, 2, 3]);
    let e = inspect_err("garbage.pem");
    assert!(
        matches!(e, CertgenError::NotPem { .. }) && e.to_string().contains("garbage.pem"),
        "{e}"
    );
    write(&d.join("text.pem"), "hello world\n");
    assert!(matches!(
        inspect_err("text.pem"),
        CertgenError::NotPem { .. }
    ));
    let e = inspect_err("a.key");
    assert!(matches!(e, CertgenError::WrongKind { .. }), "{e}");
    assert!(e.to_string().contains("a.key: holds a PRIVATE KEY"), "{e}");
    write(
        &d.join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let e = inspect_err("broken.pem");
    assert!(
        matches!(e, CertgenError::BrokenPem { .. })
            && e.to_string().contains("broken.pem: broken PEM: the base64"),
        "{e}"
    );
    write(&d.join("half.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n");
    let e = inspect_err("half.pem");
    assert!(
        e.to_string()
            .contains("half.pem: broken PEM: the -----END CERTIFICATE----- line is missing"),
        "{e}"
    );
    write(
        &d.join("truncated.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    let e = inspect_err("truncated.pem");
    assert!(matches!(e, CertgenError::BadCertificate { .. }), "{e}");
    // DER is read too.
    let der = parse(&std::fs::read_to_string(d.join("a.pem")).unwrap());
    write(&d.join("a.der"), der);
    assert_eq!(
        reign_certgen::inspect_file(&d.join("a.der")).unwrap().len(),
        1
    );

    // Loading a CA from broken files.
    let ca_dir = tempfile::tempdir().unwrap();
    let e = CertAuthority::load(ca_dir.path()).unwrap_err();
    assert!(
        e.to_string().contains("ca.pem") && e.to_string().contains("No such file"),
        "{e}"
    );
    write(
        &ca_dir.path().join("ca.pem"),
        std::fs::read(d.join("ca.key")).unwrap(),
    );
    write(
        &ca_dir.path().join("ca.key"),
        std::fs::read(d.join("ca.key")).unwrap(),
    );
    let e = CertAuthority::load(ca_dir.path()).unwrap_err();
    assert!(
        e.to_string()
            .contains("ca.pem: holds a PRIVATE KEY, expected a CERTIFICATE"),
        "{e}"
    );

    // An unwritable folder (a path under a regular file: refused even for root).
    let blocked = d.join("a.pem").join("sub");
    let e = reign_certgen::init(&blocked, &InitOptions::default()).unwrap_err();
    assert!(
        matches!(e, CertgenError::Io { .. }) && e.to_string().contains("a.pem/sub"),
        "{e}"
    );
    let e = reign_certgen::issue(
        d,
        &["x"],
        &IssueOptions {
            out: Some(blocked),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("a.pem/sub"), "{e}");
    assert_eq!(e.to_string().lines().count(), 1);
}
