//! `DIR/certgen-state.json`: what the CA issued and revoked, and the last CRL number.
//!
//! Only the CA operator's machine needs this file (next to `ca.key`); nodes never read it.
//! It is plain JSON so an operator can read it, and it is rewritten atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::CertgenError;
use crate::fsio::write_public_file;

/// Name of the state file in a cluster folder.
pub const STATE_FILE: &str = "certgen-state.json";

/// Default lifetime of a CRL (its nextUpdate), in days.
pub const DEFAULT_CRL_DAYS: u32 = 30;

/// The record kept in `DIR/certgen-state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    /// Format version, 1.
    #[serde(default = "one")]
    pub(crate) version: u32,
    /// Number of the last CRL written (0: none yet).
    #[serde(default)]
    pub(crate) crl_number: u64,
    /// Lifetime of the CRL in days, as last set by `crl --days`.
    #[serde(default = "default_crl_days")]
    pub(crate) crl_days: u32,
    /// Every certificate issued by this CA, oldest first.
    #[serde(default)]
    pub(crate) issued: Vec<Issued>,
    /// Every revocation, oldest first.
    #[serde(default)]
    pub(crate) revoked: Vec<Revoked>,
}

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Issued {
    pub(crate) node_id: String,
    /// Canonical lowercase hex.
    pub(crate) serial: String,
    /// Unix seconds.
    pub(crate) not_after: i64,
    /// Where the certificate was written.
    pub(crate) cert_file: PathBuf,
}

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Revoked {
    /// Canonical lowercase hex.
    pub(crate) serial: String,
    /// The node it was issued to, when known.
    #[serde(default)]
    pub(crate) node_id: Option<String>,
    /// Unix seconds.
    pub(crate) revoked_at: i64,
    /// RFC 5280 reason name, e.g. `keyCompromise`.
    pub(crate) reason: String,
}

fn one() -> u32 {
    1
}

fn default_crl_days() -> u32 {
    DEFAULT_CRL_DAYS
}

impl State {
    pub(crate) fn new() -> Self {
        Self {
            version: 1,
            crl_days: DEFAULT_CRL_DAYS,
            ..Self::default()
        }
    }

    /// Loads the state of `dir`, or a fresh one if the file does not exist yet.
    pub(crate) fn load(dir: &Path) -> Result<Self, CertgenError> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CertgenError::BadState {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new()),
            Err(e) => Err(CertgenError::io(path, "read", e)),
        }
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<(), CertgenError> {
        let path = dir.join(STATE_FILE);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| CertgenError::BadState {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        write_public_file(&path, &json, true)
    }

    pub(crate) fn is_revoked(&self, serial: &str) -> bool {
        self.revoked.iter().any(|r| r.serial == serial)
    }
}
