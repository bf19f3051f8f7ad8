//! Certificate updates on a live connection (reign-tls's half of CERT_UPDATE): a renewed
//! node's proof of its new key is accepted by its peer on that connection only; anything
//! else a member could send in one is refused with the reason.

use reign::tls::{CertificateUpdate, MAX_UPDATE_CHAIN, Refusal, TlsEndpoint};
use reign_certgen::{IssueOptions, NodeCertParams, RevocationReason, RevokeTarget};

use crate::support::{Pki, handshake};

/// A live connection a -> b: (b as a sees it, a as b sees it).
async fn connect(a: &TlsEndpoint, b: &TlsEndpoint) -> (reign::tls::PeerInfo, reign::tls::PeerInfo) {
    let (d, acc) = handshake(a, b, "b").await;
    (d.unwrap().peer().clone(), acc.unwrap().peer().clone())
}

/// a renews its certificate (a new key) and reloads.
fn renew(pki: &Pki, a: &TlsEndpoint) {
    pki.issue_custom(&NodeCertParams::new("a"));
    a.reload().expect("a's new material loads");
}

#[tokio::test]
async fn a_renewed_nodes_update_is_accepted_on_its_connection() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (a, b) = (pki.endpoint("a"), pki.endpoint("b"));
    let (b_seen_by_a, a_seen_by_b) = connect(&a, &b).await;
    let old_serial = a_seen_by_b.certificate.serial_hex.clone();
    renew(&pki, &a);
    let update = a.certificate_update(&b_seen_by_a).expect("a signs");
    let updated = b
        .accept_certificate_update(&a_seen_by_b, &update)
        .expect("b accepts");
    assert_ne!(updated.certificate.serial_hex, old_serial);
    assert_eq!(
        updated.certificate.serial_hex,
        a.own_certificate().serial_hex
    );
    assert_eq!(updated.chain, update.chain);
    // After the update, b's recheck uses the new chain.
    assert!(b.recheck(&updated).is_ok());
}

#[tokio::test]
async fn an_update_is_worthless_on_another_connection_or_tampered() {
    let pki = Pki::new("demo", &["a", "b"]);
    let (a, b) = (pki.endpoint("a"), pki.endpoint("b"));
    let (b_seen_by_a, a_seen_by_b) = connect(&a, &b).await;
    let (_, a_seen_by_b_2) = connect(&a, &b).await;
    renew(&pki, &a);
    let update = a.certificate_update(&b_seen_by_a).unwrap();
    // Replayed on another connection: its exporter value differs.
    assert!(matches!(
        b.accept_certificate_update(&a_seen_by_b_2, &update),
        Err(Refusal::BadCertificate { .. })
    ));
    // A flipped bit of the signature.
    let mut sig = update.signature.clone();
    let mid = sig.len() / 2;
    sig[mid] ^= 1;
    let tampered = CertificateUpdate::new(
        update.chain.iter().map(|c| c.as_ref().to_vec()),
        update.scheme,
        sig,
    );
    assert!(matches!(
        b.accept_certificate_update(&a_seen_by_b, &tampered),
        Err(Refusal::BadCertificate { .. })
    ));
    // A scheme TLS 1.3 forbids in a CertificateVerify (RSA PKCS#1 v1.5, ECDSA with SHA-1).
    for scheme in [0x0401, 0x0203] {
        let legacy = CertificateUpdate::new(
            update.chain.iter().map(|c| c.as_ref().to_vec()),
            scheme,
            update.signature.clone(),
        );
        let err = b
            .accept_certificate_update(&a_seen_by_b, &legacy)
            .unwrap_err();
        assert!(err.to_string().contains("TLS 1.3 does not allow"), "{err}");
    }
    // An unknown signature scheme.
    let odd = CertificateUpdate::new(
        update.chain.iter().map(|c| c.as_ref().to_vec()),
        0xfefe,
        update.signature.clone(),
    );
    assert!(b.accept_certificate_update(&a_seen_by_b, &odd).is_err());
}

#[tokio::test]
async fn an_update_naming_another_node_revoked_or_untrusted_is_refused() {
    let pki = Pki::new("demo", &["a", "b", "c"]);
    let (a, b, c) = (pki.endpoint("a"), pki.endpoint("b"), pki.endpoint("c"));
    let (b_seen_by_a, a_seen_by_b) = connect(&a, &b).await;
    let (b_seen_by_c, _) = {
        let (d, acc) = handshake(&c, &b, "b").await;
        (d.unwrap().peer().clone(), acc.unwrap().peer().clone())
    };
    // c's valid chain offered on a's connection: the CN is not a's.
    let from_c = c.certificate_update(&b_seen_by_c).unwrap();
    assert!(matches!(
        b.accept_certificate_update(&a_seen_by_b, &from_c),
        Err(Refusal::CnMismatch { .. })
    ));
    // A chain longer than the protocol allows.
    let update = a.certificate_update(&b_seen_by_a).unwrap();
    let long = CertificateUpdate::new(
        std::iter::repeat_n(update.chain[0].as_ref().to_vec(), MAX_UPDATE_CHAIN + 1),
        update.scheme,
        update.signature.clone(),
    );
    assert!(matches!(
        b.accept_certificate_update(&a_seen_by_b, &long),
        Err(Refusal::BadCertificate { .. })
    ));
    // A certificate for a from another CA, signed for this connection by its key.
    let other = Pki::new("demo", &["a"]);
    let foreign = other
        .endpoint("a")
        .certificate_update(&b_seen_by_a)
        .unwrap();
    assert!(matches!(
        b.accept_certificate_update(&a_seen_by_b, &foreign),
        Err(Refusal::UnknownCa)
    ));
}

#[tokio::test]
async fn a_renewed_certificate_already_revoked_is_refused() {
    let pki = Pki::new("demo", &["a", "b"]);
    reign_certgen::refresh_crl(pki.dir.path(), 30).unwrap();
    let a = pki.endpoint("a");
    let b = TlsEndpoint::new(pki.config("b").with_crl(pki.path("crl.pem"))).unwrap();
    let (b_seen_by_a, a_seen_by_b) = connect(&a, &b).await;
    // a renews with reign-certgen (which records the serial), and the new one is revoked
    // before b hears of it.
    reign_certgen::issue(
        pki.dir.path(),
        &["a"],
        &IssueOptions {
            force: true,
            ..IssueOptions::default()
        },
    )
    .unwrap();
    a.reload().unwrap();
    reign_certgen::revoke(
        pki.dir.path(),
        RevokeTarget::Serial(a.own_certificate().serial_hex.clone()),
        RevocationReason::KeyCompromise,
    )
    .unwrap();
    b.reload().unwrap();
    let update = a.certificate_update(&b_seen_by_a).unwrap();
    assert!(matches!(
        b.accept_certificate_update(&a_seen_by_b, &update),
        Err(Refusal::Revoked)
    ));
}
