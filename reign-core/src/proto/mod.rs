//! The control plane as state machines, with no tokio and no sockets (the shape of
//! quinn-proto): [`link::LinkState`] holds everything one link's peer can change, is driven by
//! calls that take `now`, and hands back what to do. `cluster::link` drives it over TLS;
//! `sim` (tests only) drives several of them over in-memory pipes on a virtual clock.

pub(crate) mod address;
pub(crate) mod backoff;
pub(crate) mod budget;
pub(crate) mod cert_update;
pub(crate) mod link;
#[cfg(test)]
mod link_tests;
pub(crate) mod reason;
pub(crate) mod registry;
#[cfg(test)]
mod registry_sim;
#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;
pub(crate) mod wire;
