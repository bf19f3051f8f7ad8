//! `doctor`: every check a failed handshake would otherwise leave the operator to do by hand,
//! one verdict per check with the precise reason.
//!
//! Whether the certificate passes is decided by the node's own policy: reign-tls's
//! [`PeerCertificateVerifier`](reign_tls::PeerCertificateVerifier), the code a node runs on
//! every peer certificate (`policy.rs`, `revocation.rs`). Doctor adds what it reads from the files to explain
//! that verdict, and the checks a node makes of its own files when it starts.

mod identity;
mod policy;
mod revocation;
mod verdict;

use std::fmt;
use std::path::{Path, PathBuf};

use reign_tls::ratelimit::Escaped;
use reign_tls::{PeerCertificateVerifier, VerifierError};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::ca::CA_CERT_FILE;
use crate::crl::CRL_FILE;
use crate::inspect::cert_info;
use crate::material::{load_certs, load_crls, load_key};
use policy::Verdicts;

/// The files doctor looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorOptions {
    /// The CA bundle (`ca.pem`; intermediates may follow the root).
    pub ca: PathBuf,
    /// The node certificate (`<id>.pem`; intermediates may follow the leaf).
    pub cert: PathBuf,
    /// The node's private key (`<id>.key`).
    pub key: PathBuf,
    /// The CRL (`crl.pem`), if the cluster has one.
    pub crl: Option<PathBuf>,
    /// The node ID the certificate must carry as its Common Name, if known.
    pub node_id: Option<String>,
}

impl DoctorOptions {
    /// The usual files of `node_id` in a cluster folder: `dir/ca.pem`, `dir/<id>.pem`,
    /// `dir/<id>.key`, and `dir/crl.pem` if it exists.
    pub fn for_node(dir: &Path, node_id: &str) -> Self {
        let crl = dir.join(CRL_FILE);
        Self {
            ca: dir.join(CA_CERT_FILE),
            cert: dir.join(format!("{node_id}.pem")),
            key: dir.join(format!("{node_id}.key")),
            crl: crl.exists().then_some(crl),
            node_id: Some(node_id.to_owned()),
        }
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check holds; the text says what was seen.
    Pass(String),
    /// The check fails; the text says precisely why and, where it helps, what to do.
    Fail(String),
}

/// One check and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Short stable name: `ca-file`, `cert-file`, `key-file`, `crl-file`, `x509-version`,
    /// `chain`, `key-match`, `key-usage`, `extended-key-usage`, `node-id`,
    /// `subject-alt-name`, `validity`, `revocation`.
    pub name: &'static str,
    /// The verdict.
    pub outcome: Outcome,
}

impl Check {
    /// True if the check passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Pass(_))
    }
}

/// Every check doctor ran, in order. Checks that depend on a file that did not load are not
/// run (the file's own check already failed), nor are `chain` and `revocation` when a node
/// refuses the certificate before it gets to them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorReport {
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// True if every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(Check::passed)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed())
    }

    /// The check called `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    fn pass(&mut self, name: &'static str, msg: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome: Outcome::Pass(msg.into()),
        });
    }

    fn fail(&mut self, name: &'static str, msg: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome: Outcome::Fail(msg.into()),
        });
    }

    /// Fails the check called `name`, in place if it ran already.
    fn set_fail(&mut self, name: &'static str, msg: impl Into<String>) {
        match self.checks.iter_mut().find(|c| c.name == name) {
            Some(c) => c.outcome = Outcome::Fail(msg.into()),
            None => self.fail(name, msg),
        }
    }
}

impl fmt::Display for DoctorReport {
    /// One line per check: `PASS name: text` or `FAIL name: text`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.outcome {
                Outcome::Pass(m) => writeln!(f, "PASS {}: {m}", c.name)?,
                Outcome::Fail(m) => writeln!(f, "FAIL {}: {m}", c.name)?,
            }
        }
        Ok(())
    }
}

