//! Revocation: record revoked serials in the state file and publish `DIR/crl.pem`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::{Duration, OffsetDateTime};

use crate::ca::{normalize_serial, read_leaf, serial_bytes, serial_hex};
use crate::error::ForeignCrlReason;
use crate::fsio::write_public_file;
use crate::material::load_crl;
use crate::node_id::validate_node_id;
use crate::state::{Revoked, State};
use crate::{CertAuthority, CertgenError};

/// Name of the CRL in a cluster folder.
pub const CRL_FILE: &str = "crl.pem";

/// What to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// Every unrevoked, unexpired certificate issued to this node ID (from the state file and
    /// `DIR/<id>.pem`).
    Node(String),
    /// One certificate by serial number, in hex (`0a1b`, `0A:1B` and `0x0a1b` all work).
    Serial(String),
}

/// Why a certificate is revoked (RFC 5280 section 5.3.1); CLI names in camelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)] // the names are the RFC's
pub enum RevocationReason {
    #[default]
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    /// Every reason, in RFC order.
    pub const ALL: [RevocationReason; 9] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The RFC name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    fn to_rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            Self::Unspecified => R::Unspecified,
            Self::KeyCompromise => R::KeyCompromise,
            Self::CaCompromise => R::CaCompromise,
            Self::AffiliationChanged => R::AffiliationChanged,
            Self::Superseded => R::Superseded,
            Self::CessationOfOperation => R::CessationOfOperation,
            Self::CertificateHold => R::CertificateHold,
            Self::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
            Self::AaCompromise => R::AaCompromise,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = CertgenError;

