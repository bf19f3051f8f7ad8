//! The configuration of a [`TlsEndpoint`](crate::TlsEndpoint): where its PEM material comes
//! from, who may connect, and the handshake limits. Every default is documented here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::identity::{Incarnation, NodeId};

/// Default deadline for TLS handshake plus hello exchange: 3 seconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// Default cap on connections in their handshake at once (accept side): 256.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 256;
/// Default cap on handshakes in progress from one source address (an IPv4 address or an
/// IPv6 /64), accept side: 32.
pub const DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE: usize = 32;
/// Default pre-TLS deadline: an accepted connection's TLS ClientHello must have arrived
/// within 1 second.
pub const DEFAULT_CLIENT_HELLO_TIMEOUT: Duration = Duration::from_secs(1);

/// Where one piece of PEM material comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A file, read at start and again at every [`reload`](crate::TlsEndpoint::reload).
    File(PathBuf),
    /// Bytes held in memory (a reload keeps them as they are).
    Memory(Vec<u8>),
}

impl PemSource {
    /// Where this material comes from, for messages: the path or `(in memory)`.
    pub fn origin(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Memory(_) => "(in memory)".to_owned(),
        }
    }
}

impl std::fmt::Debug for PemSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "File({})", p.display()),
            // Never print key material.
            Self::Memory(b) => write!(f, "Memory({} bytes)", b.len()),
        }
    }
}

impl From<PathBuf> for PemSource {
    fn from(p: PathBuf) -> Self {
        Self::File(p)
    }
}

impl From<&Path> for PemSource {
    fn from(p: &Path) -> Self {
        Self::File(p.to_owned())
    }
}

