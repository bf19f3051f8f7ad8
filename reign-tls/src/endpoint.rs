//! The endpoint: dial and accept identity-checked mutual-TLS connections, and reload the
//! material they use. The order of a handshake:
//!
//! 1. TLS 1.3 with client certificates on both sides; each side's verifier checks the
//!    other's chain, validity, revocation and usages (`verify.rs`, with the one policy of
//!    `certcheck.rs`).
//! 2. The dialer sends HELLO in the flight that completes TLS, and compares the acceptor's
//!    CN with the node it meant to reach (on a mismatch it sends REFUSE and closes).
//! 3. The acceptor compares the HELLO's node ID with the dialer's CN (and cluster, version,
//!    membership, pins), then answers with its own HELLO, or REFUSE with the reason.
//! 4. The dialer checks that HELLO and answers ACCEPT, or REFUSE with the reason.
//!
//! All of it runs under one deadline, and on the accept side the TLS ClientHello must arrive
//! under a shorter one first; admission (caps, eviction) is in `admission.rs`. Refusals are
//! logged here, at warn, with the peer's address and the reason, on a per-call-site budget
//! (`warn_limited!`), and returned as [`HandshakeError`].
//!
//! How a handshake ends when it fails (docs/PROTOCOL.md section 3): before TLS completes, the
//! socket is just closed (rustls sends its alert when TLS itself fails). Once TLS is up,
//! every end goes through `end`: a REFUSE with the reason when this node refuses (a failed
//! check, the deadline: code 13, an eviction: code 16), then close_notify, within
//! `CLOSE_GRACE`; when the peer refused or closed first, close_notify alone.

use crate::CertificateError;
use crate::summary::MaterialSummary;
use crate::update::{
    CertificateUpdate, EXPORTER_LABEL, MAX_UPDATE_CHAIN, TLS13_SCHEMES, signed_message, updated,
    verify_signature,
};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{LazyConfigAcceptor, TlsConnector, TlsStream};

use crate::admission::{Admission, Ticket};
use crate::certinfo::{CertificateDetails, LeafFacts};
use crate::checks::Policy;
use crate::config::{TlsConfig, normalize_hex};
use crate::error::{HandshakeError, Refusal, RefusedBy, TlsError, refusal_from_rustls};
use crate::hello::{self, HandshakeMessage, Hello, PROTOCOL_VERSION};
use crate::identity::{Incarnation, NodeId};
use crate::material::OPERATOR_ALPN;
use crate::material::{Material, load};
use crate::stream::{AuthenticatedStream, PeerInfo, PeerKind, Role};

/// Dials and accepts identity-checked mutual-TLS connections for one node.
///
/// Cheap to clone (all clones share the material, which [`reload`](Self::reload) swaps).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use reign_tls::{NodeId, TlsConfig, TlsEndpoint};
/// let a = TlsEndpoint::new(TlsConfig::from_dir("certs", "a".parse()?, "demo"))?;
/// let stream = a.connect("127.0.0.1:7002".parse()?, &"b".parse()?).await?;
/// assert_eq!(stream.peer().node_id.as_str(), "b"); // proven by b's certificate
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TlsEndpoint {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: TlsConfig,
    policy: Policy,
    material: RwLock<Arc<Material>>,
    admission: Arc<Admission>,
}

/// Whom a dial is to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialing<'a> {
    /// That node.
    Node(&'a NodeId),
    /// Whichever node answers (a seed).
    AnyNode,
    /// Whichever node answers, as an operator.
    AsOperator,
}

impl Dialing<'_> {
    fn node(&self) -> Option<&NodeId> {
        match self {
            Dialing::Node(n) => Some(n),
            _ => None,
        }
    }
}

/// A handshake failure before it is attributed to a side.
type Failure = (RefusedBy, Refusal);

/// How long a node spends, once TLS is up, telling a peer that it ends the handshake (the
/// REFUSE, then close_notify), even past the deadline: the bytes are few, so only a peer
/// that does not read can make it take this long.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_millis(200);

/// Why a handshake stops once TLS is up.
#[derive(Debug)]
enum Stop {
    /// This node refuses the peer: REFUSE with the reason, then close_notify.
    Refuse(Refusal),
    /// The peer refused (its REFUSE was read), closed, or the connection failed: close_notify
    /// only (rustls sends nothing more after a fatal alert of its own).
    Ended(Result<Failure, std::io::Error>),
}

/// What ends a handshake whose TLS is up, besides its own steps: the deadline and, on the
/// accept side, eviction.
struct Limits<'a> {
    deadline: tokio::time::Instant,
    ticket: Option<&'a Ticket>,
}

