//! reign's mailboxes, addresses, monitors, registry and node.
#![forbid(unsafe_code)]

pub use reign_tls::{Incarnation, NodeId, NodeIdError};
