//! `host:port` addresses in a configuration: checked once, with a typed problem.

use super::*;

/// Checks a `host:port` address for the field `field`.
pub(super) fn check_address(field: impl Into<String>, addr: &str) -> Result<(), ConfigError> {
    match split_host_port(addr) {
        Ok(_) => Ok(()),
        Err(problem) => Err(ConfigError::invalid(
            field,
            InvalidValue::Address {
                addr: addr.to_owned(),
                problem,
            },
        )),
    }
}

pub(crate) use crate::proto::address::split_host_port;
