//! The operator protocol (docs/PROTOCOL.md section 8): what an operator (the `reign` tool)
//! asks a node over an operator connection ([`TlsEndpoint::connect_operator`]), and what the
//! node answers. One request at a time: the operator sends a request and reads its reply
//! before sending the next.
//!
//! Every frame is `length: u32` (the bytes after it), `kind: u8`, payload; `text8` is a
//! `u8` length and UTF-8 bytes, `text16` the same with a `u16` length.
//!
//! [`TlsEndpoint::connect_operator`]: crate::TlsEndpoint::connect_operator

use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::identity::NodeId;

/// The largest request frame a node reads from an operator (`length`): 64 KiB.
pub const MAX_OPERATOR_REQUEST: usize = 64 * 1024;
/// The largest reply frame the `reign` tool reads from a node: 16 MiB.
pub const MAX_OPERATOR_REPLY: usize = 16 * 1024 * 1024;
/// The most certificates a RENEW_INSTALL carries (leaf first).
pub const MAX_RENEW_CHAIN: usize = 8;
/// The longest error text a node sends (longer text is cut at a character boundary).
pub const MAX_ERROR_TEXT: usize = 1024;

const KIND_STATUS: u8 = 0x70;
const KIND_STATUS_REPLY: u8 = 0x71;
const KIND_RENEW_PREPARE: u8 = 0x72;
const KIND_RENEW_CSR: u8 = 0x73;
const KIND_RENEW_INSTALL: u8 = 0x74;
const KIND_RENEWED: u8 = 0x75;
const KIND_ERROR: u8 = 0x7f;

/// How a node writes its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusFormat {
    /// Lines of text for a person (STATUS format 0).
    Text,
    /// One JSON object (STATUS format 1; its fields are in docs/PROTOCOL.md).
    Json,
}

/// A request from an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorRequest {
    /// STATUS (0x70): the node's TLS status. Answered with STATUS_REPLY.
    Status {
        /// Text or JSON.
        format: StatusFormat,
    },
    /// RENEW_PREPARE (0x72): `node` (this node, or a node it is linked to, which it asks in
    /// turn) makes a new key pair and answers RENEW_CSR with a certificate request for it.
    RenewPrepare {
        /// The node to renew.
        node: NodeId,
    },
    /// RENEW_INSTALL (0x74): the certificate issued for the last RENEW_CSR `node` sent this
    /// requester. Answered with RENEWED once installed, or ERROR.
    RenewInstall {
        /// The node to renew.
        node: NodeId,
        /// The new chain, leaf first, 1 to [`MAX_RENEW_CHAIN`] certificates.
        chain: Vec<CertificateDer<'static>>,
    },
}

/// What an ERROR reply says went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorErrorCode {
    /// 1: the request was malformed or of an unknown kind (the node then closes).
    Malformed,
    /// 2: the node named is not linked to the node asked (`no connection with NODE`).
    NoConnection,
    /// 3: the certificate offered was refused (wrong CN or key, does not chain, not valid
    /// now, revoked); the text says which check failed.
    Refused,
    /// 4: too soon after the last RENEW_PREPARE from this requester (at most one a second).
    Busy,
    /// 5: the node asked in turn did not answer in time.
    Timeout,
    /// 6: the node's certificate or key is not read from a file, so it cannot be renewed.
    NotFromFiles,
    /// 7: writing the new files, or reloading them, failed; the old material stays in use.
    Io,
    /// 8: RENEW_INSTALL without a RENEW_PREPARE before it (or after it expired: 10 minutes).
    NoPendingRenewal,
    /// 9: the operator's own certificate is no longer accepted (revoked or expired since the
    /// connection was made, or its CA left the bundle); the node then closes.
    CertificateRefused,
    /// A code this version does not know.
    Other(u16),
}

impl OperatorErrorCode {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Malformed => 1,
            Self::NoConnection => 2,
            Self::Refused => 3,
            Self::Busy => 4,
            Self::Timeout => 5,
            Self::NotFromFiles => 6,
            Self::Io => 7,
            Self::NoPendingRenewal => 8,
            Self::CertificateRefused => 9,
            Self::Other(c) => c,
        }
    }

    fn from_code(c: u16) -> Self {
        match c {
            1 => Self::Malformed,
            2 => Self::NoConnection,
            3 => Self::Refused,
            4 => Self::Busy,
            5 => Self::Timeout,
            6 => Self::NotFromFiles,
            7 => Self::Io,
            8 => Self::NoPendingRenewal,
            9 => Self::CertificateRefused,
            c => Self::Other(c),
        }
    }
}

