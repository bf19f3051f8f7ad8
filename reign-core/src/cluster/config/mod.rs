//! A node's cluster configuration: who it is, where it listens, its TLS files, the other
//! members, and the timing and size limits of its links. Read from TOML or built in code, and
//! refused with a [`ConfigError`] naming the field when it is wrong. Every default is defined
//! here, once, as a `DEFAULT_*` constant.

use std::collections::HashMap;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reign_tls::{Incarnation, NodeId, PemSource, TlsConfig};
use serde::Deserialize;

/// Default interval between heartbeats on an otherwise idle link: 1 second.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Default silence after which a peer is declared down: 4 seconds (four missed heartbeats at
/// the default interval; a silent peer is declared down 4 s after its last bytes arrived).
pub const DEFAULT_PEER_SILENCE_LIMIT: Duration = Duration::from_secs(4);
/// Default first delay before dialing a lost peer again: 100 milliseconds.
pub const DEFAULT_RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Default longest delay between dial attempts to a lost peer: 5 seconds.
pub const DEFAULT_RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Default deadline for the TLS handshake plus hello: 3 seconds, the same as
/// [`reign_tls::DEFAULT_HANDSHAKE_TIMEOUT`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = reign_tls::DEFAULT_HANDSHAKE_TIMEOUT;
/// Default largest frame a link sends or accepts: 8 MiB (8 388 608 bytes).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 8 * 1024 * 1024;
/// Default cap on bytes queued for one peer before senders are pushed back: 16 MiB
/// (16 777 216 bytes).
pub const DEFAULT_LINK_BUFFER_LIMIT: usize = 16 * 1024 * 1024;
/// Default time a shutting-down node gives its links to flush and say goodbye: 5 seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Default cap on the monitors one peer holds on this node's mailboxes, per link: 65 536.
/// Each costs this node about 310 bytes (the peer's entry, a hook on the target mailbox and
/// its record there; measured), so the cap bounds it at about 19 MiB per member; the MONITOR
/// frame past it ends the link. See docs/SECURITY.md.
pub const DEFAULT_MAX_MONITORS_PER_LINK: usize = 65_536;
/// Default cap on the cluster-wide names and group memberships one peer holds on this node,
/// per link: 16 384. Each costs at most about 1.1 KB (a 255-byte name or group, a 255-byte
/// type tag, the entry and the link's record of it; measured), so the cap bounds it at about
/// 17 MiB per member; the frame past it ends the link. See docs/SECURITY.md.
pub const DEFAULT_MAX_ANNOUNCED_PER_LINK: usize = 16_384;
/// Default time an accepted connection has to deliver its whole TLS ClientHello: 1 second,
/// as [`reign_tls::DEFAULT_CLIENT_HELLO_TIMEOUT`]. No TLS work is done before it arrives.
pub const DEFAULT_CLIENT_HELLO_TIMEOUT: Duration = reign_tls::DEFAULT_CLIENT_HELLO_TIMEOUT;
/// Default cap on handshakes in progress: 256, as [`reign_tls::DEFAULT_MAX_PENDING_HANDSHAKES`];
/// past it an older handshake is evicted, never the newcomer refused.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = reign_tls::DEFAULT_MAX_PENDING_HANDSHAKES;
/// Default cap on handshakes in progress from one IPv4 address or IPv6 /64: 32, as
/// [`reign_tls::DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE`].
pub const DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE: usize =
    reign_tls::DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE;

/// Default capacity of the node-event channel: 1024 events. A subscriber further behind
/// misses the oldest and is told how many ([`EventsError::Lagged`](crate::EventsError::Lagged)).
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;
/// Default time between two checks of the certificates' expiry (and so between two warnings
/// about one certificate): 1 hour.
pub const DEFAULT_CERTIFICATE_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// The largest accepted `event_capacity`: 2^20 events.
pub(crate) const MAX_EVENT_CAPACITY: usize = 1 << 20;

/// The largest accepted per-link cap (`max_monitors_per_link`, `max_announced_per_link`).
pub(crate) const MAX_PER_LINK_CAP: usize = 1 << 24;

