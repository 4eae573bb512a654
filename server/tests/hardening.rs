//! Abuse the money, revocation and personal-data paths the way an attacker would (issue 14): each
//! test drives the real router and fails on the code before the fix it names.
#![allow(clippy::unwrap_used)]

mod common;

use api::OrderStatus;
use common::*;

async fn no_violations(s: &Server) {
    assert_eq!(
        certrenew_server::store::check::invariants(&s.state.db)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

async fn code_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// Item 1: a certificate revoked after the application stops its renewal at every later step,
/// and revoking returns the money of its open orders.
#[tokio::test]
async fn revocation_stops_renewal_at_every_step() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let csrf = s.admin_login().await;
        // Four orders at four steps, each for its own certificate.
        let (mut a1, c1) = s.token(30).await;
        let (unpaid, t_unpaid) = apply(&s, &mut a1, &c1).await;
        let p_unpaid = new_payment(&s, &unpaid, &t_unpaid).await;
        let (mut a2, c2) = s.token(30).await;
        let (review, t_review) = apply(&s, &mut a2, &c2).await;
        pay(&s, &review, &t_review).await;
        let (mut a3, c3) = s.token(30).await;
        let (approved, t_approved) = apply(&s, &mut a3, &c3).await;
        pay(&s, &approved, &t_approved).await;
        s.approve(&approved, &csrf).await;
        let (mut a4, c4) = s.token(30).await;
        let (issued, t_issued) = apply(&s, &mut a4, &c4).await;
        pay(&s, &issued, &t_issued).await;
        s.approve(&issued, &csrf).await;
        let new4 = issue_certificate(&s, &mut a4, &c4, &issued, &t_issued).await;

        for c in [&c1, &c2, &c3, &c4] {
            assert_eq!(
                revoke_certificate(&s, &csrf, c, "key_compromise").await,
                204
            );
        }
        // Before: every order went on as if nothing happened.
        assert_eq!(
            order(&s, &unpaid, &t_unpaid).await.status,
            OrderStatus::Cancelled,
            "{backend}"
        );
        assert_eq!(payment_status(&s, &p_unpaid.id).await, "closed");
        // Refunding until the provider confirms; then refunded, each once at the provider.
        assert_eq!(
            order(&s, &review, &t_review).await.status,
            OrderStatus::Refunding
        );
        assert_eq!(settle_refunds(&s).await, 3, "{backend}");
        for (n, t) in [
            (&review, &t_review),
            (&approved, &t_approved),
            (&issued, &t_issued),
        ] {
            let v = order(&s, n, t).await;
            assert_eq!(v.status, OrderStatus::Refunded, "{backend} {n}");
        }
        assert_eq!(
            s.count("SELECT COUNT(*) AS n FROM sandbox_alipay_refunds")
                .await,
            3
        );
        assert_eq!(
            s.count("SELECT COUNT(*) AS n FROM payments WHERE status = 'refunded'")
                .await,
            3
        );
        // Nothing later goes through: approval, issuance, the management key, confirmation.
        let r = s
            .http
            .post(s.api(&format!("/admin/orders/{review}/approve")))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        let r = request_certificate(&s, &mut a3, &c3, &approved, &t_approved).await;
        assert_eq!(r.status(), 409);
        let r = ask_management_key(&s, &issued, &t_issued).await;
        assert_eq!(r.status(), 409);
        let r = confirm_install(&s, &mut a4, &issued, &t_issued, &new4).await;
        assert_eq!(r.status(), 409);
        no_violations(&s).await;
    }
}