/// Configuration of one node's TLS endpoint.
///
/// ```no_run
/// use reign_tls::{NodeId, TlsConfig, TlsEndpoint};
/// let id: NodeId = "a".parse()?;
/// // certs/ holds ca.pem, a.pem, a.key (and crl.pem if one exists), as reign-certgen writes them.
/// let config = TlsConfig::from_dir("certs", id, "demo");
/// let endpoint = TlsEndpoint::new(config)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsConfig {
    /// This node's ID; its certificate's Common Name must equal it.
    pub node_id: NodeId,
    /// The cluster name, exchanged in the hello; peers of another cluster are refused. 1 to 255 bytes.
    pub cluster: String,
    /// The CA bundle: one or more CA certificates (old and new side by side during a rotation).
    pub ca: PemSource,
    /// This node's certificate, optionally followed by intermediates.
    pub cert: PemSource,
    /// This node's private key (PKCS#8, SEC1 or PKCS#1 PEM).
    pub key: PemSource,
    /// The CRL(s) to consult, if any. Default: none.
    pub crl: Option<PemSource>,
    /// When set, only these node IDs may connect or be connected to. Default: `None` (any node
    /// with a valid certificate from the bundle).
    pub members: Option<BTreeSet<NodeId>>,
    /// When set, a peer whose public key's SHA-256 (hex, of the SubjectPublicKeyInfo DER) is not
    /// in the set is refused even with a valid chain. Default: `None` (no pinning).
    pub pinned_spki_sha256: Option<BTreeSet<String>>,
    /// Who else may connect or be connected to, by pattern (`worker-*`): a node whose ID
    /// matches one is admitted as if it were in [`members`](Self::members). With `members`
    /// `None` and patterns given, only the patterns admit. Default: empty.
    pub allow: Vec<crate::IdPattern>,
    /// The operators: CNs (from the same CA) that may open an operator connection (ALPN
    /// [`OPERATOR_ALPN`](crate::OPERATOR_ALPN)) to ask for this node's status or renew its
    /// certificate. An operator is never a member: a node connection from one of these CNs is
    /// refused as not a member, and an operator connection from any other CN is refused with
    /// [`Refusal::NotAnOperator`](crate::Refusal::NotAnOperator). Default: empty (no
    /// operator may connect).
    pub operators: BTreeSet<NodeId>,
    /// Deadline for TLS handshake plus hello, on both sides. Default: [`DEFAULT_HANDSHAKE_TIMEOUT`] (3 s).
    pub handshake_timeout: Duration,
    /// Pre-TLS deadline on the accept side: an accepted connection whose TLS ClientHello has
    /// not fully arrived this long after it was accepted is closed (a dialer sends it at
    /// once; an idle or dribbling connection is cut here, long before `handshake_timeout`).
    /// Capped by `handshake_timeout`. Default: [`DEFAULT_CLIENT_HELLO_TIMEOUT`] (1 s).
    pub client_hello_timeout: Duration,
    /// Cap on connections in their handshake at once on the accept side. When it is reached,
    /// a new connection is still admitted: the oldest handshake of the source holding the
    /// most, preferring one still waiting for its ClientHello, is evicted (closed) to make
    /// room. Default: [`DEFAULT_MAX_PENDING_HANDSHAKES`] (256).
    pub max_pending_handshakes: usize,
    /// Cap on handshakes in progress from one source (an IPv4 address, or an IPv6 /64) on the
    /// accept side. When it is reached, a new connection from that source evicts that
    /// source's oldest handshake (preferring one still waiting for its ClientHello). So one
    /// address can never hold more than this many slots. Default:
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE`] (32).
    pub max_pending_handshakes_per_source: usize,
    /// This node's incarnation, sent in every hello. Default: a fresh random one.
    pub incarnation: Incarnation,
}

impl TlsConfig {
    /// A configuration with the given material and every other field at its default.
    pub fn new(
        node_id: NodeId,
        cluster: impl Into<String>,
        ca: impl Into<PemSource>,
        cert: impl Into<PemSource>,
        key: impl Into<PemSource>,
    ) -> Self {
        Self {
            node_id,
            cluster: cluster.into(),
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
            crl: None,
            members: None,
            pinned_spki_sha256: None,
            allow: Vec::new(),
            operators: BTreeSet::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            client_hello_timeout: DEFAULT_CLIENT_HELLO_TIMEOUT,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
            max_pending_handshakes_per_source: DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE,
            incarnation: Incarnation::random(),
        }
    }

    /// The files reign-certgen writes for a node, in one folder: `ca.pem`, `<id>.pem`,
    /// `<id>.key`, and `crl.pem` if that file exists.
    pub fn from_dir(dir: impl AsRef<Path>, node_id: NodeId, cluster: impl Into<String>) -> Self {
        let dir = dir.as_ref();
        let mut c = Self::new(
            node_id.clone(),
            cluster,
            dir.join("ca.pem"),
            dir.join(format!("{node_id}.pem")),
            dir.join(format!("{node_id}.key")),
        );
        let crl = dir.join("crl.pem");
        if crl.exists() {
            c.crl = Some(PemSource::File(crl));
        }
        c
    }

    /// Sets the CRL source.
    pub fn with_crl(mut self, crl: impl Into<PemSource>) -> Self {
        self.crl = Some(crl.into());
        self
    }

    /// Sets the member list.
    pub fn with_members(mut self, members: impl IntoIterator<Item = NodeId>) -> Self {
        self.members = Some(members.into_iter().collect());
        self
    }

    /// Sets the allow-list of ID patterns (see [`allow`](Self::allow)).
    pub fn with_allow(mut self, allow: impl IntoIterator<Item = crate::IdPattern>) -> Self {
        self.allow = allow.into_iter().collect();
        self
    }

    /// Sets the operators (see [`operators`](Self::operators)).
    pub fn with_operators(mut self, operators: impl IntoIterator<Item = NodeId>) -> Self {
        self.operators = operators.into_iter().collect();
        self
    }

    /// Sets the pinned public-key fingerprints (SHA-256 of the SubjectPublicKeyInfo, hex; case
    /// and `:` separators are ignored).
    pub fn with_pins(mut self, pins: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.pinned_spki_sha256 = Some(
            pins.into_iter()
                .map(|p| normalize_hex(p.as_ref()))
                .collect(),
        );
        self
    }

    /// Sets the handshake deadline.
    pub fn with_handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// Sets the pre-TLS deadline (time from accept to a complete ClientHello).
    pub fn with_client_hello_timeout(mut self, t: Duration) -> Self {
        self.client_hello_timeout = t;
        self
    }

    /// Sets the cap on handshakes in progress on the accept side.
    pub fn with_max_pending_handshakes(mut self, n: usize) -> Self {
        self.max_pending_handshakes = n;
        self
    }

    /// Sets the cap on handshakes in progress from one source on the accept side.
    pub fn with_max_pending_handshakes_per_source(mut self, n: usize) -> Self {
        self.max_pending_handshakes_per_source = n;
        self
    }

    /// Sets the incarnation.
    pub fn with_incarnation(mut self, incarnation: Incarnation) -> Self {
        self.incarnation = incarnation;
        self
    }
}

/// Lowercase hex with `:` and whitespace removed.
pub(crate) fn normalize_hex(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .flat_map(char::to_lowercase)
        .collect()
}
