//! The configuration: TOML round trips, defaults, and every refusal with its message.

use super::address::split_host_port;
use super::*;
use reign_tls::NodeIdError;

const FULL: &str = r#"
node_id = "a"
cluster = "demo"
listen = "127.0.0.1:7001"
advertise = "a.example.org:7001"

[tls]
ca = "certs/ca.pem"
cert = "certs/a.pem"
key = "/abs/a.key"
crl = "certs/crl.pem"
pinned = ["AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89"]
watch = true

[[members]]
id = "b"
addr = "127.0.0.1:7002"

[[members]]
id = "c"
addr = "[::1]:7003"

[[members]]
id = "d"
addr = "node-d.internal:7004"

[tunables]
heartbeat_interval_ms = 250
peer_silence_limit_ms = 1000
reconnect_backoff_min_ms = 50
reconnect_backoff_max_ms = 2000
handshake_timeout_ms = 1500
max_frame_size = 65536
link_buffer_limit = 1048576
shutdown_timeout_ms = 750
max_monitors_per_link = 100
max_announced_per_link = 200
client_hello_timeout_ms = 300
max_pending_handshakes = 64
max_pending_handshakes_per_source = 8
event_capacity = 16
certificate_expiry_warning_hours = 240
certificate_check_interval_ms = 600000
forget_after_ms = 30000
own_runtime = false
"#;

const MINIMAL: &str = r#"
node_id = "a"
cluster = "demo"
listen = "127.0.0.1:7001"
[tls]
ca = "ca.pem"
cert = "a.pem"
key = "a.key"
"#;

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

fn base() -> NodeConfig {
    NodeConfig::new(
        id("a"),
        "demo",
        "127.0.0.1:7001".parse().unwrap(),
        TlsFiles {
            ca: "ca.pem".into(),
            cert: "a.pem".into(),
            key: "a.key".into(),
            crl: None,
            pinned: Vec::new(),
            watch: false,
        },
    )
    .with_member(id("b"), "127.0.0.1:7002")
}

/// Asserts that `result` is `Invalid` for `field` with a reason containing `needle`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, ConfigError>, field: &str, needle: &str) {
    match result {
        Err(ConfigError::Invalid { field: f, reason }) => {
            assert_eq!(f, field, "reason: {reason}");
            let text = reason.to_string();
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            let shown = ConfigError::Invalid { field: f, reason }.to_string();
            assert_eq!(shown, format!("{field}: {text}"));
        }
        other => panic!("expected Invalid {{ {field} }}, got {other:?}"),
    }
}

/// Applies `edit` to a valid configuration and checks validate's verdict.
#[track_caller]
fn refused(edit: impl FnOnce(&mut NodeConfig), field: &str, needle: &str) {
    let mut c = base();
    edit(&mut c);
    assert_invalid(c.validate(), field, needle);
}

/// Parses MINIMAL with the top-level `extra` lines put before it.
#[track_caller]
fn parse_with(extra: &str) -> Result<NodeConfig, ConfigError> {
    NodeConfig::from_toml_str(&format!("{extra}\n{MINIMAL}"), Path::new("/base"))
}