impl Limits<'_> {
    /// Completes when the deadline passes or the handshake is evicted, with the refusal to
    /// tell the peer.
    async fn reached(&self) -> Refusal {
        let evicted = async {
            match self.ticket {
                Some(t) => t.evicted().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = evicted => Refusal::Evicted,
            () = tokio::time::sleep_until(self.deadline) => Refusal::HandshakeTimeout,
        }
    }
}

impl TlsEndpoint {
    /// Loads and checks the material `config` names. Fails, with a typed error, when the
    /// node's own certificate's CN is not its node ID, when the key does not match the
    /// certificate, or when the certificate would not pass a peer's checks (does not chain
    /// to the bundle, not X.509 v3, missing usages). A certificate that is merely expired, not
    /// yet valid or revoked does not stop the start: it is logged at warn, and peers refuse
    /// it with that reason until a renewed one is [reloaded](Self::reload).
    pub fn new(mut config: TlsConfig) -> Result<Self, TlsError> {
        if config.cluster.is_empty() || config.cluster.len() > 255 {
            return Err(TlsError::BadClusterName {
                len: config.cluster.len(),
            });
        }
        if let Some(pins) = &mut config.pinned_spki_sha256 {
            let normalized: std::collections::BTreeSet<String> =
                pins.iter().map(|p| normalize_hex(p)).collect();
            if let Some(bad) = normalized
                .iter()
                .find(|p| p.len() != 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(TlsError::Config(format!(
                    "pin {bad:?} is not a SHA-256 fingerprint (64 hex digits)"
                )));
            }
            *pins = normalized;
        }
        let material = load(&config)?;
        let policy = Policy {
            cluster: config.cluster.clone(),
            members: config.members.clone(),
            pins: config.pinned_spki_sha256.clone(),
            operators: config.operators.clone(),
            allow: config.allow.clone(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                admission: Admission::new(
                    config.max_pending_handshakes,
                    config.max_pending_handshakes_per_source,
                ),
                material: RwLock::new(Arc::new(material)),
                policy,
                config,
            }),
        })
    }

    /// This node's ID.
    pub fn node_id(&self) -> &NodeId {
        &self.inner.config.node_id
    }

    /// This node's incarnation, sent in every hello.
    pub fn incarnation(&self) -> Incarnation {
        self.inner.config.incarnation
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.inner.config.cluster
    }

    /// The configuration this endpoint was built from.
    pub fn config(&self) -> &TlsConfig {
        &self.inner.config
    }

    /// This node's current certificate chain with the proof that it holds the chain's key,
    /// made for the connection `peer` describes (see [`CertificateUpdate`]). Sent on a live
    /// link after a reload brought a new certificate, so that the peer checks the new chain
    /// from then on. `None` if the key offers no signature scheme reign verifies.
    pub fn certificate_update(&self, peer: &PeerInfo) -> Option<CertificateUpdate> {
        let m = self.material();
        let signer = m.signing_key.choose_scheme(TLS13_SCHEMES)?;
        let signature = signer.sign(&signed_message(&peer.exporter)).ok()?;
        Some(CertificateUpdate::new(
            m.chain.iter().map(|c| c.as_ref().to_vec()),
            u16::from(signer.scheme()),
            signature,
        ))
    }

    /// Checks a peer's [`CertificateUpdate`] for the connection `peer` describes, as a
    /// handshake checks a certificate: the chain against the current CA bundle and CRL (and
    /// validity, key usages, and the CN, which must be the same node, a member, and pinned
    /// if pins are set), then the signature with the new leaf's key over this connection's
    /// exporter value. Returns the peer as it is with the new certificate, or why the update
    /// is refused.
    pub fn accept_certificate_update(
        &self,
        peer: &PeerInfo,
        update: &CertificateUpdate,
    ) -> Result<PeerInfo, Refusal> {
        if update.chain.len() > MAX_UPDATE_CHAIN {
            return Err(Refusal::BadCertificate {
                detail: format!(
                    "certificate update: a chain of {} certificates (at most {MAX_UPDATE_CHAIN})",
                    update.chain.len()
                ),
            });
        }
        let (leaf, intermediates) = update
            .chain
            .split_first()
            .ok_or(Refusal::NoClientCertificate)?;
        let m = self.material();
        let (facts, valid_until) = m
            .verifier
            .check(leaf, intermediates, rustls_pki_types::UnixTime::now())
            .map_err(Refusal::from)?;
        self.inner.policy.check_identity(
            peer.node_id.as_str(),
            facts.details.common_name.as_deref(),
            &facts.details.spki_sha256,
        )?;
        verify_signature(
            m.verifier.algs(),
            leaf,
            update.scheme,
            &signed_message(&peer.exporter),
            &update.signature,
        )?;
        Ok(updated(
            peer,
            update.chain.clone(),
            facts.details,
            valid_until,
        ))
    }

    /// What the material in use holds: own certificate, CA bundle, CRL.
    pub fn summary(&self) -> MaterialSummary {
        self.material().summary.clone()
    }

    /// Details of this node's own certificate as currently loaded.
    pub fn own_certificate(&self) -> CertificateDetails {
        self.material().own.clone()
    }

    /// Re-reads the certificate, key, CA bundle and CRL from their files and swaps them in
    /// atomically: new handshakes use the new material at once, existing connections stay up.
    /// On any error (a half-written file, a key that does not match) the old material stays
    /// in use and the error says why.
    ///
    /// Returns what the new material holds.
    pub fn reload(&self) -> Result<MaterialSummary, TlsError> {
        let loaded = load(&self.inner.config).and_then(|m| {
            // A *new* certificate of this node's that is expired or not yet valid is a
            // mistake in what was installed: keep the one in use. (The one in use reaching
            // its end, or a CRL revoking it, loads with a warning, as at start.)
            let changed = m.own.sha256_fingerprint != self.material().own.sha256_fingerprint;
            match &m.own_refused {
                Some(
                    reason @ (CertificateError::Expired { .. }
                    | CertificateError::NotYetValid { .. }),
                ) if changed => Err(TlsError::OwnCertificate {
                    origin: self.inner.config.cert.origin(),
                    reason: reason.clone().into(),
                }),
                _ => Ok(m),
            }
        });
        match loaded {
            Ok(m) => {
                let summary = m.summary.clone();
                tracing::info!(
                    node = %self.inner.config.node_id,
                    material = %summary,
                    "TLS material reloaded"
                );
                *self
                    .inner
                    .material
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = Arc::new(m);
                Ok(summary)
            }
            Err(e) => {
                tracing::warn!(node = %self.inner.config.node_id, error = %e, "TLS reload failed; keeping the previous material");
                Err(e)
            }
        }
    }

    /// Checks a peer's certificate chain again against this endpoint's current material (the
    /// CA bundle and CRL as last [reloaded](Self::reload)), with the checks a handshake
    /// makes: after a reload, whether a live link's peer would still be accepted. Returns
    /// the chain's end of validity, or why it would now be refused (revoked, expired, no
    /// longer chaining to the bundle, ...).
    pub fn recheck(&self, peer: &PeerInfo) -> Result<SystemTime, Refusal> {
        let (leaf, intermediates) = peer
            .chain
            .split_first()
            .ok_or(Refusal::NoClientCertificate)?;
        self.material()
            .verifier
            .check(leaf, intermediates, rustls_pki_types::UnixTime::now())
            .map(|(_, valid_until)| valid_until)
            .map_err(Refusal::from)
    }

    /// The verifier of the current material.
    pub(crate) fn verifier(&self) -> Arc<crate::certcheck::PeerCertificateVerifier> {
        self.material().verifier.clone()
    }

    fn material(&self) -> Arc<Material> {
        self.inner
            .material
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Dials `addr`, expecting to reach node `expected`, and runs the whole handshake.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        expected: &NodeId,
    ) -> Result<AuthenticatedStream, HandshakeError> {
        self.dial_addr(addr, Dialing::Node(expected)).await
    }

    /// Whether this endpoint would accept `node` as a peer: a member, or matching an
    /// [allowed pattern](TlsConfig::allow), or anyone of the CA when neither is set; never
    /// an operator. (A handshake also checks its certificate, of course.)
    pub fn admits(&self, node: &NodeId) -> bool {
        *node != self.inner.config.node_id && self.inner.policy.admits(node)
    }

    /// Dials `addr` to reach whichever node is there (a seed, whose ID is not known yet) and
    /// runs the whole handshake: the node must be one this endpoint
    /// [admits](Self::admits); its ID is in the returned [`PeerInfo`].
    pub async fn connect_any(
        &self,
        addr: SocketAddr,
    ) -> Result<AuthenticatedStream, HandshakeError> {
        self.dial_addr(addr, Dialing::AnyNode).await
    }

    /// Dials `addr` as an operator (ALPN [`OPERATOR_ALPN`]): this endpoint's certificate is
    /// an operator's, and the node at `addr` accepts it only if that CN is one of its
    /// [operators](TlsConfig::operators). The node may be any node of the cluster (its
    /// certificate passes the same checks as a peer's; its CN is in the returned
    /// [`PeerInfo`]). The stream then carries the operator requests of
    /// [`operator`](crate::operator).
    pub async fn connect_operator(
        &self,
        addr: SocketAddr,
    ) -> Result<AuthenticatedStream, HandshakeError> {
        self.dial_addr(addr, Dialing::AsOperator).await
    }

    async fn dial_addr(
        &self,
        addr: SocketAddr,
        expected: Dialing<'_>,
    ) -> Result<AuthenticatedStream, HandshakeError> {
        let deadline = tokio::time::Instant::now() + self.inner.config.handshake_timeout;
        let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => {
                return Err(HandshakeError::Io {
                    peer_addr: addr,
                    source,
                });
            }
            Err(_) => {
                return Err(self.fail(
                    addr,
                    Role::Dialer,
                    (RefusedBy::Us, Refusal::HandshakeTimeout),
                    None,
                ));
            }
        };
        self.connect_on(tcp, expected, deadline).await
    }

    async fn connect_on(
        &self,
        tcp: TcpStream,
        expected: Dialing<'_>,
        deadline: tokio::time::Instant,
    ) -> Result<AuthenticatedStream, HandshakeError> {
        let addr = peer_addr(&tcp);
        let _ = tcp.set_nodelay(true);
        // `dial` keeps the deadline itself (and then takes at most CLOSE_GRACE to say so);
        // this bound only catches a step that would not.
        let run = self.dial(tcp, expected, deadline);
        match tokio::time::timeout_at(deadline + 2 * CLOSE_GRACE, run).await {
            Ok(Ok(s)) => {
                self.log_up(&s);
                Ok(s)
            }
            Ok(Err(Ok(f))) => Err(self.fail(addr, Role::Dialer, f, None)),
            Ok(Err(Err(source))) => Err(HandshakeError::Io {
                peer_addr: addr,
                source,
            }),
            Err(_) => Err(self.fail(
                addr,
                Role::Dialer,
                (RefusedBy::Us, Refusal::HandshakeTimeout),
                None,
            )),
        }
    }

    /// Runs the acceptor's side of the handshake on a freshly accepted socket.
    ///
    /// Call it in a task per connection, as soon as the connection is accepted. It is never
    /// refused for lack of room: when [`TlsConfig::max_pending_handshakes`] (or this source's
    /// [`TlsConfig::max_pending_handshakes_per_source`]) handshakes are already running, an
    /// older one is evicted (its `accept` returns [`Refusal::Evicted`] at once) to admit this
    /// one; see the admission rules in the [crate docs](crate#admission-on-the-accept-side). A connection whose TLS ClientHello
    /// has not arrived within [`TlsConfig::client_hello_timeout`] is closed with
    /// [`Refusal::HandshakeTimeout`], before any TLS work is done for it.
    ///
    /// A handshake evicted, or past its deadline, once TLS is up is told so (REFUSE code 16
    /// or 13, then close_notify) before it is closed; before that it is just closed.
    pub async fn accept(&self, tcp: TcpStream) -> Result<AuthenticatedStream, HandshakeError> {
        let addr = peer_addr(&tcp);
        let (ticket, evicted_another) = self.inner.admission.admit(addr.ip());
        if evicted_another {
            crate::debug_limited!(node = %self.inner.config.node_id, peer_addr = %addr, "handshake table full: evicted an older handshake");
        }
        let _ = tcp.set_nodelay(true);
        let config = &self.inner.config;
        let now = tokio::time::Instant::now();
        let deadline = now + config.handshake_timeout;
        let hello_deadline = now + config.client_hello_timeout.min(config.handshake_timeout);
        // `answer` keeps both deadlines itself (and then takes at most CLOSE_GRACE to say so);
        // this bound only catches a step that would not.
        let run = self.answer(tcp, &ticket, hello_deadline, deadline);
        match tokio::time::timeout_at(deadline + 2 * CLOSE_GRACE, run).await {
            Ok(Ok(s)) => {
                self.log_up(&s);
                Ok(s)
            }
            Ok(Err((Ok(f), proven))) => Err(self.fail_accept(addr, &ticket, f, proven)),
            Ok(Err((Err(source), _))) => {
                crate::debug_limited!(node = %config.node_id, peer_addr = %addr, error = %source, "accepted connection failed during the handshake");
                Err(HandshakeError::Io {
                    peer_addr: addr,
                    source,
                })
            }
            Err(_) => Err(self.fail_accept(
                addr,
                &ticket,
                (RefusedBy::Us, Refusal::HandshakeTimeout),
                None,
            )),
        }
    }

    /// [`fail`](Self::fail) for the accept side, where the noise an outsider without a
    /// certificate can make (no ClientHello in time, not TLS, gone before the end) is logged
    /// on budgets of its own, so that a flood of it cannot crowd out the refusals of peers
    /// that got as far as a certificate.
    fn fail_accept(
        &self,
        addr: SocketAddr,
        ticket: &Ticket,
        f: Failure,
        proven: Option<NodeId>,
    ) -> HandshakeError {
        let node = &self.inner.config.node_id;
        match (&f, ticket.hello_seen()) {
            ((_, Refusal::Evicted), _) => {
                crate::warn_limited!(node = %node, peer_addr = %addr, hello_seen = ticket.hello_seen(), "handshake evicted to admit a newer connection");
            }
            ((_, Refusal::HandshakeTimeout), false) => {
                crate::warn_limited!(node = %node, peer_addr = %addr, "no TLS ClientHello before the pre-TLS deadline; closed");
            }
            ((_, Refusal::ClosedDuringHandshake), false) => {
                crate::debug_limited!(node = %node, peer_addr = %addr, "connection closed before its TLS ClientHello");
            }
            ((_, Refusal::TlsFailure { .. }), false) => {
                crate::warn_limited!(node = %node, peer_addr = %addr, reason = %f.1, "not a TLS ClientHello; closed");
            }
            _ => return self.fail(addr, Role::Acceptor, f, proven),
        }
        let (by, reason) = f;
        match by {
            RefusedBy::Us => HandshakeError::Refused {
                peer_addr: addr,
                reason,
            },
            RefusedBy::Peer => HandshakeError::RefusedByPeer {
                peer_addr: addr,
                reason,
                proven,
            },
        }
    }

    fn log_up(&self, s: &AuthenticatedStream) {
        let p = s.peer();
        crate::debug_limited!(
            peer = %p.node_id,
            addr = %p.addr,
            role = ?p.role,
            group = ?p.key_exchange_group,
            "authenticated TLS connection"
        );
    }

    fn fail(
        &self,
        addr: SocketAddr,
        role: Role,
        (by, reason): Failure,
        proven: Option<NodeId>,
    ) -> HandshakeError {
        match by {
            RefusedBy::Us => {
                crate::warn_limited!(node = %self.inner.config.node_id, peer_addr = %addr, ?role, %reason, "refused peer");
                HandshakeError::Refused {
                    peer_addr: addr,
                    reason,
                }
            }
            RefusedBy::Peer => {
                crate::warn_limited!(node = %self.inner.config.node_id, peer_addr = %addr, ?role, proven = proven.as_ref().map(NodeId::as_str), %reason, "peer refused this node");
                HandshakeError::RefusedByPeer {
                    peer_addr: addr,
                    reason,
                    proven,
                }
            }
        }
    }

    fn our_hello(&self) -> HandshakeMessage {
        HandshakeMessage::Hello(Hello {
            version: PROTOCOL_VERSION,
            incarnation: self.inner.config.incarnation,
            cluster: self.inner.config.cluster.clone(),
            node_id: self.inner.config.node_id.clone(),
        })
    }

    /// The dialer's steps 1, 2 and 4, all by `deadline`. `expected`: who is to be reached.
    async fn dial(
        &self,
        tcp: TcpStream,
        expected: Dialing<'_>,
        deadline: tokio::time::Instant,
    ) -> Result<AuthenticatedStream, Result<Failure, std::io::Error>> {
        let addr = peer_addr(&tcp);
        let material = self.material();
        let connector = TlsConnector::from(match expected {
            Dialing::AsOperator => material.operator_client.clone(),
            _ => material.client.clone(),
        });
        // Not used for verification; any valid name will do where the node ID is not one.
        let name = expected
            .node()
            .and_then(|e| ServerName::try_from(e.as_str().to_owned()).ok())
            .unwrap_or_else(|| ServerName::try_from("reign-node").expect("static name is valid"));
        // The HELLO is queued before the handshake: rustls sends queued application data
        // only once the acceptor's certificate has passed our verifier, and then in the same
        // flight as our Finished, which saves a write and a wakeup on each side. (It reveals
        // nothing a holder of a valid cluster certificate has not already seen in ours,
        // except our incarnation.)
        let hello = hello::encode(&self.our_hello());
        let connecting = connector.connect_with(name, tcp, |conn| {
            use std::io::Write;
            // Writing into rustls' unbounded plaintext buffer cannot fail.
            let _ = conn.writer().write_all(&hello);
        });
        // Until TLS is up there is no way to tell the peer anything: the socket is closed.
        let tls = match tokio::time::timeout_at(deadline, connecting).await {
            Ok(r) => r.map_err(tls_failure)?,
            Err(_) => return Err(Ok((RefusedBy::Us, Refusal::HandshakeTimeout))),
        };
        let mut io = TlsStream::Client(tls);
        let limits = Limits {
            deadline,
            ticket: None,
        };
        match self
            .dial_checked(&mut io, expected, &material, &limits)
            .await
        {
            Ok((facts, valid_until, hello)) => Ok(authenticated(
                io,
                facts.details,
                valid_until,
                hello,
                addr,
                Role::Dialer,
                // The node is a node; this side is the operator.
                PeerKind::Node,
            )),
            Err(stop) => Err(end(&mut io, stop).await),
        }
    }

    /// The dialer's steps 2 and 4, on a connection whose TLS is up.
    async fn dial_checked(
        &self,
        io: &mut TlsStream<TcpStream>,
        expected: Dialing<'_>,
        material: &Material,
        limits: &Limits<'_>,
    ) -> Result<(LeafFacts, SystemTime, Hello), Stop> {
        let (facts, valid_until) = peer_chain(io, material)?;
        let cn = facts.details.common_name.as_deref();
        // An operator, or a dial to a seed, takes whichever node answers, as long as it is
        // a node this endpoint admits (and for a seed, not this node itself).
        if expected == Dialing::AnyNode && cn == Some(self.inner.config.node_id.as_str()) {
            return Err(Stop::Refuse(Refusal::UnknownNode {
                node: self.inner.config.node_id.to_string(),
            }));
        }
        let expected = expected
            .node()
            .map_or(cn.unwrap_or_default(), NodeId::as_str);
        self.inner
            .policy
            .check_identity(expected, cn, &facts.details.spki_sha256)
            .map_err(Stop::Refuse)?;
        let hello = self.peer_hello(io, &facts, PeerKind::Node, limits).await?;
        write_msg(io, &HandshakeMessage::Accept, limits).await?;
        Ok((facts, valid_until, hello))
    }

    /// The acceptor's steps 1 and 3, then waits for the dialer's ACCEPT. The ClientHello must
    /// be in by `hello_deadline`; only then does any TLS work (key exchange, signature) start;
    /// everything else by `deadline`.
    async fn answer(
        &self,
        tcp: TcpStream,
        ticket: &Ticket,
        hello_deadline: tokio::time::Instant,
        deadline: tokio::time::Instant,
    ) -> Result<AuthenticatedStream, (Result<Failure, std::io::Error>, Option<NodeId>)> {
        let addr = peer_addr(&tcp);
        // Until TLS is up, an eviction just closes the socket: there is no way to tell the
        // peer anything yet.
        let (mut io, material) = tokio::select! {
            biased;
            () = ticket.evicted() => return Err((Ok((RefusedBy::Us, Refusal::Evicted)), None)),
            r = self.answer_tls(tcp, ticket, hello_deadline, deadline) => r.map_err(|e| (e, None))?,
        };
        let limits = Limits {
            deadline,
            ticket: Some(ticket),
        };
        let kind = if io.get_ref().1.alpn_protocol() == Some(OPERATOR_ALPN) {
            PeerKind::Operator
        } else {
            PeerKind::Node
        };
        match self.answer_checked(&mut io, &material, kind, &limits).await {
            Ok((facts, valid_until, hello)) => Ok(authenticated(
                io,
                facts.details,
                valid_until,
                hello,
                addr,
                Role::Acceptor,
                kind,
            )),
            Err((stop, proven)) => Err((end(&mut io, stop).await, proven)),
        }
    }

    /// The acceptor's TLS handshake: the ClientHello by `hello_deadline`, the rest by
    /// `deadline`. Returns the stream and the material it was made with.
    async fn answer_tls(
        &self,
        tcp: TcpStream,
        ticket: &Ticket,
        hello_deadline: tokio::time::Instant,
        deadline: tokio::time::Instant,
    ) -> Result<(TlsStream<TcpStream>, Arc<Material>), Result<Failure, std::io::Error>> {
        let lazy = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
        let start = match tokio::time::timeout_at(hello_deadline, lazy).await {
            Ok(r) => r.map_err(tls_failure)?,
            Err(_) => return Err(Ok((RefusedBy::Us, Refusal::HandshakeTimeout))),
        };
        ticket.hello_received();
        // The material is taken now, after the cheap part: a reload meanwhile applies.
        let material = self.material();
        let handshake = start.into_stream(material.server.clone());
        let tls = match tokio::time::timeout_at(deadline, handshake).await {
            Ok(r) => r.map_err(tls_failure)?,
            Err(_) => return Err(Ok((RefusedBy::Us, Refusal::HandshakeTimeout))),
        };
        Ok((TlsStream::Server(tls), material))
    }

    /// The acceptor's step 3 and the wait for ACCEPT, on a connection whose TLS is up.
    async fn answer_checked(
        &self,
        io: &mut TlsStream<TcpStream>,
        material: &Material,
        kind: PeerKind,
        limits: &Limits<'_>,
    ) -> Result<(LeafFacts, SystemTime, Hello), (Stop, Option<NodeId>)> {
        let (facts, valid_until) = peer_chain(io, material).map_err(|s| (s, None))?;
        // Who the dialer's certificate proved it is, for a refusal of its own to name.
        let proven = facts
            .details
            .common_name
            .as_deref()
            .and_then(|cn| NodeId::new(cn).ok());
        let with = |s: Stop| (s, proven.clone());
        let hello = self
            .peer_hello(io, &facts, kind, limits)
            .await
            .map_err(with)?;
        write_msg(io, &self.our_hello(), limits)
            .await
            .map_err(with)?;
        match read_msg(io, limits).await.map_err(with)? {
            HandshakeMessage::Accept => Ok((facts, valid_until, hello)),
            HandshakeMessage::Refuse(r) => Err(with(Stop::Ended(Ok((RefusedBy::Peer, r))))),
            other => Err(with(Stop::Refuse(unexpected(&other, "ACCEPT or REFUSE")))),
        }
    }
}

