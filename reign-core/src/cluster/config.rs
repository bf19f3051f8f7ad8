//! A node's cluster configuration: who it is, where it listens, its TLS files, the other
//! members, and the timing and size limits of its links. Read from TOML or built in code, and
//! refused with a [`ConfigError`] naming the field when it is wrong. Every default is defined
//! here, once, as a `DEFAULT_*` constant.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reign_tls::ratelimit::Escaped;
use reign_tls::{Incarnation, NodeId, NodeIdError, PemSource, TlsConfig};
use serde::Deserialize;

/// Default interval between heartbeats on an otherwise idle link: 1 second.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Default silence after which a peer is declared down: 4 seconds (four missed heartbeats at
/// the default interval; a silent peer is declared down within 5 s with every default).
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
/// The longest accepted cluster name, in bytes (the hello carries it with a one-byte length).
pub(crate) const MAX_CLUSTER_LEN: usize = 255;
/// The largest accepted `max_pending_handshakes`: 65 536.
const MAX_PENDING_HANDSHAKES: usize = 65_536;
/// The longest accepted host name in a `host:port` address, in bytes.
const MAX_HOST_LEN: usize = 253;

/// Why a node configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read node configuration {}: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The text is not valid TOML, has a key the configuration does not know (so typos do not
    /// pass silently), lacks a required key, or has a value of the wrong type.
    #[error("{origin}: {message}")]
    Syntax {
        /// Where the text came from: the file's path, or `(string)` for
        /// [`NodeConfig::from_toml_str`].
        origin: String,
        /// The TOML parser's own message, with line and column. It stays the parser's text
        /// (the `toml` crate has no typed error to carry instead).
        message: String,
    },
    /// A value is well-formed TOML but not acceptable.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, named as in the TOML file: `node_id`, `listen`, `tls.cert`,
        /// `tls.pinned[0]`, `members[1].addr` (members counted from 0),
        /// `tunables.heartbeat_interval_ms`, ...
        field: String,
        /// What is wrong with it; its `Display` says, where it helps, what would be right.
        reason: InvalidValue,
    },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, reason: InvalidValue) -> Self {
        Self::Invalid {
            field: field.into(),
            reason,
        }
    }
}

/// What is wrong with one value of a configuration: the `reason` of [`ConfigError::Invalid`].
///
/// Text from the configuration (an address, a pin) is kept as given and shown escaped
/// (control characters as Rust escapes, see [`reign_tls::ratelimit::Escaped`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidValue {
    /// `node_id` or a member's `id` is not a valid node ID.
    #[error(transparent)]
    NodeId(#[from] NodeIdError),
    /// `listen` is not an `ip:port` socket address (host names are not accepted there).
    #[error(
        "{:?} is not a socket address: expected ip:port, e.g. \"127.0.0.1:7001\" or \"[::]:7001\" (no host names)",
        Escaped(given)
    )]
    NotSocketAddr {
        /// The text as given.
        given: String,
    },
    /// `advertise` or a member's `addr` is not a `host:port` address.
    #[error("{}", ShowAddress { addr, problem })]
    Address {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        problem: AddressProblem,
    },
    /// A text (the cluster name) is shorter or longer than allowed.
    #[error("the text is {len} bytes long; it must be {min} to {max} bytes")]
    Length {
        /// Its length, in bytes.
        len: usize,
        /// The shortest allowed, in bytes.
        min: usize,
        /// The longest allowed, in bytes.
        max: usize,
    },
    /// A file path (`tls.ca`, `tls.cert`, `tls.key`, `tls.crl`) is empty.
    #[error("the path is empty")]
    EmptyPath,
    /// A `tls.pinned` entry is not 64 hex digits once `:` and whitespace are removed.
    #[error(
        "{:?} is not a SHA-256 fingerprint: expected 64 hex digits (':' and spaces allowed), \
         the SHA-256 of the peer's SubjectPublicKeyInfo",
        Escaped(given)
    )]
    NotHex64 {
        /// The entry as given.
        given: String,
    },
    /// A member's `id` is this node's own `node_id`.
    #[error("\"{id}\" is this node's own node_id; list only the other nodes")]
    ListsItself {
        /// The ID.
        id: NodeId,
    },
    /// A member's `id` is listed twice.
    #[error("\"{id}\" is already listed as members[{first}]")]
    Duplicate {
        /// The ID.
        id: NodeId,
        /// The index of the member that lists it first (counted from 0).
        first: usize,
    },
    /// The value is zero, and must be above.
    #[error("must be above zero")]
    Zero,
    /// The value is outside its allowed range.
    #[error(
        "{} is outside {} to {}",
        Amount(*value, *unit),
        Limit(*min, *unit),
        Limit(*max, *unit)
    )]
    OutOfRange {
        /// The value given (saturated at `u64::MAX`).
        value: u64,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
        /// What the numbers count.
        unit: ValueUnit,
    },
    /// The value is more than another field's, which bounds it from above.
    #[error("{} is more than {other} ({})", Amount(*value, *unit), Amount(*other_value, *unit))]
    MoreThan {
        /// The value given.
        value: u64,
        /// The other field, named as in the TOML file (`tunables.reconnect_backoff_max_ms`).
        other: &'static str,
        /// The other field's value.
        other_value: u64,
        /// What both numbers count.
        unit: ValueUnit,
    },
    /// `tunables.peer_silence_limit_ms` is not longer than `tunables.heartbeat_interval_ms`,
    /// so a healthy idle peer would be declared down.
    #[error(
        "{silence_ms} ms must be longer than tunables.heartbeat_interval_ms ({heartbeat_ms} ms): \
         a peer is declared down after this much silence, and an idle peer is only heard from once \
         per heartbeat interval, so a healthy peer would be declared down (several intervals is \
         usual, e.g. 4x)"
    )]
    SilenceNotAboveHeartbeat {
        /// The silence limit, in milliseconds.
        silence_ms: u64,
        /// The heartbeat interval, in milliseconds.
        heartbeat_ms: u64,
    },
    /// `tunables.link_buffer_limit` is less than `tunables.max_frame_size`, so the buffer could
    /// not hold one largest frame.
    #[error(
        "{buffer} bytes is less than tunables.max_frame_size ({frame} bytes); \
         the buffer must hold at least one largest frame"
    )]
    BufferBelowFrame {
        /// The link buffer limit, in bytes.
        buffer: u64,
        /// The largest frame size, in bytes.
        frame: u64,
    },
}

