//! How much a link's reader does in one poll of its task before it yields to the runtime:
//! the bounds that keep one busy link from holding its worker (docs/SECURITY.md), counted
//! within a poll (see `rescue::still_in`).

/// How much work the reader does in one poll of the link's task before it yields to the
/// runtime: one unit per control frame and per run of SEND frames (a run is at most
/// `link::MAX_RUN` messages).
pub(crate) const WORK_PER_YIELD: u32 = 256;

/// How many bytes of frames the reader handles in one poll of the link's task before it
/// yields: the receiving tasks (on the same worker, on a one-worker runtime) get to take what
/// was delivered while it is still in cache, rather than after up to [`WORK_PER_YIELD`] runs
/// (some 60,000 messages).
pub(crate) const BYTES_PER_YIELD: usize = 64 * 1024;

/// What the reader did in this poll of the link's task since it last yielded: work done
/// before the task last gave its worker back does not count (see `rescue::still_in`).
pub(crate) struct PollWork {
    /// Units of work left before the reader yields ([`WORK_PER_YIELD`] at a start).
    pub(crate) budget: u32,
    /// Bytes of frames handled, SEND runs and control frames alike.
    pub(crate) bytes: usize,
    /// The poll these count in.
    poll: u64,
}

impl PollWork {
    /// Counts from nothing in the poll this thread is in.
    pub(crate) fn new() -> Self {
        Self {
            budget: WORK_PER_YIELD,
            bytes: 0,
            poll: super::rescue::poll_number(),
        }
    }

    /// Counts from nothing (at a yield).
    pub(crate) fn restart(&mut self) {
        (self.budget, self.bytes) = (WORK_PER_YIELD, 0);
    }

    /// Makes the reader yield before its next frame, whatever is left of its budget.
    pub(crate) fn yield_before_next(&mut self) {
        self.budget = 0;
    }

    /// Counts from nothing if this is another poll than the one counted in.
    pub(crate) fn in_this_poll(&mut self) {
        if !super::rescue::still_in(&mut self.poll) {
            self.restart();
        }
    }
}

/// How many bytes of frames one poll of the link's task handles before a run that a full
/// mailbox refused makes the reader yield (so that the receiver runs before more is refused):
/// however many runs are refused, each poll gets at least this far through what arrived.
pub(crate) const BYTES_BEFORE_FULL_YIELD: usize = 4 * 1024;
