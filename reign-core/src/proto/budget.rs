//! A token bucket on `now`: a burst, then a steady rate. Bounds what a peer can make this
//! node do per second (hints to dial, for one).

use std::time::{Duration, Instant};

/// `burst` at once, then one more each `every`.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    burst: u32,
    every: Duration,
    tokens: u32,
    /// When the next token comes, while below the burst.
    next: Instant,
}

impl Budget {
    pub(crate) fn new(burst: u32, every: Duration, now: Instant) -> Self {
        Self {
            burst,
            every,
            tokens: burst,
            next: now + every,
        }
    }

    /// Takes one token at `now`, if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        if self.tokens < self.burst && now >= self.next {
            // Whole periods since `next`, counted from it (never more than the burst).
            let periods = 1
                + (now.duration_since(self.next).as_nanos() / self.every.as_nanos().max(1)) as u64;
            let add = periods.min(u64::from(self.burst - self.tokens)) as u32;
            self.tokens += add;
            self.next += self.every * add;
            if self.tokens == self.burst {
                self.next = now + self.every;
            }
        }
        if self.tokens == 0 {
            return false;
        }
        if self.tokens == self.burst {
            self.next = now + self.every;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_period() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Budget::new(3, ms(100), t0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + ms(99)));
        assert!(b.take(t0 + ms(100)));
        assert!(!b.take(t0 + ms(150)));
        // A long pause refills up to the burst only.
        let later = t0 + ms(10_000);
        assert!((0..3).all(|_| b.take(later)));
        assert!(!b.take(later));
        // Over a long stretch the rate holds: 1 per 100 ms.
        let mut n = 0;
        for i in 1..=1000u64 {
            if b.take(later + ms(i * 10)) {
                n += 1;
            }
        }
        assert!((99..=101).contains(&n), "{n}");
    }
}
