//! The handshake messages exchanged inside TLS right after the TLS handshake: HELLO, REFUSE
//! and ACCEPT. Pure encoding and decoding, no I/O; `docs/PROTOCOL.md` describes every byte.
//!
//! Every message is one frame: a 4-byte big-endian length `L` (the bytes that follow), then
//! a 1-byte kind, then `L - 1` bytes of payload. During the handshake `L` is at most
//! [`MAX_HANDSHAKE_FRAME`]; anything larger is refused before it is read.

use crate::error::Refusal;
use crate::identity::{Incarnation, NodeId};

/// The hello protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The largest handshake frame (length field value) accepted.
pub const MAX_HANDSHAKE_FRAME: u32 = 512;

pub(crate) const KIND_HELLO: u8 = 0x01;
pub(crate) const KIND_REFUSE: u8 = 0x02;
pub(crate) const KIND_ACCEPT: u8 = 0x03;

/// The longest text field a REFUSE carries; longer text is cut at a character boundary.
const MAX_REFUSE_FIELD: usize = 160;

/// A node's hello: who it claims to be, in which cluster, in which life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The hello protocol version.
    pub version: u16,
    /// The node's incarnation (random at each start).
    pub incarnation: Incarnation,
    /// The cluster name.
    pub cluster: String,
    /// The claimed node ID. Checked against the certificate's CN before anything is trusted.
    pub node_id: NodeId,
}

/// One handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeMessage {
    Hello(Hello),
    /// A hello of another protocol version; the rest of it is not interpreted.
    OtherVersion(u16),
    Refuse(Refusal),
    Accept,
}