impl TlsEndpoint {
    /// Reads the peer's HELLO (or its REFUSE) and checks it against its certificate: version,
    /// cluster, the claimed node ID against the CN, membership (or, for an operator, that it
    /// is one), pin. Refuses it otherwise.
    async fn peer_hello(
        &self,
        io: &mut TlsStream<TcpStream>,
        facts: &LeafFacts,
        kind: PeerKind,
        limits: &Limits<'_>,
    ) -> Result<Hello, Stop> {
        let hello = match read_msg(io, limits).await? {
            HandshakeMessage::Hello(h) => h,
            HandshakeMessage::OtherVersion(theirs) => {
                return Err(Stop::Refuse(Refusal::UnsupportedVersion {
                    ours: PROTOCOL_VERSION,
                    theirs,
                }));
            }
            HandshakeMessage::Refuse(r) => return Err(Stop::Ended(Ok((RefusedBy::Peer, r)))),
            other => return Err(Stop::Refuse(unexpected(&other, "HELLO or REFUSE"))),
        };
        self.inner
            .policy
            .check_hello(&hello)
            .and_then(|()| {
                let check = match kind {
                    PeerKind::Operator => Policy::check_operator,
                    _ => Policy::check_identity,
                };
                check(
                    &self.inner.policy,
                    hello.node_id.as_str(),
                    facts.details.common_name.as_deref(),
                    &facts.details.spki_sha256,
                )
            })
            .map_err(Stop::Refuse)?;
        Ok(hello)
    }
}

