//! Finding 10: revoking after `certgen-state.json` was lost must not un-revoke anything. The
//! entries of the existing `crl.pem` are merged (when this CA signed it) or the command
//! refuses (when it did not).

use std::path::Path;

use crate::common::cluster;
use reign_certgen::{
    CertgenError, DoctorOptions, ForeignCrlReason, InitOptions, Inspected, RevocationReason,
    RevokeTarget,
};

fn crl_serials(dir: &Path) -> Vec<String> {
    match &reign_certgen::inspect_file(&dir.join(reign_certgen::CRL_FILE)).unwrap()[0] {
        Inspected::Crl(c) => c.revoked.iter().map(|r| r.serial.clone()).collect(),
        _ => panic!("not a CRL"),
    }
}

fn serial_of(dir: &Path, id: &str) -> String {
    match &reign_certgen::inspect_file(&dir.join(format!("{id}.pem"))).unwrap()[0] {
        Inspected::Certificate(c) => c.serial.clone(),
        _ => panic!("not a certificate"),
    }
}

fn revoke(dir: &Path, id: &str) -> Result<reign_certgen::RevokeReport, CertgenError> {
    reign_certgen::revoke(
        dir,
        RevokeTarget::Node(id.into()),
        RevocationReason::KeyCompromise,
    )
}

fn lose_state(dir: &Path) {
    std::fs::remove_file(dir.join(reign_certgen::STATE_FILE)).unwrap();
}

fn revocation_passes(dir: &Path, id: &str) -> bool {
    reign_certgen::doctor(&DoctorOptions::for_node(dir, id))
        .check("revocation")
        .expect("revocation checked")
        .passed()
}

#[test]
fn revoking_after_the_state_file_is_lost_keeps_earlier_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cluster(d);
    let (a, b) = (serial_of(d, "a"), serial_of(d, "b"));
    revoke(d, "a").unwrap();
    assert!(!revocation_passes(d, "a"));
    lose_state(d);

    let r = revoke(d, "b").unwrap();
    assert_eq!(r.revoked, vec![(b.clone(), Some("b".into()))]);
    assert_eq!(r.crl.revoked_count, 2, "a's entry was merged back");
    let mut listed = crl_serials(d);
    listed.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(listed, want);
    assert!(!revocation_passes(d, "a"), "doctor must still refuse a");
    assert!(!revocation_passes(d, "b"));
    assert!(revocation_passes(d, "c"));

    // The merged entry is in the new state file, so asking again says "already revoked";
    // the reason survived the round trip through the CRL.
    let again = reign_certgen::revoke(
        d,
        RevokeTarget::Serial(a.clone()),
        RevocationReason::Unspecified,
    )
    .unwrap();
    assert_eq!(again.already_revoked, vec![a.clone()]);
    match &reign_certgen::inspect_file(&d.join(reign_certgen::CRL_FILE)).unwrap()[0] {
        Inspected::Crl(c) => {
            let entry = c.revoked.iter().find(|e| e.serial == a).unwrap();
            assert_eq!(entry.reason.as_deref(), Some("keyCompromise"));
        }
        _ => panic!("not a CRL"),
    }

    // `crl` (refresh) after another loss keeps them too.
    lose_state(d);
    let refreshed = reign_certgen::refresh_crl(d, 0).unwrap();
    assert_eq!(refreshed.revoked_count, 2);
    assert_eq!(crl_serials(d).len(), 2);
    assert!(!revocation_passes(d, "a"));
}

/// A CRL of a CA with the same name (so the same issuer DN) but another key, or of a CA with
/// another name, is refused with a typed error and left as it was.
#[test]
fn a_crl_signed_by_another_ca_is_refused_not_merged() {
    for (other_name, want) in [
        ("reign", ForeignCrlReason::BadSignature),
        ("elsewhere", ForeignCrlReason::OtherIssuer),
    ] {
        let ours = tempfile::tempdir().unwrap();
        cluster(ours.path());
        let theirs = tempfile::tempdir().unwrap();
        reign_certgen::init(
            theirs.path(),
            &InitOptions {
                cluster_name: other_name.into(),
                ..InitOptions::default()
            },
        )
        .unwrap();
        reign_certgen::issue(theirs.path(), &["x"], &Default::default()).unwrap();
        revoke(theirs.path(), "x").unwrap();
        let foreign = std::fs::read(theirs.path().join(reign_certgen::CRL_FILE)).unwrap();
        let ours_crl = ours.path().join(reign_certgen::CRL_FILE);
        std::fs::write(&ours_crl, &foreign).unwrap();

        let err = revoke(ours.path(), "b").unwrap_err();
        match &err {
            CertgenError::ForeignCrl { path, reason } => {
                assert_eq!(path, &ours_crl);
                assert_eq!(*reason, want, "{other_name}");
            }
            other => panic!("{other_name}: expected ForeignCrl, got {other:?}"),
        }
        assert!(err.to_string().contains("crl.pem"), "{err}");
        let err = reign_certgen::refresh_crl(ours.path(), 0).unwrap_err();
        assert!(matches!(err, CertgenError::ForeignCrl { .. }), "{err}");
        // Nothing was written.
        assert_eq!(std::fs::read(&ours_crl).unwrap(), foreign);
    }
}

#[test]
fn a_tampered_crl_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cluster(d);
    revoke(d, "a").unwrap();
    // Flip one byte inside the signed part (the DER, re-encoded as PEM).
    let path = d.join(reign_certgen::CRL_FILE);
    let pem = std::fs::read_to_string(&path).unwrap();
    let mut der = pem::parse(&pem).unwrap().into_contents();
    let i = der.len() / 3;
    der[i] ^= 0x01;
    std::fs::write(&path, pem::encode(&pem::Pem::new("X509 CRL", der))).unwrap();
    match revoke(d, "b") {
        Err(CertgenError::ForeignCrl { .. } | CertgenError::BadCrl { .. }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
}
