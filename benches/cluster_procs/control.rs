//! The parent's end of the control pipe: the child process, its stdin for commands, its
//! stdout for answers, one text line each.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A running child. Dropping it kills the child (a panic of the parent leaves none behind);
/// [`Control::quit`] ends it gracefully.
pub(crate) struct Control {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pid: u32,
}

impl Control {
    /// Starts this binary again as the child of `role`, with the PKI in `dir`.
    pub(crate) fn spawn(role: &str, dir: &Path) -> Control {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg("--child")
            .arg(role)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the child");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let pid = child.id().expect("child pid");
        Control {
            child,
            stdin,
            lines,
            pid,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends one command line.
    pub(crate) async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to the child");
        self.stdin.flush().await.expect("flush to the child");
    }

    /// Reads the next line, which must start with `word`; returns the rest of it.
    pub(crate) async fn expect(&mut self, word: &str) -> String {
        let line = self
            .lines
            .next_line()
            .await
            .expect("read from the child")
            .unwrap_or_else(|| panic!("the child ended while {word:?} was awaited"));
        let (w, rest) = line.split_once(' ').unwrap_or((&line, ""));
        assert_eq!(w, word, "unexpected line from the child: {line:?}");
        rest.to_string()
    }

    /// Tells the child to shut its node down and exit, and waits (a while) for it to.
    pub(crate) async fn quit(mut self) {
        self.send("quit").await;
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(status) => println!("  (child exited: {status:?})"),
            Err(_) => println!("  (child did not exit within 15 s: killed)"),
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // Nothing to do when it has exited already.
        let _ = self.child.start_kill();
    }
}
