//! Summaries of the rounds.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) mean: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

impl Stats {
    pub(crate) fn of(mut times: Vec<Duration>) -> Stats {
        times.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let at = |q: f64| us(times[((times.len() - 1) as f64 * q).round() as usize]);
        Stats {
            mean: times.iter().map(|d| us(*d)).sum::<f64>() / times.len() as f64,
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

pub(crate) fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn spread(v: &[f64], digits: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.digits$}..{max:.digits$}")
}