/// What the numbers of an [`InvalidValue`] count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueUnit {
    /// Milliseconds (the `_ms` tunables).
    Millis,
    /// Bytes (sizes).
    Bytes,
    /// Things counted (handshakes, events, monitors, names).
    Count,
}

/// A number with its unit: `1000 ms`, `1023 bytes`, `7`.
struct Amount(u64, ValueUnit);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            ValueUnit::Millis => write!(f, "{} ms", self.0),
            ValueUnit::Bytes => write!(f, "{} bytes", self.0),
            ValueUnit::Count => write!(f, "{}", self.0),
        }
    }
}

/// A limit with its unit and, when it is round, its size in words: `1073741824 bytes (1 GiB)`,
/// `1048576 (2^20)`, `86400000 ms (24 hours)`.
struct Limit(u64, ValueUnit);

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(v, unit) = *self;
        Amount(v, unit).fmt(f)?;
        match unit {
            ValueUnit::Millis if v >= HOUR_MS && v % HOUR_MS == 0 => {
                write!(f, " ({} hours)", v / HOUR_MS)
            }
            ValueUnit::Bytes if v >= 1024 => {
                for (size, name) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
                    if v % size == 0 {
                        return write!(f, " ({} {name})", v / size);
                    }
                }
                Ok(())
            }
            ValueUnit::Count if v >= 1024 && v.is_power_of_two() => {
                write!(f, " (2^{})", v.trailing_zeros())
            }
            _ => Ok(()),
        }
    }
}

const HOUR_MS: u64 = 60 * 60 * 1000;

/// Why a `host:port` address (`advertise`, a member's `addr`) was refused: the `problem` of
/// [`InvalidValue::Address`]. Its `Display` continues a sentence whose subject is the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressProblem {
    /// It starts with `[` but has no `]`.
    #[error("has '[' but no closing ']'")]
    UnclosedBracket,
    /// What is in the brackets is not an IPv6 address.
    #[error("has {:?} in brackets, which is not an IPv6 address", Escaped(host))]
    NotIpv6 {
        /// The text in the brackets.
        host: String,
    },
    /// It has no `:port`.
    #[error("has no port (expected {})", if *bracketed { "[ipv6]:port, e.g. \"[::1]:7001\"" } else { "host:port" })]
    NoPort {
        /// Whether the host is in brackets (`[::1]`).
        bracketed: bool,
    },
    /// The host has a character that is in no host name or IP address.
    #[error("has the character {} in its host; a host is a name or an IP address", ShowChar(*ch))]
    HostChar {
        /// The first such character.
        ch: char,
    },
    /// The host has a `:`, as an IPv6 address does, but no brackets.
    #[error("has a ':' in its host: an IPv6 address goes in brackets, e.g. \"[::1]:7001\"")]
    Ipv6WithoutBrackets,
    /// There is nothing before the `:port`.
    #[error("has no host (expected host:port)")]
    NoHost,
    /// The host is longer than a host name may be.
    #[error("has a host {len} bytes long; the limit is {max}")]
    HostTooLong {
        /// The host's length, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// The port is not a decimal number.
    #[error(
        "has the port {:?}, which is not a number from 1 to 65535",
        Escaped(port)
    )]
    PortNotNumber {
        /// The port as given.
        port: String,
    },
    /// The port is a number, but 0 or above 65535.
    #[error("has the port {port}, which is not from 1 to 65535")]
    PortOutOfRange {
        /// The port as given (decimal digits only).
        port: String,
    },
}

/// [`InvalidValue::Address`]'s text: the escaped address, then its problem; for a missing
/// port, an example made from the address itself.
struct ShowAddress<'a> {
    addr: &'a str,
    problem: &'a AddressProblem,
}

impl fmt::Display for ShowAddress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ", Escaped(self.addr))?;
        match self.problem {
            AddressProblem::NoPort { bracketed: false } => write!(
                f,
                "has no port (expected host:port, e.g. \"{}:7001\")",
                Escaped(if self.addr.is_empty() {
                    "localhost"
                } else {
                    self.addr
                })
            ),
            problem => problem.fmt(f),
        }
    }
}

/// A character from the configuration, quoted and escaped: `' '`, `'/'`, `'\n'`.
struct ShowChar(char);

impl fmt::Display for ShowChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            '\'' => f.write_str("'\\''"),
            c => write!(f, "'{}'", Escaped(c.encode_utf8(&mut [0; 4]))),
        }
    }
}

/// Milliseconds of a duration, saturated at `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A size or count as `u64`, saturated (it always fits on 64-bit targets).
fn wide(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

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
    /// How many node events ([`Node::events`](crate::Node::events)) a subscriber may fall
    /// behind before it misses the oldest. 1 to 2^20. TOML `event_capacity`.
    /// Default: [`DEFAULT_EVENT_CAPACITY`] (1024).
    pub event_capacity: usize,
}

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
    /// (behind NAT, or listening on `0.0.0.0`); [`Node::advertised_addr`](crate::Node::advertised_addr)
    /// gives it, or the bound address without it. Peers dial the `addr` their own
    /// configuration lists. TOML key `advertise`. Default: `None`.
    pub advertise: Option<String>,
    /// The TLS files. TOML table `[tls]`; required.
    pub tls: TlsFiles,
    /// The other nodes of the cluster. This node must not list itself, and IDs are unique.
    /// TOML array of tables `[[members]]`. Default: empty.
    pub members: Vec<Member>,
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

    /// The reign-tls configuration of this node: the `[tls]` files, the member list (every
    /// member plus this node), the pins if any, the handshake timeout from the tunables, and
    /// the given incarnation.
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

