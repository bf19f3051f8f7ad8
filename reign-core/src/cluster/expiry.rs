//! Warnings about certificates near the end of their validity: this node's own and the CA
//! bundle's, checked at start, after each reload and then at
//! [`Tunables::certificate_check_interval`](crate::Tunables::certificate_check_interval);
//! each certificate in its window is reported once per check, with a `WARN` line and a
//! [`NodeEvent::CertificateExpiring`].

use std::sync::Arc;
use std::time::SystemTime;

use super::Mesh;
use super::events::NodeEvent;

impl Mesh {
    /// Checks the material in use now and reports what is near its end.
    pub(crate) fn check_expiry(&self) {
        let window = self.config.tunables.certificate_expiry_warning;
        for expiring in self.tls.summary().expiring(SystemTime::now(), window) {
            // The material is this node's own files: not a peer's text, and a fixed, small
            // number of lines per check (one per certificate), so no budget is needed.
            tracing::warn!(node = %self.node.id(), certificate = %expiring, "certificate near the end of its validity");
            self.emit(NodeEvent::CertificateExpiring(expiring));
        }
    }

    /// Checks at once, then at every interval until the node stops.
    pub(crate) async fn watch_expiry(self: Arc<Self>) {
        let every = self.config.tunables.certificate_check_interval;
        loop {
            self.check_expiry();
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.stop.cancelled() => return,
            }
        }
    }
}
