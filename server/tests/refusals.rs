//! Every refusal leaves state unchanged and says why (issue 3, "what it must show" 2 and 3).
#![allow(clippy::unwrap_used)]

mod common;

use api::OrderStatus;
use common::*;
use std::str::FromStr;

async fn status_code(r: reqwest::Response) -> (u16, serde_json::Value) {
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or_default())
}

async fn orders_count(s: &Server) -> i64 {
    s.count("SELECT COUNT(*) AS n FROM orders").await
}

#[tokio::test]
async fn applications_refused() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let post = |req: api::ApplicationRequest| {
            let s = &s;
            async move {
                status_code(
                    s.http
                        .post(s.api("/applications"))
                        .json(&req)
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            }
        };

        // Expired certificate: the offline route.
        let (mut applet, der) = s.token(-1).await;
        let (code, body) = post(application(&s, &mut applet, &der, &form()).await).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (422, Some("certificate_expired")),
            "{backend}"
        );

        // Not yet in the renewal window (expires in 200 days).
        let (mut applet, der) = s.token(200).await;
        let (code, body) = post(application(&s, &mut applet, &der, &form()).await).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (409, Some("not_in_renewal_window"))
        );

        // A certificate from another CA (same subject, signed by a stranger).
        let other = certrenew_server::ca::Ca::load_or_create(
            &std::env::temp_dir().join(format!("otherca-{}", certrenew_server::random_id(4))),
            certrenew_server::now(),
            ccid::piv::Algorithm::EccP256,
        )
        .unwrap()
        .0;
        let (mut applet, _) = s.token(30).await;
        let key = applet.public_key(ccid::piv::Slot::Authentication).unwrap();
        let t = certrenew_server::now();
        let foreign = other
            .issue_end_entity(
                &x509_cert::name::Name::from_str("CN=张三").unwrap(),
                &key,
                t - 86_400,
                t + 30 * 86_400,
            )
            .unwrap();
        let (code, body) = post(application(&s, &mut applet, &foreign, &form()).await).await;
        assert_eq!((code, body["code"].as_str()), (403, Some("forbidden")));

        // A certificate this CA recorded, altered (same serial, not the same bytes): the
        // signature is checked and fails.
        let (mut applet, mut altered) = s.token(30).await;
        let last = altered.len() - 1;
        altered[last] ^= 0x01;
        let (code, body) = post(application(&s, &mut applet, &altered, &form()).await).await;
        assert_eq!((code, body["code"].as_str()), (403, Some("forbidden")));

        // Bad proof of possession: signed by another token's key.
        let (_, der) = s.token(30).await;
        let (mut stranger, _) = s.token(30).await;
        let (code, _) = post(application(&s, &mut stranger, &der, &form()).await).await;
        assert_eq!(code, 403);

        // The form was changed after signing.
        let (mut applet, der) = s.token(30).await;
        let mut req = application(&s, &mut applet, &der, &form()).await;
        req.form.period_months = 36;
        let (code, _) = post(req).await;
        assert_eq!(code, 403);

        // A challenge id this server never issued: the nonce it derives is not the one signed.
        let mut req = application(&s, &mut applet, &der, &form()).await;
        let exp = req.challenge_id.split_once('.').unwrap().0.to_owned();
        req.challenge_id = format!("{exp}.{}", "0".repeat(32));
        assert_eq!(post(req.clone()).await.0, 403);
        // Ids claiming a longer life than the server gives, expired, or malformed.
        let t = certrenew_server::now();
        for id in [
            format!("{:x}.{}", t + 86_400, "0".repeat(32)),
            format!("{:x}.{}", t - 1, "0".repeat(32)),
            "not-a-challenge".into(),
            "f".repeat(10_000),
        ] {
            req.challenge_id = id;
            let (code, body) = post(req.clone()).await;
            assert_eq!((code, body["code"].as_str()), (409, Some("challenge")));
        }

        // Invalid ID number, phone: field errors, nothing stored.
        let mut bad = form();
        bad.operator.id_number = "110105194912310021".into();
        bad.operator.mobile = "12345".into();
        let (code, body) = post(application(&s, &mut applet, &der, &bad).await).await;
        assert_eq!(code, 422);
        let fields: Vec<String> = body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[0].as_str().unwrap().to_string())
            .collect();
        assert_eq!(fields, ["operator.id_number", "operator.mobile"]);
        assert_eq!(
            orders_count(&s).await,
            0,
            "{backend}: no order from any refused application"
        );

        // Reused challenge: the first application wins, the replay is refused.
        let req = application(&s, &mut applet, &der, &form()).await;
        assert_eq!(post(req.clone()).await.0, 201);
        let (code, body) = post(req).await;
        assert_eq!((code, body["code"].as_str()), (409, Some("challenge")));
        // A second open order for the same certificate, with a fresh challenge.
        let (code, body) = post(application(&s, &mut applet, &der, &form()).await).await;
        assert_eq!((code, body["code"].as_str()), (409, Some("open_order")));
        assert_eq!(orders_count(&s).await, 1);
    }
}

