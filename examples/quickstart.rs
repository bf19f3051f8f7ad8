//! Quickstart: the keys of a three-node cluster, made and checked with `reign_certgen`.
//!
//! Until the cluster itself runs here, the demo creates a three-node cluster's keys in a
//! temporary folder, checks each node's files the way a TLS handshake would, and prints what
//! it made. Run it with `cargo run --example quickstart`.

// A demo talks to the person running it.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use reign_certgen::{DoctorOptions, InitOptions, IssueOptions, Outcome};

/// The nodes of the demo cluster.
const NODES: [&str; 3] = ["a", "b", "c"];

/// One node's files, as a node would be configured with them.
struct NodeFiles {
    id: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// The cluster's PKI: a CA and a certificate per node, in `dir`, each node checked by doctor.
///
/// This is the part a running cluster needs before it starts; the later demo builds its
/// nodes from the returned files.
fn make_cluster_pki(dir: &Path, nodes: &[&str]) -> Result<Vec<NodeFiles>> {
    let ca = reign_certgen::init(
        dir,
        &InitOptions {
            cluster_name: "quickstart".into(),
            ..InitOptions::default()
        },
    )
    .context("creating the cluster CA")?;
    println!(
        "Created the cluster CA \"{}\" ({} key) in {}.",
        ca.subject,
        ca.key_type,
        dir.display()
    );
    println!(
        "  {} is the CA's secret: it is needed only to issue, revoke and renew.",
        ca.key_path.display()
    );

    let issued = reign_certgen::issue(dir, nodes, &IssueOptions::default())
        .context("issuing the node certificates")?;
    let mut files = Vec::new();
    for node in issued {
        println!(
            "Issued node {}: certificate {} and key {} (serial {}).",
            node.node_id,
            node.cert_path.display(),
            node.key_path.display(),
            node.serial_hex
        );
        files.push(NodeFiles {
            id: node.node_id,
            ca: ca.cert_path.clone(),
            cert: node.cert_path,
            key: node.key_path,
        });
    }

    for node in &files {
        let report = reign_certgen::doctor(&DoctorOptions {
            ca: node.ca.clone(),
            cert: node.cert.clone(),
            key: node.key.clone(),
            crl: None,
            node_id: Some(node.id.clone()),
        });
        if !report.passed() {
            bail!("node {} failed its checks:\n{report}", node.id);
        }
        let validity = report.check("validity").map(|c| match &c.outcome {
            Outcome::Pass(text) | Outcome::Fail(text) => text.clone(),
        });
        println!(
            "Checked node {}: all {} checks passed ({}).",
            node.id,
            report.checks.len(),
            validity.unwrap_or_default()
        );
    }
    Ok(files)
}

fn main() -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let files = make_cluster_pki(tmp.path(), &NODES)?;
    println!();
    println!("Each node needs only three files:");
    for node in &files {
        println!(
            "  node {}: {}, {}, {}",
            node.id,
            node.ca.display(),
            node.cert.display(),
            node.key.display()
        );
    }
    println!("The temporary folder is removed when the demo ends.");
    Ok(())
}
