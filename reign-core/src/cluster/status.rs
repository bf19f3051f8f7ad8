//! [`Node::tls_status`]: this node's TLS material and, per live link, who the peer proved to
//! be and what the link carried, for operators.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use reign_tls::{
    CertificateDetails, CipherSuite, Incarnation, MaterialSummary, NamedGroup, NodeId, Role,
};

use crate::Node;

/// What [`Node::tls_status`] reports. It displays as a few lines of text for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsStatus {
    /// This node's own certificate, CA bundle and CRL, as loaded now.
    pub material: MaterialSummary,
    /// Every live link over TLS, by peer ID.
    pub links: Vec<LinkStatus>,
    /// What this node's links carried and refused since it started, over all links (as
    /// [`Cluster::stats`](crate::Cluster::stats) counts it): messages a mailbox refused (full,
    /// gone, of another type, undecodable) are counted here even where the log, on its budget,
    /// no longer names each.
    pub stats: super::ClusterStats,
}

/// One live link, as [`TlsStatus`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStatus {
    /// The peer, as its certificate proved it.
    pub node: NodeId,
    /// The peer's life.
    pub incarnation: Incarnation,
    /// The peer's socket address.
    pub addr: SocketAddr,
    /// Whether this node dialed or accepted.
    pub role: Role,
    /// The peer's leaf certificate.
    pub certificate: CertificateDetails,
    /// When the peer's verified chain stops being valid (the link ends then).
    pub valid_until: SystemTime,
    /// The negotiated key exchange group, e.g. `X25519MLKEM768`.
    pub key_exchange_group: Option<NamedGroup>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<CipherSuite>,
    /// When the link was made.
    pub up_since: SystemTime,
    /// Bytes read from the peer and written to it (TLS plaintext: frames).
    pub bytes_in: u64,
    /// See [`bytes_in`](Self::bytes_in).
    pub bytes_out: u64,
    /// Messages (SEND frames) read from the peer.
    pub messages_in: u64,
    /// Messages queued toward the peer since the link was made.
    pub messages_out: u64,
}

impl Node {
    /// This node's TLS material and, for every live link, the peer's certificate (subject,
    /// issuer, serial, key and signature algorithms, validity, fingerprints), the negotiated
    /// key exchange and cipher suite, when the link came up and what it carried. `None` for a
    /// node not started on a cluster (or shut down).
    pub fn tls_status(&self) -> Option<TlsStatus> {
        let mesh = self.mesh()?;
        let mut links: Vec<LinkStatus> = mesh
            .peers
            .values()
            .filter_map(|p| {
                let link = p.link()?;
                let tls = link.tls_peer()?;
                Some(LinkStatus {
                    node: tls.node_id.clone(),
                    incarnation: tls.incarnation,
                    addr: tls.addr,
                    role: tls.role,
                    certificate: tls.certificate,
                    valid_until: tls.valid_until,
                    key_exchange_group: tls.key_exchange_group,
                    cipher_suite: tls.cipher_suite,
                    up_since: link.up_since,
                    bytes_in: link.bytes_in.load(Ordering::Relaxed),
                    bytes_out: link.bytes_out.load(Ordering::Relaxed),
                    messages_in: link.messages_in.load(Ordering::Relaxed),
                    messages_out: link.messages_out(),
                })
            })
            .collect();
        links.sort_by(|a, b| a.node.cmp(&b.node));
        Some(TlsStatus {
            material: mesh.tls.summary(),
            links,
            stats: mesh.stats(),
        })
    }
}

fn certificate(f: &mut fmt::Formatter<'_>, c: &CertificateDetails) -> fmt::Result {
    writeln!(f, "    subject {}  issuer {}", c.subject, c.issuer)?;
    writeln!(
        f,
        "    serial {}  key {}  signed {}",
        c.serial_hex, c.key_algorithm, c.signature_algorithm
    )?;
    let left = c.not_after.duration_since(SystemTime::now()).map_or_else(
        |_| "expired".to_owned(),
        |d| format!("{} days left", d.as_secs() / 86_400),
    );
    writeln!(
        f,
        "    valid {} to {} ({left})",
        reign_tls::format_time(c.not_before),
        reign_tls::format_time(c.not_after)
    )?;
    writeln!(
        f,
        "    sha256 {}  key sha256 {}",
        c.sha256_fingerprint, c.spki_sha256
    )
}

impl fmt::Display for TlsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.material;
        writeln!(f, "own certificate:")?;
        certificate(f, &m.own)?;
        write!(f, "ca bundle: {} certificate(s)", m.ca_certificates)?;
        match &m.crl {
            Some(c) => writeln!(f, "; crl: {} list(s), {} revoked", c.lists, c.entries)?,
            None => writeln!(f, "; no crl")?,
        }
        for ca in &m.ca {
            writeln!(
                f,
                "  CA {} (serial {}, until {})",
                ca.subject,
                ca.serial_hex,
                reign_tls::format_time(ca.not_after)
            )?;
        }
        let st = &self.stats;
        writeln!(
            f,
            "messages: {} sent, {} delivered; refused: {} full, {} no mailbox, {} of another type, {} other; {} handshakes refused",
            st.messages_sent,
            st.messages_delivered,
            st.refused_full,
            st.refused_no_mailbox,
            st.refused_tag_mismatch,
            st.refused_other,
            st.handshakes_refused
        )?;
        if self.links.is_empty() {
            return writeln!(f, "no live links");
        }
        for l in &self.links {
            let role = match l.role {
                Role::Dialer => "dialed",
                _ => "accepted",
            };
            writeln!(
                f,
                "link {} (incarnation {}, {role} {}, up since {}):",
                l.node,
                l.incarnation,
                l.addr,
                reign_tls::format_time(l.up_since)
            )?;
            certificate(f, &l.certificate)?;
            let group = l
                .key_exchange_group
                .map_or_else(|| "?".to_owned(), |g| format!("{g:?}"));
            let suite = l
                .cipher_suite
                .map_or_else(|| "?".to_owned(), |s| format!("{s:?}"));
            writeln!(
                f,
                "    {group} {suite}; in {} B, {} messages; out {} B, {} messages",
                l.bytes_in, l.messages_in, l.bytes_out, l.messages_out
            )?;
        }
        Ok(())
    }
}