/// Checks a `host:port` address for the field `field`.
fn check_address(field: impl Into<String>, addr: &str) -> Result<(), ConfigError> {
    match split_host_port(addr) {
        Ok(_) => Ok(()),
        Err(problem) => Err(ConfigError::invalid(
            field,
            InvalidValue::Address {
                addr: addr.to_owned(),
                problem,
            },
        )),
    }
}

/// Splits `host:port` into the host (brackets removed for IPv6) and the port, without
/// resolving anything.
pub(crate) fn split_host_port(addr: &str) -> Result<(&str, u16), AddressProblem> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(AddressProblem::UnclosedBracket);
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(AddressProblem::NotIpv6 {
                host: host.to_owned(),
            });
        }
        let Some(port) = after.strip_prefix(':') else {
            return Err(AddressProblem::NoPort { bracketed: true });
        };
        (host, port)
    } else {
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(AddressProblem::NoPort { bracketed: false });
        };
        if let Some(ch) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
        {
            return Err(AddressProblem::HostChar { ch });
        }
        if host.contains(':') {
            return Err(AddressProblem::Ipv6WithoutBrackets);
        }
        if host.is_empty() {
            return Err(AddressProblem::NoHost);
        }
        if host.len() > MAX_HOST_LEN {
            return Err(AddressProblem::HostTooLong {
                len: host.len(),
                max: MAX_HOST_LEN,
            });
        }
        (host, port)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressProblem::PortNotNumber {
            port: port.to_owned(),
        });
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, p)),
        _ => Err(AddressProblem::PortOutOfRange {
            port: port.to_owned(),
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node_id: String,
    cluster: String,
    listen: String,
    #[serde(default)]
    advertise: Option<String>,
    tls: RawTls,
    #[serde(default)]
    members: Vec<RawMember>,
    #[serde(default)]
    tunables: RawTunables,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    #[serde(default)]
    crl: Option<PathBuf>,
    #[serde(default)]
    pinned: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    id: String,
    addr: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTunables {
    heartbeat_interval_ms: Option<u64>,
    peer_silence_limit_ms: Option<u64>,
    reconnect_backoff_min_ms: Option<u64>,
    reconnect_backoff_max_ms: Option<u64>,
    handshake_timeout_ms: Option<u64>,
    max_frame_size: Option<usize>,
    link_buffer_limit: Option<usize>,
    shutdown_timeout_ms: Option<u64>,
    max_monitors_per_link: Option<usize>,
    max_announced_per_link: Option<usize>,
    client_hello_timeout_ms: Option<u64>,
    max_pending_handshakes: Option<usize>,
    max_pending_handshakes_per_source: Option<usize>,
    event_capacity: Option<usize>,
}

impl RawTunables {
    fn resolve(self) -> Tunables {
        let d = Tunables::default();
        let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
        Tunables {
            heartbeat_interval: ms(self.heartbeat_interval_ms, d.heartbeat_interval),
            peer_silence_limit: ms(self.peer_silence_limit_ms, d.peer_silence_limit),
            reconnect_backoff_min: ms(self.reconnect_backoff_min_ms, d.reconnect_backoff_min),
            reconnect_backoff_max: ms(self.reconnect_backoff_max_ms, d.reconnect_backoff_max),
            handshake_timeout: ms(self.handshake_timeout_ms, d.handshake_timeout),
            max_frame_size: self.max_frame_size.unwrap_or(d.max_frame_size),
            link_buffer_limit: self.link_buffer_limit.unwrap_or(d.link_buffer_limit),
            shutdown_timeout: ms(self.shutdown_timeout_ms, d.shutdown_timeout),
            max_monitors_per_link: self
                .max_monitors_per_link
                .unwrap_or(d.max_monitors_per_link),
            max_announced_per_link: self
                .max_announced_per_link
                .unwrap_or(d.max_announced_per_link),
            client_hello_timeout: ms(self.client_hello_timeout_ms, d.client_hello_timeout),
            max_pending_handshakes: self
                .max_pending_handshakes
                .unwrap_or(d.max_pending_handshakes),
            max_pending_handshakes_per_source: self
                .max_pending_handshakes_per_source
                .unwrap_or(d.max_pending_handshakes_per_source),
            event_capacity: self.event_capacity.unwrap_or(d.event_capacity),
        }
    }
}

fn parse(text: &str, base_dir: &Path, origin: &str) -> Result<NodeConfig, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let node_id =
        NodeId::new(&raw.node_id).map_err(|e| ConfigError::invalid("node_id", e.into()))?;
    let listen = raw.listen.parse::<SocketAddr>().map_err(|_| {
        ConfigError::invalid(
            "listen",
            InvalidValue::NotSocketAddr {
                given: raw.listen.clone(),
            },
        )
    })?;
    // An empty path stays empty so that `validate` reports it rather than using `base_dir`.
    let resolve = |p: PathBuf| {
        if p.as_os_str().is_empty() {
            p
        } else {
            base_dir.join(p)
        }
    };
    let tls = TlsFiles {
        ca: resolve(raw.tls.ca),
        cert: resolve(raw.tls.cert),
        key: resolve(raw.tls.key),
        crl: raw.tls.crl.map(resolve),
        pinned: raw.tls.pinned,
    };
    let members = raw
        .members
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let id = NodeId::new(&m.id)
                .map_err(|e| ConfigError::invalid(format!("members[{i}].id"), e.into()))?;
            Ok(Member { id, addr: m.addr })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let config = NodeConfig {
        node_id,
        cluster: raw.cluster,
        listen,
        advertise: raw.advertise,
        tls,
        members,
        tunables: raw.tunables.resolve(),
    };
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
node_id = "a"
cluster = "demo"
listen = "127.0.0.1:7001"
advertise = "a.example.org:7001"

[tls]
ca = "certs/ca.pem"
cert = "certs/a.pem"
key = "/abs/a.key"
crl = "certs/crl.pem"
pinned = ["AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89"]

[[members]]
id = "b"
addr = "127.0.0.1:7002"

[[members]]
id = "c"
addr = "[::1]:7003"

[[members]]
id = "d"
addr = "node-d.internal:7004"

[tunables]
heartbeat_interval_ms = 250
peer_silence_limit_ms = 1000
reconnect_backoff_min_ms = 50
reconnect_backoff_max_ms = 2000
handshake_timeout_ms = 1500
max_frame_size = 65536
link_buffer_limit = 1048576
shutdown_timeout_ms = 750
max_monitors_per_link = 100
max_announced_per_link = 200
client_hello_timeout_ms = 300
max_pending_handshakes = 64
max_pending_handshakes_per_source = 8
event_capacity = 16
"#;

    const MINIMAL: &str = r#"
node_id = "a"
cluster = "demo"
listen = "127.0.0.1:7001"
[tls]
ca = "ca.pem"
cert = "a.pem"
key = "a.key"
"#;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn base() -> NodeConfig {
        NodeConfig::new(
            id("a"),
            "demo",
            "127.0.0.1:7001".parse().unwrap(),
            TlsFiles {
                ca: "ca.pem".into(),
                cert: "a.pem".into(),
                key: "a.key".into(),
                crl: None,
                pinned: Vec::new(),
            },
        )
        .with_member(id("b"), "127.0.0.1:7002")
    }

    /// Asserts that `result` is `Invalid` for `field` with a reason containing `needle`.
    #[track_caller]
    fn assert_invalid<T: std::fmt::Debug>(
        result: Result<T, ConfigError>,
        field: &str,
        needle: &str,
    ) {
        match result {
            Err(ConfigError::Invalid { field: f, reason }) => {
                assert_eq!(f, field, "reason: {reason}");
                let text = reason.to_string();
                assert!(text.contains(needle), "{text:?} lacks {needle:?}");
                let shown = ConfigError::Invalid { field: f, reason }.to_string();
                assert_eq!(shown, format!("{field}: {text}"));
            }
            other => panic!("expected Invalid {{ {field} }}, got {other:?}"),
        }
    }

    /// Applies `edit` to a valid configuration and checks validate's verdict.
    #[track_caller]
    fn refused(edit: impl FnOnce(&mut NodeConfig), field: &str, needle: &str) {
        let mut c = base();
        edit(&mut c);
        assert_invalid(c.validate(), field, needle);
    }

    /// Parses MINIMAL with the top-level `extra` lines put before it.
    #[track_caller]
    fn parse_with(extra: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::from_toml_str(&format!("{extra}\n{MINIMAL}"), Path::new("/base"))
    }

    #[test]
    fn full_toml_round_trip_resolves_relative_paths() {
        let c = NodeConfig::from_toml_str(FULL, Path::new("/etc/reign")).unwrap();
        let expected = NodeConfig {
            advertise: Some("a.example.org:7001".into()),
            tunables: Tunables {
                heartbeat_interval: Duration::from_millis(250),
                peer_silence_limit: Duration::from_millis(1000),
                reconnect_backoff_min: Duration::from_millis(50),
                reconnect_backoff_max: Duration::from_millis(2000),
                handshake_timeout: Duration::from_millis(1500),
                max_frame_size: 65536,
                link_buffer_limit: 1048576,
                shutdown_timeout: Duration::from_millis(750),
                max_monitors_per_link: 100,
                max_announced_per_link: 200,
                client_hello_timeout: Duration::from_millis(300),
                max_pending_handshakes: 64,
                max_pending_handshakes_per_source: 8,
                event_capacity: 16,
            },
            ..NodeConfig::new(
                id("a"),
                "demo",
                "127.0.0.1:7001".parse().unwrap(),
                TlsFiles {
                    ca: "/etc/reign/certs/ca.pem".into(),
                    cert: "/etc/reign/certs/a.pem".into(),
                    key: "/abs/a.key".into(),
                    crl: Some("/etc/reign/certs/crl.pem".into()),
                    pinned: vec![
                        "AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89".into(),
                    ],
                },
            )
            .with_member(id("b"), "127.0.0.1:7002")
            .with_member(id("c"), "[::1]:7003")
            .with_member(id("d"), "node-d.internal:7004")
        };
        assert_eq!(c, expected);
        expected.validate().unwrap();

        let tls = c.tls_config(Incarnation(42));
        assert_eq!(tls.node_id, id("a"));
        assert_eq!(tls.cluster, "demo");
        assert_eq!(tls.ca, PemSource::File("/etc/reign/certs/ca.pem".into()));
        assert_eq!(tls.cert, PemSource::File("/etc/reign/certs/a.pem".into()));
        assert_eq!(tls.key, PemSource::File("/abs/a.key".into()));
        assert_eq!(
            tls.crl,
            Some(PemSource::File("/etc/reign/certs/crl.pem".into()))
        );
        let members: Vec<_> = tls.members.unwrap().into_iter().collect();
        assert_eq!(members, [id("a"), id("b"), id("c"), id("d")]);
        let pins: Vec<_> = tls.pinned_spki_sha256.unwrap().into_iter().collect();
        assert_eq!(pins, ["abcdef0123456789".repeat(4)]);
        assert_eq!(tls.handshake_timeout, Duration::from_millis(1500));
        assert_eq!(tls.incarnation, Incarnation(42));
    }

    #[test]
    fn defaults_apply_when_tunables_are_missing() {
        let c = NodeConfig::from_toml_str(MINIMAL, Path::new("conf")).unwrap();
        assert_eq!(c.tunables, Tunables::default());
        assert_eq!(c.advertise, None);
        assert!(c.members.is_empty());
        assert_eq!(c.tls.ca, Path::new("conf/ca.pem"));
        assert_eq!(c.tls.crl, None);
        assert!(c.tls.pinned.is_empty());
        let t = Tunables::default();
        assert_eq!(t.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(t.peer_silence_limit, Duration::from_secs(4));
        assert_eq!(t.reconnect_backoff_min, Duration::from_millis(100));
        assert_eq!(t.reconnect_backoff_max, Duration::from_secs(5));
        assert_eq!(t.handshake_timeout, reign_tls::DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(t.handshake_timeout, Duration::from_secs(3));
        assert_eq!(t.max_frame_size, 8 * 1024 * 1024);
        assert_eq!(t.link_buffer_limit, 16 * 1024 * 1024);
        assert_eq!(t.shutdown_timeout, Duration::from_secs(5));
        // The issue's bound: a silent peer is declared down within 5 s by default.
        assert!(t.peer_silence_limit <= Duration::from_secs(5));

        // A partial table keeps the defaults of the fields it leaves out.
        let c = NodeConfig::from_toml_str(
            &format!("{MINIMAL}\n[tunables]\nheartbeat_interval_ms = 500\n"),
            Path::new(""),
        )
        .unwrap();
        assert_eq!(c.tunables.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(c.tunables.peer_silence_limit, DEFAULT_PEER_SILENCE_LIMIT);

        // No members and no tls pins: tls_config still lists this node, and pins nothing.
        let tls = c.tls_config(Incarnation(7));
        assert_eq!(
            tls.members.unwrap().into_iter().collect::<Vec<_>>(),
            [id("a")]
        );
        assert_eq!(tls.pinned_spki_sha256, None);
        assert_eq!(tls.crl, None);
        assert_eq!(tls.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
    }

    #[test]
    fn unknown_keys_are_refused() {
        for (text, key) in [
            (format!("heartbeat_ms = 5\n{MINIMAL}"), "heartbeat_ms"),
            (MINIMAL.replace("key = ", "keyfile = "), "keyfile"),
            (
                format!("{MINIMAL}\n[[members]]\nid = \"b\"\naddr = \"h:1\"\nport = 2\n"),
                "port",
            ),
            (
                format!("{MINIMAL}\n[tunables]\nheartbeat_interval = 1000\n"),
                "heartbeat_interval",
            ),
            (format!("{MINIMAL}\n[extra]\nx = 1\n"), "extra"),
        ] {
            match NodeConfig::from_toml_str(&text, Path::new("")) {
                Err(ConfigError::Syntax { origin, message }) => {
                    assert_eq!(origin, "(string)");
                    assert!(
                        message.contains("unknown field") && message.contains(key),
                        "{message}"
                    );
                    assert!(message.contains("line"), "{message}");
                }
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_and_type_errors_are_syntax() {
        for (text, needle) in [
            ("node_id = ".to_owned(), "line 1"),
            (MINIMAL.replace("cluster = \"demo\"\n", ""), "cluster"),
            (
                format!("{MINIMAL}\n[tunables]\nheartbeat_interval_ms = \"1s\"\n"),
                "heartbeat_interval_ms",
            ),
            (
                format!("{MINIMAL}\n[tunables]\nshutdown_timeout_ms = -1\n"),
                "shutdown_timeout_ms",
            ),
        ] {
            match NodeConfig::from_toml_str(&text, Path::new("")) {
                Err(e @ ConfigError::Syntax { .. }) => {
                    let shown = e.to_string();
                    assert!(shown.starts_with("(string): "), "{shown}");
                    assert!(shown.contains(needle), "{needle:?} not in {shown}");
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        // Parsed fields: node_id, listen, member ids.
        assert_invalid(
            NodeConfig::from_toml_str(&MINIMAL.replace("\"a\"", "\"a b\""), Path::new("")),
            "node_id",
            "has the character ' ' at position 1",
        );
        assert_invalid(
            NodeConfig::from_toml_str(&MINIMAL.replace("\"a\"", "\"\""), Path::new("")),
            "node_id",
            "empty",
        );
        for listen in ["localhost:7001", "127.0.0.1", "", "1.2.3.4:99999"] {
            assert_invalid(
                NodeConfig::from_toml_str(
                    &MINIMAL.replace("127.0.0.1:7001", listen),
                    Path::new(""),
                ),
                "listen",
                "is not a socket address",
            );
        }
        let member =
            |id: &str, addr: &str| format!("\n[[members]]\nid = \"{id}\"\naddr = \"{addr}\"\n");
        assert_invalid(
            NodeConfig::from_toml_str(
                &format!("{MINIMAL}{}{}", member("b", "h:1"), member("-c", "h:2")),
                Path::new(""),
            ),
            "members[1].id",
            "starts with '-'",
        );
        assert_invalid(
            NodeConfig::from_toml_str(
                &format!(
                    "{MINIMAL}{}{}{}",
                    member("b", "h:1"),
                    member("c", "h:2"),
                    member("d", "localhost")
                ),
                Path::new(""),
            ),
            "members[2].addr",
            "\"localhost\" has no port",
        );
        assert_invalid(
            parse_with("advertise = \"0.0.0.0\""),
            "advertise",
            "has no port",
        );

        // cluster
        refused(|c| c.cluster.clear(), "cluster", "0 bytes");
        refused(|c| c.cluster = "x".repeat(256), "cluster", "256 bytes");
        let mut c = base();
        c.cluster = "x".repeat(255);
        c.validate().unwrap();

        // members
        refused(
            |c| {
                c.members.push(Member {
                    id: id("a"),
                    addr: "h:1".into(),
                })
            },
            "members[1].id",
            "this node's own node_id",
        );
        refused(
            |c| {
                c.members.push(Member {
                    id: id("c"),
                    addr: "h:1".into(),
                });
                c.members.push(Member {
                    id: id("b"),
                    addr: "h:2".into(),
                });
            },
            "members[2].id",
            "already listed as members[0]",
        );
        for (addr, needle) in [
            ("localhost", "\"localhost\" has no port"),
            ("", "has no port"),
            ("h:", "is not a number"),
            ("h:http", "is not a number"),
            ("h:+80", "is not a number"),
            ("h:0", "is not from 1 to 65535"),
            ("h:65536", "is not from 1 to 65535"),
            (":80", "has no host"),
            ("::1:80", "IPv6 address goes in brackets"),
            ("[::1]", "has no port"),
            ("[::1:80", "no closing ']'"),
            ("[host]:80", "not an IPv6 address"),
            ("a b:80", "the character ' '"),
            ("http://h:80", "the character '/'"),
        ] {
            refused(
                |c| c.members[0].addr = addr.into(),
                "members[0].addr",
                needle,
            );
        }
        refused(
            |c| c.advertise = Some("h:0".into()),
            "advertise",
            "1 to 65535",
        );

        // tls
        refused(|c| c.tls.ca = PathBuf::new(), "tls.ca", "empty");
        refused(|c| c.tls.cert = PathBuf::new(), "tls.cert", "empty");
        refused(|c| c.tls.key = PathBuf::new(), "tls.key", "empty");
        refused(|c| c.tls.crl = Some(PathBuf::new()), "tls.crl", "empty");
        assert_invalid(
            NodeConfig::from_toml_str(&MINIMAL.replace("\"a.key\"", "\"\""), Path::new("/base")),
            "tls.key",
            "empty",
        );
        refused(
            |c| c.tls.pinned = vec!["ab".repeat(32), "abc".into()],
            "tls.pinned[1]",
            "64 hex digits",
        );
        refused(
            |c| c.tls.pinned = vec!["g".repeat(64)],
            "tls.pinned[0]",
            "64 hex digits",
        );

        // tunables
        for (name, edit) in [
            (
                "heartbeat_interval_ms",
                (|t: &mut Tunables| t.heartbeat_interval = Duration::ZERO) as fn(&mut Tunables),
            ),
            ("reconnect_backoff_min_ms", |t: &mut Tunables| {
                t.reconnect_backoff_min = Duration::ZERO
            }),
            ("handshake_timeout_ms", |t: &mut Tunables| {
                t.handshake_timeout = Duration::ZERO
            }),
            ("shutdown_timeout_ms", |t: &mut Tunables| {
                t.shutdown_timeout = Duration::ZERO
            }),
        ] {
            refused(
                |c| edit(&mut c.tunables),
                &format!("tunables.{name}"),
                "above zero",
            );
        }
        refused(
            |c| c.tunables.shutdown_timeout = Duration::from_secs(2 * 24 * 3600),
            "tunables.shutdown_timeout_ms",
            "24 hours",
        );
        refused(
            |c| c.tunables.peer_silence_limit = c.tunables.heartbeat_interval,
            "tunables.peer_silence_limit_ms",
            "must be longer than tunables.heartbeat_interval_ms (1000 ms)",
        );
        refused(
            |c| c.tunables.reconnect_backoff_min = Duration::from_secs(6),
            "tunables.reconnect_backoff_min_ms",
            "more than tunables.reconnect_backoff_max_ms",
        );
        refused(
            |c| c.tunables.max_frame_size = 1023,
            "tunables.max_frame_size",
            "1 KiB",
        );
        refused(
            |c| {
                c.tunables.max_frame_size = (1 << 30) + 1;
                c.tunables.link_buffer_limit = 1 << 31;
            },
            "tunables.max_frame_size",
            "1 GiB",
        );
        refused(
            |c| c.tunables.link_buffer_limit = c.tunables.max_frame_size - 1,
            "tunables.link_buffer_limit",
            "less than tunables.max_frame_size",
        );
        refused(
            |c| c.tunables.event_capacity = 0,
            "tunables.event_capacity",
            "outside 1 to",
        );
        refused(
            |c| c.tunables.event_capacity = (1 << 20) + 1,
            "tunables.event_capacity",
            "2^20",
        );
        // From TOML too, named by their TOML keys.
        assert_invalid(
            NodeConfig::from_toml_str(
                &format!("{MINIMAL}\n[tunables]\nheartbeat_interval_ms = 0\n"),
                Path::new(""),
            ),
            "tunables.heartbeat_interval_ms",
            "above zero",
        );
        assert_invalid(
            NodeConfig::from_toml_str(
                &format!("{MINIMAL}\n[tunables]\npeer_silence_limit_ms = 1000\n"),
                Path::new(""),
            ),
            "tunables.peer_silence_limit_ms",
            "declared down",
        );

        // Boundaries that pass.
        let mut c = base();
        c.tunables.max_frame_size = 1024;
        c.tunables.link_buffer_limit = 1024;
        c.tunables.reconnect_backoff_max = c.tunables.reconnect_backoff_min;
        c.advertise = Some("[2001:db8::1]:65535".into());
        c.members[0].addr = "10.0.0.1:1".into();
        c.tls.pinned = vec![format!(" {} ", "AB:".repeat(31) + "cd")];
        c.validate().unwrap();
    }

    /// Applies `edit` to a valid configuration and returns validate's `Invalid` error.
    #[track_caller]
    fn invalid_after(edit: impl FnOnce(&mut NodeConfig)) -> (String, InvalidValue, String) {
        let mut c = base();
        edit(&mut c);
        match c.validate() {
            Err(e @ ConfigError::Invalid { .. }) => {
                let shown = e.to_string();
                let ConfigError::Invalid { field, reason } = e else {
                    unreachable!()
                };
                (field, reason, shown)
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_reason_is_typed_and_says_what_is_wrong() {
        let addr = |addr: &str, problem| InvalidValue::Address {
            addr: addr.into(),
            problem,
        };
        type Edit = Box<dyn FnOnce(&mut NodeConfig)>;
        let member_addr =
            |a: &'static str| -> Edit { Box::new(move |c| c.members[0].addr = a.into()) };
        let long_host = format!("{}:80", "h".repeat(254));
        let cases: Vec<(Edit, &str, InvalidValue, String)> = vec![
            (
                Box::new(|c| c.cluster.clear()),
                "cluster",
                InvalidValue::Length { len: 0, min: 1, max: 255 },
                "cluster: the text is 0 bytes long; it must be 1 to 255 bytes".into(),
            ),
            (
                Box::new(|c| c.tls.crl = Some(PathBuf::new())),
                "tls.crl",
                InvalidValue::EmptyPath,
                "tls.crl: the path is empty".into(),
            ),
            (
                Box::new(|c| c.tls.pinned = vec!["ab\n".into()]),
                "tls.pinned[0]",
                InvalidValue::NotHex64 { given: "ab\n".into() },
                "tls.pinned[0]: \"ab\\n\" is not a SHA-256 fingerprint: expected 64 hex digits \
                 (':' and spaces allowed), the SHA-256 of the peer's SubjectPublicKeyInfo"
                    .into(),
            ),
            (
                Box::new(|c| {
                    c.members.push(Member {
                        id: id("a"),
                        addr: "h:1".into(),
                    })
                }),
                "members[1].id",
                InvalidValue::ListsItself { id: id("a") },
                "members[1].id: \"a\" is this node's own node_id; list only the other nodes".into(),
            ),
            (
                Box::new(|c| {
                    c.members.push(Member {
                        id: id("b"),
                        addr: "h:1".into(),
                    })
                }),
                "members[1].id",
                InvalidValue::Duplicate { id: id("b"), first: 0 },
                "members[1].id: \"b\" is already listed as members[0]".into(),
            ),
            (
                member_addr("[::1"),
                "members[0].addr",
                addr("[::1", AddressProblem::UnclosedBracket),
                "members[0].addr: \"[::1\" has '[' but no closing ']'".into(),
            ),
            (
                member_addr("[h\u{1b}]:80"),
                "members[0].addr",
                addr("[h\u{1b}]:80", AddressProblem::NotIpv6 { host: "h\u{1b}".into() }),
                "members[0].addr: \"[h\\u{1b}]:80\" has \"h\\u{1b}\" in brackets, which is not an \
                 IPv6 address"
                    .into(),
            ),
            (
                member_addr("[::1]"),
                "members[0].addr",
                addr("[::1]", AddressProblem::NoPort { bracketed: true }),
                "members[0].addr: \"[::1]\" has no port (expected [ipv6]:port, e.g. \"[::1]:7001\")"
                    .into(),
            ),
            (
                member_addr("node-b"),
                "members[0].addr",
                addr("node-b", AddressProblem::NoPort { bracketed: false }),
                "members[0].addr: \"node-b\" has no port (expected host:port, e.g. \
                 \"node-b:7001\")"
                    .into(),
            ),
            (
                member_addr(""),
                "members[0].addr",
                addr("", AddressProblem::NoPort { bracketed: false }),
                "members[0].addr: \"\" has no port (expected host:port, e.g. \"localhost:7001\")"
                    .into(),
            ),
            (
                member_addr("h\r\n:80"),
                "members[0].addr",
                addr("h\r\n:80", AddressProblem::HostChar { ch: '\r' }),
                "members[0].addr: \"h\\r\\n:80\" has the character '\\r' in its host; a host is \
                 a name or an IP address"
                    .into(),
            ),
            (
                member_addr("it's:80"),
                "members[0].addr",
                addr("it's:80", AddressProblem::HostChar { ch: '\'' }),
                "members[0].addr: \"it's:80\" has the character '\\'' in its host; a host is a \
                 name or an IP address"
                    .into(),
            ),
            (
                member_addr("::1:80"),
                "members[0].addr",
                addr("::1:80", AddressProblem::Ipv6WithoutBrackets),
                "members[0].addr: \"::1:80\" has a ':' in its host: an IPv6 address goes in \
                 brackets, e.g. \"[::1]:7001\""
                    .into(),
            ),
            (
                member_addr(":80"),
                "members[0].addr",
                addr(":80", AddressProblem::NoHost),
                "members[0].addr: \":80\" has no host (expected host:port)".into(),
            ),
            (
                {
                    let a = long_host.clone();
                    Box::new(move |c| c.members[0].addr = a)
                },
                "members[0].addr",
                addr(&long_host, AddressProblem::HostTooLong { len: 254, max: 253 }),
                format!(
                    "members[0].addr: \"{}…(+57 bytes)\" has a host 254 bytes long; the limit is 253",
                    "h".repeat(200)
                ),
            ),
            (
                member_addr("h:\u{202e}1"),
                "members[0].addr",
                addr("h:\u{202e}1", AddressProblem::PortNotNumber { port: "\u{202e}1".into() }),
                "members[0].addr: \"h:\\u{202e}1\" has the port \"\\u{202e}1\", which is not a \
                 number from 1 to 65535"
                    .into(),
            ),
            (
                Box::new(|c| c.advertise = Some("h:99999999999999999999".into())),
                "advertise",
                addr(
                    "h:99999999999999999999",
                    AddressProblem::PortOutOfRange { port: "99999999999999999999".into() },
                ),
                "advertise: \"h:99999999999999999999\" has the port 99999999999999999999, which \
                 is not from 1 to 65535"
                    .into(),
            ),
            (
                Box::new(|c| c.tunables.max_pending_handshakes_per_source = 0),
                "tunables.max_pending_handshakes_per_source",
                InvalidValue::Zero,
                "tunables.max_pending_handshakes_per_source: must be above zero".into(),
            ),
            (
                Box::new(|c| c.tunables.handshake_timeout = Duration::MAX),
                "tunables.handshake_timeout_ms",
                InvalidValue::OutOfRange {
                    value: u64::MAX,
                    min: 1,
                    max: 86_400_000,
                    unit: ValueUnit::Millis,
                },
                format!(
                    "tunables.handshake_timeout_ms: {} ms is outside 1 ms to 86400000 ms (24 hours)",
                    u64::MAX
                ),
            ),
            (
                Box::new(|c| c.tunables.max_frame_size = 1023),
                "tunables.max_frame_size",
                InvalidValue::OutOfRange {
                    value: 1023,
                    min: 1024,
                    max: 1 << 30,
                    unit: ValueUnit::Bytes,
                },
                "tunables.max_frame_size: 1023 bytes is outside 1024 bytes (1 KiB) to \
                 1073741824 bytes (1 GiB)"
                    .into(),
            ),
            (
                Box::new(|c| c.tunables.max_pending_handshakes = 0),
                "tunables.max_pending_handshakes",
                InvalidValue::OutOfRange {
                    value: 0,
                    min: 1,
                    max: 65_536,
                    unit: ValueUnit::Count,
                },
                "tunables.max_pending_handshakes: 0 is outside 1 to 65536 (2^16)".into(),
            ),
            (
                Box::new(|c| c.tunables.max_announced_per_link = (1 << 24) + 1),
                "tunables.max_announced_per_link",
                InvalidValue::OutOfRange {
                    value: (1 << 24) + 1,
                    min: 1,
                    max: 1 << 24,
                    unit: ValueUnit::Count,
                },
                "tunables.max_announced_per_link: 16777217 is outside 1 to 16777216 (2^24)".into(),
            ),
            (
                Box::new(|c| c.tunables.client_hello_timeout = Duration::from_millis(3001)),
                "tunables.client_hello_timeout_ms",
                InvalidValue::MoreThan {
                    value: 3001,
                    other: "tunables.handshake_timeout_ms",
                    other_value: 3000,
                    unit: ValueUnit::Millis,
                },
                "tunables.client_hello_timeout_ms: 3001 ms is more than \
                 tunables.handshake_timeout_ms (3000 ms)"
                    .into(),
            ),
            (
                Box::new(|c| c.tunables.max_pending_handshakes_per_source = 257),
                "tunables.max_pending_handshakes_per_source",
                InvalidValue::MoreThan {
                    value: 257,
                    other: "tunables.max_pending_handshakes",
                    other_value: 256,
                    unit: ValueUnit::Count,
                },
                "tunables.max_pending_handshakes_per_source: 257 is more than \
                 tunables.max_pending_handshakes (256)"
                    .into(),
            ),
            (
                Box::new(|c| c.tunables.peer_silence_limit = Duration::from_millis(999)),
                "tunables.peer_silence_limit_ms",
                InvalidValue::SilenceNotAboveHeartbeat {
                    silence_ms: 999,
                    heartbeat_ms: 1000,
                },
                "tunables.peer_silence_limit_ms: 999 ms must be longer than \
                 tunables.heartbeat_interval_ms (1000 ms): a peer is declared down after this \
                 much silence, and an idle peer is only heard from once per heartbeat interval, \
                 so a healthy peer would be declared down (several intervals is usual, e.g. 4x)"
                    .into(),
            ),
            (
                Box::new(|c| c.tunables.link_buffer_limit = 4096),
                "tunables.link_buffer_limit",
                InvalidValue::BufferBelowFrame {
                    buffer: 4096,
                    frame: 8 << 20,
                },
                "tunables.link_buffer_limit: 4096 bytes is less than tunables.max_frame_size \
                 (8388608 bytes); the buffer must hold at least one largest frame"
                    .into(),
            ),
        ];
        for (edit, field, reason, shown) in cases {
            let got = invalid_after(edit);
            assert_eq!((got.0.as_str(), &got.1), (field, &reason), "{}", got.2);
            assert_eq!(got.2, shown);
        }

        // The parsed fields: node IDs and the listen address.
        match NodeConfig::from_toml_str(&MINIMAL.replace("\"a\"", "\"\""), Path::new("")) {
            Err(ConfigError::Invalid { field, reason }) => {
                assert_eq!(field, "node_id");
                assert_eq!(reason, InvalidValue::NodeId(NodeIdError::Empty));
                assert_eq!(reason.to_string(), "node ID is empty");
            }
            other => panic!("{other:?}"),
        }
        match NodeConfig::from_toml_str(
            &MINIMAL.replace("127.0.0.1:7001", "\\u001b[2Jhost:7001"),
            Path::new(""),
        ) {
            Err(e @ ConfigError::Invalid { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "listen: \"\\u{1b}[2Jhost:7001\" is not a socket address: expected ip:port, \
                     e.g. \"127.0.0.1:7001\" or \"[::]:7001\" (no host names)"
                );
                let ConfigError::Invalid { reason, .. } = e else {
                    unreachable!()
                };
                assert_eq!(
                    reason,
                    InvalidValue::NotSocketAddr {
                        given: "\u{1b}[2Jhost:7001".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn split_host_port_returns_the_parts() {
        assert_eq!(split_host_port("h.example:7001"), Ok(("h.example", 7001)));
        assert_eq!(split_host_port("[::1]:7001"), Ok(("::1", 7001)));
        assert_eq!(split_host_port("10.0.0.1:65535"), Ok(("10.0.0.1", 65535)));
    }

    #[test]
    fn from_file_reads_and_resolves_against_its_folder() {
        let dir = std::env::temp_dir().join(format!(
            "reign-core-config-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("node.toml");
        std::fs::write(&file, MINIMAL).unwrap();
        let c = NodeConfig::from_file(&file);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "node_id = \"a\"\nnope = 1\n").unwrap();
        let syntax = NodeConfig::from_file(&bad);
        std::fs::remove_dir_all(&dir).unwrap();

        let c = c.unwrap();
        assert_eq!(c.tls.ca, dir.join("ca.pem"));
        assert_eq!(c.tls.key, dir.join("a.key"));
        match syntax {
            Err(e @ ConfigError::Syntax { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with(&bad.display().to_string()), "{shown}");
                assert!(shown.contains("nope"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_the_path() {
        let path = Path::new("/nonexistent/reign/node.toml");
        match NodeConfig::from_file(path) {
            Err(e @ ConfigError::Read { .. }) => {
                let ConfigError::Read { path: p, source } = &e else {
                    unreachable!()
                };
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
                assert!(
                    e.to_string().contains("/nonexistent/reign/node.toml"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
