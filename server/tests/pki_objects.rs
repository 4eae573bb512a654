//! Every kind of object the CA signs, made through the real server, for linters we did not write
//! (pkilint, run by tests/pkilint.sh on what this leaves in $CERTRENEW_PKI_OUT): the CA
//! certificate, issued P-256 and RSA-2048 certificates (first issue and renewal), CRLs empty and
//! with revocations, and OCSP answers good, revoked and unknown — for a P-256 and an RSA CA.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;

async fn post_ocsp(s: &Server, request: Vec<u8>) -> Vec<u8> {
    s.http
        .post(s.api("/ocsp"))
        .header("content-type", "application/ocsp-request")
        .body(request)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

async fn get_bytes(s: &Server, path: &str) -> Vec<u8> {
    s.http
        .get(s.api(path))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// An OCSP request from OpenSSL's client for `args` (`-cert leaf.pem` or `-serial 0x…`).
fn ocsp_request(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut all = vec![
        "ocsp",
        "-issuer",
        "ca.pem",
        "-no_nonce",
        "-reqout",
        "req.der",
    ];
    all.extend_from_slice(args);
    openssl(dir, &all);
    std::fs::read(dir.join("req.der")).unwrap()
}

async fn objects(alg: ccid::piv::Algorithm, tag: &str, out: &Path) {
    let s = Server::start("sqlite", |c| c.ca_algorithm = alg).await;
    let dir = s.state.config.data_dir.join("pki");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, der: &[u8]| {
        assert!(!der.is_empty(), "{name}");
        std::fs::write(out.join(format!("{tag}-{name}.der")), der).unwrap();
    };
    let ca = s.state.ca.cert_der.clone();
    write("ca-cert", &ca);
    let pem = |name: &str, der: &[u8]| {
        std::fs::write(dir.join(format!("{name}.der")), der).unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                &format!("{name}.der"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    };
    pem("ca", &ca);
    // First issue and renewal of a P-256 key (the token's), and an RSA-2048 key.
    let (p256, renewed) = applied_and_renewed(&s).await;
    write("ee-p256-cert", &p256);
    write("ee-p256-renewal-cert", &renewed);
    let rsa = token::keys::PrivateKey::generate(ccid::piv::Algorithm::Rsa2048)
        .unwrap()
        .public_key();
    let t = certrenew_server::now();
    let subject: x509_cert::name::Name = "CN=李四,O=深圳市某医疗器械有限公司,C=CN".parse().unwrap();
    let rsa_cert = certrenew_server::demo_certificate(&s.state, &subject, &rsa, t, t + 86_400)
        .await
        .unwrap();
    write("ee-rsa-cert", &rsa_cert);
    write("crl-empty", &get_bytes(&s, "/crl").await);
    pem("good", &rsa_cert);
    let good = post_ocsp(&s, ocsp_request(&dir, &["-cert", "good.pem"])).await;
    write("ocsp-good", &good);
    let unknown = post_ocsp(&s, ocsp_request(&dir, &["-serial", "0x7E57"])).await;
    write("ocsp-unknown", &unknown);
    let csrf = s.admin_login().await;
    assert_eq!(
        revoke_certificate(&s, &csrf, &p256, "key_compromise").await,
        204
    );
    assert_eq!(
        revoke_certificate(
            &s,
            &csrf,
            &renewed_stored(&s, &renewed).await,
            "unspecified"
        )
        .await,
        204
    );
    pem("revoked", &p256);
    let revoked = post_ocsp(&s, ocsp_request(&dir, &["-cert", "revoked.pem"])).await;
    write("ocsp-revoked", &revoked);
    write("crl-revoked", &get_bytes(&s, "/crl").await);
}

/// The renewal `applied_and_renewed` made is signed but not on record; recorded here so that it
/// can be revoked (with reason unspecified) like any issued certificate.
async fn renewed_stored(s: &Server, der: &[u8]) -> Vec<u8> {
    let summary = ccid::cert::summarize(der, 0).unwrap();
    certrenew_server::store::sql::query(
        "INSERT INTO certificates (serial, subject, not_after, der) VALUES ($1, $2, $3, $4)",
    )
    .bind(&summary.serial)
    .bind(&summary.subject)
    .bind(summary.not_after)
    .bind(der.to_vec())
    .execute(s.state.db.raw())
    .await
    .unwrap();
    der.to_vec()
}

#[tokio::test]
async fn every_kind_of_signed_object_is_made_for_the_linters() {
    let out = std::env::var_os("CERTRENEW_PKI_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("certrenew-pki-{}", std::process::id()))
        });
    std::fs::create_dir_all(&out).unwrap();
    objects(ccid::piv::Algorithm::EccP256, "p256ca", &out).await;
    objects(ccid::piv::Algorithm::Rsa2048, "rsaca", &out).await;
    let made = std::fs::read_dir(&out).unwrap().count();
    assert!(made >= 18, "{made} objects in {}", out.display());
    if std::env::var_os("CERTRENEW_PKI_OUT").is_none() {
        std::fs::remove_dir_all(&out).unwrap();
    }
}
