//! Renewing this node's certificate in place, the node's half of `reign renew`: a new key
//! pair made here (it never leaves the node), a certificate request for it, and, once the
//! CA's certificate comes back, the checks a peer would make plus the key and CN, then an
//! atomic write of key and certificate beside a backup of the old ones.
//!
//! The caller reloads afterwards (a node's `reload_tls`, which also checks its links), and
//! puts the backup back with [`Installed::restore`] if that fails.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::certerror::CertificateError;
use crate::certinfo::leaf_facts;
use crate::config::PemSource;
use crate::endpoint::TlsEndpoint;
use crate::error::MaterialKind;
use crate::files::{PUBLIC_MODE, SECRET_MODE, write_atomic};
use crate::identity::NodeId;
use crate::ratelimit::Escaped;

/// A new key pair of this node's, waiting for its certificate, and the certificate request
/// (PKCS#10, DER, subject CN = the node ID) to send to the CA. Made by
/// [`TlsEndpoint::prepare_renewal`].
pub struct RenewalKey {
    key: KeyPair,
    csr: Vec<u8>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for RenewalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewalKey")
            .field("csr_bytes", &self.csr.len())
            .field("key", &"[secret]")
            .finish()
    }
}

impl RenewalKey {
    /// The certificate request, DER.
    pub fn csr_der(&self) -> &[u8] {
        &self.csr
    }
}

/// A renewed certificate, written in place of the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Installed {
    /// The new certificate's serial, lowercase hex.
    pub serial_hex: String,
    /// Its notAfter.
    pub not_after: SystemTime,
    /// The certificate file (rewritten) and its backup (`<file>.bak`, the old one).
    pub cert: (PathBuf, PathBuf),
    /// The key file (rewritten, mode 0600) and its backup (`<file>.bak`, mode 0600).
    pub key: (PathBuf, PathBuf),
}

impl Installed {
    /// Puts the old certificate and key back from their backups (atomically, each).
    pub fn restore(&self) -> Result<(), RenewalError> {
        for ((file, bak), mode) in [(&self.key, SECRET_MODE), (&self.cert, PUBLIC_MODE)] {
            let old = std::fs::read(bak).map_err(|e| RenewalError::io(bak, "read", e))?;
            write_atomic(file, &old, mode, true).map_err(|e| RenewalError::io(file, "write", e))?;
        }
        Ok(())
    }
}

/// Why a renewal could not be prepared or installed. The material in use is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenewalError {
    /// The certificate or key is given in memory, not as a file, so there is nothing to
    /// rewrite.
    #[error("the node's {0} is not read from a file, so it cannot be renewed in place")]
    NotFromFiles(MaterialKind),
    /// Making the key pair or the request failed.
    #[error("cannot make the new key or its certificate request: {0}")]
    KeyGeneration(#[source] rcgen::Error),
    /// The certificate is not for the key this node made for the renewal.
    #[error("the certificate's public key is not the key this node made for the renewal")]
    KeyMismatch,
    /// The certificate's CN is not this node's ID.
    #[error("the certificate's CN {} is not this node's ID {expected}", found.as_deref().map_or("(none)".into(), |f| format!("{:?}", Escaped(f))))]
    WrongCn {
        /// The CN found, if any.
        found: Option<String>,
        /// This node's ID.
        expected: NodeId,
    },
    /// The certificate would be refused by a peer (or by this node): not from a CA of the
    /// bundle, expired or not yet valid, revoked, wrong usages, undecodable.
    #[error("the certificate would be refused: {0}")]
    Refused(#[source] CertificateError),
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `read`, `write`.
        action: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl RenewalError {
    fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            action,
            source,
        }
    }
}

