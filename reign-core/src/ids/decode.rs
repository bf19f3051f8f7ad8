//! Deserializing an identity, `(node ID, incarnation, mailbox ID)`, with the node's key
//! shared between identities that name the same node life.
//!
//! Each thread remembers the node key it decoded last, and an identity naming the same node
//! and incarnation takes a reference to it instead of a new allocation (and a new copy of
//! the node's name). Addresses decoded one after another usually name one node (a batch of
//! subscribers, the reply addresses of one peer's calls): without this, each held a key of
//! its own, two allocations per address, and a send through one of very many such
//! addresses waited on a cache miss to read its node's incarnation (see BENCHMARKS.md,
//! "Issue 16, ninth session").
//!
//! A thread whose local storage is being torn down (a decode in another thread-local's
//! destructor) decodes without the remembered key.

use std::cell::RefCell;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use super::{MailboxId, NodeKey};
use crate::{Incarnation, NodeId};

thread_local! {
    /// The node key this thread decoded last (one entry: bounded whatever a peer sends).
    static LAST: RefCell<Option<NodeKey>> = const { RefCell::new(None) };
}

/// Deserializes the tuple `(node ID string, incarnation u64, mailbox ID u64)`.
pub(crate) fn identity<'de, D: Deserializer<'de>>(d: D) -> Result<(NodeKey, MailboxId), D::Error> {
    d.deserialize_tuple(3, IdentityVisitor)
}

struct IdentityVisitor;

impl<'de> Visitor<'de> for IdentityVisitor {
    type Value = (NodeKey, MailboxId);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a (node ID, incarnation, mailbox ID) tuple")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name = seq
            .next_element_seed(NameSeed)?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let incarnation: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let id: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok((name.key(Incarnation(incarnation)), MailboxId(id)))
    }
}

/// The node ID of an identity as read: the last key's, when it is the same name.
enum Name {
    Last(NodeKey),
    New(NodeId),
}

impl Name {
    /// The key for this name in `incarnation`: the last key if it is that very node life,
    /// else a new one (which becomes the last).
    fn key(self, incarnation: Incarnation) -> NodeKey {
        let id = match self {
            Name::Last(key) if key.incarnation() == incarnation => return key,
            Name::Last(key) => key.id().clone(),
            Name::New(id) => id,
        };
        let key = NodeKey::new(id, incarnation);
        // `try_with`: during the thread's teardown there is nothing to remember it in.
        let _ = LAST.try_with(|last| *last.borrow_mut() = Some(key.clone()));
        key
    }
}

struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl NameVisitor {
    /// The last key, if it names the node `s`.
    fn last_named(s: &str) -> Option<NodeKey> {
        LAST.try_with(|last| {
            last.borrow()
                .as_ref()
                .filter(|k| k.id().as_str() == s)
                .cloned()
        })
        .ok()
        .flatten()
    }

    fn named<E: de::Error>(s: &str) -> Result<Name, E> {
        match Self::last_named(s) {
            Some(key) => Ok(Name::Last(key)),
            None => NodeId::new(s).map(Name::New).map_err(E::custom),
        }
    }
}

