//! Reading a configuration from TOML: the raw shape of the file, resolved into a
//! [`NodeConfig`] with every default filled in, then validated.

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node_id: String,
    cluster: String,
    listen: String,
    #[serde(default)]
    advertise: Option<String>,
    tls: RawTls,
    #[serde(default)]
    members: Vec<RawMember>,
    #[serde(default)]
    seeds: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    operators: Vec<String>,
    #[serde(default)]
    tunables: RawTunables,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    #[serde(default)]
    crl: Option<PathBuf>,
    #[serde(default)]
    pinned: Vec<String>,
    #[serde(default)]
    watch: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    id: String,
    addr: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTunables {
    heartbeat_interval_ms: Option<u64>,
    peer_silence_limit_ms: Option<u64>,
    reconnect_backoff_min_ms: Option<u64>,
    reconnect_backoff_max_ms: Option<u64>,
    handshake_timeout_ms: Option<u64>,
    max_frame_size: Option<usize>,
    link_buffer_limit: Option<usize>,
    shutdown_timeout_ms: Option<u64>,
    max_monitors_per_link: Option<usize>,
    max_announced_per_link: Option<usize>,
    client_hello_timeout_ms: Option<u64>,
    max_pending_handshakes: Option<usize>,
    max_pending_handshakes_per_source: Option<usize>,
    event_capacity: Option<usize>,
    certificate_expiry_warning_hours: Option<u64>,
    certificate_check_interval_ms: Option<u64>,
    forget_after_ms: Option<u64>,
    own_runtime: Option<bool>,
}

impl RawTunables {
    fn resolve(self) -> Tunables {
        let d = Tunables::default();
        let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
        Tunables {
            heartbeat_interval: ms(self.heartbeat_interval_ms, d.heartbeat_interval),
            peer_silence_limit: ms(self.peer_silence_limit_ms, d.peer_silence_limit),
            reconnect_backoff_min: ms(self.reconnect_backoff_min_ms, d.reconnect_backoff_min),
            reconnect_backoff_max: ms(self.reconnect_backoff_max_ms, d.reconnect_backoff_max),
            handshake_timeout: ms(self.handshake_timeout_ms, d.handshake_timeout),
            max_frame_size: self.max_frame_size.unwrap_or(d.max_frame_size),
            link_buffer_limit: self.link_buffer_limit.unwrap_or(d.link_buffer_limit),
            shutdown_timeout: ms(self.shutdown_timeout_ms, d.shutdown_timeout),
            max_monitors_per_link: self
                .max_monitors_per_link
                .unwrap_or(d.max_monitors_per_link),
            max_announced_per_link: self
                .max_announced_per_link
                .unwrap_or(d.max_announced_per_link),
            client_hello_timeout: ms(self.client_hello_timeout_ms, d.client_hello_timeout),
            max_pending_handshakes: self
                .max_pending_handshakes
                .unwrap_or(d.max_pending_handshakes),
            max_pending_handshakes_per_source: self
                .max_pending_handshakes_per_source
                .unwrap_or(d.max_pending_handshakes_per_source),
            event_capacity: self.event_capacity.unwrap_or(d.event_capacity),
            certificate_expiry_warning: self
                .certificate_expiry_warning_hours
                .map(|h| Duration::from_secs(h.saturating_mul(3600))),
            certificate_check_interval: ms(
                self.certificate_check_interval_ms,
                d.certificate_check_interval,
            ),
            forget_after: ms(self.forget_after_ms, d.forget_after),
            own_runtime: self.own_runtime.unwrap_or(d.own_runtime),
        }
    }
}

pub(super) fn parse(text: &str, base_dir: &Path, origin: &str) -> Result<NodeConfig, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let node_id =
        NodeId::new(&raw.node_id).map_err(|e| ConfigError::invalid("node_id", e.into()))?;
    let listen = raw.listen.parse::<SocketAddr>().map_err(|_| {
        ConfigError::invalid(
            "listen",
            InvalidValue::NotSocketAddr {
                given: raw.listen.clone(),
            },
        )
    })?;
    // An empty path stays empty so that `validate` reports it rather than using `base_dir`.
    let resolve = |p: PathBuf| {
        if p.as_os_str().is_empty() {
            p
        } else {
            base_dir.join(p)
        }
    };
    let tls = TlsFiles {
        ca: resolve(raw.tls.ca),
        cert: resolve(raw.tls.cert),
        key: resolve(raw.tls.key),
        crl: raw.tls.crl.map(resolve),
        pinned: raw.tls.pinned,
        watch: raw.tls.watch,
    };
    let members = raw
        .members
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let id = NodeId::new(&m.id)
                .map_err(|e| ConfigError::invalid(format!("members[{i}].id"), e.into()))?;
            Ok(Member { id, addr: m.addr })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let operators = raw
        .operators
        .iter()
        .enumerate()
        .map(|(i, o)| {
            NodeId::new(o).map_err(|e| ConfigError::invalid(format!("operators[{i}]"), e.into()))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let allow = raw
        .allow
        .iter()
        .enumerate()
        .map(|(i, a)| {
            reign_tls::IdPattern::new(a)
                .map_err(|e| ConfigError::invalid(format!("allow[{i}]"), InvalidValue::Pattern(e)))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let config = NodeConfig {
        node_id,
        cluster: raw.cluster,
        listen,
        advertise: raw.advertise,
        tls,
        members,
        seeds: raw.seeds,
        allow,
        operators,
        tunables: raw.tunables.resolve(),
    };
    config.validate()?;
    Ok(config)
}
