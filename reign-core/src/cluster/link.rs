//! One authenticated link to a peer: the writer that flushes the peer's outbound queues in
//! batches (see [`super::outbound`]), the reader that decodes frames, and the heartbeat.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use reign_tls::{Incarnation, NodeId};
use smallvec::SmallVec;

use super::lookahead::Lookahead;
use super::poll_work::{BYTES_BEFORE_FULL_YIELD, BYTES_PER_YIELD, PollWork};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use super::events::{LinkDownReason, io_reason};
use super::outbound::{CHUNK, Outbound, Queued, Sizing, Via};
use super::signal::Signal;
use super::woken::WhenWoken;
use crate::SendErrorReason;
use crate::hook::HookHandle;
use crate::proto::link::{Limits, LinkState, Output};
use crate::proto::wire::{self, Frame};

/// The most SEND frames delivered to one mailbox under one lock.
const MAX_RUN: usize = 256;

/// The shared half of a link: what senders and the link's tasks both touch.
pub(crate) struct Link {
    /// Unique among this process's links (never 0).
    pub(crate) id: u64,
    pub(crate) peer: NodeId,
    pub(crate) peer_incarnation: Incarnation,
    /// The peer's life as mailbox identities share it (mailbox 0): what the peer announces
    /// is stored as `peer_ref.with_id(..)`, one shared allocation for all of it.
    pub(crate) peer_ref: crate::MailboxRef,
    /// The peer's queues, which this link drains while it owns them.
    out: Arc<Outbound>,
    /// Wakes this link's writer.
    wake: Arc<Signal>,
    /// Ends the link at once (see [`Link::end`]).
    kill: Signal,
    /// Why [`Link::end`] ended it (the first reason given wins).
    end_reason: std::sync::OnceLock<LinkDownReason>,
    /// Set when the link's task ends: senders (the data path, which never takes the control
    /// plane's lock) see at once that there is no link any more.
    dead: AtomicBool,
    /// Set while the writer is inside a write of frames: a write cut short there leaves a
    /// partial frame on the wire, after which no last word (GOODBYE) can be sent.
    mid_write: AtomicBool,
    max_frame: usize,
    started: Instant,
    /// Nanoseconds after `started` when the last bytes arrived from the peer (a u64 lasts
    /// 584 years): the reader stores it per read without a lock, the timer hands it to the
    /// control plane, which times silence to the instant.
    last_rx_ns: AtomicU64,
    /// The link's control plane (phase, timers, monitors both ways, lookups, the announce
    /// budget). Never held while anything else is called: see [`Link::step`].
    control: Mutex<LinkState<HookHandle>>,
    /// What the handshake proved of the peer (`None` for a link over an in-memory pipe): its
    /// chain is checked again after a reload of this node's TLS material.
    /// Replaced when the peer sends an accepted certificate update.
    tls_peer: Mutex<Option<reign_tls::PeerInfo>>,
    /// When the link was made (wall clock, for status).
    pub(crate) up_since: std::time::SystemTime,
    /// What crossed the link, for status: bytes read and written (TLS plaintext), SEND
    /// frames read. One relaxed add per read, per batch written and per run of SENDs.
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    /// The peer's count of messages sent when this link was made (the link's messages out
    /// are the count since).
    pub(crate) sent_at_start: u64,
}

/// What the control plane hands back, carried out by the cluster.
pub(crate) type Outputs = Vec<Output<HookHandle>>;

/// Who a link is with, as its handshake proved it.
pub(crate) struct Proven {
    /// The peer.
    pub(crate) id: NodeId,
    /// Its life.
    pub(crate) incarnation: Incarnation,
    /// When its certificate chain stops being valid.
    pub(crate) valid_until: std::time::SystemTime,
    /// What the TLS handshake proved (`None` over an in-memory pipe).
    pub(crate) tls: Option<reign_tls::PeerInfo>,
}