/// Item 1, the guards themselves: a revocation that did not move the orders (another server's,
/// or recorded straight in the database) still stops approval, issuance and confirmation, and
/// the review queue shows it.
#[tokio::test]
async fn a_revoked_certificate_is_refused_even_if_its_orders_were_not_moved() {
    let s = Server::start("sqlite", |_| {}).await;
    let csrf = s.admin_login().await;
    let revoke_in_db = |cert: Vec<u8>| {
        let s = &s;
        async move {
            let serial = ccid::cert::summarize(&cert, 0).unwrap().serial;
            certrenew_server::store::sql::query(
                "UPDATE certificates SET revoked_at = 1, revocation_reason = 1 WHERE serial = $1",
            )
            .bind(serial)
            .execute(s.state.db.raw())
            .await
            .unwrap();
        }
    };
    let (mut a1, c1) = s.token(30).await;
    let (n1, t1) = apply(&s, &mut a1, &c1).await;
    pay(&s, &n1, &t1).await;
    revoke_in_db(c1.clone()).await;
    let queue: Vec<serde_json::Value> = s
        .http
        .get(s.api("/admin/orders"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = queue.iter().find(|o| o["number"] == n1.as_str()).unwrap();
    assert_eq!(
        listed["certificate_revoked_at"], 1,
        "the queue shows the revocation"
    );
    let r = s
        .http
        .post(s.api(&format!("/admin/orders/{n1}/approve")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await, (409, "certificate_revoked".into()));

    let (mut a2, c2) = s.token(30).await;
    let (n2, t2) = apply(&s, &mut a2, &c2).await;
    pay(&s, &n2, &t2).await;
    s.approve(&n2, &csrf).await;
    revoke_in_db(c2.clone()).await;
    let r = request_certificate(&s, &mut a2, &c2, &n2, &t2).await;
    assert_eq!(code_of(r).await, (409, "certificate_revoked".into()));

    let (mut a3, c3) = s.token(30).await;
    let (n3, t3) = apply(&s, &mut a3, &c3).await;
    pay(&s, &n3, &t3).await;
    s.approve(&n3, &csrf).await;
    let new3 = issue_certificate(&s, &mut a3, &c3, &n3, &t3).await;
    // The new certificate revoked before it was installed: no confirmation either.
    revoke_in_db(new3.clone()).await;
    let r = confirm_install(&s, &mut a3, &n3, &t3, &new3).await;
    assert_eq!(code_of(r).await, (409, "certificate_revoked".into()));

    // Paid after the revocation (auto-approve on): refunded, never approved.
    let s = Server::start("sqlite", |c| c.auto_approve = true).await;
    let (mut a4, c4) = s.token(30).await;
    let (n4, t4) = apply(&s, &mut a4, &c4).await;
    let serial = ccid::cert::summarize(&c4, 0).unwrap().serial;
    certrenew_server::store::sql::query("UPDATE certificates SET revoked_at = 1 WHERE serial = $1")
        .bind(serial)
        .execute(s.state.db.raw())
        .await
        .unwrap();
    assert_eq!(pay(&s, &n4, &t4).await.status, OrderStatus::Refunding);
    assert_eq!(settle_refunds(&s).await, 1);
    assert_eq!(order(&s, &n4, &t4).await.status, OrderStatus::Refunded);
    no_violations(&s).await;
}

/// Item 7: the management key is answered only for an issued order, a few times.
#[tokio::test]
async fn management_key_answers_are_few_and_only_for_an_issued_order() {
    let s = Server::start("sqlite", |_| {}).await;
    let csrf = s.admin_login().await;
    let (mut applet, der) = s.token(30).await;
    let key = ccid::keys::ManagementKey::new(ccid::piv::Algorithm::Aes128, &[0x42; 16]).unwrap();
    let serial = ccid::cert::summarize(&der, 0).unwrap().serial;
    s.state
        .db
        .set_management_key(&serial, &key, 0)
        .await
        .unwrap();
    let (number, token) = apply(&s, &mut applet, &der).await;
    pay(&s, &number, &token).await;
    s.approve(&number, &csrf).await;
    let ask = || async {
        ask_management_key(&s, &number, &token)
            .await
            .status()
            .as_u16()
    };
    // Before: answered from approval on, without end.
    assert_eq!(ask().await, 409, "approved, not issued yet");
    issue_certificate(&s, &mut applet, &der, &number, &token).await;
    for i in 0..certrenew_server::renewal::MANAGEMENT_ANSWERS {
        assert_eq!(ask().await, 200, "answer {i}");
    }
    assert_eq!(ask().await, 409, "past the count");
    // And not long after issuance (the clock moved on by the window).
    let (mut a2, d2) = s.token(30).await;
    let serial2 = ccid::cert::summarize(&d2, 0).unwrap().serial;
    s.state
        .db
        .set_management_key(&serial2, &key, 0)
        .await
        .unwrap();
    let (n2, t2) = apply(&s, &mut a2, &d2).await;
    pay(&s, &n2, &t2).await;
    s.approve(&n2, &csrf).await;
    issue_certificate(&s, &mut a2, &d2, &n2, &t2).await;
    certrenew_server::store::sql::query(
        "UPDATE orders SET issued_at = issued_at - $1 WHERE number = $2",
    )
    .bind(certrenew_server::renewal::MANAGEMENT_WINDOW_SECS + 1)
    .bind(&n2)
    .execute(s.state.db.raw())
    .await
    .unwrap();
    let r = ask_management_key(&s, &n2, &t2).await;
    assert_eq!(code_of(r).await, (409, "management_key_expired".into()));
}

/// The notice the sandbox would send for `p`, posted; the answer's text.
async fn notice(s: &Server, payment: &str, trade: &str, amount: i64) -> String {
    s.http
        .post(s.api("/payments/alipay/notify"))
        .form(&s.state.sandbox.notice(payment, trade, amount, 0))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Asks for a payment of the order with this invoice title; the raw answer.
async fn post_payment(s: &Server, number: &str, token: &str, title: &str) -> reqwest::Response {
    s.http
        .post(s.api(&format!("/orders/{number}/payments")))
        .header("x-order-token", token)
        .json(&serde_json::json!({"method": "alipay_qr", "invoice_title": title, "taxpayer_id": "91350100M000100Y43"}))
        .send()
        .await
        .unwrap()
}

async fn payment_with_title(
    s: &Server,
    number: &str,
    token: &str,
    title: &str,
) -> api::PaymentView {
    post_payment(s, number, token, title)
        .await
        .json()
        .await
        .unwrap()
}

/// Item 2: a second payment closes the first; money for the closed one is returned; the order
/// completes with the one it was paid by (before: paying the first QR code after changing the
/// invoice title left `confirm` answering 500 for ever).
#[tokio::test]
async fn a_replaced_payment_is_closed_and_its_money_returned() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let (mut applet, der) = s.token(30).await;
        let (number, token) = apply(&s, &mut applet, &der).await;
        let first = payment_with_title(&s, &number, &token, "旧抬头有限公司").await;
        let second = payment_with_title(&s, &number, &token, "新抬头有限公司").await;
        assert_ne!(first.id, second.id);
        assert_eq!(payment_status(&s, &first.id).await, "closed", "{backend}");
        // A payment never outlives its order: both end when the order's time to pay does.
        let v = order(&s, &number, &token).await;
        assert_eq!(
            second.expires_at,
            v.applied_at + s.state.config.payment_ttl_secs
        );
        // The old QR code paid anyway: recorded and refunded, the order still awaits payment.
        let trade = provider_paid(&s, &first.id).await;
        assert_eq!(
            notice(&s, &first.id, &trade, first.amount_fen).await,
            "success"
        );
        assert_eq!(
            payment_status(&s, &first.id).await,
            "refunding",
            "{backend}"
        );
        assert_eq!(settle_refunds(&s).await, 1, "{backend}");
        assert_eq!(payment_status(&s, &first.id).await, "refunded", "{backend}");
        assert_eq!(provider_refunds(&s, &first.id).await, (1, first.amount_fen));
        assert_eq!(
            order(&s, &number, &token).await.status,
            OrderStatus::AwaitingPayment
        );
        assert_eq!(
            notice(&s, &second.id, "SBXNEW", second.amount_fen).await,
            "success"
        );
        assert_eq!(
            order(&s, &number, &token).await.status,
            OrderStatus::UnderReview
        );
        let csrf = s.admin_login().await;
        s.approve(&number, &csrf).await;
        let (_, v) = install(&s, &mut applet, &der, &number, &token).await;
        assert_eq!(v.invoice.unwrap().buyer_title, "新抬头有限公司");
        no_violations(&s).await;
    }
}

/// Item 2: a payment cannot be created once the order's time to pay is over, and an order makes
/// a bounded number of payments.
#[tokio::test]
async fn payments_are_bounded_by_their_order() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    for i in 0..certrenew_server::renewal::PAYMENTS_PER_ORDER {
        payment_with_title(&s, &number, &token, &format!("公司{i}")).await;
    }
    let r = post_payment(&s, &number, &token, "再一个公司").await;
    assert_eq!(code_of(r).await, (409, "too_many_payments".into()));
    let (mut a2, d2) = s.token(30).await;
    let (n2, t2) = apply(&s, &mut a2, &d2).await;
    certrenew_server::store::sql::query(
        "UPDATE orders SET applied_at = applied_at - $1 WHERE number = $2",
    )
    .bind(s.state.config.payment_ttl_secs)
    .bind(&n2)
    .execute(s.state.db.raw())
    .await
    .unwrap();
    let r = post_payment(&s, &n2, &t2, "某公司").await;
    assert_eq!(code_of(r).await, (409, "payment_expired".into()));
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM payments WHERE status = 'pending'")
            .await,
        1,
        "one pending payment at a time"
    );
    no_violations(&s).await;
}

