//! Library tests of doctor (good files and every failure) and renew.

use crate::common::{cluster, custom_cert, doctor_scenarios, write};
use rcgen::SanType;
use reign_certgen::{
    CaParams, CertAuthority, DoctorOptions, Inspected, NodeCertParams, Outcome, RenewOptions,
    RevocationReason, RevokeTarget,
};
use time::{Duration, OffsetDateTime};

#[test]
fn doctor_passes_good_files() {
    let dir = tempfile::tempdir().unwrap();
    cluster(dir.path());
    reign_certgen::revoke(
        dir.path(),
        RevokeTarget::Node("c".into()),
        RevocationReason::Unspecified,
    )
    .unwrap();
    for id in ["a", "b"] {
        let report = reign_certgen::doctor(&DoctorOptions::for_node(dir.path(), id));
        assert!(report.passed(), "{report}");
        for name in [
            "ca-file",
            "cert-file",
            "key-file",
            "crl-file",
            "x509-version",
            "chain",
            "key-match",
            "key-usage",
            "extended-key-usage",
            "node-id",
            "subject-alt-name",
            "validity",
            "revocation",
        ] {
            assert!(
                report.check(name).is_some_and(|c| c.passed()),
                "{name} missing in\n{report}"
            );
        }
        assert!(report.to_string().lines().all(|l| l.starts_with("PASS ")));
    }
    // Without a CRL the revocation check says it did not look.
    let report = reign_certgen::doctor(&DoctorOptions {
        crl: None,
        ..DoctorOptions::for_node(dir.path(), "a")
    });
    assert!(
        matches!(&report.check("revocation").unwrap().outcome, Outcome::Pass(m) if m.contains("no CRL"))
    );
}

#[test]
fn doctor_names_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = doctor_scenarios(dir.path());
    assert!(scenarios.len() >= 18);
    for s in scenarios {
        let report = reign_certgen::doctor(&s.opts);
        assert!(!report.passed(), "{}: passed\n{report}", s.name);
        let check = report
            .check(s.check)
            .unwrap_or_else(|| panic!("{}: no {} check\n{report}", s.name, s.check));
        match &check.outcome {
            Outcome::Fail(m) => assert!(
                m.contains(s.reason),
                "{}: {m:?} lacks {:?}",
                s.name,
                s.reason
            ),
            Outcome::Pass(m) => panic!("{}: {} passed: {m}\n{report}", s.name, s.check),
        }
        // Every other check that ran and is unrelated still passes: the failure is precise.
        let failed: Vec<_> = report.failures().map(|c| c.name).collect();
        assert!(
            failed.len() <= 2,
            "{}: too many failures {failed:?}\n{report}",
            s.name
        );
    }
}

#[test]
fn doctor_passes_certificates_without_a_san_for_the_node_id() {
    // reign matches the subject CN, never a SAN name: a missing DNS:<CN> is a note, not a failure.
    let dir = tempfile::tempdir().unwrap();
    let ca = cluster(dir.path());
    let cases: [(&str, Vec<SanType>, &str); 2] = [
        ("no-san", Vec::new(), "(has: none)"),
        (
            "ip-only",
            vec![SanType::IpAddress("10.1.2.3".parse().unwrap())],
            "(has: IP:10.1.2.3)",
        ),
    ];
    for (file, sans, has) in cases {
        let (c, k) = custom_cert(&ca, |p| p.subject_alt_names = sans);
        let report = reign_certgen::doctor(&DoctorOptions {
            cert: write(&dir.path().join(format!("{file}.pem")), c),
            key: write(&dir.path().join(format!("{file}.key")), k),
            ..DoctorOptions::for_node(dir.path(), "a")
        });
        assert!(report.passed(), "{file}:\n{report}");
        let Outcome::Pass(m) = &report.check("subject-alt-name").unwrap().outcome else {
            unreachable!()
        };
        for needle in ["no DNS:a subjectAltName", has, "reign matches the CN"] {
            assert!(m.contains(needle), "{file}: {needle:?} not in {m:?}");
        }
    }
    // With the SAN, the note says so.
    let report = reign_certgen::doctor(&DoctorOptions::for_node(dir.path(), "a"));
    assert!(
        matches!(&report.check("subject-alt-name").unwrap().outcome, Outcome::Pass(m) if m == "subjectAltName has DNS:a"),
        "{report}"
    );
}

#[test]
fn renew_reissues_what_expires_and_leaves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let ca = cluster(dir.path());
    // b expires in 10 days, with an extra SAN that must survive renewal.
    let soon = OffsetDateTime::now_utc() + Duration::days(10);
    let b = ca
        .issue(&NodeCertParams {
            not_after: Some(soon),
            sans: vec!["10.9.9.9".into()],
            ..NodeCertParams::new("b")
        })
        .unwrap();
    write(&dir.path().join("b.pem"), &b.cert_pem);
    write(&dir.path().join("b.key"), &b.key_pem);
    let old_key = std::fs::read(dir.path().join("b.key")).unwrap();

    let r = reign_certgen::renew(dir.path(), &RenewOptions::default()).unwrap();
    assert_eq!(r.renewed.len(), 1, "{r:?}");
    let renewed = &r.renewed[0];
    assert_eq!(renewed.files.node_id, "b");
    assert_eq!(renewed.old_serial.as_deref(), Some(b.serial_hex.as_str()));
    assert_ne!(std::fs::read(dir.path().join("b.key")).unwrap(), old_key);
    let mut alone: Vec<_> = r
        .left_alone
        .iter()
        .map(|l| l.node_id.clone().unwrap())
        .collect();
    alone.sort();
    assert_eq!(alone, ["a", "c"]);
    assert!(r.left_alone[0].reason.contains("expires in"));
    let Inspected::Certificate(info) =
        &reign_certgen::inspect_file(&dir.path().join("b.pem")).unwrap()[0]
    else {
        panic!()
    };
    assert_eq!(info.sans, ["DNS:b", "IP:10.9.9.9"]);
    assert!(reign_certgen::doctor(&DoctorOptions::for_node(dir.path(), "b")).passed());

    // Named renewal, and a wider horizon.
    let r = reign_certgen::renew(
        dir.path(),
        &RenewOptions {
            node_ids: vec!["a".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.renewed.len(), 1);
    let r = reign_certgen::renew(
        dir.path(),
        &RenewOptions {
            within_days: 400,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.renewed.len(), 3);
    let e = reign_certgen::renew(
        dir.path(),
        &RenewOptions {
            node_ids: vec!["zz".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("zz.pem"), "{e}");
}

#[test]
fn renew_leaves_foreign_certificates_alone() {
    let dir = tempfile::tempdir().unwrap();
    cluster(dir.path());
    let other = CertAuthority::generate(&CaParams {
        cluster_name: "other".into(),
        ..Default::default()
    })
    .unwrap();
    let x = other.issue(&NodeCertParams::new("x")).unwrap();
    write(&dir.path().join("x.pem"), &x.cert_pem);
    write(&dir.path().join("junk.pem"), "junk");
    let r = reign_certgen::renew(
        dir.path(),
        &RenewOptions {
            within_days: 1000,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.renewed.len(), 3);
    let reasons: Vec<_> = r.left_alone.iter().map(|l| l.reason.clone()).collect();
    assert!(
        reasons.iter().any(|m| m.contains("not by this CA")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|m| m.contains("junk.pem")),
        "{reasons:?}"
    );
}
