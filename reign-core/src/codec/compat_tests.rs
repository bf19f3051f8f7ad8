//! reign's decoder against bincode's: every value bincode encodes decodes to the same value,
//! and every byte string bincode refuses is refused too.
//!
//! The one intended difference: a payload that declares more than it holds. Where bincode
//! would allocate the declared length (and abort for a large one) or loop over 2^64
//! zero-sized elements, reign refuses at once (`LengthExceedsInput`, `TooManyElements`,
//! `TooDeep`); such inputs are not given to bincode here, except declared lengths small
//! enough for it to survive, which it must refuse as well.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::tests::serde_bytes_like::Buf;
use super::{PayloadError, decode};
use crate::{Address, Incarnation, MailboxId, MailboxRef, NodeId};

/// An `f32` compared by its bits (NaN payloads included).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
struct F32(f32);
impl PartialEq for F32 {
    fn eq(&self, o: &Self) -> bool {
        self.0.to_bits() == o.0.to_bits()
    }
}

/// An `f64` compared by its bits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
struct F64(f64);
impl PartialEq for F64 {
    fn eq(&self, o: &Self) -> bool {
        self.0.to_bits() == o.0.to_bits()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scalars {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: u128,
    f: usize,
    g: i8,
    h: i16,
    i: i32,
    j: i64,
    k: i128,
    l: isize,
    m: bool,
    n: char,
    o: F32,
    p: F64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Newtype(u32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TupleStruct(i8, String);

/// Every kind of enum variant, nesting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Nested {
    Unit,
    Newtype(Box<Nested>),
    Tuple(u16, Option<Box<Nested>>),
    Struct { items: Vec<Nested>, name: String },
    Leaf(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    scalars: Scalars,
    text: String,
    bytes: Buf,
    opt: Option<Option<u32>>,
    tuple: (u8, String, ()),
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    tuple_struct: TupleStruct,
    vec: Vec<i32>,
    units: Vec<()>,
    array: [u16; 5],
    hash: HashMap<String, u64>,
    btree: BTreeMap<u32, Vec<bool>>,
    nested: Nested,
    refs: Vec<MailboxRef>,
}

/// Integers around every varint boundary, and anything else.
fn u128s() -> impl Strategy<Value = u128> {
    let edges: Vec<u128> = [0u128, 1, 250, 251, 252, 253, 254, 255, 256]
        .into_iter()
        .chain([16u32, 32, 64, 128].into_iter().flat_map(|b| {
            let m = if b == 128 {
                u128::MAX
            } else {
                (1u128 << b) - 1
            };
            [m - 1, m, m.wrapping_add(1)]
        }))
        .collect();
    prop_oneof![
        proptest::sample::select(edges),
        any::<u128>(),
        any::<u8>().prop_map(u128::from),
        any::<u16>().prop_map(u128::from),
        any::<u32>().prop_map(u128::from),
        any::<u64>().prop_map(u128::from),
    ]
}

fn scalars() -> impl Strategy<Value = Scalars> {
    (
        (u128s(), u128s(), u128s(), u128s(), u128s(), u128s()),
        (any::<bool>(), any::<char>(), any::<u32>(), any::<u64>()),
    )
        .prop_map(|((a, b, c, d, e, f), (m, n, o, p))| {
            // Each signed field takes the same bits, so that it crosses its boundaries
            // from both sides of zero.
            Scalars {
                a: a as u8,
                b: b as u16,
                c: c as u32,
                d: d as u64,
                e,
                f: f as usize,
                g: a as i8,
                h: b as i16,
                i: c as i32,
                j: d as i64,
                k: e as i128,
                l: f as isize,
                m,
                n,
                o: F32(f32::from_bits(o)),
                p: F64(f64::from_bits(p)),
            }
        })
}

fn node_ids() -> impl Strategy<Value = NodeId> {
    "[a-z0-9][a-z0-9._-]{0,20}".prop_map(|s| s.parse().unwrap())
}

fn mailbox_refs() -> impl Strategy<Value = MailboxRef> {
    (node_ids(), u128s(), u128s())
        .prop_map(|(n, i, m)| MailboxRef::new(n, Incarnation(i as u64), MailboxId(m as u64)))
}

fn nested() -> impl Strategy<Value = Nested> {
    let leaf = prop_oneof![
        Just(Nested::Unit),
        u128s().prop_map(|n| Nested::Leaf(n as i64))
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|n| Nested::Newtype(Box::new(n))),
            (any::<u16>(), proptest::option::of(inner.clone()))
                .prop_map(|(a, b)| Nested::Tuple(a, b.map(Box::new))),
            (proptest::collection::vec(inner, 0..4), ".{0,8}")
                .prop_map(|(items, name)| Nested::Struct { items, name }),
        ]
    })
}

fn everything() -> impl Strategy<Value = Everything> {
    use proptest::collection::{btree_map, hash_map, vec};
    (
        (scalars(), ".{0,40}", vec(any::<u8>(), 0..300).prop_map(Buf)),
        (
            any::<Option<Option<u32>>>(),
            (any::<u8>(), ".{0,4}"),
            any::<u32>(),
            (any::<i8>(), ".{0,4}"),
        ),
        (
            vec(any::<i32>(), 0..300),
            0usize..600,
            any::<[u16; 5]>(),
            hash_map(".{0,6}", any::<u64>(), 0..6),
            btree_map(any::<u32>(), vec(any::<bool>(), 0..4), 0..6),
        ),
        (nested(), vec(mailbox_refs(), 0..3)),
    )
        .prop_map(
            |((scalars, text, bytes), (opt, (t0, t1), nt, (ts0, ts1)), v, (nested, refs))| {
                let (vec, units, array, hash, btree) = v;
                Everything {
                    scalars,
                    text,
                    bytes,
                    opt,
                    tuple: (t0, t1, ()),
                    unit: (),
                    unit_struct: Unit,
                    newtype: Newtype(nt),
                    tuple_struct: TupleStruct(ts0, ts1),
                    vec,
                    units: vec![(); units],
                    array,
                    hash,
                    btree,
                    nested,
                    refs,
                }
            },
        )
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).unwrap()
}