#[tokio::test]
async fn notices_refused_and_repeated() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let (mut applet, der) = s.token(30).await;
        let (number, token) = apply(&s, &mut applet, &der).await;
        let p = new_payment(&s, &number, &token).await;
        let notify = |params: certrenew_server::payment::Params| {
            let s = &s;
            async move {
                s.http
                    .post(s.api("/payments/alipay/notify"))
                    .form(&params)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        // Forged: signed by another key.
        let forger_dir =
            std::env::temp_dir().join(format!("forger-{}", certrenew_server::random_id(4)));
        std::fs::create_dir_all(&forger_dir).unwrap();
        let forger = certrenew_server::payment::Sandbox::load_or_create(&forger_dir).unwrap();
        std::fs::remove_dir_all(&forger_dir).unwrap();
        assert_eq!(
            notify(forger.notice(&p.id, "SBXT1", p.amount_fen, 0)).await,
            "failure"
        );
        // Wrong amount, correctly signed: money came, so it is recorded for a person to settle
        // (acknowledged, so the provider stops resending), and the order is not paid by it.
        assert_eq!(
            notify(s.state.sandbox.notice(&p.id, "SBXW1", p.amount_fen - 1, 0)).await,
            "success"
        );
        assert_eq!(
            s.count("SELECT COUNT(*) AS n FROM payment_discrepancies WHERE kind = 'wrong_amount'")
                .await,
            1,
            "{backend}"
        );
        // Unknown order (payment id).
        assert_eq!(
            notify(s.state.sandbox.notice("Pnothing", "SBXT1", p.amount_fen, 0)).await,
            "failure"
        );
        // Tampered after signing.
        let mut tampered = s.state.sandbox.notice(&p.id, "SBXT1", p.amount_fen, 0);
        tampered.insert("seller_id".into(), "2088999999999999".into());
        assert_eq!(notify(tampered).await, "failure");
        assert_eq!(
            order(&s, &number, &token).await.status,
            OrderStatus::AwaitingPayment,
            "{backend}"
        );

        // Approve before payment and issue before approval are refused.
        let csrf = s.admin_login().await;
        let r = s
            .http
            .post(s.api(&format!("/admin/orders/{number}/approve")))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        let r = s
            .http
            .post(s.api(&format!("/orders/{number}/certificate")))
            .header("x-order-token", &token)
            .json(&api::IssueRequest { csr: "AA==".into() })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);

        // The same genuine notice 100 times, concurrently: paid once, one audit trail.
        let genuine = s.state.sandbox.notice(&p.id, "SBXT1", p.amount_fen, 0);
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (http, url, params) = (
                s.http.clone(),
                s.api("/payments/alipay/notify"),
                genuine.clone(),
            );
            tasks.push(tokio::spawn(async move {
                http.post(url)
                    .form(&params)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), "success");
        }
        let v = order(&s, &number, &token).await;
        assert_eq!(v.status, OrderStatus::UnderReview);
        // applied, paid, under review: one of each, not a hundred.
        assert_eq!(
            s.state.db.audit_count(&number).await.unwrap(),
            3,
            "{backend}"
        );

        // Two administrators approving at once: one transition.
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (http, url, csrf) = (
                s.http.clone(),
                s.api(&format!("/admin/orders/{number}/approve")),
                csrf.clone(),
            );
            tasks.push(tokio::spawn(async move {
                status_of(http.post(url).header("x-csrf-token", csrf)).await
            }));
        }
        let mut codes = vec![];
        for t in tasks {
            codes.push(t.await.unwrap());
        }
        codes.sort();
        assert_eq!(codes, [200, 409], "{backend}");
        assert_eq!(s.state.db.audit_count(&number).await.unwrap(), 4);
        assert_eq!(
            certrenew_server::store::check::invariants(&s.state.db)
                .await
                .unwrap(),
            Vec::<String>::new()
        );
    }
}

