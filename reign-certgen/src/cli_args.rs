//! The command line: clap definitions of every subcommand, its flags, help and examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reign_certgen as cg;

const ABOUT: &str = "Cluster CA and node certificates for reign";

const LONG_ABOUT: &str = "\
Cluster CA and node certificates for reign.

A reign cluster trusts one CA. `init` makes it, `issue` gives each node a certificate whose
Common Name is its node ID, `revoke` and `crl` publish revocations, `inspect` shows what a
file holds, `doctor` checks a node's files with the node's own acceptance policy, and `renew`
reissues certificates before they expire.

A node needs only ca.pem, its own <id>.pem and <id>.key, and crl.pem if it exists.
ca.key is needed only to issue, revoke and renew: keep it off the nodes.";

const EXAMPLES: &str = "\
Example: a three-node cluster
  reign-certgen init --dir pki --name prod
  reign-certgen issue --dir pki a b c
  reign-certgen doctor --ca pki/ca.pem --cert pki/a.pem --key pki/a.key --node-id a

Exit codes: 0 success, 1 a check or operation failed, 2 bad usage.";

#[derive(Parser)]
#[command(name = "reign-certgen", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Create the cluster CA: DIR/ca.pem and DIR/ca.key (mode 0600).
    #[command(
        long_about = "Create the cluster CA: a self-signed X.509 v3 CA certificate (CN = the cluster name, \
basicConstraints CA:TRUE, keyUsage keyCertSign + cRLSign) in DIR/ca.pem and its private key in \
DIR/ca.key (PKCS#8, mode 0600). Existing files are never replaced without --force.",
        after_help = "Example:\n  reign-certgen init --dir pki --name prod --key-type p384"
    )]
    Init(InitArgs),
    /// Issue node certificates: OUT/<id>.pem and OUT/<id>.key for each node ID.
    #[command(
        long_about = "Issue a certificate and a new private key for each node ID, signed by the CA in DIR. \
The certificate's Common Name and first DNS subjectAltName are the node ID; keyUsage is \
digitalSignature and extendedKeyUsage serverAuth + clientAuth, so the node can both accept \
and dial. A node ID is 1 to 63 characters of A-Z a-z 0-9 . _ -, not starting with . or -.",
        after_help = "Examples:\n  reign-certgen issue --dir pki a b c\n  reign-certgen issue --dir pki --out /etc/reign --san 10.0.0.5 --san a.internal a"
    )]
    Issue(IssueArgs),
    /// Revoke a node's certificates (or one serial) and write DIR/crl.pem.
    #[command(
        long_about = "Revoke every live certificate issued to NODE_ID (or the one with --serial), record it \
in DIR/certgen-state.json and write a new DIR/crl.pem with a higher CRL number. Copy crl.pem \
to every node.",
        after_help = "Examples:\n  reign-certgen revoke --dir pki b --reason keyCompromise\n  reign-certgen revoke --dir pki --serial 5f3a...e1 --reason superseded"
    )]
    Revoke(RevokeArgs),
    /// Re-sign DIR/crl.pem with a fresh nextUpdate.
    #[command(
        long_about = "Re-sign the CRL of DIR with the current revocations, a new CRL number and nextUpdate \
DAYS from now (default: the last value given, initially 30). Run it before nextUpdate passes.",
        after_help = "Example:\n  reign-certgen crl --dir pki --days 7"
    )]
    Crl(CrlArgs),
    /// Show what certificates and CRLs hold.
    #[command(
        long_about = "Print, for each certificate: version, subject, issuer, serial, key type and size, \
signature algorithm, validity and days left, SHA-256 fingerprint, keyUsage, extendedKeyUsage, \
subjectAltNames, CA or not. For a CRL: issuer, number, this/next update, revoked serials.",
        after_help = "Examples:\n  reign-certgen inspect pki/a.pem\n  reign-certgen inspect pki/ca.pem pki/crl.pem --json"
    )]
    Inspect(InspectArgs),
    /// Check a node's files the way a TLS handshake would.
    #[command(
        long_about = "Check a node's files and print one PASS or FAIL line per check with the precise reason: \
the files parse; the certificate is X.509 v3; it chains to a CA in the bundle; the key matches \
the certificate; keyUsage and both extended key usages are present; the CN is a valid node ID \
(equal to --node-id when given); the validity window holds now; the CRL of its CA does not \
revoke it. Whether the certificate passes is decided by the very checks a node makes of a \
peer (reign-tls): only the leaf is looked up in the CRL, and a certificate whose CA published \
no CRL is accepted (as during a CA rotation). The subjectAltName is only described: reign \
matches the CN. Exits 1 if any check fails.",
        after_help = "Example:\n  reign-certgen doctor --ca pki/ca.pem --cert pki/a.pem --key pki/a.key --crl pki/crl.pem --node-id a"
    )]
    Doctor(DoctorArgs),
    /// Reissue (with new keys) the named nodes, or all that expire soon.
    #[command(
        long_about = "Reissue, with new keys, each named node, or every node certificate in OUT that expires \
within DAYS (default 30). Extra subjectAltNames, key type and lifetime of the old certificate \
are kept. Says what it renewed and what it left alone.",
        after_help = "Examples:\n  reign-certgen renew --dir pki --within 45\n  reign-certgen renew --dir pki b"
    )]
    Renew(RenewArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KeyTypeArg {
    P256,
    P384,
    Ed25519,
}

impl From<KeyTypeArg> for cg::KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::P256 => Self::P256,
            KeyTypeArg::P384 => Self::P384,
            KeyTypeArg::Ed25519 => Self::Ed25519,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ReasonArg {
    #[value(name = "unspecified")]
    Unspecified,
    #[value(name = "keyCompromise")]
    KeyCompromise,
    #[value(name = "cACompromise")]
    CaCompromise,
    #[value(name = "affiliationChanged")]
    AffiliationChanged,
    #[value(name = "superseded")]
    Superseded,
    #[value(name = "cessationOfOperation")]
    CessationOfOperation,
    #[value(name = "certificateHold")]
    CertificateHold,
    #[value(name = "privilegeWithdrawn")]
    PrivilegeWithdrawn,
    #[value(name = "aACompromise")]
    AaCompromise,
}

impl From<ReasonArg> for cg::RevocationReason {
    fn from(r: ReasonArg) -> Self {
        match r {
            ReasonArg::Unspecified => Self::Unspecified,
            ReasonArg::KeyCompromise => Self::KeyCompromise,
            ReasonArg::CaCompromise => Self::CaCompromise,
            ReasonArg::AffiliationChanged => Self::AffiliationChanged,
            ReasonArg::Superseded => Self::Superseded,
            ReasonArg::CessationOfOperation => Self::CessationOfOperation,
            ReasonArg::CertificateHold => Self::CertificateHold,
            ReasonArg::PrivilegeWithdrawn => Self::PrivilegeWithdrawn,
            ReasonArg::AaCompromise => Self::AaCompromise,
        }
    }
}

#[derive(Args)]
pub(crate) struct InitArgs {
    /// Folder for ca.pem and ca.key (created if missing).
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Cluster name, the CA's Common Name.
    #[arg(long, default_value = "reign")]
    pub(crate) name: String,
    /// CA validity in days.
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) days: u32,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "p256")]
    pub(crate) key_type: KeyTypeArg,
    /// Replace an existing CA (every certificate it issued stops being trusted).
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Args)]
pub(crate) struct IssueArgs {
    /// Folder holding ca.pem and ca.key.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Folder for <id>.pem and <id>.key (default: DIR).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Validity in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) days: u32,
    /// Key algorithm of the node keys.
    #[arg(long, value_enum, default_value = "p256")]
    pub(crate) key_type: KeyTypeArg,
    /// Extra subjectAltName (DNS name or IP address) for every node issued; repeatable.
    #[arg(long = "san", value_name = "NAME_OR_IP")]
    pub(crate) sans: Vec<String>,
    /// Overwrite existing <id>.pem / <id>.key.
    #[arg(long)]
    pub(crate) force: bool,
    /// Node IDs to issue.
    #[arg(value_name = "NODE_ID", required = true)]
    pub(crate) node_ids: Vec<String>,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["node_id", "serial"])))]
