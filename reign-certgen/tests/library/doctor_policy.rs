//! doctor's verdict is a node's: during a CA rotation (a bundle of the old and the new CA)
//! with a CRL from one CA only, doctor passes a certificate exactly when a node accepts it in
//! a real handshake, and fails a revoked one with the revoked reason. The node's own check
//! (reign-tls's public `PeerCertificateVerifier`) is asked too, on the same files.

use std::path::PathBuf;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};

use crate::common::{cluster, custom_cert, malformed_san, node_accepts, write};
use reign_certgen::{
    DoctorOptions, DoctorReport, InitOptions, Outcome, RevocationReason, RevokeTarget,
};
use reign_tls::{CertificateError, PeerCertificateVerifier, Refusal};

/// Two CA folders, `old` (nodes `peer`, `gone`, `o1`) and `new` (nodes `peer`, `n1`), the
/// bundle `ca.pem` holding both CA certificates, and `gone` revoked by the old CA. `names`
/// are the two CAs' cluster names (their subject CN).
struct Rotation {
    dir: tempfile::TempDir,
}

impl Rotation {
    fn new(names: [&str; 2]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (sub, name, nodes) in [
            ("old", names[0], &["peer", "gone", "o1"][..]),
            ("new", names[1], &["peer", "n1"][..]),
        ] {
            let d = dir.path().join(sub);
            reign_certgen::init(
                &d,
                &InitOptions {
                    cluster_name: name.into(),
                    ..Default::default()
                },
            )
            .unwrap();
            reign_certgen::issue(&d, nodes, &Default::default()).unwrap();
        }
        let r = Self { dir };
        reign_certgen::revoke(
            &r.ca("old"),
            RevokeTarget::Node("gone".into()),
            RevocationReason::KeyCompromise,
        )
        .unwrap();
        let bundle = [r.ca("old"), r.ca("new")]
            .iter()
            .map(|d| std::fs::read_to_string(d.join("ca.pem")).unwrap())
            .collect::<String>();
        write(&r.bundle(), bundle);
        r
    }

    fn ca(&self, which: &str) -> PathBuf {
        self.dir.path().join(which)
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Node `id` of CA folder `ca`, with the rotation bundle and the CRL of folder `crl`.
    fn node(&self, ca: &str, id: &str, crl: &str) -> DoctorOptions {
        DoctorOptions {
            ca: self.bundle(),
            crl: Some(self.ca(crl).join("crl.pem")),
            ..DoctorOptions::for_node(&self.ca(ca), id)
        }
    }
}

/// The node's own check, through reign-tls's public API, on doctor's files.
fn verifier_says(opts: &DoctorOptions) -> Result<(), CertificateError> {
    let bundle: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&opts.ca)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let crls: Vec<CertificateRevocationListDer<'static>> = match &opts.crl {
        Some(p) => CertificateRevocationListDer::pem_file_iter(p)
            .unwrap()
            .map(Result::unwrap)
            .collect(),
        None => Vec::new(),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&opts.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    PeerCertificateVerifier::new(&bundle, &crls)
        .unwrap()
        .verify(&chain[0], &chain[1..], std::time::SystemTime::now())
        .map(drop)
}

fn revocation(report: &DoctorReport) -> &Outcome {
    &report
        .check("revocation")
        .expect("revocation checked")
        .outcome
}

#[test]
fn during_a_rotation_doctor_passes_a_certificate_of_the_ca_without_a_crl_as_nodes_do() {
    let rot = Rotation::new(["old-ca", "new-ca"]);
    // The old CA has a CRL, the new one none yet: a new-CA certificate's status is unknown.
    // And the other way round, once only the new CA has published one.
    reign_certgen::revoke(
        &rot.ca("new"),
        RevokeTarget::Serial("01".into()),
        RevocationReason::Unspecified,
    )
    .unwrap();
    for (cert_ca, crl_ca) in [("new", "old"), ("old", "new")] {
        let id = if cert_ca == "new" { "n1" } else { "o1" };
        let node = rot.node(cert_ca, id, crl_ca);
        let peer = rot.node(crl_ca, "peer", crl_ca);
        assert_eq!(node_accepts(&node, &peer), Ok(()), "{cert_ca}/{id}");
        assert_eq!(verifier_says(&node), Ok(()), "{cert_ca}/{id}");
        let report = reign_certgen::doctor(&node);
        assert!(
            report.passed(),
            "{cert_ca}/{id}: a node accepts it\n{report}"
        );
        assert!(
            matches!(revocation(&report), Outcome::Pass(m) if m.contains("status unknown, which a node accepts")),
            "{report}"
        );
        // The peer, whose CA published the CRL, has a known status.
        let report = reign_certgen::doctor(&peer);
        assert!(
            matches!(revocation(&report), Outcome::Pass(m) if m.contains("is not revoked by")),
            "{report}"
        );
    }
}

