//! Operator connections (docs/PROTOCOL.md section 8): the `reign` tool, holding a
//! certificate whose CN is one of this node's `operators`, asks for this node's TLS status
//! or renews a node's certificate. Such a connection never becomes a link: it is not a
//! member, is not announced, and carries only operator requests, one at a time.
//!
//! A renewal of another node is forwarded over this node's link with it (RENEW_PREPARE,
//! RENEW_INSTALL, answered by RENEW_REPLY); the node renewed makes its key itself, so the
//! private key never leaves it. What any requester can make a node do is bounded by
//! [`renewals`]: one key made a second, one waiting, and a refused certificate ends it.

mod renewals;
mod status_json;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reign_tls::operator::{
    self, MAX_OPERATOR_REQUEST, OperatorErrorCode, OperatorReply, OperatorRequest, StatusFormat,
};
use reign_tls::ratelimit::Escaped;
use reign_tls::{AuthenticatedStream, NodeId, RenewalError, RenewalKey};
use rustls_pki_types::CertificateDer;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

pub(crate) use renewals::{Origin, Renewals, Requester};

use super::Mesh;
use super::link::Link;
use crate::proto::wire::Frame;

/// How long an operator connection may sit between requests.
pub(crate) const OPERATOR_IDLE: Duration = Duration::from_secs(60);
/// How long a node waits for the node it forwarded a renewal step to.
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Operator connections served at once; one more is told ERROR 4 (busy) and closed.
pub(crate) const MAX_OPERATOR_SESSIONS: usize = 8;
/// How long writing one reply may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The operator service's share of a [`Mesh`].
#[derive(Default)]
pub(crate) struct Operators {
    pub(crate) renewals: Renewals<RenewalKey>,
    /// Renewal steps forwarded to a member, waiting for its RENEW_REPLY: by request number,
    /// the member asked and where the reply goes.
    forwards: dashmap::DashMap<u64, (NodeId, oneshot::Sender<Bytes>)>,
    sessions: std::sync::atomic::AtomicUsize,
}

fn error(code: OperatorErrorCode, text: impl Into<String>) -> OperatorReply {
    OperatorReply::Error {
        code,
        text: text.into(),
    }
}

fn no_pending() -> OperatorReply {
    error(
        OperatorErrorCode::NoPendingRenewal,
        "no renewal in progress: send RENEW_PREPARE first (a key waits 10 minutes, and a refused certificate ends it)",
    )
}

fn busy_error(busy: renewals::Busy) -> OperatorReply {
    error(
        OperatorErrorCode::Busy,
        match busy {
            renewals::Busy::TooSoon => "a renewal was started less than a second ago",
            renewals::Busy::InProgress => "a new key is being made for this requester already",
        },
    )
}

fn renewal_error(e: &RenewalError) -> OperatorReply {
    let code = match e {
        RenewalError::NotFromFiles(_) => OperatorErrorCode::NotFromFiles,
        RenewalError::Io { .. } | RenewalError::KeyGeneration(_) => OperatorErrorCode::Io,
        _ => OperatorErrorCode::Refused,
    };
    error(code, e.to_string())
}

/// The frame body of a reply (its kind and payload, without the length).
fn reply_body(r: &OperatorReply) -> Bytes {
    Bytes::from(operator::encode_reply(r)).slice(4..)
}

