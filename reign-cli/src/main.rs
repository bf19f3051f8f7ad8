//! `reign`: the operator tool. It connects to a running node over mutual TLS with an
//! operator certificate (a CN listed in the node's `operators`), reads the node's TLS status,
//! and renews a node's certificate from the machine that holds the CA key: the node makes
//! its new key itself and sends a certificate request; the tool signs it with
//! reign-certgen's CA and sends the certificate back; the node checks it, writes it beside a
//! backup of the old files, reloads and answers with the new serial.
//!
//! The protocol is docs/PROTOCOL.md section 8 (`reign_tls::operator`).

// A command-line tool: its output is stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use reign_certgen::{Inspected, SignOptions, inspect_file, sign_request};
use reign_tls::operator::{self, MAX_OPERATOR_REPLY, OperatorReply, OperatorRequest, StatusFormat};
use reign_tls::{AuthenticatedStream, NodeId, TlsConfig, TlsEndpoint};
use tokio::io::AsyncWriteExt;

mod text;

const EXAMPLES: &str = "\
Examples:
  # The TLS status of the node at 10.0.0.5:7001, as text or JSON:
  reign status --node 10.0.0.5:7001 --ca ca.pem --cert ops.pem --key ops.key
  reign status --node 10.0.0.5:7001 --ca ca.pem --cert ops.pem --key ops.key --json

  # Renew node b's certificate through node a (or directly: --via b's address), on the
  # machine holding the CA folder (ca.pem, ca.key) that reign-certgen made:
  reign renew b --via 10.0.0.5:7001 --ca-dir cluster/ --cert ops.pem --key ops.key

The operator certificate is a node certificate of the cluster CA whose CN the node lists in
`operators = [\"ops\"]` (make one with `reign-certgen issue ops`). An operator connection
never joins the mesh. The cluster name defaults to the CA certificate's CN.";

/// The reign operator tool.
#[derive(Parser, Debug)]
#[command(name = "reign", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a running node's TLS status: its certificate, CA bundle and CRL, and each live
    /// link's peer certificate, key exchange, cipher suite and traffic.
    Status {
        /// The node's address, `host:port`.
        #[arg(long, value_name = "ADDR")]
        node: String,
        /// The CA bundle to verify the node with (PEM).
        #[arg(long, value_name = "FILE")]
        ca: PathBuf,
        #[command(flatten)]
        operator: Operator,
        /// Print the node's JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Renew NODE's certificate: NODE makes a new key and a certificate request, this tool
    /// signs it with the CA in --ca-dir, NODE installs and reloads it. The key never leaves
    /// NODE.
    Renew {
        /// The node to renew.
        #[arg(value_name = "NODE")]
        target: String,
        /// The node to connect to: NODE itself, or a node linked to it, which forwards.
        #[arg(long, value_name = "ADDR")]
        via: String,
        /// The CA folder reign-certgen made (ca.pem, ca.key, certgen-state.json).
        #[arg(long, value_name = "DIR")]
        ca_dir: PathBuf,
        /// The CA bundle to verify the node with. Default: DIR/ca.pem.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        /// Validity of the new certificate, in days (1 to 36600).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36_600))]
        days: u32,
        #[command(flatten)]
        operator: Operator,
    },
}

#[derive(Args, Debug)]
struct Operator {
    /// The operator's certificate (PEM); its CN is the operator's name.
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The operator's private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The cluster name. Default: the CN of the CA bundle's first certificate.
    #[arg(long)]
    cluster: Option<String>,
    /// Seconds to wait for the node's answer to each request.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("reign: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reign: {}", text::clean_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Status {
            node,
            ca,
            operator,
            json,
        } => {
            let mut session = Session::open(&node, &ca, &operator).await?;
            let format = if json {
                StatusFormat::Json
            } else {
                StatusFormat::Text
            };
            match session.ask(&OperatorRequest::Status { format }).await? {
                OperatorReply::Status { text } if json => {
                    // Pretty, and checked to be JSON (serde_json escapes what a terminal
                    // would act on).
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| format!("the node's JSON does not parse: {e}"))?;
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                OperatorReply::Status { text } => {
                    let p = session.stream.peer();
                    println!(
                        "node {} (cluster {}, incarnation {}) at {}",
                        p.node_id,
                        text::clean(&p.cluster),
                        p.incarnation,
                        p.addr
                    );
                    print!("{}", text::clean(&text));
                }
                other => return Err(unexpected(&other)),
            }
            Ok(())
        }
        Command::Renew {
            target,
            via,
            ca_dir,
            ca,
            days,
            operator,
        } => {
            let node: NodeId = target
                .parse()
                .map_err(|e| format!("{target:?} is not a node ID: {e}"))?;
            let ca = ca.unwrap_or_else(|| ca_dir.join(reign_certgen::CA_CERT_FILE));
            check_ca_in_bundle(&ca_dir, &ca)?;
            let mut session = Session::open(&via, &ca, &operator).await?;
            let through = session.stream.peer().node_id.clone();
            let csr = match session
                .ask(&OperatorRequest::RenewPrepare { node: node.clone() })
                .await?
            {
                OperatorReply::Csr { node: n, csr } if n == node => csr,
                other => return Err(unexpected(&other)),
            };
            let mut opts = SignOptions::new(node.as_str());
            opts.days = days;
            let signed = sign_request(&ca_dir, &csr, &opts)?;
            let not_installed = |why: String| -> Failure {
                format!(
                    "the CA issued serial {} for {node} (recorded in {} as not installed), but the node did not install it: {why}",
                    signed.serial_hex,
                    ca_dir.join(reign_certgen::STATE_FILE).display()
                )
                .into()
            };
            let reply = session
                .ask(&OperatorRequest::RenewInstall {
                    node: node.clone(),
                    chain: vec![signed.cert_der.clone()],
                })
                .await
                .map_err(|e| not_installed(e.to_string()))?;
            let issued_until = std::time::SystemTime::UNIX_EPOCH
                + Duration::from_secs(signed.not_after.unix_timestamp().max(0) as u64);
            match reply {
                OperatorReply::Renewed {
                    node: n,
                    serial_hex,
                    not_after,
                } if n == node && serial_hex == signed.serial_hex && not_after == issued_until => {
                    reign_certgen::record_installed(&ca_dir, &signed.serial_hex)?;
                    let via = if through == node {
                        String::new()
                    } else {
                        format!(" (through {through})")
                    };
                    println!(
                        "renewed {node}{via}: serial {serial_hex}, not after {}",
                        reign_tls::format_time(not_after)
                    );
                    Ok(())
                }
                OperatorReply::Renewed { serial_hex, .. } => Err(not_installed(format!(
                    "it answered with another certificate (serial {})",
                    text::clean_line(&serial_hex)
                ))),
                other => Err(not_installed(describe(&other))),
            }
        }
    }
}