/// bincode's verdict on a whole payload: the value, if it decodes and nothing follows.
fn bincode_decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match bincode::serde::decode_from_slice::<T, _>(bytes, bincode::config::standard()) {
        Ok((v, used)) if used == bytes.len() => Some(v),
        _ => None,
    }
}

/// Whether bincode may be given `bytes` (see the module's comment) after ours said `r`.
fn bincode_survives<T>(r: &Result<T, PayloadError>) -> bool {
    !matches!(
        r,
        Err(PayloadError::LengthExceedsInput { declared, .. }) if *declared > 1 << 20
    ) && !matches!(
        r,
        Err(PayloadError::TooManyElements { .. } | PayloadError::TooDeep(_))
    )
}

/// Ours and bincode's agree on `bytes` (as far as bincode can be asked).
fn agree<T: DeserializeOwned + PartialEq + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = decode::<T>(bytes);
    if !bincode_survives(&ours) {
        return Ok(());
    }
    let theirs = bincode_decode::<T>(bytes);
    prop_assert_eq!(
        ours.as_ref().ok(),
        theirs.as_ref(),
        "{:02x?}: {:?}",
        bytes,
        ours
    );
    Ok(())
}

/// The ways a valid payload gets damaged.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(prop::sample::Index),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Append(u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    use prop::sample::Index;
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Damage::Flip(i, x)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, x)| Damage::Insert(i, x)),
        any::<Index>().prop_map(Damage::Remove),
        any::<u8>().prop_map(Damage::Append),
    ]
}