fn peer_addr(tcp: &TcpStream) -> SocketAddr {
    tcp.peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn unexpected(msg: &HandshakeMessage, wanted: &str) -> Refusal {
    let got = match msg {
        HandshakeMessage::Hello(_) | HandshakeMessage::OtherVersion(_) => "HELLO",
        HandshakeMessage::Refuse(_) => "REFUSE",
        HandshakeMessage::Accept => "ACCEPT",
    };
    Refusal::MalformedHello {
        detail: format!("expected {wanted}, got {got}"),
    }
}

fn authenticated(
    io: TlsStream<TcpStream>,
    certificate: CertificateDetails,
    valid_until: SystemTime,
    hello: Hello,
    addr: SocketAddr,
    role: Role,
    kind: PeerKind,
) -> AuthenticatedStream {
    let exporter = match &io {
        TlsStream::Client(s) => {
            s.get_ref()
                .1
                .export_keying_material([0u8; 32], EXPORTER_LABEL, None)
        }
        TlsStream::Server(s) => {
            s.get_ref()
                .1
                .export_keying_material([0u8; 32], EXPORTER_LABEL, None)
        }
    }
    // Only fails before the handshake completes, which it has here.
    .unwrap_or([0u8; 32]);
    let conn = io.get_ref().1;
    let key_exchange_group = conn.negotiated_key_exchange_group().map(|g| g.name());
    let cipher_suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    let chain = conn
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    AuthenticatedStream::new(
        io,
        PeerInfo {
            node_id: hello.node_id,
            incarnation: hello.incarnation,
            cluster: hello.cluster,
            certificate,
            valid_until,
            addr,
            role,
            kind,
            key_exchange_group,
            cipher_suite,
            chain,
            exporter,
        },
    )
}

/// The peer's leaf certificate facts and its chain's end of validity. The chain already
/// passed `material`'s verifier during TLS; it is verified again here, by the same verifier
/// (the same CA bundle and CRL even if a reload happened meanwhile), because rustls does not
/// hand back the path it verified. That costs one path verification (a few signature
/// checks) per connection whose peer already proved a valid certificate, which an outsider
/// without one cannot reach.
fn peer_chain(
    io: &TlsStream<TcpStream>,
    material: &Material,
) -> Result<(LeafFacts, SystemTime), Stop> {
    let certs = io
        .get_ref()
        .1
        .peer_certificates()
        .ok_or(Stop::Refuse(Refusal::NoClientCertificate))?;
    let (leaf, intermediates) = certs
        .split_first()
        .ok_or(Stop::Refuse(Refusal::NoClientCertificate))?;
    material
        .verifier
        .check(leaf, intermediates, rustls_pki_types::UnixTime::now())
        .map_err(|e| Stop::Refuse(e.into()))
}

/// Ends a handshake whose TLS is up, best effort (the peer may be gone or not reading) and
/// within [`CLOSE_GRACE`]: the REFUSE when this node refuses, then close_notify and the end
/// of the socket's write side (the socket closes when `io` is dropped). Returns the failure
/// to report.
async fn end(io: &mut TlsStream<TcpStream>, stop: Stop) -> Result<Failure, std::io::Error> {
    let (frame, outcome) = match stop {
        Stop::Refuse(reason) => (
            Some(hello::encode(&HandshakeMessage::Refuse(reason.clone()))),
            Ok((RefusedBy::Us, reason)),
        ),
        Stop::Ended(outcome) => (None, outcome),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if let Some(frame) = &frame {
            io.write_all(frame).await?;
        }
        // Sends close_notify after whatever is still buffered, then shuts the write side.
        io.shutdown().await
    })
    .await;
    outcome
}

