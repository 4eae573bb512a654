#![allow(clippy::unwrap_used)]
//! The WeChat Pay adapter against a WeChat Pay SDK we did not write (tests/e2e/wechat-mock.mjs,
//! npm `wechatpay-axios-plugin`): the SDK verifies the Authorization header of every request we
//! sign; its signed answers and signed, encrypted notices are what we verify and decrypt; the
//! mock's books show what happened to the money. Keys are made here.

mod common;

use api::OrderStatus;
use certrenew_server::payment::wechat::Settings;
use common::mock::{pem_pair, Mock};
use common::*;

const MCHID: &str = "1900009191";
const APPID: &str = "wxd678efh567hg6787";
const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const KEY_ID: &str = "PUB_KEY_ID_0119000091912025110100000000000001";
const APIV3: &str = "a7cde1ef41acd95d3e6a63b4d1df5b9c";

struct Setup {
    mock: Mock,
    settings: Settings,
    keys: TempDir,
}

fn setup() -> Setup {
    setup_as(KEY_ID)
}

/// The mock signs as `serial` (a public key id, or a platform certificate's serial).
fn setup_as(serial: &str) -> Setup {
    let keys = std::env::temp_dir().join(format!("wechat-sdk-{}", certrenew_server::random_id(6)));
    std::fs::create_dir_all(&keys).unwrap();
    let (merchant_private, merchant_public) = pem_pair(&keys, "merchant");
    let (platform_private, platform_public) = pem_pair(&keys, "platform");
    let apiv3 = keys.join("apiv3.key");
    std::fs::write(&apiv3, format!("{APIV3}\n")).unwrap();
    let mock = Mock::start(
        "wechat-mock.mjs",
        "wechatpay-axios-plugin",
        &[
            ("MOCK_MCHID", MCHID.as_ref()),
            ("MOCK_APPID", APPID.as_ref()),
            ("MOCK_MERCHANT_SERIAL", SERIAL.as_ref()),
            ("MOCK_MERCHANT_PUBLIC_KEY", merchant_public.as_os_str()),
            ("MOCK_PLATFORM_PRIVATE_KEY", platform_private.as_os_str()),
            ("MOCK_PLATFORM_PUBLIC_KEY", platform_public.as_os_str()),
            ("MOCK_PUBLIC_KEY_ID", serial.as_ref()),
            ("MOCK_APIV3_KEY", apiv3.as_os_str()),
        ],
    );
    let settings = Settings {
        mchid: MCHID.into(),
        appid: APPID.into(),
        serial: SERIAL.into(),
        private_key: merchant_private,
        apiv3_key: apiv3,
        public_key: Some((platform_public, KEY_ID.into())),
        platform_certs: vec![],
        base_url: mock.url.clone(),
    };
    Setup {
        mock,
        settings,
        keys: TempDir(keys),
    }
}

