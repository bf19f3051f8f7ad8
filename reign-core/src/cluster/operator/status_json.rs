//! `reign status --json`: a node's [`TlsStatus`] as one JSON object (its fields are listed
//! in docs/PROTOCOL.md section 8). Times are RFC 3339 in UTC; text a certificate holds is
//! escaped as [`CertificateDetails`] stores it.

use std::time::SystemTime;

use reign_tls::{CertificateDetails, Role, format_time};
use serde_json::{Value, json};

use crate::cluster::TlsStatus;

fn seconds_left(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::now()) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn certificate(c: &CertificateDetails) -> Value {
    json!({
        "subject": c.subject,
        "common_name": c.common_name,
        "issuer": c.issuer,
        "serial": c.serial_hex,
        "key_algorithm": c.key_algorithm,
        "signature_algorithm": c.signature_algorithm,
        "not_before": format_time(c.not_before),
        "not_after": format_time(c.not_after),
        "seconds_left": seconds_left(c.not_after),
        "sha256": c.sha256_fingerprint,
        "spki_sha256": c.spki_sha256,
    })
}

/// The JSON form of `status`, for node `node` of `cluster`.
pub(crate) fn to_json(node: &str, cluster: &str, incarnation: u64, status: &TlsStatus) -> String {
    let m = &status.material;
    let links: Vec<Value> = status
        .links
        .iter()
        .map(|l| {
            json!({
                "node": l.node.as_str(),
                "incarnation": format!("{:016x}", l.incarnation.get()),
                "addr": l.addr.to_string(),
                "role": match l.role { Role::Dialer => "dialer", _ => "acceptor" },
                "certificate": certificate(&l.certificate),
                "valid_until": format_time(l.valid_until),
                "key_exchange_group": l.key_exchange_group.map(|g| format!("{g:?}")),
                "cipher_suite": l.cipher_suite.map(|s| format!("{s:?}")),
                "up_since": format_time(l.up_since),
                "bytes_in": l.bytes_in,
                "bytes_out": l.bytes_out,
                "messages_in": l.messages_in,
                "messages_out": l.messages_out,
            })
        })
        .collect();
    json!({
        "node": node,
        "cluster": cluster,
        "incarnation": format!("{incarnation:016x}"),
        "certificate": certificate(&m.own),
        "ca_bundle": {
            "certificates": m.ca_certificates,
            "cas": m.ca.iter().map(certificate).collect::<Vec<_>>(),
        },
        "crl": m.crl.as_ref().map(|c| json!({"lists": c.lists, "entries": c.entries})),
        "links": links,
        "messages": {
            "sent": status.stats.messages_sent,
            "delivered": status.stats.messages_delivered,
            "refused_full": status.stats.refused_full,
            "refused_no_mailbox": status.stats.refused_no_mailbox,
            "refused_tag_mismatch": status.stats.refused_tag_mismatch,
            "refused_other": status.stats.refused_other,
        },
        "handshakes_refused": status.stats.handshakes_refused,
    })
    .to_string()
}
