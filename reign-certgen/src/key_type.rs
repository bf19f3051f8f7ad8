//! The key algorithms certgen generates.

use std::fmt;
use std::str::FromStr;

use crate::CertgenError;

/// The algorithm of a generated key (and so of the signatures it makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum KeyType {
    /// ECDSA on NIST P-256 with SHA-256. The default: small, fast, accepted everywhere.
    #[default]
    P256,
    /// ECDSA on NIST P-384 with SHA-384.
    P384,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// The name used on the command line: `p256`, `p384` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Ed25519 => "ed25519",
        }
    }

    /// Every key type, in the order shown in help texts.
    pub const ALL: [KeyType; 3] = [Self::P256, Self::P384, Self::Ed25519];

    pub(crate) fn algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    pub(crate) fn generate(self) -> Result<rcgen::KeyPair, CertgenError> {
        rcgen::KeyPair::generate_for(self.algorithm())
            .map_err(|e| CertgenError::crypto("generate a key", e))
    }

    /// The key type of an existing key pair, if it is one certgen can make.
    pub(crate) fn of(key: &rcgen::KeyPair) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| key.algorithm() == t.algorithm())
    }
}

/// The PKCS#8 PEM of a key, in the form every tool reads.
///
/// aws-lc writes Ed25519 keys as PKCS#8 v2 (RFC 5958, with the public key attached), which
/// OpenSSL 3.0 refuses to load ("unsupported"); those are rewritten as the PKCS#8 v1 form of
/// RFC 8410. Other keys are written as they are.
pub(crate) fn pkcs8_pem(key: &rcgen::KeyPair) -> String {
    const V2_PREFIX: [u8; 16] = [
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let der = key.serialized_der();
    if der.len() == 83 && der.starts_with(&V2_PREFIX) {
        let mut v1 = V1_PREFIX.to_vec();
        v1.extend_from_slice(&der[16..48]);
        return crate::ca::pem_encode("PRIVATE KEY", &v1);
    }
    key.serialize_pem()
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = CertgenError;

    /// Parses `p256`, `p384` or `ed25519` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" => Ok(Self::P256),
            "p384" | "p-384" => Ok(Self::P384),
            "ed25519" => Ok(Self::Ed25519),
            _ => Err(CertgenError::InvalidArgument(format!(
                "unknown key type {s:?}; use p256, p384 or ed25519"
            ))),
        }
    }
}
