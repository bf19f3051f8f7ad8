//! The supervision example as a user runs it: a job queue over three node processes that
//! survives a killed worker process and a killed coordinator process, with every result
//! handed in exactly once.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::binary;

#[test]
fn the_job_queue_survives_a_killed_worker_and_a_killed_coordinator() {
    let started = Instant::now();
    let out = Command::new(binary("supervision"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the supervision example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(stdout.contains("killing worker node"), "{stdout}");
    assert!(stdout.contains("which holds the coordinator"), "{stdout}");
    assert!(
        stdout.contains("All 40 jobs handed in exactly once; the coordinator now runs on"),
        "{stdout}"
    );
    // Its own waits are bounded by 20 s each; the whole run takes a few seconds.
    assert!(started.elapsed() < Duration::from_secs(120));
}
