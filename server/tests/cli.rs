//! The command line: `--help` lists every option with the environment variable it also reads,
//! and an option given only through its variable takes effect.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn certrenew(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_certrenew"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn help_lists_every_option_with_its_environment_variable() {
    let (ok, top) = certrenew(&["--help"], &[]);
    assert!(ok, "{top}");
    for cmd in [
        "serve",
        "admin",
        "management-key",
        "ca",
        "check",
        "issue-demo",
    ] {
        assert!(top.contains(cmd), "{cmd} in {top}");
    }
    let (ok, serve) = certrenew(&["serve", "--help"], &[]);
    assert!(ok, "{serve}");
    // Every option of serve (help aside) names its variable; before, `serve --help` started a
    // server on ./data.
    let options: Vec<&str> = serve
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("--") && !l.starts_with("--help"))
        .collect();
    assert!(options.len() >= 22, "{serve}");
    let text = serve.replace('\n', " ");
    for o in &options {
        let name = o.split_whitespace().next().unwrap();
        let after = &text[text.find(name).unwrap()..];
        let next = after[name.len()..]
            .find(" --")
            .map_or(after.len(), |i| i + name.len());
        assert!(
            after[..next].contains("[env: CERTRENEW_"),
            "{name}: {}",
            &after[..next]
        );
    }
    let (ok, _) = certrenew(&["serve", "--no-such-option"], &[]);
    assert!(!ok, "unknown options are refused");
}

