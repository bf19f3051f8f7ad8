//! The `reign-certgen` command-line tool: a thin layer over the `reign_certgen` library.
//!
//! Exit codes: 0 success, 1 a check or operation failed, 2 bad usage.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use reign_certgen as cg;
use reign_certgen::{CertgenError, Inspected};
use reign_tls::ratelimit::EscapedAll;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod cli_args;
use cli_args::*;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = String::new();
    let result = match cli.command {
        Command::Init(a) => init(a, &mut out),
        Command::Issue(a) => issue(a, &mut out),
        Command::Revoke(a) => revoke(a, &mut out),
        Command::Crl(a) => crl(a, &mut out),
        Command::Inspect(a) => inspect(a, &mut out),
        Command::Doctor(a) => doctor(a, &mut out),
        Command::Renew(a) => renew(a, &mut out),
    };
    // A closed stdout (e.g. `| head`) is not worth a panic or an error.
    let _ = std::io::stdout().write_all(out.as_bytes());
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reign-certgen: error: {}", one_line(&e.to_string()));
            if e.is_usage() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

type Outcome = Result<ExitCode, CertgenError>;

fn init(a: InitArgs, out: &mut String) -> Outcome {
    let r = cg::init(
        &a.dir,
        &cg::InitOptions {
            cluster_name: a.name,
            days: a.days,
            key_type: a.key_type.into(),
            force: a.force,
        },
    )?;
    let _ = writeln!(
        out,
        "created CA \"{}\" ({}, valid until {})",
        r.subject,
        r.key_type,
        date(r.not_after)
    );
    let _ = writeln!(
        out,
        "  wrote {}  (give it to every node)",
        r.cert_path.display()
    );
    let _ = writeln!(
        out,
        "  wrote {}  (mode 0600; the CA's secret: keep it off the nodes)",
        r.key_path.display()
    );
    if let Some(p) = r.removed_old_crl {
        let _ = writeln!(
            out,
            "  removed {} (it was signed by the replaced CA)",
            p.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn issue(a: IssueArgs, out: &mut String) -> Outcome {
    let ids: Vec<&str> = a.node_ids.iter().map(String::as_str).collect();
    let written = cg::issue(
        &a.dir,
        &ids,
        &cg::IssueOptions {
            out: a.out,
            days: a.days,
            key_type: a.key_type.into(),
            sans: a.sans,
            force: a.force,
        },
    )?;
    for f in &written {
        let _ = writeln!(
            out,
            "issued {}: {} and {} (serial {}, valid until {})",
            f.node_id,
            f.cert_path.display(),
            f.key_path.display(),
            f.serial_hex,
            date(f.not_after)
        );
    }
    let _ = writeln!(
        out,
        "each node needs ca.pem, its own <id>.pem and <id>.key, and crl.pem if one exists; never ca.key"
    );
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: RevokeArgs, out: &mut String) -> Outcome {
    let target = match (a.node_id, a.serial) {
        (Some(id), None) => cg::RevokeTarget::Node(id),
        (None, Some(s)) => cg::RevokeTarget::Serial(s),
        _ => {
            return Err(CertgenError::InvalidArgument(
                "give either NODE_ID or --serial HEX".into(),
            ));
        }
    };
    let r = cg::revoke(&a.dir, target, a.reason.into())?;
    for (serial, node) in &r.revoked {
        match node {
            Some(n) => {
                let _ = writeln!(out, "revoked serial {serial} (node {n})");
            }
            None => {
                let _ = writeln!(out, "revoked serial {serial}");
            }
        }
    }
    for serial in &r.already_revoked {
        let _ = writeln!(out, "serial {serial} was already revoked");
    }
    crl_line(&r.crl, out);
    Ok(ExitCode::SUCCESS)
}

fn crl(a: CrlArgs, out: &mut String) -> Outcome {
    let r = cg::refresh_crl(&a.dir, a.days.unwrap_or(0))?;
    crl_line(&r, out);
    Ok(ExitCode::SUCCESS)
}

fn crl_line(r: &cg::CrlReport, out: &mut String) {
    let _ = writeln!(
        out,
        "wrote {}: CRL number {}, {} revoked serial(s), next update {}; copy it to every node",
        r.path.display(),
        r.number,
        r.revoked_count,
        time(r.next_update)
    );
}

fn inspect(a: InspectArgs, out: &mut String) -> Outcome {
    let mut failed = None;
    let mut json = Vec::new();
    for file in &a.files {
        match cg::inspect_file(file) {
            Ok(items) => {
                for item in items {
                    if a.json {
                        let mut v = serde_json::to_value(&item).unwrap_or_default();
                        if let Some(obj) = v.as_object_mut() {
                            obj.insert("file".into(), file.display().to_string().into());
                        }
                        json.push(v);
                    } else {
                        let _ = writeln!(out, "{}:", EscapedAll(&file.display().to_string()));
                        describe(&item, out);
                    }
                }
            }
            Err(e) if a.files.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("reign-certgen: error: {}", one_line(&e.to_string()));
                failed = Some(e);
            }
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        let _ = writeln!(out, "{}", terminal_safe_json(&text));
    }
    Ok(if failed.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn describe(item: &Inspected, out: &mut String) {
    match item {
        Inspected::Certificate(c) => {
            let rows = [
                (
                    "kind",
                    if c.is_ca {
                        "CA certificate".into()
                    } else {
                        "certificate".into()
                    },
                ),
                ("version", format!("X.509 v{}", c.version)),
                ("subject", c.subject.clone()),
                ("issuer", c.issuer.clone()),
                ("serial", c.serial.clone()),
                ("key", format!("{} ({} bits)", c.key_type, c.key_bits)),
                ("signature", c.signature_algorithm.clone()),
                ("not before", time(c.not_before)),
                ("not after", time(c.not_after)),
                ("days left", c.days_left.to_string()),
                ("sha256", c.sha256_fingerprint.clone()),
                ("key usage", list(&c.key_usage)),
                ("ext key usage", list(&c.extended_key_usage)),
                ("alt names", list(&c.sans)),
                ("CA", if c.is_ca { "yes".into() } else { "no".into() }),
            ];
            // Subject, issuer and names are the certificate's text, whoever made it: escaped.
            for (k, v) in rows {
                let _ = writeln!(out, "  {k:<14} {}", EscapedAll(&v));
            }
        }
        Inspected::Crl(c) => {
            let _ = writeln!(out, "  {:<14} CRL", "kind");
            let _ = writeln!(out, "  {:<14} {}", "issuer", EscapedAll(&c.issuer));
            let _ = writeln!(
                out,
                "  {:<14} {}",
                "number",
                c.number.as_deref().unwrap_or("(none)")
            );
            let _ = writeln!(
                out,
                "  {:<14} {}",
                "signature",
                EscapedAll(&c.signature_algorithm)
            );
            let _ = writeln!(out, "  {:<14} {}", "this update", time(c.this_update));
            let next = c.next_update.map(time).unwrap_or_else(|| "(none)".into());
            let _ = writeln!(out, "  {:<14} {next}", "next update");
            let _ = writeln!(out, "  {:<14} {}", "revoked", c.revoked.len());
            for r in &c.revoked {
                let reason = r.reason.as_deref().unwrap_or("no reason given");
                let _ = writeln!(out, "    {} at {} ({reason})", r.serial, time(r.revoked_at));
            }
        }
        _ => {}
    }
}

fn doctor(a: DoctorArgs, out: &mut String) -> Outcome {
    let report = cg::doctor(&cg::DoctorOptions {
        ca: a.ca,
        cert: a.cert,
        key: a.key,
        crl: a.crl,
        node_id: a.node_id,
    });
    let _ = write!(out, "{report}");
    let failed = report.failures().count();
    if failed == 0 {
        let _ = writeln!(out, "all {} checks passed", report.checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        let _ = writeln!(out, "{failed} of {} checks failed", report.checks.len());
        Ok(ExitCode::from(1))
    }
}

fn renew(a: RenewArgs, out: &mut String) -> Outcome {
    let r = cg::renew(
        &a.dir,
        &cg::RenewOptions {
            out: a.out,
            node_ids: a.node_ids,
            within_days: a.within,
            days: a.days,
            key_type: a.key_type.map(Into::into),
        },
    )?;
    for n in &r.renewed {
        let f = &n.files;
        let _ = write!(
            out,
            "renewed {}: {} and {} (new serial {}, valid until {})",
            f.node_id,
            f.cert_path.display(),
            f.key_path.display(),
            f.serial_hex,
            date(f.not_after)
        );
        match &n.old_serial {
            Some(old) => {
                let _ = writeln!(
                    out,
                    "; the old serial {old} stays valid until it expires: once the node runs the new files, \
                     `reign-certgen revoke --dir {} --serial {old} --reason superseded`",
                    a.dir.display()
                );
            }
            None => {
                let _ = writeln!(out);
            }
        }
    }
    for l in &r.left_alone {
        // The node ID is a certificate's CN, the path a file name found in the folder: both
        // escaped. (The reason escapes what it quotes.)
        let path = l.path.display().to_string();
        let who = l
            .node_id
            .as_deref()
            .map(|n| format!("{} ({})", EscapedAll(n), EscapedAll(&path)));
        let _ = writeln!(
            out,
            "left alone {}: {}",
            who.unwrap_or_else(|| EscapedAll(&path).to_string()),
            l.reason
        );
    }
    if r.renewed.is_empty() {
        let _ = writeln!(out, "nothing to renew");
    }
    Ok(ExitCode::SUCCESS)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn date(t: OffsetDateTime) -> String {
    let s = time(t);
    s.split('T').next().unwrap_or(&s).to_owned()
}

/// An error message on one line, with whatever text of the outside world it quotes (file
/// names, a PEM label) unable to drive the terminal.
fn one_line(s: &str) -> String {
    EscapedAll(&s.replace(['\n', '\r'], " ")).to_string()
}

/// JSON whose strings cannot drive a terminal either: serde_json escapes the C0 controls,
/// this escapes what it leaves (DEL, the C1 controls such as U+009B, a one-character CSI,
/// bidirectional overrides, line and paragraph separators) as `\uXXXX`. Such characters only
/// occur inside strings, and the escape decodes to the same character, so the JSON still
/// means exactly what the certificate says.
fn terminal_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
        {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}