/// A fresh key in the signature slot and a request for `subject` signed by it (PIN verified).
async fn new_key_request(
    piv: &mut ccid::piv::Piv<&mut token::PivApplet>,
    subject: &x509_cert::name::Name,
) -> (Vec<u8>, ccid::keys::PublicKey) {
    piv.authenticate(&ccid::keys::ManagementKey::default_tdes())
        .await
        .unwrap();
    let fresh = piv
        .generate(ccid::piv::Slot::Signature, ccid::piv::Algorithm::EccP256)
        .await
        .unwrap();
    let csr = ccid::cert::build_csr(piv, ccid::piv::Slot::Signature, subject, &fresh)
        .await
        .unwrap();
    (csr, fresh)
}

#[tokio::test]
async fn csr_with_another_subject_or_key_is_refused() {
    let s = Server::start("sqlite", |c| c.auto_approve = true).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    assert_eq!(
        pay(&s, &number, &token).await.status,
        OrderStatus::Approved,
        "auto-approve policy"
    );
    let old = ccid::cert::parse(&der).unwrap();
    let key = ccid::cert::public_key(&old).unwrap();
    let mut piv = ccid::piv::Piv::new(&mut applet);
    let (other_subject, other_key) = pollster::block_on(async {
        piv.select().await.unwrap();
        piv.verify_pin(&ccid::piv::Pin::new(b"123456").unwrap())
            .await
            .unwrap();
        let name = x509_cert::name::Name::from_str("CN=李四,O=别的公司,C=CN").unwrap();
        let a = ccid::cert::build_csr(&mut piv, ccid::piv::Slot::Authentication, &name, &key)
            .await
            .unwrap();
        let (b, _) = new_key_request(&mut piv, old.tbs_certificate().subject()).await;
        (a, b)
    });
    for (csr, code) in [
        (other_subject, "subject_mismatch"),
        (other_key, "key_mismatch"),
    ] {
        let r = s
            .http
            .post(s.api(&format!("/orders/{number}/certificate")))
            .header("x-order-token", &token)
            .json(&api::IssueRequest {
                csr: base64::Engine::encode(&B64, csr),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], code);
    }
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::Approved
    );
}