impl Link {
    /// A link with `peer` that will drain `out` once [attached](Link::attach).
    pub(crate) fn new(
        peer: Proven,
        own_incarnation: Incarnation,
        out: Arc<Outbound>,
        max_frame: usize,
        limits: Limits,
    ) -> Self {
        let Proven {
            id: peer,
            incarnation: peer_incarnation,
            valid_until,
            tls: tls_peer,
        } = peer;
        static NEXT_LINK: AtomicU64 = AtomicU64::new(1);
        let sent_at_start = out.sent();
        let started = Instant::now();
        Self {
            id: NEXT_LINK.fetch_add(1, Ordering::Relaxed),
            peer_ref: crate::MailboxRef::new(peer.clone(), peer_incarnation, crate::MailboxId(0)),
            control: Mutex::new(LinkState::new(
                started.into_std(),
                peer.clone(),
                peer_incarnation.get(),
                own_incarnation.get(),
                limits,
                valid_until,
            )),
            peer,
            peer_incarnation,
            out,
            wake: Arc::new(Signal::default()),
            kill: Signal::default(),
            end_reason: std::sync::OnceLock::new(),
            dead: AtomicBool::new(false),
            mid_write: AtomicBool::new(false),
            up_since: std::time::SystemTime::now(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            sent_at_start,
            max_frame,
            started,
            last_rx_ns: AtomicU64::new(0),
            tls_peer: Mutex::new(tls_peer),
        }
    }

    /// Runs `f` on the link's control plane and returns its result with what it handed
    /// back, for the caller to carry out once the lock is released (carrying it out may
    /// call back into the control plane: an end hook, a watch).
    pub(crate) fn step<R>(&self, f: impl FnOnce(&mut LinkState<HookHandle>) -> R) -> (R, Outputs) {
        let mut state = self.control();
        let r = f(&mut state);
        let mut outs = Vec::new();
        while let Some(o) = state.poll() {
            outs.push(o);
        }
        (r, outs)
    }

    /// The link's control plane, locked (for reading it in checks and tests).
    pub(crate) fn control(&self) -> std::sync::MutexGuard<'_, LinkState<HookHandle>> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes this link the owner of the peer's queues (see [`Outbound::attach`]).
    pub(crate) fn attach(&self) {
        self.out
            .attach(self.id, self.peer_incarnation, self.wake.clone());
    }

    /// The peer's queues (for the harness, which plays the peer reading them).
    pub(crate) fn out_queues(&self) -> std::sync::MutexGuard<'_, super::outbound::Queues> {
        self.out.lock()
    }