fn apply(bytes: &[u8], damages: &[Damage]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for d in damages {
        let n = b.len();
        match *d {
            Damage::Truncate(i) if n > 0 => b.truncate(i.index(n)),
            Damage::Flip(i, x) if n > 0 => b[i.index(n)] ^= x,
            Damage::Insert(i, x) => b.insert(i.index(n + 1), x),
            Damage::Remove(i) if n > 0 => {
                b.remove(i.index(n));
            }
            Damage::Append(x) => b.push(x),
            _ => {}
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn everything_bincode_encodes_decodes_the_same(v in everything()) {
        let bytes = encode(&v);
        prop_assert_eq!(decode::<Everything>(&bytes), Ok(v.clone()));
        prop_assert_eq!(bincode_decode::<Everything>(&bytes), Some(v));
    }

    #[test]
    fn damaged_payloads_get_the_same_verdict(
        v in everything(),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        let bytes = apply(&encode(&v), &damages);
        agree::<Everything>(&bytes)?;
    }

    #[test]
    fn nested_enums_and_their_damage(v in nested(), damages in proptest::collection::vec(damage(), 0..3)) {
        let bytes = encode(&v);
        prop_assert_eq!(decode::<Nested>(&bytes), Ok(v));
        agree::<Nested>(&apply(&bytes, &damages))?;
    }

    #[test]
    fn random_bytes_get_the_same_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        agree::<Scalars>(&bytes)?;
        agree::<(u8, u16, u32, u64, u128)>(&bytes)?;
        agree::<(i8, i16, i32, i64, i128)>(&bytes)?;
        agree::<(char, bool, Option<char>)>(&bytes)?;
        agree::<String>(&bytes)?;
        agree::<Buf>(&bytes)?;
        agree::<Vec<u16>>(&bytes)?;
        agree::<Vec<()>>(&bytes)?;
        agree::<HashMap<u8, String>>(&bytes)?;
        agree::<BTreeMap<char, Option<bool>>>(&bytes)?;
        agree::<Nested>(&bytes)?;
        agree::<MailboxRef>(&bytes)?;
        agree::<Option<(Unit, Newtype, TupleStruct)>>(&bytes)?;
    }

    #[test]
    fn addresses_decode_as_bincode_decodes_them(r in mailbox_refs()) {
        // Outside a decode scope both give a detached address of the same identity.
        let bytes = encode(&r);
        let ours = decode::<Address<u64>>(&bytes).unwrap();
        prop_assert_eq!(ours.mailbox_ref(), r);
        prop_assert_eq!(Some(ours), bincode_decode::<Address<u64>>(&bytes));
    }
}

#[test]
fn small_overlong_lengths_are_refused_by_both() {
    // A declared length bincode can afford to allocate: both refuse.
    let p = [0xfb, 0x00, 0x01, b'x'];
    assert!(matches!(
        decode::<String>(&p),
        Err(PayloadError::LengthExceedsInput {
            declared: 256,
            remaining: 1
        })
    ));
    assert_eq!(bincode_decode::<String>(&p), None);
}

#[test]
fn invalid_node_ids_are_refused_by_both() {
    for bad in ["", "-x", "a b", &"n".repeat(64)] {
        let bytes = encode(&(bad, 1u64, 2u64));
        assert!(matches!(
            decode::<MailboxRef>(&bytes),
            Err(PayloadError::Custom(_))
        ));
        assert_eq!(bincode_decode::<MailboxRef>(&bytes), None);
    }
}

#[test]
fn every_first_byte_of_a_scalar_gets_the_same_verdict() {
    // Each first byte (varint markers, bool, option tags, UTF-8 leads) with every length of
    // tail up to 17 bytes: the tail's bytes are distinct so that widths are told apart.
    let tail: Vec<u8> = (0x80..0x91).collect();
    for first in 0..=255u8 {
        for n in 0..=tail.len() {
            let bytes = [&[first][..], &tail[..n]].concat();
            let check = |r: Result<(), TestCaseError>| {
                if let Err(e) = r {
                    panic!("{e}");
                }
            };
            check(agree::<u16>(&bytes));
            check(agree::<u32>(&bytes));
            check(agree::<u64>(&bytes));
            check(agree::<u128>(&bytes));
            check(agree::<usize>(&bytes));
            check(agree::<i16>(&bytes));
            check(agree::<i32>(&bytes));
            check(agree::<i64>(&bytes));
            check(agree::<i128>(&bytes));
            check(agree::<isize>(&bytes));
            check(agree::<(u8, i8)>(&bytes));
            check(agree::<F32>(&bytes));
            check(agree::<F64>(&bytes));
            check(agree::<bool>(&bytes));
            check(agree::<char>(&bytes));
            check(agree::<Option<u8>>(&bytes));
            check(agree::<String>(&bytes));
            check(agree::<Buf>(&bytes));
            check(agree::<Nested>(&bytes));
        }
    }
    // UTF-8 sequences of every lead with valid and invalid continuations.
    for lead in 0xc0..=0xff_u8 {
        for c1 in [0x80u8, 0x9f, 0xa0, 0xbf, 0xc0] {
            for c2 in [0x80u8, 0xbf, 0x41] {
                for bytes in [[lead, c1, c2, 0x80], [lead, c1, 0x80, 0x80]] {
                    for n in 1..=4 {
                        agree::<char>(&bytes[..n]).unwrap();
                        let s = [&[n as u8][..], &bytes[..n]].concat();
                        agree::<String>(&s).unwrap();
                    }
                }
            }
        }
    }
}