/// The smallest accepted `max_frame_size`: 1 KiB.
pub(crate) const MIN_FRAME_SIZE_LIMIT: usize = 1024;
/// The largest accepted `max_frame_size`: 1 GiB.
pub(crate) const MAX_FRAME_SIZE_LIMIT: usize = 1024 * 1024 * 1024;
/// The longest accepted duration of any tunable: 24 hours. Longer values are surely typos,
/// and keeping them bounded means deadline arithmetic can never overflow.
pub(crate) const MAX_TUNABLE_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest `certificate_check_interval`: 1 s.
pub(crate) const MIN_CERTIFICATE_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// The longest `certificate_expiry_warning`: 10 years (87,600 hours).
pub(crate) const MAX_EXPIRY_WARNING: Duration = Duration::from_secs(87_600 * 3600);
/// The longest accepted cluster name, in bytes (the hello carries it with a one-byte length).
pub(crate) const MAX_CLUSTER_LEN: usize = 255;
/// The largest accepted `max_pending_handshakes`: 65 536.
const MAX_PENDING_HANDSHAKES: usize = 65_536;

pub(crate) mod address;
mod error;
#[cfg(test)]
mod tests;
mod toml_file;

use address::check_address;

use error::*;
pub use error::{AddressProblem, ConfigError, InvalidValue, ValueUnit};
use toml_file::parse;

/// The TLS material of a node: file paths, read by reign-tls at start and at every reload.
///
/// In TOML, relative paths are resolved against the configuration file's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA bundle (PEM): one or more CA certificates. During a CA rotation it holds the old
    /// and the new CA side by side. TOML key `tls.ca`; required.
    pub ca: PathBuf,
    /// This node's certificate (PEM), optionally followed by intermediates. Its subject Common
    /// Name must equal [`NodeConfig::node_id`]. TOML key `tls.cert`; required.
    pub cert: PathBuf,
    /// This node's private key (PEM: PKCS#8, SEC1 or PKCS#1). TOML key `tls.key`; required.
    pub key: PathBuf,
    /// The certificate revocation list(s) to consult (PEM). TOML key `tls.crl`.
    /// Default: `None` (no CRL).
    pub crl: Option<PathBuf>,
    /// Pinned peer keys: each the SHA-256 of a peer's SubjectPublicKeyInfo DER, as 64 hex
    /// digits (case, `:` separators and whitespace are ignored). When non-empty, a peer whose
    /// key is not listed is refused even with a valid chain. TOML key `tls.pinned`.
    /// Default: empty (no pinning).
    pub pinned: Vec<String>,
    /// Whether to watch these files and reload them when they change, as
    /// [`Node::reload_tls`](crate::Node::reload_tls) does (within about two seconds; a change
    /// of where a path leads counts too, such as the symlink swap of a Kubernetes secret
    /// volume). TOML key `tls.watch`. Default: `false`.
    pub watch: bool,
}

/// Another node of the cluster, as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its node ID: the Common Name of its certificate.
    pub id: NodeId,
    /// Where to dial it: `host:port`. The host is a name (resolved when dialing), an IPv4
    /// address, or an IPv6 address in brackets (`[::1]:7002`); the port is 1 to 65535.
    pub addr: String,
}