#[test]
fn options_come_from_the_environment_too() {
    let dir = std::env::temp_dir().join(format!("certrenew-cli-{}", std::process::id()));
    let (ok, out) = certrenew(
        &["ca", "show"],
        &[
            ("CERTRENEW_DATA", dir.to_str().unwrap()),
            ("CERTRENEW_CA_KEY", "rsa2048"),
        ],
    );
    assert!(ok, "{out}");
    assert!(dir.join("ca.crt").exists(), "{out}");
    let openssl = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(dir.join("ca.crt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&openssl.stdout);
    assert!(
        text.contains("rsaEncryption"),
        "the CA key chosen by CERTRENEW_CA_KEY: {text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A payment account given in part is refused at startup, naming every flag still missing
/// (before it could start, then fail each payment).
#[test]
fn a_half_set_up_payment_account_is_refused_naming_what_is_missing() {
    let dir = std::env::temp_dir().join(format!("certrenew-half-{}", std::process::id()));
    let data = dir.to_str().unwrap();
    let (ok, out) = certrenew(
        &["serve", "--data", data, "--wechat-mchid", "1900009191"],
        &[("CERTRENEW_WECHAT_PUBLIC_KEY_ID", "PUB_KEY_ID_01")],
    );
    assert!(!ok, "{out}");
    for flag in [
        "--wechat-appid",
        "--wechat-serial",
        "--wechat-private-key",
        "--wechat-apiv3-key",
        "--wechat-public-key",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    assert!(!out.contains("--wechat-mchid,"), "given: {out}");
    let (ok, out) = certrenew(
        &[
            "serve",
            "--data",
            data,
            "--alipay-app-id",
            "2021009900000001",
        ],
        &[],
    );
    assert!(!ok, "{out}");
    for flag in [
        "--alipay-private-key",
        "--alipay-seller-id",
        "--alipay-public-key",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--log-format json`: every line is a JSON object, and a request's line carries the id its
/// response names in `X-Request-Id` (one a caller sends is kept when it is a plain token).
#[test]
fn json_logs_carry_the_request_id_the_response_names() {
    use std::io::{BufRead, Read, Write};
    let dir = std::env::temp_dir().join(format!("certrenew-log-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_certrenew"))
        .args(["--log-format", "json", "serve", "--demo", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(&dir)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let get = |id: Option<&str>| -> Option<String> {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let extra = id.map_or(String::new(), |i| format!("X-Request-Id: {i}\r\n"));
        write!(
            c,
            "GET /healthz?who=secret HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        c.read_to_string(&mut text).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .map(str::to_string)
    };
    let mut answered = None;
    for _ in 0..100 {
        answered = get(None);
        if answered.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let generated = answered.expect("the server answered with a request id");
    assert_eq!(get(Some("lb-1234_abc")).as_deref(), Some("lb-1234_abc"));
    // Legal in HTTP, but not a plain token: a log reader could be misled by it.
    let forged = get(Some("a/b;c=\"d\"")).unwrap_or_default();
    let _ = child.kill();
    assert!(!forged.is_empty() && forged != "a/b;c=\"d\"", "{forged}");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push(line.unwrap());
    }
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let logged: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request_line = |id: &str| {
        logged
            .iter()
            .find(|v| v["target"] == "certrenew::request" && v["span"]["id"].as_str() == Some(id))
    };
    for id in [generated.as_str(), "lb-1234_abc", forged.as_str()] {
        let v = request_line(id).unwrap_or_else(|| panic!("no line for {id}: {lines:?}"));
        assert_eq!(v["fields"]["path"], "/healthz");
        assert_eq!(v["fields"]["status"], 200);
    }
    assert!(
        !lines.iter().any(|l| l.contains("secret")),
        "no query in the logs"
    );
}

/// `--metrics-listen`: the metrics answer on their own address, and not on the public one.
#[test]
fn metrics_are_served_on_their_own_listener_only() {
    use std::io::{Read, Write};
    let dir = std::env::temp_dir().join(format!("certrenew-metrics-{}", std::process::id()));
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (public, metrics) = (free(), free());
    let mut child = Command::new(env!("CARGO_BIN_EXE_certrenew"))
        .args(["serve", "--demo", "--listen"])
        .arg(format!("127.0.0.1:{public}"))
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{metrics}"))
        .arg("--data")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let get = |port: u16| -> Option<String> {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(
            c,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        c.read_to_string(&mut text).ok()?;
        Some(text)
    };
    let mut served = None;
    for _ in 0..100 {
        served = get(metrics);
        if served.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let public_answer = get(public).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let served = served.expect("the metrics listener answers");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(
        served.contains("\ncertrenew_renewals_completed_total 0\n"),
        "{served}"
    );
    assert!(served.trim_end().ends_with("# EOF"), "{served}");
    assert!(public_answer.starts_with("HTTP/1.1 404"), "{public_answer}");
}

/// `certrenew backup` and `restore` from the command line: the restored directory passes
/// `certrenew check`; a directory without a CA is not backed up (no CA is made by mistake).
#[test]
fn backup_and_restore_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("certrenew-bk-{}", std::process::id()));
    let (data, copy, restored) = (dir.join("data"), dir.join("copy"), dir.join("restored"));
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (ok, out) = certrenew(&["backup", &path(&copy), "--data", &path(&data)], &[]);
    assert!(!ok && out.contains("no CA"), "{out}");
    assert!(!data.join("ca.crt").exists());
    let (ok, out) = certrenew(&["ca", "show", "--data", &path(&data)], &[]);
    assert!(ok, "{out}");
    let (ok, out) = certrenew(&["backup", &path(&copy), "--data", &path(&data)], &[]);
    assert!(ok && out.contains("certrenew.db"), "{out}");
    let (ok, out) = certrenew(&["restore", &path(&copy), "--data", &path(&restored)], &[]);
    assert!(ok, "{out}");
    let (ok, out) = certrenew(&["check", "--data", &path(&restored)], &[]);
    assert!(ok && out.contains("0 violations"), "{out}");
    let (ok, out) = certrenew(&["ca", "show", "--data", &path(&restored)], &[]);
    let (_, original) = certrenew(&["ca", "show", "--data", &path(&data)], &[]);
    assert!(ok);
    let serial = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("serial:"))
            .map(str::to_string)
    };
    assert_eq!(serial(&out), serial(&original), "the same CA");
    assert!(serial(&out).is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TOML config file: its options apply where no flag or variable says otherwise, and
/// `config check` prints the effective configuration — each value's source, the database's
/// password redacted — then checks it. An unknown key is refused, not ignored.
#[test]
fn the_config_file_sits_under_the_environment_and_flags() {
    let dir = std::env::temp_dir().join(format!("certrenew-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("certrenew.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\nauto-approve = true\nrate-limit = 30\ncors-origin = [\"isolated-app://abc\", \"isolated-app://def\"]\ndatabase = \"postgres://certrenew:s3cret@db/certrenew\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let (ok, out) = certrenew(
        &[
            "config",
            "check",
            "--config",
            f,
            "--public-url",
            "https://ca.example.cn",
        ],
        &[("CERTRENEW_RATE_LIMIT", "7")],
    );
    assert!(ok, "{out}");
    for line in [
        "listen = \"127.0.0.1:9999\"  # file",
        "auto-approve = true  # file",
        "rate-limit = \"7\"  # environment CERTRENEW_RATE_LIMIT",
        "public-url = \"https://ca.example.cn\"  # flag",
        "cors-origin = [\"isolated-app://abc\", \"isolated-app://def\"]  # file",
        "database = \"postgres://certrenew:***@db/certrenew\"  # file",
        "demo = false  # default",
        "# configuration OK",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}\n{out}");
    }
    assert!(!out.contains("s3cret"), "{out}");
    // The printed configuration is itself a config file (comments aside).
    let printed = dir.join("printed.toml");
    std::fs::write(&printed, &out).unwrap();
    let (ok, again) = certrenew(
        &["config", "check", "--config", printed.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{again}");
    // Read through CERTRENEW_CONFIG too; a half-set payment account fails the check.
    let (ok, out) = certrenew(
        &["config", "check", "--wechat-mchid", "1900009191"],
        &[("CERTRENEW_CONFIG", f)],
    );
    assert!(!ok && out.contains("WeChat Pay is half set up"), "{out}");
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisen = \"typo\"\n").unwrap();
    let (ok, out) = certrenew(&["config", "check", "--config", f], &[]);
    assert!(!ok && out.contains("no such option: lisen"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
