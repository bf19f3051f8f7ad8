//! The `reign-certgen` command-line tool: a thin layer over the `reign_certgen` library.
//!
//! Exit codes: 0 success, 1 a check or operation failed, 2 bad usage.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reign_certgen as cg;
use reign_certgen::{CertgenError, Inspected};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ABOUT: &str = "Cluster CA and node certificates for reign";

const LONG_ABOUT: &str = "\
Cluster CA and node certificates for reign.

A reign cluster trusts one CA. `init` makes it, `issue` gives each node a certificate whose
Common Name is its node ID, `revoke` and `crl` publish revocations, `inspect` shows what a
file holds, `doctor` checks a node's files the way a TLS handshake would, and `renew`
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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
(equal to --node-id when given) and a DNS subjectAltName; the validity window holds now; the \
CRL does not revoke it. Exits 1 if any check fails.",
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
enum KeyTypeArg {
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
enum ReasonArg {
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
struct InitArgs {
    /// Folder for ca.pem and ca.key (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Cluster name, the CA's Common Name.
    #[arg(long, default_value = "reign")]
    name: String,
    /// CA validity in days.
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "p256")]
    key_type: KeyTypeArg,
    /// Replace an existing CA (every certificate it issued stops being trusted).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct IssueArgs {
    /// Folder holding ca.pem and ca.key.
    #[arg(long)]
    dir: PathBuf,
    /// Folder for <id>.pem and <id>.key (default: DIR).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Validity in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// Key algorithm of the node keys.
    #[arg(long, value_enum, default_value = "p256")]
    key_type: KeyTypeArg,
    /// Extra subjectAltName (DNS name or IP address) for every node issued; repeatable.
    #[arg(long = "san", value_name = "NAME_OR_IP")]
    sans: Vec<String>,
    /// Overwrite existing <id>.pem / <id>.key.
    #[arg(long)]
    force: bool,
    /// Node IDs to issue.
    #[arg(value_name = "NODE_ID", required = true)]
    node_ids: Vec<String>,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["node_id", "serial"])))]
struct RevokeArgs {
    /// Folder holding the CA.
    #[arg(long)]
    dir: PathBuf,
    /// Revoke every live certificate of this node.
    #[arg(value_name = "NODE_ID")]
    node_id: Option<String>,
    /// Revoke the certificate with this serial (hex).
    #[arg(long, value_name = "HEX")]
    serial: Option<String>,
    /// Revocation reason.
    #[arg(long, value_enum, default_value = "unspecified")]
    reason: ReasonArg,
}

#[derive(Args)]
struct CrlArgs {
    /// Folder holding the CA.
    #[arg(long)]
    dir: PathBuf,
    /// Days until nextUpdate (default: the last value given, initially 30).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    days: Option<u32>,
}

#[derive(Args)]
struct InspectArgs {
    /// Certificate or CRL files (PEM, or DER).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DoctorArgs {
    /// CA bundle (root, and intermediates if any).
    #[arg(long, value_name = "CA.pem")]
    ca: PathBuf,
    /// The node certificate.
    #[arg(long, value_name = "NODE.pem")]
    cert: PathBuf,
    /// The node's private key.
    #[arg(long, value_name = "NODE.key")]
    key: PathBuf,
    /// The cluster's CRL.
    #[arg(long, value_name = "CRL.pem")]
    crl: Option<PathBuf>,
    /// The node ID the certificate must carry.
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
}

