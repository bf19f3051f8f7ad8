//! The link protocol's frames: what two nodes send each other after the handshake.
//!
//! Pure encoding and decoding, no I/O and no tokio. `docs/PROTOCOL.md` describes every byte.
//! Every frame is `length: u32 BE` (the bytes after it, at least 1), `kind: u8`, payload.
//! [`decode`] tells "need more bytes" (`Ok(None)`) from "bad bytes" (`Err`), checks the length
//! against the maximum frame size before anything is allocated, and never panics.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// SEND: a message for a mailbox of the receiving node.
pub(crate) const KIND_SEND: u8 = 0x10;
/// SEND_NAMED: a message for a name registered on the receiving node.
pub(crate) const KIND_SEND_NAMED: u8 = 0x11;
/// MONITOR: watch a mailbox of the receiving node.
pub(crate) const KIND_MONITOR: u8 = 0x20;
/// DEMONITOR: stop watching.
pub(crate) const KIND_DEMONITOR: u8 = 0x21;
/// DOWN: a watched mailbox ended.
pub(crate) const KIND_DOWN: u8 = 0x22;
/// LINK: a MONITOR that also links the sender's server with the target server.
pub(crate) const KIND_LINK: u8 = 0x23;
/// EXIT: the sender's server, linked with the target, ended: an exit signal.
pub(crate) const KIND_EXIT: u8 = 0x24;
/// UNLINK: the sender's server removes its link with the target (made by the target's LINK).
pub(crate) const KIND_UNLINK: u8 = 0x25;
/// HEARTBEAT: proof of life when nothing else is sent.
pub(crate) const KIND_HEARTBEAT: u8 = 0x30;
/// GOODBYE: the sender is shutting down; the link closes after it.
pub(crate) const KIND_GOODBYE: u8 = 0x31;
/// LOOKUP: which mailbox holds a name on the receiving node?
pub(crate) const KIND_LOOKUP: u8 = 0x40;
/// LOOKUP_REPLY: the answer to a LOOKUP.
pub(crate) const KIND_LOOKUP_REPLY: u8 = 0x41;

/// NAME_ADD: the sender holds a cluster-wide name.
pub(crate) const KIND_NAME_ADD: u8 = 0x50;
/// NAME_REMOVE: the sender no longer holds a cluster-wide name.
pub(crate) const KIND_NAME_REMOVE: u8 = 0x51;
/// GROUP_JOIN: a mailbox of the sender joined a process group.
pub(crate) const KIND_GROUP_JOIN: u8 = 0x58;
/// GROUP_LEAVE: a mailbox of the sender left a process group.
pub(crate) const KIND_GROUP_LEAVE: u8 = 0x59;

/// SYNCED: the sender has sent all its names and memberships for this link.
pub(crate) const KIND_SYNCED: u8 = 0x5f;
/// CERT_UPDATE: the sender's new certificate chain, and its proof of the new key.
pub(crate) const KIND_CERT_UPDATE: u8 = 0x60;
/// The most certificates a CERT_UPDATE carries (as reign-tls accepts).
pub(crate) const MAX_UPDATE_CHAIN: usize = reign_tls::MAX_UPDATE_CHAIN;

/// ADVERTISE: the address the sender is reachable at, `host:port`.
pub(crate) const KIND_ADVERTISE: u8 = 0x62;
/// HINT: a node the sender is linked to, and the address that node advertised.
pub(crate) const KIND_HINT: u8 = 0x63;
/// RENEW_PREPARE: the sender (forwarding an operator's `reign renew`) asks the receiver to
/// make a new key pair and answer with a certificate request for it.
pub(crate) const KIND_RENEW_PREPARE: u8 = 0x68;
/// RENEW_INSTALL: the certificate issued for the receiver's last request to this sender.
pub(crate) const KIND_RENEW_INSTALL: u8 = 0x69;
/// RENEW_REPLY: the answer to a RENEW_PREPARE or RENEW_INSTALL, an operator reply.
pub(crate) const KIND_RENEW_REPLY: u8 = 0x6a;

/// Bytes of the length field.
pub(crate) const LENGTH_BYTES: usize = 4;

/// Why a mailbox ended, on the wire (one byte plus text for `USER`).
pub(crate) const DOWN_NORMAL: u8 = 0;
pub(crate) const DOWN_USER: u8 = 1;
pub(crate) const DOWN_NO_SUCH_MAILBOX: u8 = 2;
pub(crate) const DOWN_NO_CONNECTION: u8 = 3;
pub(crate) const DOWN_SHUTDOWN: u8 = 4;
pub(crate) const DOWN_KILLED: u8 = 5;
pub(crate) const DOWN_PANIC: u8 = 6;
/// GOODBYE reason: the sender is shutting down.
pub(crate) const GOODBYE_SHUTDOWN: u8 = 0;
/// GOODBYE reason: the pair already has a link, and this connection came from the node that
/// does not dial; it is closed and the existing link kept.
pub(crate) const GOODBYE_LINK_EXISTS: u8 = 1;
/// The kind of a handshake REFUSE (docs/PROTOCOL.md section 2): no link frame has it, so one
/// that arrives as a link's first frame is the acceptor refusing after the dialer's ACCEPT.
pub(crate) const HANDSHAKE_REFUSE: u8 = 0x02;
/// GOODBYE reason: the receiver holds a node ID another process of the same ID holds too,
/// with a higher incarnation, which the sender keeps.
pub(crate) const GOODBYE_DUPLICATE_ID: u8 = 6;

