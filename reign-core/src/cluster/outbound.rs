//! A peer's outbound queues: what senders encode into and the peer's current link drains.
//!
//! The queues belong to the peer, not to one connection, so that a remote send takes exactly
//! one lock: the queues say themselves which link (and so which incarnation of the peer) owns
//! them right now. A link takes ownership when it is installed ([`Outbound::attach`]) and
//! gives it up when it ends ([`Outbound::detach`]); bytes queued for a link that ended are
//! dropped with it, as the link's own buffers would be.
//!
//! Two buffers: *ordered* (messages, monitor requests, `Down`s: everything whose order
//! matters) and *urgent* (heartbeats and goodbye). The writer sends urgent bytes first and
//! between chunks of ordered bytes, so a heartbeat waits behind at most one chunk ([`CHUNK`])
//! however long the ordered queue is. Only messages count against the buffer limit; a send
//! beyond it fails at once (`LinkFull`) instead of growing memory.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use reign_tls::Incarnation;
use tokio::sync::Notify;

use super::signal::Signal;

use crate::SendErrorReason;
use crate::proto::wire::{self, Frame};

/// The most ordered bytes written before urgent bytes get a turn (frame-aligned, so a single
/// larger frame is written whole).
pub(crate) const CHUNK: usize = 64 * 1024;

/// How many batches, and how long, the writer looks at before it decides whether the
/// queue's buffers are larger than the traffic needs ([`Sizing`]); and how long a window of
/// fewer batches lasts (a link gone idle but for its heartbeats).
const SIZING_WINDOW: u32 = 16;
const SIZING_PERIOD: Duration = Duration::from_secs(1);
const SIZING_IDLE: Duration = Duration::from_secs(3);

/// When the writer gives back what a burst grew in the buffers it swaps with senders: when
/// no batch of a window of at least [`SIZING_WINDOW`] batches and [`SIZING_PERIOD`] (or of
/// [`SIZING_IDLE`], however few batches) needed a sixteenth of the buffer. A shorter view
/// gave back too often: a stream of 1 MiB messages with small ones beside it (a heartbeat, a
/// reply) hands the writer batches of one large message or of only the small ones for many
/// batches in a row between its bursts (which grow the buffers to twice the link's limit),
/// and each buffer given back was grown again at the next burst: reallocations, and a page
/// fault per 4 KiB written on the sender's thread.
#[derive(Default)]
pub(crate) struct Sizing {
    /// The largest batch of the window so far.
    peak: usize,
    batches: u32,
    /// When the window began.
    since: Option<Instant>,
}

impl Sizing {
    /// Records a batch of `len` bytes written from a buffer of `capacity` bytes: true if the
    /// buffer should be given back (replaced by one of [`CHUNK`]). `now` is asked at the
    /// first batch of a window, at every [`SIZING_WINDOW`]th after it and at batches without
    /// ordered bytes (heartbeats), not at every batch.
    pub(crate) fn give_back(
        &mut self,
        len: usize,
        capacity: usize,
        now: impl Fn() -> Instant,
    ) -> bool {
        let since = *self.since.get_or_insert_with(&now);
        self.peak = self.peak.max(len);
        self.batches += 1;
        if len > 0 && !self.batches.is_multiple_of(SIZING_WINDOW) {
            return false;
        }
        let lasted = now().saturating_duration_since(since);
        let closes =
            lasted >= SIZING_IDLE || (lasted >= SIZING_PERIOD && self.batches >= SIZING_WINDOW);
        if !closes {
            return false;
        }
        let oversized = capacity > 4 * CHUNK && self.peak < capacity / 16;
        *self = Self::default();
        oversized
    }
}

/// The queues toward one peer, shared by its successive links.
pub(crate) struct Outbound {
    state: Mutex<Queues>,
    /// Signalled each time a writer has handed a batch to the socket (and when a link ends):
    /// senders waiting for room retry then.
    pub(crate) room: Arc<Notify>,
    limit: usize,
    max_frame: usize,
}

/// The link that owns the queues now.
struct Owner {
    link: u64,
    incarnation: Incarnation,
    /// Wakes that link's writer.
    wake: Arc<Signal>,
}