/// Item 2: money of a wrong amount is kept for a person, and the review console lists it.
#[tokio::test]
async fn a_wrong_amount_is_a_discrepancy_the_console_lists() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    let p = new_payment(&s, &number, &token).await;
    // Before: refused with "failure" and forgotten; the provider kept the money on our books.
    assert_eq!(
        notice(&s, &p.id, "SBXWRONG", p.amount_fen + 100).await,
        "success"
    );
    assert_eq!(
        notice(&s, &p.id, "SBXWRONG", p.amount_fen + 100).await,
        "success"
    );
    assert_eq!(
        order(&s, &number, &token).await.status,
        OrderStatus::AwaitingPayment
    );
    s.admin_login().await;
    let listed: Vec<serde_json::Value> = s
        .http
        .get(s.api("/admin/discrepancies"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "recorded once: {listed:?}");
    assert_eq!(listed[0]["order_number"], number.as_str());
    assert_eq!(listed[0]["amount_fen"], p.amount_fen + 100);
    assert_eq!(listed[0]["expected_fen"], p.amount_fen);
    assert_eq!(listed[0]["trade_no"], "SBXWRONG");
}

/// Item 3: prefill follows the certificate's own line only, never a revoked or expired one, and
/// masks the ID number.
#[tokio::test]
async fn prefill_follows_the_certificates_own_line() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    apply(&s, &mut applet, &der).await;
    let got: api::Prefill = prefill(&s, &mut applet, &der).await.json().await.unwrap();
    let form = got.form.expect("its own last application");
    assert_eq!(form.operator.id_number, "110***********002X", "masked");
    assert_eq!(form.recipient.address, "深圳市福田区某路1号");
    // Another key with the same subject text (demo subjects differ in 16 random bits): nothing.
    // Before: the other applicant's ID number, mobile and address.
    let (mut other, other_der) = s.token(30).await;
    let got: api::Prefill = prefill(&s, &mut other, &other_der)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got.form, None);
    // Revoked or expired: refused.
    let csrf = s.admin_login().await;
    assert_eq!(revoke_certificate(&s, &csrf, &der, "superseded").await, 204);
    assert_eq!(
        code_of(prefill(&s, &mut applet, &der).await).await,
        (409, "certificate_revoked".into())
    );
    let (mut old, old_der) = s.token(-1).await;
    assert_eq!(prefill(&s, &mut old, &old_der).await.status(), 422);
}

