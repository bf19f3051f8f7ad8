//! The ping-pong scenario: sequential round trips a -> b -> a.

use std::time::{Duration, Instant};

use reign::{Address, Mailbox};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream as ClientTls;

use super::blob::{BLOB, Blob};
use super::raw::raw_round_trips;
use super::stats::{Stats, median, spread};
use super::{Bench, Contenders, FRAME, Row, WARM_TRIPS, one_sided, round_trips, rounds};

impl Bench {
    pub(super) async fn ping_pong(&self) -> Vec<Row> {
        let (round_trips, who) = (round_trips(), Contenders::from_env());
        println!(
            "ping-pong: {round_trips} sequential round trips of {FRAME}-byte frames, {} rounds (after {WARM_TRIPS} warm-up)",
            rounds()
        );
        who.announce();
        // reign: a's mailbox -> b's mailbox, b's task sends it back to a's mailbox.
        let mut reign = None;
        let mut echo = None;
        if who.reign() {
            let (mut at_b, to_b) = Self::remote_mailbox(&self.a, &self.b);
            let (at_a, to_a) = Self::remote_mailbox(&self.b, &self.a);
            echo = Some(self.sides.b.spawn(async move {
                loop {
                    let m = at_b.recv().await;
                    if to_a.try_send(m).is_err() {
                        return;
                    }
                }
            }));
            reign = Some((to_b, at_a));
        }
        let mut raw = match who.raw() {
            true => Some(self.raw_echo_connection().await),
            false => None,
        };
        let mut reign_rounds = Vec::new();
        let mut raw_rounds = Vec::new();
        for round in 0..=rounds() {
            let trips = if round == 0 { WARM_TRIPS } else { round_trips };
            // Both clients run on side a, the echo servers on side b.
            let mut raw_times = None;
            if let Some(conn) = raw.take() {
                let (times, conn) = self
                    .sides
                    .a
                    .spawn(raw_round_trips(conn, trips))
                    .await
                    .expect("raw client");
                (raw_times, raw) = (Some(times), Some(conn));
            }
            let mut reign_times = None;
            if let Some(ends) = reign.take() {
                let (times, ends) = self
                    .sides
                    .a
                    .spawn(reign_round_trips(ends, trips))
                    .await
                    .expect("reign client");
                (reign_times, reign) = (Some(times), Some(ends));
            }
            if round == 0 {
                continue;
            }
            let (r, w) = (reign_times.map(Stats::of), raw_times.map(Stats::of));
            match (r, w) {
                (Some(r), Some(w)) => println!(
                    "  round {round}: reign mean {:.1} us (p50 {:.1}, p99 {:.1}), raw mean {:.1} us (p50 {:.1}, p99 {:.1})",
                    r.mean, r.p50, r.p99, w.mean, w.p50, w.p99
                ),
                (Some(s), None) | (None, Some(s)) => println!(
                    "  round {round}: {} mean {:.1} us (p50 {:.1}, p99 {:.1})",
                    if r.is_some() { "reign" } else { "raw" },
                    s.mean,
                    s.p50,
                    s.p99
                ),
                (None, None) => unreachable!("no contender"),
            }
            reign_rounds.extend(r);
            raw_rounds.extend(w);
        }
        if let Some(echo) = echo {
            echo.abort();
        }
        let pick = |v: &[Stats], f: fn(&Stats) -> f64| v.iter().map(f).collect::<Vec<_>>();
        let mut rows = Vec::new();
        for (name, f, goal) in [
            (
                "ping-pong round trip, mean (us)",
                (|s: &Stats| s.mean) as fn(&Stats) -> f64,
                "<= 1.15x",
            ),
            ("ping-pong round trip, p50 (us)", |s: &Stats| s.p50, "-"),
            ("ping-pong round trip, p99 (us)", |s: &Stats| s.p99, "-"),
        ] {
            let (r, w) = (pick(&reign_rounds, f), pick(&raw_rounds, f));
            if who != Contenders::Both {
                rows.push(one_sided(name, &r, &w, "us", 1));
                continue;
            }
            println!(
                "  {name}: reign {}, raw {} (min..max)",
                spread(&r, 1),
                spread(&w, 1)
            );
            rows.push(Row {
                name,
                reign: format!("{:.1}", median(&r)),
                raw: format!("{:.1}", median(&w)),
                ratio: Some(median(&r) / median(&w)),
                goal,
            });
        }
        rows
    }

    /// A raw TLS connection to a server that echoes every frame.
    async fn raw_echo_connection(&self) -> ClientTls<TcpStream> {
        self.raw_connection(super::raw::raw_echo).await
    }
}

/// `trips` sequential round trips: a's task sends to b's mailbox and waits for the message
/// that b's task sends back to a's mailbox.
async fn reign_round_trips(
    (to_b, mut at_a): (Address<Blob>, Mailbox<Blob>),
    trips: usize,
) -> (Vec<Duration>, (Address<Blob>, Mailbox<Blob>)) {
    let mut times = Vec::with_capacity(trips);
    for _ in 0..trips {
        let t = Instant::now();
        to_b.try_send(BLOB).expect("send to b");
        std::hint::black_box(at_a.recv().await);
        times.push(t.elapsed());
    }
    (times, (to_b, at_a))
}
