//! The cluster certificate authority for reign.
//!
//! A reign cluster trusts one CA. This crate makes that CA, issues each node a certificate
//! whose subject Common Name is its node ID, revokes certificates through a CRL, explains
//! what a certificate holds ([`inspect_file`]) and checks a node's files with the node's own
//! acceptance policy ([`doctor`]: its verdict on the certificate is reign-tls's
//! [`PeerCertificateVerifier`](reign_tls::PeerCertificateVerifier), the code a node runs on
//! every peer certificate). The `reign-certgen` binary is a thin layer over these
//! functions; tests and examples use them directly.
//!
//! ```no_run
//! use std::path::Path;
//! use reign_certgen::{DoctorOptions, InitOptions, IssueOptions, doctor, init, issue};
//!
//! let dir = Path::new("cluster-pki");
//! init(dir, &InitOptions::default())?;
//! issue(dir, &["a", "b", "c"], &IssueOptions::default())?;
//! let report = doctor(&DoctorOptions::for_node(dir, "a"));
//! assert!(report.passed());
//! # Ok::<(), reign_certgen::CertgenError>(())
//! ```
//!
//! # Files
//!
//! A cluster folder holds `ca.pem`, `ca.key` (the CA's secret), `certgen-state.json` (what
//! was issued and revoked, and the last CRL number), `crl.pem` once something was revoked,
//! and `<id>.pem` + `<id>.key` per node. A node needs only `ca.pem`, its own `<id>.pem` and
//! `<id>.key`, and `crl.pem` if it exists. The CA key is needed only to issue, revoke and
//! renew: keep it off the nodes.
//!
//! Every file is written atomically (temp file in the same folder, fsync, rename), private
//! keys with mode 0600 from creation, and nothing is overwritten unless `force` is set.
#![forbid(unsafe_code)]

mod ca;
mod crl;
mod doctor;
mod error;
mod fsio;
mod inspect;
mod key_type;
mod material;
mod node_id;
mod ops;
mod remote;
mod renew;
mod state;

pub use ca::{
    CA_CERT_FILE, CA_KEY_FILE, CLOCK_SKEW_ALLOWANCE, CaParams, CertAuthority, NodeCert,
    NodeCertParams, SignedRequest,
};
pub use crl::{
    CRL_FILE, CrlReport, RevocationReason, RevokeReport, RevokeTarget, refresh_crl, revoke,
};
pub use doctor::{Check, DoctorOptions, DoctorReport, Outcome, doctor};
pub use error::{CertgenError, ForeignCrlReason};
pub use fsio::{PUBLIC_MODE, SECRET_MODE, write_public_file, write_secret_file};
pub use inspect::{CertInfo, CrlInfo, Inspected, RevokedEntry, inspect_file};
pub use key_type::KeyType;
pub use node_id::{MAX_NODE_ID_LEN, NodeIdError, validate_node_id};
pub use ops::{InitOptions, InitReport, IssueOptions, IssuedFiles, init, issue};
pub use remote::{SignOptions, record_installed, sign_request};
pub use renew::{LeftAlone, RenewOptions, RenewReport, Renewed, renew};
pub use state::{DEFAULT_CRL_DAYS, STATE_FILE};