/// Posts a notice as the mock made it: `{headers, body}`, the body sent byte for byte.
async fn send_notice(http: &reqwest::Client, url: String, n: &serde_json::Value) -> (u16, String) {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in n["headers"].as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    let r = req
        .body(n["body"].as_str().unwrap().to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post_notice(s: &Server, path: &str, n: &serde_json::Value) -> (u16, String) {
    send_notice(&s.http, s.api(path), n).await
}

async fn pay(s: &Server, number: &str, token: &str, title: &str) -> api::PaymentView {
    common::mock::payment(s, number, token, "wechat_native", title).await
}

const TITLE: &str = "深圳市某医疗器械有限公司";

async fn started() -> (Setup, Server) {
    let w = setup();
    let settings = w.settings.clone();
    let s = Server::start("sqlite", |c| {
        c.sandbox_payments = false;
        c.wechat = Some(settings);
    })
    .await;
    (w, s)
}

#[tokio::test]
async fn wechat_pays_through_its_sdk_and_its_notices_are_verified_and_decrypted() {
    let (w, s) = started().await;
    let mock = &w.mock;
    let prices: api::PriceList = s
        .http
        .get(s.api("/prices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prices.payment_methods, [api::PaymentMethod::WechatNative]);

    // A Native payment: the code_url the mock returned is the QR code shown, and nothing else.
    let (mut a1, c1) = s.token(30).await;
    let (n1, t1) = apply(&s, &mut a1, &c1).await;
    let p1 = pay(&s, &n1, &t1, TITLE).await;
    assert_eq!(
        p1.qr_payload,
        format!("weixin://wxpay/bizpayurl?pr=mock{}", p1.id)
    );
    assert_eq!(p1.cashier_url, "");
    // A second click reuses the payment (no second trade at WeChat Pay).
    assert_eq!(pay(&s, &n1, &t1, TITLE).await.id, p1.id);
    // The phone pays: the encrypted notice is opened and taken (204, no body: received).
    let paid = mock
        .post(&format!("/_test/pay?out_trade_no={}", p1.id))
        .await;
    assert_eq!(paid["delivered"]["status"], 204, "{paid}");
    assert_eq!(order(&s, &n1, &t1).await.status, OrderStatus::UnderReview);
    // The same notice 100 times, concurrently: one payment, one audit step.
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (http, url, n) = (
                s.http.clone(),
                s.api("/payments/wechat/notify"),
                paid["notice"].clone(),
            );
            tokio::spawn(async move { send_notice(&http, url, &n).await.0 })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    common::mock::assert_paid_once(&s).await;

    // Notices changed in a byte, signed under a key we do not know, old, sealed under another
    // APIv3 key, or genuine but for another merchant: refused, and nothing is paid.
    let (mut a2, c2) = s.token(30).await;
    let (n2, t2) = apply(&s, &mut a2, &c2).await;
    let p2 = pay(&s, &n2, &t2, TITLE).await;
    let notice = |q: String| {
        let path = format!("/_test/notice?out_trade_no={}{q}", p2.id);
        async move { mock.get(&path).await }
    };
    let genuine = notice(String::new()).await;
    let mut bent = genuine.clone();
    let body = bent["body"].as_str().unwrap().to_string();
    let at = body.find("\"ciphertext\":\"").unwrap() + 14;
    let flipped = if &body[at..at + 1] == "A" { "B" } else { "A" };
    bent["body"] = format!("{}{flipped}{}", &body[..at], &body[at + 1..]).into();
    let (status, text) = post_notice(&s, "/payments/wechat/notify", &bent).await;
    assert_eq!(status, 403, "a changed ciphertext");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["code"],
        "FAIL"
    );
    let mut bent = genuine.clone();
    let sig = bent["headers"]["Wechatpay-Signature"]
        .as_str()
        .unwrap()
        .to_string();
    bent["headers"]["Wechatpay-Signature"] = common::mock::bent(&sig).into();
    assert_eq!(
        post_notice(&s, "/payments/wechat/notify", &bent).await.0,
        403,
        "a changed signature"
    );
    for (q, status, what) in [
        (
            "&serial=PUB_KEY_ID_0119000091912025110100000000000999",
            403,
            "an unknown serial",
        ),
        ("&skew=-301", 400, "a timestamp over five minutes old"),
        (
            "&key=00000000000000000000000000000000",
            400,
            "another APIv3 key",
        ),
        ("&mchid=1900000999", 400, "another merchant"),
        ("&appid=wx0000000000000999", 400, "another app"),
    ] {
        let n = notice(q.to_string()).await;
        assert_eq!(
            post_notice(&s, "/payments/wechat/notify", &n).await.0,
            status,
            "{what}"
        );
    }
    // Genuine but short: acknowledged (so it is not resent), kept for a person, not paid.
    let short = notice("&total=1".into()).await;
    assert_eq!(
        post_notice(&s, "/payments/wechat/notify", &short).await.0,
        204
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

    // Paid, then cancelled: the refund fails once at WeChat Pay, is retried, and the order is
    // refunded only once the provider has the money back — once.
    let paid2 = mock
        .post(&format!("/_test/pay?out_trade_no={}", p2.id))
        .await;
    assert_eq!(paid2["delivered"]["status"], 204);
    common::mock::cancel_while_refunds_fail_once(&s, mock, &n2, &t2, &p2).await;

    // A refund WeChat Pay takes as PROCESSING: put off, then asked about as soon as its refund
    // notice (at …/refund-notify) says it changed, and confirmed.
    let (mut a5, c5) = s.token(30).await;
    let (n5, t5) = apply(&s, &mut a5, &c5).await;
    let p5 = pay(&s, &n5, &t5, TITLE).await;
    mock.post(&format!("/_test/pay?out_trade_no={}", p5.id))
        .await;
    mock.post("/_test/processing-refunds?n=1").await;
    assert_eq!(s.order_post(&n5, &t5, "/cancel", &()).await.status(), 200);
    assert_eq!(certrenew_server::refund::run(&s.state).await.unwrap(), 0);
    let due = || async {
        certrenew_server::store::sql::query("SELECT next_at FROM refunds WHERE payment_id = $1")
            .bind(&p5.id)
            .fetch_one(s.state.db.raw())
            .await
            .unwrap()
            .try_get::<i64>("next_at")
            .unwrap()
            <= certrenew_server::now()
    };
    assert!(!due().await, "a processing refund waits for its backoff");
    let refund_id = certrenew_server::refund::refund_id(&p5.id);
    let told = mock
        .post(&format!("/_test/finish-refund?out_refund_no={refund_id}"))
        .await;
    assert_eq!(told["delivered"]["status"], 204, "{told}");
    assert!(due().await, "the refund notice makes it due now");
    assert_eq!(certrenew_server::refund::run(&s.state).await.unwrap(), 1);
    assert_eq!(order(&s, &n5, &t5).await.status, OrderStatus::Refunded);

    // A notice lost on the way: reconciliation finds the trade paid at WeChat Pay.
    common::mock::refunds_end_at_the_provider(&s, mock, "wechat_native").await;
    common::mock::lost_notice_is_reconciled(&s, mock, "wechat_native").await;

    // A payment replaced (another invoice title) is closed at WeChat Pay.
    let (mut a4, c4) = s.token(30).await;
    let (n4, t4) = apply(&s, &mut a4, &c4).await;
    let p4 = pay(&s, &n4, &t4, TITLE).await;
    let p4b = pay(&s, &n4, &t4, "深圳市另一家医疗器械有限公司").await;
    assert_ne!(p4.id, p4b.id);
    assert!(
        mock.books_until(|b| b["trades"][&p4.id]["trade_state"] == "CLOSED")
            .await,
        "the replaced payment was closed at the provider"
    );

    // Every request the SDK saw verified, every call of the adapter among them.
    mock.assert_every_request_verified(&[
        "POST /v3/pay/transactions/native",
        "GET /v3/pay/transactions/out-trade-no/{id}",
        "POST /v3/pay/transactions/out-trade-no/{id}/close",
        "POST /v3/refund/domestic/refunds",
        "GET /v3/refund/domestic/refunds/{id}",
    ])
    .await;
    assert_eq!(
        certrenew_server::store::check::invariants(&s.state.db)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

/// Answers WeChat Pay did not sign, or signed under a key we were not given, are not believed:
/// the payment is not made and the payer is told to try again.
#[tokio::test]
async fn answers_not_signed_by_the_configured_key_are_refused() {
    let (w, _s) = started().await;
    let mut other = w.settings.clone();
    other.public_key = Some((pem_pair(&w.keys.0, "other").1, KEY_ID.into()));
    let s = Server::start("sqlite", |c| {
        c.sandbox_payments = false;
        c.wechat = Some(other);
    })
    .await;
    let (mut a, c) = s.token(30).await;
    let (n, t) = apply(&s, &mut a, &c).await;
    let r = s
        .order_post(
            &n,
            &t,
            "/payments",
            &serde_json::json!({"method": "wechat_native", "invoice_title": TITLE, "taxpayer_id": "91350100M000100Y43"}),
        )
        .await;
    assert_eq!(r.status(), 503);
    let e: api::ApiError = r.json().await.unwrap();
    assert_eq!(e.code, "provider_unavailable");
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM payments WHERE status = 'pending'")
            .await,
        0
    );
}

/// Platform-certificate mode: the answers and notices name the certificate's serial, which we
/// read from the certificate we were given (alone, or beside a public key while an account moves
/// from one to the other).
#[tokio::test]
async fn platform_certificate_mode_checks_under_the_certificates_serial() {
    use openssl::{asn1, bn, hash, pkey, x509};
    const CERT_SERIAL: &str = "3775B6A45ACD588826FF6D64D3D8F7A8BE8A3C3E";
    let w = setup_as(CERT_SERIAL);
    let key =
        pkey::PKey::private_key_from_pem(&std::fs::read(w.keys.0.join("platform.key")).unwrap())
            .unwrap();
    let mut name = x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Tenpay.com Root CA")
        .unwrap();
    let name = name.build();
    let mut b = x509::X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(
        &bn::BigNum::from_hex_str(CERT_SERIAL)
            .unwrap()
            .to_asn1_integer()
            .unwrap(),
    )
    .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&asn1::Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, hash::MessageDigest::sha256()).unwrap();
    let cert = b.build();
    assert_eq!(
        certrenew_server::payment::wechat::cert_serial(&cert).unwrap(),
        CERT_SERIAL
    );
    let cert_file = w.keys.0.join("wechatpay_platform.pem");
    std::fs::write(&cert_file, cert.to_pem().unwrap()).unwrap();
    for with_public_key in [false, true] {
        let mut settings = w.settings.clone();
        settings.platform_certs = vec![cert_file.clone()];
        if !with_public_key {
            settings.public_key = None;
        }
        let s = Server::start("sqlite", |c| {
            c.sandbox_payments = false;
            c.wechat = Some(settings);
        })
        .await;
        let (mut a, c) = s.token(30).await;
        let (n, t) = apply(&s, &mut a, &c).await;
        let p = pay(&s, &n, &t, TITLE).await;
        let paid = w
            .mock
            .post(&format!("/_test/pay?out_trade_no={}", p.id))
            .await;
        assert_eq!(paid["delivered"]["status"], 204, "{paid}");
        assert_eq!(order(&s, &n, &t).await.status, OrderStatus::UnderReview);
    }
}

/// The console lists refunds in progress with the provider's trade number and what the provider
/// last said; one left `failed` after its last attempt is set going again by a person (audited),
/// and then completes.
#[tokio::test]
async fn a_failed_refund_is_listed_and_retried_from_the_console() {
    let (w, s) = started().await;
    let (mut a, c) = s.token(30).await;
    let (n, t) = apply(&s, &mut a, &c).await;
    let p = pay(&s, &n, &t, TITLE).await;
    w.mock
        .post(&format!("/_test/pay?out_trade_no={}", p.id))
        .await;
    w.mock.post("/_test/fail-refunds?n=2").await;
    assert_eq!(s.order_post(&n, &t, "/cancel", &()).await.status(), 200);
    assert_eq!(certrenew_server::refund::run(&s.state).await.unwrap(), 0);
    let list = |http: reqwest::Client| {
        let url = s.api("/admin/refunds");
        async move { http.get(url).send().await.unwrap() }
    };
    assert_eq!(list(reqwest::Client::new()).await.status(), 401);
    let csrf = s.admin_login().await;
    let open: Vec<api::RefundView> = list(s.http.clone()).await.json().await.unwrap();
    assert_eq!(open.len(), 1);
    let r = &open[0];
    assert_eq!((r.status.as_str(), r.attempts), ("pending", 1));
    assert_eq!(
        (r.payment_id.as_str(), r.amount_fen),
        (p.id.as_str(), p.amount_fen)
    );
    assert_eq!(r.method, api::PaymentMethod::WechatNative);
    let books = w.mock.get("/_test/books").await;
    assert_eq!(r.trade_no, books["trades"][&p.id]["transaction_id"]);
    assert!(r.last_error.contains("500"), "{}", r.last_error);
    // Its last attempt fails too: left for a person.
    certrenew_server::store::sql::query("UPDATE refunds SET attempts = $1, next_at = 0")
        .bind(certrenew_server::refund::MAX_ATTEMPTS - 1)
        .execute(s.state.db.raw())
        .await
        .unwrap();
    assert_eq!(certrenew_server::refund::run(&s.state).await.unwrap(), 0);
    let open: Vec<api::RefundView> = list(s.http.clone()).await.json().await.unwrap();
    assert_eq!(open[0].status, "failed");
    let retry = s.api(&format!("/admin/refunds/{}/retry", open[0].id));
    assert_eq!(
        s.http.post(&retry).send().await.unwrap().status(),
        403,
        "no CSRF token"
    );
    let r = s
        .http
        .post(&retry)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM audit WHERE actor = 'reviewer' AND note LIKE 'refund % asked of the provider again'")
            .await,
        1
    );
    assert_eq!(certrenew_server::refund::run(&s.state).await.unwrap(), 1);
    assert_eq!(order(&s, &n, &t).await.status, OrderStatus::Refunded);
    let open: Vec<api::RefundView> = list(s.http.clone()).await.json().await.unwrap();
    assert!(open.is_empty());
    let r = s
        .http
        .post(&retry)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "done, not failed");
}