/// Encodes `msg` as one frame.
pub(crate) fn encode(msg: &HandshakeMessage) -> Vec<u8> {
    let mut body = Vec::with_capacity(128);
    match msg {
        HandshakeMessage::Hello(h) => {
            body.push(KIND_HELLO);
            body.extend_from_slice(&h.version.to_be_bytes());
            body.extend_from_slice(&h.incarnation.get().to_be_bytes());
            // Both lengths are bounded by construction (cluster names are checked at config
            // time to be 1..=255 bytes, node IDs are at most 63 bytes).
            body.push(h.cluster.len().min(255) as u8);
            body.extend_from_slice(&h.cluster.as_bytes()[..h.cluster.len().min(255)]);
            body.push(h.node_id.as_str().len() as u8);
            body.extend_from_slice(h.node_id.as_str().as_bytes());
        }
        HandshakeMessage::Refuse(r) => {
            body.push(KIND_REFUSE);
            let (code, fields) = refusal_to_wire(r);
            body.extend_from_slice(&code.to_be_bytes());
            body.push(fields.len() as u8);
            for f in fields {
                let f = truncate(&f, MAX_REFUSE_FIELD);
                body.extend_from_slice(&(f.len() as u16).to_be_bytes());
                body.extend_from_slice(f.as_bytes());
            }
        }
        HandshakeMessage::OtherVersion(v) => {
            body.push(KIND_HELLO);
            body.extend_from_slice(&v.to_be_bytes());
        }
        HandshakeMessage::Accept => body.push(KIND_ACCEPT),
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Checks a frame's length field before its body is read.
pub(crate) fn check_length(len: u32) -> Result<usize, String> {
    if len == 0 {
        Err("empty frame".into())
    } else if len > MAX_HANDSHAKE_FRAME {
        Err(format!(
            "frame of {len} bytes exceeds the handshake limit of {MAX_HANDSHAKE_FRAME}"
        ))
    } else {
        Ok(len as usize)
    }
}

/// Decodes a frame body (kind byte onward). Never panics; every defect is a message.
pub(crate) fn decode_body(body: &[u8]) -> Result<HandshakeMessage, String> {
    let mut r = Reader(body);
    match r.u8()? {
        KIND_HELLO => {
            let version = r.u16()?;
            if version != PROTOCOL_VERSION {
                return Ok(HandshakeMessage::OtherVersion(version));
            }
            let incarnation = Incarnation(r.u64()?);
            let cluster_len = r.u8()? as usize;
            let cluster = r.utf8(cluster_len, "cluster name")?;
            if cluster.is_empty() {
                return Err("empty cluster name".into());
            }
            let node_len = r.u8()? as usize;
            let node = r.utf8(node_len, "node ID")?;
            let node_id = NodeId::new(node).map_err(|e| format!("claimed {e}"))?;
            r.end()?;
            Ok(HandshakeMessage::Hello(Hello {
                version,
                incarnation,
                cluster: cluster.to_owned(),
                node_id,
            }))
        }
        KIND_REFUSE => {
            let code = r.u16()?;
            let count = r.u8()? as usize;
            let mut fields = Vec::with_capacity(count.min(4));
            for _ in 0..count {
                let len = r.u16()? as usize;
                fields.push(r.utf8(len, "refusal field")?.to_owned());
            }
            r.end()?;
            Ok(HandshakeMessage::Refuse(refusal_from_wire(code, fields)))
        }
        KIND_ACCEPT => {
            r.end()?;
            Ok(HandshakeMessage::Accept)
        }
        other => Err(format!("unknown handshake message kind 0x{other:02x}")),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "truncated {what}: need {n} bytes, {} left",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1, "u8")?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2, "u16")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8, "u64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn utf8(&mut self, n: usize, what: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(n, what)?).map_err(|_| format!("{what} is not UTF-8"))
    }
    fn end(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("{} unexpected trailing bytes", self.0.len()))
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    // (`str::floor_char_boundary` does this from Rust 1.91, above the MSRV.)
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// Refusal codes on the wire. Fields, when present, are listed in docs/PROTOCOL.md.
const CODE_UNSPECIFIED: u16 = 0;
const CODE_UNKNOWN_CA: u16 = 1;
const CODE_EXPIRED: u16 = 2;
const CODE_NOT_YET_VALID: u16 = 3;
const CODE_REVOKED: u16 = 4;
const CODE_MISSING_KEY_USAGE: u16 = 5;
const CODE_MISSING_EKU: u16 = 6;
const CODE_X509_V1: u16 = 7;
const CODE_NO_CLIENT_CERT: u16 = 8;
const CODE_CN_MISMATCH: u16 = 9;
const CODE_UNKNOWN_NODE: u16 = 10;
const CODE_WRONG_CLUSTER: u16 = 11;
const CODE_UNSUPPORTED_VERSION: u16 = 12;
const CODE_HANDSHAKE_TIMEOUT: u16 = 13;
const CODE_MALFORMED_HELLO: u16 = 14;
const CODE_NOT_PINNED: u16 = 15;
const CODE_TOO_MANY_PENDING: u16 = 16;
const CODE_BAD_CERTIFICATE: u16 = 17;
const CODE_NOT_AN_OPERATOR: u16 = 18;

fn refusal_to_wire(r: &Refusal) -> (u16, Vec<String>) {
    match r {
        Refusal::UnknownCa => (CODE_UNKNOWN_CA, vec![]),
        Refusal::Expired { .. } => (CODE_EXPIRED, vec![]),
        Refusal::NotYetValid { .. } => (CODE_NOT_YET_VALID, vec![]),
        Refusal::Revoked => (CODE_REVOKED, vec![]),
        Refusal::MissingKeyUsage => (CODE_MISSING_KEY_USAGE, vec![]),
        Refusal::MissingExtendedKeyUsage { missing } => {
            (CODE_MISSING_EKU, vec![(*missing).to_owned()])
        }
        Refusal::X509V1 { version } => (CODE_X509_V1, vec![version.to_string()]),
        Refusal::NoClientCertificate => (CODE_NO_CLIENT_CERT, vec![]),
        Refusal::CnMismatch { claimed, proven } => {
            (CODE_CN_MISMATCH, vec![claimed.clone(), proven.clone()])
        }
        Refusal::UnknownNode { node } => (CODE_UNKNOWN_NODE, vec![node.clone()]),
        Refusal::WrongCluster { expected, got } => {
            (CODE_WRONG_CLUSTER, vec![expected.clone(), got.clone()])
        }
        Refusal::UnsupportedVersion { ours, theirs } => (
            CODE_UNSUPPORTED_VERSION,
            vec![ours.to_string(), theirs.to_string()],
        ),
        Refusal::HandshakeTimeout => (CODE_HANDSHAKE_TIMEOUT, vec![]),
        Refusal::MalformedHello { detail } => (CODE_MALFORMED_HELLO, vec![detail.clone()]),
        Refusal::NotPinned { spki_sha256 } => (CODE_NOT_PINNED, vec![spki_sha256.clone()]),
        Refusal::TooManyPendingHandshakes | Refusal::Evicted => (CODE_TOO_MANY_PENDING, vec![]),
        Refusal::BadCertificate { detail } => (CODE_BAD_CERTIFICATE, vec![detail.clone()]),
        Refusal::NotAnOperator { cn } => (CODE_NOT_AN_OPERATOR, vec![cn.clone()]),
        // Relayed as it came (a code this version does not know stays that code).
        Refusal::OtherCode { code, text } => (*code, vec![text.clone()]),
        other => (CODE_UNSPECIFIED, vec![other.to_string()]),
    }
}

fn refusal_from_wire(code: u16, mut fields: Vec<String>) -> Refusal {
    let mut field = |i: usize| fields.get_mut(i).map(std::mem::take).unwrap_or_default();
    match code {
        CODE_UNKNOWN_CA => Refusal::UnknownCa,
        CODE_EXPIRED => Refusal::Expired { not_after: None },
        CODE_NOT_YET_VALID => Refusal::NotYetValid { not_before: None },
        CODE_REVOKED => Refusal::Revoked,
        CODE_MISSING_KEY_USAGE => Refusal::MissingKeyUsage,
        CODE_MISSING_EKU => Refusal::MissingExtendedKeyUsage {
            missing: match field(0).as_str() {
                "serverAuth" => "serverAuth",
                "clientAuth" => "clientAuth",
                _ => "serverAuth and clientAuth",
            },
        },
        CODE_X509_V1 => Refusal::X509V1 {
            version: field(0).parse().unwrap_or(1),
        },
        CODE_NO_CLIENT_CERT => Refusal::NoClientCertificate,
        CODE_CN_MISMATCH => Refusal::CnMismatch {
            claimed: field(0),
            proven: field(1),
        },
        CODE_UNKNOWN_NODE => Refusal::UnknownNode { node: field(0) },
        CODE_WRONG_CLUSTER => Refusal::WrongCluster {
            expected: field(0),
            got: field(1),
        },
        CODE_UNSUPPORTED_VERSION => Refusal::UnsupportedVersion {
            ours: field(0).parse().unwrap_or(0),
            theirs: field(1).parse().unwrap_or(0),
        },
        CODE_HANDSHAKE_TIMEOUT => Refusal::HandshakeTimeout,
        CODE_MALFORMED_HELLO => Refusal::MalformedHello { detail: field(0) },
        CODE_NOT_PINNED => Refusal::NotPinned {
            spki_sha256: field(0),
        },
        CODE_TOO_MANY_PENDING => Refusal::TooManyPendingHandshakes,
        CODE_BAD_CERTIFICATE => Refusal::BadCertificate { detail: field(0) },
        CODE_NOT_AN_OPERATOR => Refusal::NotAnOperator { cn: field(0) },
        other => Refusal::OtherCode {
            code: other,
            text: field(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(m: HandshakeMessage) {
        let frame = encode(&m);
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        assert_eq!(len as usize, frame.len() - 4);
        check_length(len).unwrap();
        assert_eq!(decode_body(&frame[4..]).unwrap(), m);
    }

    #[test]
    fn hello_roundtrips_and_has_documented_bytes() {
        let h = Hello {
            version: 1,
            incarnation: Incarnation(0x0102030405060708),
            cluster: "demo".into(),
            node_id: NodeId::new("a").unwrap(),
        };
        let frame = encode(&HandshakeMessage::Hello(h.clone()));
        // The worked example in docs/PROTOCOL.md.
        assert_eq!(
            frame,
            [
                0, 0, 0, 0x12, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 4, b'd', b'e', b'm', b'o', 1,
                b'a'
            ]
        );
        roundtrip(HandshakeMessage::Hello(h));
    }

    #[test]
    fn refusals_roundtrip() {
        for r in [
            Refusal::UnknownCa,
            Refusal::Revoked,
            Refusal::CnMismatch {
                claimed: "c".into(),
                proven: "b".into(),
            },
            Refusal::UnknownNode { node: "z".into() },
            Refusal::NotAnOperator { cn: "b".into() },
            Refusal::WrongCluster {
                expected: "x".into(),
                got: "y".into(),
            },
            Refusal::UnsupportedVersion { ours: 1, theirs: 9 },
            Refusal::MalformedHello {
                detail: "bad".into(),
            },
            Refusal::NotPinned {
                spki_sha256: "ab".into(),
            },
            Refusal::HandshakeTimeout,
            // Code 0 and a code no version defines yet: their code and text kept.
            Refusal::OtherCode {
                code: 0,
                text: "why".into(),
            },
            Refusal::OtherCode {
                code: 999,
                text: "a later reason".into(),
            },
        ] {
            roundtrip(HandshakeMessage::Refuse(r));
        }
        roundtrip(HandshakeMessage::Accept);
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(check_length(0).is_err());
        assert!(check_length(MAX_HANDSHAKE_FRAME + 1).is_err());
        for body in [
            &[][..],
            &[0x09],
            &[KIND_HELLO, 0],
            &[KIND_HELLO, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b'a'],
            &[KIND_HELLO, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'x', 1, b'-'],
            &[KIND_HELLO, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xff, 1, b'a'],
            &[
                KIND_HELLO, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'x', 1, b'a', 0,
            ],
            &[KIND_REFUSE, 0, 1, 3, 0, 9],
            &[KIND_ACCEPT, 0],
        ] {
            assert!(decode_body(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn decoder_survives_every_prefix_and_bit_flip() {
        let frame = encode(&HandshakeMessage::Hello(Hello {
            version: 1,
            incarnation: Incarnation(7),
            cluster: "cluster".into(),
            node_id: NodeId::new("node-1").unwrap(),
        }));
        let body = &frame[4..];
        for n in 0..body.len() {
            let _ = decode_body(&body[..n]);
        }
        for i in 0..body.len() {
            for bit in 0..8 {
                let mut b = body.to_vec();
                b[i] ^= 1 << bit;
                let _ = decode_body(&b);
            }
        }
    }
}
