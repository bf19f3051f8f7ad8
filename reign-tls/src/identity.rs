//! Node identity: the [`NodeId`] a certificate's Common Name must equal, and the
//! [`Incarnation`] that tells one life of a node from the next.

use std::fmt;
use std::str::FromStr;

/// The longest node ID accepted, in bytes (a DNS label's limit, so an ID is always a valid SAN).
pub const MAX_NODE_ID_LEN: usize = 63;

/// A node's name in the cluster, exactly the subject Common Name of its certificate.
///
/// A node ID is 1 to 63 characters of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
/// Purely numeric IDs such as `1` are valid. Comparison is exact (case-sensitive).
///
/// ```
/// use reign_tls::NodeId;
/// let id: NodeId = "node-a.eu".parse().unwrap();
/// assert_eq!(id.as_str(), "node-a.eu");
/// assert!("-bad".parse::<NodeId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Box<str>);

/// Why a string is not a valid [`NodeId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// The ID is the empty string.
    #[error("node ID is empty")]
    Empty,
    /// The ID is longer than [`MAX_NODE_ID_LEN`] bytes.
    #[error("node ID is {len} bytes long; the limit is {MAX_NODE_ID_LEN}")]
    TooLong {
        /// The length that was given, in bytes.
        len: usize,
    },
    /// The ID contains a character outside `[A-Za-z0-9._-]`.
    #[error(
        "node ID {id:?} has the character {ch:?} at position {position}; only A-Z a-z 0-9 . _ - are allowed"
    )]
    InvalidChar {
        /// The whole ID as given (truncated to the limit).
        id: String,
        /// The offending character.
        ch: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
    /// The ID starts with `.` or `-`.
    #[error("node ID {id:?} starts with {ch:?}; an ID may not start with '.' or '-'")]
    BadStart {
        /// The whole ID as given.
        id: String,
        /// The first character.
        ch: char,
    },
}

/// Checks `s` against the node ID rules: 1 to 63 characters of `[A-Za-z0-9._-]`, not
/// starting with `.` or `-` (numeric IDs such as `1` are valid). Allocates only to describe
/// a refusal.
///
/// ```
/// use reign_tls::validate_node_id;
/// assert!(validate_node_id("node-1").is_ok());
/// assert!(validate_node_id("1").is_ok());
/// let err = validate_node_id("a/b").unwrap_err().to_string();
/// assert!(err.contains("'/'") && err.contains("position 1"));
/// ```
pub fn validate_node_id(s: &str) -> Result<(), NodeIdError> {
    if s.is_empty() {
        return Err(NodeIdError::Empty);
    }
    for (position, ch) in s.chars().enumerate() {
        if !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' || ch == '-') {
            return Err(NodeIdError::InvalidChar {
                id: s.chars().take(MAX_NODE_ID_LEN).collect(),
                ch,
                position,
            });
        }
    }
    if s.len() > MAX_NODE_ID_LEN {
        return Err(NodeIdError::TooLong { len: s.len() });
    }
    let first = s.as_bytes()[0] as char;
    if first == '.' || first == '-' {
        return Err(NodeIdError::BadStart {
            id: s.to_owned(),
            ch: first,
        });
    }
    Ok(())
}

impl NodeId {
    /// Validates and wraps `s`.
    pub fn new(s: impl AsRef<str>) -> Result<Self, NodeIdError> {
        let s = s.as_ref();
        validate_node_id(s)?;
        Ok(Self(s.into()))
    }

    /// The ID as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for NodeId {
    type Error = NodeIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for NodeId {
    type Error = NodeIdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:?})", &*self.0)
    }
}

/// One life of a node: a random 64-bit number chosen at every start.
///
/// It travels in the hello and in every address, so that a restarted node is a new life:
/// messages meant for mailboxes of its previous life never reach new ones.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Incarnation(pub u64);

impl Incarnation {
    /// A fresh random incarnation from the operating system's random source.
    ///
    /// Zero is never returned, so it can serve as "unknown" in contexts that need one.
    pub fn random() -> Self {
        loop {
            let mut buf = [0u8; 8];
            // The OS random source failing is not recoverable in any useful way; fall back to
            // time and address entropy rather than panic (an incarnation needs uniqueness, not secrecy).
            if getrandom::fill(&mut buf).is_err() {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                let addr = &buf as *const _ as u64;
                buf = (nanos ^ addr.rotate_left(32) ^ u64::from(std::process::id())).to_le_bytes();
            }
            let v = u64::from_le_bytes(buf);
            if v != 0 {
                return Self(v);
            }
        }
    }

    /// The raw value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Incarnation({:016x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_ids() {
        for id in ["a", "1", "node-1", "a.b_c-d", "A9", &"x".repeat(63), "_x"] {
            assert!(NodeId::new(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_invalid_ids_with_reason() {
        assert_eq!(NodeId::new(""), Err(NodeIdError::Empty));
        assert_eq!(
            NodeId::new("x".repeat(64)),
            Err(NodeIdError::TooLong { len: 64 })
        );
        assert!(matches!(
            NodeId::new("ab/c"),
            Err(NodeIdError::InvalidChar {
                ch: '/',
                position: 2,
                ..
            })
        ));
        assert!(matches!(
            NodeId::new("a b"),
            Err(NodeIdError::InvalidChar {
                ch: ' ',
                position: 1,
                ..
            })
        ));
        assert!(matches!(
            NodeId::new("é"),
            Err(NodeIdError::InvalidChar {
                ch: 'é',
                position: 0,
                ..
            })
        ));
        assert!(matches!(
            NodeId::new(".a"),
            Err(NodeIdError::BadStart { ch: '.', .. })
        ));
        assert!(matches!(
            NodeId::new("-a"),
            Err(NodeIdError::BadStart { ch: '-', .. })
        ));
        let msg = NodeId::new("a*b").unwrap_err().to_string();
        assert!(msg.contains("'*'") && msg.contains("position 1"), "{msg}");
    }

    #[test]
    fn incarnations_differ() {
        let a = Incarnation::random();
        let b = Incarnation::random();
        assert_ne!(a, b);
        assert_ne!(a.get(), 0);
    }
}
