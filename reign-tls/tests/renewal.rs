//! A node's half of `reign renew`, without sockets: the new key and its certificate request,
//! every check of the certificate that comes back (key, CN, chain, validity), the atomic
//! write beside `.bak` copies, a reload of what was written, and the restore.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use reign_certgen::{CertAuthority, InitOptions, IssueOptions, KeyType, NodeCertParams};
use reign_tls::{CertificateError, NodeId, PemSource, RenewalError, TlsConfig, TlsEndpoint};

fn pki(key_type: KeyType) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let init = InitOptions {
        cluster_name: "test".into(),
        ..Default::default()
    };
    reign_certgen::init(dir.path(), &init).unwrap();
    let issue = IssueOptions {
        key_type,
        ..Default::default()
    };
    reign_certgen::issue(dir.path(), &["a"], &issue).unwrap();
    dir
}

fn endpoint(dir: &Path) -> TlsEndpoint {
    let id: NodeId = "a".parse().unwrap();
    TlsEndpoint::new(TlsConfig::from_dir(dir, id, "test")).unwrap()
}

fn ca(dir: &Path) -> CertAuthority {
    CertAuthority::load(dir).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_renewal_is_written_beside_a_backup_reloads_and_keeps_the_key_kind() {
    for kind in [KeyType::P256, KeyType::P384, KeyType::Ed25519] {
        let dir = pki(kind);
        let ep = endpoint(dir.path());
        let before = ep.own_certificate();
        let (cert, key) = (dir.path().join("a.pem"), dir.path().join("a.key"));
        let (old_cert, old_key) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
        let pending = ep.prepare_renewal().unwrap();
        // The CA reads the request (its signature verifies) and finds the node's CN in it;
        // a request for another node is refused.
        assert!(matches!(
            ca(dir.path()).sign_request(pending.csr_der(), &NodeCertParams::new("b")),
            Err(reign_certgen::CertgenError::RequestForOtherNode { found: Some(f), .. }) if f == "a"
        ));
        let signed = ca(dir.path())
            .sign_request(pending.csr_der(), &NodeCertParams::new("a"))
            .unwrap();
        let installed = ep
            .install_renewal(&pending, std::slice::from_ref(&signed.cert_der))
            .unwrap();
        assert_eq!(installed.serial_hex, signed.serial_hex);
        assert_eq!(std::fs::read(&installed.cert.1).unwrap(), old_cert);
        assert_eq!(std::fs::read(&installed.key.1).unwrap(), old_key);
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&installed.key.1), 0o600);
        // What was written loads, with a key of the same kind.
        let now = ep.reload().unwrap();
        assert_eq!(now.own.serial_hex, signed.serial_hex);
        assert_eq!(now.own.key_algorithm, before.key_algorithm, "{kind:?}");
        assert_ne!(now.own.spki_sha256, before.spki_sha256);
        // And the backup puts the old material back.
        installed.restore().unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), old_cert);
        assert_eq!(ep.reload().unwrap().own.serial_hex, before.serial_hex);
    }
}

#[test]
fn every_check_refuses_and_nothing_is_written() {
    let dir = pki(KeyType::P256);
    let ep = endpoint(dir.path());
    let cert = dir.path().join("a.pem");
    let old = std::fs::read(&cert).unwrap();
    let pending = ep.prepare_renewal().unwrap();
    let other = ep.prepare_renewal().unwrap();
    let ours = ca(dir.path());

    // Another key: a certificate the CA issued for a request this key did not make.
    let for_other = ours
        .sign_request(other.csr_der(), &NodeCertParams::new("a"))
        .unwrap();
    assert!(matches!(
        ep.install_renewal(&pending, &[for_other.cert_der]),
        Err(RenewalError::KeyMismatch)
    ));
    // Another CA.
    let foreign = tempfile::tempdir().unwrap();
    reign_certgen::init(foreign.path(), &InitOptions::default()).unwrap();
    let theirs = ca(foreign.path())
        .sign_request(pending.csr_der(), &NodeCertParams::new("a"))
        .unwrap();
    assert!(matches!(
        ep.install_renewal(&pending, &[theirs.cert_der]),
        Err(RenewalError::Refused(CertificateError::UnknownIssuer))
    ));
    // Expired already.
    let now = time::OffsetDateTime::now_utc();
    let mut params = NodeCertParams::new("a");
    params.not_before = Some(now - time::Duration::days(10));
    params.not_after = Some(now - time::Duration::days(1));
    let expired = ours.sign_request(pending.csr_der(), &params).unwrap();
    assert!(matches!(
        ep.install_renewal(&pending, &[expired.cert_der]),
        Err(RenewalError::Refused(CertificateError::Expired { .. }))
    ));
    // Another CN, for this very key: made by hand with the CA's key (certgen refuses to).
    let csr = rcgen::CertificateSigningRequestParams::from_der(&pending.csr_der().into()).unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["b".to_owned()]).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, "b");
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let wrong_cn = p.signed_by(&csr.public_key, &issuer(dir.path())).unwrap();
    match ep.install_renewal(&pending, &[wrong_cn.der().clone()]) {
        Err(RenewalError::WrongCn { found, expected }) => {
            assert_eq!(found.as_deref(), Some("b"));
            assert_eq!(expected.as_str(), "a");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&cert).unwrap(), old);
    assert!(
        !dir.path().join("a.pem.bak").exists(),
        "no backup before a write"
    );
}

