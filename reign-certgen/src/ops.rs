//! Folder-level `init` and `issue`: exactly what the CLI does, returning what was written.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::ca::{CA_CERT_FILE, CA_KEY_FILE};
use crate::crl::CRL_FILE;
use crate::fsio::{create_dir, ensure_writable, write_public_file, write_secret_file};
use crate::node_id::validate_node_id;
use crate::state::{Issued, STATE_FILE, State};
use crate::{CaParams, CertAuthority, CertgenError, KeyType, NodeCert, NodeCertParams};

/// Options of [`init`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// The cluster name, the CA's Common Name. Default `"reign"`.
    pub cluster_name: String,
    /// CA validity in days. Default 3650.
    pub days: u32,
    /// CA key algorithm. Default P-256.
    pub key_type: KeyType,
    /// Replace an existing CA (and forget its issued/revoked record). Default false.
    pub force: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        let p = CaParams::default();
        Self {
            cluster_name: p.cluster_name,
            days: p.days,
            key_type: p.key_type,
            force: false,
        }
    }
}

/// What [`init`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// `DIR/ca.pem`.
    pub cert_path: PathBuf,
    /// `DIR/ca.key` (mode 0600).
    pub key_path: PathBuf,
    /// The CA's subject, e.g. `CN=reign`.
    pub subject: String,
    /// The CA key's algorithm.
    pub key_type: KeyType,
    /// End of the CA's validity.
    pub not_after: OffsetDateTime,
    /// A CRL of the replaced CA that was removed (only with `force`).
    pub removed_old_crl: Option<PathBuf>,
}

/// Creates a cluster CA in `dir`: writes `dir/ca.key` (0600) and `dir/ca.pem`, and starts a
/// fresh `dir/certgen-state.json`. Refuses to replace an existing CA unless `opts.force`.
pub fn init(dir: &Path, opts: &InitOptions) -> Result<InitReport, CertgenError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    ensure_writable(&key_path, opts.force)?;
    ensure_writable(&cert_path, opts.force)?;
    let ca = CertAuthority::generate(&CaParams {
        cluster_name: opts.cluster_name.clone(),
        days: opts.days,
        key_type: opts.key_type,
    })?;
    create_dir(dir)?;
    write_secret_file(&key_path, ca.key_pem().as_bytes(), opts.force)?;
    write_public_file(&cert_path, ca.cert_pem().as_bytes(), opts.force)?;
    State::new().save(dir)?;
    // A CRL signed by the replaced CA would be refused by every node; do not leave it around.
    let crl_path = dir.join(CRL_FILE);
    let removed_old_crl = if opts.force && crl_path.exists() {
        std::fs::remove_file(&crl_path).map_err(|e| CertgenError::io(&crl_path, "remove", e))?;
        Some(crl_path)
    } else {
        None
    };
    Ok(InitReport {
        cert_path,
        key_path,
        subject: ca.subject(),
        key_type: opts.key_type,
        not_after: ca.not_after(),
        removed_old_crl,
    })
}

/// Options of [`issue`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueOptions {
    /// Folder for `<id>.pem` and `<id>.key`. Default: the CA folder.
    pub out: Option<PathBuf>,
    /// Validity in days. `0` means the default, 365.
    pub days: u32,
    /// Node key algorithm. Default P-256.
    pub key_type: KeyType,
    /// Extra subjectAltNames (DNS names or IP addresses) for every node issued.
    pub sans: Vec<String>,
    /// Overwrite existing `<id>.pem` / `<id>.key`. Default false.
    pub force: bool,
}

/// One node certificate written by [`issue`] or [`crate::renew`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedFiles {
    /// The node ID.
    pub node_id: String,
    /// `OUT/<id>.pem`.
    pub cert_path: PathBuf,
    /// `OUT/<id>.key` (mode 0600).
    pub key_path: PathBuf,
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// Issues a certificate and new key for each node ID with the CA in `dir`, writing
/// `OUT/<id>.pem` and `OUT/<id>.key`.
///
/// Every ID and `--san` is checked, and every target file is checked for existence,
/// before anything is written.
pub fn issue(
    dir: &Path,
    node_ids: &[&str],
    opts: &IssueOptions,
) -> Result<Vec<IssuedFiles>, CertgenError> {
    if node_ids.is_empty() {
        return Err(CertgenError::InvalidArgument("no node ID given".into()));
    }
    let out = opts.out.clone().unwrap_or_else(|| dir.to_path_buf());
    for (i, id) in node_ids.iter().enumerate() {
        validate_node_id(id)?;
        if node_ids[..i].contains(id) {
            return Err(CertgenError::InvalidArgument(format!(
                "node ID {id:?} is given twice"
            )));
        }
        check_not_reserved(id, &out, dir)?;
    }
    let ca = CertAuthority::load(dir)?;
    let mut state = State::load(dir)?;
    let params: Vec<NodeCertParams> = node_ids
        .iter()
        .map(|id| NodeCertParams {
            days: if opts.days == 0 { 365 } else { opts.days },
            key_type: opts.key_type,
            sans: opts.sans.clone(),
            ..NodeCertParams::new(*id)
        })
        .collect();
    for p in &params {
        ensure_writable(&out.join(format!("{}.key", p.node_id)), opts.force)?;
        ensure_writable(&out.join(format!("{}.pem", p.node_id)), opts.force)?;
    }
    // Catch a bad --san before any file is written (issue() checks each one).
    let mut written = Vec::new();
    let mut certs = Vec::new();
    for p in &params {
        certs.push(ca.issue(p)?);
    }
    create_dir(&out)?;
    for cert in certs {
        written.push(write_node(&out, &cert, opts.force, dir, &mut state)?);
    }
    Ok(written)
}

/// Writes a node's key then certificate and records the issue in the state of `ca_dir`.
pub(crate) fn write_node(
    out: &Path,
    cert: &NodeCert,
    force: bool,
    ca_dir: &Path,
    state: &mut State,
) -> Result<IssuedFiles, CertgenError> {
    let key_path = out.join(format!("{}.key", cert.node_id));
    let cert_path = out.join(format!("{}.pem", cert.node_id));
    write_secret_file(&key_path, cert.key_pem.as_bytes(), force)?;
    write_public_file(&cert_path, cert.cert_pem.as_bytes(), force)?;
    state.issued.push(Issued {
        node_id: cert.node_id.clone(),
        serial: cert.serial_hex.clone(),
        not_after: cert.not_after.unix_timestamp(),
        cert_file: cert_path.clone(),
    });
    state.save(ca_dir)?;
    Ok(IssuedFiles {
        node_id: cert.node_id.clone(),
        cert_path,
        key_path,
        serial_hex: cert.serial_hex.clone(),
        not_after: cert.not_after,
    })
}

/// Node IDs whose files would land on the CA's own files.
fn check_not_reserved(id: &str, out: &Path, dir: &Path) -> Result<(), CertgenError> {
    let clash = [CA_CERT_FILE, CA_KEY_FILE, CRL_FILE, STATE_FILE]
        .iter()
        .any(|f| *f == format!("{id}.pem") || *f == format!("{id}.key"));
    if clash && same_dir(out, dir) {
        return Err(CertgenError::InvalidArgument(format!(
            "node ID {id:?} would overwrite the CA's own files in {}; write it elsewhere with --out",
            dir.display()
        )));
    }
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
