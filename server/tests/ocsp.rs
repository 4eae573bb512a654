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

/// A server, and a directory holding its CA certificate (ca.pem) and a certificate it issued
/// (leaf.pem, also returned as DER).
async fn server_and_leaf() -> (Server, std::path::PathBuf, Vec<u8>) {
    let s = Server::start("sqlite", |_| {}).await;
    let dir = s.state.config.data_dir.join("ocsp-test");
    std::fs::create_dir_all(&dir).unwrap();
    pem(&dir, "ca", &s.state.ca.cert_der);
    let (_, leaf) = s.token(30).await;
    pem(&dir, "leaf", &leaf);
    (s, dir, leaf)
}

/// Revokes `leaf` through the review console, as a reviewer would.
async fn revoke(s: &Server, leaf: &[u8], reason: &str) {
    let serial = ccid::cert::summarize(leaf, 0).unwrap().serial;
    let csrf = s.admin_login().await;
    let r = s
        .http
        .post(s.api(&format!("/admin/certificates/{serial}/revoke")))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "reason": reason }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// The GET form of a request: base64, then URL-encoded, as the rest of the path.
fn get_url(responder: &str, request: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(request);
    let encoded: String = b64
        .chars()
        .map(|c| match c {
            '/' => "%2F".to_string(),
            '+' => "%2B".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("{responder}/{encoded}")
}

/// What `openssl ocsp` makes of an answer about leaf.pem (signature checked against ca.pem).
fn read_answer(dir: &Path, der: &[u8]) -> String {
    std::fs::write(dir.join("resp.der"), der).unwrap();
    openssl(
        &[
            "ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-cert", "leaf.pem", "-CAfile",
            "ca.pem",
        ],
        dir,
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
    let (s, dir, leaf) = server_and_leaf().await;
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
    revoke(&s, &leaf, "key_compromise").await;
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
    let r = s.http.get(get_url(&url, &req)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/ocsp-response");
    let via_get = read_answer(&dir, &r.bytes().await.unwrap());
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

/// Without a nonce an answer may be pre-produced (RFC 5019): the same request within a minute gets
/// the very same bytes (a new ECDSA signature would differ), and over GET the caching headers of
/// RFC 5019 §6.2 up to its nextUpdate. A revocation is answered at once all the same; a request
/// with a nonce is signed afresh and carries no caching headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_without_a_nonce_are_reused_until_a_revocation() {
    let (s, dir, leaf) = server_and_leaf().await;
    let url = s.api("/ocsp");
    let request = |name: &str, nonce: bool| {
        let mut args = vec![
            "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", name,
        ];
        if !nonce {
            args.push("-no_nonce");
        }
        openssl(&args, &dir);
        std::fs::read(dir.join(name)).unwrap()
    };
    let (plain, with_nonce) = (request("plain.der", false), request("nonce.der", true));
    let get = |req: Vec<u8>| {
        let (http, url) = (s.http.clone(), get_url(&url, &req));
        async move { http.get(url).send().await.unwrap() }
    };
    let post = |req: Vec<u8>| {
        let (http, url) = (s.http.clone(), url.clone());
        async move {
            http.post(url)
                .header("content-type", "application/ocsp-request")
                .body(req)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }
    };

    let first = get(plain.clone()).await;
    let headers = first.headers().clone();
    let first = first.bytes().await.unwrap();
    assert!(read_answer(&dir, &first).contains("leaf.pem: good"));
    let second = get(plain.clone()).await;
    assert_eq!(second.headers()["etag"], headers["etag"]);
    assert_eq!(second.bytes().await.unwrap(), first, "the same answer");
    assert_eq!(post(plain.clone()).await, first, "POST reuses it too");
    let control = headers["cache-control"].to_str().unwrap();
    let max_age: i64 = control
        .strip_prefix("max-age=")
        .and_then(|r| r.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&max_age), "{control}");
    assert!(control.contains("public") && control.contains("no-transform"));
    let expires = httpdate::parse_http_date(headers["expires"].to_str().unwrap()).unwrap();
    let modified = httpdate::parse_http_date(headers["last-modified"].to_str().unwrap()).unwrap();
    assert_eq!(
        expires.duration_since(modified).unwrap().as_secs(),
        3600,
        "Expires is the answer's nextUpdate"
    );

    // With a nonce: a fresh signature each time, echoing the nonce, and nothing for caches.
    let (a, b) = (
        post(with_nonce.clone()).await,
        post(with_nonce.clone()).await,
    );
    assert_ne!(a, b);
    let fresh = get(with_nonce).await;
    assert!(fresh.headers().get("cache-control").is_none());

    // A revocation is not hidden behind the reused answer.
    revoke(&s, &leaf, "superseded").await;
    let after = get(plain).await.bytes().await.unwrap();
    assert_ne!(after, first);
    let text = read_answer(&dir, &after);
    assert!(text.contains("leaf.pem: revoked"), "{text}");
    assert!(text.contains("Reason: superseded"), "{text}");
}
