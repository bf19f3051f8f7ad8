//! A serde `Deserializer` for exactly the format bincode 2 writes with `config::standard()`
//! (see docs/PROTOCOL.md, "Message bytes"), whose every cost is bounded by the bytes present:
//!
//! - a string or byte string is checked against the bytes left before anything is copied;
//! - the lengths of all sequences and maps of one payload add up to at most its length in
//!   bytes plus [`MAX_EMPTY_ELEMENTS`] (an element that takes no bytes, such as `()`, would
//!   otherwise let one byte of length cost 2^64 iterations), and a sequence's size hint never
//!   exceeds the bytes left (nor 4096);
//! - values nest at most [`MAX_PAYLOAD_DEPTH`] deep, so a recursive type cannot exhaust the stack.
//!
//! bincode's own decoder trusts a declared length: it allocates it first, and aborts the
//! process when the allocation fails.

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

use super::PayloadError;
use super::{MAX_EMPTY_ELEMENTS, MAX_PAYLOAD_DEPTH};

type Result<T> = std::result::Result<T, PayloadError>;

/// The varint markers: a first byte below [`U16_MARK`] is the value itself.
const U16_MARK: u8 = 251;
const U32_MARK: u8 = 252;
const U64_MARK: u8 = 253;
const U128_MARK: u8 = 254;

/// The most elements a sequence's size hint announces.
const MAX_SIZE_HINT: usize = 4096;

/// Reads one value from the front of a payload.
pub(super) struct Decoder<'de> {
    /// The bytes not read yet.
    input: &'de [u8],
    /// How many more sequence and map elements the payload may declare.
    elements_left: usize,
    /// How many more levels values may nest.
    depth_left: usize,
}

impl<'de> Decoder<'de> {
    pub(super) fn new(input: &'de [u8]) -> Self {
        Self {
            input,
            elements_left: input.len().saturating_add(MAX_EMPTY_ELEMENTS),
            depth_left: MAX_PAYLOAD_DEPTH,
        }
    }

    /// The bytes left after the value.
    pub(super) fn remaining(&self) -> usize {
        self.input.len()
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        match self.input.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.input = rest;
                Ok(*head)
            }
            None => Err(PayloadError::Truncated),
        }
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        match self.input.split_first() {
            Some((&b, rest)) => {
                self.input = rest;
                Ok(b)
            }
            None => Err(PayloadError::Truncated),
        }
    }

    /// An unsigned varint of at most `bits` (16, 32 or 64) bits.
    #[inline]
    fn varint(&mut self, bits: u8) -> Result<u64> {
        let marker = self.byte()?;
        if marker < U16_MARK {
            return Ok(u64::from(marker));
        }
        self.varint_wide(marker, bits)
    }

    #[cold]
    fn varint_wide(&mut self, marker: u8, bits: u8) -> Result<u64> {
        let too_wide = || PayloadError::IntegerTooWide { marker, bits };
        match marker {
            U16_MARK => Ok(u64::from(u16::from_le_bytes(self.take()?))),
            U32_MARK if bits >= 32 => Ok(u64::from(u32::from_le_bytes(self.take()?))),
            U64_MARK if bits >= 64 => Ok(u64::from_le_bytes(self.take()?)),
            _ => Err(too_wide()),
        }
    }

    fn varint_u128(&mut self) -> Result<u128> {
        let marker = self.byte()?;
        match marker {
            U128_MARK => Ok(u128::from_le_bytes(self.take()?)),
            m if m < U16_MARK => Ok(u128::from(m)),
            m @ U16_MARK..=U64_MARK => self.varint_wide(m, 64).map(u128::from),
            m => Err(PayloadError::IntegerTooWide {
                marker: m,
                bits: 128,
            }),
        }
    }

    /// A length (of a string, bytes, sequence or map): a varint `u64` that fits a `usize`.
    #[inline]
    fn len(&mut self) -> Result<usize> {
        let n = self.varint(64)?;
        usize::try_from(n).map_err(|_| PayloadError::LengthOverflow(n))
    }

    /// `len` bytes, checked against the input before anything else.
    #[inline]
    fn bytes(&mut self) -> Result<&'de [u8]> {
        let len = self.len()?;
        match self.input.split_at_checked(len) {
            Some((head, rest)) => {
                self.input = rest;
                Ok(head)
            }
            None => Err(PayloadError::LengthExceedsInput {
                declared: len as u64,
                remaining: self.input.len(),
            }),
        }
    }

    fn str(&mut self) -> Result<&'de str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| PayloadError::InvalidUtf8)
    }

    /// Charges `n` declared elements to the payload's allowance.
    #[inline]
    fn claim_elements(&mut self, n: usize) -> Result<()> {
        match self.elements_left.checked_sub(n) {
            Some(left) => {
                self.elements_left = left;
                Ok(())
            }
            None => Err(PayloadError::TooManyElements {
                limit: self.elements_left,
            }),
        }
    }

    /// Runs `f` one level deeper.
    #[inline]
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth_left == 0 {
            return Err(PayloadError::TooDeep(MAX_PAYLOAD_DEPTH));
        }
        self.depth_left -= 1;
        let r = f(self);
        self.depth_left += 1;
        r
    }

    fn char(&mut self) -> Result<char> {
        let width = match self.input.first() {
            None => return Err(PayloadError::Truncated),
            Some(0x00..=0x7f) => 1,
            Some(0xc2..=0xdf) => 2,
            Some(0xe0..=0xef) => 3,
            Some(0xf0..=0xf4) => 4,
            Some(_) => return Err(PayloadError::InvalidChar),
        };
        let Some((head, rest)) = self.input.split_at_checked(width) else {
            return Err(PayloadError::Truncated);
        };
        let c = std::str::from_utf8(head)
            .ok()
            .and_then(|s| s.chars().next())
            .ok_or(PayloadError::InvalidChar)?;
        self.input = rest;
        Ok(c)
    }
}

