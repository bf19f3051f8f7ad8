//! Node ID rules, the same as `reign_tls::NodeId` (certgen stands alone, so they are restated).

/// The longest node ID accepted, in bytes (a DNS label's limit, so an ID is always a valid SAN).
pub const MAX_NODE_ID_LEN: usize = 63;

/// Why a string is not a valid node ID.
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
/// starting with `.` or `-`. Numeric IDs such as `1` are valid.
///
/// ```
/// use reign_certgen::validate_node_id;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rules_as_reign_tls() {
        for id in ["a", "1", "node-1", "a.b_c-d", "A9", &"x".repeat(63), "_x"] {
            assert!(validate_node_id(id).is_ok(), "{id}");
        }
        assert_eq!(validate_node_id(""), Err(NodeIdError::Empty));
        assert_eq!(
            validate_node_id(&"x".repeat(64)),
            Err(NodeIdError::TooLong { len: 64 })
        );
        assert!(matches!(
            validate_node_id("ab/c"),
            Err(NodeIdError::InvalidChar {
                ch: '/',
                position: 2,
                ..
            })
        ));
        assert!(matches!(
            validate_node_id("é"),
            Err(NodeIdError::InvalidChar {
                ch: 'é',
                position: 0,
                ..
            })
        ));
        assert!(matches!(
            validate_node_id(".a"),
            Err(NodeIdError::BadStart { ch: '.', .. })
        ));
        assert!(matches!(
            validate_node_id("-a"),
            Err(NodeIdError::BadStart { ch: '-', .. })
        ));
    }
}
