//! The `reign-certgen` binary: every subcommand, help texts, exit codes, and bad input.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{assert_one_line_error, certgen, doctor_scenarios, p, stderr, stdout, write};

#[test]
fn help_explains_every_command_with_an_example() {
    let o = certgen(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let top = stdout(&o);
    for cmd in [
        "init", "issue", "revoke", "crl", "inspect", "doctor", "renew",
    ] {
        assert!(top.contains(cmd), "{cmd} not in top help");
        let o = certgen(&[cmd, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{cmd}");
        let help = stdout(&o);
        assert!(
            help.contains("Example"),
            "{cmd} --help has no example:\n{help}"
        );
        assert!(
            help.contains(&format!("reign-certgen {cmd}")),
            "{cmd} example does not use it:\n{help}"
        );
    }
    assert!(top.contains("Example") && top.contains("ca.key"), "{top}");
    let o = certgen(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = p(dir.path());
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["init"],
        vec!["init", "--dir", d, "--key-type", "rsa"],
        vec!["init", "--dir", d, "--days", "0"],
        vec!["issue", "--dir", d],
        vec!["revoke", "--dir", d],
        vec!["revoke", "--dir", d, "a", "--serial", "01"],
        vec!["revoke", "--dir", d, "a", "--reason", "because"],
        vec!["inspect"],
        vec!["doctor", "--ca", "x"],
    ] {
        let o = certgen(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    // Arguments the library refuses are usage errors too, in one line.
    common::certgen(&["init", "--dir", d]);
    let o = certgen(&["issue", "--dir", d, "good", "bad/id"]);
    assert_one_line_error(&o, 2, "'/' at position 3");
    let o = certgen(&["issue", "--dir", d, "-x"]);
    assert_eq!(o.status.code(), Some(2));
    let o = certgen(&["issue", "--dir", d, "--", "-x"]);
    assert_one_line_error(&o, 2, "starts with '-'");
    let o = certgen(&["issue", "--dir", d, "--san", "not a name", "a"]);
    assert_one_line_error(&o, 2, "--san");
    let o = certgen(&["crl", "--dir", d, "--days", "4000000000"]);
    assert_one_line_error(&o, 2, "more than a century");
    let o = certgen(&["init", "--dir", d, "--force", "--name", ""]);
    assert_one_line_error(&o, 2, "cluster name is empty");
    let o = certgen(&["revoke", "--dir", d, "--serial", "xyz"]);
    assert_one_line_error(&o, 2, "not a hex digit");
    assert!(!dir.path().join("good.pem").exists());
}

#[test]
fn a_cluster_end_to_end_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let d = p(&pki);

    let o = certgen(&[
        "init",
        "--dir",
        d,
        "--name",
        "prod",
        "--days",
        "100",
        "--key-type",
        "p384",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("CN=prod") && stdout(&o).contains("ca.key"));
    assert_eq!(
        std::fs::metadata(pki.join("ca.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // Not twice without --force; the error names the file.
    let o = certgen(&["init", "--dir", d]);
    assert_one_line_error(&o, 1, "ca.key: already exists; pass --force");
    assert_eq!(
        certgen(&[
            "init",
            "--dir",
            d,
            "--name",
            "prod",
            "--key-type",
            "p384",
            "--force"
        ])
        .status
        .code(),
        Some(0)
    );

    let nodes = dir.path().join("nodes");
    let o = certgen(&[
        "issue",
        "--dir",
        d,
        "--out",
        p(&nodes),
        "--days",
        "20",
        "--san",
        "10.0.0.9",
        "a",
        "b",
        "c",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for id in ["a", "b", "c"] {
        assert!(out.contains(&format!("issued {id}:")), "{out}");
        assert!(
            nodes.join(format!("{id}.pem")).exists() && nodes.join(format!("{id}.key")).exists()
        );
    }
    assert!(out.contains("never ca.key"), "{out}");
    let o = certgen(&["issue", "--dir", d, "--out", p(&nodes), "a"]);
    assert_one_line_error(&o, 1, "a.key: already exists");

    // inspect, text and JSON.
    let o = certgen(&["inspect", p(&nodes.join("a.pem"))]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for needle in [
        "X.509 v3",
        "CN=a",
        "CN=prod",
        "ECDSA P-256 (256 bits)",
        "ecdsa-with-SHA384",
        "serverAuth, clientAuth",
        "DNS:a, IP:10.0.0.9",
        "days left",
        "sha256",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    let o = certgen(&[
        "inspect",
        "--json",
        p(&nodes.join("a.pem")),
        p(&pki.join("ca.pem")),
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json[0]["subject"], "CN=a");
    assert_eq!(json[0]["version"], 3);
    assert_eq!(json[0]["key_type"], "ECDSA P-256");
    assert_eq!(
        json[0]["extended_key_usage"],
        serde_json::json!(["serverAuth", "clientAuth"])
    );
    assert!(json[0]["days_left"].as_i64().unwrap() >= 19);
    assert_eq!(json[1]["is_ca"], true);
    assert_eq!(json[1]["key_type"], "ECDSA P-384");

    // doctor passes.
    let doctor = |id: &str, crl: bool| {
        let mut args = vec![
            "doctor".to_owned(),
            "--ca".into(),
            p(&pki.join("ca.pem")).into(),
            "--cert".into(),
            p(&nodes.join(format!("{id}.pem"))).into(),
            "--key".into(),
            p(&nodes.join(format!("{id}.key"))).into(),
            "--node-id".into(),
            id.into(),
        ];
        if crl {
            args.extend(["--crl".into(), p(&pki.join("crl.pem")).into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        certgen(&args)
    };
    let o = doctor("a", false);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("PASS "))
            .count()
            >= 12
    );

    // revoke by node, then by serial; the CRL number goes up; doctor sees it.
    let o = certgen(&["revoke", "--dir", d, "b", "--reason", "keyCompromise"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("revoked serial") && stdout(&o).contains("CRL number 1"),
        "{}",
        stdout(&o)
    );
    let o = certgen(&["revoke", "--dir", d, "b"]);
    assert!(
        stdout(&o).contains("already revoked") && stdout(&o).contains("CRL number 2"),
        "{}",
        stdout(&o)
    );
    let o = doctor("b", true);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("FAIL revocation: revoked")),
        "{}",
        stdout(&o)
    );
    assert_eq!(doctor("a", true).status.code(), Some(0));
    let serial = json[0]["serial"].as_str().unwrap().to_owned();
    let o = certgen(&[
        "revoke",
        "--dir",
        d,
        "--serial",
        &serial,
        "--reason",
        "superseded",
    ]);
    assert!(
        stdout(&o).contains(&serial) && stdout(&o).contains("CRL number 3"),
        "{}",
        stdout(&o)
    );
    let o = certgen(&["crl", "--dir", d, "--days", "3"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("CRL number 4") && stdout(&o).contains("2 revoked"),
        "{}",
        stdout(&o)
    );
    let o = certgen(&["inspect", p(&pki.join("crl.pem"))]);
    let text = stdout(&o);
    assert!(
        text.contains("number         4") && text.contains(&serial) && text.contains("superseded"),
        "{text}"
    );
    let o = certgen(&["revoke", "--dir", d, "nobody"]);
    assert_one_line_error(&o, 1, "nobody");

    // renew: nothing within 5 days; everything within 30 (they were issued for 20).
    let o = certgen(&["renew", "--dir", d, "--out", p(&nodes), "--within", "5"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("nothing to renew") && stdout(&o).matches("left alone").count() == 3,
        "{}",
        stdout(&o)
    );
    let old_key = std::fs::read(nodes.join("c.key")).unwrap();
    let o = certgen(&["renew", "--dir", d, "--out", p(&nodes), "c"]);
    assert!(
        stdout(&o).contains("renewed c:") && stdout(&o).contains("--reason superseded"),
        "{}",
        stdout(&o)
    );
    assert_ne!(std::fs::read(nodes.join("c.key")).unwrap(), old_key);
    assert_eq!(
        std::fs::metadata(nodes.join("c.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let o = certgen(&["renew", "--dir", d, "--out", p(&nodes)]);
    assert_eq!(stdout(&o).matches("renewed ").count(), 3, "{}", stdout(&o));
    let o = certgen(&["renew", "--dir", d, "--out", p(&nodes), "zz"]);
    assert_one_line_error(&o, 1, "zz.pem");
}

#[test]
fn bad_input_is_one_line_on_stderr_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(certgen(&["init", "--dir", p(d)]).status.code(), Some(0));
    assert_eq!(
        certgen(&["issue", "--dir", p(d), "a"]).status.code(),
        Some(0)
    );

    let missing = d.join("missing.pem");
    assert_one_line_error(
        &certgen(&["inspect", p(&missing)]),
        1,
        "missing.pem: cannot read: No such file",
    );
    let empty = write(&d.join("empty.pem"), "");
    assert_one_line_error(
        &certgen(&["inspect", p(&empty)]),
        1,
        "empty.pem: the file is empty",
    );
    let garbage = write(&d.join("garbage.pem"), [0xffu8, 0x00, 0x13, 0x37]);
    assert_one_line_error(
        &certgen(&["inspect", p(&garbage)]),
        1,
        "garbage.pem: not a PEM file",
    );
    assert_one_line_error(
        &certgen(&["inspect", p(&d.join("a.key"))]),
        1,
        "a.key: holds a PRIVATE KEY",
    );
    // Several files: the bad one is reported, the good one printed, exit 1.
    let o = certgen(&["inspect", p(&d.join("a.pem")), p(&empty)]);
    assert_one_line_error(&o, 1, "empty.pem");
    assert!(stdout(&o).contains("CN=a"));

    // A CA key that does not match the CA certificate.
    let other = tempfile::tempdir().unwrap();
    certgen(&["init", "--dir", p(other.path())]);
    std::fs::copy(other.path().join("ca.key"), d.join("ca.key")).unwrap();
    let o = certgen(&["issue", "--dir", p(d), "b"]);
    assert_one_line_error(
        &o,
        1,
        "ca.key: this private key does not match the certificate",
    );
    assert!(stderr(&o).contains("ca.pem"));
    for args in [
        vec!["revoke", "--dir", p(d), "a"],
        vec!["crl", "--dir", p(d)],
        vec!["renew", "--dir", p(d)],
    ] {
        assert_one_line_error(&certgen(&args), 1, "does not match");
    }
    // A missing CA, and a CA file that holds a key.
    let none = tempfile::tempdir().unwrap();
    assert_one_line_error(
        &certgen(&["issue", "--dir", p(none.path()), "a"]),
        1,
        "ca.pem: cannot read",
    );
    std::fs::copy(d.join("ca.key"), none.path().join("ca.pem")).unwrap();
    std::fs::copy(d.join("ca.key"), none.path().join("ca.key")).unwrap();
    assert_one_line_error(
        &certgen(&["issue", "--dir", p(none.path()), "a"]),
        1,
        "ca.pem: holds a PRIVATE KEY, expected a CERTIFICATE",
    );

    // An unwritable folder: under a regular file, refused even for root.
    let blocked = d.join("a.pem").join("pki");
    assert_one_line_error(&certgen(&["init", "--dir", p(&blocked)]), 1, "a.pem/pki");
    let fresh = tempfile::tempdir().unwrap();
    certgen(&["init", "--dir", p(fresh.path())]);
    assert_one_line_error(
        &certgen(&["issue", "--dir", p(fresh.path()), "--out", p(&blocked), "x"]),
        1,
        "a.pem/pki",
    );
}

#[test]
fn doctor_reports_each_failure_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    for s in doctor_scenarios(dir.path()) {
        let mut args = vec![
            "doctor".to_owned(),
            "--ca".into(),
            p(&s.opts.ca).into(),
            "--cert".into(),
            p(&s.opts.cert).into(),
            "--key".into(),
            p(&s.opts.key).into(),
        ];
        if let Some(crl) = &s.opts.crl {
            args.extend(["--crl".into(), p(crl).into()]);
        }
        if let Some(id) = &s.opts.node_id {
            args.extend(["--node-id".into(), id.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = certgen(&args);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {out}", s.name);
        let prefix = format!("FAIL {}: ", s.check);
        assert!(
            out.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(s.reason)),
            "{}: no {prefix}...{} line in\n{out}",
            s.name,
            s.reason
        );
        assert!(
            out.lines().last().unwrap().contains("checks failed"),
            "{out}"
        );
        assert!(stderr(&o).is_empty(), "{}: {}", s.name, stderr(&o));
    }
}

/// `inspect` shows a certificate's text, whoever made it: a subject, an issuer or names with
/// newlines, ANSI escapes (ESC and the one-character CSI U+009B), an OSC title sequence and a
/// bidi override must not reach the terminal raw. The text output shows them as Rust
/// escapes; the JSON output as `\u` escapes that decode to the very same text.
#[test]
fn inspect_escapes_the_certificates_text() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common::cluster(dir.path());
    let cn = "a\nkind           CA certificate\u{1b}[2J\u{9b}31m\u{202e}";
    let dns = "x\u{1b}]0;pwned\u{7}.example";
    let (cert, _) = common::custom_cert(&ca, |p| {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, cn);
        p.distinguished_name = dn;
        p.subject_alt_names = vec![
            rcgen::SanType::DnsName(dns.try_into().unwrap()),
            rcgen::SanType::Rfc822Name("me\r\n@evil".try_into().unwrap()),
        ];
    });
    let file = write(&dir.path().join("evil.pem"), cert);

    let raw = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    let o = certgen(&["inspect", p(&file)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.chars().any(raw), "raw control text in\n{text:?}");
    for shown in [
        "CN=a\\nkind           CA certificate\\u{1b}[2J\\u{9b}31m\\u{202e}",
        "DNS:x\\u{1b}]0;pwned\\u{7}.example",
        "me\\r\\n@evil",
    ] {
        assert!(text.contains(shown), "{shown:?} not in\n{text}");
    }
    // The forged line did not become a line of its own.
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("kind"))
            .count(),
        1,
        "{text}"
    );

    let o = certgen(&["inspect", "--json", p(&file)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.chars().any(raw), "raw control text in\n{text:?}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json[0]["common_name"], cn, "JSON keeps the exact text");
    assert_eq!(json[0]["sans"][0], format!("DNS:{dns}"));

    // renew leaves it alone (its CN is not its file name) and says so, quoting the CN.
    let o = certgen(&["renew", "--dir", p(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.chars().any(raw), "raw control text in\n{text:?}");
    assert!(
        text.contains("evil.pem: its CN \"a\\nkind           CA certificate\\u{1b}[2J"),
        "{text}"
    );
}