/// Item 10: a certificate whose successor is installed cannot be renewed again, and a renewal
/// never outlives the CA's own certificate.
#[tokio::test]
async fn one_renewal_per_certificate_and_never_past_the_ca() {
    let s = Server::start("sqlite", |c| {
        c.auto_approve = true;
        // Wide enough for a certificate ending next to the CA's own end (ten years out).
        c.renewal_window_days = 11 * 366;
    })
    .await;
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    pay(&s, &number, &token).await;
    install(&s, &mut applet, &der, &number, &token).await;
    // The old certificate applies again: before, a second renewal of the same certificate.
    let req = application(&s, &mut applet, &der, &form()).await;
    assert_eq!(
        code_of(submit(&s, &req).await).await,
        (409, "already_renewed".into())
    );

    // A 36-month renewal of a certificate ending near the CA's own end stops there.
    let ca_end = s.state.ca.not_after();
    let key = token::keys::PrivateKey::generate(ccid::piv::Algorithm::EccP256).unwrap();
    let public = key.public_key();
    let mut late = token::PivApplet::new();
    late.install_key(ccid::piv::Slot::Authentication, key);
    let subject: x509_cert::name::Name = "CN=王五,O=某公司,C=CN".parse().unwrap();
    let t = certrenew_server::now();
    let late_der = certrenew_server::demo_certificate(
        &s.state,
        &subject,
        &public,
        t - 86_400,
        ca_end - 86_400,
    )
    .await
    .unwrap();
    late.install_certificate(ccid::piv::Slot::Authentication, &late_der);
    let mut f = form();
    f.period_months = 36;
    let req = application(&s, &mut late, &late_der, &f).await;
    let r = submit(&s, &req).await;
    assert_eq!(r.status(), 201);
    let v: api::OrderView = r.json().await.unwrap();
    assert_eq!(v.new_not_after, ca_end, "capped at the CA's notAfter");
}