    /// Marks the link dead and gives up its queues: senders see at once that there is no
    /// link any more. Idempotent; run when the link's task ends, however it ends.
    pub(crate) fn finish(&self) {
        self.dead.store(true, Ordering::Release);
        self.out.detach(self.id);
        self.out.room.notify_waiters();
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Queues a message for the mailbox registered as `name` on the peer (SEND_NAMED),
    /// counted against the buffer limit like any message.
    pub(crate) fn send_named(
        &self,
        name: &str,
        tag: &str,
        write: &mut dyn FnMut(&mut BytesMut) -> Result<(), SendErrorReason>,
    ) -> Result<bool, SendErrorReason> {
        self.out.push_message(Via::Link(self.id), |b| {
            wire::encode_send_named(b, name, tag, write)
        })
    }

    /// Queues a frame in order with messages (not counted against the limit: these are small
    /// and bounded by the number of monitors and lookups). False if the link is closing.
    pub(crate) fn send_ordered(&self, frame: &Frame) -> bool {
        match self.out.push_control(self.id, frame) {
            Queued::Yes => true,
            Queued::NotOwner => false,
            Queued::Overflow => {
                // A peer that keeps asking (MONITOR, LOOKUP, ...) and never reads the
                // answers is cut off once twice the limit is queued.
                reign_tls::warn_limited!(peer = %self.peer, "closing link: the peer does not read what it asks for");
                self.end(LinkDownReason::ProtocolError(
                    super::events::ProtocolViolation::DoesNotRead,
                ));
                false
            }
        }
    }

    /// Queues a frame ahead of messages.
    pub(crate) fn send_urgent(&self, frame: &Frame) {
        self.out.push_urgent(self.id, frame);
    }

    /// Ends the link at once, whatever it is doing (a write blocked on a stalled peer
    /// included), with `reason`.
    pub(crate) fn end(&self, reason: LinkDownReason) {
        let _ = self.end_reason.set(reason);
        self.kill.notify();
    }

    /// Whether bytes arrived from the peer within `d`.
    pub(crate) fn heard_within(&self, d: Duration) -> bool {
        std::time::Instant::now().saturating_duration_since(self.last_received()) < d
    }

    /// What the handshake (or the last accepted certificate update) proved of the peer;
    /// `None` over an in-memory pipe.
    pub(crate) fn tls_peer(&self) -> Option<reign_tls::PeerInfo> {
        self.tls_peer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the peer's new certificate (an accepted update).
    pub(crate) fn set_tls_peer(&self, peer: reign_tls::PeerInfo) {
        *self.tls_peer.lock().unwrap_or_else(PoisonError::into_inner) = Some(peer);
    }

    /// Messages queued toward the peer since this link was made.
    pub(crate) fn messages_out(&self) -> u64 {
        self.out.sent().saturating_sub(self.sent_at_start)
    }

    /// Asks the writer to flush what is queued, say GOODBYE and close.
    pub(crate) fn close_gracefully(&self) {
        self.out.close(self.id);
        self.control().close_gracefully();
    }

    fn touch(&self) {
        let ns = self.started.elapsed().as_nanos() as u64;
        self.last_rx_ns.store(ns, Ordering::Relaxed);
    }

    /// When bytes last arrived from the peer, by the wall clock.
    pub(crate) fn last_seen(&self) -> std::time::SystemTime {
        let ago = std::time::Instant::now().saturating_duration_since(self.last_received());
        std::time::SystemTime::now() - ago
    }

    /// When bytes last arrived from the peer.
    pub(crate) fn last_received(&self) -> std::time::Instant {
        let last = Duration::from_nanos(self.last_rx_ns.load(Ordering::Relaxed));
        (self.started + last).into_std()
    }
}

/// What a link runs over: an authenticated TLS stream, or (in tests) an in-memory pipe.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + 'static {}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Stream for S {}

/// What the link's reader does with each decoded frame.
pub(crate) trait FrameHandler: Send + Sync {
    /// Carries out what the link's control plane handed back.
    fn apply(&self, link: &Arc<Link>, outputs: Outputs);

    /// Handles one frame from the peer. `Err` ends the link with that reason.
    fn handle(&self, link: &Arc<Link>, frame: Frame) -> Result<(), LinkDownReason>;

    /// Handles a run of consecutive SEND frames for one mailbox (same target, incarnation
    /// and tag), read in place: the hot path. `cache` lives as long as the reader and
    /// remembers the last target mailbox. True if the mailbox refused some of them for being
    /// full (its receiver is behind).
    fn handle_sends(
        &self,
        link: &Link,
        cache: &mut crate::node::DeliveryCache,
        target: u64,
        target_incarnation: u64,
        tag: &[u8],
        payloads: &[&[u8]],
    ) -> bool;

    /// Brings what delivering to the mailboxes `targets` will touch into the cache, ahead of
    /// delivering to them (see [`super::lookahead`]). Nothing by default.
    fn warm(&self, targets: &[u64]) {
        let _ = targets;
    }
}

/// Runs a link until it ends: reader, writer and heartbeat, all in this task, so that ending
/// any of them (or [`Link::end`]) drops the others, including a write blocked on a stalled peer.
pub(crate) async fn run<S: Stream>(
    link: Arc<Link>,
    stream: S,
    handler: Arc<dyn FrameHandler>,
) -> LinkDownReason {
    let (rd, mut wr) = tokio::io::split(stream);
    link.touch();
    // Polled in order (no random start: each branch returns at its own yields), and the
    // timers only when their own waker fired (see [`super::woken`]).
    let reason = tokio::select! {
    biased;
    r = read_loop(&link, rd, &*handler) => r,
    r = write_loop(&link, &mut wr) => r,
    r = WhenWoken::new(timers(&link, &*handler)) => r,
    () = link.kill.wait() => link
        .end_reason
        .get()
        .cloned()
        .unwrap_or(LinkDownReason::Replaced),    };
    if let Some(code) = reason.last_goodbye() {
        last_word(&link, &mut wr, code).await;
    }
    link.finish();
    reason
}

/// How long the last word on a link may take (as for a handshake's, docs/PROTOCOL.md).
const LAST_WORD: Duration = Duration::from_millis(200);

/// Tells the peer why this node ends the link (because of its certificate, or a duplicate):
/// GOODBYE with `reason`, then close_notify, bounded by [`LAST_WORD`]. Nothing if the writer
/// was cut short inside a frame (the peer then sees the close only).
async fn last_word<S: Stream>(link: &Link, wr: &mut WriteHalf<S>, reason: u8) {
    if link.mid_write.load(Ordering::Acquire) {
        return;
    }
    let mut bye = BytesMut::new();
    wire::encode(&Frame::Goodbye { reason }, &mut bye);
    let _ = tokio::time::timeout(LAST_WORD, async {
        wr.write_all(&bye).await?;
        wr.flush().await?;
        wr.shutdown().await
    })
    .await;
}

/// Why a link ends on bytes that do not decode: a handshake REFUSE where the first frame was
/// due (`framed`: a whole frame arrived already) is the acceptor refusing after this dialer's
/// ACCEPT; anything else is a protocol error.
fn undecodable_reason(e: wire::DecodeError, framed: bool) -> LinkDownReason {
    if !framed && e == wire::DecodeError::UnknownKind(wire::HANDSHAKE_REFUSE) {
        return LinkDownReason::RefusedAfterAccept;
    }
    LinkDownReason::ProtocolError(e.into())
}

async fn read_loop<S: Stream>(
    link: &Arc<Link>,
    mut rd: ReadHalf<S>,
    handler: &dyn FrameHandler,
) -> LinkDownReason {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut cache = crate::node::DeliveryCache::from_peer(link.peer.clone());
    // Whether a whole frame arrived yet: a handshake REFUSE (kind 0x02) in its place is the
    // acceptor refusing after this dialer's ACCEPT, not a protocol error.
    let mut framed = false;
    let undecodable = |e: wire::DecodeError, framed: bool| {
        let reason = undecodable_reason(e, framed);
        match &reason {
            LinkDownReason::RefusedAfterAccept => {
                reign_tls::debug_limited!(peer = %link.peer, "the peer refused the connection after its handshake");
            }
            _ => {
                reign_tls::warn_limited!(peer = %link.peer, %reason, "closing link: undecodable frame");
            }
        }
        reason
    };
    let mut work = PollWork::new();
    let mut ahead = Lookahead::default();
    loop {
        work.in_this_poll();
        // SEND frames are handled where they lie, in runs for one mailbox; the buffer
        // advances once per read.
        let mut pos = 0;
        loop {
            // Fairness: one busy link never keeps its worker from the node's other tasks
            // (other links' heartbeats among them) for more than a bounded amount of work.
            if work.budget == 0 {
                work.restart();
                tokio::task::yield_now().await;
            }
            work.budget -= 1;
            ahead.before_frame(&buf[..], pos, link.max_frame, handler);
            match wire::peek(&buf[pos..], link.max_frame) {
                Ok(Some(wire::Peeked::Send {
                    total,
                    target,
                    target_incarnation,
                    tag,
                    payload,
                })) => {
                    let run_start = pos;
                    pos += total;
                    // Extend the run with the frames that follow for the same mailbox. The
                    // run's storage is not initialised up front: a stream spread over many
                    // mailboxes makes runs of one, and 256 empty slices written per message
                    // cost more than the rest of the reader.
                    let mut run: SmallVec<[&[u8]; MAX_RUN]> = SmallVec::new();
                    run.push(payload);
                    // The first frame's bytes between its length and its payload.
                    let header = &buf[run_start + wire::LENGTH_BYTES..pos - payload.len()];
                    while run.len() < MAX_RUN {
                        match wire::next_same_send(&buf[pos..], header, link.max_frame) {
                            Some((t, p)) => {
                                run.push(p);
                                pos += t;
                            }
                            None => break,
                        }
                    }
                    framed = true;
                    ahead.ran(run.len());
                    link.messages_in
                        .fetch_add(run.len() as u64, Ordering::Relaxed);
                    work.bytes += pos - run_start;
                    if handler.handle_sends(link, &mut cache, target, target_incarnation, tag, &run)
                        && work.bytes >= BYTES_BEFORE_FULL_YIELD
                        && !super::rescue::taking_over()
                    {
                        // A full mailbox: its receiver is behind. The reader yields before
                        // the next frame, so that the receiver (woken by what it was handed)
                        // runs before more is refused, whichever peer it comes from; not
                        // before this poll got some way through what arrived (the link's
                        // other frames, its heartbeats among them, wait behind), and not in a
                        // takeover, where the receiver's runtime does not run.
                        work.yield_before_next();
                    }
                }
                Ok(Some(wire::Peeked::Other)) => {
                    buf.advance(pos);
                    ahead.advanced(pos);
                    pos = 0;
                    let before = buf.len();
                    match wire::decode(&mut buf, link.max_frame) {
                        Ok(Some(frame)) => {
                            framed = true;
                            work.bytes += before - buf.len();
                            if let Err(reason) = handler.handle(link, frame) {
                                return reason;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return undecodable(e, framed),
                    }
                }
                Ok(None) => break,
                Err(e) => return undecodable(e, framed),
            }
        }
        buf.advance(pos);
        ahead.advanced(pos);
        if work.bytes >= BYTES_PER_YIELD {
            work.restart();
            tokio::task::yield_now().await;
        }
        // Room for the rest of the frame in progress (never more than one maximum frame),
        // or a read's worth.
        let want = match wire::peek_length(&buf, link.max_frame) {
            Ok(Some(len)) => (wire::LENGTH_BYTES + len).saturating_sub(buf.len()),
            _ => 0,
        };
        buf.reserve(want.max(32 * 1024));
        match rd.read_buf(&mut buf).await {
            Ok(0) => return LinkDownReason::ClosedByPeer,
            Ok(n) => {
                link.touch();
                link.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => return io_reason(&e),
        }
    }
}

async fn write_loop<S: Stream>(link: &Arc<Link>, wr: &mut WriteHalf<S>) -> LinkDownReason {
    let mut ordered = BytesMut::new();
    let mut marks = Vec::new();
    let mut urgent = BytesMut::new();
    let mut sizing = Sizing::default();
    let result: std::io::Result<LinkDownReason> = async {
        loop {
            let closing = {
                let mut q = link.out.lock();
                if !q.owned_by(link.id) {
                    // Replaced by a newer link, which drains the queues now.
                    return Ok(LinkDownReason::Replaced);
                }
                std::mem::swap(&mut ordered, &mut q.ordered);
                std::mem::swap(&mut marks, &mut q.marks);
                std::mem::swap(&mut urgent, &mut q.urgent);
                q.closing
            };
            if ordered.is_empty() && urgent.is_empty() {
                if closing {
                    let mut bye = BytesMut::new();
                    wire::encode(
                        &Frame::Goodbye {
                            reason: wire::GOODBYE_SHUTDOWN,
                        },
                        &mut bye,
                    );
                    wr.write_all(&bye).await?;
                    wr.flush().await?;
                    let _ = wr.shutdown().await;
                    // Wait for the peer to close its side (bounded by the caller's deadline),
                    // so the goodbye is read before the socket goes away.
                    std::future::pending::<()>().await;
                }
                link.wake.wait().await;
                continue;
            }
            link.mid_write.store(true, Ordering::Release);
            let mut urgent_written = urgent.len();
            if !urgent.is_empty() {
                wr.write_all(&urgent).await?;
                urgent.clear();
            }
            // Chunk by chunk, letting urgent frames in between.
            let mut pos = 0;
            for end in marks.drain(..).chain(std::iter::once(ordered.len())) {
                if end <= pos {
                    continue;
                }
                wr.write_all(&ordered[pos..end]).await?;
                pos = end;
                if pos < ordered.len() {
                    {
                        let mut q = link.out.lock();
                        if q.owned_by(link.id) {
                            std::mem::swap(&mut urgent, &mut q.urgent);
                        }
                    }
                    if !urgent.is_empty() {
                        wr.write_all(&urgent).await?;
                        urgent_written += urgent.len();
                        urgent.clear();
                    }
                }
            }
            // Every frame of the batch is whole with the TLS layer (a flush cut short later
            // resumes where it stopped).
            link.mid_write.store(false, Ordering::Release);
            let batch = ordered.len();
            link.bytes_out
                .fetch_add((batch + urgent_written) as u64, Ordering::Relaxed);
            ordered.clear();
            // The whole batch is with the socket: senders waiting for room may refill.
            link.out.room.notify_waiters();
            // The buffers swap between senders and this writer; a stream keeps them at the
            // size its bursts need (growth by doubling: up to twice what the limits let
            // queue). Once traffic has been calm for a window, give back what a burst grew,
            // rather than hold it for an idle link (see `Sizing`).
            if sizing.give_back(batch, ordered.capacity(), || Instant::now().into_std()) {
                ordered = BytesMut::with_capacity(CHUNK);
            }
            wr.flush().await?;
        }
    }
    .await;
    result.unwrap_or_else(|e| io_reason(&e))
}

/// Runs the control plane's timers: heartbeats, the silence limit (at its exact instant)
/// and the expiry of the peer's certificate (wall clock, checked at least hourly, so a clock
/// that jumps forward is noticed). The instants are the control plane's; this only sleeps.
async fn timers(link: &Arc<Link>, handler: &dyn FrameHandler) -> LinkDownReason {
    loop {
        let last = link.last_received();
        let (at, _) = link.step(|s| {
            s.received(last);
            s.poll_timeout(Instant::now().into_std(), std::time::SystemTime::now())
        });
        let Some(at) = at else {
            // Closed: the task is about to end.
            return std::future::pending().await;
        };
        tokio::time::sleep_until(Instant::from_std(at)).await;
        let last = link.last_received();
        let (result, outs) = link.step(|s| {
            s.received(last);
            s.handle_timeout(Instant::now().into_std(), std::time::SystemTime::now())
        });
        handler.apply(link, outs);
        if let Err(reason) = result {
            return reason;
        }
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