/// Timing and size limits of a node's links. Every field has a default, stated with it.
///
/// In TOML these live in the optional `[tunables]` table, durations in milliseconds with an
/// `_ms` suffix (`heartbeat_interval_ms`), sizes in bytes. Durations are at most 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tunables {
    /// How often a heartbeat is sent on a link that has carried nothing else. Must be above
    /// zero. TOML `heartbeat_interval_ms`. Default: [`DEFAULT_HEARTBEAT_INTERVAL`] (1 s).
    pub heartbeat_interval: Duration,
    /// How long a peer may stay silent (no frame of any kind) before it is declared down with
    /// a heartbeat timeout. Must be longer than `heartbeat_interval`.
    /// TOML `peer_silence_limit_ms`. Default: [`DEFAULT_PEER_SILENCE_LIMIT`] (4 s).
    pub peer_silence_limit: Duration,
    /// The first delay before dialing a lost peer again; it doubles on each failure up to
    /// `reconnect_backoff_max`. Must be above zero. TOML `reconnect_backoff_min_ms`.
    /// Default: [`DEFAULT_RECONNECT_BACKOFF_MIN`] (100 ms).
    pub reconnect_backoff_min: Duration,
    /// The longest delay between dial attempts. Must be at least `reconnect_backoff_min`.
    /// TOML `reconnect_backoff_max_ms`. Default: [`DEFAULT_RECONNECT_BACKOFF_MAX`] (5 s).
    pub reconnect_backoff_max: Duration,
    /// Deadline for the TLS handshake plus hello, dialing and accepting. Must be above zero.
    /// TOML `handshake_timeout_ms`. Default: [`DEFAULT_HANDSHAKE_TIMEOUT`] (3 s).
    pub handshake_timeout: Duration,
    /// The largest frame a link sends or accepts, in bytes; a larger message is refused to its
    /// sender, a larger incoming frame closes the link. 1 KiB to 1 GiB.
    /// TOML `max_frame_size`. Default: [`DEFAULT_MAX_FRAME_SIZE`] (8 MiB).
    pub max_frame_size: usize,
    /// The most bytes queued for one peer before senders are pushed back. At least
    /// `max_frame_size`. TOML `link_buffer_limit`. Default: [`DEFAULT_LINK_BUFFER_LIMIT`] (16 MiB).
    pub link_buffer_limit: usize,
    /// How long a shutting-down node waits for its links to flush and say goodbye before
    /// closing them. Must be above zero. TOML `shutdown_timeout_ms`.
    /// Default: [`DEFAULT_SHUTDOWN_TIMEOUT`] (5 s).
    pub shutdown_timeout: Duration,
    /// The most monitors one peer may hold on this node's mailboxes over one link; the
    /// MONITOR frame past it ends the link. 1 to 2^24. TOML `max_monitors_per_link`.
    /// Default: [`DEFAULT_MAX_MONITORS_PER_LINK`] (65 536, about 19 MiB at most).
    pub max_monitors_per_link: usize,
    /// The most cluster-wide names and group memberships one peer may hold on this node over
    /// one link; the NAME_ADD or GROUP_JOIN past it ends the link. 1 to 2^24.
    /// TOML `max_announced_per_link`. Default: [`DEFAULT_MAX_ANNOUNCED_PER_LINK`] (16 384,
    /// about 17 MiB at most).
    pub max_announced_per_link: usize,
    /// How long an accepted connection may take to deliver its TLS ClientHello; no TLS work
    /// is done before. Above zero, at most `handshake_timeout`. TOML `client_hello_timeout_ms`.
    /// Default: [`DEFAULT_CLIENT_HELLO_TIMEOUT`] (1 s).
    pub client_hello_timeout: Duration,
    /// The most handshakes in progress at once; a newcomer past it evicts an older one
    /// (see reign-tls). 1 to 65 536. TOML `max_pending_handshakes`.
    /// Default: [`DEFAULT_MAX_PENDING_HANDSHAKES`] (256).
    pub max_pending_handshakes: usize,
    /// The most handshakes in progress from one IPv4 address or IPv6 /64. 1 to
    /// `max_pending_handshakes`. TOML `max_pending_handshakes_per_source`.
    /// Default: [`DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE`] (32).
    pub max_pending_handshakes_per_source: usize,
    /// How many node events ([`Cluster::events`](crate::Cluster::events)) a subscriber may fall
    /// behind before it misses the oldest. 1 to 2^20. TOML `event_capacity`.
    /// Default: [`DEFAULT_EVENT_CAPACITY`] (1024).
    pub event_capacity: usize,
    /// How long before its not-after a certificate (this node's own, or a CA of its bundle)
    /// is reported expiring, with a `WARN` line and a
    /// [`NodeEvent::CertificateExpiring`](crate::NodeEvent::CertificateExpiring). `None`, the
    /// default: the last third of the certificate's lifetime or 30 days, whichever is sooner.
    /// At most 10 years. TOML `certificate_expiry_warning_hours`.
    pub certificate_expiry_warning: Option<Duration>,
    /// How often the certificates' expiry is checked (at start, after each reload, and then
    /// at this interval): a certificate in its window is reported once per check. 1 s to
    /// 24 hours. TOML `certificate_check_interval_ms`. Default:
    /// [`DEFAULT_CERTIFICATE_CHECK_INTERVAL`] (1 hour).
    pub certificate_check_interval: Duration,
    /// How long a node that joined at run time (not a `[[members]]` entry) may stay
    /// unreachable before this node forgets it ([`NodeEvent::Left`](crate::NodeEvent::Left)):
    /// it stops dialing it and drops it from [`Cluster::members`](crate::Cluster::members);
    /// it is learned again if it comes back. A node that shuts down is forgotten at once.
    /// Above zero. TOML `forget_after_ms`. Default: [`DEFAULT_FORGET_AFTER`] (10 minutes).
    pub forget_after: Duration,
    /// Whether the node runs its tasks (accepting, dials, timers, watchers) on a thread of
    /// its own, `reign-mesh-<node id>`, driving a one-thread runtime made by
    /// [`Node::start`](crate::Node::start), and watches its links from there: a link's I/O
    /// runs on the runtime that calls `Node::start` (no thread hop on the data path), and
    /// while that runtime does not run it (an application that blocks every worker), the
    /// node's thread drives the link: heartbeats keep flowing and its peers do not declare
    /// the node down. `false` runs everything on the runtime that calls `Node::start`, with
    /// no watch: blocking the application's workers for longer than
    /// [`peer_silence_limit`](Self::peer_silence_limit) then gets the node declared down.
    /// TOML `own_runtime`. Default: `true`.
    pub own_runtime: bool,
}