#[test]
fn full_toml_round_trip_resolves_relative_paths() {
    let c = NodeConfig::from_toml_str(FULL, Path::new("/etc/reign")).unwrap();
    let expected = NodeConfig {
        advertise: Some("a.example.org:7001".into()),
        tunables: Tunables {
            heartbeat_interval: Duration::from_millis(250),
            peer_silence_limit: Duration::from_millis(1000),
            reconnect_backoff_min: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(2000),
            handshake_timeout: Duration::from_millis(1500),
            max_frame_size: 65536,
            link_buffer_limit: 1048576,
            shutdown_timeout: Duration::from_millis(750),
            max_monitors_per_link: 100,
            max_announced_per_link: 200,
            client_hello_timeout: Duration::from_millis(300),
            max_pending_handshakes: 64,
            max_pending_handshakes_per_source: 8,
            event_capacity: 16,
            certificate_expiry_warning: Some(Duration::from_secs(240 * 3600)),
            certificate_check_interval: Duration::from_secs(600),
            forget_after: Duration::from_secs(30),
            own_runtime: false,
        },
        ..NodeConfig::new(
            id("a"),
            "demo",
            "127.0.0.1:7001".parse().unwrap(),
            TlsFiles {
                ca: "/etc/reign/certs/ca.pem".into(),
                cert: "/etc/reign/certs/a.pem".into(),
                key: "/abs/a.key".into(),
                crl: Some("/etc/reign/certs/crl.pem".into()),
                pinned: vec![
                    "AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89:AB:CD:ef:01:23:45:67:89".into(),
                ],
                watch: true,
            },
        )
        .with_member(id("b"), "127.0.0.1:7002")
        .with_member(id("c"), "[::1]:7003")
        .with_member(id("d"), "node-d.internal:7004")
    };
    assert_eq!(c, expected);
    expected.validate().unwrap();

    let tls = c.tls_config(Incarnation(42));
    assert_eq!(tls.node_id, id("a"));
    assert_eq!(tls.cluster, "demo");
    assert_eq!(tls.ca, PemSource::File("/etc/reign/certs/ca.pem".into()));
    assert_eq!(tls.cert, PemSource::File("/etc/reign/certs/a.pem".into()));
    assert_eq!(tls.key, PemSource::File("/abs/a.key".into()));
    assert_eq!(
        tls.crl,
        Some(PemSource::File("/etc/reign/certs/crl.pem".into()))
    );
    let members: Vec<_> = tls.members.unwrap().into_iter().collect();
    assert_eq!(members, [id("a"), id("b"), id("c"), id("d")]);
    let pins: Vec<_> = tls.pinned_spki_sha256.unwrap().into_iter().collect();
    assert_eq!(pins, ["abcdef0123456789".repeat(4)]);
    assert_eq!(tls.handshake_timeout, Duration::from_millis(1500));
    assert_eq!(tls.incarnation, Incarnation(42));
}

