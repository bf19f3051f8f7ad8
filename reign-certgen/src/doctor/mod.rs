//! `doctor`: every check a failed handshake would otherwise leave the operator to do by hand,
//! one verdict per check with the precise reason.

mod chain;

use std::fmt;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;

use crate::ca::{CA_CERT_FILE, serial_hex};
use crate::crl::CRL_FILE;
use crate::inspect::{cert_info, format_time, general_name};
use crate::material::{load_certs, load_crl, load_key};
use crate::node_id::validate_node_id;
use chain::{ChainInput, explain, verify};

/// Certificates with fewer days left than this get a "renew soon" note.
const RENEW_SOON_DAYS: i64 = 30;

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
/// run (the file's own check already failed).
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
    let crl = match &opts.crl {
        Some(p) => load_file(&mut r, "crl-file", load_crl(p), |_| {
            format!("{} holds a CRL", p.display())
        }),
        None => None,
    };

    let Some(chain_file) = chain_file else {
        return r;
    };
    let leaf = &chain_file[0];
    let Ok((_, x509)) = x509_parser::parse_x509_certificate(leaf) else {
        // load_certs parsed it already; this cannot fail, but never panic.
        r.fail("cert-file", "the certificate does not parse");
        return r;
    };

    check_version(&mut r, &x509, &opts.cert);
    let chain_time = bundle
        .as_ref()
        .map(|b| check_chain(&mut r, leaf, b, &chain_file[1..], &x509, now, &opts.ca));
    if let Some(k) = &key {
        check_key_match(&mut r, k, &x509, opts);
    }
    check_key_usage(&mut r, &x509);
    check_node_id(&mut r, &x509, opts.node_id.as_deref());
    check_validity(&mut r, &x509, now);
    match (&opts.crl, crl) {
        (None, _) => r.pass("revocation", "not checked: no CRL given (--crl crl.pem)"),
        (Some(_), None) => {}
        (Some(path), Some(crl)) => {
            let input = bundle.as_ref().map(|b| ChainInput {
                leaf,
                bundle: b,
                extra: &chain_file[1..],
            });
            check_revocation(&mut r, &x509, &crl, path, input, chain_time.flatten(), now);
        }
    }
    r
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
            Ok(i) if i.is_ca => format!("{} (CA)", i.subject),
            Ok(i) => format!("{} (not a CA)", i.subject),
            Err(_) => "<unparsable>".into(),
        })
        .collect();
    format!("{} certificate(s): {}", certs.len(), names.join(", "))
}

fn subject_of(der: &CertificateDer<'_>) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default()
}

fn check_version(r: &mut DoctorReport, x509: &X509Certificate<'_>, path: &Path) {
    let version = x509.version().0 + 1;
    if version == 3 {
        r.pass("x509-version", "X.509 v3");
        return;
    }
    let cn = x509
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("NODE_ID");
    r.fail(
        "x509-version",
        format!(
            "{} is an X.509 v{version} certificate, which TLS libraries (rustls/webpki) refuse: only v3 certificates carry the extensions a node needs. \
             It was probably made with `openssl x509 -req` without `-extfile`. Reissue it with `reign-certgen issue --dir DIR --force {cn}`, \
             or with openssl add `-extfile v3.ext` where v3.ext holds: basicConstraints=CA:FALSE, keyUsage=critical,digitalSignature, \
             extendedKeyUsage=serverAuth,clientAuth, subjectAltName=DNS:{cn}",
            path.display()
        ),
    );
}

/// Returns the time the chain verified at (now, or inside the leaf's window when only the
/// leaf's dates are wrong), if it verified.
fn check_chain(
    r: &mut DoctorReport,
    leaf: &CertificateDer<'static>,
    bundle: &[CertificateDer<'static>],
    extra: &[CertificateDer<'static>],
    x509: &X509Certificate<'_>,
    now: OffsetDateTime,
    ca_path: &Path,
) -> Option<OffsetDateTime> {
    let input = ChainInput {
        leaf,
        bundle,
        extra,
    };
    let subjects: Vec<String> = bundle
        .iter()
        .map(|c| format!("\"{}\"", subject_of(c)))
        .collect();
    let subjects = subjects.join(", ");
    let issuer = x509.issuer().to_string();
    let nb = x509.validity().not_before.to_datetime();
    let na = x509.validity().not_after.to_datetime();
    let mut at = now;
    let mut result = verify(&input, now, None);
    // Dates have their own check; look at the chain inside the leaf's own window.
    if matches!(
        result,
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })
    ) && (now < nb || now > na)
    {
        at = nb + (na - nb) / 2;
        result = verify(&input, at, None);
    }
    match result {
        Ok(()) => {
            let when = if at == now {
                String::new()
            } else {
                format!(
                    " (checked at {}, inside the certificate's validity window)",
                    format_time(at)
                )
            };
            r.pass(
                "chain",
                format!(
                    "chains to {} in {}{when}",
                    issuer_label(&issuer),
                    ca_path.display()
                ),
            );
            Some(at)
        }
        Err(e) => {
            r.fail("chain", explain(&e, &issuer, &subjects));
            None
        }
    }
}

