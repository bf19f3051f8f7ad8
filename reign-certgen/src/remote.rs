//! Signing a node's own certificate request (`reign renew`): the CA side of a renewal
//! where the node made its key itself. Recorded in the state file like any issue.

use std::path::{Path, PathBuf};

use crate::ca::SignedRequest;
use crate::state::{Issued, State};
use crate::{CertAuthority, CertgenError, NodeCertParams};

/// Options of [`sign_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignOptions {
    /// The node being renewed: the request's CN must be exactly this.
    pub node_id: String,
    /// Validity in days. `0` means the default, 365.
    pub days: u32,
}

impl SignOptions {
    /// Defaults for `node_id`: 365 days.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            days: 0,
        }
    }
}

/// Signs the PKCS#10 request `csr_der` of node `opts.node_id` with the CA in `dir` (see
/// [`CertAuthority::sign_request`]) and records the new certificate in `dir`'s state file
/// as sent, not yet installed ([`record_installed`] says it was). Nothing is written to the
/// node's files here: the node installs the certificate itself.
pub fn sign_request(
    dir: &Path,
    csr_der: &[u8],
    opts: &SignOptions,
) -> Result<SignedRequest, CertgenError> {
    let ca = CertAuthority::load(dir)?;
    let mut state = State::load(dir)?;
    let params = NodeCertParams {
        days: if opts.days == 0 { 365 } else { opts.days },
        ..NodeCertParams::new(opts.node_id.clone())
    };
    let signed = ca.sign_request(csr_der, &params)?;
    state.issued.push(Issued {
        node_id: signed.node_id.clone(),
        serial: signed.serial_hex.clone(),
        not_after: signed.not_after.unix_timestamp(),
        cert_file: PathBuf::from(format!("{SENT}{}", signed.node_id)),
    });
    state.save(dir)?;
    Ok(signed)
}

/// How a certificate signed for `reign renew` is recorded until the node confirms it.
const SENT: &str = "(sent by reign renew, not confirmed installed) node ";
/// And once it has.
const INSTALLED: &str = "(installed by reign renew) node ";

/// Records in `dir`'s state file that the certificate with `serial_hex`, signed by
/// [`sign_request`], was installed by its node. Returns whether such a record was found.
pub fn record_installed(dir: &Path, serial_hex: &str) -> Result<bool, CertgenError> {
    let mut state = State::load(dir)?;
    let Some(entry) = state.issued.iter_mut().find(|i| i.serial == serial_hex) else {
        return Ok(false);
    };
    entry.cert_file = PathBuf::from(format!("{INSTALLED}{}", entry.node_id));
    state.save(dir)?;
    Ok(true)
}
