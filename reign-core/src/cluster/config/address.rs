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

/// Splits `host:port` into the host (brackets removed for IPv6) and the port, without
/// resolving anything.
pub(crate) fn split_host_port(addr: &str) -> Result<(&str, u16), AddressProblem> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(AddressProblem::UnclosedBracket);
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(AddressProblem::NotIpv6 {
                host: host.to_owned(),
            });
        }
        let Some(port) = after.strip_prefix(':') else {
            return Err(AddressProblem::NoPort { bracketed: true });
        };
        (host, port)
    } else {
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(AddressProblem::NoPort { bracketed: false });
        };
        if let Some(ch) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
        {
            return Err(AddressProblem::HostChar { ch });
        }
        if host.contains(':') {
            return Err(AddressProblem::Ipv6WithoutBrackets);
        }
        if host.is_empty() {
            return Err(AddressProblem::NoHost);
        }
        if host.len() > MAX_HOST_LEN {
            return Err(AddressProblem::HostTooLong {
                len: host.len(),
                max: MAX_HOST_LEN,
            });
        }
        (host, port)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressProblem::PortNotNumber {
            port: port.to_owned(),
        });
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, p)),
        _ => Err(AddressProblem::PortOutOfRange {
            port: port.to_owned(),
        }),
    }
}