/// Default [`Tunables::forget_after`]: 10 minutes.
pub const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(600);

impl Default for Tunables {
    /// Every field at its documented `DEFAULT_*` value.
    fn default() -> Self {
        Self {
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            peer_silence_limit: DEFAULT_PEER_SILENCE_LIMIT,
            reconnect_backoff_min: DEFAULT_RECONNECT_BACKOFF_MIN,
            reconnect_backoff_max: DEFAULT_RECONNECT_BACKOFF_MAX,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            link_buffer_limit: DEFAULT_LINK_BUFFER_LIMIT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            max_monitors_per_link: DEFAULT_MAX_MONITORS_PER_LINK,
            max_announced_per_link: DEFAULT_MAX_ANNOUNCED_PER_LINK,
            client_hello_timeout: DEFAULT_CLIENT_HELLO_TIMEOUT,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
            max_pending_handshakes_per_source: DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            certificate_expiry_warning: None,
            certificate_check_interval: DEFAULT_CERTIFICATE_CHECK_INTERVAL,
            forget_after: DEFAULT_FORGET_AFTER,
            own_runtime: true,
        }
    }
}

/// Everything a node needs to join its cluster.
///
/// Read from a TOML file with [`from_file`](Self::from_file), or built in code with
/// [`new`](Self::new) and [`with_member`](Self::with_member) (then call
/// [`validate`](Self::validate)):
///
/// ```toml
/// node_id = "a"
/// cluster = "demo"
/// listen = "127.0.0.1:7001"        # advertise = "a.example:7001" when peers dial another address
///
/// [tls]
/// ca = "certs/ca.pem"              # relative to this file's folder
/// cert = "certs/a.pem"
/// key = "certs/a.key"
/// crl = "certs/crl.pem"            # optional
/// pinned = []                      # optional: SHA-256 (hex) of peers' SubjectPublicKeyInfo
/// watch = false                    # optional: reload these files when they change
///
/// operators = ["ops"]              # optional: CNs that may run `reign status` / `reign renew`
///
/// [[members]]                      # the other nodes; not this one
/// id = "b"
/// addr = "127.0.0.1:7002"
///
/// [tunables]                       # optional; every field optional
/// heartbeat_interval_ms = 1000
/// peer_silence_limit_ms = 4000
/// ```
///
/// ```
/// use std::path::Path;
/// use reign_core::{ConfigError, InvalidValue, NodeConfig};
///
/// let config = NodeConfig::from_toml_str(
///     r#"
///     node_id = "a"
///     cluster = "demo"
///     listen = "127.0.0.1:7001"
///     [tls]
///     ca = "ca.pem"
///     cert = "a.pem"
///     key = "a.key"
///     [[members]]
///     id = "b"
///     addr = "127.0.0.1:7002"
///     "#,
///     Path::new("/etc/reign"),
/// )?;
/// assert_eq!(config.tls.cert, Path::new("/etc/reign/a.pem"));
/// assert_eq!(config.members[0].id.as_str(), "b");
///
/// let err = NodeConfig::from_toml_str(
///     "node_id = \"a\"\ncluster = \"demo\"\nlisten = \"localhost\"\n\
///      [tls]\nca = \"ca.pem\"\ncert = \"a.pem\"\nkey = \"a.key\"\n",
///     Path::new("."),
/// )
/// .unwrap_err();
/// assert!(matches!(
///     &err,
///     ConfigError::Invalid { field, reason: InvalidValue::NotSocketAddr { given } }
///         if field == "listen" && given == "localhost"
/// ));
/// assert!(err.to_string().starts_with("listen: \"localhost\" is not a socket address"));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeConfig {
    /// This node's ID, exactly the Common Name of its certificate. TOML key `node_id`; required.
    pub node_id: NodeId,
    /// The cluster's name, 1 to 255 bytes; peers of another cluster are refused.
    /// TOML key `cluster`; required.
    pub cluster: String,
    /// The socket address to listen on (`127.0.0.1:7001`, `[::]:7001`; port 0 picks a free
    /// port). TOML key `listen`; required.
    pub listen: SocketAddr,
    /// The `host:port` peers should dial to reach this node, when it differs from `listen`
    /// (behind NAT, or listening on `0.0.0.0`); [`Cluster::advertised_addr`](crate::Cluster::advertised_addr)
    /// gives it, or the bound address without it. Peers dial the `addr` their own
    /// configuration lists. TOML key `advertise`. Default: `None`.
    pub advertise: Option<String>,
    /// The TLS files. TOML table `[tls]`; required.
    pub tls: TlsFiles,
    /// The other nodes of the cluster. This node must not list itself, and IDs are unique.
    /// TOML array of tables `[[members]]`. Default: empty.
    pub members: Vec<Member>,
    /// Addresses (`host:port`) of nodes to join through: dialed, whoever answers, while this
    /// node has no link; the cluster then tells it of the others. A host name may resolve to
    /// several addresses (each is dialed; looked up again at each round). TOML key `seeds`.
    /// Default: empty.
    pub seeds: Vec<String>,
    /// Who may join besides the `[[members]]`, by node ID pattern (`worker-*`, `coord`).
    /// Membership is **open** (any node with a certificate of the cluster CA, not revoked, of
    /// the same cluster name, that is not an operator) when no `[[members]]` are listed,
    /// or when `seeds` are; `allow` then narrows it to matching IDs and listed members. With
    /// `[[members]]` and neither `seeds` nor `allow`, only the members may connect, as in a
    /// static cluster. TOML key `allow`. Default: empty.
    pub allow: Vec<reign_tls::IdPattern>,
    /// The operators: certificate CNs (from the cluster CA) that may connect with the
    /// `reign` tool to read this node's status and renew its certificate. Never members:
    /// an operator cannot join the mesh, and a member cannot connect as an operator. TOML
    /// key `operators`. Default: empty (no operator connections).
    pub operators: Vec<NodeId>,
    /// Timing and size limits. TOML table `[tunables]`. Default: [`Tunables::default`].
    pub tunables: Tunables,
}

