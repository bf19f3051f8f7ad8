//! Identities: [`MailboxId`], [`MonitorId`] and the untyped [`MailboxRef`] that names one
//! mailbox of one node's life.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Incarnation, NodeId};

mod decode;

/// The number of a mailbox on its node: never 0 (which names the node itself in node
/// monitors), never reused within one incarnation of a node, and not guessable from other
/// numbers of the same node (a keyed permutation), so that a peer cannot address a mailbox it
/// was never told about.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MailboxId(pub u64);

impl MailboxId {
    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxId({})", self.0)
    }
}

/// Where mailbox numbers come from: a counter taken through a keyed permutation of the 64-bit
/// numbers (a six-round Feistel network over two 32-bit halves with SipHash-2-4 as its round
/// function), under a 128-bit key drawn from the operating system for each node life. A
/// permutation, so numbers never repeat within a life; keyed, so knowing some of a node's
/// mailbox numbers tells nothing about the others.
pub(crate) struct MailboxIds {
    next: std::sync::atomic::AtomicU64,
    key: (u64, u64),
}

impl MailboxIds {
    const ROUNDS: u8 = 6;

    /// A generator with a fresh random key.
    pub(crate) fn new() -> Self {
        let mut k = [0u8; 16];
        if getrandom::fill(&mut k).is_err() {
            // No OS randomness: fall back to std's per-process random hashing keys, which
            // come from the same source by other means when available.
            use std::hash::BuildHasher;
            let rs = std::hash::RandomState::new();
            k[..8].copy_from_slice(&rs.hash_one(1u8).to_le_bytes());
            k[8..].copy_from_slice(&rs.hash_one(2u8).to_le_bytes());
        }
        let (a, b) = k.split_at(8);
        Self::with_key((
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        ))
    }

    fn with_key(key: (u64, u64)) -> Self {
        Self {
            next: std::sync::atomic::AtomicU64::new(0),
            key,
        }
    }

    /// The next mailbox number (never 0).
    pub(crate) fn next(&self) -> MailboxId {
        loop {
            let c = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let id = self.permute(c);
            if id != 0 {
                return MailboxId(id);
            }
        }
    }

    fn round(&self, round: u8, half: u32) -> u32 {
        use std::hash::Hasher;
        let mut h = siphasher::sip::SipHasher24::new_with_keys(self.key.0, self.key.1);
        h.write_u8(round);
        h.write_u32(half);
        h.finish() as u32
    }

    fn permute(&self, x: u64) -> u64 {
        let (mut l, mut r) = ((x >> 32) as u32, x as u32);
        for round in 0..Self::ROUNDS {
            (l, r) = (r, l ^ self.round(round, r));
        }
        (u64::from(l) << 32) | u64::from(r)
    }

    #[cfg(test)]
    fn unpermute(&self, y: u64) -> u64 {
        let (mut l, mut r) = ((y >> 32) as u32, y as u32);
        for round in (0..Self::ROUNDS).rev() {
            (l, r) = (r ^ self.round(round, l), l);
        }
        (u64::from(l) << 32) | u64::from(r)
    }
}

/// Hashes a [`MailboxId`] as itself, for the node's mailbox table.
///
/// A mailbox number is the output of a keyed permutation ([`MailboxIds`]): its bits are
/// uniform, and nobody but the node chooses which numbers are in its table. A peer can ask
/// for any number it likes, but a lookup only probes where that number falls among entries
/// it cannot place, so hashing again (SipHash, about 150 instructions per lookup: a
/// peer's stream spread over many mailboxes looks one up per message) buys nothing.
#[derive(Default, Clone, Copy)]
pub(crate) struct MailboxIdHasher(u64);

impl std::hash::Hasher for MailboxIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    /// Only `write_u64` is meant to be called (a `MailboxId` hashes its one `u64`); anything
    /// else is folded in so that the hasher stays correct if that changes.
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The [`BuildHasher`](std::hash::BuildHasher) of [`MailboxIdHasher`].
pub(crate) type MailboxIdHash = std::hash::BuildHasherDefault<MailboxIdHasher>;

