//! `host:port` addresses as reign takes them, from a configuration or a peer: split and
//! checked without resolving anything, with a typed problem.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use reign_tls::ratelimit::Escaped;

/// The longest host name (RFC 1035: 253 bytes in text form).
pub(crate) const MAX_HOST_LEN: usize = 253;

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

/// `addr` if it is `host:port`, with an unspecified host (`0.0.0.0`, `[::]`: the sender
/// listens on every interface) replaced by `from_ip`, the address its link comes from.
pub(crate) fn dialable(addr: &str, from_ip: Option<IpAddr>) -> Option<String> {
    let (host, port) = split_host_port(addr).ok()?;
    if !unspecified(host) {
        return Some(addr.to_owned());
    }
    Some(SocketAddr::new(from_ip?, port).to_string())
}

/// Whether an address relayed about another node names someone to dial: `host:port`, the
/// host not unspecified.
pub(crate) fn hint_dialable(addr: &str) -> bool {
    split_host_port(addr).is_ok_and(|(host, _)| !unspecified(host))
}

fn unspecified(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified())
}

/// Whether `a` and `b` name the same place: IP addresses and ports as parsed (so no two
/// spellings of one IP differ, while `127.0.0.1` and `[::ffff:127.0.0.1]` do), host names
/// without regard to case or a final dot (host names that resolve alike still differ).
/// Allocates nothing.
pub(crate) fn same_place(a: &str, b: &str) -> bool {
    if let (Ok(x), Ok(y)) = (a.parse::<SocketAddr>(), b.parse::<SocketAddr>()) {
        return x == y;
    }
    match (split_host_port(a), split_host_port(b)) {
        (Ok((ha, pa)), Ok((hb, pb))) => {
            pa == pb
                && ha
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(hb.trim_end_matches('.'))
        }
        _ => a == b,
    }
}

/// Why a `host:port` address (`advertise`, a member's `addr`) was refused: the `problem` of
/// [`InvalidValue::Address`](crate::InvalidValue::Address). Its `Display` continues a sentence whose subject is the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressProblem {
    /// It starts with `[` but has no `]`.
    #[error("has '[' but no closing ']'")]
    UnclosedBracket,
    /// What is in the brackets is not an IPv6 address.
    #[error("has {:?} in brackets, which is not an IPv6 address", Escaped(host))]
    NotIpv6 {
        /// The text in the brackets.
        host: String,
    },
    /// It has no `:port`.
    #[error("has no port (expected {})", if *bracketed { "[ipv6]:port, e.g. \"[::1]:7001\"" } else { "host:port" })]
    NoPort {
        /// Whether the host is in brackets (`[::1]`).
        bracketed: bool,
    },
    /// The host has a character that is in no host name or IP address.
    #[error("has the character {} in its host; a host is a name or an IP address", ShowChar(*ch))]
    HostChar {
        /// The first such character.
        ch: char,
    },
    /// The host has a `:`, as an IPv6 address does, but no brackets.
    #[error("has a ':' in its host: an IPv6 address goes in brackets, e.g. \"[::1]:7001\"")]
    Ipv6WithoutBrackets,
    /// There is nothing before the `:port`.
    #[error("has no host (expected host:port)")]
    NoHost,
    /// The host is longer than a host name may be.
    #[error("has a host {len} bytes long; the limit is {max}")]
    HostTooLong {
        /// The host's length, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// The port is not a decimal number.
    #[error(
        "has the port {:?}, which is not a number from 1 to 65535",
        Escaped(port)
    )]
    PortNotNumber {
        /// The port as given.
        port: String,
    },
    /// The port is a number, but 0 or above 65535.
    #[error("has the port {port}, which is not from 1 to 65535")]
    PortOutOfRange {
        /// The port as given (decimal digits only).
        port: String,
    },
}

/// A character from the configuration, quoted and escaped: `' '`, `'/'`, `'\n'`.
struct ShowChar(char);

impl fmt::Display for ShowChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            '\'' => f.write_str("'\\''"),
            c => write!(f, "'{}'", Escaped(c.encode_utf8(&mut [0; 4]))),
        }
    }
}
