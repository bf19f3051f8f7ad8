//! The opt-in watch of the TLS files ([`TlsFiles::watch`](crate::TlsFiles::watch)): every
//! [`WATCH_INTERVAL`], where each configured path leads (its canonical path, so a symlink
//! swap such as a Kubernetes secret volume's counts) and what is there (length,
//! modification time, inode) is compared with the previous look; any difference reloads the
//! material as [`Node::reload_tls`](crate::Node::reload_tls) does. A file caught half-written
//! fails the reload (the old material stays in use, and the failure is logged); the rest of
//! the write changes the file again, and the next look reloads it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Mesh;

/// How often the files are looked at: a change is picked up within this, plus the reload.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What one look at a path found (`None` in [`look`] when nothing is there).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    target: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn look(path: &Path) -> Option<Seen> {
    let target = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&target).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Seen {
        target,
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

/// One look at every path.
fn look_all(paths: &[PathBuf]) -> Vec<Option<Seen>> {
    // `metadata` does not open the file, so a FIFO cannot block it.
    paths.iter().map(|p| look(p)).collect()
}

impl Mesh {
    /// Reloads the TLS material whenever its files change, until the node stops.
    pub(crate) async fn watch_tls_files(self: Arc<Self>) {
        let tls = &self.config.tls;
        let paths: Vec<PathBuf> = [&tls.ca, &tls.cert, &tls.key]
            .into_iter()
            .chain(tls.crl.as_ref())
            .cloned()
            .collect();
        let mut last = look_all(&paths);
        loop {
            tokio::select! {
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
                () = self.stop.cancelled() => return,
            }
            let now = look_all(&paths);
            if now == last {
                continue;
            }
            last = now;
            tracing::info!(node = %self.node.id(), "the TLS files changed; reloading");
            // The outcome is logged by the reload itself: what the new material holds and
            // which links it ended, or the file that did not load (the old material kept).
            // It reads files: off the runtime's workers.
            let node = self.node.clone();
            let _ = tokio::task::spawn_blocking(move || node.reload_tls()).await;
        }
    }
}
