//! Helpers for tests that run the examples as OS processes: finding them, the certgen CLI,
//! cluster folders with configuration files, and child processes whose stdout is read line
//! by line with bounded waits (killed when dropped; a failing test prints what they said).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reign::NodeConfig;

/// The bound of each wait for a child's output or exit.
pub(crate) const STEP: Duration = Duration::from_secs(15);

/// Tunables of the process clusters: a lost peer shows within two seconds.
pub(crate) const HEARTBEAT_MS: u64 = 200;
pub(crate) const SILENCE_MS: u64 = 1500;
const TUNABLES: &str = "
[tunables]
heartbeat_interval_ms = 200
peer_silence_limit_ms = 1500
reconnect_backoff_min_ms = 50
reconnect_backoff_max_ms = 300
handshake_timeout_ms = 1000
shutdown_timeout_ms = 2000
";

/// `target/<profile>/<name>` for `reign-certgen` and `reign`, `target/<profile>/examples/<name>` for an
/// example, in the profile of this test executable. `cargo test --workspace` (the README's
/// test command) builds them before any test runs; a test never runs cargo itself.
pub(crate) fn binary(name: &str) -> PathBuf {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let path = if name == "reign-certgen" || name == "reign" {
        profile_dir().join(file)
    } else {
        profile_dir().join("examples").join(file)
    };
    assert!(
        path.exists(),
        "{} is not built: `cargo test --workspace` builds it, or run \
         `cargo build -p reign -p reign-certgen --examples --bins` before `cargo test --test it`",
        path.display()
    );
    path
}

/// `target/<profile>`, from this test executable's path (`target/<profile>/deps/it-<hash>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
}

/// Runs the `reign-certgen` CLI; panics with its output if it fails.
pub(crate) fn certgen(args: &[&str]) {
    let out = Command::new(binary("reign-certgen"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running reign-certgen");
    assert!(
        out.status.success(),
        "reign-certgen {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder with `certs/` (a CA and certificates for `ids`, made by the CLI) and the nodes'
/// configuration files.
pub(crate) struct ClusterDir {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) ids: Vec<&'static str>,
    cluster: &'static str,
    /// Whether the configurations name `certs/crl.pem`.
    crl: bool,
    /// `<dir>/certs`.
    certs: String,
}

impl ClusterDir {
    pub(crate) fn new(cluster: &'static str, ids: &[&'static str]) -> ClusterDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        let certs = certs.to_str().expect("UTF-8 temp path");
        certgen(&["init", "--dir", certs, "--name", cluster]);
        let mut issue = vec!["issue", "--dir", certs];
        issue.extend_from_slice(ids);
        certgen(&issue);
        ClusterDir {
            dir,
            ids: ids.to_vec(),
            cluster,
            crl: false,
            certs: certs.to_owned(),
        }
    }

    /// Publishes an empty CRL (`certs/crl.pem`, which `reign-certgen revoke` rewrites) and
    /// names it in every configuration written from now on.
    pub(crate) fn with_crl(mut self) -> ClusterDir {
        certgen(&["crl", "--dir", self.certs()]);
        self.crl = true;
        self
    }

    /// The certificate folder, as a `reign-certgen --dir` argument.
    pub(crate) fn certs(&self) -> &str {
        &self.certs
    }

    /// Writes `<id>.toml`: listening on `port` (0: any), the other nodes at `addrs` (a node
    /// not listed there is never dialed by `id`: only lower IDs dial; it gets port 1).
    pub(crate) fn write_config(&self, id: &str, port: u16, addrs: &[(&str, u16)]) -> PathBuf {
        let mut text = format!(
            "node_id = \"{id}\"\ncluster = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\
             [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/{id}.pem\"\nkey = \"certs/{id}.key\"\n",
            self.cluster
        );
        if self.crl {
            text.push_str("crl = \"certs/crl.pem\"\n");
        }
        for other in self.ids.iter().filter(|o| **o != id) {
            let port = addrs
                .iter()
                .find(|(o, _)| o == other)
                .map_or(1, |(_, p)| *p);
            text.push_str(&format!(
                "[[members]]\nid = \"{other}\"\naddr = \"127.0.0.1:{port}\"\n"
            ));
        }
        text.push_str(TUNABLES);
        self.write(id, &text)
    }

    /// Writes `<id>.toml` with no member (open membership), on port 0, the fast tunables
    /// plus `tunables` (TOML lines for the `[tunables]` table).
    pub(crate) fn write_memberless(&self, id: &str, tunables: &str) -> PathBuf {
        let text = format!(
            "node_id = \"{id}\"\ncluster = \"{}\"\nlisten = \"127.0.0.1:0\"\n\
             [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/{id}.pem\"\nkey = \"certs/{id}.key\"\n\
             {TUNABLES}{tunables}",
            self.cluster
        );
        self.write(id, &text)
    }

    fn write(&self, id: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{id}.toml"));
        std::fs::write(&path, text).expect("writing a node config");
        // The file is what the example reads: check it here, where the error is clearer.
        NodeConfig::from_file(&path).expect("a valid node config");
        path
    }
}

/// A child process whose stdout is read line by line; killed when dropped.
pub(crate) struct Child {
    pub(crate) name: String,
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every stdout line so far.
    pub(crate) seen: Vec<String>,
    /// Lines before this index are not considered by [`Child::expect`].
    mark: usize,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Child {
    /// Starts `program args` with `RUST_LOG=log`, stdin piped.
    pub(crate) fn spawn(name: &str, program: &Path, args: &[&std::ffi::OsStr], log: &str) -> Child {
        let mut child = Command::new(program)
            .args(args)
            .env("RUST_LOG", log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        let stdin = child.stdin.take();
        Child {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            seen: Vec::new(),
            mark: 0,
            stderr,
        }
    }

    pub(crate) fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, `KILL`) with the `kill` command.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {} failed", self.name);
    }

    /// Types `line` (and Enter) on the child's stdin.
    pub(crate) fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("writing to the child's stdin");
        stdin.flush().expect("flushing the child's stdin");
    }

    /// From now on, [`Child::expect`] considers only lines printed after this moment.
    pub(crate) fn mark(&mut self) {
        self.drain();
        self.mark = self.seen.len();
    }

    pub(crate) fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// The first line since the mark matching `pred`, waiting for it up to [`STEP`].
    pub(crate) fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STEP;
        let mut checked = self.mark;
        loop {
            if let Some(line) = self.seen[checked..].iter().find(|l| pred(l)) {
                return line.clone();
            }
            checked = self.seen.len();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: no {what:?} within {STEP:?}", self.name)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: stdout closed before {what:?}", self.name)
                }
            }
        }
    }

    /// Whether any line since the mark matches `pred` (lines printed so far only).
    pub(crate) fn printed(&mut self, pred: impl Fn(&str) -> bool) -> bool {
        self.drain();
        self.seen[self.mark..].iter().any(|l| pred(l))
    }

    /// Waits for the process to exit, up to [`STEP`], then for its stdout to close.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {STEP:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => return status,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: stdout still open {STEP:?} after exiting", self.name)
                }
            }
        }
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Drop for Child {
    // A failing test shows what each child said (the test harness captures it).
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            self.drain();
            eprintln!(
                "---- {} stdout:\n{}\n---- {} stderr:\n{}",
                self.name,
                self.seen.join("\n"),
                self.name,
                self.stderr()
            );
        }
    }
}