#[test]
fn every_certificate_of_the_chain_must_decode() {
    let dir = pki(KeyType::P256);
    let ep = endpoint(dir.path());
    let pending = ep.prepare_renewal().unwrap();
    let signed = ca(dir.path())
        .sign_request(pending.csr_der(), &NodeCertParams::new("a"))
        .unwrap();
    for junk in [&[0x30, 0x03, 0x02, 0x01, 0x00][..], b"junk"] {
        let chain = [signed.cert_der.clone(), junk.to_vec().into()];
        assert!(
            matches!(
                ep.install_renewal(&pending, &chain),
                Err(RenewalError::Refused(CertificateError::NotDer))
            ),
            "{junk:?}"
        );
    }
    assert!(!dir.path().join("a.pem.bak").exists());
}

#[test]
fn files_behind_symbolic_links_are_rewritten_where_the_links_lead() {
    let dir = pki(KeyType::P256);
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    for f in ["a.pem", "a.key"] {
        std::fs::rename(dir.path().join(f), real.join(f)).unwrap();
        std::os::unix::fs::symlink(real.join(f), dir.path().join(f)).unwrap();
    }
    let ep = endpoint(dir.path());
    let pending = ep.prepare_renewal().unwrap();
    let signed = ca(dir.path())
        .sign_request(pending.csr_der(), &NodeCertParams::new("a"))
        .unwrap();
    let installed = ep.install_renewal(&pending, &[signed.cert_der]).unwrap();
    for f in ["a.pem", "a.key"] {
        let link = dir.path().join(f);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{f}"
        );
        assert!(real.join(format!("{f}.bak")).exists(), "{f}");
    }
    assert_eq!(installed.cert.0, real.join("a.pem").canonicalize().unwrap());
    assert_eq!(ep.reload().unwrap().own.serial_hex, signed.serial_hex);
}

#[test]
fn an_rsa_key_is_renewed_at_its_size() {
    let dir = pki(KeyType::P256);
    // An RSA 3072 certificate for a, from the cluster CA (certgen makes none).
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)
        .unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["a".to_owned()]).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, "a");
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = p.signed_by(&key, &issuer(dir.path())).unwrap();
    std::fs::write(dir.path().join("a.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("a.key"), key.serialize_pem()).unwrap();
    let ep = endpoint(dir.path());
    assert_eq!(ep.own_certificate().key_algorithm, "RSA 3072");
    let pending = ep.prepare_renewal().unwrap();
    let signed = ca(dir.path())
        .sign_request(pending.csr_der(), &NodeCertParams::new("a"))
        .unwrap();
    ep.install_renewal(&pending, &[signed.cert_der]).unwrap();
    assert_eq!(ep.reload().unwrap().own.key_algorithm, "RSA 3072");
}

/// The cluster CA of `dir` as an rcgen issuer, to sign what certgen would not.
fn issuer(dir: &Path) -> rcgen::Issuer<'static, rcgen::KeyPair> {
    let key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key")).unwrap()).unwrap();
    rcgen::Issuer::from_ca_cert_pem(&std::fs::read_to_string(dir.join("ca.pem")).unwrap(), key)
        .unwrap()
}

#[test]
fn material_given_in_memory_cannot_be_renewed_in_place() {
    let dir = pki(KeyType::P256);
    let read = |f: &str| PemSource::Memory(std::fs::read(dir.path().join(f)).unwrap());
    let ep = TlsEndpoint::new(TlsConfig::new(
        "a".parse().unwrap(),
        "test",
        read("ca.pem"),
        read("a.pem"),
        read("a.key"),
    ))
    .unwrap();
    assert!(matches!(
        ep.prepare_renewal(),
        Err(RenewalError::NotFromFiles(_))
    ));
}
