//! Entry points for the fuzz targets in `fuzz/`, for the test that replays their corpus, and
//! for the payload decode benchmark and the cluster bench.
//! Not an API: each takes arbitrary bytes, and panics only when it finds a bug.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use bytes::BytesMut;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::proto::wire::{self, Frame, Peeked};

mod registry;
use crate::{Address, Down, MailboxRef, PayloadError};
pub use registry::registry;

/// Feeds `data` to the link frame decoder as a byte stream: the first two bytes choose the
/// maximum frame size (1 to 65536), the rest are frames. Checks that `peek_length`, `peek`
/// and `decode` agree, and that every decoded frame re-encodes to a frame that decodes to
/// itself.
pub fn frames(data: &[u8]) {
    let Some((max, stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max_frame = usize::from(u16::from_le_bytes(*max)) + 1;
    let mut buf = BytesMut::from(stream);
    // The last SEND seen, as the run a link reader would be extending when this frame
    // comes: its header bytes (kind to tag) and its fields.
    let mut run: Option<(Vec<u8>, u64, u64, Vec<u8>)> = None;
    loop {
        let length = wire::peek_length(&buf, max_frame);
        let peek = wire::peek(&buf, max_frame);
        if let Some((header, target, incarnation, tag)) = &run {
            // The same mailbox by its fields, as the reader compared them before.
            let same = match &peek {
                Ok(Some(Peeked::Send {
                    total,
                    target: t,
                    target_incarnation: i,
                    tag: g,
                    payload,
                })) if t == target && i == incarnation && g == tag => Some((*total, *payload)),
                _ => None,
            };
            assert_eq!(
                wire::next_same_send(&buf, header, max_frame),
                same,
                "the run extension and peek disagree"
            );
        }
        if let Ok(Some(Peeked::Send {
            total,
            target,
            target_incarnation,
            tag,
            payload,
        })) = &peek
        {
            run = Some((
                buf[wire::LENGTH_BYTES..total - payload.len()].to_vec(),
                *target,
                *target_incarnation,
                tag.to_vec(),
            ));
        }
        let peeked = peek.map(|p| p.map(owned));
        let before = buf.len();
        let decoded = wire::decode(&mut buf, max_frame);
        let frame = match (&length, decoded) {
            (Err(e), Err(d)) => {
                assert_eq!(e, &d, "peek_length and decode disagree");
                return;
            }
            (Ok(None), Ok(None)) => return,
            (Ok(Some(_)), Ok(None)) => {
                assert!(
                    matches!(peeked, Ok(None)),
                    "peek saw a frame decode did not"
                );
                return;
            }
            // A whole frame whose body is malformed.
            (Ok(Some(_)), Err(_)) => return,
            (Ok(Some(len)), Ok(Some(frame))) => {
                assert_eq!(
                    before - buf.len(),
                    len + 4,
                    "decode consumed another length"
                );
                frame
            }
            (l, d) => panic!("peek_length {l:?} but decode {d:?}"),
        };
        match peeked {
            Ok(Some(Some(send))) => assert_eq!(send, frame, "peek and decode disagree"),
            Ok(Some(None)) => assert!(!matches!(frame, Frame::Send { .. })),
            other => panic!("decode gave {frame:?}, peek {other:?}"),
        }
        let mut again = BytesMut::new();
        wire::encode(&frame, &mut again);
        let back = wire::decode(&mut again, usize::MAX).expect("a re-encoded frame decodes");
        assert_eq!(back.as_ref(), Some(&frame), "re-encoded frame differs");
        assert!(again.is_empty());
    }
}

/// A peeked SEND as the frame `decode` gives (`None` for other kinds).
fn owned(p: Peeked<'_>) -> Option<Frame> {
    match p {
        Peeked::Send {
            target,
            target_incarnation,
            tag,
            payload,
            ..
        } => Some(Frame::Send {
            target,
            target_incarnation,
            tag: wire::Text::new(std::str::from_utf8(tag).ok()?),
            payload: bytes::Bytes::copy_from_slice(payload),
        }),
        Peeked::Other => None,
    }
}

/// A recursive enum with every kind of variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf,
    Value(i64),
    Pair(u16, Option<Box<Tree>>),
    Branch(Box<Tree>, Box<Tree>),
    Named { name: String, kids: Vec<Tree> },
}

/// A struct of most shapes a message takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mixed {
    text: String,
    bytes: Vec<u8>,
    opt: Option<u32>,
    map: BTreeMap<String, Vec<u64>>,
    hash: HashMap<u16, bool>,
    units: Vec<()>,
    refs: Vec<MailboxRef>,
    ch: char,
    wide: i128,
    tuple: (u8, i16, ()),
}

