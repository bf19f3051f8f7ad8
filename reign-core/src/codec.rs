//! The payload codec, in one place so it can be swapped after a measured comparison:
//! serde through bincode 2's serde API with its standard configuration.

use serde::Serialize;
use serde::de::DeserializeOwned;

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
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - used));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_refuses_trailing_bytes() {
        let mut bytes = bytes::BytesMut::new();
        super::encode_into(&(7u64, String::from("x")), &mut bytes).unwrap();
        assert_eq!(
            super::decode::<(u64, String)>(&bytes).unwrap(),
            (7, "x".into())
        );
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(super::decode::<(u64, String)>(&longer).is_err());
        assert!(super::decode::<(u64, String)>(&bytes[..1]).is_err());
    }
}