/// UTF-8 text taken from a frame without copying (validated when decoded).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Text(Bytes);

impl Text {
    pub(crate) fn new(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn from_bytes(b: Bytes, what: &'static str) -> Result<Self, DecodeError> {
        if std::str::from_utf8(&b).is_err() {
            return Err(DecodeError::NotUtf8(what));
        }
        Ok(Self(b))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Validated at construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One link frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Send {
        target: u64,
        target_incarnation: u64,
        tag: Text,
        payload: Bytes,
    },
    SendNamed {
        name: Text,
        tag: Text,
        payload: Bytes,
    },
    Monitor {
        monitor: u64,
        watcher: u64,
        target: u64,
        target_incarnation: u64,
    },
    Demonitor {
        monitor: u64,
    },
    Link {
        monitor: u64,
        watcher: u64,
        target: u64,
        target_incarnation: u64,
    },
    Exit {
        from: u64,
        target: u64,
        target_incarnation: u64,
        reason: u8,
        text: Text,
    },
    Unlink {
        from: u64,
        target: u64,
        target_incarnation: u64,
    },
    Down {
        monitor: u64,
        watcher: u64,
        target: u64,
        target_incarnation: u64,
        reason: u8,
        text: Text,
    },
    Heartbeat {
        nonce: u64,
    },
    Goodbye {
        reason: u8,
    },
    Lookup {
        request: u64,
        name: Text,
    },
    LookupReply {
        request: u64,
        /// `(mailbox, tag)` when the name is registered.
        found: Option<(u64, Text)>,
    },
    NameAdd {
        name: Text,
        mailbox: u64,
        tag: Text,
        /// When the name was registered, in milliseconds since the Unix epoch (sender's clock).
        registered_at: u64,
    },
    NameRemove {
        name: Text,
        mailbox: u64,
    },
    GroupJoin {
        group: Text,
        mailbox: u64,
        tag: Text,
    },
    GroupLeave {
        group: Text,
        mailbox: u64,
    },
    Synced,
    /// A new certificate chain (leaf first, DER) with a signature by its key over the
    /// connection's exporter value (see `reign_tls::CertificateUpdate`).
    CertUpdate {
        scheme: u16,
        signature: Bytes,
        chain: Vec<Bytes>,
    },
    /// The sender's own address, as others should dial it.
    Advertise {
        addr: Text,
    },
    /// A node the sender is linked to, and where that node said it is reachable: only a
    /// hint to dial (the dial checks the node's certificate like any).
    Hint {
        node: Text,
        addr: Text,
    },
    /// Forwarded `reign renew`: make a key and answer with its certificate request. The
    /// session names the operator connection at the sender it is for.
    RenewPrepare {
        request: u64,
        session: u64,
    },
    /// Forwarded `reign renew`: install this chain (leaf first, DER) for that session's key.
    RenewInstall {
        request: u64,
        session: u64,
        chain: Vec<Bytes>,
    },
    /// The answer: an operator reply body (docs/PROTOCOL.md section 8), not empty.
    RenewReply {
        request: u64,
        reply: Bytes,
    },
}

/// Why a byte stream is not a valid sequence of frames. The link is closed on any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A frame's length field is zero.
    #[error("empty frame")]
    Empty,
    /// A frame's length field exceeds the maximum frame size.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The length announced.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The kind byte names no frame.
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownKind(u8),
    /// The payload ends before a field does.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// Bytes remain after the last field of a fixed-layout frame.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A text field is not UTF-8.
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    /// A text field that must not be empty is.
    #[error("empty {0}")]
    EmptyField(&'static str),
    /// A list holds more entries than the protocol allows.
    #[error("more than {max} {what}")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// The most allowed.
        max: usize,
    },
}

/// Decodes one frame from the front of `buf`, consuming it. `Ok(None)`: not a whole frame yet
/// (nothing consumed). A frame whose length exceeds `max_frame` is an error before its body is
/// awaited, so no caller ever buffers more than `max_frame + 4` bytes for one frame.
pub(crate) fn decode(buf: &mut BytesMut, max_frame: usize) -> Result<Option<Frame>, DecodeError> {
    let Some(len) = peek_length(buf, max_frame)? else {
        return Ok(None);
    };
    if buf.len() < LENGTH_BYTES + len {
        return Ok(None);
    }
    buf.advance(LENGTH_BYTES);
    let body = buf.split_to(len).freeze();
    parse(body).map(Some)
}

/// The frame at the front of `buf`, looked at without copying or consuming anything: the
/// link reader's hot path for SEND frames.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Peeked<'a> {
    /// A whole SEND frame of `total` bytes (length field included). The tag is given as raw
    /// bytes: receivers compare it with their mailbox's tag, so a tag that is not UTF-8
    /// simply never matches.
    Send {
        total: usize,
        target: u64,
        target_incarnation: u64,
        tag: &'a [u8],
        payload: &'a [u8],
    },
    /// A whole frame of another kind: decode it with [`decode`].
    Other,
}