#[test]
fn defaults_apply_when_tunables_are_missing() {
    let c = NodeConfig::from_toml_str(MINIMAL, Path::new("conf")).unwrap();
    assert_eq!(c.tunables, Tunables::default());
    assert_eq!(c.advertise, None);
    assert!(c.members.is_empty());
    assert_eq!(c.tls.ca, Path::new("conf/ca.pem"));
    assert_eq!(c.tls.crl, None);
    assert!(c.tls.pinned.is_empty());
    let t = Tunables::default();
    assert_eq!(t.heartbeat_interval, Duration::from_secs(1));
    assert_eq!(t.peer_silence_limit, Duration::from_secs(4));
    assert_eq!(t.reconnect_backoff_min, Duration::from_millis(100));
    assert_eq!(t.reconnect_backoff_max, Duration::from_secs(5));
    assert_eq!(t.handshake_timeout, reign_tls::DEFAULT_HANDSHAKE_TIMEOUT);
    assert_eq!(t.handshake_timeout, Duration::from_secs(3));
    assert_eq!(t.max_frame_size, 8 * 1024 * 1024);
    assert_eq!(t.link_buffer_limit, 16 * 1024 * 1024);
    assert_eq!(t.shutdown_timeout, Duration::from_secs(5));
    // The issue's bound: a silent peer is declared down within 5 s by default.
    assert!(t.peer_silence_limit <= Duration::from_secs(5));

    // A partial table keeps the defaults of the fields it leaves out.
    let c = NodeConfig::from_toml_str(
        &format!("{MINIMAL}\n[tunables]\nheartbeat_interval_ms = 500\n"),
        Path::new(""),
    )
    .unwrap();
    assert_eq!(c.tunables.heartbeat_interval, Duration::from_millis(500));
    assert_eq!(c.tunables.peer_silence_limit, DEFAULT_PEER_SILENCE_LIMIT);

    // No members: membership is open (any node of the CA); no pins.
    let tls = c.tls_config(Incarnation(7));
    assert!(c.open_membership());
    assert_eq!(tls.members, None);
    assert_eq!(tls.pinned_spki_sha256, None);
    assert_eq!(tls.crl, None);
    assert_eq!(tls.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
}

#[test]
fn unknown_keys_are_refused() {
    for (text, key) in [
        (format!("heartbeat_ms = 5\n{MINIMAL}"), "heartbeat_ms"),
        (MINIMAL.replace("key = ", "keyfile = "), "keyfile"),
        (
            format!("{MINIMAL}\n[[members]]\nid = \"b\"\naddr = \"h:1\"\nport = 2\n"),
            "port",
        ),
        (
            format!("{MINIMAL}\n[tunables]\nheartbeat_interval = 1000\n"),
            "heartbeat_interval",
        ),
        (format!("{MINIMAL}\n[extra]\nx = 1\n"), "extra"),
    ] {
        match NodeConfig::from_toml_str(&text, Path::new("")) {
            Err(ConfigError::Syntax { origin, message }) => {
                assert_eq!(origin, "(string)");
                assert!(
                    message.contains("unknown field") && message.contains(key),
                    "{message}"
                );
                assert!(message.contains("line"), "{message}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[test]
fn syntax_and_type_errors_are_syntax() {
    for (text, needle) in [
        ("node_id = ".to_owned(), "line 1"),
        (MINIMAL.replace("cluster = \"demo\"\n", ""), "cluster"),
        (
            format!("{MINIMAL}\n[tunables]\nheartbeat_interval_ms = \"1s\"\n"),
            "heartbeat_interval_ms",
        ),
        (
            format!("{MINIMAL}\n[tunables]\nshutdown_timeout_ms = -1\n"),
            "shutdown_timeout_ms",
        ),
    ] {
        match NodeConfig::from_toml_str(&text, Path::new("")) {
            Err(e @ ConfigError::Syntax { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with("(string): "), "{shown}");
                assert!(shown.contains(needle), "{needle:?} not in {shown}");
            }
            other => panic!("{needle}: {other:?}"),
        }
    }
}

#[test]
fn each_rule_names_its_field() {
    // Parsed fields: node_id, listen, member ids.
    assert_invalid(
        NodeConfig::from_toml_str(&MINIMAL.replace("\"a\"", "\"a b\""), Path::new("")),
        "node_id",
        "has the character ' ' at position 1",
    );
    assert_invalid(
        NodeConfig::from_toml_str(&MINIMAL.replace("\"a\"", "\"\""), Path::new("")),
        "node_id",
        "empty",
    );
    for listen in ["localhost:7001", "127.0.0.1", "", "1.2.3.4:99999"] {
        assert_invalid(
            NodeConfig::from_toml_str(&MINIMAL.replace("127.0.0.1:7001", listen), Path::new("")),
            "listen",
            "is not a socket address",
        );
    }
    let member =
        |id: &str, addr: &str| format!("\n[[members]]\nid = \"{id}\"\naddr = \"{addr}\"\n");
    assert_invalid(
        NodeConfig::from_toml_str(
            &format!("{MINIMAL}{}{}", member("b", "h:1"), member("-c", "h:2")),
            Path::new(""),
        ),
        "members[1].id",
        "starts with '-'",
    );
    assert_invalid(
        NodeConfig::from_toml_str(
            &format!(
                "{MINIMAL}{}{}{}",
                member("b", "h:1"),
                member("c", "h:2"),
                member("d", "localhost")
            ),
            Path::new(""),
        ),
        "members[2].addr",
        "\"localhost\" has no port",
    );
    assert_invalid(
        parse_with("advertise = \"0.0.0.0\""),
        "advertise",
        "has no port",
    );

    // cluster
    refused(|c| c.cluster.clear(), "cluster", "0 bytes");
    refused(|c| c.cluster = "x".repeat(256), "cluster", "256 bytes");
    let mut c = base();
    c.cluster = "x".repeat(255);
    c.validate().unwrap();

    // members
    refused(
        |c| {
            c.members.push(Member {
                id: id("a"),
                addr: "h:1".into(),
            })
        },
        "members[1].id",
        "this node's own node_id",
    );
    refused(
        |c| {
            c.members.push(Member {
                id: id("c"),
                addr: "h:1".into(),
            });
            c.members.push(Member {
                id: id("b"),
                addr: "h:2".into(),
            });
        },
        "members[2].id",
        "already listed as members[0]",
    );
    for (addr, needle) in [
        ("localhost", "\"localhost\" has no port"),
        ("", "has no port"),
        ("h:", "is not a number"),
        ("h:http", "is not a number"),
        ("h:+80", "is not a number"),
        ("h:0", "is not from 1 to 65535"),
        ("h:65536", "is not from 1 to 65535"),
        (":80", "has no host"),
        ("::1:80", "IPv6 address goes in brackets"),
        ("[::1]", "has no port"),
        ("[::1:80", "no closing ']'"),
        ("[host]:80", "not an IPv6 address"),
        ("a b:80", "the character ' '"),
        ("http://h:80", "the character '/'"),
    ] {
        refused(
            |c| c.members[0].addr = addr.into(),
            "members[0].addr",
            needle,
        );
    }
    refused(
        |c| c.advertise = Some("h:0".into()),
        "advertise",
        "1 to 65535",
    );

    // tls
    refused(|c| c.tls.ca = PathBuf::new(), "tls.ca", "empty");
    refused(|c| c.tls.cert = PathBuf::new(), "tls.cert", "empty");
    refused(|c| c.tls.key = PathBuf::new(), "tls.key", "empty");
    refused(|c| c.tls.crl = Some(PathBuf::new()), "tls.crl", "empty");
    assert_invalid(
        NodeConfig::from_toml_str(&MINIMAL.replace("\"a.key\"", "\"\""), Path::new("/base")),
        "tls.key",
        "empty",
    );
    refused(
        |c| c.tls.pinned = vec!["ab".repeat(32), "abc".into()],
        "tls.pinned[1]",
        "64 hex digits",
    );
    refused(
        |c| c.tls.pinned = vec!["g".repeat(64)],
        "tls.pinned[0]",
        "64 hex digits",
    );

    // tunables
    for (name, edit) in [
        (
            "heartbeat_interval_ms",
            (|t: &mut Tunables| t.heartbeat_interval = Duration::ZERO) as fn(&mut Tunables),
        ),
        ("reconnect_backoff_min_ms", |t: &mut Tunables| {
            t.reconnect_backoff_min = Duration::ZERO
        }),
        ("handshake_timeout_ms", |t: &mut Tunables| {
            t.handshake_timeout = Duration::ZERO
        }),
        ("shutdown_timeout_ms", |t: &mut Tunables| {
            t.shutdown_timeout = Duration::ZERO
        }),
        ("certificate_check_interval_ms", |t: &mut Tunables| {
            t.certificate_check_interval = Duration::ZERO
        }),
    ] {
        refused(
            |c| edit(&mut c.tunables),
            &format!("tunables.{name}"),
            "above zero",
        );
    }
    refused(
        |c| c.tunables.certificate_check_interval = Duration::from_millis(500),
        "tunables.certificate_check_interval_ms",
        "1000 ms",
    );
    refused(
        |c| c.tunables.certificate_expiry_warning = Some(Duration::from_secs(100_000 * 3600)),
        "tunables.certificate_expiry_warning_hours",
        "87600 hours",
    );
    refused(
        |c| c.tunables.shutdown_timeout = Duration::from_secs(2 * 24 * 3600),
        "tunables.shutdown_timeout_ms",
        "24 hours",
    );
    refused(
        |c| c.tunables.peer_silence_limit = c.tunables.heartbeat_interval,
        "tunables.peer_silence_limit_ms",
        "must be longer than tunables.heartbeat_interval_ms (1000 ms)",
    );
    refused(
        |c| c.tunables.reconnect_backoff_min = Duration::from_secs(6),
        "tunables.reconnect_backoff_min_ms",
        "more than tunables.reconnect_backoff_max_ms",
    );
    refused(
        |c| c.tunables.max_frame_size = 1023,
        "tunables.max_frame_size",
        "1 KiB",
    );
    refused(
        |c| {
            c.tunables.max_frame_size = (1 << 30) + 1;
            c.tunables.link_buffer_limit = 1 << 31;
        },
        "tunables.max_frame_size",
        "1 GiB",
    );
    refused(
        |c| c.tunables.link_buffer_limit = c.tunables.max_frame_size - 1,
        "tunables.link_buffer_limit",
        "less than tunables.max_frame_size",
    );
    refused(
        |c| c.tunables.event_capacity = 0,
        "tunables.event_capacity",
        "outside 1 to",
    );
    refused(
        |c| c.tunables.event_capacity = (1 << 20) + 1,
        "tunables.event_capacity",
        "2^20",
    );
    // From TOML too, named by their TOML keys.
    assert_invalid(
        NodeConfig::from_toml_str(
            &format!("{MINIMAL}\n[tunables]\nheartbeat_interval_ms = 0\n"),
            Path::new(""),
        ),
        "tunables.heartbeat_interval_ms",
        "above zero",
    );
    assert_invalid(
        NodeConfig::from_toml_str(
            &format!("{MINIMAL}\n[tunables]\npeer_silence_limit_ms = 1000\n"),
            Path::new(""),
        ),
        "tunables.peer_silence_limit_ms",
        "declared down",
    );

    // Boundaries that pass.
    let mut c = base();
    c.tunables.max_frame_size = 1024;
    c.tunables.link_buffer_limit = 1024;
    c.tunables.reconnect_backoff_max = c.tunables.reconnect_backoff_min;
    c.advertise = Some("[2001:db8::1]:65535".into());
    c.members[0].addr = "10.0.0.1:1".into();
    c.tls.pinned = vec![format!(" {} ", "AB:".repeat(31) + "cd")];
    c.validate().unwrap();
}

/// Applies `edit` to a valid configuration and returns validate's `Invalid` error.
#[track_caller]
fn invalid_after(edit: impl FnOnce(&mut NodeConfig)) -> (String, InvalidValue, String) {
    let mut c = base();
    edit(&mut c);
    match c.validate() {
        Err(e @ ConfigError::Invalid { .. }) => {
            let shown = e.to_string();
            let ConfigError::Invalid { field, reason } = e else {
                unreachable!()
            };
            (field, reason, shown)
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn every_reason_is_typed_and_says_what_is_wrong() {
    let addr = |addr: &str, problem| InvalidValue::Address {
        addr: addr.into(),
        problem,
    };
    type Edit = Box<dyn FnOnce(&mut NodeConfig)>;
    let member_addr = |a: &'static str| -> Edit { Box::new(move |c| c.members[0].addr = a.into()) };
    let long_host = format!("{}:80", "h".repeat(254));
    let cases: Vec<(Edit, &str, InvalidValue, String)> =
        vec![
        (
            Box::new(|c| c.cluster.clear()),
            "cluster",
            InvalidValue::Length { len: 0, min: 1, max: 255 },
            "cluster: the text is 0 bytes long; it must be 1 to 255 bytes".into(),
        ),
        (
            Box::new(|c| c.tls.crl = Some(PathBuf::new())),
            "tls.crl",
            InvalidValue::EmptyPath,
            "tls.crl: the path is empty".into(),
        ),
        (
            Box::new(|c| c.tls.pinned = vec!["ab\n".into()]),
            "tls.pinned[0]",
            InvalidValue::NotHex64 { given: "ab\n".into() },
            "tls.pinned[0]: \"ab\\n\" is not a SHA-256 fingerprint: expected 64 hex digits \
             (':' and spaces allowed), the SHA-256 of the peer's SubjectPublicKeyInfo"
                .into(),
        ),
        (
            Box::new(|c| {
                c.members.push(Member {
                    id: id("a"),
                    addr: "h:1".into(),
                })
            }),
            "members[1].id",
            InvalidValue::ListsItself { id: id("a") },
            "members[1].id: \"a\" is this node's own node_id; list only the other nodes".into(),
        ),
        (
            Box::new(|c| {
                c.members.push(Member {
                    id: id("b"),
                    addr: "h:1".into(),
                })
            }),
            "members[1].id",
            InvalidValue::Duplicate { id: id("b"), first: 0 },
            "members[1].id: \"b\" is already listed as members[0]".into(),
        ),
        (
            member_addr("[::1"),
            "members[0].addr",
            addr("[::1", AddressProblem::UnclosedBracket),
            "members[0].addr: \"[::1\" has '[' but no closing ']'".into(),
        ),
        (
            member_addr("[h\u{1b}]:80"),
            "members[0].addr",
            addr("[h\u{1b}]:80", AddressProblem::NotIpv6 { host: "h\u{1b}".into() }),
            "members[0].addr: \"[h\\u{1b}]:80\" has \"h\\u{1b}\" in brackets, which is not an \
             IPv6 address"
                .into(),
        ),
        (
            member_addr("[::1]"),
            "members[0].addr",
            addr("[::1]", AddressProblem::NoPort { bracketed: true }),
            "members[0].addr: \"[::1]\" has no port (expected [ipv6]:port, e.g. \"[::1]:7001\")"
                .into(),
        ),
        (
            member_addr("node-b"),
            "members[0].addr",
            addr("node-b", AddressProblem::NoPort { bracketed: false }),
            "members[0].addr: \"node-b\" has no port (expected host:port, e.g. \
             \"node-b:7001\")"
                .into(),
        ),
        (
            member_addr(""),
            "members[0].addr",
            addr("", AddressProblem::NoPort { bracketed: false }),
            "members[0].addr: \"\" has no port (expected host:port, e.g. \"localhost:7001\")"
                .into(),
        ),
        (
            member_addr("h\r\n:80"),
            "members[0].addr",
            addr("h\r\n:80", AddressProblem::HostChar { ch: '\r' }),
            "members[0].addr: \"h\\r\\n:80\" has the character '\\r' in its host; a host is \
             a name or an IP address"
                .into(),
        ),
        (
            member_addr("it's:80"),
            "members[0].addr",
            addr("it's:80", AddressProblem::HostChar { ch: '\'' }),
            "members[0].addr: \"it's:80\" has the character '\\'' in its host; a host is a \
             name or an IP address"
                .into(),
        ),
        (
            member_addr("::1:80"),
            "members[0].addr",
            addr("::1:80", AddressProblem::Ipv6WithoutBrackets),
            "members[0].addr: \"::1:80\" has a ':' in its host: an IPv6 address goes in \
             brackets, e.g. \"[::1]:7001\""
                .into(),
        ),
        (
            member_addr(":80"),
            "members[0].addr",
            addr(":80", AddressProblem::NoHost),
            "members[0].addr: \":80\" has no host (expected host:port)".into(),
        ),
        (
            {
                let a = long_host.clone();
                Box::new(move |c| c.members[0].addr = a)
            },
            "members[0].addr",
            addr(&long_host, AddressProblem::HostTooLong { len: 254, max: 253 }),
            format!(
                "members[0].addr: \"{}…(+57 bytes)\" has a host 254 bytes long; the limit is 253",
                "h".repeat(200)
            ),
        ),
        (
            member_addr("h:\u{202e}1"),
            "members[0].addr",
            addr("h:\u{202e}1", AddressProblem::PortNotNumber { port: "\u{202e}1".into() }),
            "members[0].addr: \"h:\\u{202e}1\" has the port \"\\u{202e}1\", which is not a \
             number from 1 to 65535"
                .into(),
        ),
        (
            Box::new(|c| c.advertise = Some("h:99999999999999999999".into())),
            "advertise",
            addr(
                "h:99999999999999999999",
                AddressProblem::PortOutOfRange { port: "99999999999999999999".into() },
            ),
            "advertise: \"h:99999999999999999999\" has the port 99999999999999999999, which \
             is not from 1 to 65535"
                .into(),
        ),
        (
            Box::new(|c| c.tunables.max_pending_handshakes_per_source = 0),
            "tunables.max_pending_handshakes_per_source",
            InvalidValue::Zero,
            "tunables.max_pending_handshakes_per_source: must be above zero".into(),
        ),
        (
            Box::new(|c| c.tunables.handshake_timeout = Duration::MAX),
            "tunables.handshake_timeout_ms",
            InvalidValue::OutOfRange {
                value: u64::MAX,
                min: 1,
                max: 86_400_000,
                unit: ValueUnit::Millis,
            },
            format!(
                "tunables.handshake_timeout_ms: {} ms is outside 1 ms to 86400000 ms (24 hours)",
                u64::MAX
            ),
        ),
        (
            Box::new(|c| c.tunables.max_frame_size = 1023),
            "tunables.max_frame_size",
            InvalidValue::OutOfRange {
                value: 1023,
                min: 1024,
                max: 1 << 30,
                unit: ValueUnit::Bytes,
            },
            "tunables.max_frame_size: 1023 bytes is outside 1024 bytes (1 KiB) to \
             1073741824 bytes (1 GiB)"
                .into(),
        ),
        (
            Box::new(|c| c.tunables.max_pending_handshakes = 0),
            "tunables.max_pending_handshakes",
            InvalidValue::OutOfRange {
                value: 0,
                min: 1,
                max: 65_536,
                unit: ValueUnit::Count,
            },
            "tunables.max_pending_handshakes: 0 is outside 1 to 65536 (2^16)".into(),
        ),
        (
            Box::new(|c| c.tunables.max_announced_per_link = (1 << 24) + 1),
            "tunables.max_announced_per_link",
            InvalidValue::OutOfRange {
                value: (1 << 24) + 1,
                min: 1,
                max: 1 << 24,
                unit: ValueUnit::Count,
            },
            "tunables.max_announced_per_link: 16777217 is outside 1 to 16777216 (2^24)".into(),
        ),
        (
            Box::new(|c| c.tunables.client_hello_timeout = Duration::from_millis(3001)),
            "tunables.client_hello_timeout_ms",
            InvalidValue::MoreThan {
                value: 3001,
                other: "tunables.handshake_timeout_ms",
                other_value: 3000,
                unit: ValueUnit::Millis,
            },
            "tunables.client_hello_timeout_ms: 3001 ms is more than \
             tunables.handshake_timeout_ms (3000 ms)"
                .into(),
        ),
        (
            Box::new(|c| c.tunables.max_pending_handshakes_per_source = 257),
            "tunables.max_pending_handshakes_per_source",
            InvalidValue::MoreThan {
                value: 257,
                other: "tunables.max_pending_handshakes",
                other_value: 256,
                unit: ValueUnit::Count,
            },
            "tunables.max_pending_handshakes_per_source: 257 is more than \
             tunables.max_pending_handshakes (256)"
                .into(),
        ),
        (
            Box::new(|c| c.tunables.peer_silence_limit = Duration::from_millis(999)),
            "tunables.peer_silence_limit_ms",
            InvalidValue::SilenceNotAboveHeartbeat {
                silence_ms: 999,
                heartbeat_ms: 1000,
            },
            "tunables.peer_silence_limit_ms: 999 ms must be longer than \
             tunables.heartbeat_interval_ms (1000 ms): a peer is declared down after this \
             much silence, and an idle peer is only heard from once per heartbeat interval, \
             so a healthy peer would be declared down (several intervals is usual, e.g. 4x)"
                .into(),
        ),
        (
            Box::new(|c| c.tunables.link_buffer_limit = 4096),
            "tunables.link_buffer_limit",
            InvalidValue::BufferBelowFrame {
                buffer: 4096,
                frame: 8 << 20,
            },
            "tunables.link_buffer_limit: 4096 bytes is less than tunables.max_frame_size \
             (8388608 bytes); the buffer must hold at least one largest frame"
                .into(),
        ),
    ];
    for (edit, field, reason, shown) in cases {
        let got = invalid_after(edit);
        assert_eq!((got.0.as_str(), &got.1), (field, &reason), "{}", got.2);
        assert_eq!(got.2, shown);
    }

    // The parsed fields: node IDs and the listen address.
    match NodeConfig::from_toml_str(&MINIMAL.replace("\"a\"", "\"\""), Path::new("")) {
        Err(ConfigError::Invalid { field, reason }) => {
            assert_eq!(field, "node_id");
            assert_eq!(reason, InvalidValue::NodeId(NodeIdError::Empty));
            assert_eq!(reason.to_string(), "node ID is empty");
        }
        other => panic!("{other:?}"),
    }
    match NodeConfig::from_toml_str(
        &MINIMAL.replace("127.0.0.1:7001", "\\u001b[2Jhost:7001"),
        Path::new(""),
    ) {
        Err(e @ ConfigError::Invalid { .. }) => {
            assert_eq!(
                e.to_string(),
                "listen: \"\\u{1b}[2Jhost:7001\" is not a socket address: expected ip:port, \
                 e.g. \"127.0.0.1:7001\" or \"[::]:7001\" (no host names)"
            );
            let ConfigError::Invalid { reason, .. } = e else {
                unreachable!()
            };
            assert_eq!(
                reason,
                InvalidValue::NotSocketAddr {
                    given: "\u{1b}[2Jhost:7001".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn split_host_port_returns_the_parts() {
    assert_eq!(split_host_port("h.example:7001"), Ok(("h.example", 7001)));
    assert_eq!(split_host_port("[::1]:7001"), Ok(("::1", 7001)));
    assert_eq!(split_host_port("10.0.0.1:65535"), Ok(("10.0.0.1", 65535)));
}

#[test]
fn from_file_reads_and_resolves_against_its_folder() {
    let dir = std::env::temp_dir().join(format!(
        "reign-core-config-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("node.toml");
    std::fs::write(&file, MINIMAL).unwrap();
    let c = NodeConfig::from_file(&file);
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "node_id = \"a\"\nnope = 1\n").unwrap();
    let syntax = NodeConfig::from_file(&bad);
    std::fs::remove_dir_all(&dir).unwrap();

    let c = c.unwrap();
    assert_eq!(c.tls.ca, dir.join("ca.pem"));
    assert_eq!(c.tls.key, dir.join("a.key"));
    match syntax {
        Err(e @ ConfigError::Syntax { .. }) => {
            let shown = e.to_string();
            assert!(shown.starts_with(&bad.display().to_string()), "{shown}");
            assert!(shown.contains("nope"), "{shown}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_file_is_a_read_error_naming_the_path() {
    let path = Path::new("/nonexistent/reign/node.toml");
    match NodeConfig::from_file(path) {
        Err(e @ ConfigError::Read { .. }) => {
            let ConfigError::Read { path: p, source } = &e else {
                unreachable!()
            };
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert!(
                e.to_string().contains("/nonexistent/reign/node.toml"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn operators_are_read_checked_and_passed_to_tls() {
    let c = parse_with("operators = [\"ops\", \"ci-bot\"]").unwrap();
    assert_eq!(c.operators, [id("ops"), id("ci-bot")]);
    let tls = c.tls_config(reign_tls::Incarnation::random());
    assert_eq!(
        tls.operators.into_iter().collect::<Vec<_>>(),
        [id("ci-bot"), id("ops")]
    );
    assert!(base().operators.is_empty());
    assert_invalid(
        parse_with("operators = [\"-x\"]"),
        "operators[0]",
        "starts with '-'",
    );
    // An operator is never a member, nor this node.
    refused(
        |c| c.operators.push(id("a")),
        "operators[0]",
        "is a member (or this node)",
    );
    refused(
        |c| {
            c.members.push(Member {
                id: id("ops"),
                addr: "h:1".into(),
            });
            c.operators.push(id("ops"));
        },
        "operators[0]",
        "an operator must have an ID of its own",
    );
    refused(
        |c| {
            c.operators.push(id("ops"));
            c.operators.push(id("ops"));
        },
        "operators[1]",
        "already listed as operators[0]",
    );
}

#[test]
fn seeds_and_allow_open_membership_and_are_checked() {
    let c = parse_with(
        "seeds = [\"10.0.0.5:7001\", \"workers.svc:7001\"]\nallow = [\"worker-*\", \"coord\"]",
    )
    .unwrap();
    assert_eq!(c.seeds, ["10.0.0.5:7001", "workers.svc:7001"]);
    assert_eq!(c.allow.len(), 2);
    assert!(c.open_membership());
    // With patterns, only members (this node) and matches are admitted.
    let tls = c.tls_config(Incarnation(7));
    assert_eq!(
        tls.members.unwrap().into_iter().collect::<Vec<_>>(),
        [id("a")]
    );
    assert_eq!(tls.allow.len(), 2);
    // A static list without seeds or patterns stays closed.
    let mut closed = base();
    closed.members.push(Member {
        id: id("b"),
        addr: "h:1".into(),
    });
    assert!(!closed.open_membership());
    assert!(closed.tls_config(Incarnation(7)).members.is_some());
    // Seeds open it.
    let open = closed.clone().with_seed("h:2");
    assert!(open.open_membership());
    assert_eq!(open.tls_config(Incarnation(7)).members, None);
    assert_invalid(
        parse_with("seeds = [\"nohost\"]"),
        "seeds[0]",
        "has no port",
    );
    assert_invalid(
        parse_with("allow = [\"a b\"]"),
        "allow[0]",
        "is not a node ID character",
    );
}
