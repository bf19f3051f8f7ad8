//! What a set of TLS material holds, as loaded: the line a reload prints, and which
//! certificates are near the end of their validity.

use std::fmt;
use std::time::{Duration, SystemTime};

use x509_parser::prelude::{CertificateRevocationList, FromDer};

use crate::certinfo::{CertificateDetails, format_time};

/// A summary of the material an endpoint uses: its own certificate, the CA bundle and the
/// CRL. Returned by [`TlsEndpoint::reload`](crate::TlsEndpoint::reload) and
/// [`TlsEndpoint::summary`](crate::TlsEndpoint::summary).
///
/// It displays as one line, e.g. `cert serial 5c1e… not-after 2027-03-01T00:00:00Z, ca bundle
/// 2 certificates, crl 1 entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MaterialSummary {
    /// This node's own certificate (the leaf of its chain).
    pub own: CertificateDetails,
    /// How many certificates the CA bundle holds.
    pub ca_certificates: usize,
    /// The CA bundle's certificates that parse (all of them, for a bundle that loaded).
    pub ca: Vec<CertificateDetails>,
    /// The CRL file, if one is configured.
    pub crl: Option<CrlSummary>,
}

/// What the configured CRL file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrlSummary {
    /// How many CRLs the file holds (one per CA, during a rotation).
    pub lists: usize,
    /// How many revoked certificates they list, together.
    pub entries: usize,
}

impl CrlSummary {
    pub(crate) fn of(crls: &[impl AsRef<[u8]>]) -> Self {
        let entries = crls
            .iter()
            .filter_map(|der| CertificateRevocationList::from_der(der.as_ref()).ok())
            .map(|(_, crl)| crl.iter_revoked_certificates().count())
            .sum();
        Self {
            lists: crls.len(),
            entries,
        }
    }
}

impl fmt::Display for MaterialSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cert serial {} not-after {}, ca bundle {} certificate{}",
            self.own.serial_hex,
            format_time(self.own.not_after),
            self.ca_certificates,
            plural(self.ca_certificates)
        )?;
        match &self.crl {
            Some(c) => write!(
                f,
                ", crl {} entr{}",
                c.entries,
                if c.entries == 1 { "y" } else { "ies" }
            ),
            None => f.write_str(", no crl"),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Which certificate of the material is near its end (see [`MaterialSummary::expiring`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Whose {
    /// This node's own certificate.
    Own,
    /// A CA certificate of the bundle.
    Ca,
}

impl fmt::Display for Whose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Own => "own certificate",
            Self::Ca => "CA certificate",
        })
    }
}

/// A certificate within its warning window.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Expiring {
    /// Which one.
    pub whose: Whose,
    /// Its details.
    pub certificate: CertificateDetails,
    /// The time left until its not-after (zero once past it).
    pub left: Duration,
}

impl fmt::Display for Expiring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.certificate;
        if self.left.is_zero() {
            write!(
                f,
                "{} {} (serial {}) expired at {}",
                self.whose,
                c.subject,
                c.serial_hex,
                format_time(c.not_after)
            )
        } else {
            write!(
                f,
                "{} {} (serial {}) expires at {}, in {}",
                self.whose,
                c.subject,
                c.serial_hex,
                format_time(c.not_after),
                human(self.left)
            )
        }
    }
}

/// A duration as days, hours or minutes, for messages.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3600 => format!("{} hours", s / 3600),
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// The default warning window of a certificate: the last third of its lifetime or 30 days,
/// whichever is sooner (shorter).
pub const DEFAULT_EXPIRY_WARNING_CAP: Duration = Duration::from_secs(30 * 86_400);

/// The window before `c`'s not-after in which it is reported: `window` if given, else the
/// default (the last third of its lifetime, at most 30 days).
pub fn warning_window(c: &CertificateDetails, window: Option<Duration>) -> Duration {
    window.unwrap_or_else(|| {
        let lifetime = c.not_after.duration_since(c.not_before).unwrap_or_default();
        (lifetime / 3).min(DEFAULT_EXPIRY_WARNING_CAP)
    })
}

impl MaterialSummary {
    /// The certificates (own, then the CA bundle's) within their warning window at `now`:
    /// `window` before their not-after, or by default the last third of their lifetime or
    /// 30 days, whichever is sooner. Expired ones are included with zero time left.
    pub fn expiring(&self, now: SystemTime, window: Option<Duration>) -> Vec<Expiring> {
        std::iter::once((Whose::Own, &self.own))
            .chain(self.ca.iter().map(|c| (Whose::Ca, c)))
            .filter_map(|(whose, c)| {
                let left = c.not_after.duration_since(now).unwrap_or_default();
                (left <= warning_window(c, window)).then(|| Expiring {
                    whose,
                    certificate: c.clone(),
                    left,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const DAY: Duration = Duration::from_secs(86_400);

    fn cert(not_before_day: u32, not_after_day: u32) -> CertificateDetails {
        CertificateDetails {
            subject: "CN=a".into(),
            issuer: "CN=ca".into(),
            common_name: Some("a".into()),
            serial_hex: "01".into(),
            not_before: UNIX_EPOCH + DAY * not_before_day,
            key_algorithm: "ECDSA P-256".into(),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            not_after: UNIX_EPOCH + DAY * not_after_day,
            sha256_fingerprint: String::new(),
            spki_sha256: String::new(),
        }
    }

    fn summary(own: CertificateDetails, ca: Vec<CertificateDetails>) -> MaterialSummary {
        MaterialSummary {
            own,
            ca_certificates: ca.len(),
            ca,
            crl: None,
        }
    }

    #[test]
    fn the_default_window_is_a_third_of_the_lifetime_capped_at_30_days() {
        // 30-day certificate: warned in its last 10 days.
        let s = summary(cert(0, 30), vec![]);
        let at = |day: u32| UNIX_EPOCH + DAY * day;
        assert!(s.expiring(at(19), None).is_empty());
        assert_eq!(s.expiring(at(20), None).len(), 1);
        // 10-year CA: warned in its last 30 days only.
        let s = summary(cert(0, 10_000), vec![cert(0, 3650)]);
        assert!(s.expiring(at(3619), None).is_empty());
        let e = s.expiring(at(3620), None);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].whose, Whose::Ca);
        assert_eq!(e[0].left, DAY * 30);
    }

    #[test]
    fn a_configured_window_replaces_the_default_and_an_expired_one_has_nothing_left() {
        let s = summary(cert(0, 30), vec![]);
        let at = |day: u32| UNIX_EPOCH + DAY * day;
        assert!(s.expiring(at(27), Some(DAY * 2)).is_empty());
        assert_eq!(s.expiring(at(28), Some(DAY * 2)).len(), 1);
        let e = s.expiring(at(31), None);
        assert_eq!(e[0].left, Duration::ZERO);
        assert!(e[0].to_string().contains("expired at"), "{}", e[0]);
    }

    #[test]
    fn the_summary_reads_as_one_line() {
        let mut s = summary(cert(0, 30), vec![cert(0, 3650), cert(0, 3650)]);
        s.crl = Some(CrlSummary {
            lists: 1,
            entries: 1,
        });
        assert_eq!(
            s.to_string(),
            "cert serial 01 not-after 1970-01-31T00:00:00Z, ca bundle 2 certificates, crl 1 entry"
        );
    }
}