pub(crate) struct Queues {
    pub(crate) ordered: BytesMut,
    /// Offsets in `ordered` where a frame ends, about every [`CHUNK`] bytes: where the
    /// writer may let urgent frames in.
    pub(crate) marks: Vec<usize>,
    pub(crate) urgent: BytesMut,
    /// Set by a graceful close: the writer flushes what is queued, sends GOODBYE, closes.
    pub(crate) closing: bool,
    /// Messages queued toward this peer, over all its links.
    sent: u64,
    /// Bytes of messages queued toward this peer, over all its links: a send that takes it
    /// past a multiple of [`CHUNK`] reports a chunk done, however much the writer (on the
    /// node's own thread, draining meanwhile) left in `ordered`.
    sent_bytes: u64,
    owner: Option<Owner>,
}

impl Queues {
    /// Records a chunk boundary if the frame that started at `frame_start` (and ends at the
    /// buffer's end) closes a chunk; true if it does.
    fn mark(&mut self, frame_start: usize) -> bool {
        let last = self.marks.last().copied().unwrap_or(0);
        let closes = self.ordered.len() - last >= CHUNK && frame_start >= last;
        if closes {
            self.marks.push(self.ordered.len());
        }
        closes
    }

    /// Counts `len` more bytes of messages sent; true if they complete a [`CHUNK`] of the
    /// stream toward the peer.
    fn count_sent(&mut self, len: usize) -> bool {
        let before = self.sent_bytes / CHUNK as u64;
        self.sent_bytes += len as u64;
        self.sent_bytes / CHUNK as u64 != before
    }

    fn clear(&mut self) {
        // Give back what a stream grew: the next link starts small.
        self.ordered = BytesMut::new();
        self.marks = Vec::new();
        self.urgent = BytesMut::new();
        self.closing = false;
    }

    /// Whether a message may be queued `via` now: `NoConnection` if no link (or not the
    /// given one) owns the queues or it is closing, `Closed` if the link serves another
    /// incarnation than the one asked for.
    #[inline]
    fn check(&self, via: Via) -> Result<(), SendErrorReason> {
        let Some(owner) = self.owner(match via {
            Via::Link(id) => Some(id),
            Via::Incarnation(_) => None,
        }) else {
            return Err(SendErrorReason::NoConnection);
        };
        if let Via::Incarnation(inc) = via
            && owner.incarnation != inc
        {
            return Err(SendErrorReason::Closed);
        }
        if self.closing {
            return Err(SendErrorReason::NoConnection);
        }
        Ok(())
    }

    /// Wakes the owner's writer.
    fn wake_owner(&self) {
        if let Some(o) = &self.owner {
            o.wake.notify();
        }
    }

    /// Whether `link` owns the queues.
    pub(crate) fn owned_by(&self, link: u64) -> bool {
        self.owner(Some(link)).is_some()
    }

    /// The owner, if it is `link` (any link when `None`).
    fn owner(&self, link: Option<u64>) -> Option<&Owner> {
        self.owner
            .as_ref()
            .filter(|o| link.is_none_or(|id| o.link == id))
    }
}

/// Truncates `buf` back to `to` when dropped: armed while a frame is encoded, and forgotten
/// once the encoding returned, so it only runs while a panic unwinds out of the encoding.
struct Undo<'a> {
    buf: &'a mut BytesMut,
    to: usize,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        self.buf.truncate(self.to);
    }
}

/// Who a message is queued for: a given link, or whichever link serves the given
/// incarnation of the peer.
#[derive(Clone, Copy)]
pub(crate) enum Via {
    Link(u64),
    Incarnation(Incarnation),
}

/// What became of a frame queued with [`Outbound::push_control`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    Yes,
    /// The link does not own the queues (it ended, or was replaced), or is closing.
    NotOwner,
    /// The ordered queue is past twice its limit: the peer does not read what it asks for.
    Overflow,
}

