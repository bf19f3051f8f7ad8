//! The one error type of the crate: every variant names the file (when there is one) and why.

use std::path::PathBuf;

use crate::node_id::NodeIdError;

/// Everything that can go wrong in reign-certgen.
///
/// Each message is one line that starts with the file concerned (when there is one) and
/// says what is wrong with it, so the CLI can print it as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertgenError {
    /// Reading, writing or listing a file or folder failed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done ("read", "write", "create the folder", ...).
        action: &'static str,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file exists and `force` was not given.
    #[error("{}: already exists; pass --force to overwrite it", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The file is empty.
    #[error("{}: the file is empty", path.display())]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// The file holds neither PEM nor DER data of a known kind.
    #[error("{}: not a PEM file (no -----BEGIN ...----- line) and not DER: {reason}", path.display())]
    NotPem {
        /// The file.
        path: PathBuf,
        /// What the parser saw.
        reason: String,
    },
    /// The file has PEM markers but a section is broken (truncated, bad base64, ...).
    #[error("{}: broken PEM: {reason}", path.display())]
    BrokenPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file holds a different kind of object than the one asked for.
    #[error("{}: holds {found}, expected {expected}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What was expected ("a CERTIFICATE", ...).
        expected: &'static str,
        /// What was found ("a PRIVATE KEY", ...).
        found: String,
    },
    /// A certificate in the file does not parse.
    #[error("{}: bad certificate: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A private key in the file does not parse or is of an unsupported type.
    #[error("{}: bad private key: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A CRL in the file does not parse.
    #[error("{}: bad CRL: {reason}", path.display())]
    BadCrl {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A private key does not belong to the certificate it was paired with.
    #[error("{}: this private key does not match the certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// The state file (issued and revoked serials, CRL number) is damaged.
    #[error("{}: bad state file: {reason}", path.display())]
    BadState {
        /// The state file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A node ID breaks the rules.
    #[error("invalid node ID: {0}")]
    InvalidNodeId(#[from] NodeIdError),
    /// A `--san` value is neither an IP address nor a DNS name.
    #[error("invalid --san {value:?}: {reason}")]
    InvalidSan {
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// A serial number is not hexadecimal.
    #[error("invalid serial {value:?}: {reason}")]
    InvalidSerial {
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// An argument is out of range or inconsistent (days of 0, unknown key type, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Nothing matched what the operation was asked to act on.
    #[error("{}: {reason}", path.display())]
    NotFound {
        /// Where it was looked for.
        path: PathBuf,
        /// What was missing.
        reason: String,
    },
    /// `DIR/crl.pem` exists but is not a CRL of this CA. Its entries are not merged (that
    /// would trust another CA's list) and it is not replaced (that could drop revocations):
    /// nothing is written.
    #[error(
        "{}: {reason}; refusing to merge or replace it (move it away if it belongs to another cluster)",
        path.display()
    )]
    ForeignCrl {
        /// The CRL file.
        path: PathBuf,
        /// Why it is not this CA's.
        reason: ForeignCrlReason,
    },
    /// A certificate request (from `reign renew`) does not parse, or its signature does not
    /// verify with the key it carries.
    #[error("the certificate request is not valid: {reason}")]
    BadRequest {
        /// The library's reason.
        reason: String,
    },
    /// A certificate request names another node than the one being renewed.
    #[error("the certificate request is for {}, not {expected:?}", found.as_deref().map_or("no node ID".to_owned(), |f| format!("{:?}", reign_tls::ratelimit::Escaped(f))))]
    RequestForOtherNode {
        /// The node being renewed.
        expected: String,
        /// The request's subject CN, if it has exactly one.
        found: Option<String>,
    },
    /// Generating a key, or signing a certificate or CRL, failed.
    #[error("cannot {action}: {reason}")]
    Crypto {
        /// What was being done.
        action: &'static str,
        /// The library's reason.
        reason: String,
    },
}

impl CertgenError {
    /// True when the error is a bad argument (the CLI exits with 2), false when an
    /// operation or a file failed (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::InvalidNodeId(_)
                | Self::InvalidSan { .. }
                | Self::InvalidSerial { .. }
                | Self::InvalidArgument(_)
        )
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }

    pub(crate) fn crypto(action: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Crypto {
            action,
            reason: err.to_string(),
        }
    }
}

/// Why a CRL found in a cluster folder is not the folder CA's (see [`CertgenError::ForeignCrl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForeignCrlReason {
    /// Its issuer name is not this CA's subject.
    #[error("the CRL was issued by another CA (its issuer is not this CA's subject)")]
    OtherIssuer,
    /// Its issuer name is this CA's, but the signature does not verify with this CA's key
    /// (another CA of the same name, or a tampered file).
    #[error("the CRL's signature does not verify with this CA's key")]
    BadSignature,
    /// It is signed with an algorithm that cannot be checked against this CA's key.
    #[error("the CRL is signed with an algorithm that does not match this CA's key")]
    UnsupportedSignatureAlgorithm,
    /// Its DER structure could not be taken apart to check the signature.
    #[error("the CRL's DER structure is malformed")]
    Malformed,
}