/// Floats, compared by their re-encoded bits rather than `==` (NaN).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Floats(f32, f64, Vec<f64>);

/// Whose decoder [`payload_with`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// reign's (the receive path's), without its panic guard, so that a bug panics.
    Reign,
    /// bincode's serde decoder, which reign used before: expected to abort on hostile
    /// lengths (kept to show what the reign decoder prevents).
    Bincode,
}

/// Decodes the rest of `data` as the message type chosen by its first byte (strings,
/// vectors, nested enums, maps, addresses, options, zero-sized elements, floats, `Down`).
/// Whatever decodes must re-encode and decode to the same value.
pub fn payload(data: &[u8]) {
    payload_with(Decoder::Reign, data);
}

/// [`payload`] with the decoder chosen.
pub fn payload_with(decoder: Decoder, data: &[u8]) {
    let Some((&which, p)) = data.split_first() else {
        return;
    };
    let d = decoder;
    match which % 12 {
        0 => same::<String>(d, p),
        1 => same::<Vec<String>>(d, p),
        2 => same::<Tree>(d, p),
        3 => same::<Mixed>(d, p),
        4 => same::<Address<u64>>(d, p),
        5 => same::<Option<Option<Vec<()>>>>(d, p),
        6 => same::<HashMap<String, Tree>>(d, p),
        7 => same::<Vec<Vec<()>>>(d, p),
        8 => same::<(MailboxRef, Option<String>, BTreeMap<u8, ()>)>(d, p),
        9 => same::<Down>(d, p),
        10 => same::<(u16, u32, u64, u128, i16, i32, i64, i128, bool, char)>(d, p),
        _ => same_bits::<Floats>(d, p),
    }
}

fn decode<T: DeserializeOwned>(d: Decoder, bytes: &[u8]) -> Result<T, PayloadError> {
    match d {
        Decoder::Reign => crate::codec::decode_unguarded(bytes),
        Decoder::Bincode => {
            match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
                Ok((v, used)) if used == bytes.len() => Ok(v),
                _ => Err(PayloadError::Truncated),
            }
        }
    }
}

fn encode<T: Serialize>(v: &T) -> BytesMut {
    let mut b = BytesMut::new();
    crate::codec::encode_into(v, &mut b).expect("a decoded value encodes");
    b
}

/// What decodes re-encodes and decodes to an equal value.
fn same<T: DeserializeOwned + Serialize + PartialEq + Debug>(d: Decoder, p: &[u8]) {
    if d == Decoder::Reign {
        // The link's delivery decodes a run of payloads with one panic guard: each of them
        // comes out as a decode of it alone would.
        let each = std::cell::RefCell::new(Vec::new());
        crate::codec::decode_each::<T>(
            &[p, p],
            |v| each.borrow_mut().push(Ok(v)),
            |e| each.borrow_mut().push(Err(e)),
        );
        let each = each.into_inner();
        let alone = decode::<T>(d, p);
        assert_eq!(each.len(), 2, "one result per payload");
        for got in each {
            assert_eq!(got, alone, "decode_each and decode disagree");
        }
    }
    if let Ok(v) = decode::<T>(d, p) {
        let again = decode::<T>(d, &encode(&v)).expect("a re-encoded value decodes");
        assert_eq!(again, v);
    }
}

/// What decodes re-encodes to bytes that decode and re-encode to the same bytes.
fn same_bits<T: DeserializeOwned + Serialize>(d: Decoder, p: &[u8]) {
    if let Ok(v) = decode::<T>(d, p) {
        let bytes = encode(&v);
        let again = decode::<T>(d, &bytes).expect("a re-encoded value decodes");
        assert_eq!(encode(&again), bytes);
    }
}

/// The receive path's payload decoder (panic guard included), for the decode benchmark
/// (`reign-core/benches/payload_decode.rs`).
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    crate::codec::decode(bytes)
}

/// A small deterministic generator (xorshift64*) for the replay tests' random inputs, so that
/// a failure names its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; it is mixed so that nearby seeds differ).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Every file of a corpus folder, in name order (empty if the folder does not exist).
pub fn corpus(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Delivers `payload` (of type `tag`) to mailbox `target` of `node` as if another node had
/// sent it, through the receive path a link uses; true if it was queued. For the cluster
/// bench's check of its payload sizes.
pub fn deliver(node: &crate::Node, target: &MailboxRef, tag: &str, payload: &[u8]) -> bool {
    node.deliver_remote(target, tag, payload).is_ok()
}
