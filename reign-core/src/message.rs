//! The [`Message`] trait: what a mailbox that can be reached from other nodes carries.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A message type that can travel between nodes.
///
/// Besides being serde-serializable, every message type carries a stable type tag, written
/// next to each payload on the wire: a node decodes a payload only if its tag equals the tag of
/// the receiving mailbox's type, so two binaries agree on a type by name, not by Rust's
/// type IDs (which differ between builds). Pick tags that will not collide, such as
/// `"myapp.Order"`, and never reuse a tag for a different shape.
///
/// Implement it with the [`message!`](crate::message!) macro:
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Ping(u32);
/// reign_core::message!(Ping = "example.Ping");
///
/// assert_eq!(<Ping as reign_core::Message>::TAG, "example.Ping");
/// ```
///
/// reign implements it for common standard types: the integers (tags `"u8"` … `"u128"`,
/// `"i8"` … `"i128"`), `"f32"`, `"f64"`, `"bool"`, `"char"`, `"string"` for `String`,
/// `"bytes"` for `Vec<u8>`, `"unit"` for `()`, and `"reign.Down"` for [`Down`](crate::Down).
///
/// A mailbox whose type is not a `Message` can still be created with
/// [`Node::local_mailbox`](crate::Node::local_mailbox); it only takes messages from its own
/// process.
pub trait Message: Serialize + DeserializeOwned + Send + 'static {
    /// The stable name of this type on the wire.
    const TAG: &'static str;
}

/// Implements [`Message`] for one or more types, each with its tag:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(Serialize, Deserialize)]
/// struct Order { id: u64 }
/// #[derive(Serialize, Deserialize)]
/// enum Event { Created, Cancelled }
/// reign_core::message!(Order = "shop.Order", Event = "shop.Event");
/// ```
#[macro_export]
macro_rules! message {
    ($($ty:ty = $tag:expr),+ $(,)?) => {
        $(
            impl $crate::Message for $ty {
                const TAG: &'static str = $tag;
            }
        )+
    };
}

message!(
    u8 = "u8",
    u16 = "u16",
    u32 = "u32",
    u64 = "u64",
    u128 = "u128",
    i8 = "i8",
    i16 = "i16",
    i32 = "i32",
    i64 = "i64",
    i128 = "i128",
    f32 = "f32",
    f64 = "f64",
    bool = "bool",
    char = "char",
    String = "string",
    Vec<u8> = "bytes",
    () = "unit",
);
