//! Hostile payloads: each is refused, costs about its own size, and nothing panics.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{MAX_EMPTY_ELEMENTS, MAX_PAYLOAD_DEPTH, PayloadError, decode, encode_into};

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    encode_into(v, &mut b).unwrap();
    b.to_vec()
}

/// A varint `u64` as bincode writes a large one: `fd` and 8 bytes little-endian.
fn wide_len(n: u64) -> Vec<u8> {
    let mut v = vec![0xfd];
    v.extend_from_slice(&n.to_le_bytes());
    v
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Named {
    text: String,
    id: u64,
}

#[test]
fn round_trips_and_refuses_trailing_bytes() {
    let bytes = encode(&(7u64, String::from("x")));
    assert_eq!(decode::<(u64, String)>(&bytes).unwrap(), (7, "x".into()));
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        decode::<(u64, String)>(&longer),
        Err(PayloadError::TrailingBytes(1))
    );
    assert_eq!(
        decode::<(u64, String)>(&bytes[..1]),
        Err(PayloadError::Truncated)
    );
}

#[test]
fn the_reported_string_of_2_pow_45_is_refused_before_allocating() {
    // The tester's payload: fd, 2^45 little-endian, one byte.
    let mut p = wide_len(1 << 45);
    p.push(b'x');
    let expected = PayloadError::LengthExceedsInput {
        declared: 1 << 45,
        remaining: 1,
    };
    assert_eq!(decode::<String>(&p), Err(expected.clone()));
    // As a sequence of u8 (serde's `Vec<u8>`), it exceeds the element allowance.
    assert!(matches!(
        decode::<Vec<u8>>(&p),
        Err(PayloadError::TooManyElements { .. })
    ));
    assert_eq!(decode::<Named>(&p), Err(expected.clone()));
    assert_eq!(
        decode::<Option<String>>(&[&[1][..], &p].concat()),
        Err(expected)
    );
}

#[test]
fn lengths_of_2_pow_63_and_more_are_refused() {
    for n in [1 << 63, u64::MAX] {
        let mut p = wide_len(n);
        p.push(0);
        assert!(matches!(
            decode::<String>(&p),
            Err(PayloadError::LengthExceedsInput { declared, remaining: 1 }) if declared == n
        ));
        // A byte string (`deserialize_bytes`) and a sequence: refused, nothing preallocated.
        assert!(decode::<serde_bytes_like::Buf>(&p).is_err());
        assert!(decode::<Vec<u64>>(&p).is_err());
        assert!(decode::<HashMap<u64, String>>(&p).is_err());
        assert!(decode::<BTreeMap<String, ()>>(&p).is_err());
    }
}

#[test]
fn zero_sized_elements_are_bounded_by_the_input() {
    // 9 bytes declaring 2^63 units: refused at once, not looped over.
    let p = wide_len(1 << 63);
    assert_eq!(
        decode::<Vec<()>>(&p),
        Err(PayloadError::TooManyElements {
            limit: p.len() + MAX_EMPTY_ELEMENTS
        })
    );
    assert!(matches!(
        decode::<HashMap<(), ()>>(&p),
        Err(PayloadError::TooManyElements { .. })
    ));
    // An honest run of units within the allowance decodes (3 bytes: fb + u16).
    let ok = vec![(); MAX_EMPTY_ELEMENTS];
    assert_eq!(
        decode::<Vec<()>>(&encode(&ok)).unwrap().len(),
        MAX_EMPTY_ELEMENTS
    );
    // The allowance is for the whole payload, not per sequence.
    let many = vec![vec![(); 1000]; 6];
    assert!(matches!(
        decode::<Vec<Vec<()>>>(&encode(&many)),
        Err(PayloadError::TooManyElements { .. })
    ));
    // Elements that take bytes pay for themselves: a long sequence of them is fine.
    let bytes = vec![7u8; 100_000];
    assert_eq!(decode::<Vec<u8>>(&encode(&bytes)).unwrap(), bytes);
}

#[test]
fn a_declared_sequence_longer_than_its_bytes_is_refused_cheaply() {
    // 2^40 u64s declared, 3 present: the size hint offered is the 3 bytes, not 2^40.
    let mut p = wide_len(1 << 40);
    p.extend_from_slice(&[1, 2, 3]);
    assert!(matches!(
        decode::<Vec<u64>>(&p),
        Err(PayloadError::TooManyElements { .. })
    ));
    let mut p = vec![0xfb, 0x00, 0x10]; // 4096 elements, 3 present
    p.extend_from_slice(&[1, 2, 3]);
    assert_eq!(decode::<Vec<u64>>(&p), Err(PayloadError::Truncated));
}

/// A recursive type: each level costs one byte.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum List {
    Nil,
    Cons(Box<List>),
}

/// A recursive type through sequences: each level costs a length byte.
#[derive(Debug, Serialize, Deserialize)]
struct Tree(Vec<Tree>);

/// A type that can only recurse (no value of it exists): each level costs no byte.
#[derive(Debug, Serialize, Deserialize)]
struct Endless(Box<Endless>);