/// A node's reply to an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorReply {
    /// STATUS_REPLY (0x71): the status, in the format asked.
    Status {
        /// UTF-8 text or JSON.
        text: String,
    },
    /// RENEW_CSR (0x73): a PKCS#10 certificate request (DER) for `node`'s new key, subject
    /// CN = `node`. The key stays on `node`.
    Csr {
        /// The node whose request it is.
        node: NodeId,
        /// The request, DER.
        csr: Vec<u8>,
    },
    /// RENEWED (0x75): `node` installed the certificate and uses it for new handshakes.
    Renewed {
        /// The renewed node.
        node: NodeId,
        /// The new certificate's serial, lowercase hex.
        serial_hex: String,
        /// Its notAfter.
        not_after: SystemTime,
    },
    /// ERROR (0x7f).
    Error {
        /// What went wrong.
        code: OperatorErrorCode,
        /// Details for a person (the node's own words; print it escaped).
        text: String,
    },
}

/// Why a frame body is not a valid request or reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OperatorDecodeError {
    /// The body is empty.
    #[error("empty frame")]
    Empty,
    /// A kind this version does not know (or one sent the wrong way).
    #[error("unknown operator frame kind 0x{0:02x}")]
    UnknownKind(u8),
    /// The body ends inside a field.
    #[error("frame ends inside a field")]
    Truncated,
    /// Bytes after the last field.
    #[error("{0} bytes after the last field")]
    Trailing(usize),
    /// A text field is not UTF-8.
    #[error("a text field is not UTF-8")]
    NotUtf8,
    /// A node field is not a valid node ID.
    #[error("not a valid node ID")]
    BadNodeId,
    /// A STATUS format other than 0 or 1.
    #[error("unknown status format {0}")]
    UnknownFormat(u8),
    /// A time this system cannot represent.
    #[error("{0} s after 1970 is out of range")]
    TimeOutOfRange(u64),
    /// A chain of 0 or more than [`MAX_RENEW_CHAIN`] certificates, or an empty certificate.
    #[error("a chain holds 1 to 8 certificates, each of 1 byte or more")]
    BadChain,
}

/// Encodes a request as a whole frame (length included).
pub fn encode_request(r: &OperatorRequest) -> Vec<u8> {
    let mut b = vec![0u8; 4];
    match r {
        OperatorRequest::Status { format } => {
            b.push(KIND_STATUS);
            b.push(match format {
                StatusFormat::Text => 0,
                StatusFormat::Json => 1,
            });
        }
        OperatorRequest::RenewPrepare { node } => {
            b.push(KIND_RENEW_PREPARE);
            text8(&mut b, node.as_str());
        }
        OperatorRequest::RenewInstall { node, chain } => {
            b.push(KIND_RENEW_INSTALL);
            text8(&mut b, node.as_str());
            encode_chain(&mut b, chain);
        }
    }
    finish(b)
}

/// Encodes a reply as a whole frame (length included).
pub fn encode_reply(r: &OperatorReply) -> Vec<u8> {
    let mut b = vec![0u8; 4];
    match r {
        OperatorReply::Status { text } => {
            b.push(KIND_STATUS_REPLY);
            b.extend_from_slice(text.as_bytes());
        }
        OperatorReply::Csr { node, csr } => {
            b.push(KIND_RENEW_CSR);
            text8(&mut b, node.as_str());
            b.extend_from_slice(csr);
        }
        OperatorReply::Renewed {
            node,
            serial_hex,
            not_after,
        } => {
            b.push(KIND_RENEWED);
            text8(&mut b, node.as_str());
            text8(&mut b, serial_hex);
            let secs = not_after
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            b.extend_from_slice(&secs.to_be_bytes());
        }
        OperatorReply::Error { code, text } => {
            b.push(KIND_ERROR);
            b.extend_from_slice(&code.code().to_be_bytes());
            let text = cut(text, MAX_ERROR_TEXT);
            b.extend_from_slice(&(text.len() as u16).to_be_bytes());
            b.extend_from_slice(text.as_bytes());
        }
    }
    finish(b)
}