/// Writes one handshake message, unless the deadline passes or the handshake is evicted first.
async fn write_msg(
    io: &mut TlsStream<TcpStream>,
    msg: &HandshakeMessage,
    limits: &Limits<'_>,
) -> Result<(), Stop> {
    let frame = hello::encode(msg);
    let written = tokio::select! {
        biased;
        reason = limits.reached() => return Err(Stop::Refuse(reason)),
        r = async {
            io.write_all(&frame).await?;
            io.flush().await
        } => r,
    };
    written.map_err(|e| Stop::Ended(tls_failure(e)))
}

/// Reads one handshake message, unless the deadline passes or the handshake is evicted first.
async fn read_msg(
    io: &mut TlsStream<TcpStream>,
    limits: &Limits<'_>,
) -> Result<HandshakeMessage, Stop> {
    tokio::select! {
        biased;
        reason = limits.reached() => Err(Stop::Refuse(reason)),
        r = read_frame(io) => r,
    }
}

/// Reads one frame: its length, refused before anything else is read if it is out of
/// bounds, then its body.
async fn read_frame(io: &mut TlsStream<TcpStream>) -> Result<HandshakeMessage, Stop> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len)
        .await
        .map_err(|e| Stop::Ended(tls_failure(e)))?;
    let n = hello::check_length(u32::from_be_bytes(len))
        .map_err(|detail| Stop::Refuse(Refusal::MalformedHello { detail }))?;
    let mut body = vec![0u8; n];
    io.read_exact(&mut body)
        .await
        .map_err(|e| Stop::Ended(tls_failure(e)))?;
    hello::decode_body(&body).map_err(|detail| Stop::Refuse(Refusal::MalformedHello { detail }))
}

/// Sorts an I/O error from tokio-rustls into a TLS refusal (ours or the peer's alert) or a
/// plain socket error.
fn tls_failure(e: std::io::Error) -> Result<Failure, std::io::Error> {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return Ok(refusal_from_rustls(tls));
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => Ok((RefusedBy::Peer, Refusal::ClosedDuringHandshake)),
        std::io::ErrorKind::InvalidData => Ok((
            RefusedBy::Us,
            Refusal::TlsFailure {
                detail: e.to_string(),
            },
        )),
        _ => Err(e),
    }
}