fn issuer_label(issuer: &str) -> String {
    format!("\"{issuer}\"")
}

fn check_key_match(
    r: &mut DoctorReport,
    key: &PrivateKeyDer<'static>,
    x509: &X509Certificate<'_>,
    opts: &DoctorOptions,
) {
    let spki = rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
        .ok()
        .and_then(|k| k.public_key().map(|s| s.as_ref().to_vec()));
    match spki {
        Some(spki) if spki == x509.public_key().raw => r.pass(
            "key-match",
            "the private key matches the certificate's public key",
        ),
        Some(_) => r.fail(
            "key-match",
            format!(
                "{} does not belong to {}: their public keys differ (the key of another node, or of an older certificate?)",
                opts.key.display(),
                opts.cert.display()
            ),
        ),
        None => r.fail(
            "key-match",
            "cannot derive a public key from the private key to compare",
        ),
    }
}

fn check_key_usage(r: &mut DoctorReport, x509: &X509Certificate<'_>) {
    match x509.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {
            r.pass("key-usage", "keyUsage has digitalSignature")
        }
        Ok(Some(_)) => r.fail(
            "key-usage",
            "keyUsage lacks digitalSignature, which a TLS 1.3 key needs to sign the handshake; reissue the certificate",
        ),
        Ok(None) => r.fail(
            "key-usage",
            "no keyUsage extension; a node certificate needs keyUsage=critical,digitalSignature; reissue the certificate",
        ),
        Err(e) => r.fail("key-usage", format!("the keyUsage extension is malformed ({e})")),
    }
    match x509.extended_key_usage() {
        Ok(Some(eku)) => {
            let e = eku.value;
            let missing: Vec<&str> = [(e.server_auth, "serverAuth"), (e.client_auth, "clientAuth")]
                .into_iter()
                .filter(|(has, _)| !has)
                .map(|(_, n)| n)
                .collect();
            if missing.is_empty() {
                r.pass(
                    "extended-key-usage",
                    "extendedKeyUsage has serverAuth and clientAuth",
                );
            } else {
                r.fail(
                    "extended-key-usage",
                    format!(
                        "extendedKeyUsage lacks {}; either side of a pair may dial, so a node needs both serverAuth and clientAuth; reissue the certificate",
                        missing.join(" and ")
                    ),
                );
            }
        }
        Ok(None) => r.fail(
            "extended-key-usage",
            "no extendedKeyUsage extension; a node certificate needs extendedKeyUsage=serverAuth,clientAuth; reissue the certificate",
        ),
        Err(e) => r.fail(
            "extended-key-usage",
            format!("the extendedKeyUsage extension is malformed ({e})"),
        ),
    }
}

fn check_node_id(r: &mut DoctorReport, x509: &X509Certificate<'_>, expected: Option<&str>) {
    let cns: Vec<_> = x509.subject().iter_common_name().collect();
    let cn = match cns.as_slice() {
        [] => {
            r.fail(
                "node-id",
                format!(
                    "the subject \"{}\" has no Common Name; the CN must be the node ID",
                    x509.subject()
                ),
            );
            return;
        }
        [one] => match one.as_str() {
            Ok(s) => s.to_owned(),
            Err(_) => {
                r.fail("node-id", "the Common Name is not readable text");
                return;
            }
        },
        _ => {
            r.fail(
                "node-id",
                "the subject has more than one Common Name; it must have exactly one, the node ID",
            );
            return;
        }
    };
    if let Err(e) = validate_node_id(&cn) {
        r.fail(
            "node-id",
            format!("the Common Name is not a valid node ID: {e}"),
        );
        return;
    }
    match expected {
        Some(want) if want != cn => r.fail(
            "node-id",
            format!("the Common Name is \"{cn}\" but the node ID is \"{want}\"; peers would refuse this node's claim"),
        ),
        Some(_) => r.pass("node-id", format!("CN \"{cn}\" is a valid node ID and equals --node-id")),
        None => r.pass("node-id", format!("CN \"{cn}\" is a valid node ID")),
    }
    check_san(r, x509, &cn);
}