    /// Parses the RFC name, case-insensitive (`keyCompromise`, `superseded`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|r| r.as_str()).collect();
                CertgenError::InvalidArgument(format!(
                    "unknown revocation reason {s:?}; use one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// What [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeReport {
    /// Serials revoked now (lowercase hex), with the node they belonged to when known.
    pub revoked: Vec<(String, Option<String>)>,
    /// Serials asked for that were already revoked.
    pub already_revoked: Vec<String>,
    /// The CRL written.
    pub crl: CrlReport,
}

/// What a CRL write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlReport {
    /// `DIR/crl.pem`.
    pub path: PathBuf,
    /// The CRL number (increases with every CRL written).
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate: publish a fresh CRL (`reign-certgen crl`) before this.
    pub next_update: OffsetDateTime,
    /// How many serials the CRL lists.
    pub revoked_count: usize,
}

/// Revokes `target` with `reason` using the CA in `dir`, records it in
/// `dir/certgen-state.json` and writes a new `dir/crl.pem`.
///
/// The new CRL keeps every entry of the `dir/crl.pem` it replaces, even when the state file
/// was lost or is older than the CRL: the existing CRL is read, its signature is checked
/// against this CA's key, and its entries are merged into the state. A `crl.pem` this CA
/// did not sign is refused ([`CertgenError::ForeignCrl`]) and nothing is written; an
/// unreadable one is refused with the reason it does not parse.
pub fn revoke(
    dir: &Path,
    target: RevokeTarget,
    reason: RevocationReason,
) -> Result<RevokeReport, CertgenError> {
    let ca = CertAuthority::load(dir)?;
    let mut state = State::load(dir)?;
    merge_published(dir, &ca, &mut state)?;
    let now = OffsetDateTime::now_utc();
    let serials: Vec<(String, Option<String>)> = match &target {
        RevokeTarget::Serial(s) => {
            let serial = normalize_serial(s)?;
            let node = state
                .issued
                .iter()
                .find(|i| i.serial == serial)
                .map(|i| i.node_id.clone());
            vec![(serial, node)]
        }
        RevokeTarget::Node(id) => {
            validate_node_id(id)?;
            node_serials(dir, &ca, &state, id, now)?
        }
    };
    let mut report = RevokeReport {
        revoked: Vec::new(),
        already_revoked: Vec::new(),
        crl: empty_crl_report(dir),
    };
    for (serial, node_id) in serials {
        if state.is_revoked(&serial) {
            report.already_revoked.push(serial);
            continue;
        }
        state.revoked.push(Revoked {
            serial: serial.clone(),
            node_id: node_id.clone(),
            revoked_at: now.unix_timestamp(),
            reason: reason.as_str().into(),
        });
        report.revoked.push((serial, node_id));
    }
    let days = state.crl_days;
    report.crl = write_crl(dir, &ca, &mut state, days)?;
    Ok(report)
}

/// Re-signs the CRL of `dir` with the current revocations, a new CRL number, thisUpdate now
/// and nextUpdate `days` from now. `days` is remembered for later `revoke`s; `0` means the
/// remembered value (initially [`DEFAULT_CRL_DAYS`](crate::DEFAULT_CRL_DAYS), 30). Like
/// [`revoke`], it keeps every entry of the existing `dir/crl.pem`.
pub fn refresh_crl(dir: &Path, days: u32) -> Result<CrlReport, CertgenError> {
    let ca = CertAuthority::load(dir)?;
    let mut state = State::load(dir)?;
    merge_published(dir, &ca, &mut state)?;
    if days > 0 {
        state.crl_days = days;
    }
    let days = state.crl_days.max(1);
    write_crl(dir, &ca, &mut state, days)
}

/// Serials to revoke for a node: every live certificate the state file knows, plus the one
/// in `DIR/<id>.pem` if it was issued by this CA.
fn node_serials(
    dir: &Path,
    ca: &CertAuthority,
    state: &State,
    id: &str,
    now: OffsetDateTime,
) -> Result<Vec<(String, Option<String>)>, CertgenError> {
    let mut serials: Vec<String> = state
        .issued
        .iter()
        .filter(|i| i.node_id == id && i.not_after > now.unix_timestamp())
        .map(|i| i.serial.clone())
        .collect();
    let file = dir.join(format!("{id}.pem"));
    if file.exists() {
        let der = read_leaf(&file)?;
        if let Ok((_, c)) = x509_parser::parse_x509_certificate(&der) {
            let ca_subject = x509_parser::parse_x509_certificate(ca.cert_der())
                .map(|(_, ca)| ca.subject().as_raw().to_vec())
                .unwrap_or_default();
            if c.issuer().as_raw() == ca_subject.as_slice() {
                serials.push(serial_hex(c.raw_serial()));
            }
        }
    }
    serials.dedup();
    let mut unique = Vec::new();
    for s in serials {
        if !unique.contains(&s) {
            unique.push(s);
        }
    }
    if unique.is_empty() {
        return Err(CertgenError::NotFound {
            path: dir.to_owned(),
            reason: format!(
                "no live certificate of node {id:?} in the issued record or in {id}.pem; revoke it with --serial HEX"
            ),
        });
    }
    Ok(unique
        .into_iter()
        .map(|s| (s, Some(id.to_owned())))
        .collect())
}

fn write_crl(
    dir: &Path,
    ca: &CertAuthority,
    state: &mut State,
    days: u32,
) -> Result<CrlReport, CertgenError> {
    crate::ca::check_days(days)?;
    let path = dir.join(crate::crl::CRL_FILE);
    // Never reuse a number, even if the state file was lost but the CRL survived.
    let previous = if path.exists() {
        load_crl(&path)
            .ok()
            .and_then(|der| crl_number_of(&der))
            .unwrap_or(0)
    } else {
        0
    };
    let number = state.crl_number.max(previous) + 1;
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let next_update = now + Duration::days(i64::from(days));
    let revoked_certs = state
        .revoked
        .iter()
        .map(|r| RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial_bytes(&r.serial)),
            revocation_time: OffsetDateTime::from_unix_timestamp(r.revoked_at).unwrap_or(now),
            reason_code: r
                .reason
                .parse::<RevocationReason>()
                .ok()
                .map(RevocationReason::to_rcgen),
            invalidity_date: None,
        })
        .collect::<Vec<_>>();
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: ski_method(ca),
    };
    let crl = params
        .signed_by(ca.issuer())
        .map_err(|e| CertgenError::crypto("sign the CRL", e))?;
    let pem = crate::ca::pem_encode("X509 CRL", crl.der());
    write_public_file(&path, pem.as_bytes(), true)?;
    state.crl_number = number;
    state.save(dir)?;
    Ok(CrlReport {
        path,
        number,
        this_update: now,
        next_update,
        revoked_count: state.revoked.len(),
    })
}

