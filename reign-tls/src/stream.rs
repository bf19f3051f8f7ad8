//! An authenticated connection: the TLS stream plus the peer's proven identity.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

use crate::certinfo::CertificateDetails;
use crate::identity::{Incarnation, NodeId};

/// Which side of the connection this node was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This node dialed.
    Dialer,
    /// This node accepted.
    Acceptor,
}

/// What the peer of an [`AuthenticatedStream`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerKind {
    /// A node of the cluster (ALPN `reign/1`): the connection is a link.
    Node,
    /// An operator (ALPN `reign-operator/1`, a CN in
    /// [`TlsConfig::operators`](crate::TlsConfig::operators)): the connection carries operator
    /// requests only, and is never a link.
    Operator,
}

/// Who is at the other end of an [`AuthenticatedStream`], as proven by its certificate and
/// its hello (the node ID is the certificate's CN; the hello had to agree with it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The peer's node ID, proven by its certificate.
    pub node_id: NodeId,
    /// The peer's incarnation from its hello.
    pub incarnation: Incarnation,
    /// The peer's cluster name (equal to ours, or the connection would have been refused).
    pub cluster: String,
    /// The peer's leaf certificate.
    pub certificate: CertificateDetails,
    /// The instant the peer's verified certificate chain stops being valid: the earliest
    /// notAfter among its leaf, the intermediates of the path that verified, and the CA
    /// certificate that path ends at. At most [`CertificateDetails::not_after`] of
    /// [`certificate`](Self::certificate). The TLS handshake checks validity only once; a
    /// link that must not outlive its peer's certificate ends itself at this instant (the
    /// peer may reconnect with a renewed one).
    pub valid_until: SystemTime,
    /// The peer's socket address.
    pub addr: SocketAddr,
    /// Whether this node dialed or accepted.
    pub role: Role,
    /// A node, or an operator.
    pub kind: PeerKind,
    /// The negotiated key exchange group, e.g. `X25519MLKEM768`.
    pub key_exchange_group: Option<rustls::NamedGroup>,
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<rustls::CipherSuite>,
    /// The chain the peer presented (leaf first), for checking it again after a reload of
    /// this node's material ([`TlsEndpoint::recheck`](crate::TlsEndpoint::recheck)).
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// This connection's TLS exporter value for certificate updates (see
    /// [`CertificateUpdate`](crate::CertificateUpdate)); the same at both ends.
    pub(crate) exporter: [u8; 32],
}

/// A mutual-TLS connection whose peer passed every identity check. Every byte read from it
/// comes from [`PeerInfo::node_id`].
///
/// It implements [`AsyncRead`] and [`AsyncWrite`]; use [`into_parts`](Self::into_parts) to
/// split off the identity.
pub struct AuthenticatedStream {
    io: TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl std::fmt::Debug for AuthenticatedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticatedStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl AuthenticatedStream {
    pub(crate) fn new(io: TlsStream<TcpStream>, peer: PeerInfo) -> Self {
        Self { io, peer }
    }

    /// The peer's proven identity.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The TLS stream and the peer's identity.
    pub fn into_parts(self) -> (TlsStream<TcpStream>, PeerInfo) {
        (self.io, self.peer)
    }
}

impl AsyncRead for AuthenticatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for AuthenticatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
