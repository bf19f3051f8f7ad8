//! Peer certificate verification in rustls, the same for both directions: both adaptors hand
//! the certificate to [`PeerCertificateVerifier`], the node's one policy (chain to the cluster
//! bundle, leaf-only CRL check, X.509 v3, keyUsage digitalSignature, extendedKeyUsage
//! serverAuth *and* clientAuth).
//!
//! A Common Name that is not a valid node ID fails that policy, here, during TLS. Whether it
//! is the node ID the peer claims is checked after the TLS handshake (see `endpoint.rs`),
//! because the acceptor learns the claim only from the hello.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::certcheck::PeerCertificateVerifier;
use crate::error::rustls_error_for;

/// The dialer's view: verifies the acceptor's certificate.
#[derive(Debug)]
pub(crate) struct AcceptorCertVerifier(pub(crate) Arc<PeerCertificateVerifier>);

impl ServerCertVerifier for AcceptorCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        // Names are not checked here: the CN is compared with the node we meant to reach
        // right after the handshake, with a precise refusal.
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .check(end_entity, intermediates, now)
            .map(|_| ServerCertVerified::assertion())
            .map_err(|e| rustls_error_for(e.into()))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.0.algs())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.0.algs())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.algs().supported_schemes()
    }
}

/// The acceptor's view: verifies the dialer's certificate. A client certificate is mandatory.
#[derive(Debug)]
pub(crate) struct DialerCertVerifier(pub(crate) Arc<PeerCertificateVerifier>);

impl ClientCertVerifier for DialerCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .check(end_entity, intermediates, now)
            .map(|_| ClientCertVerified::assertion())
            .map_err(|e| rustls_error_for(e.into()))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.0.algs())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.0.algs())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.algs().supported_schemes()
    }
}
