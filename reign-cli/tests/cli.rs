//! The `reign` binary's own checks: its help, and its refusals before any connection.
//! (Against running nodes it is tested by the workspace's `tests/it/operator.rs`.)

use std::process::Command;

fn reign(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reign"))
        .args(args)
        .output()
        .expect("run reign")
}

#[test]
fn help_shows_examples_and_both_commands() {
    let out = reign(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["status", "renew", "Examples:", "operators = [\"ops\"]"] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}

#[test]
fn bad_arguments_are_usage_errors_and_missing_files_are_named() {
    let out = reign(&["renew"]);
    assert_eq!(out.status.code(), Some(2));
    for days in ["0", "36601"] {
        let out = reign(&[
            "renew", "b", "--via", "x:1", "--ca-dir", "d", "--cert", "c", "--key", "k", "--days",
            days,
        ]);
        assert_eq!(out.status.code(), Some(2), "--days {days}");
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ops.pem");
    let out = reign(&[
        "status",
        "--node",
        "127.0.0.1:1",
        "--ca",
        missing.to_str().unwrap(),
        "--cert",
        missing.to_str().unwrap(),
        "--key",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("reign: ") && err.contains("ops.pem"),
        "{err}"
    );
}