async fn crl(s: &Server) -> Vec<u8> {
    s.http
        .get(s.api("/crl"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// Item 5: the CRL is signed once and served until a revocation (an ECDSA signature differs each
/// time, so equal bytes mean no new signature), lists every revocation however many, and leaves
/// out reasonCode for "unspecified".
#[tokio::test]
async fn the_crl_is_cached_until_a_revocation_and_never_truncated() {
    use der::Decode;
    type Crl = x509_cert::crl::CertificateList<x509_cert::certificate::Rfc5280>;
    let entries = |der: &[u8]| {
        Crl::from_der(der)
            .unwrap()
            .tbs_cert_list
            .revoked_certificates
            .unwrap_or_default()
    };
    let s = Server::start("sqlite", |_| {}).await;
    let first = crl(&s).await;
    assert_eq!(crl(&s).await, first, "served again, not signed again");
    let (_, leaf) = s.token(30).await;
    let csrf = s.admin_login().await;
    assert_eq!(
        revoke_certificate(&s, &csrf, &leaf, "unspecified").await,
        204
    );
    let after = crl(&s).await;
    let listed = entries(&after);
    assert_eq!(listed.len(), 1, "the revocation is on the next CRL at once");
    assert!(
        listed[0].crl_entry_extensions.is_none(),
        "no reasonCode for unspecified (RFC 5280 §5.3.1)"
    );
    // 100,001 revocations, the newest last: before, the cut at 100,000 dropped the newest.
    certrenew_server::store::sql::query(
        "INSERT INTO certificates (serial, subject, not_after, der, revoked_at, revocation_reason) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100001) \
         SELECT printf('7F%08X', i), 'CN=x', 0, x'00', 1000000 + i, 1 FROM n",
    )
    .execute(s.state.db.raw())
    .await
    .unwrap();
    s.state.crl_cache.clear();
    let big = entries(&crl(&s).await);
    assert_eq!(big.len(), 100_002);
    assert!(big
        .iter()
        .any(|e| e.serial_number.as_bytes() == [0x7F, 0x00, 0x01, 0x86, 0xA1]));
}

/// Item 4: connections trickling their headers are closed within the header timeout (and so is a
/// keep-alive connection left idle), while an ordinary client's whole renewal completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_while_a_renewal_completes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limit = std::time::Duration::from_secs(1);
    let s = Server::start_with(
        "sqlite",
        |c| c.auto_approve = true,
        |_| certrenew_server::edge::Limits {
            header_read: limit,
            request: std::time::Duration::from_secs(10),
            max_connections: 64,
        },
    )
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    // How long a connection stays open while it sends one header line every 200 ms (at most 50).
    async fn trickle(addr: String, idle: bool) -> std::time::Duration {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let start = std::time::Instant::now();
        let mut buf = [0u8; 4096];
        if idle {
            // One whole request, answered, then nothing: an idle keep-alive connection.
            c.write_all(b"GET /api/v1/prices HTTP/1.1\r\nHost: t\r\n\r\n")
                .await
                .unwrap();
            let n = c.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        } else {
            c.write_all(b"GET /api/v1/prices HTTP/1.1\r\nHost: t\r\n")
                .await
                .unwrap();
        }
        for i in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if !idle
                && c.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                    .await
                    .is_err()
            {
                return start.elapsed();
            }
            match tokio::time::timeout(std::time::Duration::from_millis(1), c.read(&mut buf)).await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
                _ => {}
            }
        }
        panic!("a trickling connection stayed open for 10 s");
    }
    let mut slow: Vec<_> = (0..50)
        .map(|_| tokio::spawn(trickle(addr.clone(), false)))
        .collect();
    slow.push(tokio::spawn(trickle(addr.clone(), true)));
    // Meanwhile, a whole renewal.
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &der).await;
    assert_eq!(pay(&s, &number, &token).await.status, OrderStatus::Approved);
    install(&s, &mut applet, &der, &number, &token).await;
    for t in slow {
        let open = t.await.unwrap();
        // Before: open for as long as the client liked (the test's 10 s bound, then a panic).
        assert!(open < limit * 3, "closed after {open:?}");
    }
}

