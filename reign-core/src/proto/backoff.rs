//! The redial delay: capped exponential backoff with jitter, as docs/PROTOCOL.md section 4
//! ("Redial") states it: the first delay after a failure is the minimum, each further
//! failure doubles it up to the maximum, each delay is scaled by a random factor in
//! [0.5, 1), and a link that came up resets it.

use std::time::Duration;

/// The redial delays of one peer.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    /// The unscaled delay the next failure waits.
    next: Duration,
}

impl Backoff {
    /// Delays from `min` doubling up to `max` (`max` below `min` counts as `min`).
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// A link came up: the next failure waits the minimum again.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    /// A dial failed or a link ended: how long to wait before the next dial, with `unit` a
    /// random number in [0, 1) that picks the factor in [0.5, 1).
    pub(crate) fn failed(&mut self, unit: f64) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(0.5 + unit.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_first_delay_is_the_minimum_then_it_doubles_up_to_the_maximum() {
        let mut b = Backoff::new(100 * MS, 5000 * MS);
        let unscaled: Vec<_> = (0..9).map(|_| b.failed(1.0)).collect();
        assert_eq!(
            unscaled,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000].map(|m| m * MS)
        );
    }

    #[test]
    fn each_delay_is_scaled_into_half_to_whole() {
        let mut b = Backoff::new(100 * MS, 5000 * MS);
        assert_eq!(b.failed(0.0), 50 * MS);
        let mut b = Backoff::new(100 * MS, 5000 * MS);
        assert_eq!(b.failed(0.5), 75 * MS);
    }

    #[test]
    fn a_link_that_came_up_resets_it() {
        let mut b = Backoff::new(100 * MS, 5000 * MS);
        for _ in 0..5 {
            b.failed(1.0);
        }
        b.reset();
        assert_eq!(b.failed(1.0), 100 * MS);
    }
}
