//! Reloading a node's TLS material on SIGHUP, shared by the examples: the certificate, key,
//! CA bundle and CRL files are read again, live links are checked against them, and one line
//! says what changed (`reloaded: cert serial … not-after …, ca bundle N certificates, crl M
//! entries; links kept K, ended E`) or why the reload was refused (`reload refused: …`, the
//! old material staying in use).

use reign::Node;

/// Spawns the task that reloads `node`'s TLS material on each SIGHUP and prints the
/// outcome through `say`. Does nothing on systems without SIGHUP.
pub(crate) fn on_sighup(node: &Node, say: fn(std::fmt::Arguments<'_>)) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; TLS reload on signal is off");
                return;
            }
        };
        let node = node.downgrade();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let Some(node) = node.upgrade() else { return };
                // Reading files: off the runtime's workers.
                let reloaded = tokio::task::spawn_blocking(move || node.reload_tls()).await;
                let Ok(reloaded) = reloaded else { return };
                match reloaded {
                    Ok(report) => say(format_args!("{report}")),
                    Err(e) => say(format_args!("reload refused: {}", chain(&e))),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (node, say);
}

/// The error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
