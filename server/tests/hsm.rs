//! The CA key in an HSM: SoftHSM (a PKCS #11 module we did not write) generates it, keeps it and
//! signs with it; OpenSSL checks what it signed. tests/softhsm.sh starts the token.
#![allow(clippy::unwrap_used)]

mod common;

use ccid::piv::Algorithm;
use common::*;

/// `pkcs11:` URI of a key labelled `object` on the test token, and its PIN; None when the test
/// script did not start one (CI must).
fn test_token(object: &str) -> Option<(String, String)> {
    let (Ok(module), Ok(token), Ok(pin)) = (
        std::env::var("CERTRENEW_TEST_PKCS11"),
        std::env::var("CERTRENEW_TEST_PKCS11_TOKEN"),
        std::env::var("CERTRENEW_TEST_PKCS11_PIN"),
    ) else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the HSM tests: eval \"$(tests/softhsm.sh start)\""
        );
        eprintln!("note: no SoftHSM token (tests/softhsm.sh start); HSM tests skipped");
        return None;
    };
    Some((
        format!("pkcs11:token={token};object={object}?module-path={module}"),
        pin,
    ))
}

/// On a multi-threaded runtime, as the server runs: signatures there go through block_in_place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_key_in_an_hsm_signs_and_never_leaves_it() {
    for (alg, digest_alg) in [
        (Algorithm::EccP256, "ecdsa-with-SHA256"),
        (Algorithm::Rsa2048, "sha256WithRSAEncryption"),
    ] {
        let object = format!("ca-{}", certrenew_server::random_id(6));
        let Some((uri, pin)) = test_token(&object) else {
            return;
        };
        if alg == Algorithm::EccP256 {
            // A wrong PIN is said as such (checked first: PKCS #11 logs a whole process in).
            let dir = TempDir(std::env::temp_dir().join(certrenew_server::random_id(8)));
            let err = certrenew_server::ca::Ca::with_hsm(&dir.0, 0, alg, &uri, "000000")
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains("login") && err.contains("PIN"), "{err}");
            assert!(!dir.0.exists(), "nothing created");
        }
        let s = Server::start("sqlite", |c| {
            c.ca_algorithm = alg;
            c.ca_key_uri = Some(uri.clone());
            c.ca_pin = Some(pin.clone());
        })
        .await;
        let dir = s.state.config.data_dir.clone();
        assert!(!dir.join("ca.key").exists(), "no key file");
        assert_eq!(s.state.ca.public_key().algorithm(), alg);

        // A certificate from the HSM-held CA passes the application's chain check.
        let (der, renewed) = applied_and_renewed(&s).await;
        openssl_verifies(&dir, &s.state.ca.cert_der, &[&der, &renewed], digest_alg);
        // Signing from many threads at once (one session each, at most): every signature holds.
        let ca = &s.state.ca;
        std::thread::scope(|scope| {
            for t in 0..8u8 {
                scope.spawn(move || {
                    for i in 0..25u8 {
                        let msg = [t, i, 7];
                        let sig = ca.sign(&msg);
                        assert!(
                            certrenew_server::sig::verify_sha256(ca.public_key(), &msg, &sig),
                            "{alg:?} thread {t} signature {i}"
                        );
                    }
                });
            }
        });
        // The CRL is signed there too.
        let crl = s
            .http
            .get(s.api("/crl"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        std::fs::write(dir.join("crl.der"), &crl).unwrap();
        let out = openssl(
            &dir,
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout",
            ],
        );
        assert!(!out.contains("failure"), "{out}");

        // Restarting finds the same key; without the URI the server refuses rather than
        // creating a new CA over the certificate.
        let (again, created) =
            certrenew_server::ca::Ca::with_hsm(&dir, 0, alg, &uri, &pin).unwrap();
        assert!(!created);
        assert_eq!(again.cert_der, s.state.ca.cert_der);
        let err = certrenew_server::ca::Ca::load_or_create(&dir, 0, alg)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("--ca-key-uri"), "{err}");
    }
}
