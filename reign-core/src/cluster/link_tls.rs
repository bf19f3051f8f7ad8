//! The TLS stream a link runs over once its handshake is done: rustls' connection over the
//! TCP socket, driven here instead of by tokio-rustls, so that it can be driven from two
//! places. The link's task drives it on the application's runtime, where the socket is
//! registered (no thread hop on the data path); while that runtime stalls, the node's own
//! thread drives it in *raw* mode (see [`super::rescue`]): plain non-blocking reads and
//! writes on the socket that neither consult nor touch the stalled runtime's reactor.
//!
//! The logic is tokio-rustls' (`common::Stream`): plaintext out of rustls first, TLS records
//! in from the socket when there is none; plaintext into rustls, records out to the socket
//! as far as it takes them, with rustls' default 64 KiB limit on what waits to be sent.

use std::io::{self, BufRead, IoSlice, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A link's authenticated TLS stream (see the module docs).
pub(crate) struct LinkTls {
    tcp: TcpStream,
    conn: rustls::Connection,
    /// Set while the node's thread drives the stream (raw mode).
    raw: Arc<AtomicBool>,
    /// The socket reported its end.
    eof: bool,
    /// Bytes read from the socket and not yet given to rustls (`rx_start..rx_end`): one
    /// system call reads up to [`RX_CHUNK`], where rustls alone reads 4 KiB per call.
    /// Allocated at the first read.
    rx: Option<Box<[u8]>>,
    rx_start: usize,
    rx_end: usize,
    /// An error met after plaintext was handed out, for the next read.
    error: Option<io::Error>,
    /// close_notify is queued (once, however often shutdown is polled).
    closing: bool,
    /// Bytes of records given to rustls in this poll of the link's task since it last
    /// yielded.
    fed: usize,
    /// The poll `fed` counts in (see [`rescue::still_in`](super::rescue::still_in)).
    fed_in: u64,
}

/// How many bytes of TLS records a read hands to rustls before the reading task yields.
const FED_PER_YIELD: usize = 64 * 1024;

/// The most one read from the socket takes.
const RX_CHUNK: usize = 64 * 1024;

impl LinkTls {
    /// Takes over a handshaken tokio-rustls stream. The socket is registered again with the
    /// reactor of the runtime this is called on: the runtime that will drive the stream.
    pub(crate) fn new(
        tls: tokio_rustls::TlsStream<TcpStream>,
        raw: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let (tcp, conn): (TcpStream, rustls::Connection) = match tls {
            tokio_rustls::TlsStream::Client(s) => {
                let (tcp, c) = s.into_inner();
                (tcp, c.into())
            }
            tokio_rustls::TlsStream::Server(s) => {
                let (tcp, c) = s.into_inner();
                (tcp, c.into())
            }
        };
        // `into_std` leaves the socket non-blocking, as `from_std` wants it.
        let tcp = TcpStream::from_std(tcp.into_std()?)?;
        Ok(Self {
            tcp,
            conn,
            raw,
            eof: false,
            rx: None,
            rx_start: 0,
            rx_end: 0,
            error: None,
            closing: false,
            fed: 0,
            fed_in: super::rescue::poll_number(),
        })
    }

    /// Gives rustls TLS records (read from the socket when none are staged) and processes
    /// them: `Ok(0)` at the socket's end.
    fn read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.rx_start == self.rx_end {
            let mut io = SocketIo {
                tcp: &mut self.tcp,
                cx,
                raw: self.raw.load(Ordering::Acquire),
            };
            let rx = self
                .rx
                .get_or_insert_with(|| vec![0; RX_CHUNK].into_boxed_slice());
            match io.read(rx) {
                // The socket's end, for rustls to see.
                Ok(0) => return Poll::Ready(self.conn.read_tls(&mut io::empty())),
                Ok(n) => (self.rx_start, self.rx_end) = (0, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let staged = self.rx.as_deref().unwrap_or_default();
        let n = self
            .conn
            .read_tls(&mut &staged[self.rx_start..self.rx_end])?;
        self.rx_start += n;
        self.fed += n;
        if let Err(e) = self.conn.process_new_packets() {
            // rustls queued an alert for the peer: one attempt to send it.
            let _ = self.write_tls(cx);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
        }
        if self.conn.wants_write() {
            // A key update's answer, say: sent now if the socket takes it, else with the
            // next write.
            let _ = self.write_tls(cx);
        }
        Poll::Ready(Ok(n))
    }

    /// Writes what rustls has ready to the socket.
    fn write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut io = SocketIo {
            tcp: &mut self.tcp,
            cx,
            raw: self.raw.load(Ordering::Acquire),
        };
        match self.conn.write_tls(&mut io) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            r => Poll::Ready(r),
        }
    }

    /// Writes records until rustls has none left (`Ready`), or the socket is full.
    fn flush_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            match self.write_tls(cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for LinkTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.error.take() {
            return Poll::Ready(Err(e));
        }
        if !super::rescue::still_in(&mut this.fed_in) {
            // The task gave its worker back since: what it fed before does not count.
            this.fed = 0;
        }
        let mut copied = 0;
        loop {
            loop {
                match this.conn.reader().into_first_chunk() {
                    // The peer's close_notify: the end of the stream (whether or not its
                    // socket stays open).
                    Ok([]) => {
                        this.eof = true;
                        break;
                    }
                    Ok(chunk) => {
                        let n = chunk.len().min(buf.remaining());
                        buf.put_slice(&chunk[..n]);
                        this.conn.reader().consume(n);
                        copied += n;
                        if buf.remaining() == 0 {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The socket ended without close_notify (`UnexpectedEof`), say.
                    Err(e) if copied == 0 => return Poll::Ready(Err(e)),
                    Err(_) => break,
                }
            }
            if this.eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // More plaintext while records are staged; no further system call once some
            // was handed out.
            if copied > 0 && this.rx_start == this.rx_end {
                return Poll::Ready(Ok(()));
            }
            if this.fed >= FED_PER_YIELD {
                // What a record costs to open does not depend on what it carries (records of
                // padding carry nothing): the task yields after [`FED_PER_YIELD`] bytes of
                // records in one poll, whatever they held, so that no peer's records keep a
                // worker (or the node's thread) for long.
                if copied > 0 {
                    return Poll::Ready(Ok(()));
                }
                this.fed = 0;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match this.read_tls(cx) {
                Poll::Ready(Ok(0)) => this.eof = true,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) if copied == 0 => return Poll::Ready(Err(e)),
                Poll::Ready(Err(e)) => {
                    // Handed out with the next read.
                    this.error = Some(e);
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending if copied == 0 => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl AsyncWrite for LinkTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut pos = 0;
        while pos < buf.len() {
            pos += this.conn.writer().write(&buf[pos..])?;
            match this.flush_tls(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Taken as far as rustls' buffer goes; the rest waits for the socket.
                Poll::Pending if pos == 0 => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Ok(pos)),
            }
        }
        Poll::Ready(Ok(pos))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.writer().flush()?;
        this.flush_tls(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            this.closing = true;
            this.conn.send_close_notify();
        }
        std::task::ready!(this.flush_tls(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

/// The socket as rustls reads and writes it: through the runtime's reactor (readiness
/// cached, a waker registered when the socket has nothing or no room), or, in raw mode,
/// straight to the system with no waker anywhere.
///
/// Through the reactor, a read shorter than [`DRAINED_BELOW`] clears the cached readiness
/// (as tokio's `poll_read` does for any short read on edge-triggered epoll), so the next
/// read waits for the reactor instead of making a system call that finds nothing: one
/// `recvfrom` fewer per message hop in a ping-pong. Longer reads keep it: a stream of large
/// messages reads again at once. Writes keep the readiness after a short write (tokio's
/// `poll_write` clears it, which cost a stream of 1 MiB messages 5 to 10% of its rate:
/// the next write usually finds room at once).
struct SocketIo<'a, 'b> {
    tcp: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
    raw: bool,
}

/// A poll's answer as a blocking-style result: `Pending` is `WouldBlock` (the waker is
/// registered).
fn ready<T>(p: Poll<io::Result<T>>) -> io::Result<T> {
    match p {
        Poll::Ready(r) => r,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// A read shorter than this (less than one full TLS record) is taken to have drained the
/// socket: its cached readiness is cleared, and the next read waits for the reactor. A
/// longer one is followed by another read at once, which a peer streaming records back to
/// back usually has bytes for (waiting for the reactor there costs a wake-up per read).
const DRAINED_BELOW: usize = 16 * 1024 + 256;

impl Read for SocketIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let sock = socket2::SockRef::from(&*self.tcp);
        if self.raw {
            return (&*sock).read(buf);
        }
        loop {
            let mut drained = None;
            let r = self.tcp.try_io(tokio::io::Interest::READABLE, || {
                let n = (&*sock).read(buf)?;
                if n > 0 && n < DRAINED_BELOW.min(buf.len()) {
                    // Reported as "would block" so that tokio clears the readiness it saw
                    // before this read (not a newer one): the bytes are handed out below.
                    drained = Some(n);
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            });
            match (r, drained) {
                (_, Some(n)) => return Ok(n),
                (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready(self.tcp.poll_read_ready(self.cx))?;
                }
                (r, None) => return r,
            }
        }
    }
}

impl SocketIo<'_, '_> {
    /// Writes with `op` until it does not block, registering for readiness when it does
    /// (never in raw mode). A short write keeps the cached readiness: the next write is
    /// tried at once.
    fn write_with(
        &mut self,
        op: impl Fn(&socket2::Socket) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let sock = socket2::SockRef::from(&*self.tcp);
        if self.raw {
            return op(&sock);
        }
        loop {
            match self.tcp.try_io(tokio::io::Interest::WRITABLE, || op(&sock)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready(self.tcp.poll_write_ready(self.cx))?;
                }
                r => return r,
            }
        }
    }
}

impl Write for SocketIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_with(|mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