/// Runs every check on a node's files. Never panics and never fails as a whole: problems
/// are failed checks in the report.
///
/// The certificate passes exactly when a node accepts it from a peer: that verdict is
/// reign-tls's [`PeerCertificateVerifier`] on the same CA bundle and CRLs (leaf-only CRL
/// check; a certificate whose CA published no CRL is accepted, as during a CA rotation).
/// The other checks are the ones a node makes of its own files when it starts (they load,
/// the key matches, the CN is the node ID).
pub fn doctor(opts: &DoctorOptions) -> DoctorReport {
    let mut r = DoctorReport::default();
    let now = OffsetDateTime::now_utc();

    let bundle = load_file(&mut r, "ca-file", load_certs(&opts.ca), |certs| {
        describe_bundle(certs)
    });
    let chain_file = load_file(&mut r, "cert-file", load_certs(&opts.cert), |certs| {
        let extra = certs.len() - 1;
        let subject = subject_of(&certs[0]);
        if extra == 0 {
            format!("{} holds the certificate {subject}", opts.cert.display())
        } else {
            format!(
                "{} holds the certificate {subject} and {extra} more certificate(s) of its chain",
                opts.cert.display()
            )
        }
    });
    let key = load_file(
        &mut r,
        "key-file",
        load_key(&opts.key).and_then(|k| supported_key(&opts.key, k)),
        |_| format!("{} holds a private key", opts.key.display()),
    );
    let mut crls = opts.crl.as_ref().and_then(|p| {
        load_file(&mut r, "crl-file", load_crls(p), |c| match c.len() {
            1 => format!("{} holds a CRL", p.display()),
            n => format!("{} holds {n} CRLs", p.display()),
        })
    });
    let verifier = bundle
        .as_ref()
        .and_then(|b| node_verifier(&mut r, b, &mut crls, opts));

    let Some(chain_file) = chain_file else {
        return r;
    };
    let leaf = &chain_file[0];
    let Ok((_, x509)) = x509_parser::parse_x509_certificate(leaf) else {
        // load_certs parsed it already; this cannot fail, but never panic.
        r.fail("cert-file", "the certificate does not parse");
        return r;
    };

    // The same bundle without the CRLs, to tell a CRL that breaks the chain.
    let without_crls = bundle
        .as_deref()
        .filter(|_| crls.as_ref().is_some_and(|c| !c.is_empty()))
        .and_then(|b| PeerCertificateVerifier::new(b, &[]).ok());
    let v = Verdicts::reach(
        verifier.as_ref(),
        without_crls.as_ref(),
        leaf,
        &chain_file[1..],
        &x509,
        now,
    );
    policy::check_version(&mut r, &v, &x509, &opts.cert);
    if let Some(b) = &bundle {
        let subjects: Vec<String> = b.iter().map(subject_of).collect();
        let crl = opts.crl.as_deref();
        policy::check_chain(&mut r, &v, &x509, &subjects.join(", "), &opts.ca, crl);
    }
    if let Some(k) = &key {
        identity::check_key_match(&mut r, k, &x509, opts);
    }
    policy::check_key_usage(&mut r, &v, &x509);
    identity::check_node_id(&mut r, &x509, opts.node_id.as_deref());
    policy::check_validity(&mut r, &v, &x509, now);
    let crl = opts.crl.as_deref().map(|p| (p, crls.as_deref()));
    revocation::check_revocation(&mut r, &v, &x509, crl, now);
    policy::never_pass_a_refusal(&mut r, &v, &x509);
    r
}

/// The verifier a node builds from these files. A bundle a node cannot load fails
/// `ca-file` (no verifier); CRLs it cannot load fail `crl-file` (and are left out).
fn node_verifier(
    r: &mut DoctorReport,
    bundle: &[CertificateDer<'static>],
    crls: &mut Option<Vec<CertificateRevocationListDer<'static>>>,
    opts: &DoctorOptions,
) -> Option<PeerCertificateVerifier> {
    match PeerCertificateVerifier::new(bundle, crls.as_deref().unwrap_or_default()) {
        Ok(v) => Some(v),
        Err(VerifierError::Crl { index, source }) => {
            let path = opts.crl.as_deref().unwrap_or(Path::new("?"));
            r.set_fail(
                "crl-file",
                format!(
                    "{}: CRL {} is refused by a node ({source}), which then does not start",
                    path.display(),
                    index + 1
                ),
            );
            *crls = None;
            PeerCertificateVerifier::new(bundle, &[]).ok()
        }
        Err(e) => {
            r.set_fail(
                "ca-file",
                format!(
                    "{}: {e}; a node does not start with this bundle",
                    opts.ca.display()
                ),
            );
            None
        }
    }
}

/// Records a file check and hands back its content when it loaded.
fn load_file<T>(
    r: &mut DoctorReport,
    name: &'static str,
    loaded: Result<T, crate::CertgenError>,
    describe: impl FnOnce(&T) -> String,
) -> Option<T> {
    match loaded {
        Ok(v) => {
            r.pass(name, describe(&v));
            Some(v)
        }
        Err(e) => {
            r.fail(name, e.to_string());
            None
        }
    }
}

fn supported_key(
    path: &Path,
    key: PrivateKeyDer<'static>,
) -> Result<PrivateKeyDer<'static>, crate::CertgenError> {
    match rustls::crypto::aws_lc_rs::sign::any_supported_type(&key) {
        Ok(_) => Ok(key),
        Err(e) => Err(crate::CertgenError::BadKey {
            path: path.to_owned(),
            reason: format!("rustls cannot use it ({e})"),
        }),
    }
}

fn describe_bundle(certs: &[CertificateDer<'static>]) -> String {
    let names: Vec<String> = certs
        .iter()
        .map(|c| match cert_info(c) {
            Ok(i) if i.is_ca => format!("{:?} (CA)", Escaped(&i.subject)),
            Ok(i) => format!("{:?} (not a CA)", Escaped(&i.subject)),
            Err(_) => "<unparsable>".into(),
        })
        .collect();
    format!("{} certificate(s): {}", certs.len(), names.join(", "))
}

/// The subject of a certificate, escaped (it is the certificate's text) and quoted.
fn subject_of(der: &CertificateDer<'_>) -> String {
    let subject = x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default();
    format!("{:?}", Escaped(&subject))
}