pub(crate) struct RevokeArgs {
    /// Folder holding the CA.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Revoke every live certificate of this node.
    #[arg(value_name = "NODE_ID")]
    pub(crate) node_id: Option<String>,
    /// Revoke the certificate with this serial (hex).
    #[arg(long, value_name = "HEX")]
    pub(crate) serial: Option<String>,
    /// Revocation reason.
    #[arg(long, value_enum, default_value = "unspecified")]
    pub(crate) reason: ReasonArg,
}

#[derive(Args)]
pub(crate) struct CrlArgs {
    /// Folder holding the CA.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Days until nextUpdate (default: the last value given, initially 30).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) days: Option<u32>,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// Certificate or CRL files (PEM, or DER).
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct DoctorArgs {
    /// CA bundle (root, and intermediates if any).
    #[arg(long, value_name = "CA.pem")]
    pub(crate) ca: PathBuf,
    /// The node certificate.
    #[arg(long, value_name = "NODE.pem")]
    pub(crate) cert: PathBuf,
    /// The node's private key.
    #[arg(long, value_name = "NODE.key")]
    pub(crate) key: PathBuf,
    /// The cluster's CRL.
    #[arg(long, value_name = "CRL.pem")]
    pub(crate) crl: Option<PathBuf>,
    /// The node ID the certificate must carry.
    #[arg(long, value_name = "ID")]
    pub(crate) node_id: Option<String>,
}

#[derive(Args)]
pub(crate) struct RenewArgs {
    /// Folder holding the CA.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Folder holding the node files (default: DIR).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Renew every node whose certificate expires within this many days (when no NODE_ID).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub(crate) within: u32,
    /// Validity of the new certificates (default: the old certificate's lifetime).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) days: Option<u32>,
    /// Key algorithm of the new keys (default: the old key's).
    #[arg(long, value_enum)]
    pub(crate) key_type: Option<KeyTypeArg>,
    /// Nodes to renew (default: all that expire within --within days).
    #[arg(value_name = "NODE_ID")]
    pub(crate) node_ids: Vec<String>,
}