/// Item 4: every response carries the browser security headers; HSTS when served over https.
#[tokio::test]
async fn responses_carry_security_headers() {
    let s = Server::start("sqlite", |_| {}).await;
    let r = s.http.get(s.api("/prices")).send().await.unwrap();
    let h = r.headers();
    // Data, not a page: nothing may load or run in it, should it be opened as one.
    let csp = h["content-security-policy"].to_str().unwrap();
    assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(h.get("strict-transport-security").is_none(), "plain http");
    // Errors too.
    let r = s.http.get(s.api("/orders/1")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let s = Server::start("sqlite", |c| c.public_url = "https://ca.example".into()).await;
    let r = s.http.get(s.api("/prices")).send().await.unwrap();
    assert!(r.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
}

/// Item 4: the web app's files go out compressed as the browser accepts (the build's brotli and
/// gzip copies), pages revalidated each time, content-named files kept for good.
#[tokio::test]
async fn static_files_are_served_compressed_with_cache_rules() {
    let web =
        std::env::temp_dir().join(format!("certrenew-web-{}", certrenew_server::random_id(4)));
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><p>hello").unwrap();
    std::fs::write(web.join("index.html.br"), "BROTLI").unwrap();
    std::fs::write(web.join("index.html.gz"), "GZIP").unwrap();
    std::fs::write(web.join("web.0123456789abcdef.js"), "export{}").unwrap();
    let dir = web.clone();
    let s = Server::start("sqlite", move |c| c.web_dir = Some(dir)).await;
    let get = |path: &'static str, enc: &'static str| {
        let s = &s;
        async move {
            s.http
                .get(format!("{}{path}", s.url))
                .header("accept-encoding", enc)
                .send()
                .await
                .unwrap()
        }
    };
    let r = get("/", "gzip, deflate, br").await;
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    // A page: scripts from this origin only, never inline; no framing.
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("'unsafe-inline' 'self'"));
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "no inline script: {csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let etag = r.headers()["etag"].clone();
    assert_eq!(r.text().await.unwrap(), "BROTLI");
    // A revalidated page: the 304's headers replace the stored ones, so it carries no data
    // policy (before: `default-src 'none'` there blocked the page's own scripts on reload).
    let r = s
        .http
        .get(format!("{}/", s.url))
        .header("accept-encoding", "gzip, deflate, br")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.headers().get("content-security-policy").is_none());
    let r = get("/index.html", "gzip").await;
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let r = get("/index.html", "identity").await;
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.text().await.unwrap(), "<!doctype html><p>hello");
    let r = get("/web.0123456789abcdef.js", "br").await;
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // Kept for good: no date to revalidate by.
    assert!(r.headers().get("last-modified").is_none());
    // A script never becomes a document: the document-only headers stay off it, nosniff stays.
    assert!(r.headers().get("content-security-policy").is_none());
    assert!(r.headers().get("x-frame-options").is_none());
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    std::fs::remove_dir_all(&web).unwrap();
}