/// One operator connection.
struct Session {
    stream: AuthenticatedStream,
    timeout: Duration,
}

impl Session {
    async fn open(addr: &str, ca: &Path, op: &Operator) -> Result<Self, Failure> {
        let name = cn_of(&op.cert)?;
        let cluster = match &op.cluster {
            Some(c) => c.clone(),
            None => cn_of(ca)?,
        };
        let id: NodeId = name.parse().map_err(|e| {
            format!(
                "{}: its CN {name:?} is not a valid operator name: {e}",
                op.cert.display()
            )
        })?;
        let endpoint = TlsEndpoint::new(TlsConfig::new(
            id,
            cluster,
            ca.to_owned(),
            op.cert.clone(),
            op.key.clone(),
        ))?;
        let target = resolve(addr).await?;
        let stream = endpoint
            .connect_operator(target)
            .await
            .map_err(|e| match &e {
                // The node refused the cluster this tool named: say which one it is in.
                reign_tls::HandshakeError::RefusedByPeer {
                    reason: reign_tls::Refusal::WrongCluster { expected, .. },
                    ..
                } => format!(
                    "{addr}: the node's cluster is {:?}, not {:?}: pass --cluster {:?}",
                    text::clean_line(expected),
                    endpoint.cluster(),
                    text::clean_line(expected)
                )
                .into(),
                _ => Failure::from(e),
            })?;
        Ok(Self {
            stream,
            timeout: Duration::from_secs(op.timeout.max(1)),
        })
    }

    /// Sends one request and reads its reply; an ERROR reply is returned as the error.
    async fn ask(&mut self, request: &OperatorRequest) -> Result<OperatorReply, Failure> {
        let peer = self.stream.peer().node_id.clone();
        let exchange = async {
            self.stream
                .write_all(&operator::encode_request(request))
                .await?;
            self.stream.flush().await?;
            operator::read_frame(&mut self.stream, MAX_OPERATOR_REPLY).await
        };
        let body = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(format!("{peer}: the connection failed: {e}").into()),
            Err(_) => {
                return Err(
                    format!("{peer} did not answer within {} s", self.timeout.as_secs()).into(),
                );
            }
        };
        match operator::decode_reply(&body)? {
            OperatorReply::Error { text, .. } => Err(text.into()),
            reply => Ok(reply),
        }
    }
}

/// Refuses a CA folder whose CA is not in the bundle the nodes are checked with: a node
/// would refuse what it signs (after the CA had recorded it).
fn check_ca_in_bundle(ca_dir: &Path, bundle: &Path) -> Result<(), Failure> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, Failure> {
        CertificateDer::pem_file_iter(p)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", p.display()).into())
    };
    let ca_file = ca_dir.join(reign_certgen::CA_CERT_FILE);
    let ca = certs(&ca_file)?;
    let trusted = certs(bundle)?;
    if ca.first().is_some_and(|c| trusted.contains(c)) {
        Ok(())
    } else {
        Err(format!(
            "the CA of {} is not in {}: the nodes would refuse what it signs (give the bundle that holds it with --ca)",
            ca_file.display(),
            bundle.display()
        )
        .into())
    }
}

/// The single subject CN of the first certificate of a PEM file.
fn cn_of(path: &Path) -> Result<String, Failure> {
    inspect_file(path)?
        .into_iter()
        .find_map(|i| match i {
            Inspected::Certificate(c) => Some(c.common_name),
            _ => None,
        })
        .flatten()
        .ok_or_else(|| format!("{}: no certificate with a Common Name", path.display()).into())
}

async fn resolve(addr: &str) -> Result<SocketAddr, Failure> {
    let mut found = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("{addr:?}: not a host:port that resolves: {e}"))?;
    found
        .next()
        .ok_or_else(|| format!("{addr:?} resolves to no address").into())
}

fn describe(reply: &OperatorReply) -> String {
    match reply {
        OperatorReply::Error { text, .. } => text.clone(),
        OperatorReply::Status { .. } => "a status".into(),
        OperatorReply::Csr { node, .. } => format!("a certificate request of {node}"),
        OperatorReply::Renewed { node, .. } => format!("a renewal of {node}"),
        _ => "an unknown reply".into(),
    }
}

fn unexpected(reply: &OperatorReply) -> Failure {
    format!("unexpected answer: {}", describe(reply)).into()
}