/// Looks at the frame at the front of `buf`. `Ok(None)`: not a whole frame yet.
pub(crate) fn peek(buf: &[u8], max_frame: usize) -> Result<Option<Peeked<'_>>, DecodeError> {
    let Some(len) = peek_length(buf, max_frame)? else {
        return Ok(None);
    };
    let Some(body) = buf.get(LENGTH_BYTES..LENGTH_BYTES + len) else {
        return Ok(None);
    };
    if body[0] != KIND_SEND {
        return Ok(Some(Peeked::Other));
    }
    // kind, target, incarnation, tag length
    const FIXED: usize = 1 + 8 + 8 + 1;
    if body.len() < FIXED {
        return Err(DecodeError::Truncated("SEND header"));
    }
    let be = |r: std::ops::Range<usize>| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&body[r]);
        u64::from_be_bytes(a)
    };
    let tag_len = body[17] as usize;
    if tag_len == 0 {
        return Err(DecodeError::EmptyField("tag"));
    }
    let Some(tag) = body.get(FIXED..FIXED + tag_len) else {
        return Err(DecodeError::Truncated("tag"));
    };
    Ok(Some(Peeked::Send {
        total: LENGTH_BYTES + len,
        target: be(1..9),
        target_incarnation: be(9..17),
        tag,
        payload: &body[FIXED + tag_len..],
    }))
}

/// The frame at the front of `buf` if it is whole and a SEND whose header (kind, target,
/// incarnation, tag length and tag: every byte before the payload) is `header` byte for
/// byte: its total length and its payload. `None` for anything else, including a frame
/// [`peek`] would refuse (which the caller then peeks). The header's encoding is fixed-width,
/// so equal bytes are exactly equal fields: a run of SENDs to one mailbox is extended with
/// one slice compare per frame instead of a parse and three compares.
#[inline]
pub(crate) fn next_same_send<'a>(
    buf: &'a [u8],
    header: &[u8],
    max_frame: usize,
) -> Option<(usize, &'a [u8])> {
    let len = u32::from_be_bytes(buf.get(..LENGTH_BYTES)?.try_into().ok()?) as usize;
    if len < header.len() || len > max_frame {
        return None;
    }
    let body = buf.get(LENGTH_BYTES..LENGTH_BYTES + len)?;
    let (h, payload) = body.split_at(header.len());
    (h == header).then_some((LENGTH_BYTES + len, payload))
}

