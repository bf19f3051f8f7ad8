//! Why a payload did not decode.

use std::fmt;

/// The longest text a payload error keeps from a type's own refusal: it is logged, and a
/// peer may choose what goes in it.
const MAX_CUSTOM_LEN: usize = 200;

/// Why a message's bytes from another node did not decode as the receiving mailbox's type
/// (the node logs it, and counts it in
/// [`ClusterStats::refused_other`](crate::ClusterStats::refused_other)).
///
/// Every variant is a refusal of that one payload: the link that carried it stays up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload ends inside a value.
    #[error("payload ends inside a value")]
    Truncated,
    /// Bytes are left after the value.
    #[error("{0} bytes follow the value")]
    TrailingBytes(usize),
    /// A string or byte string declares more bytes than the payload has left.
    #[error("a length of {declared} exceeds the {remaining} bytes left")]
    LengthExceedsInput {
        /// The length read.
        declared: u64,
        /// The bytes left in the payload after it.
        remaining: usize,
    },
    /// The sequences and maps of the payload declare more elements in total than it may
    /// hold (its length in bytes plus [`MAX_EMPTY_ELEMENTS`](crate::MAX_EMPTY_ELEMENTS)).
    #[error("more elements than the payload may hold ({limit})")]
    TooManyElements {
        /// The payload's element allowance.
        limit: usize,
    },
    /// Values nest deeper than [`MAX_PAYLOAD_DEPTH`](crate::MAX_PAYLOAD_DEPTH).
    #[error("values nest deeper than {0}")]
    TooDeep(usize),
    /// An integer's varint marker announces a wider integer than the type holds (or is the
    /// reserved 255).
    #[error("varint marker {marker:#04x} does not fit a {bits}-bit integer")]
    IntegerTooWide {
        /// The marker byte.
        marker: u8,
        /// The width of the integer expected.
        bits: u8,
    },
    /// A length does not fit this machine's `usize`.
    #[error("length {0} does not fit in memory")]
    LengthOverflow(u64),
    /// A `bool` that is neither 0 nor 1.
    #[error("invalid bool {0}")]
    InvalidBool(u8),
    /// An `Option` tag that is neither 0 nor 1.
    #[error("invalid option tag {0}")]
    InvalidOption(u8),
    /// A `char` that is not one UTF-8 encoded scalar value.
    #[error("invalid char encoding")]
    InvalidChar,
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    InvalidUtf8,
    /// The type asked for something the format cannot say (`deserialize_any`, identifiers,
    /// ignored values: self-describing formats only).
    #[error("the payload format cannot decode {0}")]
    Unsupported(&'static str),
    /// The type's own `Deserialize` refused the value (its message, cut to 200 bytes).
    #[error("{0}")]
    Custom(Box<str>),
    /// The type's own `Deserialize` panicked (the panic was caught and the payload
    /// dropped).
    #[error("the type's Deserialize panicked")]
    Panicked,
}

impl serde::de::Error for PayloadError {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let mut text = Capped(String::new(), false);
        // A refused write only means the text was cut.
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{msg}"));
        PayloadError::Custom(text.0.into_boxed_str())
    }
}

/// A text that stops growing at [`MAX_CUSTOM_LEN`] bytes (on a char boundary, then an
/// ellipsis), so that a message quoting a peer's long string costs no more than that.
struct Capped(String, bool);

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Once cut, refuse again (a Display may ignore the refusal and keep writing).
        if self.1 {
            return Err(fmt::Error);
        }
        let room = MAX_CUSTOM_LEN - self.0.len();
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&s[..end]);
        self.0.push('…');
        self.1 = true;
        Err(fmt::Error)
    }
}