impl NodeConfig {
    /// A configuration with no members, no `advertise` and default tunables.
    pub fn new(
        node_id: NodeId,
        cluster: impl Into<String>,
        listen: SocketAddr,
        tls: TlsFiles,
    ) -> Self {
        Self {
            node_id,
            cluster: cluster.into(),
            listen,
            advertise: None,
            tls,
            members: Vec::new(),
            seeds: Vec::new(),
            allow: Vec::new(),
            operators: Vec::new(),
            tunables: Tunables::default(),
        }
    }

    /// Adds a member reachable at `addr` (`host:port`). Checked by [`validate`](Self::validate).
    pub fn with_member(mut self, id: NodeId, addr: impl Into<String>) -> Self {
        self.members.push(Member {
            id,
            addr: addr.into(),
        });
        self
    }

    /// Adds a seed address (see [`seeds`](Self::seeds)).
    pub fn with_seed(mut self, addr: impl Into<String>) -> Self {
        self.seeds.push(addr.into());
        self
    }

    /// Whether any node of the cluster CA may join (narrowed by [`allow`](Self::allow)),
    /// rather than only the `[[members]]`.
    pub fn open_membership(&self) -> bool {
        self.members.is_empty() || !self.seeds.is_empty() || !self.allow.is_empty()
    }