/// The length of the frame at the front of `buf`, when its length field is there.
pub(crate) fn peek_length(buf: &[u8], max_frame: usize) -> Result<Option<usize>, DecodeError> {
    if buf.len() < LENGTH_BYTES {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 {
        return Err(DecodeError::Empty);
    }
    if len > max_frame {
        return Err(DecodeError::TooLarge {
            len,
            max: max_frame,
        });
    }
    Ok(Some(len))
}

fn parse(mut b: Bytes) -> Result<Frame, DecodeError> {
    let kind = take_u8(&mut b, "kind")?;
    let frame = match kind {
        KIND_SEND => {
            let target = take_u64(&mut b, "target")?;
            let target_incarnation = take_u64(&mut b, "target incarnation")?;
            let tag = take_text_u8(&mut b, "tag")?;
            return Ok(Frame::Send {
                target,
                target_incarnation,
                tag,
                payload: b,
            });
        }
        KIND_SEND_NAMED => {
            let name = take_text_u8(&mut b, "name")?;
            let tag = take_text_u8(&mut b, "tag")?;
            return Ok(Frame::SendNamed {
                name,
                tag,
                payload: b,
            });
        }
        KIND_MONITOR => Frame::Monitor {
            monitor: take_u64(&mut b, "monitor")?,
            watcher: take_u64(&mut b, "watcher")?,
            target: take_u64(&mut b, "target")?,
            target_incarnation: take_u64(&mut b, "target incarnation")?,
        },
        KIND_DEMONITOR => Frame::Demonitor {
            monitor: take_u64(&mut b, "monitor")?,
        },
        KIND_LINK => Frame::Link {
            monitor: take_u64(&mut b, "monitor")?,
            watcher: take_u64(&mut b, "watcher")?,
            target: take_u64(&mut b, "target")?,
            target_incarnation: take_u64(&mut b, "target incarnation")?,
        },
        KIND_EXIT => Frame::Exit {
            from: take_u64(&mut b, "from")?,
            target: take_u64(&mut b, "target")?,
            target_incarnation: take_u64(&mut b, "target incarnation")?,
            reason: take_u8(&mut b, "reason")?,
            text: {
                let n = take_u16(&mut b, "reason text length")? as usize;
                take_text(&mut b, n, "reason text")?
            },
        },
        KIND_UNLINK => Frame::Unlink {
            from: take_u64(&mut b, "from")?,
            target: take_u64(&mut b, "target")?,
            target_incarnation: take_u64(&mut b, "target incarnation")?,
        },
        KIND_DOWN => Frame::Down {
            monitor: take_u64(&mut b, "monitor")?,
            watcher: take_u64(&mut b, "watcher")?,
            target: take_u64(&mut b, "target")?,
            target_incarnation: take_u64(&mut b, "target incarnation")?,
            reason: take_u8(&mut b, "reason")?,
            text: {
                let n = take_u16(&mut b, "reason text length")? as usize;
                take_text(&mut b, n, "reason text")?
            },
        },
        KIND_HEARTBEAT => Frame::Heartbeat {
            nonce: take_u64(&mut b, "nonce")?,
        },
        KIND_GOODBYE => Frame::Goodbye {
            reason: take_u8(&mut b, "reason")?,
        },
        KIND_LOOKUP => Frame::Lookup {
            request: take_u64(&mut b, "request")?,
            name: take_text_u8(&mut b, "name")?,
        },
        KIND_LOOKUP_REPLY => {
            let request = take_u64(&mut b, "request")?;
            let found = match take_u8(&mut b, "status")? {
                0 => {
                    let mailbox = take_u64(&mut b, "mailbox")?;
                    Some((mailbox, take_text_u8(&mut b, "tag")?))
                }
                _ => None,
            };
            Frame::LookupReply { request, found }
        }
        KIND_NAME_ADD => Frame::NameAdd {
            name: take_text_u8(&mut b, "name")?,
            mailbox: take_u64(&mut b, "mailbox")?,
            tag: take_text_u8(&mut b, "tag")?,
            registered_at: take_u64(&mut b, "registration time")?,
        },
        KIND_NAME_REMOVE => Frame::NameRemove {
            name: take_text_u8(&mut b, "name")?,
            mailbox: take_u64(&mut b, "mailbox")?,
        },
        KIND_GROUP_JOIN => Frame::GroupJoin {
            group: take_text_u8(&mut b, "group")?,
            mailbox: take_u64(&mut b, "mailbox")?,
            tag: take_text_u8(&mut b, "tag")?,
        },
        KIND_GROUP_LEAVE => Frame::GroupLeave {
            group: take_text_u8(&mut b, "group")?,
            mailbox: take_u64(&mut b, "mailbox")?,
        },
        KIND_SYNCED => Frame::Synced,
        KIND_CERT_UPDATE => {
            let scheme = take_u16(&mut b, "signature scheme")?;
            let n = take_u16(&mut b, "signature length")? as usize;
            let signature = take_bytes(&mut b, n, "signature")?;
            let chain = take_chain(&mut b)?;
            Frame::CertUpdate {
                scheme,
                signature,
                chain,
            }
        }
        KIND_ADVERTISE => Frame::Advertise {
            addr: take_text_u8(&mut b, "address")?,
        },
        KIND_HINT => Frame::Hint {
            node: take_text_u8(&mut b, "node")?,
            addr: take_text_u8(&mut b, "address")?,
        },
        KIND_RENEW_PREPARE => Frame::RenewPrepare {
            request: take_u64(&mut b, "request")?,
            session: take_u64(&mut b, "session")?,
        },
        KIND_RENEW_INSTALL => Frame::RenewInstall {
            request: take_u64(&mut b, "request")?,
            session: take_u64(&mut b, "session")?,
            chain: take_chain(&mut b)?,
        },
        KIND_RENEW_REPLY => {
            let request = take_u64(&mut b, "request")?;
            if !b.has_remaining() {
                return Err(DecodeError::EmptyField("reply"));
            }
            Frame::RenewReply {
                request,
                reply: b.split_to(b.remaining()),
            }
        }
        other => return Err(DecodeError::UnknownKind(other)),
    };
    if b.has_remaining() {
        return Err(DecodeError::Trailing(b.remaining()));
    }
    Ok(frame)
}

/// A certificate chain: count `u8` (1 to [`MAX_UPDATE_CHAIN`]), then per certificate
/// `len: u16` (1 or more) and its DER.
fn take_chain(b: &mut Bytes) -> Result<Vec<Bytes>, DecodeError> {
    let count = take_u8(b, "chain length")? as usize;
    if count == 0 {
        return Err(DecodeError::EmptyField("certificate chain"));
    }
    if count > MAX_UPDATE_CHAIN {
        return Err(DecodeError::TooMany {
            what: "certificates in a chain",
            max: MAX_UPDATE_CHAIN,
        });
    }
    let mut chain = Vec::with_capacity(count);
    for _ in 0..count {
        let n = take_u16(b, "certificate length")? as usize;
        if n == 0 {
            return Err(DecodeError::EmptyField("certificate"));
        }
        chain.push(take_bytes(b, n, "certificate")?);
    }
    Ok(chain)
}

fn put_chain(buf: &mut BytesMut, chain: &[Bytes]) {
    // Fields that do not fit their length prefix are cut, as text is; a node only sends
    // chains that reign-tls bounds.
    let chain = &chain[..chain.len().min(MAX_UPDATE_CHAIN)];
    buf.put_u8(chain.len() as u8);
    for c in chain {
        let c = &c[..c.len().min(u16::MAX as usize)];
        buf.put_u16(c.len() as u16);
        buf.put_slice(c);
    }
}

fn take_u8(b: &mut Bytes, what: &'static str) -> Result<u8, DecodeError> {
    if b.remaining() < 1 {
        return Err(DecodeError::Truncated(what));
    }
    Ok(b.get_u8())
}

fn take_u16(b: &mut Bytes, what: &'static str) -> Result<u16, DecodeError> {
    if b.remaining() < 2 {
        return Err(DecodeError::Truncated(what));
    }
    Ok(b.get_u16())
}

fn take_u64(b: &mut Bytes, what: &'static str) -> Result<u64, DecodeError> {
    if b.remaining() < 8 {
        return Err(DecodeError::Truncated(what));
    }
    Ok(b.get_u64())
}

fn take_bytes(b: &mut Bytes, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
    if b.remaining() < n {
        return Err(DecodeError::Truncated(what));
    }
    Ok(b.split_to(n))
}

fn take_text(b: &mut Bytes, n: usize, what: &'static str) -> Result<Text, DecodeError> {
    if b.remaining() < n {
        return Err(DecodeError::Truncated(what));
    }
    Text::from_bytes(b.split_to(n), what)
}

/// A `u8` length, then that many bytes of non-empty UTF-8.
fn take_text_u8(b: &mut Bytes, what: &'static str) -> Result<Text, DecodeError> {
    let n = take_u8(b, what)? as usize;
    if n == 0 {
        return Err(DecodeError::EmptyField(what));
    }
    take_text(b, n, what)
}

/// Appends `frame` to `buf`.
pub(crate) fn encode(frame: &Frame, buf: &mut BytesMut) {
    let start = buf.len();
    buf.put_u32(0); // patched below
    match frame {
        Frame::Send {
            target,
            target_incarnation,
            tag,
            payload,
        } => {
            buf.put_u8(KIND_SEND);
            buf.put_u64(*target);
            buf.put_u64(*target_incarnation);
            put_text_u8(buf, tag.as_str());
            buf.put_slice(payload);
        }
        Frame::SendNamed { name, tag, payload } => {
            buf.put_u8(KIND_SEND_NAMED);
            put_text_u8(buf, name.as_str());
            put_text_u8(buf, tag.as_str());
            buf.put_slice(payload);
        }
        Frame::Monitor {
            monitor,
            watcher,
            target,
            target_incarnation,
        } => {
            buf.put_u8(KIND_MONITOR);
            buf.put_u64(*monitor);
            buf.put_u64(*watcher);
            buf.put_u64(*target);
            buf.put_u64(*target_incarnation);
        }
        Frame::Demonitor { monitor } => {
            buf.put_u8(KIND_DEMONITOR);
            buf.put_u64(*monitor);
        }
        Frame::Link {
            monitor,
            watcher,
            target,
            target_incarnation,
        } => {
            buf.put_u8(KIND_LINK);
            buf.put_u64(*monitor);
            buf.put_u64(*watcher);
            buf.put_u64(*target);
            buf.put_u64(*target_incarnation);
        }
        Frame::Exit {
            from,
            target,
            target_incarnation,
            reason,
            text,
        } => {
            buf.put_u8(KIND_EXIT);
            buf.put_u64(*from);
            buf.put_u64(*target);
            buf.put_u64(*target_incarnation);
            buf.put_u8(*reason);
            let t = truncate(text.as_str(), u16::MAX as usize);
            buf.put_u16(t.len() as u16);
            buf.put_slice(t.as_bytes());
        }
        Frame::Unlink {
            from,
            target,
            target_incarnation,
        } => {
            buf.put_u8(KIND_UNLINK);
            buf.put_u64(*from);
            buf.put_u64(*target);
            buf.put_u64(*target_incarnation);
        }
        Frame::Down {
            monitor,
            watcher,
            target,
            target_incarnation,
            reason,
            text,
        } => {
            buf.put_u8(KIND_DOWN);
            buf.put_u64(*monitor);
            buf.put_u64(*watcher);
            buf.put_u64(*target);
            buf.put_u64(*target_incarnation);
            buf.put_u8(*reason);
            let t = truncate(text.as_str(), u16::MAX as usize);
            buf.put_u16(t.len() as u16);
            buf.put_slice(t.as_bytes());
        }
        Frame::Heartbeat { nonce } => {
            buf.put_u8(KIND_HEARTBEAT);
            buf.put_u64(*nonce);
        }
        Frame::Goodbye { reason } => {
            buf.put_u8(KIND_GOODBYE);
            buf.put_u8(*reason);
        }
        Frame::Lookup { request, name } => {
            buf.put_u8(KIND_LOOKUP);
            buf.put_u64(*request);
            put_text_u8(buf, name.as_str());
        }
        Frame::LookupReply { request, found } => {
            buf.put_u8(KIND_LOOKUP_REPLY);
            buf.put_u64(*request);
            match found {
                Some((mailbox, tag)) => {
                    buf.put_u8(0);
                    buf.put_u64(*mailbox);
                    put_text_u8(buf, tag.as_str());
                }
                None => buf.put_u8(1),
            }
        }
        Frame::NameAdd {
            name,
            mailbox,
            tag,
            registered_at,
        } => {
            buf.put_u8(KIND_NAME_ADD);
            put_text_u8(buf, name.as_str());
            buf.put_u64(*mailbox);
            put_text_u8(buf, tag.as_str());
            buf.put_u64(*registered_at);
        }
        Frame::NameRemove { name, mailbox } => {
            buf.put_u8(KIND_NAME_REMOVE);
            put_text_u8(buf, name.as_str());
            buf.put_u64(*mailbox);
        }
        Frame::GroupJoin {
            group,
            mailbox,
            tag,
        } => {
            buf.put_u8(KIND_GROUP_JOIN);
            put_text_u8(buf, group.as_str());
            buf.put_u64(*mailbox);
            put_text_u8(buf, tag.as_str());
        }
        Frame::GroupLeave { group, mailbox } => {
            buf.put_u8(KIND_GROUP_LEAVE);
            put_text_u8(buf, group.as_str());
            buf.put_u64(*mailbox);
        }
        Frame::Synced => buf.put_u8(KIND_SYNCED),
        Frame::CertUpdate {
            scheme,
            signature,
            chain,
        } => {
            buf.put_u8(KIND_CERT_UPDATE);
            buf.put_u16(*scheme);
            let sig = &signature[..signature.len().min(u16::MAX as usize)];
            buf.put_u16(sig.len() as u16);
            buf.put_slice(sig);
            put_chain(buf, chain);
        }
        Frame::Advertise { addr } => {
            buf.put_u8(KIND_ADVERTISE);
            put_text_u8(buf, addr.as_str());
        }
        Frame::Hint { node, addr } => {
            buf.put_u8(KIND_HINT);
            put_text_u8(buf, node.as_str());
            put_text_u8(buf, addr.as_str());
        }
        Frame::RenewPrepare { request, session } => {
            buf.put_u8(KIND_RENEW_PREPARE);
            buf.put_u64(*request);
            buf.put_u64(*session);
        }
        Frame::RenewInstall {
            request,
            session,
            chain,
        } => {
            buf.put_u8(KIND_RENEW_INSTALL);
            buf.put_u64(*request);
            buf.put_u64(*session);
            put_chain(buf, chain);
        }
        Frame::RenewReply { request, reply } => {
            buf.put_u8(KIND_RENEW_REPLY);
            buf.put_u64(*request);
            buf.put_slice(reply);
        }
    }
    patch_length(buf, start);
}

/// Appends a SEND frame whose payload is written by `write_payload`, without building a
/// [`Frame`] (the hot path of a remote send). Returns the frame's total size.
pub(crate) fn encode_send<E>(
    buf: &mut BytesMut,
    target: u64,
    target_incarnation: u64,
    tag: &str,
    write_payload: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<usize, E> {
    let start = buf.len();
    let tag = truncate(tag, u8::MAX as usize);
    // The fixed part in one copy (the length is patched in below): this runs per message.
    let mut head = [0u8; 22];
    head[4] = KIND_SEND;
    head[5..13].copy_from_slice(&target.to_be_bytes());
    head[13..21].copy_from_slice(&target_incarnation.to_be_bytes());
    head[21] = tag.len() as u8;
    buf.extend_from_slice(&head);
    buf.extend_from_slice(tag.as_bytes());
    if let Err(e) = write_payload(buf) {
        buf.truncate(start);
        return Err(e);
    }
    patch_length(buf, start);
    Ok(buf.len() - start)
}

/// Appends a SEND_NAMED frame whose payload is written by `write_payload` (as
/// [`encode_send`]). Returns the frame's total size.
pub(crate) fn encode_send_named<E>(
    buf: &mut BytesMut,
    name: &str,
    tag: &str,
    write_payload: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<usize, E> {
    let start = buf.len();
    buf.put_u32(0);
    buf.put_u8(KIND_SEND_NAMED);
    put_text_u8(buf, name);
    put_text_u8(buf, tag);
    if let Err(e) = write_payload(buf) {
        buf.truncate(start);
        return Err(e);
    }
    patch_length(buf, start);
    Ok(buf.len() - start)
}

fn patch_length(buf: &mut BytesMut, start: usize) {
    let len = (buf.len() - start - LENGTH_BYTES) as u32;
    buf[start..start + LENGTH_BYTES].copy_from_slice(&len.to_be_bytes());
}

fn put_text_u8(buf: &mut BytesMut, s: &str) {
    let s = truncate(s, u8::MAX as usize);
    buf.put_u8(s.len() as u8);
    buf.put_slice(s.as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 1 << 20;

    fn all_kinds() -> Vec<Frame> {
        vec![
            Frame::Send {
                target: 42,
                target_incarnation: 0x0102030405060708,
                tag: Text::new("u64"),
                payload: Bytes::from_static(&[7]),
            },
            Frame::SendNamed {
                name: Text::new("echo"),
                tag: Text::new("reign.echo.Request"),
                payload: Bytes::from_static(b"xyz"),
            },
            Frame::Monitor {
                monitor: 1,
                watcher: 2,
                target: 3,
                target_incarnation: 4,
            },
            Frame::Demonitor { monitor: 9 },
            Frame::Link {
                monitor: 1,
                watcher: 2,
                target: 3,
                target_incarnation: 4,
            },
            Frame::Exit {
                from: 2,
                target: 3,
                target_incarnation: 4,
                reason: DOWN_PANIC,
                text: Text::new("boom"),
            },
            Frame::Unlink {
                from: 2,
                target: 3,
                target_incarnation: 4,
            },
            Frame::Down {
                monitor: 1,
                watcher: 2,
                target: 3,
                target_incarnation: 4,
                reason: DOWN_USER,
                text: Text::new("crashed"),
            },
            Frame::Heartbeat { nonce: 5 },
            Frame::Goodbye { reason: 0 },
            Frame::Lookup {
                request: 8,
                name: Text::new("echo"),
            },
            Frame::LookupReply {
                request: 8,
                found: Some((12, Text::new("t"))),
            },
            Frame::LookupReply {
                request: 8,
                found: None,
            },
            Frame::NameAdd {
                name: Text::new("chat.alice"),
                mailbox: 3,
                tag: Text::new("chat.Line"),
                registered_at: 1_700_000_000_000,
            },
            Frame::NameRemove {
                name: Text::new("chat.alice"),
                mailbox: 3,
            },
            Frame::GroupJoin {
                group: Text::new("room"),
                mailbox: 3,
                tag: Text::new("chat.Line"),
            },
            Frame::GroupLeave {
                group: Text::new("room"),
                mailbox: 3,
            },
            Frame::Synced,
            Frame::CertUpdate {
                scheme: 0x0403,
                signature: Bytes::from_static(b"sig"),
                chain: vec![Bytes::from_static(b"leaf"), Bytes::from_static(b"ca")],
            },
            Frame::Advertise {
                addr: Text::new("10.0.0.5:7001"),
            },
            Frame::Hint {
                node: Text::new("c"),
                addr: Text::new("c.svc:7001"),
            },
            Frame::RenewPrepare {
                request: 9,
                session: 3,
            },
            Frame::RenewInstall {
                request: 9,
                session: 3,
                chain: vec![Bytes::from_static(b"leaf")],
            },
            Frame::RenewReply {
                request: 9,
                reply: Bytes::from_static(&[0x7f, 0, 2, 0, 0]),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_even_in_one_buffer() {
        let mut buf = BytesMut::new();
        for f in all_kinds() {
            encode(&f, &mut buf);
        }
        for f in all_kinds() {
            assert_eq!(decode(&mut buf, MAX).unwrap(), Some(f));
        }
        assert_eq!(decode(&mut buf, MAX).unwrap(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn send_has_the_documented_bytes() {
        let mut buf = BytesMut::new();
        let n = encode_send(&mut buf, 42, 0x0102030405060708, "u64", |b| {
            b.put_u8(7);
            Ok::<(), ()>(())
        })
        .unwrap();
        // The worked example of docs/PROTOCOL.md.
        let want: &[u8] = &[
            0, 0, 0, 0x16, 0x10, 0, 0, 0, 0, 0, 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 8, 3, b'u', b'6',
            b'4', 7,
        ];
        assert_eq!(&buf[..], want);
        assert_eq!(n, want.len());
        assert_eq!(decode(&mut buf, MAX).unwrap(), Some(all_kinds().remove(0)));
    }

    #[test]
    fn send_named_written_in_place_is_the_frame() {
        let frame = all_kinds().remove(1);
        let mut want = BytesMut::new();
        encode(&frame, &mut want);
        let mut got = BytesMut::new();
        encode_send_named(&mut got, "echo", "reign.echo.Request", |b| {
            b.put_slice(b"xyz");
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn a_failed_payload_leaves_the_buffer_as_it_was() {
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert!(
            encode_send(&mut buf, 1, 1, "t", |b| {
                b.put_slice(b"partial");
                Err(())
            })
            .is_err()
        );
        assert_eq!(&buf[..], b"abc");
    }

    #[test]
    fn oversized_and_empty_lengths_are_refused_before_the_body_arrives() {
        let mut buf = BytesMut::from(&[0u8, 0x10, 0, 1][..]);
        assert_eq!(
            decode(&mut buf, 4096),
            Err(DecodeError::TooLarge {
                len: 0x100001,
                max: 4096
            })
        );
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0][..]);
        assert_eq!(decode(&mut buf, 4096), Err(DecodeError::Empty));
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        for (body, want) in [
            (&[0x99u8][..], DecodeError::UnknownKind(0x99)),
            (
                &[KIND_DEMONITOR, 0, 0][..],
                DecodeError::Truncated("monitor"),
            ),
            (&[KIND_GOODBYE, 0, 1][..], DecodeError::Trailing(1)),
            (
                &[KIND_LOOKUP, 0, 0, 0, 0, 0, 0, 0, 1, 0][..],
                DecodeError::EmptyField("name"),
            ),
            (
                &[KIND_LOOKUP, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xff][..],
                DecodeError::NotUtf8("name"),
            ),
        ] {
            let mut buf = BytesMut::new();
            buf.put_u32(body.len() as u32);
            buf.put_slice(body);
            assert_eq!(decode(&mut buf, MAX), Err(want), "{body:?}");
        }
    }

    #[test]
    fn peek_sees_send_frames_in_place_and_defers_the_rest() {
        let mut buf = BytesMut::new();
        encode_send(&mut buf, 42, 7, "u64", |b| {
            b.put_u8(9);
            Ok::<(), ()>(())
        })
        .unwrap();
        let first = buf.len();
        encode(&Frame::Heartbeat { nonce: 1 }, &mut buf);
        assert_eq!(
            peek(&buf, MAX).unwrap(),
            Some(Peeked::Send {
                total: first,
                target: 42,
                target_incarnation: 7,
                tag: b"u64",
                payload: &[9]
            })
        );
        assert_eq!(peek(&buf[first..], MAX).unwrap(), Some(Peeked::Other));
        assert_eq!(peek(&buf[..first - 1], MAX).unwrap(), None);
        let bad = [0u8, 0, 0, 3, KIND_SEND, 0, 0];
        assert_eq!(peek(&bad, MAX), Err(DecodeError::Truncated("SEND header")));
    }

    proptest! {
        #[test]
        fn peek_never_panics_and_agrees_with_decode(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let peeked = peek(&bytes, 4096);
            let mut buf = BytesMut::from(&bytes[..]);
            let decoded = decode(&mut buf, 4096);
            match (peeked, decoded) {
                (Ok(Some(Peeked::Send { target, target_incarnation, tag, payload, .. })), Ok(Some(Frame::Send { target: t, target_incarnation: i, tag: g, payload: p }))) => {
                    prop_assert_eq!((target, target_incarnation, tag, payload), (t, i, g.as_str().as_bytes(), &p[..]));
                }
                // A SEND whose tag is not UTF-8: peek passes it on (it will not match any
                // mailbox), decode refuses it.
                (Ok(Some(Peeked::Send { .. })), Err(DecodeError::NotUtf8(_))) => {}
                (Ok(Some(Peeked::Other)), Ok(Some(f))) => {
                    let is_send = matches!(f, Frame::Send { .. });
                    prop_assert!(!is_send);
                }
                (Ok(Some(Peeked::Other)), Err(_)) => {}
                (Ok(None), Ok(None)) => {}
                (Err(_), Err(_)) => {}
                (p, d) => prop_assert!(false, "peek {:?} vs decode {:?}", p, d),
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_never_over_consume(bytes in proptest::collection::vec(any::<u8>(), 0..2048), max in 1usize..4096) {
            let mut buf = BytesMut::from(&bytes[..]);
            loop {
                let before = buf.len();
                match decode(&mut buf, max) {
                    Ok(Some(_)) => prop_assert!(buf.len() < before),
                    Ok(None) => { prop_assert_eq!(buf.len(), before); break; }
                    Err(_) => break,
                }
            }
        }

        #[test]
        fn every_truncation_of_valid_frames_is_incomplete_not_an_error(cut in 0usize..400) {
            let mut whole = BytesMut::new();
            for f in all_kinds() {
                encode(&f, &mut whole);
            }
            let cut = cut.min(whole.len());
            let mut buf = BytesMut::from(&whole[..cut]);
            let mut n = 0;
            while decode(&mut buf, MAX).unwrap().is_some() {
                n += 1;
            }
            prop_assert!(n <= all_kinds().len());
            // Feeding the rest completes every frame.
            buf.extend_from_slice(&whole[cut..]);
            while decode(&mut buf, MAX).unwrap().is_some() {
                n += 1;
            }
            prop_assert_eq!(n, all_kinds().len());
        }

        #[test]
        fn send_frames_round_trip(target: u64, inc: u64, tag in "[a-z.]{1,40}", payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut buf = BytesMut::new();
            encode_send(&mut buf, target, inc, &tag, |b| { b.put_slice(&payload); Ok::<(), ()>(()) }).unwrap();
            let f = decode(&mut buf, MAX).unwrap().unwrap();
            prop_assert_eq!(f, Frame::Send { target, target_incarnation: inc, tag: Text::new(&tag), payload: Bytes::from(payload) });
        }

        /// The run extension's one-slice compare agrees with a parse and a compare of the
        /// fields, for frames close to the run's (same or nearby fields, cut, a byte flipped)
        /// and for any bytes.
        #[test]
        fn next_same_send_agrees_with_peek(
            target in 1u64..3, inc in 1u64..3, tag in "[ab]{1,2}",
            payload in proptest::collection::vec(any::<u8>(), 0..40),
            cut in 0usize..80, flip in proptest::option::of((0usize..80, any::<u8>())),
            noise in proptest::collection::vec(any::<u8>(), 0..60), use_noise: bool,
            max in prop_oneof![Just(MAX), 0usize..70],
        ) {
            let mut run = BytesMut::new();
            encode_send(&mut run, 1, 1, "a", |b| { b.put_slice(&[9]); Ok::<(), ()>(()) }).unwrap();
            let header = &run[LENGTH_BYTES..run.len() - 1];
            let mut next = BytesMut::new();
            if use_noise {
                next.extend_from_slice(&noise);
            } else {
                encode_send(&mut next, target, inc, &tag, |b| { b.put_slice(&payload); Ok::<(), ()>(()) }).unwrap();
                if let Some((at, byte)) = flip && at < next.len() {
                    next[at] = byte;
                }
                next.truncate(cut.max(1).min(next.len()).max(if cut % 2 == 0 { next.len() } else { 0 }));
            }
            let expected = match peek(&next, max) {
                Ok(Some(Peeked::Send { total, target: 1, target_incarnation: 1, tag: b"a", payload })) => Some((total, payload)),
                _ => None,
            };
            prop_assert_eq!(next_same_send(&next, header, max), expected);
        }
    }
}
