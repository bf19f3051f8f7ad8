//! The link reader's look-ahead for SEND frames spread over many mailboxes.
//!
//! Delivering to a mailbox first looks it up in the node's table; when a peer's frames go to
//! many mailboxes in turn, each lookup is a cache miss, and one lookup at a time pays each
//! miss in full (a lookup takes a lock, which waits for the loads before it). While the
//! reader sees short runs, it reads the targets of the next frames ahead of delivering them
//! and has the table bring all their entries in at once ([`FrameHandler::warm`]), so the
//! misses overlap. Streams to one mailbox (long runs) never pay for it.

use super::link::FrameHandler;
use crate::proto::wire;
use smallvec::SmallVec;

/// Frames (at most) whose targets one look-ahead reads.
const AHEAD: usize = crate::node::WARM_MAX;

/// Frames per measurement of the runs' length.
const WINDOW: usize = 256;

/// Whether runs are short (mean of at most this many frames) and the reader looks ahead.
const SHORT_RUN: usize = 4;

/// The look-ahead's state, one per reader (see the module docs).
#[derive(Default)]
pub(super) struct Lookahead {
    /// Looking ahead (the last window's runs were short).
    on: bool,
    /// Frames of the buffer before this offset have had their targets warmed.
    warmed_to: usize,
    /// Runs and frames in the current window.
    runs: usize,
    frames: usize,
}

impl Lookahead {
    /// Before the frame at `pos` of `buf`: if looking ahead and past what was warmed, reads
    /// the targets of up to [`AHEAD`] SEND frames from `pos` and has `handler` warm them.
    /// Costs a header parse per frame looked at, and one call per [`AHEAD`] frames.
    pub(super) fn before_frame(
        &mut self,
        buf: &[u8],
        pos: usize,
        max_frame: usize,
        handler: &dyn FrameHandler,
    ) {
        if !self.on || pos < self.warmed_to {
            return;
        }
        let mut at = pos;
        let mut targets: SmallVec<[u64; AHEAD]> = SmallVec::new();
        while targets.len() < AHEAD {
            match wire::peek(&buf[at..], max_frame) {
                Ok(Some(wire::Peeked::Send { total, target, .. })) => {
                    at += total;
                    if targets.last() != Some(&target) {
                        targets.push(target);
                    }
                }
                _ => break,
            }
        }
        // At least one frame further, so that a frame that is not a whole SEND is not
        // looked at again and again.
        self.warmed_to = at.max(pos + 1);
        if targets.len() > 1 {
            handler.warm(&targets);
        }
    }

    /// A run of `frames` SEND frames was delivered.
    pub(super) fn ran(&mut self, frames: usize) {
        self.runs += 1;
        self.frames += frames;
        if self.frames >= WINDOW {
            self.on = self.runs * SHORT_RUN >= self.frames;
            (self.runs, self.frames) = (0, 0);
        }
    }

    /// The reader's buffer dropped its first `n` bytes.
    pub(super) fn advanced(&mut self, n: usize) {
        self.warmed_to = self.warmed_to.saturating_sub(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::link::{Link, Outputs};
    use crate::proto::wire::Frame;
    use std::sync::{Arc, Mutex};

    /// Records what it is asked to warm; the reader's other calls are not made here.
    #[derive(Default)]
    struct Warmed(Mutex<Vec<Vec<u64>>>);

    impl FrameHandler for Warmed {
        fn apply(&self, _: &Arc<Link>, _: Outputs) {
            unreachable!("not called by the look-ahead")
        }
        fn handle(
            &self,
            _: &Arc<Link>,
            _: Frame,
        ) -> Result<(), crate::cluster::events::LinkDownReason> {
            unreachable!("not called by the look-ahead")
        }
        fn handle_sends(
            &self,
            _: &Link,
            _: &mut crate::node::DeliveryCache,
            _: u64,
            _: u64,
            _: &[u8],
            _: &[&[u8]],
        ) -> bool {
            unreachable!("not called by the look-ahead")
        }
        fn warm(&self, targets: &[u64]) {
            self.0.lock().expect("lock").push(targets.to_vec());
        }
    }

    /// SEND frames to `targets` in turn, and where each starts.
    fn frames(targets: &[u64]) -> (bytes::BytesMut, Vec<usize>) {
        let mut buf = bytes::BytesMut::new();
        let mut starts = Vec::new();
        for &t in targets {
            starts.push(buf.len());
            wire::encode_send::<()>(&mut buf, t, 7, "tag", |b| {
                b.extend_from_slice(&[1, 2, 3]);
                Ok(())
            })
            .expect("encode");
        }
        (buf, starts)
    }

    const MAX: usize = 1 << 20;

    #[test]
    fn short_runs_turn_it_on_and_each_frame_is_warmed_once() {
        let targets: Vec<u64> = (1..=200).collect();
        let (buf, starts) = frames(&targets);
        let h = Warmed::default();
        let mut ahead = Lookahead::default();
        // Off at first: nothing is warmed.
        ahead.before_frame(&buf, 0, MAX, &h);
        assert!(h.0.lock().expect("lock").is_empty());
        // A window of runs of one turns it on.
        for _ in 0..WINDOW {
            ahead.ran(1);
        }
        for &s in &starts {
            ahead.before_frame(&buf, s, MAX, &h);
        }
        let calls = h.0.lock().expect("lock").clone();
        assert_eq!(calls.len(), 4, "200 frames, 64 per look-ahead");
        assert_eq!(calls.concat(), targets, "every target once, in order");
        assert!(calls.iter().all(|c| c.len() <= AHEAD));
    }

    #[test]
    fn long_runs_turn_it_off_and_one_target_is_not_warmed() {
        let h = Warmed::default();
        let mut ahead = Lookahead::default();
        for _ in 0..WINDOW {
            ahead.ran(1);
        }
        // Frames for one mailbox: one target, no call.
        let (same, _) = frames(&[5; 10]);
        ahead.before_frame(&same, 0, MAX, &h);
        assert!(h.0.lock().expect("lock").is_empty());
        // A window of long runs turns it off.
        ahead.ran(WINDOW);
        let (buf, _) = frames(&[1, 2, 3]);
        ahead.advanced(usize::MAX);
        ahead.before_frame(&buf, 0, MAX, &h);
        assert!(h.0.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_partial_frame_stops_the_look_ahead_and_is_passed_once() {
        let (mut buf, starts) = frames(&[1, 2, 3]);
        buf.truncate(starts[2] + 5);
        let h = Warmed::default();
        let mut ahead = Lookahead::default();
        for _ in 0..WINDOW {
            ahead.ran(1);
        }
        ahead.before_frame(&buf, 0, MAX, &h);
        assert_eq!(*h.0.lock().expect("lock"), vec![vec![1, 2]]);
        // The reader drops the two whole frames; the partial one is at 0 and not warmed
        // until more of it arrives.
        ahead.advanced(starts[2]);
        ahead.before_frame(&buf[starts[2]..], 0, MAX, &h);
        ahead.before_frame(&buf[starts[2]..], 0, MAX, &h);
        assert_eq!(h.0.lock().expect("lock").len(), 1);
    }
}