#[tokio::test]
async fn cancel_before_and_after_payment() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    let cancel = |n: String, t: String| {
        let s = &s;
        async move {
            s.http
                .post(s.api(&format!("/orders/{n}/cancel")))
                .header("x-order-token", t)
                .send()
                .await
                .unwrap()
        }
    };
    let v: api::OrderView = cancel(number.clone(), token.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v.status, OrderStatus::Cancelled);
    // The certificate may apply again once its order is closed; paying then cancelling refunds.
    let (number, token) = apply(&s, &mut applet, &der).await;
    pay(&s, &number, &token).await;
    let v: api::OrderView = cancel(number.clone(), token.clone())
        .await
        .json()
        .await
        .unwrap();
    // Refunding until the provider says the money is back; then refunded, once.
    assert_eq!(v.status, OrderStatus::Refunding);
    assert_eq!(settle_refunds(&s).await, 1);
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::Refunded
    );
    let p = s.state.db.latest_payment(&number).await.unwrap().unwrap();
    assert_eq!(p.status.as_str(), "refunded");
    assert_eq!(provider_refunds(&s, &p.id).await, (1, p.amount_fen));
    assert_eq!(settle_refunds(&s).await, 0, "nothing left to refund");
    assert_eq!(
        certrenew_server::store::check::invariants(&s.state.db)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn challenges_are_rate_limited_per_client() {
    let s = Server::start("sqlite", |c| {
        c.rate_per_minute = 6;
        c.rate_burst = 3;
    })
    .await;
    let mut codes = vec![];
    for _ in 0..5 {
        codes.push(
            s.http
                .post(s.api("/challenges"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(codes, [200, 200, 200, 429, 429]);
}

/// Behind a trusted reverse proxy each client has its own limit (from X-Forwarded-For); from
/// anywhere else the header is ignored, so a client cannot dodge its limit by writing one.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let codes = |s: &Server, client: &'static str| {
        let (http, url) = (s.http.clone(), s.api("/challenges"));
        async move {
            let mut codes = vec![];
            for _ in 0..4 {
                codes.push(status_of(http.post(&url).header("x-forwarded-for", client)).await);
            }
            codes
        }
    };
    let limits = |c: &mut certrenew_server::Config| {
        c.rate_per_minute = 6;
        c.rate_burst = 3;
    };
    let behind = Server::start("sqlite", |c| {
        limits(c);
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    assert_eq!(codes(&behind, "203.0.113.7").await, [200, 200, 200, 429]);
    assert_eq!(codes(&behind, "203.0.113.8").await, [200, 200, 200, 429]);
    // A forged entry to the left of what the proxy appended changes nothing.
    assert_eq!(
        codes(&behind, "198.51.100.1, 203.0.113.7").await,
        [429, 429, 429, 429]
    );
    let direct = Server::start("sqlite", limits).await;
    assert_eq!(codes(&direct, "203.0.113.7").await, [200, 200, 200, 429]);
    assert_eq!(codes(&direct, "203.0.113.8").await, [429, 429, 429, 429]);
}

/// Password guessing at the review console is slowed per client: past the burst, attempts are
/// refused before any password is checked — the right password included, until the bucket
/// refills; another client is not affected.
#[tokio::test]
async fn admin_logins_are_rate_limited_per_client() {
    let s = Server::start("sqlite", |c| {
        c.login_per_minute = 6;
        c.login_burst = 3;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    certrenew_server::http::admin::create_admin(&s.state, "reviewer", "correct horse battery")
        .await
        .unwrap();
    let attempt = |client: &'static str, password: &'static str| {
        let (http, url) = (s.http.clone(), s.api("/admin/login"));
        async move {
            status_of(
                http.post(url)
                    .header("x-forwarded-for", client)
                    .json(&serde_json::json!({"username": "reviewer", "password": password})),
            )
            .await
        }
    };
    let mut codes = vec![];
    for _ in 0..3 {
        codes.push(attempt("203.0.113.7", "guess").await);
    }
    codes.push(attempt("203.0.113.7", "correct horse battery").await);
    assert_eq!(codes, [401, 401, 401, 429]);
    assert_eq!(attempt("203.0.113.8", "correct horse battery").await, 200);
}

/// Without a payment provider set up (neither --demo nor --sandbox-payments) a payment is
/// refused with a clear error, and the sandbox's cashier — where anyone can "pay" — is not there:
/// no free renewals by accident.
#[tokio::test]
async fn without_a_provider_payments_are_refused_not_faked() {
    let s = Server::start("sqlite", |c| c.sandbox_payments = false).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    let r = s
        .order_post(
            &number,
            &token,
            "/payments",
            &serde_json::json!({"method": "alipay_qr", "invoice_title": "深圳市某医疗器械有限公司", "taxpayer_id": "91350100M000100Y43"}),
        )
        .await;
    assert_eq!(r.status(), 503);
    let e: api::ApiError = r.json().await.unwrap();
    assert_eq!(e.code, "payments_unavailable");
    assert_eq!(s.count("SELECT COUNT(*) AS n FROM payments").await, 0);
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::AwaitingPayment
    );
    // A payment made while the sandbox was on (say, before a restart without it) cannot be
    // paid there any more.
    certrenew_server::store::sql::query("INSERT INTO payments (id, order_number, method, amount_fen, invoice_title, taxpayer_id, status, created_at, expires_at) VALUES ('P1', $1, 'online', 20000, 't', '91350100M000100Y43', 'pending', 0, 4000000000)")
        .bind(&number)
        .execute(s.state.db.raw())
        .await
        .unwrap();
    for page in [
        "/sandbox/cashier/P1",
        "/sandbox/alipay/gateway.do?method=alipay.trade.query",
    ] {
        let r = s.http.get(format!("{}{page}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{page}");
    }
    let r = s.http.post(format!("{}/sandbox/cashier/P1/pay", s.url));
    assert_eq!(status_of(r).await, 404);
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM payments WHERE status = 'pending'")
            .await,
        1
    );
}

#[tokio::test]
async fn unpaid_orders_expire_and_late_money_is_returned() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    let p = new_payment(&s, &number, &token).await;
    // The time to pay runs out: the order was applied for longer ago than that.
    certrenew_server::store::sql::query("UPDATE orders SET applied_at = applied_at - $1")
        .bind(s.state.config.payment_ttl_secs + 1)
        .execute(s.state.db.raw())
        .await
        .unwrap();
    assert_eq!(
        certrenew_server::jobs::expire_unpaid(&s.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::PaymentExpired
    );
    // The notice still arrives (the user paid just before the close reached the provider):
    // acknowledged, order untouched.
    let trade = provider_paid(&s, &p.id).await;
    let r = s
        .http
        .post(s.api("/payments/alipay/notify"))
        .form(&s.state.sandbox.notice(&p.id, &trade, p.amount_fen, 0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "success");
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::PaymentExpired
    );
    // …and the money goes back, with its trade on record (before: kept, payment 'expired').
    assert_eq!(payment_status(&s, &p.id).await, "refunding");
    assert_eq!(settle_refunds(&s).await, 1);
    assert_eq!(payment_status(&s, &p.id).await, "refunded");
    assert_eq!(provider_refunds(&s, &p.id).await, (1, p.amount_fen));
    let recorded: String = certrenew_server::store::sql::query(
        "SELECT trade_no FROM payments WHERE id = $1 AND refunded_at IS NOT NULL",
    )
    .bind(&p.id)
    .fetch_one(s.state.db.raw())
    .await
    .unwrap()
    .try_get("trade_no")
    .unwrap();
    assert_eq!(recorded, trade);
    // The sandbox cashier no longer says 支付成功 for it.
    let r = s
        .http
        .post(format!("{}/pay", p.cashier_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        certrenew_server::store::check::invariants(&s.state.db)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn invalid_taxpayer_id_is_refused_without_a_payment() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    let r = s
        .http
        .post(s.api(&format!("/orders/{number}/payments")))
        .header("x-order-token", &token)
        .json(&serde_json::json!({"method": "alipay_qr", "invoice_title": " ", "taxpayer_id": "91350100M000100Y44"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["fields"],
        serde_json::json!([["invoice_title", "required"], ["taxpayer_id", "checksum"]])
    );
    assert!(s.state.db.latest_payment(&number).await.unwrap().is_none());
}

/// Revocation: an administrator revokes a certificate; it can no longer be renewed online, and it
/// is on the CRL, which OpenSSL (which we did not write) verifies against the CA with its reason.
#[tokio::test]
async fn revoked_certificates_leave_the_renewal_path_and_appear_on_the_crl() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let serial = ccid::cert::summarize(&der, 0).unwrap().serial;
    let csrf = s.admin_login().await;
    let revoke = |serial: String, reason: &'static str, csrf: Option<String>| {
        let mut r = s
            .http
            .post(s.api(&format!("/admin/certificates/{serial}/revoke")))
            .json(&serde_json::json!({ "reason": reason }));
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    assert_eq!(
        revoke(serial.clone(), "key_compromise", None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        revoke(serial.clone(), "stolen", Some(csrf.clone()))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        revoke("ABCDEF".into(), "key_compromise", Some(csrf.clone()))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        revoke(serial.clone(), "key_compromise", Some(csrf.clone()))
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        revoke(serial.clone(), "superseded", Some(csrf.clone()))
            .await
            .unwrap()
            .status(),
        409
    );

    let req = application(&s, &mut applet, &der, &form()).await;
    let r = s
        .http
        .post(s.api("/applications"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("revoked"));

    let r = s.http.get(s.api("/crl")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/pkix-crl");
    let crl = r.bytes().await.unwrap();
    let dir = s.state.config.data_dir.clone();
    std::fs::write(dir.join("crl.der"), &crl).unwrap();
    std::fs::write(dir.join("ca-crl.der"), &s.state.ca.cert_der).unwrap();
    let to_pem = std::process::Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(dir.join("ca-crl.der"))
        .arg("-out")
        .arg(dir.join("ca-crl.pem"))
        .status()
        .expect("openssl runs");
    assert!(to_pem.success());
    let out = std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(dir.join("crl.der"))
        .arg("-CAfile")
        .arg(dir.join("ca-crl.pem"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verify OK"), "{text}");
    assert!(text.contains(&format!("Serial Number: {serial}")), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
}

/// With the rekey policy on, a new key must be proven by the request's own signature (the
/// application only proved the old key); a request whose signature does not verify is refused.
#[tokio::test]
async fn rekey_needs_a_request_signed_by_the_new_key() {
    let s = Server::start("sqlite", |c| {
        c.auto_approve = true;
        c.allow_rekey = true;
    })
    .await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    assert_eq!(pay(&s, &number, &token).await.status, OrderStatus::Approved);
    let old = ccid::cert::parse(&der).unwrap();
    let mut piv = ccid::piv::Piv::new(&mut applet);
    let (csr, fresh) = pollster::block_on(async {
        piv.select().await.unwrap();
        piv.verify_pin(&ccid::piv::Pin::new(b"123456").unwrap())
            .await
            .unwrap();
        new_key_request(&mut piv, old.tbs_certificate().subject()).await
    });
    let post = |csr: Vec<u8>| {
        s.http
            .post(s.api(&format!("/orders/{number}/certificate")))
            .header("x-order-token", &token)
            .json(&api::IssueRequest {
                csr: base64::Engine::encode(&B64, csr),
            })
            .send()
    };
    let mut forged = csr.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let (status, body) = status_code(post(forged).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("csr")),
        "{body}"
    );
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::Approved
    );

    let r = post(csr).await.unwrap();
    assert_eq!(r.status(), 200);
    let issued: api::IssueResponse = r.json().await.unwrap();
    let cert =
        ccid::cert::parse(&base64::Engine::decode(&B64, issued.certificate).unwrap()).unwrap();
    assert_eq!(ccid::cert::public_key(&cert).unwrap(), fresh);
}
