//! `PeerInfo::valid_until` (finding 9, TLS side): the instant the peer's verified chain
//! stops being valid, the earliest notAfter of its leaf, intermediates and CA, on both sides.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reign::tls::TlsEndpoint;
use reign_certgen::{InitOptions, IssueOptions, NodeCertParams};

use crate::support::{Pki, handshake, write};

fn system_time(t: time::OffsetDateTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.unix_timestamp() as u64)
}

#[tokio::test]
async fn valid_until_is_the_leaf_not_after_of_a_certgen_certificate() {
    let pki = Pki::new("demo", &["a"]);
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    let not_after = not_after.replace_nanosecond(0).unwrap();
    let mut p = NodeCertParams::new("b");
    p.not_after = Some(not_after);
    pki.issue_custom(&p);
    let (a, b) = (pki.endpoint("a"), pki.endpoint("b"));
    let (dialed, accepted) = handshake(&b, &a, "a").await;
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
    // a sees b's two-day certificate; b sees a's (365 days, certgen's default).
    assert_eq!(accepted.peer().valid_until, system_time(not_after));
    assert_eq!(
        accepted.peer().valid_until,
        accepted.peer().certificate.not_after
    );
    let a_leaf = dialed.peer().certificate.not_after;
    assert_eq!(dialed.peer().valid_until, a_leaf);
    let in_a_year = SystemTime::now() + Duration::from_secs(364 * 86_400);
    assert!(a_leaf > in_a_year);
}

#[tokio::test]
async fn valid_until_is_the_ca_not_after_when_the_ca_expires_first() {
    let dir = tempfile::tempdir().unwrap();
    reign_certgen::init(
        dir.path(),
        &InitOptions {
            cluster_name: "demo".into(),
            days: 3,
            ..InitOptions::default()
        },
    )
    .unwrap();
    reign_certgen::issue(dir.path(), &["a", "b"], &IssueOptions::default()).unwrap();
    let pki = Pki {
        dir,
        cluster: "demo".into(),
    };
    let ca_not_after = system_time(pki.ca().not_after());
    let (dialed, accepted) = handshake(&pki.endpoint("b"), &pki.endpoint("a"), "a").await;
    for side in [dialed.unwrap(), accepted.unwrap()] {
        let peer = side.peer();
        assert!(peer.valid_until <= peer.certificate.not_after);
        assert_eq!(peer.valid_until, ca_not_after);
    }
}

/// A chain root -> intermediate (valid 5 days) -> leaf (30 days): the intermediate ends it.
#[tokio::test]
async fn valid_until_counts_the_intermediate_the_peer_presented() {
    let pki = Pki::new("demo", &["a"]);
    let ca = pki.ca();
    let root = rcgen::Issuer::from_ca_cert_pem(
        ca.cert_pem(),
        rcgen::KeyPair::from_pem(ca.key_pem()).unwrap(),
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let mut inter = rcgen::CertificateParams::default();
    inter
        .distinguished_name
        .push(rcgen::DnType::CommonName, "demo intermediate");
    inter.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    inter.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    inter.not_before = now - time::Duration::hours(1);
    inter.not_after = now + time::Duration::days(5);
    let inter_key = rcgen::KeyPair::generate().unwrap();
    let inter_cert = inter.clone().signed_by(&inter_key, &root).unwrap();
    let inter_issuer = rcgen::Issuer::new(inter, inter_key);

    let mut leaf = rcgen::CertificateParams::new(vec!["b".to_string()]).unwrap();
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name.push(rcgen::DnType::CommonName, "b");
    leaf.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    leaf.not_before = now - time::Duration::hours(1);
    leaf.not_after = now + time::Duration::days(30);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &inter_issuer).unwrap();
    write(
        &pki.path("b.pem"),
        &format!("{}{}", leaf_cert.pem(), inter_cert.pem()),
    );
    write(&pki.path("b.key"), &leaf_key.serialize_pem());

    let b = TlsEndpoint::new(pki.config("b")).unwrap();
    let (dialed, accepted) = handshake(&b, &pki.endpoint("a"), "a").await;
    dialed.unwrap();
    let peer = accepted.unwrap().peer().clone();
    assert_eq!(
        peer.certificate.not_after,
        system_time(now + time::Duration::days(30))
    );
    assert_eq!(peer.valid_until, system_time(now + time::Duration::days(5)));
}
