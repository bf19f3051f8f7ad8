//! The payload codec, in one place so it can be swapped after a measured comparison.
//!
//! Encoding goes through bincode 2's serde API with its standard configuration (the send
//! path is measured and tuned). Decoding reads the same format with reign's own
//! deserializer ([`de`]), because bincode's trusts a declared length: a peer's 10 bytes could
//! make it allocate 2^45 bytes and abort the process. Ours costs at most the bytes present:
//! see [`decode`].

mod de;
mod error;

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::PayloadError;

/// How deep values may nest in one payload (each `Option`, newtype, sequence, tuple,
/// struct, map and enum is a level), so that a recursive type cannot exhaust the stack.
pub const MAX_PAYLOAD_DEPTH: usize = 128;

/// How many sequence and map elements one payload may declare beyond its length in bytes.
/// An element that takes bytes pays for itself; this allowance is for elements that take
/// none (such as `()`), so that one byte of length cannot cost 2^64 iterations.
pub const MAX_EMPTY_ELEMENTS: usize = 4096;

/// Appends an encoded payload to `buf`; on failure `buf` is left as it was.
pub(crate) fn encode_into<T: Serialize>(
    value: &T,
    buf: &mut bytes::BytesMut,
) -> Result<(), bincode::error::EncodeError> {
    let start = buf.len();
    let r = bincode::serde::encode_into_writer(value, Appender(buf), bincode::config::standard());
    if r.is_err() {
        buf.truncate(start);
    }
    r
}

/// bincode's writer for a growable buffer: appends, never fails (no `std::io::Write` detour).
struct Appender<'a>(&'a mut bytes::BytesMut);

impl bincode::enc::write::Writer for Appender<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Decodes a payload; the whole input must be one value.
///
/// For an input of `n` bytes this allocates at most what the decoded value holds (a string
/// or byte string is checked against the bytes left before it is copied; a sequence is
/// offered a size hint of at most the bytes left and at most 4096 elements, and serde's own
/// collections preallocate at most 1 MiB), runs at most `n + MAX_EMPTY_ELEMENTS` element
/// iterations, and nests at most [`MAX_PAYLOAD_DEPTH`] deep. A panic in the type's own `Deserialize` is caught and returned as
/// [`PayloadError::Panicked`] (the default panic hook still prints it).
#[inline]
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    // The closure owns all it touches: after a panic nothing of it is used again.
    catch_unwind(AssertUnwindSafe(|| decode_unguarded(bytes)))
        .unwrap_or(Err(PayloadError::Panicked))
}

thread_local! {
    /// Set while this thread decodes bytes from another node (see [`from_peer`]).
    static FROM_PEER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the value being deserialized on this thread comes from another node's bytes. The
/// messages a node makes itself ([`Down`](crate::Down), [`NameConflict`](crate::NameConflict))
/// refuse to deserialize then: a peer must not be able to forge them inside a message.
pub(crate) fn from_peer() -> bool {
    FROM_PEER.with(std::cell::Cell::get)
}

/// For the `Deserialize` of a message only a node makes itself (`what`): an error when the
/// bytes come from another node (see [`from_peer`]).
pub(crate) fn refuse_from_peer<E: serde::de::Error>(what: &str) -> Result<(), E> {
    if from_peer() {
        return Err(E::custom(format_args!(
            "a {what} is made by the node that delivers it; one from another node is refused"
        )));
    }
    Ok(())
}

/// Clears [`FROM_PEER`] when the decode ends, however it ends.
struct PeerBytes(bool);

impl Drop for PeerBytes {
    fn drop(&mut self) {
        FROM_PEER.with(|f| f.set(self.0));
    }
}

/// [`decode`] without the panic guard.
#[inline]
pub(crate) fn decode_unguarded<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    let _peer = PeerBytes(FROM_PEER.with(|f| f.replace(true)));
    let mut d = de::Decoder::new(bytes);
    let r = T::deserialize(&mut d);
    // Returning `r` itself (not a rebuilt result) lets the value be decoded in place.
    if r.is_ok() && d.remaining() != 0 {
        return Err(trailing(d.remaining()));
    }
    r
}

/// Decodes each of `payloads` (bytes from another node) as [`decode`] would: `put` takes
/// each value, `refused` each payload's error, in order. One panic guard per run of
/// payloads rather than per payload: after a panic in the type's `Deserialize` (refused as
/// [`PayloadError::Panicked`]), decoding resumes with the next payload.
#[inline]
pub(crate) fn decode_each<T: DeserializeOwned>(
    payloads: &[&[u8]],
    mut put: impl FnMut(T),
    mut refused: impl FnMut(PayloadError),
) {
    let _peer = PeerBytes(FROM_PEER.with(|f| f.replace(true)));
    let mut next = 0;
    while next < payloads.len() {
        // After a panic, `next` is past the payload that panicked; `put` and `refused` were
        // not running (only the type's own code runs between them), so both are whole.
        let guarded = catch_unwind(AssertUnwindSafe(|| {
            while let Some(bytes) = payloads.get(next) {
                next += 1;
                let mut d = de::Decoder::new(bytes);
                match T::deserialize(&mut d) {
                    Ok(v) if d.remaining() == 0 => put(v),
                    Ok(_) => refused(trailing(d.remaining())),
                    Err(e) => refused(e),
                }
            }
        }));
        if guarded.is_err() {
            refused(PayloadError::Panicked);
        }
    }
}

#[cold]
fn trailing(n: usize) -> PayloadError {
    PayloadError::TrailingBytes(n)
}

#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod tests;
