//! The identity checks made after the TLS handshake, as pure functions: the certificate's CN
//! against the claimed node ID, membership, pinning, and the hello's version and cluster.

use std::collections::BTreeSet;

use crate::error::Refusal;
use crate::hello::{Hello, PROTOCOL_VERSION};
use crate::identity::NodeId;

/// What this node requires of every peer, beyond a valid certificate.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) cluster: String,
    pub(crate) members: Option<BTreeSet<NodeId>>,
    pub(crate) pins: Option<BTreeSet<String>>,
    pub(crate) operators: BTreeSet<NodeId>,
    pub(crate) allow: Vec<crate::IdPattern>,
}

impl Policy {
    /// Whether `node` may be a peer: listed, or matching an allowed pattern, or anyone when
    /// neither a list nor patterns are set; never an operator.
    pub(crate) fn admits(&self, node: &NodeId) -> bool {
        if self.operators.contains(node) {
            return false;
        }
        let allowed = || self.allow.iter().any(|p| p.matches(node.as_str()));
        match &self.members {
            None => self.allow.is_empty() || allowed(),
            Some(m) => m.contains(node) || allowed(),
        }
    }
}

/// The proven CN, if it is what the peer claims.
fn as_claimed<'a>(claimed: &str, proven_cn: Option<&'a str>) -> Result<&'a str, Refusal> {
    let proven = proven_cn.unwrap_or_default();
    if proven != claimed {
        return Err(Refusal::CnMismatch {
            claimed: claimed.to_owned(),
            proven: proven.to_owned(),
        });
    }
    Ok(proven)
}

impl Policy {
    /// Checks the proven CN against the node ID the peer claims (or the dialer meant to
    /// reach), then membership and pinning. Returns the proven node ID.
    pub(crate) fn check_identity(
        &self,
        claimed: &str,
        proven_cn: Option<&str>,
        spki_sha256: &str,
    ) -> Result<NodeId, Refusal> {
        let proven = as_claimed(claimed, proven_cn)?;
        let node = NodeId::new(proven).map_err(|e| Refusal::BadCertificate {
            detail: format!("the certificate's CN is not a valid node ID: {e}"),
        })?;
        // An operator is never a member, even where any node may join.
        if !self.admits(&node) {
            return Err(Refusal::UnknownNode {
                node: node.to_string(),
            });
        }
        self.check_pin(spki_sha256)?;
        Ok(node)
    }

    /// An operator connection's identity: the proven CN must be the one its HELLO claims and
    /// one of the operators (pins apply as to nodes).
    pub(crate) fn check_operator(
        &self,
        claimed: &str,
        proven_cn: Option<&str>,
        spki_sha256: &str,
    ) -> Result<NodeId, Refusal> {
        let proven = as_claimed(claimed, proven_cn)?;
        match NodeId::new(proven) {
            Ok(op) if self.operators.contains(&op) => {
                self.check_pin(spki_sha256)?;
                Ok(op)
            }
            _ => Err(Refusal::NotAnOperator {
                cn: proven.to_owned(),
            }),
        }
    }

    fn check_pin(&self, spki_sha256: &str) -> Result<(), Refusal> {
        match &self.pins {
            Some(pins) if !pins.contains(spki_sha256) => Err(Refusal::NotPinned {
                spki_sha256: spki_sha256.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Checks a peer's hello: version and cluster. (The node ID in it is checked with
    /// [`check_identity`](Self::check_identity).)
    pub(crate) fn check_hello(&self, hello: &Hello) -> Result<(), Refusal> {
        if hello.version != PROTOCOL_VERSION {
            return Err(Refusal::UnsupportedVersion {
                ours: PROTOCOL_VERSION,
                theirs: hello.version,
            });
        }
        if hello.cluster != self.cluster {
            return Err(Refusal::WrongCluster {
                expected: self.cluster.clone(),
                got: hello.cluster.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Incarnation;

    fn policy() -> Policy {
        Policy {
            cluster: "demo".into(),
            members: Some(["a", "b"].iter().map(|s| NodeId::new(s).unwrap()).collect()),
            pins: None,
            operators: [NodeId::new("ops").unwrap()].into_iter().collect(),
            allow: Vec::new(),
        }
    }

    #[test]
    fn cn_must_equal_claim() {
        let p = policy();
        assert_eq!(p.check_identity("b", Some("b"), "x").unwrap().as_str(), "b");
        assert_eq!(
            p.check_identity("c", Some("b"), "x"),
            Err(Refusal::CnMismatch {
                claimed: "c".into(),
                proven: "b".into()
            })
        );
        assert!(matches!(
            p.check_identity("b", None, "x"),
            Err(Refusal::CnMismatch { .. })
        ));
    }

    #[test]
    fn members_and_pins() {
        let mut p = policy();
        assert_eq!(
            p.check_identity("z", Some("z"), "x"),
            Err(Refusal::UnknownNode { node: "z".into() })
        );
        p.pins = Some(["aa".to_string()].into_iter().collect());
        assert!(p.check_identity("a", Some("a"), "aa").is_ok());
        assert!(matches!(
            p.check_identity("a", Some("a"), "bb"),
            Err(Refusal::NotPinned { .. })
        ));
    }

    #[test]
    fn operators_are_never_members_and_only_operators_operate() {
        let mut p = policy();
        p.members = None;
        // Any node may join, but not an operator.
        assert!(p.check_identity("z", Some("z"), "x").is_ok());
        assert_eq!(
            p.check_identity("ops", Some("ops"), "x"),
            Err(Refusal::UnknownNode { node: "ops".into() })
        );
        assert_eq!(
            p.check_operator("ops", Some("ops"), "x").unwrap().as_str(),
            "ops"
        );
        assert_eq!(
            p.check_operator("a", Some("a"), "x"),
            Err(Refusal::NotAnOperator { cn: "a".into() })
        );
        assert!(matches!(
            p.check_operator("ops", Some("a"), "x"),
            Err(Refusal::CnMismatch { .. })
        ));
        p.pins = Some(["aa".to_string()].into_iter().collect());
        assert!(matches!(
            p.check_operator("ops", Some("ops"), "bb"),
            Err(Refusal::NotPinned { .. })
        ));
    }

    #[test]
    fn patterns_admit_beside_the_list_or_alone() {
        let mut p = policy();
        p.allow = vec![crate::IdPattern::new("worker-*").unwrap()];
        for (id, ok) in [
            ("a", true),
            ("worker-7", true),
            ("z", false),
            ("ops", false),
        ] {
            assert_eq!(p.admits(&NodeId::new(id).unwrap()), ok, "{id}");
        }
        p.members = None;
        assert!(
            !p.admits(&NodeId::new("a").unwrap()),
            "only the patterns now"
        );
        assert!(p.admits(&NodeId::new("worker-1").unwrap()));
        p.allow.clear();
        assert!(p.admits(&NodeId::new("z").unwrap()), "anyone");
        assert!(!p.admits(&NodeId::new("ops").unwrap()), "but an operator");
    }

    #[test]
    fn hello_version_and_cluster() {
        let p = policy();
        let mut h = Hello {
            version: PROTOCOL_VERSION,
            incarnation: Incarnation(1),
            cluster: "demo".into(),
            node_id: NodeId::new("a").unwrap(),
        };
        assert!(p.check_hello(&h).is_ok());
        h.cluster = "other".into();
        assert!(matches!(
            p.check_hello(&h),
            Err(Refusal::WrongCluster { .. })
        ));
        h.version = 2;
        assert!(matches!(
            p.check_hello(&h),
            Err(Refusal::UnsupportedVersion { ours: 1, theirs: 2 })
        ));
    }
}