/// reign matches the subject CN, never a SAN name, so a certificate without `DNS:<cn>` (as
/// openssl makes them unless told otherwise) works; only a malformed extension is wrong.
fn check_san(r: &mut DoctorReport, x509: &X509Certificate<'_>, cn: &str) {
    let sans: Vec<String> = match x509.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().map(general_name).collect(),
        Ok(None) => Vec::new(),
        Err(e) => {
            r.fail(
                "subject-alt-name",
                format!(
                    "the subjectAltName extension is malformed ({e}); TLS libraries may refuse the certificate; reissue it"
                ),
            );
            return;
        }
    };
    let want = format!("DNS:{cn}");
    if sans.contains(&want) {
        r.pass("subject-alt-name", format!("subjectAltName has {want}"));
    } else {
        r.pass(
            "subject-alt-name",
            format!(
                "no {want} subjectAltName (has: {}); reign matches the CN, other TLS clients may want it",
                if sans.is_empty() {
                    "none".to_owned()
                } else {
                    sans.join(", ")
                }
            ),
        );
    }
}

fn check_validity(r: &mut DoctorReport, x509: &X509Certificate<'_>, now: OffsetDateTime) {
    let nb = x509.validity().not_before.to_datetime();
    let na = x509.validity().not_after.to_datetime();
    if now < nb {
        let wait = nb - now;
        r.fail(
            "validity",
            format!(
                "not valid yet: it starts at {} (in {}); is this machine's clock or the issuer's wrong?",
                format_time(nb),
                span(wait)
            ),
        );
    } else if now > na {
        r.fail(
            "validity",
            format!(
                "expired at {} ({} ago); renew it with `reign-certgen renew --dir DIR NODE_ID`",
                format_time(na),
                span(now - na)
            ),
        );
    } else {
        let left = (na - now).whole_days();
        let soon = if left < RENEW_SOON_DAYS {
            "; renew soon with `reign-certgen renew`"
        } else {
            ""
        };
        r.pass(
            "validity",
            format!(
                "valid from {} until {}: {left} day(s) left{soon}",
                format_time(nb),
                format_time(na)
            ),
        );
    }
}

fn span(d: Duration) -> String {
    if d.whole_days() >= 1 {
        format!("{} day(s)", d.whole_days())
    } else if d.whole_hours() >= 1 {
        format!("{} hour(s)", d.whole_hours())
    } else {
        format!("{} minute(s)", d.whole_minutes().max(1))
    }
}

fn check_revocation(
    r: &mut DoctorReport,
    x509: &X509Certificate<'_>,
    crl: &CertificateRevocationListDer<'static>,
    crl_path: &Path,
    input: Option<ChainInput<'_>>,
    chain_time: Option<OffsetDateTime>,
    now: OffsetDateTime,
) {
    let Ok((_, parsed)) = x509_parser::parse_x509_crl(crl) else {
        r.fail(
            "revocation",
            format!("{}: the CRL does not parse", crl_path.display()),
        );
        return;
    };
    let serial = serial_hex(x509.raw_serial());
    let entry = parsed
        .iter_revoked_certificates()
        .find(|e| serial_hex(e.raw_serial()) == serial);
    let stale = match parsed.next_update() {
        Some(t) if t.to_datetime() < now => format!(
            "; note: the CRL's nextUpdate {} has passed, publish a fresh one with `reign-certgen crl`",
            format_time(t.to_datetime())
        ),
        _ => String::new(),
    };
    if let Some(e) = entry {
        let reason = e
            .reason_code()
            .map(|(_, c)| format!(", reason {}", crate::inspect::reason_name(c.0)))
            .unwrap_or_default();
        r.fail(
            "revocation",
            format!(
                "revoked: serial {serial} is listed in {} (revoked at {}{reason}); issue a new certificate",
                crl_path.display(),
                format_time(e.revocation_date.to_datetime())
            ),
        );
        return;
    }
    // Not listed; let webpki confirm the CRL applies (issuer and signature), as TLS would.
    if let (Some(input), Some(at)) = (input, chain_time) {
        if let Err(e) = verify(&input, at, Some(crl)) {
            r.fail(
                "revocation",
                format!("{}: {}", crl_path.display(), explain(&e, "", "")),
            );
            return;
        }
        r.pass(
            "revocation",
            format!(
                "serial {serial} is not revoked by {}{stale}",
                crl_path.display()
            ),
        );
    } else {
        r.pass(
            "revocation",
            format!(
                "serial {serial} is not listed in {} (its signature was not checked: the chain did not verify){stale}",
                crl_path.display()
            ),
        );
    }
}