impl Visitor<'_> for NameVisitor {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node ID")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Name, E> {
        Self::named(s)
    }

    /// UTF-8 bytes, as `String`'s own deserializer takes them (formats that hand strings
    /// over as bytes).
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Name, E> {
        match std::str::from_utf8(b) {
            Ok(s) => Self::named(s),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(b), &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::MailboxRef;

    fn encode(v: &impl serde::Serialize) -> bytes::BytesMut {
        let mut b = bytes::BytesMut::new();
        crate::codec::encode_into(v, &mut b).expect("encode");
        b
    }

    fn wire(node: &str, incarnation: u64, id: u64) -> bytes::BytesMut {
        encode(&(node, incarnation, id))
    }

    fn decode(bytes: &[u8]) -> Result<MailboxRef, crate::codec::PayloadError> {
        crate::codec::decode::<MailboxRef>(bytes)
    }

    #[test]
    fn identities_of_one_node_life_decoded_in_a_row_share_its_key() {
        let a = decode(&wire("key-share-a", 7, 1)).expect("a");
        let b = decode(&wire("key-share-a", 7, 2)).expect("b");
        assert!(Arc::ptr_eq(&a.node.0, &b.node.0), "one key for both");
        assert_eq!((a.id.0, b.id.0), (1, 2));
        // Another life of the same node: its own key, with the same name.
        let c = decode(&wire("key-share-a", 8, 3)).expect("c");
        assert!(!Arc::ptr_eq(&b.node.0, &c.node.0));
        assert_eq!((c.node(), c.incarnation().0), (b.node(), 8));
        assert_ne!(b, c.with_id(b.id));
        // Another node: its own key.
        let d = decode(&wire("key-share-b", 8, 4)).expect("d");
        assert_eq!(d.node().as_str(), "key-share-b");
        assert!(!Arc::ptr_eq(&c.node.0, &d.node.0));
        // Through JSON too (a string the deserializer owns or lends).
        let json = serde_json::to_string(&d).expect("json");
        let e: MailboxRef = serde_json::from_str(&json).expect("from json");
        assert!(Arc::ptr_eq(&d.node.0, &e.node.0));
        assert_eq!(e, d);
    }

    #[test]
    fn a_node_id_may_come_as_utf8_bytes() {
        use serde::de::Visitor;
        type E = serde::de::value::Error;
        let name = super::NameVisitor
            .visit_bytes::<E>(b"key-bytes")
            .expect("bytes");
        assert!(matches!(name, super::Name::New(id) if id.as_str() == "key-bytes"));
        assert!(super::NameVisitor.visit_bytes::<E>(b"key-\xff").is_err());
        assert!(super::NameVisitor.visit_bytes::<E>(b"key bytes").is_err());
    }

    /// A decode in a thread-local's destructor, where this module's own thread-local may
    /// already be gone, decodes without it instead of panicking.
    #[test]
    fn an_identity_decodes_while_the_thread_is_torn_down() {
        type Decoded = (Option<MailboxRef>, Option<crate::Address<u64>>);
        struct DecodeOnDrop(std::sync::mpsc::Sender<Decoded>);
        impl Drop for DecodeOnDrop {
            fn drop(&mut self) {
                let bytes = wire("key-teardown", 3, 9);
                // An address too: its decode looks for the thread's decode scope.
                let addr = crate::codec::decode::<crate::Address<u64>>(&bytes).ok();
                let _ = self.0.send((decode(&bytes).ok(), addr));
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Option<DecodeOnDrop>> =
                const { std::cell::RefCell::new(None) };
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // `LATE` first, then decodes that make this module's thread-local and the decode
            // scope's: torn down in the reverse order, so both are gone when `LATE`'s
            // destructor decodes.
            LATE.with(|l| *l.borrow_mut() = Some(DecodeOnDrop(tx)));
            decode(&wire("key-teardown", 3, 8)).expect("decodes");
            // And the decode scope's (an address's decode looks it up).
            crate::codec::decode::<crate::Address<u64>>(&wire("key-teardown", 3, 8))
                .expect("an address decodes");
        })
        .join()
        .expect("no panic in a destructor");
        let (got, addr) = rx.recv().expect("the destructor ran");
        let got = got.expect("decoded");
        let addr = addr.expect("the address decoded");
        assert_eq!(addr.mailbox_ref(), got);
        assert_eq!(
            addr.try_send(1).map_err(|e| e.reason()),
            Err(crate::SendErrorReason::Detached),
            "no scope: detached"
        );
        assert_eq!(
            got,
            MailboxRef::new(
                "key-teardown".parse().unwrap(),
                crate::Incarnation(3),
                crate::MailboxId(9)
            )
        );
    }

    #[test]
    fn a_bad_identity_is_refused_whatever_was_decoded_before() {
        let good = decode(&wire("key-bad", 1, 1)).expect("good");
        for bad in ["", "-key-bad", "key bad", "key-bad\n", &"k".repeat(300)] {
            assert!(decode(&wire(bad, 1, 1)).is_err(), "{bad:?} refused");
        }
        // Short tuples, and other shapes.
        let two = encode(&("key-bad", 1u64));
        assert!(decode(&two).is_err());
        let mut truncated = wire("key-bad", 2, 1);
        truncated.truncate(truncated.len() - 1);
        assert!(decode(&truncated).is_err());
        // What failed left the key remembered before it.
        let again = decode(&wire("key-bad", 1, 2)).expect("good again");
        assert!(Arc::ptr_eq(&good.node.0, &again.node.0));
        assert!(serde_json::from_str::<MailboxRef>(r#"["key-bad",1]"#).is_err());
        assert!(serde_json::from_str::<MailboxRef>(r#"[7,1,1]"#).is_err());
        assert!(serde_json::from_str::<MailboxRef>(r#"["key-bad",1,1]"#).is_ok());
    }
}

#[cfg(test)]
mod compat {
    use proptest::prelude::*;

    use crate::{MailboxRef, NodeId};

    /// What an identity decoded to before the shared key: a `(String, u64, u64)` whose string
    /// is a valid node ID.
    fn before(bytes: &[u8]) -> Option<(String, u64, u64)> {
        let (node, inc, id) = crate::codec::decode::<(String, u64, u64)>(bytes).ok()?;
        NodeId::new(&node).ok()?;
        Some((node, inc, id))
    }

    fn now(bytes: &[u8]) -> Option<(String, u64, u64)> {
        let r = crate::codec::decode::<MailboxRef>(bytes).ok()?;
        Some((r.node().as_str().to_owned(), r.incarnation().0, r.id().0))
    }

    fn encoded(node: &str, inc: u64, id: u64) -> Vec<u8> {
        let mut b = bytes::BytesMut::new();
        crate::codec::encode_into(&(node, inc, id), &mut b).expect("encode");
        b.to_vec()
    }

    proptest! {
        /// Any bytes decode to the same identity, or fail, as they did before, whatever
        /// was decoded just before them on the thread (the remembered key).
        #[test]
        fn identities_decode_as_they_did_before_the_shared_key(
            primer in prop::sample::select(vec!["a", "node-b", "ab", "node-b.x"]),
            primer_inc in 0u64..3,
            name in "[a-z.\\- ]{0,10}",
            inc in 0u64..3,
            id in any::<u64>(),
            cut in any::<prop::sample::Index>(),
            noise in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let _ = now(&encoded(primer, primer_inc, 1));
            let whole = encoded(&name, inc, id);
            prop_assert_eq!(now(&whole), before(&whole));
            let part = &whole[..cut.index(whole.len() + 1)];
            prop_assert_eq!(now(part), before(part));
            prop_assert_eq!(now(&noise), before(&noise));
        }
    }
}