/// Adds to `state` every entry of the CRL already published in `dir` that the state does not
/// hold (after the state file was lost, or restored from an old backup), so that writing a
/// new CRL never un-revokes anything. The CRL must be signed by `ca`. Returns how many
/// entries were added.
fn merge_published(
    dir: &Path,
    ca: &CertAuthority,
    state: &mut State,
) -> Result<usize, CertgenError> {
    let path = dir.join(CRL_FILE);
    if !path.exists() {
        return Ok(0);
    }
    let der = load_crl(&path)?;
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| CertgenError::BadCrl {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let (_, ca_cert) = x509_parser::parse_x509_certificate(ca.cert_der())
        .map_err(|e| CertgenError::crypto("parse the CA certificate", e))?;
    let foreign = |reason| CertgenError::ForeignCrl {
        path: path.clone(),
        reason,
    };
    if crl.issuer().as_raw() != ca_cert.subject().as_raw() {
        return Err(foreign(ForeignCrlReason::OtherIssuer));
    }
    check_signature(&der, ca_cert.public_key().raw).map_err(foreign)?;
    let mut added = 0;
    for entry in crl.iter_revoked_certificates() {
        let serial = serial_hex(entry.raw_serial());
        if state.is_revoked(&serial) {
            continue;
        }
        let node_id = state
            .issued
            .iter()
            .find(|i| i.serial == serial)
            .map(|i| i.node_id.clone());
        state.revoked.push(Revoked {
            serial,
            node_id,
            revoked_at: entry.revocation_date.timestamp(),
            reason: entry
                .reason_code()
                .map(|(_, code)| crate::inspect::reason_name(code.0))
                .unwrap_or_else(|| RevocationReason::Unspecified.as_str().to_owned()),
        });
        added += 1;
    }
    Ok(added)
}

/// Checks that `crl_der` (a whole CertificateList) is signed by the key of `spki_der` (a
/// SubjectPublicKeyInfo), with any algorithm the workspace's one crypto provider verifies.
fn check_signature(crl_der: &[u8], spki_der: &[u8]) -> Result<(), ForeignCrlReason> {
    const SEQUENCE: u8 = 0x30;
    const BIT_STRING: u8 = 0x03;
    let malformed = ForeignCrlReason::Malformed;
    // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
    let (crl, _) = der_expect(crl_der, SEQUENCE).ok_or(malformed)?;
    let (tbs_whole, rest) = der_whole(crl, SEQUENCE).ok_or(malformed)?;
    let (sig_alg, rest) = der_expect(rest, SEQUENCE).ok_or(malformed)?;
    let (sig, _) = der_expect(rest, BIT_STRING).ok_or(malformed)?;
    let sig = match sig.split_first() {
        Some((0, bits)) => bits,
        _ => return Err(malformed),
    };
    // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }
    let (spki, _) = der_expect(spki_der, SEQUENCE).ok_or(malformed)?;
    let (key_alg, rest) = der_expect(spki, SEQUENCE).ok_or(malformed)?;
    let (key, _) = der_expect(rest, BIT_STRING).ok_or(malformed)?;
    let key = match key.split_first() {
        Some((0, bits)) => bits,
        _ => return Err(malformed),
    };
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let alg = provider
        .signature_verification_algorithms
        .all
        .iter()
        .find(|a| {
            a.public_key_alg_id().as_ref() == key_alg && a.signature_alg_id().as_ref() == sig_alg
        })
        .ok_or(ForeignCrlReason::UnsupportedSignatureAlgorithm)?;
    alg.verify_signature(key, tbs_whole, sig)
        .map_err(|_| ForeignCrlReason::BadSignature)
}

/// One DER element of type `tag` at the start of `input`: (its contents, what follows).
fn der_expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (header, len) = der_header(input, tag)?;
    let end = header.checked_add(len)?;
    Some((input.get(header..end)?, input.get(end..)?))
}

/// Like [`der_expect`], but returns the whole element, header included.
fn der_whole(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (header, len) = der_header(input, tag)?;
    let end = header.checked_add(len)?;
    Some((input.get(..end)?, input.get(end..)?))
}

/// (header length, contents length) of a DER element of type `tag`; lengths up to 4 bytes.
fn der_header(input: &[u8], tag: u8) -> Option<(usize, usize)> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let len = input
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((2 + n, len))
}

/// The CRL's authorityKeyIdentifier must equal the CA's subjectKeyIdentifier, whichever tool
/// made the CA.
fn ski_method(ca: &CertAuthority) -> KeyIdMethod {
    x509_parser::parse_x509_certificate(ca.cert_der())
        .ok()
        .and_then(|(_, c)| {
            c.iter_extensions()
                .find_map(|e| match e.parsed_extension() {
                    x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                        Some(KeyIdMethod::PreSpecified(k.0.to_vec()))
                    }
                    _ => None,
                })
        })
        .unwrap_or(KeyIdMethod::Sha256)
}

fn crl_number_of(der: &[u8]) -> Option<u64> {
    let (_, crl) = x509_parser::parse_x509_crl(der).ok()?;
    let n = crl.crl_number()?;
    u64::try_from(n).ok()
}

fn empty_crl_report(dir: &Path) -> CrlReport {
    CrlReport {
        path: dir.join(CRL_FILE),
        number: 0,
        this_update: OffsetDateTime::UNIX_EPOCH,
        next_update: OffsetDateTime::UNIX_EPOCH,
        revoked_count: 0,
    }
}
