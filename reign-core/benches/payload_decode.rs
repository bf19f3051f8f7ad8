//! The cost of decoding one payload, reign's decoder against bincode's, for the cluster
//! bench's message types and a string-bearing struct. Meant for an instruction counter:
//!
//! ```text
//! cargo bench -p reign-core --bench payload_decode --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/payload_decode-* <decoder> <type> <n>
//! ```
//!
//! and compare the totals at n = 1000000 and n = 0: the difference / 10^6 is instructions
//! per decode. Without arguments it runs every pair and prints wall-clock ns per decode.
#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The cluster bench's `Blob`: 63 bytes as serde bytes, aligned to 8.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(8))]
struct Blob([u8; 63]);

/// The cluster bench's `ByteBlob`: the same bytes, alignment 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ByteBlob([u8; 63]);

macro_rules! bytes_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("63 bytes")
                    }
                    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        v.try_into()
                            .map($name)
                            .map_err(|_| E::invalid_length(v.len(), &self))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
    };
}
bytes_serde!(Blob);
bytes_serde!(ByteBlob);

/// A typical small message with a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    quantity: u32,
    note: Option<String>,
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).unwrap()
}

fn reign<T: DeserializeOwned>(b: &[u8]) -> T {
    reign_core::__fuzz::decode_payload(b).unwrap()
}

fn bincode<T: DeserializeOwned>(b: &[u8]) -> T {
    let (v, used) = bincode::serde::decode_from_slice(b, bincode::config::standard()).unwrap();
    assert_eq!(used, b.len());
    v
}

/// bincode as reign's receive path called it before (the old `codec::decode`).
fn bincode_old<T: DeserializeOwned>(b: &[u8]) -> T {
    let old = |bytes: &[u8]| -> Result<T, String> {
        let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map_err(|e| e.to_string())?;
        if used != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - used));
        }
        Ok(value)
    };
    old(b).unwrap()
}

fn run<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    value: &T,
    decode: fn(&[u8]) -> T,
    n: u64,
) -> f64 {
    let bytes = encode(value);
    assert_eq!(&decode(&bytes), value);
    let start = Instant::now();
    for _ in 0..n {
        black_box(decode(black_box(&bytes)));
    }
    start.elapsed().as_nanos() as f64 / n.max(1) as f64
}

fn one(decoder: &str, ty: &str, n: u64) -> f64 {
    let order = Order {
        id: 123_456_789,
        customer: "customer-0042@example.com".into(),
        quantity: 3,
        note: Some("leave at the door".into()),
    };
    match (decoder, ty) {
        ("reign", "blob") => run(&Blob([7; 63]), reign, n),
        ("bincode", "blob") => run(&Blob([7; 63]), bincode, n),
        ("bincode-old", "blob") => run(&Blob([7; 63]), bincode_old, n),
        ("reign", "byteblob") => run(&ByteBlob([7; 63]), reign, n),
        ("bincode", "byteblob") => run(&ByteBlob([7; 63]), bincode, n),
        ("bincode-old", "byteblob") => run(&ByteBlob([7; 63]), bincode_old, n),
        ("reign", "order") => run(&order, reign, n),
        ("bincode", "order") => run(&order, bincode, n),
        ("bincode-old", "order") => run(&order, bincode_old, n),
        _ => panic!("usage: payload_decode [reign|bincode|bincode-old blob|byteblob|order n]"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [decoder, ty, n] = &args[..] {
        one(decoder, ty, n.parse().unwrap());
        return;
    }
    for ty in ["blob", "byteblob", "order"] {
        for decoder in ["bincode", "bincode-old", "reign"] {
            println!(
                "{ty:9} {decoder:8} {:7.1} ns/decode",
                one(decoder, ty, 5_000_000)
            );
        }
    }
}