    /// Adds an operator (see [`operators`](Self::operators)).
    pub fn with_operator(mut self, id: NodeId) -> Self {
        self.operators.push(id);
        self
    }

    /// Parses and validates a configuration from TOML text. Relative paths in `[tls]` are
    /// resolved against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        parse(text, base_dir, "(string)")
    }

    /// Reads, parses and validates a configuration file. Relative paths in `[tls]` are
    /// resolved against the file's folder.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        parse(&text, base_dir, &path.display().to_string())
    }

    /// Checks every rule; the error names the first field that breaks one. The parsers call
    /// it; call it yourself on a configuration built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let cluster_len = self.cluster.len();
        if cluster_len == 0 || cluster_len > MAX_CLUSTER_LEN {
            return Err(ConfigError::invalid(
                "cluster",
                InvalidValue::Length {
                    len: cluster_len,
                    min: 1,
                    max: MAX_CLUSTER_LEN,
                },
            ));
        }
        if let Some(advertise) = &self.advertise {
            check_address("advertise", advertise)?;
        }
        self.validate_tls()?;
        self.validate_members()?;
        self.validate_operators()?;
        for (i, seed) in self.seeds.iter().enumerate() {
            check_address(format!("seeds[{i}]"), seed)?;
        }
        self.tunables.validate()
    }

    fn validate_tls(&self) -> Result<(), ConfigError> {
        let tls = &self.tls;
        for (field, path) in [
            ("tls.ca", Some(&tls.ca)),
            ("tls.cert", Some(&tls.cert)),
            ("tls.key", Some(&tls.key)),
            ("tls.crl", tls.crl.as_ref()),
        ] {
            if path.is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(ConfigError::invalid(field, InvalidValue::EmptyPath));
            }
        }
        for (i, pin) in tls.pinned.iter().enumerate() {
            let hex: String = pin
                .chars()
                .filter(|c| *c != ':' && !c.is_whitespace())
                .collect();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ConfigError::invalid(
                    format!("tls.pinned[{i}]"),
                    InvalidValue::NotHex64 { given: pin.clone() },
                ));
            }
        }
        Ok(())
    }

    fn validate_members(&self) -> Result<(), ConfigError> {
        let mut seen: HashMap<&NodeId, usize> = HashMap::new();
        for (i, m) in self.members.iter().enumerate() {
            if m.id == self.node_id {
                return Err(ConfigError::invalid(
                    format!("members[{i}].id"),
                    InvalidValue::ListsItself { id: m.id.clone() },
                ));
            }
            if let Some(first) = seen.insert(&m.id, i) {
                return Err(ConfigError::invalid(
                    format!("members[{i}].id"),
                    InvalidValue::Duplicate {
                        id: m.id.clone(),
                        first,
                    },
                ));
            }
            check_address(format!("members[{i}].addr"), &m.addr)?;
        }
        Ok(())
    }

    fn validate_operators(&self) -> Result<(), ConfigError> {
        let mut seen: HashMap<&NodeId, usize> = HashMap::new();
        for (i, o) in self.operators.iter().enumerate() {
            if *o == self.node_id || self.members.iter().any(|m| m.id == *o) {
                return Err(ConfigError::invalid(
                    format!("operators[{i}]"),
                    InvalidValue::OperatorIsMember { id: o.clone() },
                ));
            }
            if let Some(first) = seen.insert(o, i) {
                return Err(ConfigError::invalid(
                    format!("operators[{i}]"),
                    InvalidValue::DuplicateOperator {
                        id: o.clone(),
                        first,
                    },
                ));
            }
        }
        Ok(())
    }

    /// The reign-tls configuration of this node: the `[tls]` files, who may connect (every
    /// member plus this node; or, with [open membership](Self::open_membership), anyone the
    /// `allow` patterns admit), the operators, the pins if any, the handshake timeout from
    /// the tunables, and the given incarnation.
    pub fn tls_config(&self, incarnation: Incarnation) -> TlsConfig {
        let mut config = TlsConfig::new(
            self.node_id.clone(),
            self.cluster.clone(),
            PemSource::File(self.tls.ca.clone()),
            PemSource::File(self.tls.cert.clone()),
            PemSource::File(self.tls.key.clone()),
        )
        .with_members(
            self.members
                .iter()
                .map(|m| m.id.clone())
                .chain(std::iter::once(self.node_id.clone())),
        )
        .with_allow(self.allow.iter().cloned())
        .with_operators(self.operators.iter().cloned())
        .with_handshake_timeout(self.tunables.handshake_timeout)
        .with_client_hello_timeout(self.tunables.client_hello_timeout)
        .with_max_pending_handshakes(self.tunables.max_pending_handshakes)
        .with_max_pending_handshakes_per_source(self.tunables.max_pending_handshakes_per_source)
        .with_incarnation(incarnation);
        if let Some(crl) = &self.tls.crl {
            config = config.with_crl(PemSource::File(crl.clone()));
        }
        if !self.tls.pinned.is_empty() {
            config = config.with_pins(&self.tls.pinned);
        }
        if self.open_membership() && self.allow.is_empty() {
            config.members = None;
        }
        config
    }
}

