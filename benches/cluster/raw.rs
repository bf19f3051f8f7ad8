//! The raw tokio-rustls baseline's client loops and its frame parser.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream as ClientTls;

use super::{BLOB, CHUNK, FRAME, KIND_SEND, PAYLOAD, TAG};

/// `trips` sequential round trips of one frame through the raw echo server.
pub(crate) async fn raw_round_trips(
    mut tls: ClientTls<TcpStream>,
    trips: usize,
) -> (Vec<Duration>, ClientTls<TcpStream>) {
    let mut frame = Vec::new();
    put_frame(&mut frame);
    let mut buf = Inbound::default();
    let mut times = Vec::with_capacity(trips);
    for _ in 0..trips {
        let t = Instant::now();
        tls.write_all(&frame).await.expect("raw write");
        tls.flush().await.expect("raw flush");
        while buf.parse_frames() == 0 {
            assert!(buf.read_from(&mut tls).await, "raw echo closed");
        }
        times.push(t.elapsed());
    }
    (times, tls)
}

/// `(frames to wait for, where to report the time the last one arrived)`.
pub(crate) type Job = (u64, tokio::sync::oneshot::Sender<Instant>);

/// Writes `n` frames, batched in chunks of up to 64 KiB, from a worker of the runtime, and
/// returns the time until the server parsed the last one.
pub(crate) async fn raw_stream_round(
    side: &tokio::runtime::Handle,
    tls: ClientTls<TcpStream>,
    jobs: &mpsc::UnboundedSender<Job>,
    n: u64,
) -> (Duration, ClientTls<TcpStream>) {
    let (done_tx, done) = tokio::sync::oneshot::channel();
    jobs.send((n, done_tx)).expect("raw server");
    let client = side.spawn(async move {
        let mut tls = tls;
        let start = write_frames(&mut tls, n).await;
        (start, tls)
    });
    let (start, tls) = client.await.expect("raw client");
    let end = done.await.expect("raw server");
    (end - start, tls)
}

/// Writes `n` SEND frames, built into a buffer and written in chunks of up to 64 KiB, then
/// flushes; returns when it started.
pub(crate) async fn write_frames<W>(tls: &mut W, n: u64) -> Instant
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let start = Instant::now();
    let mut buf = Vec::with_capacity(CHUNK + FRAME);
    for _ in 0..n {
        put_frame(&mut buf);
        if buf.len() >= CHUNK {
            tls.write_all(&buf).await.expect("raw write");
            buf.clear();
        }
    }
    tls.write_all(&buf).await.expect("raw write");
    tls.flush().await.expect("raw flush");
    start
}

/// Appends one SEND frame, field by field as reign's encoder does.
pub(crate) fn put_frame(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&((FRAME - 4) as u32).to_be_bytes());
    buf.push(KIND_SEND);
    buf.extend_from_slice(&1u64.to_be_bytes()); // target mailbox
    buf.extend_from_slice(&0x1234_5678_9abc_def0u64.to_be_bytes()); // target incarnation
    buf.push(TAG.len() as u8);
    buf.extend_from_slice(TAG.as_bytes());
    buf.push((PAYLOAD - 1) as u8);
    buf.extend_from_slice(&BLOB.0);
}

/// A receive buffer of length-prefixed frames: bytes read, and how far they were consumed.
#[derive(Default)]
pub(crate) struct Inbound {
    data: Vec<u8>,
    pos: usize,
}

impl Inbound {
    /// Reads more bytes; false at the end of the stream.
    pub(crate) async fn read_from<R: tokio::io::AsyncRead + Unpin>(&mut self, rd: &mut R) -> bool {
        if self.pos > 0 {
            self.data.drain(..self.pos);
            self.pos = 0;
        }
        self.data.reserve(16 * 1024);
        matches!(rd.read_buf(&mut self.data).await, Ok(n) if n > 0)
    }

    /// The next whole frame, consumed; panics on a malformed one.
    pub(crate) fn next_frame(&mut self) -> Option<&[u8]> {
        let rest = &self.data[self.pos..];
        let h = rest.get(..5)?;
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        assert!(len > 0 && h[4] == KIND_SEND, "malformed frame");
        if rest.len() < 4 + len {
            return None;
        }
        let start = self.pos;
        self.pos += 4 + len;
        Some(&self.data[start..self.pos])
    }

    /// Consumes the whole frames buffered, returning how many.
    pub(crate) fn parse_frames(&mut self) -> u64 {
        let mut n = 0;
        while self.next_frame().is_some() {
            n += 1;
        }
        n
    }
}

/// Echoes every frame of one raw connection until it ends (the ping-pong's raw server).
pub(crate) async fn raw_echo<S>(mut tls: tokio_rustls::server::TlsStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Inbound::default();
    loop {
        let Some(frame) = buf.next_frame() else {
            if !buf.read_from(&mut tls).await {
                return;
            }
            continue;
        };
        if tls.write_all(frame).await.is_err() || tls.flush().await.is_err() {
            return;
        }
    }
}