/// The certificates of a RENEW_INSTALL, as encoded after its node field: count `u8`, then
/// per certificate `len: u16` + DER. At most [`MAX_RENEW_CHAIN`] are written.
pub fn encode_chain(b: &mut Vec<u8>, chain: &[CertificateDer<'_>]) {
    let chain = &chain[..chain.len().min(MAX_RENEW_CHAIN)];
    b.push(chain.len() as u8);
    for c in chain {
        let c = &c[..c.len().min(u16::MAX as usize)];
        b.extend_from_slice(&(c.len() as u16).to_be_bytes());
        b.extend_from_slice(c);
    }
}

/// Decodes a chain written by [`encode_chain`], which must end the body.
pub fn decode_chain(
    r: &mut Reader<'_>,
) -> Result<Vec<CertificateDer<'static>>, OperatorDecodeError> {
    let n = r.u8()? as usize;
    if n == 0 || n > MAX_RENEW_CHAIN {
        return Err(OperatorDecodeError::BadChain);
    }
    let mut chain = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.u16()? as usize;
        if len == 0 {
            return Err(OperatorDecodeError::BadChain);
        }
        chain.push(CertificateDer::from(r.take(len)?.to_vec()));
    }
    r.end()?;
    Ok(chain)
}

/// Decodes a request body (the kind and payload: a frame without its length).
pub fn decode_request(body: &[u8]) -> Result<OperatorRequest, OperatorDecodeError> {
    let mut r = Reader(body);
    match r.u8().map_err(|_| OperatorDecodeError::Empty)? {
        KIND_STATUS => {
            let format = match r.u8()? {
                0 => StatusFormat::Text,
                1 => StatusFormat::Json,
                f => return Err(OperatorDecodeError::UnknownFormat(f)),
            };
            r.end()?;
            Ok(OperatorRequest::Status { format })
        }
        KIND_RENEW_PREPARE => {
            let node = r.node()?;
            r.end()?;
            Ok(OperatorRequest::RenewPrepare { node })
        }
        KIND_RENEW_INSTALL => {
            let node = r.node()?;
            let chain = decode_chain(&mut r)?;
            Ok(OperatorRequest::RenewInstall { node, chain })
        }
        k => Err(OperatorDecodeError::UnknownKind(k)),
    }
}

/// Decodes a reply body (the kind and payload: a frame without its length).
pub fn decode_reply(body: &[u8]) -> Result<OperatorReply, OperatorDecodeError> {
    let mut r = Reader(body);
    match r.u8().map_err(|_| OperatorDecodeError::Empty)? {
        KIND_STATUS_REPLY => Ok(OperatorReply::Status {
            text: String::from_utf8(r.rest().to_vec()).map_err(|_| OperatorDecodeError::NotUtf8)?,
        }),
        KIND_RENEW_CSR => {
            let node = r.node()?;
            Ok(OperatorReply::Csr {
                node,
                csr: r.rest().to_vec(),
            })
        }
        KIND_RENEWED => {
            let node = r.node()?;
            let serial_hex = r.text8()?.to_owned();
            let secs = u64::from_be_bytes(
                r.take(8)?
                    .try_into()
                    .map_err(|_| OperatorDecodeError::Truncated)?,
            );
            r.end()?;
            Ok(OperatorReply::Renewed {
                node,
                serial_hex,
                not_after: SystemTime::UNIX_EPOCH
                    .checked_add(Duration::from_secs(secs))
                    .ok_or(OperatorDecodeError::TimeOutOfRange(secs))?,
            })
        }
        KIND_ERROR => {
            let code = OperatorErrorCode::from_code(r.u16()?);
            let len = r.u16()? as usize;
            let text = std::str::from_utf8(r.take(len)?)
                .map_err(|_| OperatorDecodeError::NotUtf8)?
                .to_owned();
            r.end()?;
            Ok(OperatorReply::Error { code, text })
        }
        k => Err(OperatorDecodeError::UnknownKind(k)),
    }
}

/// Reads one frame and returns its body (kind and payload). A `length` of 0 or above `max`
/// is an [`std::io::ErrorKind::InvalidData`] error, raised before anything more is read.
pub async fn read_frame<R: AsyncRead + Unpin>(io: &mut R, max: usize) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    if n == 0 || n > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("operator frame of {n} bytes (1 to {max} allowed)"),
        ));
    }
    let mut body = vec![0u8; n];
    io.read_exact(&mut body).await?;
    Ok(body)
}

/// A cursor over a frame body.
#[derive(Debug)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], OperatorDecodeError> {
        if self.0.len() < n {
            return Err(OperatorDecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, OperatorDecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, OperatorDecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn text8(&mut self) -> Result<&'a str, OperatorDecodeError> {
        let n = self.u8()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| OperatorDecodeError::NotUtf8)
    }

    fn node(&mut self) -> Result<NodeId, OperatorDecodeError> {
        NodeId::new(self.text8()?).map_err(|_| OperatorDecodeError::BadNodeId)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn end(&self) -> Result<(), OperatorDecodeError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(OperatorDecodeError::Trailing(n)),
        }
    }
}

