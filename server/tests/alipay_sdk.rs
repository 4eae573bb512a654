#![allow(clippy::unwrap_used)]
//! The Alipay adapter against Alipay's own Node SDK (tests/e2e/alipay-mock.mjs, npm
//! `alipay-sdk`): the SDK verifies every request we sign, we verify the answers and notices it
//! checked, and the mock's books show what happened to the money. Keys are made here.

mod common;

use api::OrderStatus;
use certrenew_server::payment::alipay::{KeyFiles, Settings};
use common::mock::{pem_pair, Mock};
use common::*;

fn start_mock(dir: &std::path::Path, app_public: &std::path::Path) -> (Mock, std::path::PathBuf) {
    let (alipay_private, alipay_public) = pem_pair(dir, "alipay");
    let mock = start_mock_with(app_public, &alipay_private, &alipay_public, &[]);
    (mock, alipay_public)
}

fn start_mock_with(
    app_public: &std::path::Path,
    alipay_private: &std::path::Path,
    alipay_public: &std::path::Path,
    more: &[(&str, &std::ffi::OsStr)],
) -> Mock {
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("MOCK_APP_ID", "2021009900000001".as_ref()),
        ("MOCK_SELLER_ID", "2088009900000001".as_ref()),
        ("MOCK_APP_PUBLIC_KEY", app_public.as_os_str()),
        ("MOCK_ALIPAY_PRIVATE_KEY", alipay_private.as_os_str()),
        ("MOCK_ALIPAY_PUBLIC_KEY", alipay_public.as_os_str()),
    ];
    env.extend_from_slice(more);
    Mock::start("alipay-mock.mjs", "alipay-sdk", &env)
}