#[test]
fn deep_recursion_is_refused_not_overflowing_the_stack() {
    let mut deep = vec![1u8; 1_000_000];
    deep.push(0);
    assert_eq!(
        decode::<List>(&deep),
        Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH))
    );
    assert_eq!(
        decode::<Endless>(&[]).map(|_| ()),
        Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH))
    );
    // Nested Options and sequences count too.
    let mut opts = vec![1u8; 10_000];
    opts.push(0);
    assert!(matches!(
        decode::<Option<Box<Option<Box<Option<Box<List>>>>>>>(&opts),
        Err(PayloadError::TooDeep(_))
    ));
    assert_eq!(
        decode::<Tree>(&[1u8; 10_000]).map(|_| ()),
        Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH))
    );
    // Within the limit (each `Cons` is an enum and a newtype-variant's box: one level each).
    let mut list = List::Nil;
    for _ in 0..(MAX_PAYLOAD_DEPTH - 1) {
        list = List::Cons(Box::new(list));
    }
    let bytes = encode(&list);
    assert_eq!(decode::<List>(&bytes).unwrap(), list);
    // A struct variant is its enum's level and its fields' tuple: two.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Wrap {
        End,
        In { w: Box<Wrap> },
    }
    let wrap = |levels: usize| {
        let mut w = Wrap::End;
        for _ in 1..levels {
            w = Wrap::In { w: Box::new(w) };
        }
        encode(&w)
    };
    // 63 `In` (two levels each) around an `End` (one): 127; 64 `In`: 129.
    assert!(decode::<Wrap>(&wrap(64)).is_ok());
    assert_eq!(
        decode::<Wrap>(&wrap(65)),
        Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH))
    );
    // One level more is refused: 128 levels decode, the 129th does not.
    let deeper = encode(&List::Cons(Box::new(list)));
    assert_eq!(
        decode::<List>(&deeper),
        Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH))
    );
    // A newtype struct and the sequence it holds are a level each: 64 `Tree`s are 128.
    let tree = |levels: usize| {
        let mut t = Tree(Vec::new());
        for _ in 1..levels {
            t = Tree(vec![t]);
        }
        encode(&t)
    };
    assert!(decode::<Tree>(&tree(MAX_PAYLOAD_DEPTH / 2)).is_ok());
    assert_eq!(
        decode::<Tree>(&tree(MAX_PAYLOAD_DEPTH / 2 + 1)).map(|_| ()),
        Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH))
    );
}

#[test]
fn every_truncation_of_a_value_is_refused() {
    let v = (
        Named {
            text: "héllo".into(),
            id: u64::MAX,
        },
        vec![Some(-3i32), None],
        'é',
        1.5f64,
        BTreeMap::from([(300u16, true)]),
    );
    let bytes = encode(&v);
    for cut in 0..bytes.len() {
        let r = decode::<(Named, Vec<Option<i32>>, char, f64, BTreeMap<u16, bool>)>(&bytes[..cut]);
        assert!(r.is_err(), "prefix of {cut} bytes decoded");
    }
    assert!(decode::<(Named, Vec<Option<i32>>, char, f64, BTreeMap<u16, bool>)>(&bytes).is_ok());
}

#[test]
fn malformed_scalars_are_refused() {
    assert_eq!(decode::<bool>(&[2]), Err(PayloadError::InvalidBool(2)));
    assert_eq!(
        decode::<Option<u8>>(&[2, 0]),
        Err(PayloadError::InvalidOption(2))
    );
    assert_eq!(decode::<char>(&[0xff]), Err(PayloadError::InvalidChar));
    assert_eq!(
        decode::<char>(&[0xed, 0xa0, 0x80]),
        Err(PayloadError::InvalidChar)
    ); // surrogate
    assert_eq!(decode::<char>(&[0xe2, 0x82]), Err(PayloadError::Truncated));
    assert_eq!(decode::<String>(&[1, 0xff]), Err(PayloadError::InvalidUtf8));
    assert_eq!(
        decode::<u16>(&[0xfc, 0, 0, 1, 0]),
        Err(PayloadError::IntegerTooWide {
            marker: 0xfc,
            bits: 16
        })
    );
    assert_eq!(
        decode::<u128>(&[0xff]),
        Err(PayloadError::IntegerTooWide {
            marker: 0xff,
            bits: 128
        })
    );
    // A wider marker than needed is accepted, as bincode does.
    assert_eq!(decode::<u64>(&[0xfb, 5, 0]), Ok(5));
    // An enum's variant index out of range: the type's own refusal, as text.
    assert!(matches!(decode::<List>(&[7]), Err(PayloadError::Custom(_))));
}

#[test]
fn a_long_refusal_message_is_cut() {
    // NodeId's refusal quotes nothing, but serde's `invalid_value` on a string does.
    #[derive(Debug)]
    struct Picky;
    impl<'de> Deserialize<'de> for Picky {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            Err(serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&s),
                &"something else",
            ))
        }
    }
    let long = "\u{e9}".repeat(10_000);
    match decode::<Picky>(&encode(&long)) {
        Err(PayloadError::Custom(text)) => {
            assert!(text.len() <= 203, "{} bytes kept", text.len());
            assert!(text.ends_with('…'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_panicking_deserialize_is_caught() {
    #[derive(Debug)]
    struct Bomb;
    impl<'de> Deserialize<'de> for Bomb {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let n = u8::deserialize(d)?;
            assert!(n != 0xbb, "boom");
            Ok(Bomb)
        }
    }
    assert!(decode::<Bomb>(&[1]).is_ok());
    assert_eq!(
        decode::<Bomb>(&[0xbb]).map(|_| ()),
        Err(PayloadError::Panicked)
    );
    // The next payload decodes as usual.
    assert!(decode::<Bomb>(&[2]).is_ok());
}

/// A byte string type as `serde_bytes::ByteBuf` (not a dependency here).
pub(super) mod serde_bytes_like {
    use serde::{Deserialize, Serialize};

    /// Serialized with `serialize_bytes`, deserialized with `deserialize_byte_buf`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Buf(pub(crate) Vec<u8>);

    impl Serialize for Buf {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Buf {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Buf;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Buf, E> {
                    Ok(Buf(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
}