impl Tunables {
    fn validate(&self) -> Result<(), ConfigError> {
        let durations = [
            ("heartbeat_interval_ms", self.heartbeat_interval),
            ("peer_silence_limit_ms", self.peer_silence_limit),
            ("reconnect_backoff_min_ms", self.reconnect_backoff_min),
            ("reconnect_backoff_max_ms", self.reconnect_backoff_max),
            ("handshake_timeout_ms", self.handshake_timeout),
            ("shutdown_timeout_ms", self.shutdown_timeout),
            ("client_hello_timeout_ms", self.client_hello_timeout),
            (
                "certificate_check_interval_ms",
                self.certificate_check_interval,
            ),
            ("forget_after_ms", self.forget_after),
        ];
        for (name, d) in durations {
            if d.is_zero() {
                return Err(ConfigError::invalid(
                    format!("tunables.{name}"),
                    InvalidValue::Zero,
                ));
            }
            if d > MAX_TUNABLE_DURATION {
                return Err(ConfigError::invalid(
                    format!("tunables.{name}"),
                    InvalidValue::OutOfRange {
                        value: millis(d),
                        min: 1,
                        max: millis(MAX_TUNABLE_DURATION),
                        unit: ValueUnit::Millis,
                    },
                ));
            }
        }
        // A check reports each certificate in its window once: at most one line per
        // certificate per second.
        if self.certificate_check_interval < MIN_CERTIFICATE_CHECK_INTERVAL {
            return Err(ConfigError::invalid(
                "tunables.certificate_check_interval_ms",
                InvalidValue::OutOfRange {
                    value: millis(self.certificate_check_interval),
                    min: millis(MIN_CERTIFICATE_CHECK_INTERVAL),
                    max: millis(MAX_TUNABLE_DURATION),
                    unit: ValueUnit::Millis,
                },
            ));
        }
        if let Some(w) = self.certificate_expiry_warning
            && w > MAX_EXPIRY_WARNING
        {
            return Err(ConfigError::invalid(
                "tunables.certificate_expiry_warning_hours",
                InvalidValue::OutOfRange {
                    value: w.as_secs() / 3600,
                    min: 0,
                    max: MAX_EXPIRY_WARNING.as_secs() / 3600,
                    unit: ValueUnit::Hours,
                },
            ));
        }
        if self.peer_silence_limit <= self.heartbeat_interval {
            return Err(ConfigError::invalid(
                "tunables.peer_silence_limit_ms",
                InvalidValue::SilenceNotAboveHeartbeat {
                    silence_ms: millis(self.peer_silence_limit),
                    heartbeat_ms: millis(self.heartbeat_interval),
                },
            ));
        }
        let more_than = |field: &str, value: Duration, other: &'static str, bound: Duration| {
            ConfigError::invalid(
                field,
                InvalidValue::MoreThan {
                    value: millis(value),
                    other,
                    other_value: millis(bound),
                    unit: ValueUnit::Millis,
                },
            )
        };
        if self.reconnect_backoff_min > self.reconnect_backoff_max {
            return Err(more_than(
                "tunables.reconnect_backoff_min_ms",
                self.reconnect_backoff_min,
                "tunables.reconnect_backoff_max_ms",
                self.reconnect_backoff_max,
            ));
        }
        let out_of_range = |field: &str, value: usize, min: usize, max: usize, unit| {
            ConfigError::invalid(
                field,
                InvalidValue::OutOfRange {
                    value: wide(value),
                    min: wide(min),
                    max: wide(max),
                    unit,
                },
            )
        };
        if !(MIN_FRAME_SIZE_LIMIT..=MAX_FRAME_SIZE_LIMIT).contains(&self.max_frame_size) {
            return Err(out_of_range(
                "tunables.max_frame_size",
                self.max_frame_size,
                MIN_FRAME_SIZE_LIMIT,
                MAX_FRAME_SIZE_LIMIT,
                ValueUnit::Bytes,
            ));
        }
        if self.client_hello_timeout > self.handshake_timeout {
            return Err(more_than(
                "tunables.client_hello_timeout_ms",
                self.client_hello_timeout,
                "tunables.handshake_timeout_ms",
                self.handshake_timeout,
            ));
        }
        if !(1..=MAX_PENDING_HANDSHAKES).contains(&self.max_pending_handshakes) {
            return Err(out_of_range(
                "tunables.max_pending_handshakes",
                self.max_pending_handshakes,
                1,
                MAX_PENDING_HANDSHAKES,
                ValueUnit::Count,
            ));
        }
        let per_source = self.max_pending_handshakes_per_source;
        if per_source == 0 {
            return Err(ConfigError::invalid(
                "tunables.max_pending_handshakes_per_source",
                InvalidValue::Zero,
            ));
        }
        if per_source > self.max_pending_handshakes {
            return Err(ConfigError::invalid(
                "tunables.max_pending_handshakes_per_source",
                InvalidValue::MoreThan {
                    value: wide(per_source),
                    other: "tunables.max_pending_handshakes",
                    other_value: wide(self.max_pending_handshakes),
                    unit: ValueUnit::Count,
                },
            ));
        }
        for (field, value, max) in [
            (
                "tunables.event_capacity",
                self.event_capacity,
                MAX_EVENT_CAPACITY,
            ),
            (
                "tunables.max_monitors_per_link",
                self.max_monitors_per_link,
                MAX_PER_LINK_CAP,
            ),
            (
                "tunables.max_announced_per_link",
                self.max_announced_per_link,
                MAX_PER_LINK_CAP,
            ),
        ] {
            if !(1..=max).contains(&value) {
                return Err(out_of_range(field, value, 1, max, ValueUnit::Count));
            }
        }
        if self.link_buffer_limit < self.max_frame_size {
            return Err(ConfigError::invalid(
                "tunables.link_buffer_limit",
                InvalidValue::BufferBelowFrame {
                    buffer: wide(self.link_buffer_limit),
                    frame: wide(self.max_frame_size),
                },
            ));
        }
        Ok(())
    }
}
