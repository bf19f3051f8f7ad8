//! Identity-checked mutual TLS for reign.
//!
//! A connection between two nodes is accepted only if each side's certificate chains to the
//! cluster CA and its Common Name equals the [`NodeId`] that side claims: checked in both
//! directions.
#![forbid(unsafe_code)]

mod identity;

pub use identity::{Incarnation, MAX_NODE_ID_LEN, NodeId, NodeIdError, validate_node_id};