fn text8(b: &mut Vec<u8>, s: &str) {
    let s = cut(s, u8::MAX as usize);
    b.push(s.len() as u8);
    b.extend_from_slice(s.as_bytes());
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn finish(mut b: Vec<u8>) -> Vec<u8> {
    let len = (b.len() - 4) as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let chain = vec![
            CertificateDer::from(vec![1, 2, 3]),
            CertificateDer::from(vec![4]),
        ];
        for r in [
            OperatorRequest::Status {
                format: StatusFormat::Text,
            },
            OperatorRequest::Status {
                format: StatusFormat::Json,
            },
            OperatorRequest::RenewPrepare { node: id("b") },
            OperatorRequest::RenewInstall {
                node: id("b"),
                chain: chain.clone(),
            },
        ] {
            let f = encode_request(&r);
            assert_eq!(
                u32::from_be_bytes(f[..4].try_into().unwrap()) as usize,
                f.len() - 4
            );
            assert_eq!(decode_request(&f[4..]).unwrap(), r);
        }
        for r in [
            OperatorReply::Status {
                text: "ok ✓".into(),
            },
            OperatorReply::Csr {
                node: id("b"),
                csr: vec![9; 300],
            },
            OperatorReply::Renewed {
                node: id("b"),
                serial_hex: "0a1b".into(),
                not_after: SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000),
            },
            OperatorReply::Error {
                code: OperatorErrorCode::NoConnection,
                text: "no connection with b".into(),
            },
            OperatorReply::Error {
                code: OperatorErrorCode::Other(99),
                text: String::new(),
            },
        ] {
            let f = encode_reply(&r);
            assert_eq!(decode_reply(&f[4..]).unwrap(), r);
        }
    }

    #[test]
    fn documented_bytes() {
        // docs/PROTOCOL.md section 8's example.
        assert_eq!(
            encode_request(&OperatorRequest::RenewPrepare { node: id("b") }),
            [0, 0, 0, 3, 0x72, 1, b'b']
        );
        assert_eq!(
            encode_request(&OperatorRequest::Status {
                format: StatusFormat::Json
            }),
            [0, 0, 0, 2, 0x70, 1]
        );
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        use OperatorDecodeError as E;
        for (body, want) in [
            (&[][..], E::Empty),
            (&[0x70], E::Truncated),
            (&[0x70, 2], E::UnknownFormat(2)),
            (&[0x70, 0, 0], E::Trailing(1)),
            (&[0x72, 1, b'-'], E::BadNodeId),
            (&[0x72, 1, 0xff], E::NotUtf8),
            (&[0x74, 1, b'b', 0], E::BadChain),
            (&[0x74, 1, b'b', 9], E::BadChain),
            (&[0x74, 1, b'b', 1, 0, 0], E::BadChain),
            (&[0x74, 1, b'b', 1, 0, 5, 1], E::Truncated),
            (&[0x71], E::UnknownKind(0x71)),
        ] {
            assert_eq!(decode_request(body), Err(want), "{body:?}");
        }
        assert_eq!(decode_reply(&[0x7f, 0, 1, 0, 9]), Err(E::Truncated));
        assert_eq!(decode_reply(&[0x70, 0]), Err(E::UnknownKind(0x70)));
        assert_eq!(
            decode_reply(&[
                0x75, 1, b'b', 1, b'f', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]),
            Err(E::TimeOutOfRange(u64::MAX))
        );
        // Every prefix and bit flip of valid frames decodes to a value or an error.
        let frames = [
            encode_request(&OperatorRequest::RenewInstall {
                node: id("node-1"),
                chain: vec![CertificateDer::from(vec![7; 40])],
            }),
            encode_reply(&OperatorReply::Renewed {
                node: id("b"),
                serial_hex: "ff".into(),
                not_after: SystemTime::UNIX_EPOCH,
            }),
        ];
        for f in &frames {
            let body = &f[4..];
            for n in 0..body.len() {
                let _ = decode_request(&body[..n]);
                let _ = decode_reply(&body[..n]);
            }
            for i in 0..body.len() {
                for bit in 0..8 {
                    let mut b = body.to_vec();
                    b[i] ^= 1 << bit;
                    let _ = decode_request(&b);
                    let _ = decode_reply(&b);
                }
            }
        }
    }
}
