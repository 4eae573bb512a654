//! The command line as an operator uses it: a signing key OpenSSL reads, readable by its owner
//! only, never overwritten; the app's id derived from it.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_certrenew-kiosk");

#[test]
fn keygen_writes_a_key_openssl_reads_and_never_replaces_it() {
    let dir = std::env::temp_dir().join(format!("kiosk-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("iwa.pem");
    let _ = std::fs::remove_file(&key);

    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    if let Ok(pkey) = Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&key)
        .output()
    {
        assert!(
            pkey.status.success(),
            "{}",
            String::from_utf8_lossy(&pkey.stderr)
        );
    }

    let id = |key: &std::path::Path| {
        let out = Command::new(BIN)
            .args(["id", "--key"])
            .arg(key)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = id(&key);
    assert!(
        first.len() > 50 && first.chars().all(|c| c.is_ascii_alphanumeric()),
        "{first}"
    );

    let before = std::fs::read(&key).unwrap();
    let again = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to replace"));
    assert_eq!(std::fs::read(&key).unwrap(), before);
    assert_eq!(id(&key), first);
    std::fs::remove_dir_all(&dir).ok();
}