impl Mesh {
    /// Serves one operator connection until it closes, idles for [`OPERATOR_IDLE`], sends a
    /// malformed request, or the node stops.
    pub(crate) async fn serve_operator(self: &Arc<Self>, stream: AuthenticatedStream) {
        let (mut io, peer) = stream.into_parts();
        let ops = &self.operators;
        let session = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let who = Requester {
            origin: Origin::Operator(session),
            session: 0,
        };
        let n = ops
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let _guard = SessionGuard(self.clone(), who.clone());
        if n >= MAX_OPERATOR_SESSIONS {
            reign_tls::warn_limited!(node = %self.node.id(), operator = %peer.node_id, addr = %peer.addr, "operator connection refused: too many at once");
            let busy = error(
                OperatorErrorCode::Busy,
                format!("{MAX_OPERATOR_SESSIONS} operator connections are open already"),
            );
            let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
                io.write_all(&operator::encode_reply(&busy)).await?;
                io.shutdown().await
            })
            .await;
            return;
        }
        reign_tls::info_limited!(node = %self.node.id(), operator = %peer.node_id, addr = %peer.addr, "operator connected");
        loop {
            let read = tokio::select! {
                r = tokio::time::timeout(OPERATOR_IDLE, operator::read_frame(&mut io, MAX_OPERATOR_REQUEST)) => r,
                () = self.stop.cancelled() => break,
            };
            let body = match read {
                Ok(Ok(b)) => b,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    reign_tls::warn_limited!(node = %self.node.id(), operator = %peer.node_id, error = %e, "operator request refused");
                    let _ =
                        write_reply(&mut io, &error(OperatorErrorCode::Malformed, e.to_string()))
                            .await;
                    break;
                }
                // Closed, or idle too long.
                _ => break,
            };
            // The operator's certificate is held to the node's material as it is now: a
            // reload that revokes it, or its end, ends the connection at its next request.
            if let Err(refusal) = self.tls.recheck(&peer) {
                reign_tls::warn_limited!(node = %self.node.id(), operator = %peer.node_id, reason = %refusal, "operator connection ended: its certificate is no longer accepted");
                let end = error(
                    OperatorErrorCode::CertificateRefused,
                    format!("this operator certificate is no longer accepted: {refusal}"),
                );
                let _ = write_reply(&mut io, &end).await;
                break;
            }
            let (reply, last) = match operator::decode_request(&body) {
                Ok(request) => (
                    self.operator_request(&who, session, &peer.node_id, request)
                        .await,
                    false,
                ),
                Err(e) => {
                    reign_tls::warn_limited!(node = %self.node.id(), operator = %peer.node_id, error = %e, "malformed operator request");
                    (error(OperatorErrorCode::Malformed, e.to_string()), true)
                }
            };
            if write_reply(&mut io, &reply).await.is_err() || last {
                break;
            }
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, io.shutdown()).await;
    }

    async fn operator_request(
        self: &Arc<Self>,
        who: &Requester,
        session: u64,
        operator: &NodeId,
        request: OperatorRequest,
    ) -> OperatorReply {
        let me = self.node.id();
        match request {
            OperatorRequest::Status { format } => match self.node.tls_status() {
                None => error(OperatorErrorCode::Io, "the node is shutting down"),
                Some(status) => OperatorReply::Status {
                    text: match format {
                        StatusFormat::Json => status_json::to_json(
                            me.as_str(),
                            &self.config.cluster,
                            self.node.incarnation().get(),
                            &status,
                        ),
                        _ => status.to_string(),
                    },
                },
            },
            OperatorRequest::RenewPrepare { node } if node == *me => {
                tracing::info!(node = %me, %operator, "operator renewal: making a new key");
                self.prepare_here(who.clone()).await
            }
            OperatorRequest::RenewInstall { node, chain } if node == *me => {
                let reply = self.install_here(who, chain).await;
                tracing::info!(node = %me, %operator, outcome = ?reply, "operator renewal: install");
                reply
            }
            OperatorRequest::RenewPrepare { node } => {
                self.forward(&node, Step::Prepare, |request| Frame::RenewPrepare {
                    request,
                    session,
                })
                .await
            }
            OperatorRequest::RenewInstall { node, chain } => {
                let chain = chain.into_iter().map(|c| Bytes::from(c.to_vec())).collect();
                self.forward(&node, Step::Install, |request| Frame::RenewInstall {
                    request,
                    session,
                    chain,
                })
                .await
            }
            _ => error(OperatorErrorCode::Malformed, "request not served"),
        }
    }

    /// RENEW_PREPARE for this node: a new key and its certificate request, off the async
    /// threads.
    async fn prepare_here(self: &Arc<Self>, who: Requester) -> OperatorReply {
        if let Err(busy) = self.operators.renewals.begin_prepare(&who, Instant::now()) {
            return busy_error(busy);
        }
        self.prepare_admitted(who).await
    }

    /// [`prepare_here`](Self::prepare_here) once admitted.
    async fn prepare_admitted(self: &Arc<Self>, who: Requester) -> OperatorReply {
        let tls = self.tls.clone();
        let made = tokio::task::spawn_blocking(move || tls.prepare_renewal()).await;
        match made {
            Ok(Ok(key)) => {
                let csr = key.csr_der().to_vec();
                self.operators
                    .renewals
                    .prepared(&who, Some(key), Instant::now());
                OperatorReply::Csr {
                    node: self.node.id().clone(),
                    csr,
                }
            }
            Ok(Err(e)) => {
                self.operators.renewals.prepared(&who, None, Instant::now());
                renewal_error(&e)
            }
            Err(_) => {
                self.operators.renewals.prepared(&who, None, Instant::now());
                error(OperatorErrorCode::Io, "making the key failed")
            }
        }
    }

    /// RENEW_INSTALL for this node: check the chain, write it and the key, reload (which
    /// checks every link and tells peers of the new certificate); put the old files back if
    /// the reload fails.
    async fn install_here(
        &self,
        who: &Requester,
        chain: Vec<CertificateDer<'static>>,
    ) -> OperatorReply {
        match self.operators.renewals.take(who, Instant::now()) {
            Some(key) => self.install_key(key, chain).await,
            None => no_pending(),
        }
    }

    /// [`install_here`](Self::install_here) with the waiting key taken.
    async fn install_key(
        &self,
        key: RenewalKey,
        chain: Vec<CertificateDer<'static>>,
    ) -> OperatorReply {
        let tls = self.tls.clone();
        let node = self.node.clone();
        let done = tokio::task::spawn_blocking(move || {
            let installed = tls
                .install_renewal(&key, &chain)
                .map_err(|e| renewal_error(&e))?;
            match node.reload_tls() {
                Ok(_) => Ok(installed),
                Err(e) => {
                    let restored = installed.restore().and_then(|()| {
                        node.reload_tls().map(|_| ()).map_err(|_| {
                            RenewalError::NotFromFiles(reign_tls::MaterialKind::Certificate)
                        })
                    });
                    Err(error(
                        OperatorErrorCode::Io,
                        format!(
                            "the new files do not reload ({e}); {}",
                            if restored.is_ok() {
                                "the old certificate and key are back in place"
                            } else {
                                "putting the old ones back failed too: see the node's log"
                            }
                        ),
                    ))
                }
            }
        })
        .await;
        match done {
            Ok(Ok(i)) => OperatorReply::Renewed {
                node: self.node.id().clone(),
                serial_hex: i.serial_hex,
                not_after: i.not_after,
            },
            Ok(Err(reply)) => reply,
            Err(_) => error(OperatorErrorCode::Io, "installing the certificate failed"),
        }
    }

    /// Sends a renewal step to member `target` over its link and waits for its answer, which
    /// must be the step's (a CSR of `target`'s of at most [`MAX_CSR`] bytes, or `target`
    /// renewed) or an error.
    async fn forward(
        &self,
        target: &NodeId,
        step: Step,
        frame: impl FnOnce(u64) -> Frame,
    ) -> OperatorReply {
        let link = self.peers.get(target).and_then(|p| p.link());
        let Some(link) = link else {
            let mut linked: Vec<String> = self
                .peers
                .values()
                .filter(|p| p.link().is_some())
                .map(|p| p.id.to_string())
                .collect();
            linked.sort_unstable();
            return error(
                OperatorErrorCode::NoConnection,
                format!(
                    "no connection with {target} (linked: {})",
                    if linked.is_empty() {
                        "none".to_owned()
                    } else {
                        linked.join(", ")
                    }
                ),
            );
        };
        let request = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.operators
            .forwards
            .insert(request, (target.clone(), tx));
        link.send_urgent(&frame(request));
        let answer = tokio::time::timeout(FORWARD_TIMEOUT, rx).await;
        self.operators.forwards.remove(&request);
        match answer {
            Ok(Ok(body)) => match operator::decode_reply(&body) {
                Ok(reply @ OperatorReply::Error { .. }) => reply,
                Ok(reply @ OperatorReply::Csr { .. })
                    if step == Step::Prepare
                        && matches!(&reply, OperatorReply::Csr { node, csr } if node == target && csr.len() <= MAX_CSR) =>
                {
                    reply
                }
                Ok(reply @ OperatorReply::Renewed { .. })
                    if step == Step::Install
                        && matches!(&reply, OperatorReply::Renewed { node, .. } if node == target) =>
                {
                    reply
                }
                Ok(_) => {
                    reign_tls::warn_limited!(node = %self.node.id(), peer = %target, ?step, "a forwarded renewal step was answered with another kind of reply");
                    error(
                        OperatorErrorCode::Malformed,
                        format!("{target} answered the renewal step with another kind of reply"),
                    )
                }
                Err(e) => error(
                    OperatorErrorCode::Malformed,
                    format!("{target} answered with a malformed reply: {e}"),
                ),
            },
            _ => error(
                OperatorErrorCode::Timeout,
                format!(
                    "{target} did not answer within {} s",
                    FORWARD_TIMEOUT.as_secs()
                ),
            ),
        }
    }

    /// A renewal frame from a member: a step to run here for it, or the answer to a step
    /// this node forwarded to it. Answers are queued in order with messages, as every answer
    /// to a peer's request is: a peer that asks and never reads is cut once twice the link
    /// buffer is queued.
    pub(crate) fn renewal_frame(self: &Arc<Self>, link: &Arc<Link>, frame: Frame) {
        let from = |session| Requester {
            origin: Origin::Member(link.peer.clone()),
            session,
        };
        match frame {
            Frame::RenewPrepare { request, session } => {
                let who = from(session);
                // Refused here, at once, unless admitted: only admitted steps cost a task.
                if let Err(busy) = self.operators.renewals.begin_prepare(&who, Instant::now()) {
                    reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, ?busy, "forwarded renewal refused: too soon");
                    link.send_ordered(&Frame::RenewReply {
                        request,
                        reply: reply_body(&busy_error(busy)),
                    });
                    return;
                }
                reign_tls::info_limited!(node = %self.node.id(), peer = %link.peer, "renewal forwarded by a member: making a new key");
                let (me, link) = (self.clone(), link.clone());
                self.spawn(async move {
                    let reply = me.prepare_admitted(who).await;
                    link.send_ordered(&Frame::RenewReply {
                        request,
                        reply: reply_body(&reply),
                    });
                });
            }
            Frame::RenewInstall {
                request,
                session,
                chain,
            } => {
                let who = from(session);
                // Without a waiting key, answered at once: only a renewal this member started
                // (at most one a second) costs a task and a chain verification.
                let Some(key) = self.operators.renewals.take(&who, Instant::now()) else {
                    reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, "forwarded renewal install without a renewal in progress: refused");
                    link.send_ordered(&Frame::RenewReply {
                        request,
                        reply: reply_body(&no_pending()),
                    });
                    return;
                };
                let (me, link) = (self.clone(), link.clone());
                let chain = chain
                    .into_iter()
                    .map(|c| CertificateDer::from(c.to_vec()))
                    .collect();
                self.spawn(async move {
                    let reply = me.install_key(key, chain).await;
                    reign_tls::info_limited!(node = %me.node.id(), peer = %link.peer, outcome = ?reply, "renewal forwarded by a member: install");
                    link.send_ordered(&Frame::RenewReply {
                        request,
                        reply: reply_body(&reply),
                    });
                });
            }
            Frame::RenewReply { request, reply } => {
                let asked = self
                    .operators
                    .forwards
                    .remove_if(&request, |_, (target, _)| *target == link.peer);
                match asked {
                    Some((_, (_, tx))) => {
                        let _ = tx.send(reply);
                    }
                    None => {
                        reign_tls::warn_limited!(node = %self.node.id(), peer = %link.peer, request, bytes = reply.len(), "renewal reply that answers nothing asked of that peer: ignored");
                    }
                }
            }
            other => {
                tracing::debug!(node = %self.node.id(), frame = ?Escaped(&format!("{other:?}")), "not a renewal frame");
            }
        }
    }
}

async fn write_reply<W: tokio::io::AsyncWrite + Unpin>(
    io: &mut W,
    reply: &OperatorReply,
) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, async {
        io.write_all(&operator::encode_reply(reply)).await?;
        io.flush().await
    })
    .await
    .map_err(|_| std::io::ErrorKind::TimedOut)?
}

/// Counts an operator connection out and forgets its renewal when it ends, however it ends.
struct SessionGuard(Arc<Mesh>, Requester);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let ops = &self.0.operators;
        ops.sessions
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        ops.renewals.forget(&self.1.origin);
    }
}

/// Which renewal step a forwarded request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Prepare,
    Install,
}

/// The largest certificate request relayed from a member (a reign node's is a few hundred
/// bytes; an RSA 4096 one under 1 KiB).
pub(crate) const MAX_CSR: usize = 16 * 1024;
