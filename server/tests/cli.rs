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
