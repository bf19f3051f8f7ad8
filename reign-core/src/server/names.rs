//! Servers under names: the node's local names and the cluster-wide ones, typed.

use super::{Envelope, Server, ServerRef};
use crate::{GlobalNames, LookupError, Message, Names, RegistryError};

impl Names<'_> {
    /// Registers `name` on this node for `server` (see [`Names::register`]).
    pub fn register_server<S: Server>(
        &self,
        name: impl Into<String>,
        server: &ServerRef<S>,
    ) -> Result<(), RegistryError> {
        self.register(name, server.envelope_address())
    }

    /// The server registered as `name` on this node, if it is an `S`.
    pub fn whereis_server<S: Server>(&self, name: &str) -> Result<ServerRef<S>, LookupError> {
        self.whereis::<Envelope<S::Msg>>(name).map(ServerRef::new)
    }
}

impl GlobalNames<'_> {
    /// Registers `name` cluster-wide for `server`, a server of this node (see
    /// [`GlobalNames::register`]). If it loses the name to another claim after a partition,
    /// it gets [`Info::NameConflict`](crate::Info::NameConflict).
    pub fn register_server<S: Server>(
        &self,
        name: &str,
        server: &ServerRef<S>,
    ) -> Result<(), RegistryError>
    where
        S::Msg: Message,
    {
        self.register(name, server.envelope_address())
    }

    /// Waits until `name` resolves cluster-wide to a server that takes `S`'s requests, up to
    /// `timeout` (see [`GlobalNames::wait_for`]).
    pub async fn wait_for_server<S: Server>(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<ServerRef<S>, LookupError>
    where
        S::Msg: Message,
    {
        self.wait_for::<Envelope<S::Msg>>(name, timeout)
            .await
            .map(ServerRef::new)
    }

    /// The server that holds cluster-wide name `name`, if it takes `S`'s requests (checked
    /// by type tag).
    pub fn whereis_server<S: Server>(&self, name: &str) -> Result<ServerRef<S>, LookupError>
    where
        S::Msg: Message,
    {
        self.whereis::<Envelope<S::Msg>>(name).map(ServerRef::new)
    }
}
