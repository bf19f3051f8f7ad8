//! The streamed message types: 63 opaque bytes in two memory layouts.

use serde::{Deserialize, Serialize};

use super::{BYTE_TAG, PAYLOAD, TAG};

/// A message of 63 opaque bytes, serialized as serde bytes (as `serde_bytes` does), so its
/// encoded payload is exactly 64 bytes (checked at start-up). Two layouts of it are streamed:
/// [`Blob`], aligned to 8 bytes like most message types (any struct holding a `u64`, a
/// `String` or a pointer), and [`ByteBlob`], a bare byte array (alignment 1). Moving a 63-byte
/// value of alignment 1 takes overlapping 16-byte copies that the CPU cannot forward to the
/// loads that follow, so each move of such a message costs several times more; both are
/// reported.
pub(crate) trait Blob63:
    reign::Message + Copy + PartialEq + std::fmt::Debug + Serialize + for<'de> Deserialize<'de>
{
    const VALUE: Self;
}

macro_rules! blob {
    ($(#[$attr:meta])* $name:ident = $tag:expr) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct $name(pub(crate) [u8; PAYLOAD - 1]);
        reign::message!($name = $tag);

        impl Blob63 for $name {
            const VALUE: Self = $name([7; PAYLOAD - 1]);
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visit;
                impl serde::de::Visitor<'_> for Visit {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "{} bytes", PAYLOAD - 1)
                    }
                    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        v.try_into()
                            .map($name)
                            .map_err(|_| E::invalid_length(v.len(), &self))
                    }
                }
                d.deserialize_bytes(Visit)
            }
        }
    };
}

blob!(
    /// 63 bytes aligned to 8 (64 bytes in memory).
    #[repr(align(8))]
    Blob = TAG
);
blob!(
    /// 63 bytes, alignment 1.
    ByteBlob = BYTE_TAG
);

pub(crate) const BLOB: Blob = Blob::VALUE;