/// Zigzag: 0, 1, 2, 3, ... are 0, -1, 1, -2, ...
macro_rules! unzigzag {
    ($n:expr, $u:ty, $i:ty) => {{
        let n: $u = $n;
        if n % 2 == 0 {
            (n / 2) as $i
        } else {
            !(n / 2) as $i
        }
    }};
}

macro_rules! unsigned {
    ($method:ident, $visit:ident, $ty:ty, $bits:expr) => {
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            // The width check makes the narrowing exact.
            visitor.$visit(self.varint($bits)? as $ty)
        }
    };
}

macro_rules! signed {
    ($method:ident, $visit:ident, $u:ty, $i:ty, $bits:expr) => {
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let n = self.varint($bits)? as $u;
            visitor.$visit(unzigzag!(n, $u, $i))
        }
    };
}

impl<'de> de::Deserializer<'de> for &mut Decoder<'de> {
    type Error = PayloadError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(PayloadError::Unsupported("a value of unknown type"))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.byte()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            b => Err(PayloadError::InvalidBool(b)),
        }
    }

    #[inline]
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u8(self.byte()?)
    }

    #[inline]
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i8(self.byte()? as i8)
    }

    unsigned!(deserialize_u16, visit_u16, u16, 16);
    unsigned!(deserialize_u32, visit_u32, u32, 32);
    unsigned!(deserialize_u64, visit_u64, u64, 64);
    signed!(deserialize_i16, visit_i16, u16, i16, 16);
    signed!(deserialize_i32, visit_i32, u32, i32, 32);
    signed!(deserialize_i64, visit_i64, u64, i64, 64);

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u128(self.varint_u128()?)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let n = self.varint_u128()?;
        visitor.visit_i128(unzigzag!(n, u128, i128))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f32(f32::from_le_bytes(self.take()?))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f64(f64::from_le_bytes(self.take()?))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_char(self.char()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // As bincode: an owned string (its length is checked, so it is at most the input).
        visitor.visit_string(self.str()?.to_owned())
    }

    #[inline]
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_bytes(self.bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_byte_buf(self.bytes()?.to_vec())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.byte()? {
            0 => visitor.visit_none(),
            1 => self.nested(|d| visitor.visit_some(d)),
            b => Err(PayloadError::InvalidOption(b)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.nested(|d| visitor.visit_newtype_struct(d))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = self.len()?;
        self.claim_elements(len)?;
        self.nested(|d| visitor.visit_seq(Fields { de: d, left: len }))
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        // `len` comes from the type, not the input.
        self.nested(|d| visitor.visit_seq(Fields { de: d, left: len }))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let len = self.len()?;
        self.claim_elements(len)?;
        self.nested(|d| visitor.visit_map(Fields { de: d, left: len }))
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.nested(|d| visitor.visit_enum(d))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(PayloadError::Unsupported("an identifier"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(PayloadError::Unsupported("an ignored value"))
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of a sequence, tuple or struct, or the entries of a map: `left` more.
struct Fields<'a, 'de> {
    de: &'a mut Decoder<'de>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Fields<'_, 'de> {
    type Error = PayloadError;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        size_hint(self.left, self.de.input.len())
    }
}

impl<'de> MapAccess<'de> for Fields<'_, 'de> {
    type Error = PayloadError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        size_hint(self.left, self.de.input.len())
    }
}

/// What a visitor may preallocate for: the elements declared, but never more than the bytes
/// left nor [`MAX_SIZE_HINT`] (a collection past that grows as it fills), so that a lying
/// length costs little even where sequences nest.
#[inline]
fn size_hint(declared: usize, bytes_left: usize) -> Option<usize> {
    Some(declared.min(bytes_left).min(MAX_SIZE_HINT))
}

impl<'de> EnumAccess<'de> for &mut Decoder<'de> {
    type Error = PayloadError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let index = self.varint(32)? as u32;
        let value = seed.deserialize(index.into_deserializer())?;
        Ok((value, self))
    }
}

impl<'de> VariantAccess<'de> for &mut Decoder<'de> {
    type Error = PayloadError;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, fields.len(), visitor)
    }
}