/// A notice as the mock wrote it (JSON) in the form Alipay posts it.
fn notice_form(n: &serde_json::Value) -> Vec<(String, String)> {
    n.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

async fn post_notice(s: &Server, n: &serde_json::Value) -> (u16, String) {
    let form = notice_form(n);
    let r = s
        .http
        .post(s.api("/payments/alipay/notify"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn payment(s: &Server, number: &str, token: &str, method: &str) -> api::PaymentView {
    common::mock::payment(s, number, token, method, "深圳市某医疗器械有限公司").await
}

#[tokio::test]
async fn the_alipay_sdk_accepts_our_requests_and_we_accept_its_answers_and_notices() {
    let keys = std::env::temp_dir().join(format!("alipay-sdk-{}", certrenew_server::random_id(6)));
    std::fs::create_dir_all(&keys).unwrap();
    let _cleanup = TempDir(keys.clone());
    let (app_private, app_public) = pem_pair(&keys, "app");
    let (mock, alipay_public) = start_mock(&keys, &app_public);
    let gateway = format!("{}/gateway.do", mock.url);
    let s = Server::start("sqlite", |c| {
        c.sandbox_payments = false;
        c.alipay = Some(Settings {
            app_id: "2021009900000001".into(),
            seller_id: "2088009900000001".into(),
            private_key: app_private.clone(),
            keys: KeyFiles::PublicKey(alipay_public.clone()),
            gateway: gateway.clone(),
        });
    })
    .await;
    let prices: api::PriceList = s
        .http
        .get(s.api("/prices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        prices.payment_methods,
        [api::PaymentMethod::AlipayQr, api::PaymentMethod::AlipayPage]
    );

    // A QR payment: precreate verified by the SDK, its qr_code is what the cashier shows.
    let (mut a1, c1) = s.token(30).await;
    let (n1, t1) = apply(&s, &mut a1, &c1).await;
    let p1 = payment(&s, &n1, &t1, "alipay_qr").await;
    assert_eq!(
        p1.qr_payload,
        format!("https://qr.alipay.com/mock{}", p1.id)
    );
    // The phone pays: the mock's notice (checked by the SDK) is taken.
    let paid = mock
        .post(&format!("/_test/pay?out_trade_no={}", p1.id))
        .await;
    assert_eq!(paid["delivered"]["text"], "success");
    assert_eq!(order(&s, &n1, &t1).await.status, OrderStatus::UnderReview);
    // The same notice 100 times, concurrently: one payment, one audit step.
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (http, url, n) = (
                s.http.clone(),
                s.api("/payments/alipay/notify"),
                paid["notice"].clone(),
            );
            tokio::spawn(async move {
                http.post(url)
                    .form(&notice_form(&n))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "success");
    }
    common::mock::assert_paid_once(&s).await;

    // Notices changed in a byte, or genuine but for another account or amount, are refused.
    let (mut a2, c2) = s.token(30).await;
    let (n2, t2) = apply(&s, &mut a2, &c2).await;
    let p2 = payment(&s, &n2, &t2, "alipay_qr").await;
    let genuine = mock
        .get(&format!("/_test/notice?out_trade_no={}", p2.id))
        .await;
    let mut bent = genuine.clone();
    bent["total_amount"] = "0.01".into();
    assert_eq!(post_notice(&s, &bent).await, (403, "failure".into()));
    let mut bent = genuine.clone();
    let sig = bent["sign"].as_str().unwrap().to_string();
    bent["sign"] = common::mock::bent(&sig).into();
    assert_eq!(post_notice(&s, &bent).await.0, 403);
    for field in ["app_id=2021000000000999", "seller_id=2088000000000999"] {
        let other = mock
            .get(&format!("/_test/notice?out_trade_no={}&{field}", p2.id))
            .await;
        assert_eq!(post_notice(&s, &other).await.0, 400, "{field}");
    }
    let short = mock
        .get(&format!(
            "/_test/notice?out_trade_no={}&total_amount=1.00",
            p2.id
        ))
        .await;
    assert_eq!(
        post_notice(&s, &short).await.1,
        "success",
        "acknowledged, kept for a person"
    );
    assert_eq!(
        order(&s, &n2, &t2).await.status,
        OrderStatus::AwaitingPayment
    );
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM payment_discrepancies")
            .await,
        1
    );

    // Paid, then cancelled: the refund fails once at the provider, is retried, and the order
    // is refunded only once the provider has the money back — once.
    let paid2 = mock
        .post(&format!("/_test/pay?out_trade_no={}", p2.id))
        .await;
    assert_eq!(paid2["delivered"]["text"], "success");
    common::mock::cancel_while_refunds_fail_once(&s, &mock, &n2, &t2, &p2).await;

    // A notice lost on the way: reconciliation finds the trade paid at the provider.
    common::mock::refunds_end_at_the_provider(&s, &mock, "alipay_qr").await;
    common::mock::lost_notice_is_reconciled(&s, &mock, "alipay_qr").await;

    // The payment page: a signed page.pay URL the SDK accepts; replaced, it is closed there.
    let (mut a4, c4) = s.token(30).await;
    let (n4, t4) = apply(&s, &mut a4, &c4).await;
    let p4 = payment(&s, &n4, &t4, "alipay_page").await;
    assert!(p4.cashier_url.starts_with(&gateway), "{}", p4.cashier_url);
    assert!(p4.qr_payload.is_empty());
    let page = reqwest::get(&p4.cashier_url).await.unwrap();
    assert_eq!(page.status(), 200);
    let _ = payment(&s, &n4, &t4, "alipay_qr").await;
    let closed = mock
        .books_until(|b| b["trades"][&p4.id]["status"] == "TRADE_CLOSED")
        .await;
    assert!(closed, "the replaced payment was closed at the provider");

    // Every request the SDK saw verified, every method of the adapter among them.
    mock.assert_every_request_verified(&[
        "alipay.trade.precreate",
        "alipay.trade.page.pay",
        "alipay.trade.query",
        "alipay.trade.close",
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ])
    .await;
    assert_eq!(
        certrenew_server::store::check::invariants(&s.state.db)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

/// A certificate for `key` with Alipay-like names, signed by `issuer` (itself when None).
fn cert(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    serial: &str,
    cn: &str,
    issuer: Option<(
        &openssl::x509::X509,
        &openssl::pkey::PKey<openssl::pkey::Private>,
    )>,
) -> openssl::x509::X509 {
    use openssl::{asn1, bn, hash, x509};
    let mut name = x509::X509NameBuilder::new().unwrap();
    for (k, v) in [
        ("C", "CN"),
        ("O", "Ant Financial"),
        ("OU", "Certification Authority"),
        ("CN", cn),
    ] {
        name.append_entry_by_text(k, v).unwrap();
    }
    let name = name.build();
    let mut b = x509::X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = bn::BigNum::from_hex_str(serial).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&asn1::Asn1Time::days_from_now(3).unwrap())
        .unwrap();
    b.sign(
        issuer.map_or(key, |(_, k)| k),
        hash::MessageDigest::sha256(),
    )
    .unwrap();
    b.build()
}

/// Certificate mode: the SNs we send (`app_cert_sn`, `alipay_root_cert_sn`) are the ones the
/// SDK computes for the same certificates (a root file with an RSA- and an EC-signed one).
#[test]
fn certificate_sns_are_the_sdks() {
    use openssl::{ec, nid, pkey, rsa};
    let rsa_key = pkey::PKey::from_rsa(rsa::Rsa::generate(2048).unwrap()).unwrap();
    let group = ec::EcGroup::from_curve_name(nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec_key = pkey::PKey::from_ec_key(ec::EcKey::generate(&group).unwrap()).unwrap();
    let app = cert(
        &rsa_key,
        "4F1A2B3C9D",
        "Ant Financial Certification Authority Class 2 R1",
        None,
    );
    let root = [
        cert(
            &rsa_key,
            "0123456789ABCDEF01",
            "Ant Financial Certification Authority R1",
            None,
        )
        .to_pem()
        .unwrap(),
        cert(
            &ec_key,
            "77",
            "Ant Financial Certification Authority E1",
            None,
        )
        .to_pem()
        .unwrap(),
    ]
    .concat();
    let dir = std::env::temp_dir().join(format!("alipay-sn-{}", certrenew_server::random_id(6)));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    std::fs::write(dir.join("app.pem"), app.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("root.pem"), &root).unwrap();
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/e2e/node_modules/alipay-sdk/dist/esm/antcertutil.js");
    assert!(
        sdk.exists(),
        "the Alipay SDK is not installed: scripts/setup e2e"
    );
    let script = format!(
        "import {{ getSNFromPath }} from '{}'; console.log(getSNFromPath('{}', false)); console.log(getSNFromPath('{}', true));",
        sdk.display(),
        dir.join("app.pem").display(),
        dir.join("root.pem").display()
    );
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let (theirs_app, theirs_root) = (lines.next().unwrap(), lines.next().unwrap());
    assert_eq!(
        certrenew_server::payment::alipay::cert_sn(&app).unwrap(),
        theirs_app
    );
    let ours_root = certrenew_server::payment::alipay::root_cert_sn(&root).unwrap();
    assert_eq!(ours_root, theirs_root);
    assert!(
        !ours_root.contains('_'),
        "the EC-signed root is left out: {ours_root}"
    );
}

/// Certificate mode end to end: the SDK, given the same certificates, computes the SNs every
/// request must carry (app_cert_sn, alipay_root_cert_sn) and names Alipay's in every answer
/// (alipay_cert_sn, which we check); a payment is made, paid and refunded under it.
#[tokio::test]
async fn certificate_mode_pays_and_refunds_against_the_sdk() {
    use openssl::pkey::PKey;
    let keys = std::env::temp_dir().join(format!("alipay-cert-{}", certrenew_server::random_id(6)));
    std::fs::create_dir_all(&keys).unwrap();
    let _cleanup = TempDir(keys.clone());
    let read_key =
        |p: &std::path::Path| PKey::private_key_from_pem(&std::fs::read(p).unwrap()).unwrap();
    let (root_private, _) = pem_pair(&keys, "root");
    let root_key = read_key(&root_private);
    let root = cert(
        &root_key,
        "6B4F2E1D0C",
        "Ant Financial Certification Authority R1",
        None,
    );
    let (app_private, app_public) = pem_pair(&keys, "app");
    let (alipay_private, alipay_public) = pem_pair(&keys, "alipay");
    let issued = |k: &std::path::Path, serial, cn, file| {
        let c = cert(&read_key(k), serial, cn, Some((&root, &root_key)));
        let path = keys.join(file);
        std::fs::write(&path, c.to_pem().unwrap()).unwrap();
        path
    };
    let app_cert = issued(
        &app_private,
        "2021A1B2C3",
        "2021009900000001",
        "appCertPublicKey.crt",
    );
    let alipay_cert = issued(
        &alipay_private,
        "2019C3B2A1",
        "支付宝(中国)网络技术有限公司-2088009900000001",
        "alipayCertPublicKey_RSA2.crt",
    );
    let root_cert = keys.join("alipayRootCert.crt");
    std::fs::write(&root_cert, root.to_pem().unwrap()).unwrap();
    let mock = start_mock_with(
        &app_public,
        &alipay_private,
        &alipay_public,
        &[
            ("MOCK_APP_CERT", app_cert.as_os_str()),
            ("MOCK_ALIPAY_CERT", alipay_cert.as_os_str()),
            ("MOCK_ROOT_CERT", root_cert.as_os_str()),
        ],
    );
    let s = Server::start("sqlite", |c| {
        c.sandbox_payments = false;
        c.alipay = Some(Settings {
            app_id: "2021009900000001".into(),
            seller_id: "2088009900000001".into(),
            private_key: app_private.clone(),
            keys: KeyFiles::Certificates {
                app_cert: app_cert.clone(),
                public_cert: alipay_cert.clone(),
                root_cert: root_cert.clone(),
            },
            gateway: format!("{}/gateway.do", mock.url),
        });
    })
    .await;
    let (mut a, c) = s.token(30).await;
    let (n, t) = apply(&s, &mut a, &c).await;
    let p = payment(&s, &n, &t, "alipay_qr").await;
    let paid = mock
        .post(&format!("/_test/pay?out_trade_no={}", p.id))
        .await;
    assert_eq!(paid["delivered"]["text"], "success");
    assert_eq!(order(&s, &n, &t).await.status, OrderStatus::UnderReview);
    common::mock::cancel_while_refunds_fail_once(&s, &mock, &n, &t, &p).await;
    mock.assert_every_request_verified(&[
        "alipay.trade.precreate",
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ])
    .await;
    let sns = mock.get("/_test/books").await["certMode"].clone();
    let ours = |f: &std::path::Path| {
        certrenew_server::payment::alipay::cert_sn(
            &openssl::x509::X509::from_pem(&std::fs::read(f).unwrap()).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(sns["app"], ours(&app_cert));
    assert_eq!(sns["alipay"], ours(&alipay_cert));
}