/// The number of one monitor, unique within the node that created it. Every [`Down`]
/// carries the number of the monitor that fired.
///
/// [`Down`]: crate::Down
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MonitorId(pub u64);

impl fmt::Display for MonitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A node's identity in one of its lives, shared by an address and its clones, so cloning an
/// address never copies the node's name, and by identities a thread decodes one after
/// another that name the same node life (see [`decode`]).
#[derive(Clone)]
pub(crate) struct NodeKey(Arc<NodeKeyInner>);

struct NodeKeyInner {
    id: NodeId,
    incarnation: Incarnation,
}

impl NodeKey {
    pub(crate) fn new(id: NodeId, incarnation: Incarnation) -> Self {
        Self(Arc::new(NodeKeyInner { id, incarnation }))
    }

    pub(crate) fn id(&self) -> &NodeId {
        &self.0.id
    }

    pub(crate) fn incarnation(&self) -> Incarnation {
        self.0.incarnation
    }
}

impl PartialEq for NodeKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.incarnation == other.0.incarnation && self.0.id == other.0.id)
    }
}

impl Eq for NodeKey {}

/// Writes an identity the way [`MailboxRef`] and [`Address`](crate::Address) display it:
/// `<node@inc4:id>` with the first four hex digits of the incarnation.
pub(crate) fn fmt_identity(
    f: &mut fmt::Formatter<'_>,
    node: &NodeKey,
    id: MailboxId,
) -> fmt::Result {
    let inc = format!("{}", node.incarnation());
    write!(f, "<{}@{}:{}>", node.id(), &inc[..4], id.0)
}

/// Compares identities: node ID, then incarnation, then mailbox ID.
pub(crate) fn cmp_identity(a: (&NodeKey, MailboxId), b: (&NodeKey, MailboxId)) -> Ordering {
    a.0.id()
        .cmp(b.0.id())
        .then(a.0.incarnation().cmp(&b.0.incarnation()))
        .then(a.1.cmp(&b.1))
}

/// Hashes an identity consistently with [`cmp_identity`] equality.
pub(crate) fn hash_identity<H: Hasher>(node: &NodeKey, id: MailboxId, state: &mut H) {
    id.0.hash(state);
    node.incarnation().0.hash(state);
    node.id().hash(state);
}

pub(crate) fn serialize_identity<S: Serializer>(
    node: &NodeKey,
    id: MailboxId,
    s: S,
) -> Result<S::Ok, S::Error> {
    (node.id().as_str(), node.incarnation().0, id.0).serialize(s)
}

/// Deserializes what [`serialize_identity`] writes (see [`decode`]: the node's key is
/// shared with the identity decoded before it when both name the same node life).
pub(crate) use decode::identity as deserialize_identity;

/// The untyped identity of a mailbox: its node, the node's incarnation and the mailbox's ID.
///
/// This is what a [`Down`](crate::Down) names as its target, what a
/// [`MonitorRef`](crate::MonitorRef) remembers, and what every [`Address`](crate::Address)
/// carries (see [`Address::mailbox_ref`](crate::Address::mailbox_ref)). It compares, hashes
/// and orders like the addresses it came from, displays the same way (`<node@3f2c:42>`), and
/// serializes as the tuple `(node ID string, incarnation u64, mailbox ID u64)`. Unlike an
/// address it cannot send.
#[derive(Clone)]
pub struct MailboxRef {
    pub(crate) node: NodeKey,
    pub(crate) id: MailboxId,
}

impl MailboxRef {
    /// Mailbox `id` of the same node life.
    pub(crate) fn with_id(&self, id: MailboxId) -> MailboxRef {
        MailboxRef {
            node: self.node.clone(),
            id,
        }
    }

    /// A reference built from its three parts.
    pub fn new(node: NodeId, incarnation: Incarnation, id: MailboxId) -> Self {
        Self {
            node: NodeKey::new(node, incarnation),
            id,
        }
    }

    /// The node that holds (or held) the mailbox.
    pub fn node(&self) -> &NodeId {
        self.node.id()
    }

    /// The life of that node the mailbox belongs to.
    pub fn incarnation(&self) -> Incarnation {
        self.node.incarnation()
    }

