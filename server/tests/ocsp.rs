//! The OCSP responder against OpenSSL's client (`openssl ocsp`), an implementation we did not
//! write: good, revoked with reason, unknown serial, nonce echoed, signature verified against the
//! CA certificate; GET form; malformed requests answered as OCSP says. The certificates point at
//! the responder and the CRL themselves (AIA, CRL distribution points), and OpenSSL follows them.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?}: {text}");
    text
}

/// `openssl verify` with the CRL fetched from the certificate's distribution point: its output,
/// whether it succeeded or not.
fn verify_with_downloaded_crl(dir: &Path) -> String {
    let out = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            "ca.pem",
            "-crl_check",
            "-crl_download",
            "leaf.pem",
        ])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pem(dir: &Path, name: &str, der: &[u8]) {
    std::fs::write(dir.join(format!("{name}.der")), der).unwrap();
    let (input, output) = (format!("{name}.der"), format!("{name}.pem"));
    openssl(
        &["x509", "-inform", "DER", "-in", &input, "-out", &output],
        dir,
    );
}

// openssl blocks this thread while the server answers it from the runtime's workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_checks_certificates_with_our_ocsp_responder() {
    let s = Server::start("sqlite", |_| {}).await;
    let dir = s.state.config.data_dir.join("ocsp-test");
    std::fs::create_dir_all(&dir).unwrap();
    pem(&dir, "ca", &s.state.ca.cert_der);
    let (_, leaf) = s.token(30).await;
    pem(&dir, "leaf", &leaf);
    let url = s.api("/ocsp");
    // The certificate says where to ask (AIA) and where its CRL is; OpenSSL reads both.
    let ocsp_uri = openssl(&["x509", "-in", "leaf.pem", "-noout", "-ocsp_uri"], &dir);
    assert_eq!(ocsp_uri.trim(), url);
    let exts = openssl(
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-ext",
            "authorityInfoAccess,crlDistributionPoints",
        ],
        &dir,
    );
    assert!(
        exts.contains(&format!("CA Issuers - URI:{}", s.api("/ca"))),
        "{exts}"
    );
    assert!(exts.contains(&format!("URI:{}", s.api("/crl"))), "{exts}");
    let fine = verify_with_downloaded_crl(&dir);
    assert!(fine.contains("leaf.pem: OK"), "{fine}");
    let ask = |extra: &[&str]| {
        let mut args = vec![
            "ocsp", "-issuer", "ca.pem", "-CAfile", "ca.pem", "-url", &url,
        ];
        args.extend_from_slice(extra);
        openssl(&args, &dir)
    };

    let good = ask(&["-cert", "leaf.pem"]);
    assert!(good.contains("leaf.pem: good"), "{good}");
    assert!(good.contains("Response verify OK"), "{good}");
    assert!(!good.contains("WARNING"), "nonce echoed: {good}");
    assert!(good.contains("Next Update"), "{good}");

    let unknown = ask(&["-serial", "0x1234567890"]);
    assert!(unknown.contains(": unknown"), "{unknown}");

    // Revoked, with the reason the reviewer gave.
    let serial = ccid::cert::summarize(&leaf, 0).unwrap().serial;
    let csrf = s.admin_login().await;
    let r = s
        .http
        .post(s.api(&format!("/admin/certificates/{serial}/revoke")))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "reason": "key_compromise" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let revoked = ask(&["-cert", "leaf.pem"]);
    assert!(revoked.contains("leaf.pem: revoked"), "{revoked}");
    assert!(revoked.contains("Reason: keyCompromise"), "{revoked}");
    assert!(revoked.contains("Response verify OK"), "{revoked}");
    let refused = verify_with_downloaded_crl(&dir);
    assert!(refused.contains("certificate revoked"), "{refused}");

    // GET: the same request, base64 and URL-encoded in the path.
    openssl(
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "leaf.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
        &dir,
    );
    let req = std::fs::read(dir.join("req.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let encoded: String = b64
        .chars()
        .map(|c| match c {
            '/' => "%2F".to_string(),
            '+' => "%2B".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    let r = s.http.get(format!("{url}/{encoded}")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/ocsp-response");
    std::fs::write(dir.join("resp.der"), r.bytes().await.unwrap()).unwrap();
    let via_get = openssl(
        &[
            "ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-cert", "leaf.pem", "-CAfile",
            "ca.pem",
        ],
        &dir,
    );
    assert!(via_get.contains("leaf.pem: revoked"), "{via_get}");

    // Not an OCSP request: OCSPResponse { malformedRequest }, unsigned.
    let r = s
        .http
        .post(&url)
        .header("content-type", "application/ocsp-request")
        .body(vec![0x30, 0x03, 0x02, 0x01, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        [0x30, 0x03, 0x0A, 0x01, 0x01]
    );
}