impl TlsEndpoint {
    /// Makes a new key pair, of the same algorithm as the key in use (P-256 when that one
    /// cannot be read as a key rcgen makes), and a certificate request for it with subject
    /// CN = this node's ID. CPU-bound (an RSA key takes a while): run it off the async
    /// threads.
    pub fn prepare_renewal(&self) -> Result<RenewalKey, RenewalError> {
        let config = self.config();
        let (PemSource::File(_), PemSource::File(_)) = (&config.cert, &config.key) else {
            return Err(RenewalError::NotFromFiles(match config.cert {
                PemSource::File(_) => MaterialKind::PrivateKey,
                _ => MaterialKind::Certificate,
            }));
        };
        let alg = crate::material::read(&config.key, MaterialKind::PrivateKey)
            .ok()
            .and_then(|pem| KeyPair::from_pem(std::str::from_utf8(&pem).ok()?).ok())
            .map_or(&rcgen::PKCS_ECDSA_P256_SHA256, |k| k.algorithm());
        // An RSA key keeps its size (rcgen's default would be 2048 bits): read from the
        // certificate in use, `RSA 4096`.
        let rsa_bits = self
            .own_certificate()
            .key_algorithm
            .strip_prefix("RSA ")
            .and_then(|b| b.parse::<u32>().ok());
        let key = match rsa_bits {
            Some(bits) => KeyPair::generate_rsa_for(
                alg,
                match bits {
                    ..=2048 => rcgen::RsaKeySize::_2048,
                    2049..=3072 => rcgen::RsaKeySize::_3072,
                    _ => rcgen::RsaKeySize::_4096,
                },
            ),
            None => KeyPair::generate_for(alg),
        }
        .map_err(RenewalError::KeyGeneration)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, config.node_id.as_str());
        params.distinguished_name = dn;
        let csr = params
            .serialize_request(&key)
            .map_err(RenewalError::KeyGeneration)?
            .der()
            .to_vec();
        let spki = key.subject_public_key_info();
        Ok(RenewalKey { key, csr, spki })
    }

    /// Checks a certificate chain (leaf first) issued for `key`: the leaf's public key is
    /// `key`'s, its CN is this node's ID, and it passes every check a peer makes against
    /// this node's current CA bundle and CRL, now. Returns its serial and notAfter.
    pub fn check_renewal(
        &self,
        key: &RenewalKey,
        chain: &[CertificateDer<'static>],
    ) -> Result<(String, SystemTime), RenewalError> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or(RenewalError::Refused(CertificateError::NotDer))?;
        let facts = leaf_facts(leaf).map_err(RenewalError::Refused)?;
        // Every certificate is written to the node's file and presented in its handshakes:
        // each must be one whole, decodable certificate, even where path building would
        // pass over it.
        for c in intermediates {
            use x509_parser::prelude::FromDer;
            match x509_parser::certificate::X509Certificate::from_der(c.as_ref()) {
                Ok(([], _)) => {}
                Ok((rest, _)) => {
                    return Err(RenewalError::Refused(CertificateError::TrailingData {
                        bytes: rest.len(),
                    }));
                }
                Err(_) => return Err(RenewalError::Refused(CertificateError::NotDer)),
            }
        }
        if facts.spki_der != key.spki {
            return Err(RenewalError::KeyMismatch);
        }
        let own = &self.config().node_id;
        if facts.details.common_name.as_deref() != Some(own.as_str()) {
            return Err(RenewalError::WrongCn {
                found: facts.details.common_name.clone(),
                expected: own.clone(),
            });
        }
        self.verify_now(leaf, intermediates)
            .map_err(RenewalError::Refused)?;
        Ok((facts.details.serial_hex, facts.details.not_after))
    }

    /// [`check_renewal`](Self::check_renewal), then writes `key` and the chain over this
    /// node's key and certificate files, each atomically, after copying the old ones to
    /// `<file>.bak`. Blocking file I/O. Does not reload: the caller does (and calls
    /// [`Installed::restore`] if the reload fails).
    pub fn install_renewal(
        &self,
        key: &RenewalKey,
        chain: &[CertificateDer<'static>],
    ) -> Result<Installed, RenewalError> {
        let (serial_hex, not_after) = self.check_renewal(key, chain)?;
        let config = self.config();
        let (PemSource::File(cert), PemSource::File(key_file)) = (&config.cert, &config.key) else {
            return Err(RenewalError::NotFromFiles(MaterialKind::Certificate));
        };
        // Through symbolic links: the file a link leads to is rewritten (a link swapped by a
        // deployment tool keeps pointing where it did), and the backup sits beside it.
        let resolve =
            |p: &PathBuf| std::fs::canonicalize(p).map_err(|e| RenewalError::io(p, "resolve", e));
        let (cert, key_file) = (&resolve(cert)?, &resolve(key_file)?);
        let bak = |p: &Path| {
            let mut s = p.as_os_str().to_owned();
            s.push(".bak");
            PathBuf::from(s)
        };
        let (cert_bak, key_bak) = (bak(cert), bak(key_file));
        for (file, backup, mode) in [
            (cert, &cert_bak, PUBLIC_MODE),
            (key_file, &key_bak, SECRET_MODE),
        ] {
            let old = std::fs::read(file).map_err(|e| RenewalError::io(file, "read", e))?;
            write_atomic(backup, &old, mode, true)
                .map_err(|e| RenewalError::io(backup, "write", e))?;
        }
        let cert_pem: String = chain.iter().map(|c| pem_of("CERTIFICATE", c)).collect();
        let installed = Installed {
            serial_hex,
            not_after,
            cert: (cert.clone(), cert_bak),
            key: (key_file.clone(), key_bak),
        };
        // The key first: until the certificate follows, a reload fails on the mismatch and
        // keeps the old material, which a restart would not; so a failure here restores.
        let written = write_atomic(
            key_file,
            key.key.serialize_pem().as_bytes(),
            SECRET_MODE,
            true,
        )
        .map_err(|e| RenewalError::io(key_file, "write", e))
        .and_then(|()| {
            write_atomic(cert, cert_pem.as_bytes(), PUBLIC_MODE, true)
                .map_err(|e| RenewalError::io(cert, "write", e))
        });
        if let Err(e) = written {
            let _ = installed.restore();
            return Err(e);
        }
        Ok(installed)
    }
}

/// PEM text with LF line endings, 64 columns.
fn pem_of(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

/// The verdict of the current material on a chain, now.
impl TlsEndpoint {
    fn verify_now(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), CertificateError> {
        self.verifier()
            .check(leaf, intermediates, UnixTime::now())
            .map(|_| ())
    }
}
