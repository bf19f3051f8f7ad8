//! `renew`: reissue node certificates (new keys) by name, or all that expire soon.

use std::path::{Path, PathBuf};

use reign_tls::ratelimit::Escaped;
use time::OffsetDateTime;

use crate::ca::{CA_CERT_FILE, read_leaf};
use crate::crl::CRL_FILE;
use crate::inspect::{CertInfo, cert_info};
use crate::node_id::validate_node_id;
use crate::ops::{IssuedFiles, write_node};
use crate::state::State;
use crate::{CertAuthority, CertgenError, KeyType, NodeCertParams};

/// Options of [`renew`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewOptions {
    /// Folder holding the node files. Default: the CA folder.
    pub out: Option<PathBuf>,
    /// Nodes to renew. Empty: every node in `out` whose certificate expires within
    /// `within_days`.
    pub node_ids: Vec<String>,
    /// The expiry horizon used when `node_ids` is empty, in days. Default 30.
    pub within_days: u32,
    /// Validity of the new certificates in days. Default (`None`): the old certificate's
    /// lifetime, or 365 when it cannot be read.
    pub days: Option<u32>,
    /// Key algorithm of the new keys. Default (`None`): the old certificate's, else P-256.
    pub key_type: Option<KeyType>,
}

impl Default for RenewOptions {
    fn default() -> Self {
        Self {
            out: None,
            node_ids: Vec::new(),
            within_days: 30,
            days: None,
            key_type: None,
        }
    }
}

/// One renewed node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewed {
    /// The files written.
    pub files: IssuedFiles,
    /// Serial of the replaced certificate, if there was one (revoke it with
    /// `reign-certgen revoke --serial` once every node has the new one).
    pub old_serial: Option<String>,
    /// End of validity of the replaced certificate.
    pub old_not_after: Option<OffsetDateTime>,
}

/// A node certificate renew looked at and did not touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAlone {
    /// The certificate file.
    pub path: PathBuf,
    /// Its node ID (CN), when readable.
    pub node_id: Option<String>,
    /// Why it was left alone, e.g. "expires in 200 days".
    pub reason: String,
}

/// What [`renew`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenewReport {
    /// Nodes reissued.
    pub renewed: Vec<Renewed>,
    /// Node certificates left as they are, with the reason.
    pub left_alone: Vec<LeftAlone>,
}

/// Reissues, with new keys, each node in `opts.node_ids`, or (when it is empty) every node in
/// OUT whose certificate expires within `opts.within_days`. Extra subjectAltNames of the old
/// certificate are kept. The old `<id>.pem` / `<id>.key` are replaced atomically.
pub fn renew(dir: &Path, opts: &RenewOptions) -> Result<RenewReport, CertgenError> {
    let out = opts.out.clone().unwrap_or_else(|| dir.to_path_buf());
    for id in &opts.node_ids {
        validate_node_id(id)?;
    }
    let ca = CertAuthority::load(dir)?;
    let mut state = State::load(dir)?;
    let mut report = RenewReport::default();
    let mut todo: Vec<(String, Option<CertInfo>)> = Vec::new();
    if opts.node_ids.is_empty() {
        for (path, info) in node_certs(&out, &ca)? {
            let id = info.as_ref().ok().and_then(|i| i.common_name.clone());
            match info {
                Err(reason) => report.left_alone.push(LeftAlone {
                    path,
                    node_id: id,
                    reason,
                }),
                Ok(i) if i.days_left > i64::from(opts.within_days) => {
                    report.left_alone.push(LeftAlone {
                        path,
                        node_id: id,
                        reason: format!(
                            "expires in {} days, later than the {}-day horizon",
                            i.days_left, opts.within_days
                        ),
                    })
                }
                Ok(i) => todo.push((i.common_name.clone().unwrap_or_default(), Some(i))),
            }
        }
    } else {
        for id in &opts.node_ids {
            let path = out.join(format!("{id}.pem"));
            if !path.exists() {
                return Err(CertgenError::NotFound {
                    path,
                    reason: format!(
                        "no certificate to renew for node {id:?}; use `reign-certgen issue` for a new node"
                    ),
                });
            }
            let der = read_leaf(&path)?;
            todo.push((id.clone(), cert_info(&der).ok()));
        }
    }
    for (id, old) in todo {
        let mut params = NodeCertParams::new(id.clone());
        if let Some(old) = &old {
            params.sans = old
                .sans
                .iter()
                .filter_map(|s| s.strip_prefix("DNS:").or_else(|| s.strip_prefix("IP:")))
                .filter(|s| *s != id)
                .map(str::to_owned)
                .collect();
            let lifetime = (old.not_after - old.not_before).whole_days();
            params.days = u32::try_from(lifetime)
                .ok()
                .filter(|d| *d > 0)
                .unwrap_or(365);
            params.key_type = match old.key_type.as_str() {
                "ECDSA P-384" => KeyType::P384,
                "Ed25519" => KeyType::Ed25519,
                _ => KeyType::P256,
            };
        }
        if let Some(d) = opts.days {
            params.days = d;
        }
        if let Some(k) = opts.key_type {
            params.key_type = k;
        }
        let cert = ca.issue(&params)?;
        let files = write_node(&out, &cert, true, dir, &mut state)?;
        report.renewed.push(Renewed {
            files,
            old_serial: old.as_ref().map(|o| o.serial.clone()),
            old_not_after: old.as_ref().map(|o| o.not_after),
        });
    }
    Ok(report)
}

/// A certificate file and its description, or why it is not a node certificate of this CA.
type Candidate = (PathBuf, Result<CertInfo, String>);

/// Every `<id>.pem` in `out` other than the CA's own files, with its description or the
/// reason it is not a node certificate of this CA.
fn node_certs(out: &Path, ca: &CertAuthority) -> Result<Vec<Candidate>, CertgenError> {
    let ca_subject = ca.subject();
    let entries = std::fs::read_dir(out).map_err(|e| CertgenError::io(out, "list", e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".pem")
                && name != CA_CERT_FILE
                && name != CRL_FILE
                && !name.starts_with('.')
        })
        .collect();
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let info = read_leaf(&path)
            .map_err(|e| e.to_string())
            .and_then(|der| cert_info(&der))
            .and_then(|i| {
                if i.is_ca {
                    Err("a CA certificate, not a node's".into())
                } else if i.issuer != ca_subject {
                    Err(format!(
                        "issued by {:?}, not by this CA {:?}",
                        Escaped(&i.issuer),
                        Escaped(&ca_subject)
                    ))
                } else if i.common_name.as_deref() != Some(stem.as_str()) {
                    Err(format!(
                        "its CN {:?} does not match the file name {}.pem",
                        Escaped(i.common_name.as_deref().unwrap_or("")),
                        Escaped(&stem)
                    ))
                } else {
                    Ok(i)
                }
            });
        found.push((path, info));
    }
    Ok(found)
}
