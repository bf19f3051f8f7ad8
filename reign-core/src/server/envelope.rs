//! What a server's mailbox carries: a request of the server's own type, or a monitor's
//! `Down` (local only).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Down, Message, NameConflict};

/// A server's mailbox item. On the wire it is exactly the request (same bytes, same type
/// tag), so any sender of `M`, a plain [`Address<M>`](crate::Address) included, reaches a
/// server that takes `M`; a `Down` is made only by the node that delivers it.
pub(crate) enum Envelope<M> {
    Msg(M),
    Down(Down),
    NameConflict(NameConflict),
}

impl<M> From<Down> for Envelope<M> {
    fn from(d: Down) -> Self {
        Envelope::Down(d)
    }
}

impl<M> From<NameConflict> for Envelope<M> {
    fn from(c: NameConflict) -> Self {
        Envelope::NameConflict(c)
    }
}

impl<M: Serialize> Serialize for Envelope<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Envelope::Msg(m) => m.serialize(s),
            Envelope::Down(_) | Envelope::NameConflict(_) => Err(serde::ser::Error::custom(
                "a node's notice does not travel between nodes",
            )),
        }
    }
}

impl<'de, M: Deserialize<'de>> Deserialize<'de> for Envelope<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        M::deserialize(d).map(Envelope::Msg)
    }
}

impl<M: Message> Message for Envelope<M> {
    const TAG: &'static str = M::TAG;
}
