//! Node ID rules: reign-tls's own, so that a certificate made here always names an ID that
//! reign accepts.

pub use reign_tls::{MAX_NODE_ID_LEN, NodeIdError, validate_node_id};

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