    /// The mailbox's number on its node.
    pub fn id(&self) -> MailboxId {
        self.id
    }
}

impl PartialEq for MailboxRef {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.node == other.node
    }
}

impl Eq for MailboxRef {}

impl PartialOrd for MailboxRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MailboxRef {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_identity((&self.node, self.id), (&other.node, other.id))
    }
}

impl Hash for MailboxRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_identity(&self.node, self.id, state);
    }
}

impl fmt::Display for MailboxRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_identity(f, &self.node, self.id)
    }
}

impl fmt::Debug for MailboxRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MailboxRef({}@{}:{})",
            self.node.id(),
            self.node.incarnation(),
            self.id.0
        )
    }
}

impl Serialize for MailboxRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_identity(&self.node, self.id, s)
    }
}

impl<'de> Deserialize<'de> for MailboxRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (node, id) = deserialize_identity(d)?;
        Ok(Self { node, id })
    }
}

/// The longest name accepted, in bytes: for local names ([`Names`](crate::Names)),
/// cluster-wide names ([`GlobalNames`](crate::GlobalNames)) and groups ([`Groups`](crate::Groups)).
pub const MAX_NAME_LEN: usize = 255;

#[cfg(test)]
mod tests {
    /// The mailbox table's hasher takes a mailbox number as it is: its spread is the keyed
    /// permutation's, which the test below checks.
    #[test]
    fn the_table_hashes_a_mailbox_number_as_itself() {
        use std::hash::BuildHasher;
        let h = super::MailboxIdHash::default();
        for id in [1u64, 0xdead_beef_0123_4567, u64::MAX] {
            assert_eq!(h.hash_one(super::MailboxId(id)), id);
        }
        // Anything but a u64 is still folded in.
        assert_ne!(h.hash_one("a"), h.hash_one("b"));
    }

    #[test]
    fn mailbox_ids_are_a_keyed_permutation() {
        use super::MailboxIds;
        let a = MailboxIds::with_key((1, 2));
        let b = MailboxIds::with_key((1, 3));
        let mut seen = std::collections::HashSet::new();
        for x in (0..20_000u64).chain([u64::MAX, u64::MAX - 1, 1 << 32]) {
            let y = a.permute(x);
            assert_eq!(a.unpermute(y), x, "invertible, so never repeated");
            assert!(seen.insert(y));
            assert_ne!(y, b.permute(x), "another key, other numbers");
        }
        // Consecutive numbers look unrelated: no small differences.
        let ids: Vec<u64> = (0..1000).map(|_| a.next().get()).collect();
        assert!(ids.windows(2).all(|w| w[0].abs_diff(w[1]) > 1 << 20));
        assert!(ids.iter().all(|&i| i != 0));
        assert_ne!(MailboxIds::new().permute(0), MailboxIds::new().permute(0));
    }

    use super::*;

    fn r(node: &str, inc: u64, id: u64) -> MailboxRef {
        MailboxRef::new(node.parse().unwrap(), Incarnation(inc), MailboxId(id))
    }

    #[test]
    fn equality_and_order_use_all_three_parts() {
        assert_eq!(r("a", 1, 2), r("a", 1, 2));
        assert_ne!(r("a", 1, 2), r("a", 1, 3));
        assert_ne!(r("a", 1, 2), r("a", 9, 2));
        assert_ne!(r("a", 1, 2), r("b", 1, 2));
        assert!(r("a", 1, 2) < r("a", 1, 3));
        assert!(r("a", 9, 1) < r("b", 1, 1));
    }

    #[test]
    fn display_is_short_and_readable() {
        let m = r("node-a", 0x3f2c_0000_0000_0001, 42);
        assert_eq!(m.to_string(), "<node-a@3f2c:42>");
        assert!(format!("{m:?}").contains("3f2c000000000001"));
    }

    #[test]
    fn serializes_as_a_plain_triple() {
        let m = r("n1", 7, 42);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"["n1",7,42]"#);
        let back: MailboxRef = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<MailboxRef>(r#"["bad id",7,42]"#).is_err());
    }
}