/// Item 8: the demo has a CA of its own, named so, and refuses to start on a data directory with
/// a real CA; a demo user cannot replace the management key another filed.
#[tokio::test]
async fn the_demo_runs_only_under_a_demo_ca_of_its_own() {
    let real = Server::start("sqlite", |_| {}).await;
    assert!(!real.state.ca.is_demo());
    let mut config =
        certrenew_server::Config::new(real.state.config.data_dir.clone(), real.url.clone());
    config.database_url = real.state.config.database_url.clone();
    config.demo = true;
    // Before: the demo minted certificates for any key under the production CA.
    let err = certrenew_server::AppState::open(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a demo CA"), "{err}");

    let demo = Server::start("sqlite", |c| c.demo = true).await;
    assert!(demo.state.ca.is_demo());
    assert!(demo.state.ca.name().to_string().contains("OU=DEMO"));
    let key = token::keys::PrivateKey::generate(ccid::piv::Algorithm::EccP256)
        .unwrap()
        .public_key();
    let issued: api::IssueResponse = demo
        .http
        .post(demo.api("/demo/certificate"))
        .json(&serde_json::json!({"public_key": base64::Engine::encode(&B64, key.to_spki_der().unwrap())}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file =
        |secret: u8| {
            let (demo, cert) = (&demo, issued.certificate.clone());
            async move {
                status_of(demo.http.post(demo.api("/demo/management-key")).json(
                    &serde_json::json!({
                        "certificate": cert,
                        "algorithm": ccid::piv::Algorithm::Aes128 as u8,
                        "key": base64::Engine::encode(&B64, [secret; 16]),
                    }),
                ))
                .await
            }
        };
    assert_eq!(file(1).await, 204);
    // Before: overwritten, so anyone holding a copy of a certificate took over its token.
    assert_eq!(file(2).await, 409);
}

/// The OpenAPI check (what it must show, 2): credentials are checked before the shape of what
/// they vouch for, so whoever cannot prove a key or hold an order learns nothing from the form's
/// or the body's rules — and generated data meets a 401/403 rather than a validation error.
#[tokio::test]
async fn credentials_are_checked_before_the_body() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let mut bad_form = form();
    bad_form.operator.id_number = "110101199003070000".into(); // wrong check digit
                                                               // A foreign blob as the certificate, with an invalid form: refused for the certificate.
    let mut req = application(&s, &mut applet, &der, &bad_form).await;
    req.certificate = "AAAA".into();
    assert_eq!(
        code_of(submit(&s, &req).await).await,
        (403, "forbidden".into())
    );
    // The genuine certificate and signature, the same invalid form: now the form is the reason.
    let req = application(&s, &mut applet, &der, &bad_form).await;
    let (status, code) = code_of(submit(&s, &req).await).await;
    assert_eq!((status, code.as_str()), (422, "invalid_fields"));
    // An order's endpoints ask for its token before reading the body.
    for path in [
        "certificate",
        "confirm",
        "management-key",
        "management-key/check",
    ] {
        let r = s
            .http
            .post(s.api(&format!("/orders/01202612010000001/{path}")))
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    // A notice that is not the provider's is forbidden, whatever it says.
    let r = s
        .http
        .post(s.api("/payments/alipay/notify"))
        .form(&[
            ("sign_type", "RSA2"),
            ("sign", "AAAA"),
            ("out_trade_no", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.text().await.unwrap(), "failure");
}

/// One state machine (issue 15): the store applies events, refuses an illegal one before any
/// write (no debug assertion involved), and reports a step that lost a race as `Moved`.
#[tokio::test]
async fn the_store_applies_events_and_refuses_illegal_ones() {
    use api::Event;
    use certrenew_server::store::{transition, Step, TransitionError};
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let (mut applet, der) = s.token(30).await;
        let (number, token) = apply(&s, &mut applet, &der).await;
        let t = certrenew_server::now();
        let mut tx = s.state.db.begin().await.unwrap();
        let step = Step::new(
            &number,
            OrderStatus::AwaitingPayment,
            Event::Install,
            "test",
            t,
        );
        assert!(matches!(
            transition(&mut tx, step).await,
            Err(TransitionError::Illegal(api::Illegal {
                from: OrderStatus::AwaitingPayment,
                event: Event::Install
            }))
        ));
        // Started from a status the order is not in: nothing written, reported as moved.
        let step = Step::new(&number, OrderStatus::Paid, Event::Queue, "test", t);
        assert!(matches!(
            transition(&mut tx, step).await,
            Err(TransitionError::Moved { .. })
        ));
        let step = Step::new(
            &number,
            OrderStatus::AwaitingPayment,
            Event::Cancel,
            "test",
            t,
        );
        assert_eq!(
            transition(&mut tx, step).await.unwrap(),
            OrderStatus::Cancelled
        );
        tx.commit().await.unwrap();
        assert_eq!(
            order(&s, &number, &token).await.status,
            OrderStatus::Cancelled
        );
        no_violations(&s).await;
    }
}