#[derive(Args)]
struct RenewArgs {
    /// Folder holding the CA.
    #[arg(long)]
    dir: PathBuf,
    /// Folder holding the node files (default: DIR).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Renew every node whose certificate expires within this many days (when no NODE_ID).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    within: u32,
    /// Validity of the new certificates (default: the old certificate's lifetime).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    days: Option<u32>,
    /// Key algorithm of the new keys (default: the old key's).
    #[arg(long, value_enum)]
    key_type: Option<KeyTypeArg>,
    /// Nodes to renew (default: all that expire within --within days).
    #[arg(value_name = "NODE_ID")]
    node_ids: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = String::new();
    let result = match cli.command {
        Command::Init(a) => init(a, &mut out),
        Command::Issue(a) => issue(a, &mut out),
        Command::Revoke(a) => revoke(a, &mut out),
        Command::Crl(a) => crl(a, &mut out),
        Command::Inspect(a) => inspect(a, &mut out),
        Command::Doctor(a) => doctor(a, &mut out),
        Command::Renew(a) => renew(a, &mut out),
    };
    // A closed stdout (e.g. `| head`) is not worth a panic or an error.
    let _ = std::io::stdout().write_all(out.as_bytes());
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reign-certgen: error: {}", one_line(&e.to_string()));
            if e.is_usage() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

type Outcome = Result<ExitCode, CertgenError>;

fn init(a: InitArgs, out: &mut String) -> Outcome {
    let r = cg::init(
        &a.dir,
        &cg::InitOptions {
            cluster_name: a.name,
            days: a.days,
            key_type: a.key_type.into(),
            force: a.force,
        },
    )?;
    let _ = writeln!(
        out,
        "created CA \"{}\" ({}, valid until {})",
        r.subject,
        r.key_type,
        date(r.not_after)
    );
    let _ = writeln!(
        out,
        "  wrote {}  (give it to every node)",
        r.cert_path.display()
    );
    let _ = writeln!(
        out,
        "  wrote {}  (mode 0600; the CA's secret: keep it off the nodes)",
        r.key_path.display()
    );
    if let Some(p) = r.removed_old_crl {
        let _ = writeln!(
            out,
            "  removed {} (it was signed by the replaced CA)",
            p.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn issue(a: IssueArgs, out: &mut String) -> Outcome {
    let ids: Vec<&str> = a.node_ids.iter().map(String::as_str).collect();
    let written = cg::issue(
        &a.dir,
        &ids,
        &cg::IssueOptions {
            out: a.out,
            days: a.days,
            key_type: a.key_type.into(),
            sans: a.sans,
            force: a.force,
        },
    )?;
    for f in &written {
        let _ = writeln!(
            out,
            "issued {}: {} and {} (serial {}, valid until {})",
            f.node_id,
            f.cert_path.display(),
            f.key_path.display(),
            f.serial_hex,
            date(f.not_after)
        );
    }
    let _ = writeln!(
        out,
        "each node needs ca.pem, its own <id>.pem and <id>.key, and crl.pem if one exists; never ca.key"
    );
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: RevokeArgs, out: &mut String) -> Outcome {
    let target = match (a.node_id, a.serial) {
        (Some(id), None) => cg::RevokeTarget::Node(id),
        (None, Some(s)) => cg::RevokeTarget::Serial(s),
        _ => {
            return Err(CertgenError::InvalidArgument(
                "give either NODE_ID or --serial HEX".into(),
            ));
        }
    };
    let r = cg::revoke(&a.dir, target, a.reason.into())?;
    for (serial, node) in &r.revoked {
        match node {
            Some(n) => {
                let _ = writeln!(out, "revoked serial {serial} (node {n})");
            }
            None => {
                let _ = writeln!(out, "revoked serial {serial}");
            }
        }
    }
    for serial in &r.already_revoked {
        let _ = writeln!(out, "serial {serial} was already revoked");
    }
    crl_line(&r.crl, out);
    Ok(ExitCode::SUCCESS)
}

fn crl(a: CrlArgs, out: &mut String) -> Outcome {
    let r = cg::refresh_crl(&a.dir, a.days.unwrap_or(0))?;
    crl_line(&r, out);
    Ok(ExitCode::SUCCESS)
}

fn crl_line(r: &cg::CrlReport, out: &mut String) {
    let _ = writeln!(
        out,
        "wrote {}: CRL number {}, {} revoked serial(s), next update {}; copy it to every node",
        r.path.display(),
        r.number,
        r.revoked_count,
        time(r.next_update)
    );
}

fn inspect(a: InspectArgs, out: &mut String) -> Outcome {
    let mut failed = None;
    let mut json = Vec::new();
    for file in &a.files {
        match cg::inspect_file(file) {
            Ok(items) => {
                for item in items {
                    if a.json {
                        let mut v = serde_json::to_value(&item).unwrap_or_default();
                        if let Some(obj) = v.as_object_mut() {
                            obj.insert("file".into(), file.display().to_string().into());
                        }
                        json.push(v);
                    } else {
                        let _ = writeln!(out, "{}:", file.display());
                        describe(&item, out);
                    }
                }
            }
            Err(e) if a.files.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("reign-certgen: error: {}", one_line(&e.to_string()));
                failed = Some(e);
            }
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        let _ = writeln!(out, "{text}");
    }
    Ok(if failed.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn describe(item: &Inspected, out: &mut String) {
    match item {
        Inspected::Certificate(c) => {
            let rows = [
                (
                    "kind",
                    if c.is_ca {
                        "CA certificate".into()
                    } else {
                        "certificate".into()
                    },
                ),
                ("version", format!("X.509 v{}", c.version)),
                ("subject", c.subject.clone()),
                ("issuer", c.issuer.clone()),
                ("serial", c.serial.clone()),
                ("key", format!("{} ({} bits)", c.key_type, c.key_bits)),
                ("signature", c.signature_algorithm.clone()),
                ("not before", time(c.not_before)),
                ("not after", time(c.not_after)),
                ("days left", c.days_left.to_string()),
                ("sha256", c.sha256_fingerprint.clone()),
                ("key usage", list(&c.key_usage)),
                ("ext key usage", list(&c.extended_key_usage)),
                ("alt names", list(&c.sans)),
                ("CA", if c.is_ca { "yes".into() } else { "no".into() }),
            ];
            for (k, v) in rows {
                let _ = writeln!(out, "  {k:<14} {v}");
            }
        }
        Inspected::Crl(c) => {
            let _ = writeln!(out, "  {:<14} CRL", "kind");
            let _ = writeln!(out, "  {:<14} {}", "issuer", c.issuer);
            let _ = writeln!(
                out,
                "  {:<14} {}",
                "number",
                c.number.as_deref().unwrap_or("(none)")
            );
            let _ = writeln!(out, "  {:<14} {}", "signature", c.signature_algorithm);
            let _ = writeln!(out, "  {:<14} {}", "this update", time(c.this_update));
            let next = c.next_update.map(time).unwrap_or_else(|| "(none)".into());
            let _ = writeln!(out, "  {:<14} {next}", "next update");
            let _ = writeln!(out, "  {:<14} {}", "revoked", c.revoked.len());
            for r in &c.revoked {
                let reason = r.reason.as_deref().unwrap_or("no reason given");
                let _ = writeln!(out, "    {} at {} ({reason})", r.serial, time(r.revoked_at));
            }
        }
        _ => {}
    }
}

fn doctor(a: DoctorArgs, out: &mut String) -> Outcome {
    let report = cg::doctor(&cg::DoctorOptions {
        ca: a.ca,
        cert: a.cert,
        key: a.key,
        crl: a.crl,
        node_id: a.node_id,
    });
    let _ = write!(out, "{report}");
    let failed = report.failures().count();
    if failed == 0 {
        let _ = writeln!(out, "all {} checks passed", report.checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        let _ = writeln!(out, "{failed} of {} checks failed", report.checks.len());
        Ok(ExitCode::from(1))
    }
}

fn renew(a: RenewArgs, out: &mut String) -> Outcome {
    let r = cg::renew(
        &a.dir,
        &cg::RenewOptions {
            out: a.out,
            node_ids: a.node_ids,
            within_days: a.within,
            days: a.days,
            key_type: a.key_type.map(Into::into),
        },
    )?;
    for n in &r.renewed {
        let f = &n.files;
        let _ = write!(
            out,
            "renewed {}: {} and {} (new serial {}, valid until {})",
            f.node_id,
            f.cert_path.display(),
            f.key_path.display(),
            f.serial_hex,
            date(f.not_after)
        );
        match &n.old_serial {
            Some(old) => {
                let _ = writeln!(
                    out,
                    "; the old serial {old} stays valid until it expires: once the node runs the new files, \
                     `reign-certgen revoke --dir {} --serial {old} --reason superseded`",
                    a.dir.display()
                );
            }
            None => {
                let _ = writeln!(out);
            }
        }
    }
    for l in &r.left_alone {
        let who = l
            .node_id
            .as_deref()
            .map(|n| format!("{n} ({})", l.path.display()));
        let _ = writeln!(
            out,
            "left alone {}: {}",
            who.unwrap_or_else(|| l.path.display().to_string()),
            l.reason
        );
    }
    if r.renewed.is_empty() {
        let _ = writeln!(out, "nothing to renew");
    }
    Ok(ExitCode::SUCCESS)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn date(t: OffsetDateTime) -> String {
    let s = time(t);
    s.split('T').next().unwrap_or(&s).to_owned()
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}