/// Once both CAs have published a CRL, a node's `crl.pem` holds both (here the new CA's
/// first): a node looks each leaf up in its own CA's CRL, and so does doctor.
#[test]
fn during_a_rotation_doctor_fails_a_revoked_leaf_as_nodes_do() {
    let rot = Rotation::new(["old-ca", "new-ca"]);
    reign_certgen::revoke(
        &rot.ca("new"),
        RevokeTarget::Serial("01".into()),
        RevocationReason::Unspecified,
    )
    .unwrap();
    let both = ["new", "old"]
        .iter()
        .map(|d| std::fs::read_to_string(rot.ca(d).join("crl.pem")).unwrap())
        .collect::<String>();
    let both = write(&rot.dir.path().join("crl.pem"), both);
    let with_both = |o: DoctorOptions| DoctorOptions {
        crl: Some(both.clone()),
        ..o
    };
    let gone = with_both(rot.node("old", "gone", "old"));
    let peer = with_both(rot.node("new", "peer", "new"));
    assert_eq!(node_accepts(&gone, &peer), Err(Refusal::Revoked));
    assert_eq!(verifier_says(&gone), Err(CertificateError::Revoked));
    let report = reign_certgen::doctor(&gone);
    assert!(!report.passed());
    assert!(
        matches!(revocation(&report), Outcome::Fail(m) if m.starts_with("revoked: serial") && m.contains("keyCompromise")),
        "{report}"
    );
    assert_eq!(report.failures().count(), 1, "{report}");
    // The others pass, in both CAs, with both CRLs.
    for node in [
        with_both(rot.node("old", "peer", "old")),
        with_both(rot.node("new", "n1", "new")),
    ] {
        assert_eq!(node_accepts(&node, &peer), Ok(()));
        assert_eq!(verifier_says(&node), Ok(()));
        let report = reign_certgen::doctor(&node);
        assert!(report.passed(), "{report}");
    }
}

/// Two CAs with the same name have the same subject: the old CA's CRL names the new CA's
/// certificates' issuer, so it would be taken as their CRL, and its signature does not verify
/// with the new CA's key. A node refuses such a bundle with a CRL at once, saying why
/// (`TlsError::SameNamedCas`); doctor fails the certificate and points at the CRL.
#[test]
fn during_a_rotation_between_same_named_cas_doctor_fails_what_nodes_refuse() {
    let rot = Rotation::new(["reign", "reign"]);
    let n1 = rot.node("new", "n1", "old");
    let peer = rot.node("old", "peer", "old");
    let refused = reign_tls::TlsEndpoint::new(crate::common::node_config(&n1)).unwrap_err();
    assert!(
        matches!(&refused, reign_tls::TlsError::SameNamedCas { subject, .. } if subject == "CN=reign"),
        "{refused}"
    );
    // webpki reports the first of two equally ranked errors: the old CA's key does not
    // verify the certificate (tried first: it comes first in the bundle).
    assert_eq!(verifier_says(&n1), Err(CertificateError::BadSignature));
    let report = reign_certgen::doctor(&n1);
    assert!(
        matches!(&report.check("chain").unwrap().outcome, Outcome::Fail(m) if m.contains("without the CRLs of") && m.contains("another key signed it")),
        "{report}"
    );
    assert_eq!(report.failures().count(), 1, "{report}");
    // Without the CRL the same certificate is accepted, by both.
    let no_crl = DoctorOptions { crl: None, ..n1 };
    let peer = DoctorOptions { crl: None, ..peer };
    assert_eq!(node_accepts(&no_crl, &peer), Ok(()));
    assert!(reign_certgen::doctor(&no_crl).passed());
}

/// Certificates the old doctor failed although nodes accept them: a CRL of a CA outside the
/// bundle (it applies to no certificate), and a malformed subjectAltName (a node never reads
/// it).
#[test]
fn doctor_passes_what_nodes_accept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = cluster(d);
    let other = d.join("other");
    reign_certgen::init(
        &other,
        &InitOptions {
            cluster_name: "other".into(),
            ..Default::default()
        },
    )
    .unwrap();
    reign_certgen::revoke(
        &other,
        RevokeTarget::Serial("01".into()),
        RevocationReason::Unspecified,
    )
    .unwrap();
    let (c, k) = custom_cert(&ca, malformed_san);
    let cases = [
        (
            "CRL of another CA",
            DoctorOptions {
                crl: Some(other.join("crl.pem")),
                ..DoctorOptions::for_node(d, "a")
            },
            "revocation",
        ),
        (
            "malformed subjectAltName",
            DoctorOptions {
                cert: write(&d.join("bad-san.pem"), c),
                key: write(&d.join("bad-san.key"), k),
                ..DoctorOptions::for_node(d, "a")
            },
            "subject-alt-name",
        ),
    ];
    for (name, opts, check) in cases {
        let peer = DoctorOptions {
            crl: opts.crl.clone(),
            ..DoctorOptions::for_node(d, "b")
        };
        assert_eq!(node_accepts(&opts, &peer), Ok(()), "{name}");
        assert_eq!(verifier_says(&opts), Ok(()), "{name}");
        let report = reign_certgen::doctor(&opts);
        assert!(report.passed(), "{name}: a node accepts it\n{report}");
        assert!(report.check(check).is_some(), "{name}\n{report}");
    }
}