impl Outbound {
    pub(crate) fn new(limit: usize, max_frame: usize) -> Self {
        Self {
            state: Mutex::new(Queues {
                ordered: BytesMut::new(),
                marks: Vec::new(),
                urgent: BytesMut::new(),
                closing: false,
                sent: 0,
                sent_bytes: 0,
                owner: None,
            }),
            room: Arc::new(Notify::new()),
            limit,
            max_frame,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Queues> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `link` the owner: what an earlier link left unsent is dropped.
    pub(crate) fn attach(&self, link: u64, incarnation: Incarnation, wake: Arc<Signal>) {
        let mut q = self.lock();
        q.clear();
        q.owner = Some(Owner {
            link,
            incarnation,
            wake,
        });
    }

    /// `link` has ended: if it owns the queues, they are emptied and left without an owner.
    pub(crate) fn detach(&self, link: u64) {
        let mut q = self.lock();
        if q.owner(Some(link)).is_some() {
            q.owner = None;
            q.clear();
        }
    }

    /// Whether `link` owns the queues.
    #[cfg(test)]
    pub(crate) fn is_owner(&self, link: u64) -> bool {
        self.lock().owned_by(link)
    }

    /// Messages queued toward this peer, over all its links.
    pub(crate) fn sent(&self) -> u64 {
        self.lock().sent
    }

    /// Encodes one message-carrying frame straight into the ordered buffer, and undoes it if
    /// it exceeds the maximum frame size or the buffer limit. `Ok(true)`: it completed a
    /// chunk ([`CHUNK`]) of what was sent toward the peer. Fails with `NoConnection` if no link (or not the
    /// given one) owns the queues or it is closing, and with `Closed` if the link serves
    /// another incarnation than the one asked for (a mailbox of an earlier life is gone).
    pub(crate) fn push_message(
        &self,
        via: Via,
        encode: impl FnOnce(&mut BytesMut) -> Result<usize, SendErrorReason>,
    ) -> Result<bool, SendErrorReason> {
        let mut q = self.lock();
        q.check(via)?;
        self.append(&mut q, encode)
    }

    /// [`Outbound::push_message`] for up to `count` messages under one lock: `encode(i, buf)`
    /// encodes message `i`, and `done` counts each one queued (as it is queued, so that it is
    /// right even if an encoding panics). Stops after the message that completes a chunk
    /// (`Ok(true)`), at the first that fails (its reason; the ones before it are queued), or
    /// after the last (`Ok(false)`).
    pub(crate) fn push_messages(
        &self,
        via: Via,
        count: usize,
        mut encode: impl FnMut(usize, &mut BytesMut) -> Result<usize, SendErrorReason>,
        done: &mut usize,
    ) -> Result<bool, SendErrorReason> {
        let mut q = self.lock();
        q.check(via)?;
        for i in 0..count {
            let chunk_done = self.append(&mut q, |b| encode(i, b))?;
            *done += 1;
            if chunk_done {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Encodes one message-carrying frame at the end of the ordered buffer (see
    /// [`Outbound::push_message`]), the queues locked and checked.
    #[inline]
    fn append(
        &self,
        q: &mut Queues,
        encode: impl FnOnce(&mut BytesMut) -> Result<usize, SendErrorReason>,
    ) -> Result<bool, SendErrorReason> {
        let before = q.ordered.len();
        // The message's `Serialize` is the caller's code: if it panics, the frame begun is
        // taken back out as the panic passes, so that the queue holds whole frames only.
        let undo = Undo {
            buf: &mut q.ordered,
            to: before,
        };
        let encoded = encode(undo.buf);
        std::mem::forget(undo);
        let frame_len = encoded?;
        if frame_len - wire::LENGTH_BYTES > self.max_frame {
            q.ordered.truncate(before);
            return Err(SendErrorReason::TooLarge);
        }
        if before + frame_len > self.limit {
            q.ordered.truncate(before);
            return Err(SendErrorReason::LinkFull);
        }
        q.sent += 1;
        q.mark(before);
        let chunk_done = q.count_sent(frame_len);
        if before == 0 {
            // The first bytes since the writer last took the queue: it may be waiting.
            q.wake_owner();
        }
        Ok(chunk_done)
    }

    /// Queues a control frame in order with messages, for `link`. Control frames are not
    /// counted against the limit (they are small, and bounded by the number of monitors and
    /// lookups), but cannot grow without bound either: past twice the limit, `Overflow`.
    pub(crate) fn push_control(&self, link: u64, frame: &Frame) -> Queued {
        let mut q = self.lock();
        if q.owner(Some(link)).is_none() || q.closing {
            return Queued::NotOwner;
        }
        if q.ordered.len() > self.limit.saturating_mul(2) {
            return Queued::Overflow;
        }
        let before = q.ordered.len();
        wire::encode(frame, &mut q.ordered);
        q.mark(before);
        if before == 0 {
            // The first bytes since the writer last took the queue: it may be waiting.
            q.wake_owner();
        }
        Queued::Yes
    }

    /// Queues a frame ahead of messages, for `link`.
    pub(crate) fn push_urgent(&self, link: u64, frame: &Frame) {
        let mut q = self.lock();
        if let Some(o) = q.owner(Some(link)) {
            o.wake.notify();
            wire::encode(frame, &mut q.urgent);
        }
    }

    /// Asks `link`'s writer to flush what is queued, say GOODBYE and close.
    pub(crate) fn close(&self, link: u64) {
        let mut q = self.lock();
        if let Some(o) = q.owner(Some(link)) {
            o.wake.notify();
            q.closing = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(limit: usize) -> (Outbound, Arc<Signal>) {
        let out = Outbound::new(limit, 4096);
        let wake = Arc::new(Signal::default());
        out.attach(1, Incarnation(7), wake.clone());
        (out, wake)
    }

    fn send(out: &Outbound, via: Via, size: usize) -> Result<bool, SendErrorReason> {
        out.push_message(via, |b| {
            wire::encode_send(b, 1, 7, "t", |b| {
                b.extend_from_slice(&vec![0u8; size]);
                Ok(())
            })
        })
    }

    #[test]
    fn chunk_marks_fall_on_frame_ends_about_every_chunk() {
        let (out, _) = owned(1 << 20);
        let mut completed = 0;
        for _ in 0..200 {
            completed += usize::from(send(&out, Via::Link(1), 1000).unwrap());
        }
        let q = out.lock();
        let frame = q.ordered.len() / 200;
        assert!(q.marks.len() >= 2);
        assert_eq!(
            completed,
            q.marks.len(),
            "a send reports each chunk it completes"
        );
        for w in q.marks.windows(2) {
            assert!(w[1] - w[0] >= CHUNK && w[1] - w[0] < CHUNK + frame);
        }
        for m in &q.marks {
            assert_eq!(m % frame, 0, "a mark is a frame end");
        }
    }

    /// A send reports each chunk of the stream it completes even when the writer (on the
    /// node's own thread) takes the queue between sends, so that `Address::send` still
    /// yields about every 64 KiB.
    #[test]
    fn a_chunk_done_is_counted_on_the_stream_not_on_what_is_queued() {
        let (out, _) = owned(1 << 20);
        let mut completed = 0;
        let mut total = 0;
        for _ in 0..200 {
            completed += usize::from(send(&out, Via::Link(1), 1000).unwrap());
            let mut q = out.lock();
            total += q.ordered.len();
            q.ordered.clear();
            q.marks.clear();
        }
        assert_eq!(completed, total / CHUNK);
        assert!(completed >= 3);
    }

    #[test]
    fn the_buffer_limit_refuses_sends_instead_of_growing() {
        let (out, _) = owned(10_000);
        let mut sent = 0;
        let err = loop {
            match send(&out, Via::Link(1), 1000) {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err, SendErrorReason::LinkFull);
        assert_eq!(sent, 9);
        assert_eq!(out.sent(), 9);
        assert!(out.lock().ordered.len() <= 10_000);
        assert_eq!(
            send(&out, Via::Link(1), 5000),
            Err(SendErrorReason::TooLarge)
        );
        out.close(1);
        assert_eq!(
            send(&out, Via::Link(1), 1),
            Err(SendErrorReason::NoConnection)
        );
    }

    #[test]
    fn only_the_owner_and_its_incarnation_reach_the_queues() {
        let (out, _) = owned(1 << 20);
        assert_eq!(send(&out, Via::Incarnation(Incarnation(7)), 10), Ok(false));
        assert_eq!(
            send(&out, Via::Incarnation(Incarnation(6)), 10),
            Err(SendErrorReason::Closed),
            "an earlier life of the peer"
        );
        assert_eq!(
            send(&out, Via::Link(2), 10),
            Err(SendErrorReason::NoConnection),
            "another link"
        );
        assert_eq!(out.push_control(2, &Frame::Synced), Queued::NotOwner);

        // A new link takes over: the old one's unsent bytes go, its detach changes nothing.
        out.attach(2, Incarnation(8), Arc::new(Signal::default()));
        assert!(out.lock().ordered.is_empty());
        out.detach(1);
        assert!(out.is_owner(2));
        assert_eq!(send(&out, Via::Incarnation(Incarnation(8)), 10), Ok(false));
        out.detach(2);
        assert_eq!(
            send(&out, Via::Incarnation(Incarnation(8)), 10),
            Err(SendErrorReason::NoConnection)
        );
        assert_eq!(out.sent(), 2, "counted over both links");
    }

    #[test]
    fn control_frames_piling_up_overflow() {
        let (out, _) = owned(1_000);
        let frame = Frame::Demonitor { monitor: 1 };
        let mut queued = 0;
        while out.push_control(1, &frame) == Queued::Yes {
            queued += 1;
            assert!(queued < 10_000, "control frames grew without bound");
        }
        assert_eq!(out.push_control(1, &frame), Queued::Overflow);
        assert!(out.lock().ordered.len() <= 2_000 + 64);
    }

    /// A large stream whose batches are mostly small between its bursts keeps its buffers; a
    /// link whose traffic calmed down gives them back once a window has passed.
    #[test]
    fn buffers_are_given_back_only_when_traffic_stays_small() {
        let big = 32 << 20;
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let mut s = Sizing::default();
        // A batch a millisecond; a burst (what grew the buffer) every 500 ms; between, one
        // large message or a probe per batch: far under a sixteenth of the buffer.
        for i in 0..10_000 {
            let len = match i {
                i if i % 500 == 0 => 16 << 20,
                i if i % 2 == 0 => 1 << 20,
                _ => 98,
            };
            assert!(!s.give_back(len, big, || ms(i)), "batch {i}");
        }
        // Calm: only probes from now on.
        let calm = (10_000..13_000)
            .find(|&i| s.give_back(98, big, || ms(i)))
            .expect("given back once traffic stays small");
        assert!(calm - 10_000 <= 2_000 + u64::from(SIZING_WINDOW), "{calm}");
        // Many small batches within one period are not a calm period.
        let mut s = Sizing::default();
        assert!((0..SIZING_WINDOW * 100).all(|_| !s.give_back(98, big, || start)));
        // A link gone idle but for a heartbeat a second (batches without ordered bytes)
        // gives its buffers back within a few of them.
        let mut s = Sizing::default();
        assert!(!s.give_back(16 << 20, big, || ms(0)), "the burst");
        let idle = (1..20)
            .find(|&i| s.give_back(0, big, || ms(i * 1000)))
            .expect("given back on an idle link");
        // The window that saw the burst keeps the buffer; the next one, all idle, does not.
        let idle_s = SIZING_IDLE.as_secs();
        assert!(idle > idle_s && idle <= 2 * idle_s + 1, "after {idle} s");
        // A buffer of a few chunks is kept whatever passes through it.
        let mut s = Sizing::default();
        assert!((0..10_000).all(|i| !s.give_back(0, 4 * CHUNK, || ms(i))));
    }

    #[tokio::test]
    async fn the_first_bytes_wake_the_owner_writer() {
        let (out, wake) = owned(1 << 20);
        let woken = wake.wait();
        send(&out, Via::Link(1), 10).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), woken)
            .await
            .expect("the writer was woken");
    }
}
