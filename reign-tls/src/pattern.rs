//! Node ID patterns, for an allow-list of who may join: a node ID in which `*` stands for
//! any run of characters (none included), e.g. `worker-*`, `*.eu`, `*`.

use crate::identity::MAX_NODE_ID_LEN;

/// A node ID pattern. Parse it with [`IdPattern::new`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdPattern(String);

/// Why a pattern is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdPatternError {
    /// Empty, or longer than a node ID may be.
    #[error("a pattern has 1 to {MAX_NODE_ID_LEN} characters")]
    Length,
    /// A character no node ID holds (and not `*`).
    #[error("{0:?} is not a node ID character (A-Z a-z 0-9 . _ -) or *")]
    Character(char),
}

impl IdPattern {
    /// Parses `s`: the characters of a node ID, and `*`.
    pub fn new(s: &str) -> Result<Self, IdPatternError> {
        if s.is_empty() || s.len() > MAX_NODE_ID_LEN {
            return Err(IdPatternError::Length);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*')))
        {
            return Err(IdPatternError::Character(c));
        }
        Ok(Self(s.to_owned()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `id` matches. Linear in the pattern times the ID at worst (both at most 63
    /// bytes): no backtracking blow-up.
    pub fn matches(&self, id: &str) -> bool {
        let (p, s) = (self.0.as_bytes(), id.as_bytes());
        let (mut i, mut j) = (0, 0);
        // The last `*` seen, and where in `s` its run started.
        let mut star: Option<(usize, usize)> = None;
        while j < s.len() {
            if i < p.len() && p[i] == b'*' {
                star = Some((i, j));
                i += 1;
            } else if i < p.len() && p[i] == s[j] {
                i += 1;
                j += 1;
            } else if let Some((si, sj)) = star {
                i = si + 1;
                j = sj + 1;
                star = Some((si, sj + 1));
            } else {
                return false;
            }
        }
        p[i..].iter().all(|&c| c == b'*')
    }
}

impl std::fmt::Display for IdPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run() {
        let m = |p: &str, s: &str| IdPattern::new(p).unwrap().matches(s);
        assert!(m("worker-*", "worker-1"));
        assert!(m("worker-*", "worker-"));
        assert!(!m("worker-*", "worker"));
        assert!(m("*", "anything"));
        assert!(m("*.eu", "a.b.eu"));
        assert!(!m("*.eu", "a.eus"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("coord", "coord"));
        assert!(!m("coord", "coord2"));
        assert!(m("**x", "x"));
    }

    #[test]
    fn bad_patterns_are_typed() {
        assert_eq!(IdPattern::new(""), Err(IdPatternError::Length));
        assert_eq!(IdPattern::new(&"a".repeat(64)), Err(IdPatternError::Length));
        assert_eq!(IdPattern::new("a b"), Err(IdPatternError::Character(' ')));
    }
}
