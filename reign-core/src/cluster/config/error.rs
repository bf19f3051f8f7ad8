//! Why a configuration is refused: the field, and a typed reason.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reign_tls::ratelimit::Escaped;
use reign_tls::{NodeId, NodeIdError};

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
        /// [`NodeConfig::from_toml_str`](super::NodeConfig::from_toml_str).
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
    pub(super) fn invalid(field: impl Into<String>, reason: InvalidValue) -> Self {
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
    /// An `allow` entry is not a node ID pattern.
    #[error(transparent)]
    Pattern(reign_tls::IdPatternError),
    /// An operator's ID is a member's (or this node's): an operator is never a member.
    #[error("\"{id}\" is a member (or this node); an operator must have an ID of its own")]
    OperatorIsMember {
        /// The ID.
        id: NodeId,
    },
    /// An operator is listed twice.
    #[error("\"{id}\" is already listed as operators[{first}]")]
    DuplicateOperator {
        /// The ID.
        id: NodeId,
        /// The index of its first listing (counted from 0).
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
    /// Hours (`certificate_expiry_warning_hours`).
    Hours,
}

/// A number with its unit: `1000 ms`, `1023 bytes`, `7`.
pub(super) struct Amount(u64, ValueUnit);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            ValueUnit::Millis => write!(f, "{} ms", self.0),
            ValueUnit::Bytes => write!(f, "{} bytes", self.0),
            ValueUnit::Count => write!(f, "{}", self.0),
            ValueUnit::Hours => write!(f, "{} hours", self.0),
        }
    }
}

/// A limit with its unit and, when it is round, its size in words: `1073741824 bytes (1 GiB)`,
/// `1048576 (2^20)`, `86400000 ms (24 hours)`.
pub(super) struct Limit(u64, ValueUnit);

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

pub use crate::proto::address::AddressProblem;

/// [`InvalidValue::Address`]'s text: the escaped address, then its problem; for a missing
/// port, an example made from the address itself.
pub(super) struct ShowAddress<'a> {
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

/// Milliseconds of a duration, saturated at `u64::MAX`.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A size or count as `u64`, saturated (it always fits on 64-bit targets).
pub(super) fn wide(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
